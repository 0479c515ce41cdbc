// Client-side prediction of the player's own square: every input sent is applied at once
// with the server's movement rule and remembered; when the server acknowledges inputs up to
// `ack`, the remembered ones up to it are dropped and the rest replayed on top of the
// server's position. If the prediction was right, nothing moves; if not, it converges.
//
// The prediction moves once per input (once a tick), but the screen refreshes two to five
// times a tick: drawn as it is, your own square would stand still on every other frame at
// 60 Hz. So it is drawn (`render`) gliding from where it was drawn when the last input was
// sent to the newest predicted position, over one tick: always moving, at most a tick behind
// the prediction, and a correction glides too instead of jumping.
//
// A streaming client's input that reaches the server after its tick is stood in for: the
// server repeats the last direction that tick, then takes the late input, when it comes, as
// the one the repeat stood for (acknowledged, not moved again; protocol.md, "How inputs are
// applied"). Meanwhile the server's position already holds that step while the input is
// still unacknowledged: replayed on top, it would put the square a step ahead, then back. So
// each reconcile checks the server's move against the inputs it acknowledged, and counts the
// steps beyond them along the last direction as repeats standing in for the oldest
// unacknowledged inputs, which the replay then skips. Anything else (a correction, a trim, a
// respawn) clears the count and replays as before.

import { step, type TickRules } from "./movement";

export interface SentInput {
  seq: number;
  dx: number;
  dy: number;
}

export class Predictor {
  private pending: SentInput[] = [];
  /** The predicted position, in subunits. */
  x = 0;
  y = 0;
  /** Where the drawing glides from, and since when (seconds). */
  private from = { x: 0, y: 0 };
  private since = -Infinity;
  /** The server's position and ack at the last reconcile (null: none, or dead). */
  private server: { x: number; y: number } | null = null;
  /** The last direction the server applied to this player. */
  private lastDir = { dx: 0, dy: 0 };
  /** Unacknowledged inputs the server has already moved for, by repeating the last direction. */
  private repeats = 0;

  /** `tickSeconds`: how long one input's step takes to draw. */
  constructor(private rules: TickRules, private tickSeconds = 1 / 30) {}

  /** Records an input just sent at `now` (seconds) and moves the prediction by it (unless dead). */
  sent(input: SentInput, alive: boolean, now = 0): void {
    this.pending.push(input);
    if (this.pending.length > 256) this.pending.shift();
    this.from = this.render(now);
    this.since = now;
    if (alive) [this.x, this.y] = step(this.x, this.y, input.dx, input.dy, this.rules);
  }

  /** Where to draw the player at `now` (seconds): on the way from the position drawn when the
   * last input was sent to the prediction, arriving one tick after it was sent. */
  render(now: number): { x: number; y: number } {
    const a = Math.min(1, Math.max(0, (now - this.since) / this.tickSeconds));
    if (a >= 1) return { x: this.x, y: this.y };
    return { x: this.from.x + (this.x - this.from.x) * a, y: this.from.y + (this.y - this.from.y) * a };
  }

  /** Draws the prediction where it is from now on, with no glide (a respawn, a resync). */
  snap(): void {
    this.since = -Infinity;
  }

  /** Re-bases on the server's state: position `(x, y)` with inputs up to `ack` applied. */
  reconcile(x: number, y: number, ack: number, alive: boolean): void {
    const acked = this.pending.filter((i) => i.seq <= ack);
    this.pending = this.pending.filter((i) => i.seq > ack);
    this.repeats = alive && this.server ? this.repeatsNow(this.server, acked, x, y) : 0;
    this.server = alive ? { x, y } : null;
    this.x = x;
    this.y = y;
    if (!alive) return;
    for (const i of this.pending.slice(this.repeats)) [this.x, this.y] = step(this.x, this.y, i.dx, i.dy, this.rules);
  }

  /** The repeats standing in for unacknowledged inputs after the server went from `was` to
   * `(x, y)` acknowledging `acked`: those it had stood in for are acknowledged without a move;
   * steps beyond the rest, along the last direction, are new repeats (at most 3 a frame, the
   * server's deepest buffer). 0 if the move can't be explained so. */
  private repeatsNow(was: { x: number; y: number }, acked: SentInput[], x: number, y: number): number {
    const covered = Math.min(this.repeats, acked.length);
    let [ex, ey] = [was.x, was.y];
    for (const i of acked.slice(covered)) [ex, ey] = step(ex, ey, i.dx, i.dy, this.rules);
    if (acked.length > 0) this.lastDir = acked[acked.length - 1];
    let repeats = this.repeats - covered;
    for (let r = 0; r < 3 && (ex !== x || ey !== y); r++) {
      [ex, ey] = step(ex, ey, this.lastDir.dx, this.lastDir.dy, this.rules);
      repeats += 1;
    }
    if (ex !== x || ey !== y) return 0;
    return Math.min(repeats, this.pending.length);
  }

  /** Inputs sent but not yet acknowledged. */
  get unacked(): number {
    return this.pending.length;
  }
}
