// The message across the middle of the screen about your own player: while it is dead,
// "killed by NAME" and the respawn countdown (from the rules' respawn delay, counted from the
// moment the `killed` event arrived: 3… 2… 1…); for a moment after it comes back,
// "respawned". Pure: the page shows what this returns.

export interface Death {
  /** The killer's name (as the game knew it when the event arrived). */
  killer: string;
  /** Local seconds when the `killed` event arrived. */
  at: number;
}

export interface BannerState {
  /** Your player's hp (null before the welcome, or not in the room). */
  hp: number | null;
  /** The death being waited out (null: none seen, e.g. resumed already dead). */
  death: Death | null;
  /** Local seconds of your last respawn (-Infinity: none). */
  respawnedAt: number;
  respawnDelayMs: number;
}

export interface Banner {
  kind: "dead" | "respawned";
  title: string;
  detail: string;
}

/** How long "respawned" stays up. */
export const RESPAWNED_SECONDS = 1.2;

/** The seconds left to wait at `now`, rounded up (3, 2, 1), or 0 when the wait is over. */
export function countdown(death: Death, respawnDelayMs: number, now: number): number {
  const left = respawnDelayMs / 1000 - (now - death.at);
  return left > 0 ? Math.ceil(left - 1e-9) : 0;
}

/** The banner to show at `now` (seconds), or null for none. */
export function bannerOf(s: BannerState, now: number): Banner | null {
  if (s.hp === null) return null;
  if (s.hp <= 0) {
    const n = s.death ? countdown(s.death, s.respawnDelayMs, now) : 0;
    return {
      kind: "dead",
      title: s.death ? `killed by ${s.death.killer}` : "you are dead",
      detail: n > 0 ? `respawning in ${n}…` : "respawning…",
    };
  }
  if (now - s.respawnedAt < RESPAWNED_SECONDS) return { kind: "respawned", title: "respawned", detail: "" };
  return null;
}
