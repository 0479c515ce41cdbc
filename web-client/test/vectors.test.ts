// The Rust side writes vectors.json (shared/tests/vectors.rs): server messages as bytes,
// what they decode to, and the client state after applying them in order; joins and the leave
// as bytes; room names and whether the rule allows them. This client must decode the same bytes
// to the same messages and reach the same states, encode the same joins and leave, and judge
// names alike.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { encode } from "@msgpack/msgpack";

import { Game } from "../src/game";
import { decodeServer, encodeInput, encodeJoin, encodeLeave, PROTOCOL_VERSION, ProtocolError, validRoomName } from "../src/protocol";
import { Replica } from "../src/replica";

interface Step {
  bytes: string;
  message: Record<string, unknown>;
  state: { tick: number; ack: number; entities: unknown[] };
}
interface Join {
  name: string | null;
  token: string | null;
  room: string | null;
  seat: string | null;
  bytes: string;
}
const vectors = JSON.parse(readFileSync(new URL("../test/vectors.json", import.meta.url), "utf8")) as {
  protocolVersion: number;
  steps: Step[];
  joins: Join[];
  leave: string;
  inputs: { seq: number; dx: number; dy: number; attack: boolean; seen: number; shown: number; bytes: string }[];
  roomNames: { name: string; valid: boolean }[];
};

const bytesOf = (hex: string) => Uint8Array.from(hex.match(/../g)!.map((b) => parseInt(b, 16)));
const hexOf = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

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
  // A version 2 welcome (no room: 9 fields), and a welcome whose room is not a string.
  const welcome = bytesOf(vectors.steps[0].bytes);
  assert.equal(welcome[0], 0x9a, "the first step is a welcome of 10 fields");
  const fields = [0, 2, PROTOCOL_VERSION, 30, {}, new Uint8Array(16), false, "arena", 1, []];
  assert.doesNotThrow(() => decodeServer(encode(fields)));
  assert.throws(() => decodeServer(encode(fields.filter((_, i) => i !== 7))), /has 9 fields/);
  assert.throws(() => decodeServer(encode(fields.map((f, i) => (i === 7 ? 7 : f)))), /room: expected a string/);
});

test("encodes every join byte for byte as the server's codec does", () => {
  assert.ok(vectors.joins.some((j) => j.room === null) && vectors.joins.some((j) => j.room !== null));
  assert.ok(vectors.joins.some((j) => j.seat !== null), "a join with a seat");
  for (const j of vectors.joins) {
    const token = j.token === null ? null : bytesOf(j.token);
    assert.equal(hexOf(encodeJoin(j.name, token, j.room, j.seat)), j.bytes, JSON.stringify(j));
  }
});

test("encodes the leave byte for byte as the server's codec does", () => {
  assert.equal(hexOf(encodeLeave()), vectors.leave);
  // An array of one element, the tag 3 (docs/protocol.md: `91 03`).
  assert.equal(vectors.leave, "9103");
});

test("encodes inputs, with and without the ticks seen and shown, byte for byte as the server's codec does", () => {
  assert.ok(vectors.inputs.some((i) => i.seen === 0) && vectors.inputs.some((i) => i.seen > 2 ** 32));
  assert.ok(vectors.inputs.some((i) => i.shown > 0), "a vector with the tick shown");
  for (const i of vectors.inputs) {
    assert.equal(hexOf(encodeInput(i.seq, i.dx, i.dy, i.attack, i.seen, i.shown)), i.bytes, JSON.stringify(i));
  }
});

test("judges room names by the server's rule", () => {
  assert.ok(vectors.roomNames.some((r) => r.valid) && vectors.roomNames.some((r) => !r.valid));
  for (const { name, valid } of vectors.roomNames) {
    assert.equal(validRoomName(name), valid, JSON.stringify(name));
  }
});

test("the game keeps the room its welcome names", () => {
  const game = new Game();
  assert.equal(game.room, null);
  const step = vectors.steps[0];
  game.receive(bytesOf(step.bytes), 0);
  assert.ok(game.welcomed);
  assert.equal(game.room, step.message.room);
  assert.equal(game.room, "arena-2_b");
});

test("a swing hitting two players: each hit flashes once on its target, one ring for the attacker", () => {
  const game = new Game();
  for (const [i, step] of vectors.steps.slice(0, 3).entries()) game.receive(bytesOf(step.bytes), 10 + i);
  // Step 2: ann (1) hits bob (2, us) and cy (7), killing cy.
  const now = game.effects.filter((e) => e.at === 12);
  const kinds = now.map((e) => `${e.kind} ${e.id}`).sort();
  assert.deepEqual(kinds, ["attack 1", "death 7", "hit 2", "hit 7"]);
});

test("your own swing is drawn at the press, once per cooldown; the server's echo adds no second ring", () => {
  const game = new Game();
  game.receive(bytesOf(vectors.steps[0].bytes), 0); // we are bob (2), cooldown 500 ms at 30 Hz
  assert.equal(game.cooldownSeconds(), 0.5);
  game.input(0, 0, true, 1.0);
  game.input(0, 0, true, 1.2); // within the cooldown: the server ignores it; no ring either
  game.input(0, 0, true, 1.5);
  const swings = game.effects.filter((e) => e.kind === "swing").map((e) => e.at);
  assert.deepEqual(swings, [1.0, 1.5]);
  assert.ok(Math.abs(game.cooldownLeft(1.75) - 0.5) < 1e-9, `${game.cooldownLeft(1.75)}`);
  assert.equal(game.cooldownLeft(2.0), 0);
  // As if we were ann: the server's report of our swing flashes the targets, draws no ring.
  game.receive(bytesOf(vectors.steps[1].bytes), 2.0);
  game.playerId = 1;
  game.receive(bytesOf(vectors.steps[2].bytes), 2.1);
  const echo = game.effects.filter((e) => e.at === 2.1).map((e) => `${e.kind} ${e.id}`).sort();
  assert.deepEqual(echo, ["death 7", "hit 2", "hit 7"]);
});
