// The scoreboard: the room's players ranked by kills (ties: fewer deaths first, then the
// lower id), the top ten (fewer on a short screen), and your own row too when you are not
// among them. Pure: made from the replica's entities (their kills, deaths and streak, kept
// from the `killed` events).

export interface Scored {
  id: number;
  name: string;
  kills: number;
  deaths: number;
  streak: number;
}

export interface ScoreRow extends Scored {
  /** 1 for the leader. */
  rank: number;
  me: boolean;
}

export interface Scoreboard {
  /** The best `size` players, best first. */
  top: ScoreRow[];
  /** Your row when it is not in `top` (null when it is, or when you are not in the room). */
  you: ScoreRow | null;
  /** How many players are ranked. */
  players: number;
}

export const TOP = 10;

/** How many leaders to list on a canvas `height` CSS px tall: TOP, fewer (at least 3) where
 * they would take more than two fifths of it (a row is about 17 px, the title and header 44). */
export function leadersFor(height: number): number {
  return Math.min(TOP, Math.max(3, Math.floor((height * 0.4 - 44) / 17)));
}

/** The ranking order: more kills first, then fewer deaths, then the lower id. */
export function byScore(a: Scored, b: Scored): number {
  return b.kills - a.kills || a.deaths - b.deaths || a.id - b.id;
}

/** The scoreboard of `players`, seen by player `me`. */
export function scoreboard(players: Iterable<Scored>, me: number, size = TOP): Scoreboard {
  const rows: ScoreRow[] = [...players]
    .sort(byScore)
    .map((p, i) => ({ id: p.id, name: p.name, kills: p.kills, deaths: p.deaths, streak: p.streak, rank: i + 1, me: p.id === me }));
  const top = rows.slice(0, size);
  const mine = rows.find((r) => r.me) ?? null;
  return { top, you: mine && mine.rank > size ? mine : null, players: rows.length };
}
