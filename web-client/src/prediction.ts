// Client-side prediction of the player's own square: every input sent is applied at once
// with the server's movement rule and remembered; when the server acknowledges inputs up to
// `ack`, the remembered ones up to it are dropped and the rest replayed on top of the
// server's position. If the prediction was right, nothing moves; if not, it converges.

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

  constructor(private rules: TickRules) {}

  /** Records an input just sent and moves the prediction by it (unless dead). */
  sent(input: SentInput, alive: boolean): void {
    this.pending.push(input);
    if (this.pending.length > 256) this.pending.shift();
    if (alive) [this.x, this.y] = step(this.x, this.y, input.dx, input.dy, this.rules);
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
