// The connection's two ways of ending a socket: leaving (the page goes away) sends the leave
// message, closes with 1000 and never reconnects; a lost connection sends nothing and comes
// back by itself, so the server can resume the player. And the choice of transport: WebSocket,
// polling after two WebSockets in a row failed to open, or what `?transport=` forces. Runs
// against a stand-in WebSocket (which stands in for the polling link too).
import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";

import { Connection, type ConnState, type Options, SILENT_LIMIT_MS, transportOf } from "../src/connection";
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

/** A connection whose polling links are FakeSockets too, with the URL "poll". */
function connect(transport: Options["transport"] = null): Connection {
  const conn = new Connection("ws://test/ws", {
    onOpen: (send) => send(Uint8Array.of(0x95, 0x00, 0x03, 0xc0, 0xc0, 0xc0)),
    onMessage: () => {},
    onState: (s, detail) => states.push([s, detail]),
  }, { transport, polling: () => new FakeSocket("poll") });
  conn.start();
  return conn;
}

beforeEach(() => {
  FakeSocket.made = [];
  states = [];
  (globalThis as { WebSocket: unknown }).WebSocket = FakeSocket;
  mock.timers.enable({ apis: ["setTimeout"] });
});

afterEach(() => {
  mock.timers.reset();
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

test("an open socket silent for 3 s is taken for dead: dropped at once, and a new one opened", () => {
  connect();
  const ws = FakeSocket.made[0];
  ws.accept();
  mock.timers.tick(SILENT_LIMIT_MS - 1);
  assert.equal(states.at(-1)?.[0], "open");
  assert.deepEqual(ws.calls, ["send 950003c0c0c0"]);
  mock.timers.tick(1);
  assert.equal(ws.calls.at(-1), "close 4000 no message for 3 s");
  assert.equal(states.at(-1)?.[0], "reconnecting");
  assert.match(states.at(-1)?.[1] ?? "", /connection lost: no message for 3 s/);
  mock.timers.tick(1500); // the first retry comes within 1 s ± 50%
  assert.equal(FakeSocket.made.length, 2);
  // The dead socket's close event, whenever the browser gets to it, changes nothing.
  ws.closed(1006);
  mock.timers.tick(60_000);
  assert.equal(FakeSocket.made.length, 2);
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
  mock.timers.tick(60_000); // connecting, never accepted: the browser's own timeout applies
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

test("a WebSocket that opens in between starts the count over: no polling", () => {
  const conn = connect();
  FakeSocket.made[0].closed(1006);
  mock.timers.tick(1500);
  FakeSocket.made[1].accept();
  FakeSocket.made[1].closed(1006); // opened, then lost: not a failure to open
  mock.timers.tick(5000);
  FakeSocket.made[2].closed(1006);
  mock.timers.tick(5000);
  assert.deepEqual(urls(), ["ws://test/ws", "ws://test/ws", "ws://test/ws", "ws://test/ws"]);
  assert.equal(conn.transport, "websocket");
  FakeSocket.made[3].closed(1006); // the second failure in a row
  assert.equal(urls().at(-1), "poll");
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
