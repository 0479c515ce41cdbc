// The virtual stick: offset to direction (dead zone, normalised, single-precision and never
// longer than 1 as the server measures it) and the knob kept on the stick.
import assert from "node:assert/strict";
import { test } from "node:test";

import { DEAD_ZONE, knobOffset, lengthSqF32, stickDirection, unitF32 } from "../src/stick";

const R = 64;

test("inside the dead zone: no direction", () => {
  assert.deepEqual(stickDirection(0, 0, R), [0, 0]);
  assert.deepEqual(stickDirection(DEAD_ZONE * R * 0.99, 0, R), [0, 0]);
  assert.deepEqual(stickDirection(3, -4, R), [0, 0]);
  assert.deepEqual(stickDirection(DEAD_ZONE * R, 0, R), [0, 0], "the edge of the dead zone is still in it");
});

test("beyond it: the direction of the offset, at full length", () => {
  assert.deepEqual(stickDirection(DEAD_ZONE * R + 1, 0, R), [1, 0]);
  assert.deepEqual(stickDirection(0, -40, R), [0, -1]);
  assert.deepEqual(stickDirection(-R, 0, R), [-1, 0]);
  const [x, y] = stickDirection(30, 40, R);
  assert.ok(Math.abs(x - 0.6) < 1e-7 && Math.abs(y - 0.8) < 1e-7, `${x}, ${y}`);
});

test("past the rim: the same direction (the length is clamped to 1)", () => {
  assert.deepEqual(stickDirection(5 * R, 0, R), [1, 0]);
  const far = stickDirection(300, 400, R);
  const near = stickDirection(30, 40, R);
  assert.deepEqual(far, near);
});

test("every direction is single-precision and no longer than 1 in single precision", () => {
  for (let i = 0; i < 3600; i++) {
    const a = (i / 3600) * 2 * Math.PI;
    const [x, y] = stickDirection(Math.cos(a) * 50, Math.sin(a) * 50, R);
    assert.equal(Math.fround(x), x);
    assert.equal(Math.fround(y), y);
    assert.ok(lengthSqF32(x, y) <= 1, `angle ${a}: ${x}, ${y}`);
    assert.ok(Math.hypot(x, y) > 1 - 1e-6, `angle ${a}: ${x}, ${y} too short`);
  }
});

test("unitF32 shrinks what rounds to over 1", () => {
  const [x, y] = unitF32(Math.SQRT1_2, Math.SQRT1_2);
  assert.ok(lengthSqF32(x, y) <= 1);
  assert.deepEqual(unitF32(1, 0), [1, 0]);
  assert.deepEqual(unitF32(0, -1), [0, -1]);
});

test("a dead zone of its own, and nonsense in: no direction", () => {
  assert.deepEqual(stickDirection(20, 0, R, 0.5), [0, 0]);
  assert.deepEqual(stickDirection(40, 0, R, 0.5), [1, 0]);
  assert.deepEqual(stickDirection(NaN, 10, R), [0, 0]);
  assert.deepEqual(stickDirection(Infinity, 0, R), [0, 0]);
  assert.deepEqual(stickDirection(30, 0, 0), [0, 0], "a stick of no size");
});

test("the knob follows the finger on the stick, and stays on the rim beyond it", () => {
  assert.deepEqual(knobOffset(10, -20, R), [10, -20]);
  assert.deepEqual(knobOffset(R, 0, R), [R, 0]);
  assert.deepEqual(knobOffset(3 * R, 0, R), [R, 0]);
  const [x, y] = knobOffset(300, 400, R);
  assert.ok(Math.abs(x - 0.6 * R) < 1e-9 && Math.abs(y - 0.8 * R) < 1e-9, `${x}, ${y}`);
  assert.deepEqual(knobOffset(NaN, 0, R), [0, 0]);
});
