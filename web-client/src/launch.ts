// How the page starts, from its URL and what this browser remembers. `?name=` and `?room=`
// fill in the start screen; the game starts without it (autoplay) when the URL names a player
// (`?name=`, so links and the end-to-end tests go straight in), when `?autoplay=1` says so, or
// when this tab already plays (a resume token in sessionStorage: a reload must rejoin at once,
// within the server's leave grace, to get the same player back). `?autoplay=0` always shows the
// start screen. No DOM here.

import { validRoomName } from "./protocol";

export interface Launch {
  /** The name to fill in ("" for none: the server then names the player). */
  name: string;
  /** The room to fill in ("" for quick play). */
  room: string;
  /** Start at once, without the start screen. */
  autoplay: boolean;
}

/** What the browser remembers: the name (localStorage), and this tab's room and whether it
 * holds a resume token (sessionStorage). */
export interface Remembered {
  name: string | null;
  room: string | null;
  token: boolean;
}

export function launchOf(search: string, remembered: Remembered): Launch {
  const params = new URLSearchParams(search);
  const name = params.get("name");
  const room = params.get("room");
  const asked = params.get("autoplay");
  const autoplay = asked === null ? name !== null || remembered.token : asked !== "0" && asked !== "false";
  return { name: name ?? remembered.name ?? "", room: room ?? remembered.room ?? "", autoplay };
}

/** Why `room` can't be played in, or null if it can ("" is quick play). `without` says how to
 * ask for quick play instead, where the message is shown. */
export function roomProblem(room: string, without = "leave it empty"): string | null {
  if (room === "" || validRoomName(room)) return null;
  return `invalid room name ${JSON.stringify(room)}: use 1–32 of A–Z a–z 0–9 - _ (or ${without} for quick play)`;
}
