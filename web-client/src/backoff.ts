// Reconnection delays as Socket.IO's defaults: 1 s, doubling, at most 5 s, each randomised by
// ±50% so that many clients dropped at once don't come back at once.

export const BASE_MS = 1000;
export const MAX_MS = 5000;
export const JITTER = 0.5;

/** The delay before reconnect attempt `attempt` (0-based); `random` in [0, 1). */
export function reconnectDelay(attempt: number, random: number): number {
  const base = Math.min(BASE_MS * 2 ** Math.min(attempt, 16), MAX_MS);
  const delta = base * JITTER;
  return Math.round(Math.min(base - delta + random * 2 * delta, MAX_MS));
}
