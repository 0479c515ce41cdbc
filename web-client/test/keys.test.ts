// Keys by physical position (KeyboardEvent.code): the same action whatever Shift, Caps Lock or
// the layout make the key type, and a key let go with a modifier held is let go.
import assert from "node:assert/strict";
import { test } from "node:test";

import { actionOf, HeldKeys } from "../src/keys";

const D = Math.fround(Math.SQRT1_2);

test("arrows, WASD and space by code", () => {
  const cases: [string, string, string][] = [
    ["ArrowLeft", "ArrowLeft", "left"], ["ArrowRight", "ArrowRight", "right"],
    ["ArrowUp", "ArrowUp", "up"], ["ArrowDown", "ArrowDown", "down"],
    ["KeyA", "a", "left"], ["KeyD", "d", "right"], ["KeyW", "w", "up"], ["KeyS", "s", "down"],
    ["Space", " ", "attack"],
  ];
  for (const [code, key, want] of cases) assert.equal(actionOf(code, key), want, code);
});

test("Shift and Caps Lock change the key's value, not its action", () => {
  assert.equal(actionOf("KeyW", "W"), "up"); // Shift or Caps Lock
  assert.equal(actionOf("KeyA", "A"), "left");
  assert.equal(actionOf("Space", " "), "attack");
});

test("the layout doesn't matter: the key where W is on QWERTY is up (Z on AZERTY, , on Dvorak)", () => {
  // AZERTY: the keys at W A S D read Z Q S D.
  assert.equal(actionOf("KeyW", "z"), "up");
  assert.equal(actionOf("KeyA", "q"), "left");
  // AZERTY's W and A keys are elsewhere (KeyZ and KeyQ): not game keys.
  assert.equal(actionOf("KeyZ", "w"), null);
  assert.equal(actionOf("KeyQ", "a"), null);
  // Dvorak: the key at W reads ",".
  assert.equal(actionOf("KeyW", ","), "up");
  // Cyrillic (ЙЦУКЕН): the key at W reads "ц".
  assert.equal(actionOf("KeyW", "ц"), "up");
});

test("other keys are nobody's", () => {
  for (const code of ["KeyQ", "KeyE", "Enter", "Tab", "ShiftLeft", "CapsLock", "Digit1", "Numpad8"]) {
    assert.equal(actionOf(code, "x"), null, code);
  }
});

test("without a code (some virtual keyboards), the key's value stands in, in either case", () => {
  assert.equal(actionOf("", "w"), "up");
  assert.equal(actionOf("", "W"), "up");
  assert.equal(actionOf("", "ArrowLeft"), "left");
  assert.equal(actionOf("Unidentified", "Left"), "left"); // old Edge names
  assert.equal(actionOf("", " "), "attack");
  assert.equal(actionOf("", "Spacebar"), "attack");
  assert.equal(actionOf("", "Unidentified"), null);
  assert.equal(actionOf("", "z"), null);
});

test("held keys give the direction; a diagonal is single-precision and no longer than 1", () => {
  const keys = new HeldKeys();
  assert.deepEqual(keys.direction(), [0, 0]);
  keys.press("ArrowRight", "ArrowRight");
  assert.deepEqual(keys.direction(), [1, 0]);
  keys.press("KeyW", "w");
  assert.deepEqual(keys.direction(), [D, -D]);
  keys.press("KeyA", "a"); // left and right cancel
  assert.deepEqual(keys.direction(), [0, -1]);
});

test("a key let go with Shift held is let go: no running on", () => {
  const keys = new HeldKeys();
  keys.press("KeyD", "d");
  keys.release("KeyD", "D"); // Shift went down in between: the value is "D" now
  assert.deepEqual(keys.direction(), [0, 0]);
  keys.press("KeyW", "W"); // pressed with Caps Lock on, let go after it was turned off
  keys.release("KeyW", "w");
  assert.deepEqual(keys.direction(), [0, 0]);
});

test("without codes, a letter let go in the other case is let go too", () => {
  const keys = new HeldKeys();
  keys.press("", "s");
  assert.deepEqual(keys.direction(), [0, 1]);
  keys.release("", "S");
  assert.deepEqual(keys.direction(), [0, 0]);
});

test("two keys for one direction: letting go of one keeps moving", () => {
  const keys = new HeldKeys();
  keys.press("ArrowUp", "ArrowUp");
  keys.press("KeyW", "w");
  keys.release("ArrowUp", "ArrowUp");
  assert.deepEqual(keys.direction(), [0, -1]);
  keys.release("KeyW", "w");
  assert.deepEqual(keys.direction(), [0, 0]);
});

test("a press returns its action, and clear lets go of everything", () => {
  const keys = new HeldKeys();
  assert.equal(keys.press("Space", " "), "attack");
  assert.equal(keys.press("KeyE", "e"), null);
  assert.equal(keys.press("ArrowDown", "ArrowDown"), "down");
  assert.ok(keys.has("attack") && keys.has("down"));
  keys.clear();
  assert.ok(!keys.has("attack") && !keys.has("down"));
  assert.deepEqual(keys.direction(), [0, 0]);
});
