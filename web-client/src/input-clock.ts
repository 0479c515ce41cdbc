// When this page sends its inputs: one per server tick, on the page's own clock. The send
// timer is a chain of setTimeouts, and a busy page fires each one late; scheduling each from
// the last fire would let that lateness add up (a page starved of CPU sent 27 inputs a second
// instead of 30, so the server, one step per input, moved its player 10% slower than the
// player held the key, in stops). So the sends are due at fixed instants (start + n ticks,
// moved only by the server's word on input timing, send-phase.ts), and a fire that comes
// after several of them sends the inputs of the ticks it missed too, up to MAX_CATCH_UP (a
// page frozen for longer does not dump a burst: the rest are skipped). The server's de-jitter
// buffer takes them one a tick. Pure: main.ts owns the timer.

/** The most inputs one late fire sends (its own and the missed ticks'). */
export const MAX_CATCH_UP = 3;
/** A fire this early still sends (ms): browsers cut a timer's fractional milliseconds, so a
 * timer asked for 33.3 ms fires after 33, just before its instant; treated as not due, it
 * would be re-armed for the rest, which a browser stretches to 4 ms. */
export const EARLY_MS = 1;

export class InputClock {
  /** When the next input is due (ms, the clock `now` is read from). */
  private next: number;

  /** Sends every `period` ms, the first one `period` after `now`. */
  constructor(private period: number, now: number) {
    this.next = now + period;
  }

  /** At a timer fire at `now`: how many inputs to send (0 if none is due yet; at most
   * MAX_CATCH_UP). The clock moves past every due instant either way. */
  due(now: number): number {
    if (now < this.next - EARLY_MS) return 0;
    const passed = Math.max(1, Math.floor((now - this.next) / this.period) + 1);
    this.next += passed * this.period;
    return Math.min(passed, MAX_CATCH_UP);
  }

  /** Moves the sends `ms` later (earlier if negative). */
  shift(ms: number): void {
    this.next += ms;
  }

  /** How long from `now` until the next input is due (ms), rounded up to whole ms as timers
   * take it. */
  wait(now: number): number {
    return Math.max(0, Math.ceil(this.next - now));
  }
}
