// The HUD line above the map: the connection, the room, RTT, rates, the player count and who
// you are (the name the server gave you: cleaned, and made unique with a number). No DOM here:
// the page sets the text this returns.

export interface HudInfo {
  /** The page's state: a connection state, or "menu" before Play. */
  state: string;
  /** Why, for the state (a close reason, the next retry). */
  detail: string;
  transport: string;
  room: string | null;
  rttMs: number | null;
  tickRate: number;
  bytesPerSecond: number;
  players: number;
  /** The player's own entity, once the replica has it. */
  me: { id: number; name: string; hp: number } | null;
}

/** "1 player", "2 players", "0 players". */
export function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The connection state, in words. */
export function stateText(state: string, detail: string): string {
  // The same resume token joined elsewhere (a duplicated tab): that page plays now.
  if (state === "closed" && detail.startsWith("4002")) return "closed: this player is now playing in another tab";
  // A server that admits only matchmaker seats refused this page's (?seat=): say which way.
  if (state === "closed" && detail.startsWith("4004 ")) return `closed: ${detail.slice(5)} (ask for a new link to join)`;
  return `${state}${detail ? ` (${detail})` : ""}`;
}

export function hudText(h: HudInfo): string {
  if (h.state === "menu") return "choose a name and a room, then Play";
  return [
    h.me ? `you: ${h.me.name} (#${h.me.id}) ${Math.max(0, h.me.hp)} hp` : "",
    stateText(h.state, h.detail),
    h.transport,
    h.room !== null ? `room ${h.room}` : "",
    `RTT ${h.rttMs === null ? "–" : `${h.rttMs.toFixed(0)} ms`}`,
    `${h.tickRate} Hz`,
    `${(h.bytesPerSecond / 1024).toFixed(1)} KiB/s`,
    count(h.players, "player"),
  ].filter(Boolean).join(" · ");
}
