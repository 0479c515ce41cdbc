// After a gap (a stalled link, a tab in the background) the interpolated position of a remote
// player can jump far in one frame when frames flow again: hundreds of units in one step.
// Drawn positions go through here: a move faster than any player can run (twice the speed
// rule, for slack) starts a glide from where the player was drawn to where it should be,
// over GLIDE_SECONDS, following the target as it keeps moving. Spawns and respawns are
// placed with `forget` first, so they appear at once; a keyframe's players glide like any
// other jump (game.ts resync).

export const GLIDE_SECONDS = 0.2;

interface Drawn {
  x: number;
  y: number;
  at: number;
  glide: { x: number; y: number; since: number } | null;
}

export class Glider {
  private drawn = new Map<number, Drawn>();

  /** `maxSpeed`: the fastest a player can move, in subunits per second. */
  constructor(private maxSpeed: number) {}

  /** Where to draw player `id` at `now` (seconds), given where it should be. */
  place(id: number, target: { x: number; y: number }, now: number): { x: number; y: number } {
    const d = this.drawn.get(id);
    let pos = { x: target.x, y: target.y };
    let glide: Drawn["glide"] = null;
    if (d) {
      glide = d.glide;
      if (!glide && !this.runnable(d, target, now - d.at)) {
        glide = { x: d.x, y: d.y, since: now - 1 / 240 }; // a first step this very frame
      }
      if (glide) {
        const k = Math.min(1, (now - glide.since) / GLIDE_SECONDS);
        pos = { x: glide.x + (target.x - glide.x) * k, y: glide.y + (target.y - glide.y) * k };
        if (k >= 1) glide = null;
      }
    }
    this.drawn.set(id, { x: pos.x, y: pos.y, at: now, glide });
    return pos;
  }

  /** Whether a player can have run from `a` to `b` in `seconds` (twice the speed rule, for
   * slack): a move that is not is a jump (a gap to glide over, or a respawn to place). */
  runnable(a: { x: number; y: number }, b: { x: number; y: number }, seconds: number): boolean {
    return Math.hypot(b.x - a.x, b.y - a.y) <= 2 * this.maxSpeed * Math.max(seconds, 0) + 1;
  }

  /** The next `place` of `id` puts it where it should be at once. */
  forget(id: number): void {
    this.drawn.delete(id);
  }
}
