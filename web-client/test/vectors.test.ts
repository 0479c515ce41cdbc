// The Rust side writes vectors.json (shared/tests/vectors.rs): server messages as bytes,
// what they decode to, and the client state after applying them in order. This client
// must decode the same bytes to the same messages and reach the same states.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { decodeServer, PROTOCOL_VERSION, ProtocolError } from "../src/protocol";
import { Replica } from "../src/replica";

interface Step {
  bytes: string;
  message: Record<string, unknown>;
  state: { tick: number; ack: number; entities: unknown[] };
}
const vectors = JSON.parse(readFileSync(new URL("../test/vectors.json", import.meta.url), "utf8")) as {
  protocolVersion: number;
  steps: Step[];
};

const bytesOf = (hex: string) => Uint8Array.from(hex.match(/../g)!.map((b) => parseInt(b, 16)));

test("speaks the same protocol version as the server", () => {
  assert.equal(vectors.protocolVersion, PROTOCOL_VERSION);
});

test("decodes every message to what the server meant and reaches the same states", () => {
  let replica = new Replica();
  assert.ok(vectors.steps.length >= 5);
  for (const [i, step] of vectors.steps.entries()) {
    const msg = decodeServer(bytesOf(step.bytes));
    const comparable = msg.type === "welcome" ? { ...msg, token: Buffer.from(msg.token).toString("hex") } : msg;
    assert.deepEqual(comparable as unknown, step.message, `step ${i}: decoded message`);
    if (msg.type === "welcome") replica = Replica.fromKeyframe(msg.keyframe);
    else if (msg.type === "keyframe") replica = Replica.fromKeyframe(msg);
    else if (msg.type === "frame") replica.apply(msg);
    const state = { tick: replica.tick, ack: replica.ack, entities: replica.sorted() };
    assert.deepEqual(state, step.state, `step ${i}: state after applying`);
  }
});

test("rejects malformed messages with a ProtocolError", () => {
  for (const hex of ["c1", "90", "9209", "920903", "97010101909102909090", "99000202"]) {
    assert.throws(() => decodeServer(bytesOf(hex)), ProtocolError, hex);
  }
});
