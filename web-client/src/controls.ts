// What the player is asking for, from the keyboard and the touch controls alike: the held
// direction and the attack. Each tick the page takes the input to send from here: the stick's
// direction while it is pushed, else the keys'; an attack when one was pressed since the last
// input or while one is held. A tap shorter than a tick still counts: an attack pressed and
// let go between two inputs goes out in the next, and so does one tick's step for a direction
// key tapped (or the stick flicked) in between. When the player stops moving, one input with
// no direction goes out: the server repeats a streaming client's last direction while its
// next input is late, and this tells it the stream stopped rather than ran late. No DOM here.

import { type Action, HeldKeys } from "./keys";

export interface Intent {
  dx: number;
  dy: number;
  attack: boolean;
}

export class Controls {
  private keys = new HeldKeys();
  private stick: [number, number] = [0, 0];
  private attackHeld = false;
  private attackQueued = false;
  /** A direction newly asked for since the last input: sent once even if let go before it. */
  private tapped: [number, number] | null = null;
  /** The last input sent moved the player: a stop is owed when nothing is asked any more. */
  private moving = false;

  /** A key went down; returns its action, or null if it is not a game key. */
  keyDown(code: string, key: string): Action | null {
    const [bx, by] = this.keys.direction();
    const action = this.keys.press(code, key);
    const [dx, dy] = this.keys.direction();
    if (action === "attack") this.attackQueued = true;
    // A new direction (not a key's auto-repeat, which would step on after the key-up).
    else if (dx !== bx || dy !== by) this.tap([dx, dy]);
    return action;
  }

  keyUp(code: string, key: string): void {
    this.keys.release(code, key);
  }

  /** The stick's direction (from stick.ts: length <= 1; [0, 0] when let go). */
  setStick(dx: number, dy: number): void {
    const [sx, sy] = this.stick;
    if (sx === 0 && sy === 0) this.tap([dx, dy]);
    this.stick = [dx, dy];
  }

  /** The attack button went down (`true`) or up. */
  setAttack(down: boolean): void {
    if (down) this.attackQueued = true;
    this.attackHeld = down;
  }

  /** Lets go of everything: keys, stick, button (and drops a queued attack). */
  clear(): void {
    this.keys.clear();
    this.stick = [0, 0];
    this.attackHeld = false;
    this.attackQueued = false;
    this.tapped = null;
    // `moving` stays: the next input (a stop) tells the server the stream ended.
  }

  /** The direction asked for now: the stick's while it is pushed, else the keys'. */
  direction(): [number, number] {
    const [sx, sy] = this.stick;
    return sx !== 0 || sy !== 0 ? [sx, sy] : this.keys.direction();
  }

  /** Whether an attack is held now (the space key or the touch button): the page shows your
   * reach meanwhile. */
  attacking(): boolean {
    return this.attackHeld || this.keys.has("attack");
  }

  /** The input for this tick, or null when nothing is asked (no input goes out then). Takes
   * the queued attack. */
  take(): Intent | null {
    let [dx, dy] = this.direction();
    if (dx === 0 && dy === 0 && this.tapped) [dx, dy] = this.tapped;
    const attack = this.attackQueued || this.attackHeld || this.keys.has("attack");
    this.attackQueued = false;
    this.tapped = null;
    const wasMoving = this.moving;
    this.moving = dx !== 0 || dy !== 0;
    if (!this.moving && !attack) return wasMoving ? { dx: 0, dy: 0, attack: false } : null;
    return { dx, dy, attack };
  }

  private tap([dx, dy]: [number, number]): void {
    if (dx !== 0 || dy !== 0) this.tapped = [dx, dy];
  }
}
