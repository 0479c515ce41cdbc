// The long-polling batch codec against the examples in docs/protocol.md ("HTTP long-polling"),
// and bodies that can't be read: errors as values, never exceptions.
import assert from "node:assert/strict";
import { test } from "node:test";

import { decodeBatch, encodeBatch, MAX_REASON_BYTES } from "../src/batch";
import { encodePing } from "../src/protocol";

const bytes = (spaced: string) => Uint8Array.from(Buffer.from(spaced.replace(/ /g, ""), "hex"));
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** docs/protocol.md: a pong for ping(1000), then the server shutting down. */
const SERVER_EXAMPLE = bytes(
  "00 00 00 05 92 03 cd 03 e8 00 00 00 00 03 e9 73 65 72 76 65 72 20 73 68 75 74 74 69 6e 67 20 64 6f 77 6e",
);
/** docs/protocol.md: a client's input(seq 7, dir (1, 0), attack) and ping(1000). */
const CLIENT_EXAMPLE = bytes(
  "00 00 00 0e 95 01 07 ca 3f 80 00 00 ca 00 00 00 00 c3 00 00 00 05 92 02 cd 03 e8",
);

test("decodes the server example of docs/protocol.md: a pong, then close 1001", () => {
  const batch = decodeBatch(SERVER_EXAMPLE);
  assert.ok(batch.ok);
  assert.deepEqual(batch.messages.map(hex), ["9203cd03e8"]);
  assert.deepEqual(batch.close, { code: 1001, reason: "server shutting down" });
});

test("encodes the client example of docs/protocol.md, and decodes it back", () => {
  // The input as the server's codec writes it: encodeInput would write the whole numbers 1
  // and 0 as integers (which the server reads as the same floats), not as the example's f32s.
  const input = bytes("95 01 07 ca 3f 80 00 00 ca 00 00 00 00 c3");
  const ping = encodePing(1000);
  assert.equal(hex(encodeBatch([input, ping])), hex(CLIENT_EXAMPLE));
  const batch = decodeBatch(CLIENT_EXAMPLE);
  assert.ok(batch.ok);
  assert.deepEqual(batch.messages.map(hex), [hex(input), hex(ping)]);
  assert.equal(batch.close, null);
});

test("the server example encodes to the same bytes", () => {
  const batch = encodeBatch([bytes("92 03 cd 03 e8")], { code: 1001, reason: "server shutting down" });
  assert.equal(hex(batch), hex(SERVER_EXAMPLE));
});

test("an empty body is an empty batch; a close may come alone, with an empty reason", () => {
  assert.deepEqual(decodeBatch(new Uint8Array(0)), { ok: true, messages: [], close: null });
  assert.deepEqual(decodeBatch(bytes("00 00 00 00 0f a2")), { ok: true, messages: [], close: { code: 4002, reason: "" } });
  assert.equal(encodeBatch([]).length, 0);
});

test("decodes a batch inside a larger buffer (a view at an offset)", () => {
  const padded = new Uint8Array(SERVER_EXAMPLE.length + 3);
  padded.set(SERVER_EXAMPLE, 3);
  const batch = decodeBatch(padded.subarray(3));
  assert.ok(batch.ok);
  assert.deepEqual(batch.messages.map(hex), ["9203cd03e8"]);
  assert.equal(batch.close?.code, 1001);
});

test("every truncation of a batch is an error, not an exception", () => {
  // Cut inside the record (not at its end, which is a valid batch of the message alone).
  for (let cut = 1; cut < 9; cut++) {
    const batch = decodeBatch(SERVER_EXAMPLE.subarray(0, cut));
    assert.equal(batch.ok, false, `cut at ${cut}`);
    if (!batch.ok) assert.match(batch.error, /truncated/);
  }
  // The close record's length, or its code, cut short.
  for (let cut = 10; cut < 15; cut++) {
    const batch = decodeBatch(SERVER_EXAMPLE.subarray(0, cut));
    assert.equal(batch.ok, false, `cut at ${cut}`);
  }
  const huge = decodeBatch(bytes("ff ff ff ff 01"));
  assert.equal(huge.ok, false);
  for (let cut = 1; cut < CLIENT_EXAMPLE.length; cut++) {
    if (cut === 18) continue; // the input alone: a valid batch
    assert.equal(decodeBatch(CLIENT_EXAMPLE.subarray(0, cut)).ok, false, `client example cut at ${cut}`);
  }
});

test("a close reason that is not UTF-8 is an error", () => {
  const batch = decodeBatch(bytes("00 00 00 00 03 e8 ff"));
  assert.deepEqual(batch, { ok: false, error: "close reason is not UTF-8" });
});

test("a long reason is cut to 123 bytes at a character boundary", () => {
  const out = encodeBatch([], { code: 1000, reason: "é".repeat(100) });
  const batch = decodeBatch(out);
  assert.ok(batch.ok && batch.close);
  assert.equal(batch.close.reason, "é".repeat(61)); // 122 bytes: 123 would split a character
  assert.ok(new TextEncoder().encode(batch.close.reason).length <= MAX_REASON_BYTES);
});

test("an empty message can't be encoded: it would read as a close", () => {
  assert.throws(() => encodeBatch([new Uint8Array(0)]), RangeError);
});
