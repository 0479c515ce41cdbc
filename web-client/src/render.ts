// Canvas drawing, through a camera that follows your player (camera.ts): the map with its
// edges and a light grid, the squares (a colour per id, yours outlined, the dead as faded
// ghosts) with hp bars, hit flashes and damage numbers rising from the victims, your reach
// while you attack and your cooldown (a shade sweeping off your square), deaths and
// respawns, the name labels (laid out by labels.ts so none overlap or leave the canvas) and
// the minimap. Draws in CSS px on a canvas whose backing store is devicePixelRatio times
// bigger, so it is sharp on any screen; keeps what it drew last (the camera, the labels) for
// the page to report.

import { type Camera, Follower, gridStep, toScreen } from "./camera";
import type { Drawable, Effect, Game } from "./game";
import { layoutLabels, type LabelRequest, overlaps, type Rect } from "./labels";
import { drawMinimap, minimapRect } from "./minimap";
import { type Rules, SUBUNITS } from "./protocol";

export function colourOf(id: number): string {
  const hue = (id * 137.508) % 360; // golden angle: neighbours get distant hues
  return `hsl(${hue.toFixed(0)} 70% 50%)`;
}

/** What the page knows about this frame besides the game. */
export interface Surface {
  /** The canvas's size in CSS px, and device px per CSS px. */
  width: number;
  height: number;
  dpr: number;
  /** An attack is held: your reach is drawn around you. */
  attacking: boolean;
  /** Parts of the canvas under the page's panels (CSS px from the canvas's top-left): no
   * label goes there. */
  covered: Rect[];
}

/** The camera of the last frame, for the page to report. */
export interface ViewInfo {
  /** CSS px per map unit. */
  scale: number;
  /** A player's square, CSS px. */
  square: number;
  /** The map point at the middle of the canvas (units). */
  camera: { x: number; y: number };
  /** The canvas, CSS px; and device px per CSS px. */
  canvas: { width: number; height: number };
  dpr: number;
}

/** A label as drawn: its rectangle (CSS px from the canvas's top-left) and text. */
export interface DrawnLabel extends Rect {
  id: number;
  text: string;
}

const OUTSIDE = "#07090c";
const GROUND = "#10141a";
const FONT = "system-ui, sans-serif";
/** The hp bar above a square: its height and its gap to the square (CSS px). */
const BAR_H = 4;
const BAR_GAP = 2;
/** How long a hit flashes its square, and how long its damage number rises (seconds). */
const FLASH_SECONDS = 0.18;
const NUMBER_SECONDS = 0.9;

interface Placed {
  p: Drawable;
  /** The square on the canvas (CSS px). */
  sq: Rect;
}

interface Part {
  text: string;
  colour: string;
}

export class Renderer {
  private follower = new Follower();
  /** Whom the camera follows ("room/id"): another player (a rejoin, a new room) snaps it. */
  private following = "";
  /** The spot each label took last frame, tried first this frame. */
  private spots = new Map<number, number>();
  private size = { width: 0, height: 0 };
  /** The last frame's camera (null before the welcome). */
  view: ViewInfo | null = null;
  /** The last frame's labels. */
  labels: DrawnLabel[] = [];
  /** Your square in the last frame (CSS px from the canvas's top-left), if drawn. */
  mine: Rect | null = null;
  /** What the last frame drew, for tests: its time (seconds), every player where it was
   * drawn (map position in subunits), and the notice over it. */
  drawn: { at: number; players: Drawable[]; notice: string | null } | null = null;

  /** Draws the game at local time `now` (seconds) on `ctx`, whose canvas is already sized
   * for `s` (CSS px × dpr). */
  draw(ctx: CanvasRenderingContext2D, game: Game, now: number, s: Surface): void {
    this.size = { width: s.width, height: s.height };
    this.drawn = { at: now, players: [], notice: null };
    ctx.setTransform(s.dpr, 0, 0, s.dpr, 0, 0);
    ctx.fillStyle = OUTSIDE;
    ctx.fillRect(0, 0, s.width, s.height);
    const rules = game.rules;
    if (!rules) {
      this.view = null;
      this.labels = [];
      this.mine = null;
      return;
    }
    const map = { width: rules.map_width, height: rules.map_height };
    const players = game.view(now);
    this.drawn.players = players;
    const me = players.find((p) => p.me) ?? null;

    const key = `${game.room}/${game.playerId}`;
    if (key !== this.following) {
      this.following = key;
      this.follower.reset();
      this.spots.clear();
    }
    // Yours, alive or where it died: the camera stays there until the respawn moves it.
    const target = me ? { x: me.x / SUBUNITS, y: me.y / SUBUNITS } : { x: map.width / 2, y: map.height / 2 };
    const cam = this.follower.update(target, now, s, map, rules.player_size, rules.view_radius ?? 0);
    const size = rules.player_size * cam.scale;
    this.view = {
      scale: cam.scale,
      square: size,
      camera: { x: cam.x, y: cam.y },
      canvas: { width: s.width, height: s.height },
      dpr: s.dpr,
    };

    drawGround(ctx, cam, map);
    const range = rules.attack_range * cam.scale;
    for (const e of game.effects) drawRing(ctx, e, now, cam, range, size);

    const placed: Placed[] = players
      .sort((a, b) => Number(b.hp <= 0) - Number(a.hp <= 0) || Number(a.me) - Number(b.me))
      .map((p) => {
        const c = toScreen(cam, p.x / SUBUNITS, p.y / SUBUNITS);
        const px = (v: number) => Math.round(v * s.dpr) / s.dpr; // crisp edges
        return { p, sq: { x: px(c.x - size / 2), y: px(c.y - size / 2), w: px(size), h: px(size) } };
      });
    const mine = placed.find((q) => q.p.me) ?? null;
    this.mine = mine ? mine.sq : null;
    if (mine && mine.p.hp > 0 && s.attacking) drawReach(ctx, mine.sq, range);
    for (const q of placed) drawSquare(ctx, q, rules, hitAge(game.effects, q.p.id, now));
    const cooldown = game.cooldownLeft(now);
    if (mine && mine.p.hp > 0 && cooldown > 0) {
      // The cooldown: a shade over your square that sweeps away as it runs out (clear of the
      // reach ring, which is about as wide as the square).
      const { x, y, w } = mine.sq;
      ctx.save();
      ctx.beginPath();
      ctx.rect(x, y, w, w);
      ctx.clip();
      ctx.fillStyle = "rgba(0, 0, 0, 0.45)";
      ctx.beginPath();
      ctx.moveTo(x + w / 2, y + w / 2);
      ctx.arc(x + w / 2, y + w / 2, w, -Math.PI / 2, -Math.PI / 2 + cooldown * Math.PI * 2);
      ctx.closePath();
      ctx.fill();
      ctx.restore();
    }

    const mini = minimapRect(s, map);
    this.labels = this.drawLabels(ctx, placed, mine, rules, s, [...s.covered, mini]);
    drawDamage(ctx, game.effects, placed, cam, now, game.playerId);
    drawMinimap(ctx, mini, map, cam, players.map((p) => ({
      x: p.x / SUBUNITS, y: p.y / SUBUNITS, colour: colourOf(p.id), me: p.me, dead: p.hp <= 0,
    })), this.mine);
  }

  /** Lays out and draws the name labels of the players on the canvas, yours first, then the
   * nearest to you. */
  private drawLabels(ctx: CanvasRenderingContext2D, placed: Placed[], mine: Placed | null, rules: Rules, s: Surface, covered: Rect[]): DrawnLabel[] {
    const canvas = { x: 0, y: 0, w: s.width, h: s.height };
    const centre = mine ? mine.sq : { x: s.width / 2, y: s.height / 2, w: 0, h: 0 };
    const dist = (q: Placed) => Math.hypot(q.sq.x - centre.x, q.sq.y - centre.y);
    const shown = placed
      .filter((q) => overlaps(q.sq, canvas))
      .sort((a, b) => Number(b.p.me) - Number(a.p.me) || dist(a) - dist(b))
      .slice(0, MAX_LABELS);
    const variants = shown.map((q) => labelVariants(ctx, q.p, rules.max_hp));
    const requests: LabelRequest[] = shown.map((q, i) => ({
      id: q.p.id,
      anchor: q.p.hp > 0 ? { x: q.sq.x, y: q.sq.y - BAR_GAP - BAR_H, w: q.sq.w, h: q.sq.h + BAR_GAP + BAR_H } : q.sq,
      variants: variants[i].map((v) => ({ w: v.w, h: v.h })),
      prefer: this.spots.get(q.p.id),
    }));
    const out = layoutLabels(requests, { w: s.width, h: s.height }, covered);
    this.spots = new Map(out.map((l) => [l.id, l.spot]));
    ctx.textBaseline = "middle";
    ctx.textAlign = "left";
    return out.map((l) => {
      const i = shown.findIndex((q) => q.p.id === l.id);
      const v = variants[i][l.variant];
      const me = shown[i].p.me;
      ctx.fillStyle = me ? "rgba(30, 36, 46, 0.85)" : "rgba(10, 12, 16, 0.62)";
      roundRect(ctx, l.x, l.y, l.w, l.h, 4);
      ctx.fill();
      if (me) {
        ctx.strokeStyle = "rgba(255, 255, 255, 0.5)";
        ctx.lineWidth = 1;
        ctx.stroke();
      }
      ctx.font = v.font;
      let x = l.x + LABEL_PAD;
      for (const part of v.parts) {
        ctx.fillStyle = part.colour;
        ctx.fillText(part.text, x, l.y + l.h / 2 + 0.5);
        x += ctx.measureText(part.text).width + ctx.measureText(" ").width;
      }
      return { id: l.id, text: v.parts.map((p) => p.text).join(" "), x: l.x, y: l.y, w: l.w, h: l.h };
    });
  }

  /** A notice across the middle of the canvas (the connection is lost, reconnecting), over a
   * dimmed world, so a frozen picture is never mistaken for a live one. */
  notice(ctx: CanvasRenderingContext2D, text: string): void {
    const { width, height } = this.size;
    if (this.drawn) this.drawn.notice = text;
    ctx.save();
    ctx.fillStyle = "rgba(16, 20, 26, 0.6)";
    ctx.fillRect(0, 0, width, height);
    ctx.fillStyle = "#f0f3f6";
    ctx.font = `bold 18px ${FONT}`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(text, width / 2, height / 2);
    ctx.restore();
  }
}

const LABEL_PAD = 5;
/** Labels for at most this many players (the nearest to you): a crowd needs no more, and the
 * layout's cost grows with the square of it. */
const MAX_LABELS = 40;

/** A player's label in its sizes, best first: name and hp (or "dead") at 12 px, the same at
 * 10 px, the name alone at 10 px. */
function labelVariants(ctx: CanvasRenderingContext2D, p: Drawable, maxHp: number): { font: string; parts: Part[]; w: number; h: number }[] {
  const name: Part = { text: p.name, colour: p.me ? "#fff" : "#d4d9e0" };
  const state: Part = p.hp > 0
    ? { text: String(p.hp), colour: p.hp > maxHp * 0.3 ? "#7d7" : "#fa5" }
    : { text: "dead", colour: "#f66" };
  return ([[12, [name, state]], [10, [name, state]], [10, [name]]] as const).map(([px, parts]) => {
    const font = `${p.me ? "bold " : ""}${px}px ${FONT}`;
    ctx.font = font;
    const text = parts.reduce((w, part) => w + ctx.measureText(part.text).width, 0) + (parts.length - 1) * ctx.measureText(" ").width;
    return { font, parts: [...parts], w: Math.ceil(text + 2 * LABEL_PAD), h: Math.round(px * 1.5) };
  });
}

/** The map (inside its edges, a light grid) on the darker outside. */
function drawGround(ctx: CanvasRenderingContext2D, cam: Camera, map: { width: number; height: number }): void {
  const a = toScreen(cam, 0, 0);
  const b = toScreen(cam, map.width, map.height);
  ctx.fillStyle = GROUND;
  ctx.fillRect(a.x, a.y, b.x - a.x, b.y - a.y);
  const step = gridStep(cam.scale);
  const x0 = Math.max(0, Math.ceil((cam.x - cam.width / 2 / cam.scale) / step) * step);
  const x1 = Math.min(map.width, cam.x + cam.width / 2 / cam.scale);
  const y0 = Math.max(0, Math.ceil((cam.y - cam.height / 2 / cam.scale) / step) * step);
  const y1 = Math.min(map.height, cam.y + cam.height / 2 / cam.scale);
  ctx.lineWidth = 1;
  for (const major of [false, true]) {
    ctx.strokeStyle = major ? "rgba(255, 255, 255, 0.075)" : "rgba(255, 255, 255, 0.035)";
    ctx.beginPath();
    for (let x = x0; x <= x1; x += step) {
      if ((x % 100 === 0) !== major) continue;
      const sx = Math.round(toScreen(cam, x, 0).x) + 0.5;
      ctx.moveTo(sx, Math.max(0, a.y));
      ctx.lineTo(sx, Math.min(cam.height, b.y));
    }
    for (let y = y0; y <= y1; y += step) {
      if ((y % 100 === 0) !== major) continue;
      const sy = Math.round(toScreen(cam, 0, y).y) + 0.5;
      ctx.moveTo(Math.max(0, a.x), sy);
      ctx.lineTo(Math.min(cam.width, b.x), sy);
    }
    ctx.stroke();
  }
  ctx.strokeStyle = "#46556a";
  ctx.lineWidth = 2;
  ctx.strokeRect(a.x - 1, a.y - 1, b.x - a.x + 2, b.y - a.y + 2);
}

/** How long ago player `id` was last hit (seconds), or Infinity. */
function hitAge(effects: Effect[], id: number, now: number): number {
  let age = Infinity;
  for (const e of effects) if (e.kind === "hit" && e.id === id) age = Math.min(age, now - e.at);
  return age;
}

function drawSquare(ctx: CanvasRenderingContext2D, { p, sq }: Placed, rules: Rules, hitAgo: number): void {
  const { x, y, w } = sq;
  const dead = p.hp <= 0;
  if (dead) {
    // A ghost where it fell: faded, crossed out.
    ctx.globalAlpha = 0.4;
    ctx.fillStyle = "#555c66";
    ctx.fillRect(x, y, w, w);
    ctx.strokeStyle = "#e44";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(x + 4, y + 4);
    ctx.lineTo(x + w - 4, y + w - 4);
    ctx.moveTo(x + w - 4, y + 4);
    ctx.lineTo(x + 4, y + w - 4);
    ctx.stroke();
    ctx.globalAlpha = 1;
    return;
  }
  ctx.fillStyle = colourOf(p.id);
  ctx.fillRect(x, y, w, w);
  ctx.strokeStyle = "rgba(0, 0, 0, 0.45)";
  ctx.lineWidth = 1;
  ctx.strokeRect(x + 0.5, y + 0.5, w - 1, w - 1);
  if (hitAgo < FLASH_SECONDS) {
    // A confirmed hit: the square flashes white, edged in red.
    const k = 1 - hitAgo / FLASH_SECONDS;
    ctx.fillStyle = `rgba(255, 255, 255, ${(0.85 * k).toFixed(3)})`;
    ctx.fillRect(x, y, w, w);
    ctx.strokeStyle = `rgba(255, 70, 70, ${k.toFixed(3)})`;
    ctx.lineWidth = 3;
    ctx.strokeRect(x - 1.5, y - 1.5, w + 3, w + 3);
  }
  if (p.me) {
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 2;
    ctx.strokeRect(x - 3, y - 3, w + 6, w + 6);
  }
  // The hp bar, just above the square.
  const by = y - BAR_GAP - BAR_H;
  ctx.fillStyle = "rgba(80, 0, 0, 0.9)";
  ctx.fillRect(x, by, w, BAR_H);
  ctx.fillStyle = p.hp > rules.max_hp * 0.3 ? "#4c4" : "#e83";
  ctx.fillRect(x, by, (w * Math.min(p.hp, rules.max_hp)) / rules.max_hp, BAR_H);
}

/** Your reach while you hold attack: everyone inside the ring is hit by a swing. */
function drawReach(ctx: CanvasRenderingContext2D, sq: Rect, range: number): void {
  const cx = sq.x + sq.w / 2;
  const cy = sq.y + sq.h / 2;
  ctx.fillStyle = "rgba(255, 221, 68, 0.08)";
  ctx.strokeStyle = "rgba(255, 221, 68, 0.7)";
  ctx.lineWidth = 1.5;
  ctx.setLineDash([5, 4]);
  ctx.beginPath();
  ctx.arc(cx, cy, range, 0, Math.PI * 2);
  ctx.fill();
  ctx.stroke();
  ctx.setLineDash([]);
}

/** The rings of swings, deaths and respawns, fading. */
function drawRing(ctx: CanvasRenderingContext2D, e: Effect, now: number, cam: Camera, range: number, size: number): void {
  if (e.kind === "hit") return; // drawn on the square, and as a number
  const age = now - e.at;
  const life = e.kind === "attack" || e.kind === "swing" ? 0.3 : 1;
  const fade = Math.max(0, 1 - age / life);
  if (fade <= 0 || age < 0) return;
  const c = toScreen(cam, e.x / SUBUNITS, e.y / SUBUNITS);
  ctx.globalAlpha = fade;
  ctx.lineWidth = e.kind === "swing" ? 3 : 2;
  ctx.strokeStyle = e.kind === "attack" ? "#fd4" : e.kind === "swing" ? "#fff" : e.kind === "death" ? "#e44" : "#4ce";
  if (e.kind === "swing") ctx.setLineDash([6, 4]);
  ctx.beginPath();
  const r = e.kind === "attack" || e.kind === "swing" ? range : size * (0.7 + 1.5 * age);
  ctx.arc(c.x, c.y, r, 0, Math.PI * 2);
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.globalAlpha = 1;
}

/** Each confirmed hit's damage, rising from beside its victim's square on the side away from
 * the attacker (so it covers neither square), fading; red when it is you. */
function drawDamage(ctx: CanvasRenderingContext2D, effects: Effect[], placed: Placed[], cam: Camera, now: number, me: number): void {
  const seen = new Map<string, number>();
  const centre = (id: number | undefined) => {
    const q = placed.find((p) => p.p.id === id);
    return q ? { x: q.sq.x + q.sq.w / 2, y: q.sq.y + q.sq.h / 2, half: q.sq.w / 2 } : null;
  };
  ctx.textAlign = "center";
  ctx.textBaseline = "alphabetic";
  for (const e of effects) {
    const age = now - e.at;
    if (e.kind !== "hit" || age < 0 || age >= NUMBER_SECONDS || !e.amount) continue;
    // Two hits on one player in one frame: one above the other.
    const k = `${e.id}@${e.at}`;
    const nth = seen.get(k) ?? 0;
    seen.set(k, nth + 1);
    const fallback = toScreen(cam, e.x / SUBUNITS, e.y / SUBUNITS);
    const v = centre(e.id) ?? { ...fallback, half: 0 };
    const a = centre(e.by);
    const side = a && a.x > v.x ? -1 : 1;
    const t = age / NUMBER_SECONDS;
    const x = v.x + side * (v.half + 14 + 6 * t);
    const y = v.y - v.half - 14 * nth - 30 * t;
    ctx.globalAlpha = 1 - t * t;
    ctx.font = `bold ${Math.round(14 + 4 * (1 - t))}px ${FONT}`;
    ctx.lineWidth = 3;
    ctx.strokeStyle = "rgba(0, 0, 0, 0.85)";
    ctx.strokeText(`-${e.amount}`, x, y);
    ctx.fillStyle = e.id === me ? "#ff5a5a" : "#ffd84a";
    ctx.fillText(`-${e.amount}`, x, y);
  }
  ctx.globalAlpha = 1;
}

function roundRect(ctx: CanvasRenderingContext2D, x: number, y: number, w: number, h: number, r: number): void {
  ctx.beginPath();
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + h, r);
  ctx.arcTo(x + w, y + h, x, y + h, r);
  ctx.arcTo(x, y + h, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
}
