// The connection's two ways of ending a socket: leaving (the page goes away) sends the leave
// message, closes with 1000 and never reconnects; a lost connection sends nothing and comes
// back by itself, so the server can resume the player. And the choice of transport: WebSocket,
// polling after two WebSockets in a row failed to open (closed, or still connecting after
// OPEN_TIMEOUT_MS) on a page where none ever opened, or what `?transport=` forces. Runs
// against a stand-in WebSocket (which stands in for the polling link too).
import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";

import { Connection, type ConnState, OPEN_TIMEOUT_MS, type Options, SILENT_LIMIT_MS, transportOf } from "../src/connection";
import { encodeLeave } from "../src/protocol";

/** Just enough of the browser's WebSocket for Connection, recording what it is asked to do. */
class FakeSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  static made: FakeSocket[] = [];

  readyState = FakeSocket.CONNECTING;
  binaryType = "blob";
  sent: Uint8Array[] = [];
  /** Everything asked of the socket, in order: "send 9103", "close 1000 bye". */
  calls: string[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;

  constructor(readonly url: string) {
    FakeSocket.made.push(this);
  }

  send(bytes: Uint8Array): void {
    if (this.readyState !== FakeSocket.OPEN) throw new Error("send on a socket that is not open");
    this.sent.push(bytes);
    this.calls.push(`send ${Buffer.from(bytes).toString("hex")}`);
  }

  close(code?: number, reason?: string): void {
    this.calls.push(`close ${code} ${reason}`);
    this.readyState = FakeSocket.CLOSING;
  }

  /** The server accepts the connection. */
  accept(): void {
    this.readyState = FakeSocket.OPEN;
    this.onopen?.();
  }

  /** The connection ends (after a close handshake, or because the network failed). */
  closed(code: number, reason = ""): void {
    this.readyState = FakeSocket.CLOSED;
    this.onclose?.({ code, reason });
  }
}

const realWebSocket = globalThis.WebSocket;
let states: [ConnState, string][];
/** The messages handed to the game, as hex. */
let received: string[];

/** A connection whose polling links are FakeSockets too, with the URL "poll". */
function connect(transport: Options["transport"] = null): Connection {
  const conn = new Connection("ws://test/ws", {
    onOpen: (send) => send(Uint8Array.of(0x95, 0x00, 0x03, 0xc0, 0xc0, 0xc0)),
    onMessage: (bytes) => received.push(Buffer.from(bytes).toString("hex")),
    onState: (s, detail) => states.push([s, detail]),
  }, { transport, polling: () => new FakeSocket("poll") });
  conn.start();
  return conn;
}

beforeEach(() => {
  FakeSocket.made = [];
  states = [];
  received = [];
  (globalThis as { WebSocket: unknown }).WebSocket = FakeSocket;
  mock.timers.enable({ apis: ["setTimeout"] });
});

afterEach(() => {
  mock.timers.reset();
  mock.restoreAll();
  (globalThis as { WebSocket: unknown }).WebSocket = realWebSocket;
});

test("leaving sends the leave message, then closes with 1000, and does not come back", () => {
  const conn = connect();
  const ws = FakeSocket.made[0];
  ws.accept();
  conn.leave(encodeLeave());
  assert.deepEqual(ws.calls, ["send 950003c0c0c0", "send 9103", "close 1000 bye"]);
  assert.deepEqual(states.at(-1), ["closed", "stopped"]);
  // The server answers the leave by closing too; nothing reconnects, however long we wait.
  ws.closed(1000, "bye");
  mock.timers.tick(60_000);
  assert.equal(FakeSocket.made.length, 1);
});

test("leaving while not connected closes without sending anything", () => {
  const conn = connect();
  const ws = FakeSocket.made[0];
  conn.leave(encodeLeave());
  assert.deepEqual(ws.calls, ["close 1000 bye"]);
  ws.closed(1006);
  mock.timers.tick(60_000);
  assert.equal(FakeSocket.made.length, 1);
});

test("a lost connection sends no leave and reconnects, so the player can be resumed", () => {
  connect();
  const ws = FakeSocket.made[0];
  ws.accept();
  ws.closed(1006);
  assert.deepEqual(ws.calls, ["send 950003c0c0c0"], "nothing but the join went out");
  assert.equal(states.at(-1)?.[0], "reconnecting");
  mock.timers.tick(1500); // the first retry comes within 1 s ± 50%
  assert.equal(FakeSocket.made.length, 2);
  FakeSocket.made[1].accept();
  assert.deepEqual(FakeSocket.made[1].calls, ["send 950003c0c0c0"], "a join again, no leave");
  assert.equal(states.at(-1)?.[0], "open");
});

test("a connection dropped on purpose (drop) reconnects without a leave too", () => {
  const conn = connect();
  const ws = FakeSocket.made[0];
  ws.accept();
  conn.drop();
  ws.closed(4000, "dropped by client");
  assert.ok(!ws.calls.includes("send 9103"), ws.calls.join(", "));
  mock.timers.tick(1500);
  assert.equal(FakeSocket.made.length, 2);
});

test("a player taken over by another connection (4002) stays closed: no tug of war between tabs", () => {
  connect();
  const ws = FakeSocket.made[0];
  ws.accept();
  ws.closed(4002, "session taken over by a newer connection");
  assert.deepEqual(states.at(-1), ["closed", "4002 session taken over by a newer connection"]);
  mock.timers.tick(60_000);
  assert.equal(FakeSocket.made.length, 1);
});

test("a refused seat (4004) stays closed: the same ticket would be refused again", () => {
  connect();
  const ws = FakeSocket.made[0];
  ws.accept();
  ws.closed(4004, "seat expired");
  assert.deepEqual(states.at(-1), ["closed", "4004 seat expired"]);
  mock.timers.tick(60_000);
  assert.equal(FakeSocket.made.length, 1);
});

test("a connection left for good can be started again (page back from the cache)", () => {
  const conn = connect();
  FakeSocket.made[0].accept();
  conn.leave(encodeLeave());
  FakeSocket.made[0].closed(1000, "bye");
  conn.start();
  assert.equal(FakeSocket.made.length, 2);
  FakeSocket.made[1].accept();
  assert.equal(states.at(-1)?.[0], "open");
});

test("an open socket silent for 2.5 s is taken for dead: dropped at once, and a new one opened", () => {
  connect();
  const ws = FakeSocket.made[0];
  ws.accept();
  mock.timers.tick(SILENT_LIMIT_MS - 1);
  assert.equal(states.at(-1)?.[0], "open");
  assert.deepEqual(ws.calls, ["send 950003c0c0c0"]);
  mock.timers.tick(1);
  assert.equal(ws.calls.at(-1), "close 4000 no message for 2.5 s");
  assert.equal(states.at(-1)?.[0], "reconnecting");
  assert.match(states.at(-1)?.[1] ?? "", /connection lost: no message for 2\.5 s/);
  mock.timers.tick(1500); // the first retry comes within 1 s ± 50%
  assert.equal(FakeSocket.made.length, 2);
  // The dead socket's late messages and close event, whenever the browser gets to them,
  // change nothing (waiting short of the new socket's open timeout, made at 3.5 s to 4.5 s).
  ws.onmessage?.({ data: Uint8Array.of(0x01).buffer });
  assert.deepEqual(received, [], "a message of the dead socket reached the game");
  ws.closed(1006);
  mock.timers.tick(OPEN_TIMEOUT_MS - 1500);
  assert.equal(FakeSocket.made.length, 2);
  assert.deepEqual(FakeSocket.made[1].calls, []);
  FakeSocket.made[1].accept();
  assert.deepEqual(FakeSocket.made[1].calls, ["send 950003c0c0c0"], "a join again, no leave");
});

test("a socket that keeps delivering (frames or pongs) is never taken for dead", () => {
  connect();
  const ws = FakeSocket.made[0];
  ws.accept();
  for (let i = 0; i < 20; i++) {
    mock.timers.tick(SILENT_LIMIT_MS - 500);
    ws.onmessage?.({ data: new ArrayBuffer(2) });
  }
  assert.deepEqual(ws.calls, ["send 950003c0c0c0"]);
  assert.equal(states.at(-1)?.[0], "open");
  assert.equal(FakeSocket.made.length, 1);
});

test("no watchdog runs while stopped or before the socket opens", () => {
  const conn = connect();
  mock.timers.tick(OPEN_TIMEOUT_MS - 1); // connecting, not accepted yet: only the open timeout runs
  assert.deepEqual(FakeSocket.made[0].calls, []);
  assert.equal(FakeSocket.made.length, 1);
  FakeSocket.made[0].accept();
  conn.stop();
  mock.timers.tick(60_000);
  assert.deepEqual(FakeSocket.made[0].calls, ["send 950003c0c0c0", "close 1000 bye"]);
  assert.equal(FakeSocket.made.length, 1);
});

/** The URLs of the links opened so far: "ws://test/ws" for WebSockets, "poll" for polling. */
const urls = () => FakeSocket.made.map((s) => s.url);

test("two WebSockets in a row that close before opening: polling, at once and from then on", () => {
  const conn = connect();
  assert.equal(conn.transport, "websocket");
  FakeSocket.made[0].closed(1006);
  assert.equal(states.at(-1)?.[0], "reconnecting");
  mock.timers.tick(1500);
  assert.deepEqual(urls(), ["ws://test/ws", "ws://test/ws"]);
  FakeSocket.made[1].closed(1006);
  assert.deepEqual(urls(), ["ws://test/ws", "ws://test/ws", "poll"], "polling tried without waiting");
  assert.equal(conn.transport, "polling");
  assert.deepEqual(states.at(-1), ["reconnecting", "closed 1006; WebSocket failed to open 2 times: trying HTTP long-polling"]);
  const poll = FakeSocket.made[2];
  poll.accept();
  assert.deepEqual(poll.calls, ["send 950003c0c0c0"], "the join goes out over polling");
  assert.equal(states.at(-1)?.[0], "open");
  // A lost polling link reconnects (and resumes) over polling, however often it fails.
  poll.closed(1006, "session gone (HTTP 410)");
  assert.equal(states.at(-1)?.[0], "reconnecting");
  for (let i = 3; i < 6; i++) {
    mock.timers.tick(5000);
    assert.equal(FakeSocket.made.length, i + 1);
    FakeSocket.made[i].closed(1006);
  }
  assert.deepEqual(urls().slice(2), ["poll", "poll", "poll", "poll"]);
  assert.equal(conn.transport, "polling");
});

test("a page whose WebSocket opened once never falls back: a server restart is retried over WebSocket, with the backoff", () => {
  const conn = connect();
  FakeSocket.made[0].closed(1006); // one failure to open on a fresh page
  mock.timers.tick(1500);
  FakeSocket.made[1].accept();
  FakeSocket.made[1].onmessage?.({ data: new ArrayBuffer(2) });
  FakeSocket.made[1].closed(1006, "server going away"); // the server restarts
  // While it is down, every WebSocket fails to open, however many in a row: never polling,
  // and never tried at once (the backoff, not the fallback, decides when).
  for (let i = 2; i < 8; i++) {
    assert.equal(FakeSocket.made.length, i, "tried again without waiting");
    assert.match(states.at(-1)?.[1] ?? "", /^closed 1006.*; retry in \d\.\d s$/);
    mock.timers.tick(5000); // the longest wait
    assert.equal(FakeSocket.made.length, i + 1);
    FakeSocket.made[i].closed(1006);
  }
  assert.ok(urls().every((u) => u === "ws://test/ws"), urls().join(", "));
  assert.equal(conn.transport, "websocket");
  // The server is back: the next WebSocket opens, and joins again.
  mock.timers.tick(5000);
  FakeSocket.made[8].accept();
  assert.deepEqual(FakeSocket.made[8].calls, ["send 950003c0c0c0"]);
  assert.equal(states.at(-1)?.[0], "open");
  assert.equal(conn.transport, "websocket");
});

test("a page whose WebSocket opened once keeps it after stop and start too (page back from the cache)", () => {
  const conn = connect();
  FakeSocket.made[0].accept();
  conn.stop();
  conn.start();
  for (let i = 1; i < 4; i++) {
    FakeSocket.made[i].closed(1006);
    mock.timers.tick(5000);
  }
  assert.ok(urls().every((u) => u === "ws://test/ws"), urls().join(", "));
  assert.equal(conn.transport, "websocket");
});

test("a WebSocket still connecting after OPEN_TIMEOUT_MS is closed and counts as a failed open", () => {
  const conn = connect();
  const hung = FakeSocket.made[0];
  mock.timers.tick(OPEN_TIMEOUT_MS - 1);
  assert.deepEqual(hung.calls, []);
  assert.equal(states.at(-1)?.[0], "connecting");
  mock.timers.tick(1);
  assert.deepEqual(hung.calls, [`close 4000 not open after ${OPEN_TIMEOUT_MS / 1000} s`]);
  assert.equal(states.at(-1)?.[0], "reconnecting");
  assert.match(states.at(-1)?.[1] ?? "", /^WebSocket not open after 5 s; retry in \d\.\d s$/);
  assert.equal(FakeSocket.made.length, 1, "retried without waiting");
  mock.timers.tick(1500);
  assert.deepEqual(urls(), ["ws://test/ws", "ws://test/ws"]);
  // The second hangs too: two failed opens in a row on a page where none ever opened.
  mock.timers.tick(OPEN_TIMEOUT_MS);
  assert.equal(FakeSocket.made[1].calls.at(-1), `close 4000 not open after ${OPEN_TIMEOUT_MS / 1000} s`);
  assert.deepEqual(urls(), ["ws://test/ws", "ws://test/ws", "poll"], "polling tried without waiting");
  assert.equal(conn.transport, "polling");
  assert.deepEqual(states.at(-1), ["reconnecting", "WebSocket not open after 5 s; WebSocket failed to open 2 times: trying HTTP long-polling"]);
  FakeSocket.made[2].accept();
  assert.deepEqual(FakeSocket.made[2].calls, ["send 950003c0c0c0"]);
  assert.equal(states.at(-1)?.[0], "open");
});

test("a hung WebSocket and a refused one add up: polling", () => {
  const conn = connect();
  FakeSocket.made[0].closed(1006);
  mock.timers.tick(1500);
  mock.timers.tick(OPEN_TIMEOUT_MS);
  assert.deepEqual(urls(), ["ws://test/ws", "ws://test/ws", "poll"]);
  assert.equal(conn.transport, "polling");
});

test("a hung WebSocket on a page whose WebSocket opened once, or with ?transport=websocket: retried over WebSocket", () => {
  for (const forced of [null, "websocket"] as const) {
    FakeSocket.made = [];
    const conn = connect(forced);
    if (forced === null) {
      FakeSocket.made[0].accept();
      FakeSocket.made[0].closed(1006);
      mock.timers.tick(1500);
    }
    for (let i = 0; i < 4; i++) {
      mock.timers.tick(OPEN_TIMEOUT_MS); // hangs, is given up on ...
      mock.timers.tick(5000); // ... and another is tried
    }
    assert.ok(FakeSocket.made.length >= 5, urls().join(", "));
    assert.ok(urls().every((u) => u === "ws://test/ws"), urls().join(", "));
    assert.equal(conn.transport, "websocket");
    conn.stop();
  }
});

test("the open timeout is each socket's own, from when it was made, and stops when it opens", () => {
  mock.method(Math, "random", () => 0.5); // no jitter: the first retry comes after 1 s exactly
  connect();
  mock.timers.tick(3000);
  FakeSocket.made[0].closed(1006); // fails to open at 3 s; the next is made at 4 s
  mock.timers.tick(1000);
  const next = FakeSocket.made[1];
  mock.timers.tick(OPEN_TIMEOUT_MS - 1); // past the first socket's 5 s, short of the second's 9 s
  assert.deepEqual(next.calls, [], "closed before its own timeout");
  assert.equal(states.at(-1)?.[0], "reconnecting");
  next.accept();
  // Open, and kept busy: never closed by the open timeout, long after it would have fired.
  for (let i = 0; i < 10; i++) {
    mock.timers.tick(SILENT_LIMIT_MS - 500);
    next.onmessage?.({ data: new ArrayBuffer(2) });
  }
  assert.deepEqual(next.calls, ["send 950003c0c0c0"]);
  assert.equal(states.at(-1)?.[0], "open");
  assert.equal(FakeSocket.made.length, 2);
});

test("stopping (or leaving) while a WebSocket connects stops its open timeout", () => {
  const conn = connect();
  mock.timers.tick(1000);
  conn.leave(encodeLeave());
  assert.deepEqual(FakeSocket.made[0].calls, ["close 1000 bye"]);
  mock.timers.tick(60_000);
  assert.equal(FakeSocket.made.length, 1);
  assert.deepEqual(states.at(-1), ["closed", "stopped"]);
  // Started again (page back from the cache), stopped and started at once: the timeout of the
  // socket stopped (due at 1 s from now) is not the new socket's, whose runs in full.
  conn.start();
  mock.timers.tick(OPEN_TIMEOUT_MS - 1000);
  conn.stop();
  conn.start();
  mock.timers.tick(OPEN_TIMEOUT_MS - 1);
  assert.deepEqual(FakeSocket.made[1].calls, ["close 1000 bye"]);
  assert.deepEqual(FakeSocket.made[2].calls, []);
  assert.equal(states.at(-1)?.[0], "connecting");
  FakeSocket.made[2].accept();
  assert.deepEqual(FakeSocket.made[2].calls, ["send 950003c0c0c0"]);
  assert.equal(FakeSocket.made.length, 3);
});

test("a WebSocket given up on is ignored whatever it does later: opens, talks, closes", () => {
  connect();
  const hung = FakeSocket.made[0];
  mock.timers.tick(OPEN_TIMEOUT_MS);
  const seen = states.length;
  // It opens after all (a stand-in that ignores close while connecting, say): no join goes
  // out on it, nothing is reported, and its messages never reach the game.
  hung.accept();
  hung.onmessage?.({ data: Uint8Array.of(0x01, 0x02).buffer });
  assert.deepEqual(hung.calls, [`close 4000 not open after ${OPEN_TIMEOUT_MS / 1000} s`]);
  assert.equal(states.length, seen);
  assert.deepEqual(received, []);
  // No watchdog on it either, and its close changes nothing: one retry, as scheduled.
  hung.closed(1006);
  assert.equal(states.length, seen);
  mock.timers.tick(1500);
  assert.equal(FakeSocket.made.length, 2);
  FakeSocket.made[1].accept();
  FakeSocket.made[1].onmessage?.({ data: Uint8Array.of(0x03).buffer });
  assert.deepEqual(received, ["03"]);
  assert.deepEqual(hung.calls, [`close 4000 not open after ${OPEN_TIMEOUT_MS / 1000} s`]);
  assert.equal(states.at(-1)?.[0], "open");
  assert.equal(FakeSocket.made.length, 2);
});

test("?transport=polling: polling from the first link", () => {
  assert.equal(transportOf("?transport=polling"), "polling");
  const conn = connect(transportOf("?name=one&transport=polling"));
  assert.equal(conn.transport, "polling");
  assert.deepEqual(urls(), ["poll"]);
  FakeSocket.made[0].accept();
  assert.deepEqual(FakeSocket.made[0].calls, ["send 950003c0c0c0"]);
});

test("?transport=websocket: WebSocket however often it fails to open; no (or another) ?transport=: the default", () => {
  assert.equal(transportOf("?transport=websocket&room=alpha"), "websocket");
  assert.equal(transportOf(""), null);
  assert.equal(transportOf("?transport=carrier-pigeon"), null);
  const conn = connect("websocket");
  for (let i = 0; i < 5; i++) {
    FakeSocket.made[i].closed(1006);
    mock.timers.tick(5000);
  }
  assert.equal(FakeSocket.made.length, 6);
  assert.ok(urls().every((u) => u === "ws://test/ws"), urls().join(", "));
  assert.equal(conn.transport, "websocket");
});

test("the backoff starts over once the server said something, not at open (a polling link opens at once)", () => {
  connect("polling");
  // Three links that open and close without a word (the server is down): the waits grow.
  for (let i = 0; i < 2; i++) {
    FakeSocket.made[i].accept();
    FakeSocket.made[i].closed(1006, "network error");
    mock.timers.tick(3000); // attempts 0 and 1: at most 1.5 s and 3 s
    assert.equal(FakeSocket.made.length, i + 2);
  }
  FakeSocket.made[2].accept();
  FakeSocket.made[2].closed(1006, "network error");
  mock.timers.tick(1900); // attempt 2: at least 2 s
  assert.equal(FakeSocket.made.length, 3);
  mock.timers.tick(3100);
  assert.equal(FakeSocket.made.length, 4);
  // One that heard the server: the next wait is the first one's again.
  FakeSocket.made[3].accept();
  FakeSocket.made[3].onmessage?.({ data: new ArrayBuffer(2) });
  FakeSocket.made[3].closed(1006, "network error");
  mock.timers.tick(1500);
  assert.equal(FakeSocket.made.length, 5);
});
