// The rooms open on the server (`GET /rooms`: [{"id":"arena","players":2,"cap":100}, …]), for
// the start screen to suggest: the fullest first, full rooms left out. Anything malformed is
// skipped; a failed request suggests nothing.

import { validRoomName } from "./protocol";

export interface RoomInfo {
  id: string;
  players: number;
  cap: number;
}

/** The joinable rooms in a `GET /rooms` answer, most players first (then by name). */
export function roomsOf(json: unknown): RoomInfo[] {
  if (!Array.isArray(json)) return [];
  const out: RoomInfo[] = [];
  for (const r of json as unknown[]) {
    if (typeof r !== "object" || r === null) continue;
    const { id, players, cap } = r as Record<string, unknown>;
    if (typeof id !== "string" || !validRoomName(id)) continue;
    if (!Number.isInteger(players) || !Number.isInteger(cap)) continue;
    const info = { id, players: players as number, cap: cap as number };
    if (info.players < info.cap) out.push(info);
  }
  return out.sort((a, b) => b.players - a.players || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The rooms open now, or none if the server can't say within `timeoutMs`. */
export async function fetchRooms(timeoutMs = 3000): Promise<RoomInfo[]> {
  try {
    const res = await fetch("/rooms", { cache: "no-store", signal: AbortSignal.timeout(timeoutMs) });
    return res.ok ? roomsOf(await res.json()) : [];
  } catch {
    return [];
  }
}
