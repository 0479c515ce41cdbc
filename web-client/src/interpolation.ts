// Remote players are drawn in the past: at render time = newest server time minus a delay,
// between the two snapshots around it, so normal jitter (or a late frame) never makes them
// jump. Server time comes from tick numbers (tick / tickRate); the arrival clock only sets the
// offset between the two: the least-delayed frame's (arrival - server time), followed at once
// when a frame does better and drifting up slowly. The delay is two snapshot intervals on a
// steady link and grows with the jitter measured on this one (how much later than that frame
// frames arrive), up to eight; it changes gently (the render clock runs at most 10% fast or
// slow meanwhile), so adapting never makes anyone jump either.
//
// A server that falls too far behind restarts its tick schedule (server/src/room/clock.rs):
// its ticks then come later than their numbers say, for good. That happens after it sent
// nothing for a while, most often in an idle room (ticks where nothing changed are not sent),
// and it is a step in the offset, not jitter: taken as jitter it exceeds the delay's cap, and
// the render clock would run past the newest frame (runners stop at each frame, then jump)
// for seconds. So a frame that ends a silence the page drew through (SILENCE_SECONDS with no
// frame while frames were drawn: not a page that was itself stalled), and is later than
// usual by more than RESTART_STEP_TICKS (not the first frame after an ordinary lull), moves
// the offset up at once, to its own less the link's usual lateness (it may be a late one);
// later frames that do better lower it again as usual. What is drawn never goes back in
// server time (below what was drawn already, or the newest frame if the clock had run past
// it): a runner pauses instead, and `shownTick` says the tick drawn.
//
// A player's last known position holds until the tick before its next change (unchanged
// ticks are not sent).

/** No frame for this long while the page kept drawing: the next frame may move the offset up.
 * A restarted server schedule leaves a gap of over six ticks (200 ms); a jittery link's
 * frames come much closer together. */
export const SILENCE_SECONDS = 0.25;
/** ...and only a frame later than usual by more than this many ticks moves it: a restarted
 * schedule is more than 5 ticks (room/clock.rs); the first frame after an ordinary lull (a
 * runner that stopped, an idle room) is no later than any other. */
export const RESTART_STEP_TICKS = 4;

export interface Sample {
  t: number; // server time, seconds
  x: number;
  y: number;
}

export class Interpolator {
  private tracks = new Map<number, Sample[]>();
  /** Smallest (arrival - server time) seen lately: the least-delayed frame's offset (moved up
   * after a silence when the server's schedule moved). */
  private offset: number | null = null;
  /** Mean lateness of frames behind the least-delayed one (seconds): the link's jitter. */
  private jitter = 0;
  /** The delay drawn with now (seconds), moving toward `targetDelay()`. */
  private delay: number;
  private lastRender: number | null = null;
  /** When the last frame arrived (local seconds). */
  private lastArrival: number | null = null;
  /** The newest server time received. */
  private newest = -Infinity;
  /** The earliest server time that may be drawn: what was drawn last, at most the newest. */
  private floor = -Infinity;

  constructor(private dt: number, private delayTicks = 2) {
    this.delay = delayTicks * dt;
  }

  /** Records a frame's server time against the local clock (seconds) it arrived at. */
  observe(serverTime: number, arrival: number): void {
    const o = arrival - serverTime;
    // After a silence the page drew through, the server's schedule may have moved.
    const silence = this.lastArrival !== null && this.lastRender !== null &&
      this.lastRender - this.lastArrival >= SILENCE_SECONDS;
    this.lastArrival = arrival;
    this.newest = Math.max(this.newest, serverTime);
    if (this.offset === null || o < this.offset) {
      this.offset = o; // follow improvements at once
    } else if (silence && o - this.offset - this.jitter > RESTART_STEP_TICKS * this.dt) {
      // The schedule may have moved: this frame's offset, less the link's usual lateness (it
      // may be a late one), unless that is no later than what was known.
      this.offset = Math.max(this.offset, o - this.jitter);
    } else {
      this.offset += (o - this.offset) * 0.02; // drift slowly upwards: one late frame doesn't matter
    }
    this.jitter += (o - this.offset - this.jitter) * 0.05;
  }

  /** The delay this link needs: two intervals, or one plus room for 2.5× its mean lateness
   * (most late frames), whichever is more; at most eight intervals. */
  targetDelay(): number {
    return Math.min(8 * this.dt, Math.max(this.delayTicks * this.dt, this.dt + 2.5 * this.jitter));
  }

  /** Records a player's position at server time `t`. */
  push(id: number, t: number, x: number, y: number): void {
    let track = this.tracks.get(id);
    if (!track) {
      track = [];
      this.tracks.set(id, track);
    }
    const last = track[track.length - 1];
    if (last && t <= last.t) return;
    if (last && t - last.t > this.dt * 1.5) {
      // Unchanged ticks were skipped: it stood at its last position until the tick before.
      track.push({ t: t - this.dt, x: last.x, y: last.y });
    }
    track.push({ t, x, y });
    while (track.length > 64) track.shift();
  }

  /** Forgets a player that left. */
  remove(id: number): void {
    this.tracks.delete(id);
  }

  /** Places a player without interpolating (spawn, respawn, keyframe). */
  reset(id: number, t: number, x: number, y: number): void {
    this.tracks.set(id, [{ t, x, y }]);
  }

  /** The server time to draw at, for local clock `now` (seconds). */
  renderTime(now: number): number {
    const elapsed = this.lastRender === null ? 0 : Math.max(0, now - this.lastRender);
    this.lastRender = now;
    const step = 0.1 * elapsed;
    this.delay += Math.min(step, Math.max(-step, this.targetDelay() - this.delay));
    const t = this.clock(now);
    this.floor = Math.min(t, this.newest);
    return t;
  }

  /** The render clock at `now`: the offset and delay's time, but never back below `floor`. */
  private clock(now: number): number {
    return Math.max(now - (this.offset ?? 0) - this.delay, this.floor);
  }

  /** The tick the other players are drawn at now (without moving the delay, as `renderTime`
   * does): an attack's input says it, and the server judges the attack against where they
   * were then (lag compensation). 0 before any frame. */
  shownTick(now: number): number {
    if (this.offset === null) return 0;
    return Math.max(0, Math.floor(this.clock(now) / this.dt + 1e-6));
  }

  /** A player's position at server time `t`: between the samples around it, or the nearest. */
  sample(id: number, t: number): { x: number; y: number } | null {
    const track = this.tracks.get(id);
    if (!track || track.length === 0) return null;
    if (t <= track[0].t) return { x: track[0].x, y: track[0].y };
    for (let i = track.length - 1; i > 0; i--) {
      const a = track[i - 1];
      const b = track[i];
      if (t >= a.t) {
        if (t >= b.t) return { x: b.x, y: b.y };
        const k = (t - a.t) / (b.t - a.t);
        return { x: a.x + (b.x - a.x) * k, y: a.y + (b.y - a.y) * k };
      }
    }
    return { x: track[0].x, y: track[0].y };
  }
}
