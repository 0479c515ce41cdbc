// The kill feed: what happened lately (kills, joins, leaves, connection notices), each entry
// shown for FEED_SECONDS and fading out over its last half second; the ones about you (you
// killed, you were killed) marked for a highlight. Pure: the game keeps the entries, the
// page shows what this returns.

export interface FeedEntry {
  text: string;
  /** Local seconds when it happened. */
  at: number;
  kind: "kill" | "join" | "leave" | "notice";
  /** It involves you: your kill or your death. */
  mine: boolean;
}

export interface ShownEntry {
  entry: FeedEntry;
  /** 1, then down to 0 over the last FADE_SECONDS. */
  opacity: number;
}

/** How long an entry stays. */
export const FEED_SECONDS = 5;
const FADE_SECONDS = 0.5;
/** At most this many entries show at once (the newest). */
export const FEED_LINES = 6;

/** The entries to show at `now` (seconds), oldest first, with how opaque each is. */
export function shownFeed(entries: readonly FeedEntry[], now: number, ttl = FEED_SECONDS, lines = FEED_LINES): ShownEntry[] {
  return entries
    .filter((e) => now - e.at < ttl)
    .slice(-lines)
    .map((entry) => ({ entry, opacity: Math.min(1, Math.max(0, (ttl - (now - entry.at)) / FADE_SECONDS)) }));
}
