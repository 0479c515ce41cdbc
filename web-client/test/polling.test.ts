// The long-polling stand-in for a WebSocket against a scripted server (an injected fetch: no
// network): the join and its session id, messages handed over in order, exactly one GET
// waiting, one POST in flight with what is sent meanwhile batched into the next, the server's
// close record, 1006 for a session gone or a failed request, close() aborting everything but a
// keepalive POST of what was still to go (a leave), and a Connection leaving over polling.
import assert from "node:assert/strict";
import { afterEach, mock, test } from "node:test";

import { decodeBatch, encodeBatch } from "../src/batch";
import { Connection } from "../src/connection";
import { type Answer, type Fetch, PollingSocket, RETRY_MS } from "../src/polling";
import { encodeLeave, encodePing } from "../src/protocol";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const bytes = (h: string) => Uint8Array.from(Buffer.from(h.replace(/ /g, ""), "hex"));

const JOIN = bytes("95 00 03 c0 c0 c0");
const SID = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
const SID_HEX = "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf";
const M1 = bytes("92 03 01");
const M2 = bytes("92 03 02");
const M3 = bytes("92 03 03");

/** One request the socket made, answered (or failed) when the test says. */
interface Call {
  method: string;
  url: string;
  init: RequestInit;
  /** The body, in hex ("" for none). */
  body: string;
  /** Not answered, failed nor aborted yet. */
  open: boolean;
  aborted: boolean;
  answer(status: number, body?: Uint8Array): void;
  fail(): void;
}

/** A scripted server: fetch records every request, and the test answers them. */
class FakeServer {
  calls: Call[] = [];

  readonly fetch: Fetch = (url, init) =>
    new Promise<Answer>((resolve, reject) => {
      const body = init.body instanceof Uint8Array ? hex(init.body) : "";
      const call: Call = {
        method: init.method ?? "GET", url, init, body, open: true, aborted: false,
        answer: (status, answerBody = new Uint8Array(0)) => {
          assert.ok(call.open, `answering ${call.method} ${call.url}, which is not waiting`);
          call.open = false;
          resolve({ status, arrayBuffer: async () => answerBody.slice().buffer });
        },
        fail: () => {
          call.open = false;
          reject(new TypeError("Failed to fetch"));
        },
      };
      init.signal?.addEventListener("abort", () => {
        if (!call.open) return;
        call.open = false;
        call.aborted = true;
        reject(new DOMException("The operation was aborted.", "AbortError"));
      });
      this.calls.push(call);
    });

  waiting(method: "GET" | "POST"): Call[] {
    return this.calls.filter((c) => c.open && c.method === method);
  }

  /** The one request of `method` waiting; fails the test if there is not exactly one. */
  only(method: "GET" | "POST"): Call {
    const w = this.waiting(method);
    assert.equal(w.length, 1, `${w.length} ${method}s waiting: ${this.calls.map((c) => `${c.method} ${c.url}`).join(", ")}`);
    return w[0];
  }
}

/** Lets every promise and microtask run (fetch answers, the socket's handling of them). */
const settle = () => new Promise<void>((r) => setImmediate(r));

interface Seen {
  opened: number;
  messages: string[];
  closes: { code: number; reason: string }[];
}

/** A socket on a fake server, joined with the given answer (session id + batch). */
async function joined(answer = concat(SID, encodeBatch([M1, M2]))): Promise<{ s: PollingSocket; server: FakeServer; seen: Seen }> {
  const server = new FakeServer();
  const s = new PollingSocket("/poll", server.fetch);
  const seen: Seen = { opened: 0, messages: [], closes: [] };
  s.onopen = () => seen.opened++;
  s.onmessage = (ev) => {
    assert.ok(ev.data instanceof ArrayBuffer, "messages come as ArrayBuffers");
    seen.messages.push(hex(new Uint8Array(ev.data)));
  };
  s.onclose = (ev) => seen.closes.push({ code: ev.code, reason: ev.reason });
  await settle();
  s.send(JOIN);
  server.only("POST").answer(200, answer);
  await settle();
  return { s, server, seen };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

/** The messages of a POST's batch, in hex. */
function posted(call: Call): string[] {
  const batch = decodeBatch(bytes(call.body));
  assert.ok(batch.ok && batch.close === null, `not a batch of messages: ${call.body}`);
  return batch.messages.map(hex);
}

afterEach(() => mock.timers.reset());

test("opens at once; the first message is the join, POSTed raw to /poll as octet-stream, not cached", async () => {
  const server = new FakeServer();
  const s = new PollingSocket("/poll", server.fetch);
  assert.equal(s.readyState, 0);
  assert.throws(() => s.send(JOIN), "no send before open, as a WebSocket");
  let opened = false;
  s.onopen = () => (opened = true);
  await settle();
  assert.ok(opened);
  assert.equal(s.readyState, 1);
  assert.equal(server.calls.length, 0, "nothing asked before the join");
  s.send(JOIN);
  const join = server.only("POST");
  assert.equal(join.url, "/poll");
  assert.equal(join.body, hex(JOIN), "the join itself, not in a batch");
  assert.equal(join.init.cache, "no-store");
  assert.deepEqual(join.init.headers, { "Content-Type": "application/octet-stream" });
  assert.ok(join.init.signal, "abortable");
});

test("the join's answer: session id, then its messages in order; then GETs, exactly one waiting", async () => {
  const { server, seen } = await joined();
  assert.deepEqual(seen.messages, [hex(M1), hex(M2)]);
  const get = server.only("GET");
  assert.equal(get.url, `/poll/${SID_HEX}`);
  assert.equal(get.init.cache, "no-store");
  assert.equal(get.init.body, undefined);

  get.answer(200, encodeBatch([M3]));
  await settle();
  assert.deepEqual(seen.messages, [hex(M1), hex(M2), hex(M3)]);
  // An empty batch (the server's 25 s timeout) delivers nothing, and the next GET goes out.
  server.only("GET").answer(200, new Uint8Array(0));
  await settle();
  assert.equal(seen.messages.length, 3);
  for (let i = 0; i < 5; i++) {
    server.only("GET").answer(200, encodeBatch([M1, M2]));
    await settle();
    server.only("GET");
  }
  assert.equal(seen.messages.length, 13);
  assert.equal(server.calls.filter((c) => c.method === "GET").length, 8);
  assert.deepEqual(seen.closes, []);
});

test("the next GET goes out as soon as the last answered, before its messages are handed over", async () => {
  const { s, server } = await joined();
  let waitingWhenHandled = -1;
  s.onmessage = () => (waitingWhenHandled = server.waiting("GET").length);
  server.only("GET").answer(200, encodeBatch([M3]));
  await settle();
  assert.equal(waitingWhenHandled, 1);
});

test("one POST in flight at most: what is sent meanwhile goes in the next, in order", async () => {
  const { s, server } = await joined();
  const ping = (t: number) => encodePing(t);
  s.send(ping(1));
  await settle();
  const first = server.only("POST");
  assert.equal(first.url, `/poll/${SID_HEX}`);
  assert.deepEqual(first.init.headers, { "Content-Type": "application/octet-stream" });
  assert.equal(first.init.cache, "no-store");
  assert.deepEqual(posted(first), [hex(ping(1))]);
  s.send(ping(2));
  s.send(ping(3));
  await settle();
  s.send(ping(4));
  await settle();
  assert.equal(server.only("POST"), first, "no second POST while one is in flight");
  first.answer(204);
  await settle();
  const second = server.only("POST");
  assert.deepEqual(posted(second), [hex(ping(2)), hex(ping(3)), hex(ping(4))]);
  second.answer(204);
  await settle();
  assert.equal(server.waiting("POST").length, 0, "nothing more to send");
  assert.equal(server.calls.filter((c) => c.method === "POST").length, 3, "the join and two batches");
  // Sends in one turn share a POST.
  s.send(ping(5));
  s.send(ping(6));
  await settle();
  assert.deepEqual(posted(server.only("POST")), [hex(ping(5)), hex(ping(6))]);
});

test("what is sent before the join answered goes in the first POST after it", async () => {
  const server = new FakeServer();
  const s = new PollingSocket("/poll", server.fetch);
  await settle();
  s.send(JOIN);
  s.send(M1);
  s.send(M2);
  await settle();
  const join = server.only("POST");
  assert.equal(join.url, "/poll");
  join.answer(200, concat(SID, encodeBatch([M3])));
  await settle();
  assert.deepEqual(posted(server.only("POST")), [hex(M1), hex(M2)]);
});

test("a close record: the messages before it, then onclose with its code and reason; nothing more asked", async () => {
  const { s, server, seen } = await joined();
  s.send(M3);
  await settle();
  const post = server.only("POST");
  // docs/protocol.md's example: a pong, then the server shutting down.
  server.only("GET").answer(200, bytes("00 00 00 05 92 03 cd 03 e8 00 00 00 00 03 e9 73 65 72 76 65 72 20 73 68 75 74 74 69 6e 67 20 64 6f 77 6e"));
  await settle();
  assert.deepEqual(seen.messages.at(-1), "9203cd03e8");
  assert.deepEqual(seen.closes, [{ code: 1001, reason: "server shutting down" }]);
  assert.equal(s.readyState, 3);
  assert.equal(server.waiting("GET").length, 0, "no GET after the close");
  assert.ok(post.aborted, "the POST in flight is aborted");
  s.send(M1);
  await settle();
  assert.equal(server.waiting("POST").length, 0, "a send after the close goes nowhere");
});

test("a refused join (a close record in its answer) closes with the server's code", async () => {
  const { s, server, seen } = await joined(concat(SID, encodeBatch([], { code: 4001, reason: "protocol version 2 not supported" })));
  assert.deepEqual(seen.closes, [{ code: 4001, reason: "protocol version 2 not supported" }]);
  assert.equal(s.readyState, 3);
  assert.equal(server.calls.length, 1, "no GET");
});

for (const [what, status] of [["410 (the session ended)", 410], ["404 (an unknown session)", 404], ["503", 503]] as const) {
  test(`a GET answered ${what} closes with 1006, so the connection reconnects`, async () => {
    const { s, server, seen } = await joined();
    server.only("GET").answer(status, new TextEncoder().encode("4003 connection lost"));
    await settle();
    assert.equal(seen.closes.length, 1);
    assert.equal(seen.closes[0].code, 1006);
    assert.match(seen.closes[0].reason, new RegExp(`HTTP ${status}`));
    assert.equal(s.readyState, 3);
    assert.equal(server.waiting("GET").length, 0);
  });
}

test("a POST answered 410 closes with 1006, and the waiting GET is aborted", async () => {
  const { s, server, seen } = await joined();
  const get = server.only("GET");
  s.send(M1);
  await settle();
  server.only("POST").answer(410);
  await settle();
  assert.deepEqual(seen.closes.map((c) => c.code), [1006]);
  assert.ok(get.aborted);
});

test("a POST refused otherwise (413) loses that batch only; the session goes on", async () => {
  const { s, server, seen } = await joined();
  s.send(M1);
  await settle();
  const refused = server.only("POST");
  s.send(M2);
  refused.answer(413);
  await settle();
  assert.deepEqual(posted(server.only("POST")), [hex(M2)]);
  assert.deepEqual(seen.closes, []);
});

test("a failed request (the network) closes with 1006", async () => {
  const { server, seen } = await joined();
  server.only("GET").fail();
  await settle();
  assert.deepEqual(seen.closes, [{ code: 1006, reason: "network error" }]);
  assert.equal(server.calls.filter((c) => c.open).length, 0);
});

test("a join answered other than 200 (or failing) closes with 1006", async () => {
  for (const fails of [false, true]) {
    const server = new FakeServer();
    const s = new PollingSocket("/poll", server.fetch);
    const closes: number[] = [];
    s.onclose = (ev) => closes.push(ev.code);
    await settle();
    s.send(JOIN);
    if (fails) server.only("POST").fail();
    else server.only("POST").answer(503);
    await settle();
    assert.deepEqual(closes, [1006]);
    assert.equal(server.calls.length, 1);
  }
});

test("a body that is not a batch closes with 1006, without an exception", async () => {
  const { server, seen } = await joined();
  server.only("GET").answer(200, bytes("00 00 00 09 92 03"));
  await settle();
  assert.equal(seen.closes.length, 1);
  assert.equal(seen.closes[0].code, 1006);
  assert.match(seen.closes[0].reason, /truncated/);
  // A join answer too short for a session id.
  const short = await joined(bytes("01 02 03"));
  assert.deepEqual(short.seen.closes.map((c) => c.code), [1006]);
});

test("a handler that closes the socket stops the rest of the batch", async () => {
  const { s, server, seen } = await joined();
  s.onmessage = (ev) => {
    seen.messages.push(hex(new Uint8Array(ev.data as ArrayBuffer)));
    s.close(4000, "dropped by client");
  };
  server.only("GET").answer(200, encodeBatch([M1, M2, M3]));
  await settle();
  assert.deepEqual(seen.messages.slice(2), [hex(M1)]);
  assert.deepEqual(seen.closes, [{ code: 4000, reason: "dropped by client" }]);
  assert.equal(server.calls.filter((c) => c.open).length, 0, "the next GET is aborted");
});

test("a 429 on a GET: asked again after a short wait", async () => {
  const { server, seen } = await joined();
  mock.timers.enable({ apis: ["setTimeout"] });
  server.only("GET").answer(429);
  await settle();
  assert.equal(server.waiting("GET").length, 0);
  mock.timers.tick(RETRY_MS);
  server.only("GET");
  assert.deepEqual(seen.closes, []);
});

test("close() aborts every request; what was still to go leaves in a keepalive POST (the leave on pagehide)", async () => {
  const { s, server, seen } = await joined();
  const get = server.only("GET");
  s.send(M1);
  await settle();
  const inFlight = server.only("POST");
  s.send(encodeLeave());
  s.close(1000, "bye");
  assert.ok(get.aborted && inFlight.aborted);
  const last = server.calls.at(-1)!;
  assert.equal(last.method, "POST");
  assert.equal(last.url, `/poll/${SID_HEX}`);
  assert.deepEqual(posted(last), ["9103"]);
  assert.equal(last.init.keepalive, true, "outlives the page");
  assert.equal(last.init.signal, undefined, "never aborted");
  await settle();
  assert.deepEqual(seen.closes, [{ code: 1000, reason: "bye" }]);
  assert.equal(server.calls.filter((c) => c.open).length, 1, "only the keepalive POST is left");
  // A leave with no POST in flight goes out the same way, once.
  const quiet = await joined();
  quiet.s.send(encodeLeave());
  quiet.s.close(1000, "bye");
  await settle();
  const posts = quiet.server.calls.filter((c) => c.method === "POST" && c.url !== "/poll");
  assert.equal(posts.length, 1);
  assert.deepEqual(posted(posts[0]), ["9103"]);
  assert.equal(posts[0].init.keepalive, true);
});

test("close() with nothing to send sends nothing; onclose comes after the call, once", async () => {
  const { s, server, seen } = await joined();
  const before = server.calls.length;
  s.close(4000, "dropped by client");
  assert.deepEqual(seen.closes, [], "not from inside close()");
  s.close(1000, "bye");
  await settle();
  assert.deepEqual(seen.closes, [{ code: 4000, reason: "dropped by client" }]);
  assert.equal(server.calls.length, before);
});

test("a Connection on polling: joins, plays, and its leave gets out in a keepalive POST", async () => {
  const server = new FakeServer();
  const received: string[] = [];
  const conn = new Connection("ws://test/ws", {
    onOpen: (send) => send(JOIN),
    onMessage: (b) => received.push(hex(b)),
    onState: () => {},
  }, { transport: "polling", polling: () => new PollingSocket("/poll", server.fetch) });
  conn.start();
  assert.equal(conn.transport, "polling");
  await settle();
  server.only("POST").answer(200, concat(SID, encodeBatch([M1])));
  await settle();
  assert.deepEqual(received, [hex(M1)]);
  conn.send(M2);
  await settle();
  assert.deepEqual(posted(server.only("POST")), [hex(M2)]);
  conn.leave(encodeLeave());
  const last = server.calls.at(-1)!;
  assert.deepEqual(posted(last), ["9103"]);
  assert.equal(last.init.keepalive, true);
  assert.equal(server.calls.filter((c) => c.open).length, 1, "everything else aborted");
});
