// What the page remembers: the player's name for next time (localStorage, every tab), and
// this tab's resume token and room (sessionStorage: a reload of the tab gets its player back,
// another tab is another player). Storage that is missing or refuses (private modes, blocked
// cookies, a full quota) is treated as empty: the game plays on without remembering.

/** The part of the Web Storage API used here. */
export interface KeyValue {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

const NAME = "skirmish.name";
const TOKEN = "skirmish.token";
const ROOM = "skirmish.room";
/** Bytes in a resume token (protocol.ts's Welcome). */
const TOKEN_BYTES = 16;

export class Memory {
  /** `local` and `session`: the page's localStorage and sessionStorage (null where unusable). */
  constructor(private local: KeyValue | null, private session: KeyValue | null) {}

  /** The page's own storages; either is null if the browser won't give it. */
  static ofPage(): Memory {
    return new Memory(storage(() => localStorage), storage(() => sessionStorage));
  }

  get name(): string | null {
    return read(this.local, NAME);
  }

  set name(name: string | null) {
    write(this.local, NAME, name || null);
  }

  get room(): string | null {
    return read(this.session, ROOM);
  }

  set room(room: string | null) {
    write(this.session, ROOM, room || null);
  }

  /** This tab's resume token, or null (none, or not a token). */
  get token(): Uint8Array | null {
    return tokenOfHex(read(this.session, TOKEN));
  }

  set token(token: Uint8Array | null) {
    write(this.session, TOKEN, token ? hexOf(token) : null);
  }
}

/** A token as 32 lowercase hex digits. */
export function hexOf(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The token written by hexOf, or null for anything else. */
export function tokenOfHex(text: string | null): Uint8Array | null {
  if (text === null || !new RegExp(`^[0-9a-f]{${2 * TOKEN_BYTES}}$`).test(text)) return null;
  const out = new Uint8Array(TOKEN_BYTES);
  for (let i = 0; i < TOKEN_BYTES; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The storage `get` gives, or null if reading it throws (as it can when storage is blocked). */
function storage(get: () => KeyValue): KeyValue | null {
  try {
    return get();
  } catch {
    return null;
  }
}

function read(s: KeyValue | null, key: string): string | null {
  try {
    return s?.getItem(key) ?? null;
  } catch {
    return null;
  }
}

/** Writes `value`, or removes the key for null; failures are ignored. */
function write(s: KeyValue | null, key: string, value: string | null): void {
  try {
    if (value === null) s?.removeItem(key);
    else s?.setItem(key, value);
  } catch {
    // Full or refused: nothing is remembered, and the game goes on.
  }
}
