// The send timer's phase follows the server's word on input timing.
import assert from "node:assert/strict";
import { test } from "node:test";

import { MARGIN_MS, MAX_SHIFT_MS, phaseShift } from "../src/send-phase";

test("inputs arriving well before their tick: send later, a few ms at a time", () => {
  assert.equal(phaseShift({ leadUs: 20_000, jitterUs: 2_000 }), MAX_SHIFT_MS);
  assert.equal(phaseShift({ leadUs: 9_000, jitterUs: 2_000 }), (9 - 2 - MARGIN_MS) / 2);
});

test("inputs arriving after their tick: send earlier", () => {
  assert.equal(phaseShift({ leadUs: -10_000, jitterUs: 0 }), -MAX_SHIFT_MS);
  assert.ok(phaseShift({ leadUs: 1_000, jitterUs: 2_000 }) < 0, "inside the jitter: too late");
});

test("just in time (jitter plus the margin): left alone", () => {
  assert.equal(phaseShift({ leadUs: 5_000 + MARGIN_MS * 1000, jitterUs: 5_000 }), 0);
  assert.equal(phaseShift({ leadUs: 5_500 + MARGIN_MS * 1000, jitterUs: 5_000 }), 0);
});

test("repeated pongs converge on the target without overshooting", () => {
  // A page whose inputs arrive 25 ms early, each shift moving the arrival by as much.
  let lead = 25;
  const jitter = 2;
  for (let i = 0; i < 30; i++) lead -= phaseShift({ leadUs: lead * 1000, jitterUs: jitter * 1000 });
  assert.ok(Math.abs(lead - (jitter + MARGIN_MS)) < 1, `settled at ${lead} ms`);
});
