// Keyboard and touch feeding one intent: what goes out each tick.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Controls } from "../src/controls";

const D = Math.fround(Math.SQRT1_2);

test("nothing held: no input", () => {
  const c = new Controls();
  assert.equal(c.take(), null);
});

test("held keys move every tick until let go; a key-up with Shift held lets go", () => {
  const c = new Controls();
  assert.equal(c.keyDown("ArrowDown", "ArrowDown"), "down");
  assert.deepEqual(c.take(), { dx: 0, dy: 1, attack: false });
  assert.deepEqual(c.take(), { dx: 0, dy: 1, attack: false });
  c.keyDown("KeyD", "D"); // Shift held
  assert.deepEqual(c.take(), { dx: D, dy: D, attack: false });
  c.keyUp("KeyD", "d"); // Shift let go first
  c.keyUp("ArrowDown", "ArrowDown");
  assert.deepEqual(c.take(), { dx: 0, dy: 0, attack: false }, "one stop input");
  assert.equal(c.take(), null, "then nothing");
});

test("not a game key: nothing", () => {
  const c = new Controls();
  assert.equal(c.keyDown("KeyQ", "q"), null);
  assert.equal(c.take(), null);
});

test("a space press attacks once, even let go before the tick; held, it keeps attacking", () => {
  const c = new Controls();
  c.keyDown("Space", " ");
  c.keyUp("Space", " ");
  assert.deepEqual(c.take(), { dx: 0, dy: 0, attack: true });
  assert.equal(c.take(), null);
  c.keyDown("Space", " ");
  assert.deepEqual(c.take(), { dx: 0, dy: 0, attack: true });
  assert.deepEqual(c.take(), { dx: 0, dy: 0, attack: true });
  c.keyUp("Space", " ");
  assert.equal(c.take(), null);
});

test("a direction key tapped between two ticks still steps once", () => {
  const c = new Controls();
  c.keyDown("KeyA", "a");
  c.keyUp("KeyA", "a");
  assert.deepEqual(c.take(), { dx: -1, dy: 0, attack: false });
  assert.deepEqual(c.take(), { dx: 0, dy: 0, attack: false }, "the stop");
  assert.equal(c.take(), null);
});

test("a held key's auto-repeat doesn't step on after the key-up", () => {
  const c = new Controls();
  c.keyDown("ArrowUp", "ArrowUp");
  assert.deepEqual(c.take(), { dx: 0, dy: -1, attack: false });
  c.keyDown("ArrowUp", "ArrowUp"); // repeat
  c.keyUp("ArrowUp", "ArrowUp");
  assert.deepEqual(c.take(), { dx: 0, dy: 0, attack: false }, "a stop, not a step");
  assert.equal(c.take(), null);
});

test("the stick moves while pushed, and wins over the keys", () => {
  const c = new Controls();
  c.keyDown("ArrowLeft", "ArrowLeft");
  c.take();
  c.setStick(0.6, 0.8);
  assert.deepEqual(c.take(), { dx: 0.6, dy: 0.8, attack: false });
  c.setStick(0, 0);
  assert.deepEqual(c.take(), { dx: -1, dy: 0, attack: false }, "the keys again once the stick is let go");
  c.keyUp("ArrowLeft", "ArrowLeft");
  assert.deepEqual(c.take(), { dx: 0, dy: 0, attack: false }, "the stop");
  assert.equal(c.take(), null);
});

test("a stick flicked and let go between two ticks still steps once", () => {
  const c = new Controls();
  c.setStick(0, -1);
  c.setStick(0, 0);
  assert.deepEqual(c.take(), { dx: 0, dy: -1, attack: false });
  assert.deepEqual(c.take(), { dx: 0, dy: 0, attack: false }, "the stop");
  assert.equal(c.take(), null);
  // Let go after a tick took it: no extra step, a stop.
  c.setStick(1, 0);
  assert.deepEqual(c.take(), { dx: 1, dy: 0, attack: false });
  c.setStick(0.6, 0.8);
  c.setStick(0, 0);
  assert.deepEqual(c.take(), { dx: 0, dy: 0, attack: false });
  assert.equal(c.take(), null);
});

test("the attack button: a tap attacks once, held keeps attacking, with the stick too", () => {
  const c = new Controls();
  c.setAttack(true);
  c.setAttack(false);
  assert.deepEqual(c.take(), { dx: 0, dy: 0, attack: true });
  assert.equal(c.take(), null);
  c.setAttack(true);
  c.setStick(-1, 0);
  assert.deepEqual(c.take(), { dx: -1, dy: 0, attack: true });
  assert.deepEqual(c.take(), { dx: -1, dy: 0, attack: true });
  c.setAttack(false);
  assert.deepEqual(c.take(), { dx: -1, dy: 0, attack: false });
});

test("clear lets go of keys, stick, button and what was queued (focus lost, page hidden)", () => {
  const c = new Controls();
  c.keyDown("KeyW", "w");
  c.keyDown("Space", " ");
  c.setStick(1, 0);
  c.setAttack(true);
  c.clear();
  assert.equal(c.take(), null);
  assert.deepEqual(c.direction(), [0, 0]);
});

test("attacking: while space or the touch button is held (your reach is drawn meanwhile), not after", () => {
  const c = new Controls();
  assert.equal(c.attacking(), false);
  c.keyDown("Space", " ");
  assert.equal(c.attacking(), true);
  c.take();
  assert.equal(c.attacking(), true, "held across ticks");
  c.keyUp("Space", " ");
  assert.equal(c.attacking(), false);
  c.setAttack(true);
  assert.equal(c.attacking(), true);
  c.setAttack(false);
  assert.equal(c.attacking(), false);
  c.keyDown("ArrowLeft", "ArrowLeft");
  assert.equal(c.attacking(), false, "moving is not attacking");
  c.setAttack(true);
  c.clear();
  assert.equal(c.attacking(), false, "cleared");
});
