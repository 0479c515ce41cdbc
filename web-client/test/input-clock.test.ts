// One input per tick on the page's clock, however late its timer fires.
import assert from "node:assert/strict";
import { test } from "node:test";

import { InputClock, MAX_CATCH_UP } from "../src/input-clock";

const PERIOD = 1000 / 30;

/** Runs a chained timer as main.ts does, each fire `late(i)` ms after it was asked for, for
 * `ms`; returns the inputs sent. */
function run(ms: number, late: (i: number) => number): number {
  const clock = new InputClock(PERIOD, 0);
  let now = 0;
  let sent = 0;
  for (let i = 0; now < ms; i++) {
    now += clock.wait(now) + late(i);
    if (now >= ms) break;
    sent += clock.due(now);
  }
  return sent;
}

test("a timer that always fires on time sends one input a tick", () => {
  assert.equal(run(10_000, () => 0), 299);
});

/** What main.ts did before: each send scheduled a period after the last fire. */
function chained(ms: number, late: (i: number) => number): number {
  let now = 0;
  let sent = 0;
  for (let i = 0; ; i++) {
    now += Math.trunc(PERIOD) + late(i);
    if (now >= ms) return sent;
    sent += 1;
  }
}

test("a busy page's timer, late by 3-20 ms every time, still sends one input a tick", () => {
  const lateness = () => {
    let seed = 7;
    return () => 3 + 17 * ((seed = (seed * 16807) % 2147483647) / 2147483647);
  };
  const sent = run(10_000, lateness());
  assert.ok(sent >= 298 && sent <= 300, `sent ${sent} in 10 s`);
  // Chained from each fire, every lateness is lost: about 22 a second instead of 30.
  const before = chained(10_000, lateness());
  assert.ok(before < 240, `chained: ${before}`);
});

test("a timer that fires a fraction of a millisecond early, as browsers' do, still sends", () => {
  const clock = new InputClock(PERIOD, 0);
  assert.equal(clock.wait(0), Math.ceil(PERIOD), "whole milliseconds, rounded up");
  assert.equal(clock.due(Math.floor(PERIOD)), 1, "33 ms for a 33.3 ms tick");
  assert.equal(clock.due(Math.floor(PERIOD) + 1), 0, "and not twice");
  assert.equal(clock.due(2 * PERIOD), 1);
  // Over 10 s of timers fired a fraction early: one input a tick.
  assert.ok(run(10_000, () => -0.4) >= 298, "early fires are not lost");
});

test("a fire after missed ticks sends theirs too, at most MAX_CATCH_UP at once", () => {
  const clock = new InputClock(PERIOD, 0);
  assert.equal(clock.due(PERIOD * 2.5), 2, "two ticks were due");
  assert.equal(clock.due(PERIOD * 2.9), 0, "the next one is not due yet");
  assert.equal(clock.due(PERIOD * 3), 1);
  // A page frozen for a second sends a few, not thirty, then goes on at the rate.
  assert.equal(clock.due(PERIOD * 3 + 1000), MAX_CATCH_UP);
  const next = clock.wait(PERIOD * 3 + 1000);
  assert.ok(next >= 0 && next <= PERIOD, `next in ${next} ms`);
});

test("the phase moves with the server's word", () => {
  const clock = new InputClock(PERIOD, 0);
  clock.shift(4);
  assert.equal(clock.due(PERIOD + 2), 0, "moved 4 ms later");
  assert.equal(clock.due(PERIOD + 4), 1);
  clock.shift(-4);
  assert.equal(clock.wait(PERIOD + 4), Math.ceil(PERIOD - 4));
});
