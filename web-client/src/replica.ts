// The client's copy of the world and the delta apply, with the same rules as
// shared/src/replica.rs: spawned, then changed, then the scoreboard counts of the `killed`
// events (a kill and a longer streak for the killer, a death and a streak of 0 for the
// victim, in event order; not for a player spawned in this frame, whose entity counts them
// already), then removed, then out of view; any mismatch is an error (the client then needs a
// keyframe).

import type { EntityState, Frame, Keyframe } from "./protocol";

export class ApplyError extends Error {}

export class Replica {
  tick = 0;
  ack = 0;
  entities = new Map<number, EntityState>();

  static fromKeyframe(k: Keyframe): Replica {
    const r = new Replica();
    r.tick = k.tick;
    r.ack = k.ack;
    for (const e of k.entities) r.entities.set(e.id, { ...e });
    return r;
  }

  /** Applies one frame; on error the replica is unchanged. */
  apply(f: Frame): void {
    if (f.tick <= this.tick) throw new ApplyError(`frame for tick ${f.tick} does not follow tick ${this.tick}`);
    const next = new Map<number, EntityState>();
    for (const [id, e] of this.entities) next.set(id, { ...e });
    for (const e of f.spawned) {
      if (next.has(e.id)) throw new ApplyError(`player ${e.id} spawned twice`);
      next.set(e.id, { ...e });
    }
    for (const c of f.changed) {
      const e = next.get(c.id);
      if (!e) throw new ApplyError(`player ${c.id} is unknown`);
      if (c.dx !== null) e.x += c.dx;
      if (c.dy !== null) e.y += c.dy;
      if (c.hp !== null) e.hp = c.hp;
    }
    const spawnedNow = new Set(f.spawned.map((e) => e.id));
    for (const ev of f.events) {
      if (ev.kind !== "killed") continue;
      const victim = spawnedNow.has(ev.victim) ? undefined : next.get(ev.victim);
      if (victim) {
        victim.deaths += 1;
        victim.streak = 0;
      }
      const killer = spawnedNow.has(ev.killer) ? undefined : next.get(ev.killer);
      if (killer) {
        killer.kills += 1;
        killer.streak += 1;
      }
    }
    for (const id of [...f.removed, ...f.outOfView]) {
      if (!next.delete(id)) throw new ApplyError(`player ${id} is unknown`);
    }
    this.entities = next;
    this.tick = f.tick;
    this.ack = f.ack;
  }

  /** Entities sorted by id, as a keyframe lists them. */
  sorted(): EntityState[] {
    return [...this.entities.values()].sort((a, b) => a.id - b.id);
  }
}
