// Which game action a key is, by physical key (KeyboardEvent.code), and which are held.
// Codes name a key's position, not its letter: Shift, Caps Lock and the layout don't change
// them (the key left of S is KeyA on QWERTY and AZERTY alike, where it reads Q), so WASD is
// ZQSD on AZERTY and a key released with Shift held is the key that was pressed. Only where a
// browser gives no code (some virtual keyboards) does the key's value stand in, lower-cased.
// No DOM here: the page hands in the event's `code` and `key`.

import { direction } from "./movement";

export type Action = "left" | "right" | "up" | "down" | "attack";

const BY_CODE: ReadonlyMap<string, Action> = new Map<string, Action>([
  ["ArrowLeft", "left"], ["ArrowRight", "right"], ["ArrowUp", "up"], ["ArrowDown", "down"],
  ["KeyA", "left"], ["KeyD", "right"], ["KeyW", "up"], ["KeyS", "down"],
  ["Space", "attack"],
]);

/** For events without a code: the key's value, lower-cased (old names too: "Left", "Spacebar"). */
const BY_KEY: ReadonlyMap<string, Action> = new Map<string, Action>([
  ["arrowleft", "left"], ["arrowright", "right"], ["arrowup", "up"], ["arrowdown", "down"],
  ["left", "left"], ["right", "right"], ["up", "up"], ["down", "down"],
  ["a", "left"], ["d", "right"], ["w", "up"], ["s", "down"],
  [" ", "attack"], ["spacebar", "attack"],
]);

/** A key's identity while held: its code, or where there is none its value, lower-cased. */
function keyId(code: string, key: string): string | null {
  if (code && code !== "Unidentified") return code;
  if (key && key !== "Unidentified") return `key:${key.toLowerCase()}`;
  return null;
}

/** The action of the key with this `code` and `key` (a KeyboardEvent's), or null if none. */
export function actionOf(code: string, key: string): Action | null {
  if (code && code !== "Unidentified") return BY_CODE.get(code) ?? null;
  return BY_KEY.get(key.toLowerCase()) ?? null;
}

/** The game keys held down, each remembered by the key pressed (not by what it typed). */
export class HeldKeys {
  private held = new Map<string, Action>();

  /** A key went down; returns its action (null: not a game key, nothing held). */
  press(code: string, key: string): Action | null {
    const id = keyId(code, key);
    const action = actionOf(code, key);
    if (id !== null && action !== null) this.held.set(id, action);
    return action;
  }

  /** A key went up (whatever the modifiers now say). */
  release(code: string, key: string): void {
    const id = keyId(code, key);
    if (id !== null) this.held.delete(id);
  }

  /** Nothing is held (the page lost focus or was hidden: the key-ups would never come). */
  clear(): void {
    this.held.clear();
  }

  has(action: Action): boolean {
    for (const a of this.held.values()) if (a === action) return true;
    return false;
  }

  /** The direction the held keys point, as movement.ts's `direction` gives it. */
  direction(): [number, number] {
    return direction(this.has("left"), this.has("right"), this.has("up"), this.has("down"));
  }
}
