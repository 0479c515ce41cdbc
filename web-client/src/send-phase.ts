// When in each tick this page sends its input. The server says (in its pongs) how long before
// the tick that used them the page's inputs arrived, and how much their timing varies; the
// page moves its send timer so they arrive just in time — its jitter plus a small margin
// before the tick: earlier only waits in the server's buffer (latency), later arrives after
// its tick (the server repeats the last direction meanwhile, and a turn is corrected). The
// timer moves by half the difference, a few milliseconds at most per pong, so one odd
// measure can't throw it about. Pure: main.ts applies the shift.

import type { InputTiming } from "./protocol";

/** Arrive this long before the tick, beyond the measured jitter (ms). */
export const MARGIN_MS = 3;
/** The most the timer moves per pong (ms). */
export const MAX_SHIFT_MS = 4;
/** Differences smaller than this are left alone (ms). */
const DEAD_BAND_MS = 1;

/** How much later (ms; negative: earlier) to send the next input, given the server's word. */
export function phaseShift(timing: InputTiming): number {
  const target = timing.jitterUs / 1000 + MARGIN_MS;
  const early = timing.leadUs / 1000 - target;
  if (Math.abs(early) < DEAD_BAND_MS) return 0;
  return Math.max(-MAX_SHIFT_MS, Math.min(MAX_SHIFT_MS, early / 2));
}
