// The client's game state: applies server messages, predicts the player's own square,
// interpolates everyone else, and keeps what the screen shows (effects with the damage each
// hit did, the kill feed, your death and respawn, stats). No DOM here, so tests can drive it
// directly.

import type { Death } from "./banner";
import type { FeedEntry } from "./feed";
import { Glider } from "./glide";
import { Interpolator } from "./interpolation";
import { perTick, type TickRules } from "./movement";
import { Predictor } from "./prediction";
import { decodeServer, encodeInput, type GameEvent, type InputTiming, type Rules, SUBUNITS } from "./protocol";
import { Replica } from "./replica";

export interface Drawable {
  id: number;
  name: string;
  x: number; // subunits
  y: number;
  hp: number;
  me: boolean;
}

export interface Effect {
  /** attack: another player's swing (from the server); swing: your own, drawn at the press
   * if your cooldown allows; hit: a hit the server confirmed, on its target. */
  kind: "attack" | "swing" | "hit" | "death" | "respawn";
  id: number;
  x: number;
  y: number;
  at: number; // local seconds
  /** A hit's damage (the hp it took) and who struck it. */
  amount?: number;
  by?: number;
}

/** Kept for the kill feed (the page shows the last few seconds of it). */
const FEED_KEPT = 20;
/** Names of players seen kept at most (beyond, only those of the players held). */
const SEEN_NAMES_KEPT = 4096;

export class Game {
  playerId = 0;
  rules: Rules | null = null;
  tickRate = 30;
  replica = new Replica();
  predictor: Predictor | null = null;
  interp = new Interpolator(1 / 30);
  /** Remote players' drawn positions: a jump after a gap becomes a short glide. */
  private glider = new Glider(Infinity);
  tickRules: TickRules | null = null;
  effects: Effect[] = [];
  killFeed: FeedEntry[] = [];
  /** Names of the players this page has held (with a view radius, some are out of view now):
   * the kill feed names them. Dropped when they leave the game. */
  private seenNames = new Map<number, string>();
  /** Your player's death while it lasts: who killed it and when the event arrived. */
  death: Death | null = null;
  /** When your player last respawned (local seconds). */
  respawnedAt = -Infinity;
  private seq = 0;
  /** When your last swing was drawn (local seconds), for the cooldown. */
  private lastSwingAt = -Infinity;
  private bytesWindow: { at: number; n: number }[] = [];
  rttMs: number | null = null;
  /** How the server last said this page's inputs arrive (taken by the send timer). */
  inputTiming: InputTiming | null = null;
  /** The resume token of the current player, kept across reconnects. */
  token: Uint8Array | null = null;
  /** The room the player is in, as the last welcome named it (null before any). */
  room: string | null = null;

  get welcomed(): boolean {
    return this.rules !== null;
  }

  private me() {
    return this.replica.entities.get(this.playerId);
  }

  /** Handles one binary message received at local time `now` (seconds). */
  receive(bytes: Uint8Array, now: number): void {
    this.bytesWindow.push({ at: now, n: bytes.length });
    const msg = decodeServer(bytes);
    switch (msg.type) {
      case "welcome": {
        if (this.token && !msg.resumed) {
          this.notify("connection lost too long: you are a new player", now);
        } else if (msg.resumed) {
          this.notify("reconnected: welcome back", now);
        }
        this.token = msg.token;
        this.room = msg.room;
        this.playerId = msg.playerId;
        this.rules = msg.rules;
        this.tickRate = msg.tickRate;
        this.tickRules = perTick(msg.rules, msg.tickRate);
        this.interp = new Interpolator(1 / msg.tickRate);
        this.glider = new Glider(msg.rules.speed * SUBUNITS);
        this.predictor = new Predictor(this.tickRules, 1 / msg.tickRate);
        this.seq = 0;
        this.resync(Replica.fromKeyframe(msg.keyframe), now);
        break;
      }
      case "keyframe":
        this.resync(Replica.fromKeyframe(msg), now);
        break;
      case "frame": {
        const before = new Map(this.replica.entities);
        this.replica.apply(msg);
        const t = msg.tick / this.tickRate;
        this.interp.observe(t, now);
        for (const e of msg.spawned) {
          this.seenNames.set(e.id, e.name);
          this.interp.reset(e.id, t, e.x, e.y);
          this.glider.forget(e.id);
        }
        for (const c of msg.changed) {
          const e = this.replica.entities.get(c.id);
          if (!e) continue;
          const wasDead = (before.get(c.id)?.hp ?? 1) <= 0;
          if (wasDead && e.hp > 0) {
            this.interp.reset(e.id, t, e.x, e.y); // respawn: no slide
            this.glider.forget(e.id);
            if (e.id === this.playerId) this.predictor?.snap();
          }
          else if (c.dx !== null || c.dy !== null) this.interp.push(e.id, t, e.x, e.y);
        }
        for (const id of [...msg.removed, ...msg.outOfView]) {
          this.interp.remove(id);
          this.glider.forget(id);
        }
        const hpSeen = new Map<number, number>();
        for (const ev of msg.events) this.onEvent(ev, before, hpSeen, now);
        for (const id of msg.removed) this.seenNames.delete(id);
        // A player that left the game out of view is never named in `removed` here: past a
        // bound, keep only the names of the players held.
        if (this.seenNames.size > SEEN_NAMES_KEPT) {
          for (const id of this.seenNames.keys()) if (!this.replica.entities.has(id)) this.seenNames.delete(id);
        }
        this.trim(now);
        this.reconcile();
        break;
      }
      case "pong":
        this.rttMs = Math.max(0, (performanceNowMs() >>> 0) - msg.clientTime);
        if (msg.timing) this.inputTiming = msg.timing;
        break;
    }
  }

  private resync(replica: Replica, now: number): void {
    const before = this.replica;
    this.replica = replica;
    for (const e of replica.entities.values()) this.seenNames.set(e.id, e.name);
    if ((this.me()?.hp ?? 0) > 0) this.death = null; // came back while we were away
    const t = replica.tick / this.tickRate;
    this.interp.observe(t, now);
    // Players already drawn glide from where they were drawn (a keyframe after held frames
    // puts them a few ticks on), unless they can't have run there: new, dead before, or
    // further than a run since (a respawn meanwhile): those are placed at once. The
    // welcome's come with a new glider.
    // Players the new picture no longer holds (out of view, or gone meanwhile) are dropped.
    for (const id of before.entities.keys()) {
      if (!replica.entities.has(id)) {
        this.interp.remove(id);
        this.glider.forget(id);
      }
    }
    const seconds = (replica.tick - before.tick) / this.tickRate;
    for (const e of replica.entities.values()) {
      this.interp.reset(e.id, t, e.x, e.y);
      const was = before.entities.get(e.id);
      if (!was || was.hp <= 0 || !this.glider.runnable(was, e, seconds)) this.glider.forget(e.id);
    }
    this.reconcile();
    this.predictor?.snap(); // a new picture of the world: no glide into it
  }

  private reconcile(): void {
    const me = this.me();
    if (me && this.predictor) this.predictor.reconcile(me.x, me.y, this.replica.ack, me.hp > 0);
  }

  /** A connection notice in the feed. */
  private notify(text: string, now: number): void {
    this.killFeed.push({ text, at: now, kind: "notice", mine: false });
    this.trim(now);
  }

  /** Drops old feed entries and finished effects. */
  private trim(now: number): void {
    this.killFeed = this.killFeed.slice(-FEED_KEPT);
    this.effects = this.effects.filter((e) => now - e.at < 1);
  }

  /** `before`: the entities before this frame; `hpSeen`: each target's hp after the hits of
   * this frame so far (one tick may hit a player several times). */
  private onEvent(ev: GameEvent, before: Map<number, { name: string; x: number; y: number; hp: number }>, hpSeen: Map<number, number>, now: number): void {
    const known = (id: number) => this.replica.entities.get(id)?.name ?? before.get(id)?.name ?? this.seenNames.get(id);
    const name = (id: number) => known(id) ?? `#${id}`;
    const at = (id: number) => this.replica.entities.get(id) ?? before.get(id);
    switch (ev.kind) {
      case "attacked": {
        // Each confirmed hit once, on its target, with the hp it took. The attacker's ring
        // once per frame (one swing hits every target in range), and never for your own: that
        // was drawn at the press.
        const target = at(ev.target);
        const was = hpSeen.get(ev.target) ?? before.get(ev.target)?.hp;
        hpSeen.set(ev.target, ev.hp);
        const amount = was !== undefined && was > ev.hp ? was - ev.hp : (this.rules?.attack_damage ?? 0);
        if (target) this.effects.push({ kind: "hit", id: ev.target, x: target.x, y: target.y, at: now, amount, by: ev.attacker });
        const a = at(ev.attacker);
        if (a && ev.attacker !== this.playerId && !this.effects.some((e) => e.kind === "attack" && e.id === ev.attacker && e.at === now)) {
          this.effects.push({ kind: "attack", id: ev.attacker, x: a.x, y: a.y, at: now });
        }
        break;
      }
      case "killed": {
        const v = at(ev.victim);
        if (v) this.effects.push({ kind: "death", id: ev.victim, x: v.x, y: v.y, at: now });
        const mine = ev.victim === this.playerId || ev.killer === this.playerId;
        // Kills reach every page (a view radius sends the rest of the world only near you):
        // the feed lists those naming a player this page has seen.
        if (!mine && known(ev.victim) === undefined && known(ev.killer) === undefined) break;
        this.killFeed.push({ text: `${name(ev.killer)} killed ${name(ev.victim)}`, at: now, kind: "kill", mine });
        if (ev.victim === this.playerId) this.death = { killer: name(ev.killer), at: now };
        break;
      }
      case "respawned": {
        const r = at(ev.id);
        if (r) this.effects.push({ kind: "respawn", id: ev.id, x: r.x, y: r.y, at: now });
        if (ev.id === this.playerId) {
          this.death = null;
          this.respawnedAt = now;
        }
        break;
      }
      case "joined":
        this.killFeed.push({ text: `${name(ev.id)} joined`, at: now, kind: "join", mine: false });
        break;
      case "left":
        this.killFeed.push({ text: `${name(ev.id)} left`, at: now, kind: "leave", mine: false });
        break;
    }
  }

  /** Builds the next input (and predicts it); returns its bytes. */
  input(dx: number, dy: number, attack: boolean, now = nowSeconds()): Uint8Array {
    this.seq += 1;
    const me = this.me();
    this.predictor?.sent({ seq: this.seq, dx, dy }, (me?.hp ?? 0) > 0, now);
    if (attack && me && me.hp > 0 && this.cooldownLeft(now) === 0) {
      // Shown at once, as your own swing; the server decides whom it hits (those flash).
      this.lastSwingAt = now;
      const at = this.predictor?.render(now) ?? me;
      this.effects.push({ kind: "swing", id: this.playerId, x: at.x, y: at.y, at: now });
    }
    // An attack says which tick the others were drawn at: the server judges it there.
    const shown = attack ? Math.min(this.interp.shownTick(now), this.replica.tick) : 0;
    return encodeInput(this.seq, dx, dy, attack, this.replica.tick, shown);
  }

  /** The attack cooldown in seconds, as the server counts it (whole ticks, rounded up). */
  cooldownSeconds(): number {
    if (!this.rules) return 0;
    return Math.ceil((this.rules.attack_cooldown_ms * this.tickRate) / 1000) / this.tickRate;
  }

  /** What is left of your cooldown at `now`, as a fraction: 0 when you can attack. */
  cooldownLeft(now: number): number {
    const cd = this.cooldownSeconds();
    if (cd <= 0) return 0;
    return Math.min(1, Math.max(0, 1 - (now - this.lastSwingAt) / cd));
  }

  /** Bytes received per second over the last two seconds. */
  bytesPerSecond(now: number): number {
    this.bytesWindow = this.bytesWindow.filter((b) => now - b.at <= 2);
    return this.bytesWindow.reduce((s, b) => s + b.n, 0) / 2;
  }

  /** What to draw at local time `now` (seconds). */
  view(now: number): Drawable[] {
    const t = this.interp.renderTime(now);
    const out: Drawable[] = [];
    for (const e of this.replica.entities.values()) {
      const me = e.id === this.playerId;
      let { x, y } = e;
      if (me && this.predictor) ({ x, y } = this.predictor.render(now));
      else if (e.hp > 0) ({ x, y } = this.glider.place(e.id, this.interp.sample(e.id, t) ?? e, now));
      out.push({ id: e.id, name: e.name, x, y, hp: e.hp, me });
    }
    return out;
  }
}

export function nowSeconds(): number {
  return performanceNowMs() / 1000;
}

export function performanceNowMs(): number {
  return typeof performance !== "undefined" ? performance.now() : Date.now();
}
