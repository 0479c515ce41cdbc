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
    this.pending = this.pending.filter((i) => i.seq > ack);
    this.x = x;
    this.y = y;
    if (!alive) return;
    for (const i of this.pending) [this.x, this.y] = step(this.x, this.y, i.dx, i.dy, this.rules);
  }

  /** Inputs sent but not yet acknowledged. */
  get unacked(): number {
    return this.pending.length;
  }
}
