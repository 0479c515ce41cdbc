// Entry point: wires the canvas, keyboard, connection and game together. Arrow keys (or
// WASD) move, space attacks; while a key is held an input goes out every tick. The link is a
// WebSocket, or HTTP long-polling where one can't open; `?transport=websocket|polling` forces
// one.

import { Connection, type ConnState, transportOf } from "./connection";
import { Game, nowSeconds, performanceNowMs } from "./game";
import { direction } from "./movement";
import { encodeJoin, encodeLeave, encodePing, validRoomName } from "./protocol";
import { draw, drawNotice } from "./render";

const canvas = document.getElementById("map") as HTMLCanvasElement;
const ctx = canvas.getContext("2d") as CanvasRenderingContext2D;
const hud = document.getElementById("hud") as HTMLElement;
const feed = document.getElementById("feed") as HTMLElement;

const params = new URLSearchParams(location.search);
const name = params.get("name") ?? `guest${Math.floor(Math.random() * 1000)}`;
// `?room=NAME` plays in that room, sent again on every reconnect (the resume token brings the
// player back to its own room anyway); without it, quick play: the server picks the room.
const room = params.get("room");
const roomError = room !== null && !validRoomName(room)
  ? `invalid room name ${JSON.stringify(room)}: use 1–32 of A–Z a–z 0–9 - _ (or no ?room= for quick play)`
  : null;
const game = new Game();
let state: ConnState = "connecting";
let stateDetail = "";
const held = new Set<string>();
let attackQueued = false;

const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
const conn = new Connection(url, {
  onOpen(send) {
    send(encodeJoin(name, game.token, room));
  },
  onMessage(bytes) {
    try {
      game.receive(bytes, nowSeconds());
    } catch (e) {
      // Out of step with the server (or a bug): start over with a fresh welcome.
      console.error("frame rejected, reconnecting", e);
      conn.drop();
    }
  },
  onState(s, detail) {
    state = s;
    stateDetail = detail;
  },
}, { transport: transportOf(location.search) });
// The server would refuse the join (1008) and every reconnect after it: say why, and stay off.
if (roomError) {
  state = "closed";
  stateDetail = roomError;
} else {
  conn.start();
}

// The tab is closing or the page is being left: tell the server, so the player leaves at once
// instead of standing idle through the resume grace window. A send from pagehide still goes
// out on an open socket. A lost connection never gets here: it reconnects and resumes.
addEventListener("pagehide", () => {
  if (roomError) return;
  conn.leave(encodeLeave());
  game.token = null; // the server forgets a token on a leave
});
// Shown again from the back/forward cache after that pagehide: the player is gone, so join
// as a new one.
addEventListener("pageshow", (e) => {
  if (e.persisted && !roomError) conn.start();
});

const KEYS: Record<string, string> = {
  ArrowLeft: "left", ArrowRight: "right", ArrowUp: "up", ArrowDown: "down",
  a: "left", d: "right", w: "up", s: "down",
};
addEventListener("keydown", (e) => {
  if (e.key === " ") {
    attackQueued = true;
    e.preventDefault();
  } else if (KEYS[e.key]) {
    held.add(KEYS[e.key]);
    e.preventDefault();
  }
});
addEventListener("keyup", (e) => {
  if (KEYS[e.key]) held.delete(KEYS[e.key]);
});
addEventListener("blur", () => held.clear());

// Inputs at the tick rate, while something is held (or an attack is queued).
let inputTimer: ReturnType<typeof setInterval> | null = null;
function startInputs(rate: number) {
  if (inputTimer) clearInterval(inputTimer);
  inputTimer = setInterval(() => {
    if (!game.welcomed || state !== "open") return;
    const [dx, dy] = direction(held.has("left"), held.has("right"), held.has("up"), held.has("down"));
    if (dx === 0 && dy === 0 && !attackQueued) return;
    conn.send(game.input(dx, dy, attackQueued));
    attackQueued = false;
  }, 1000 / rate);
}
let lastRate = 0;
// A ping every second: its pong keeps a quiet world measurable, and the connection's watchdog
// (no message for 3 s: a dead link) fed.
setInterval(() => conn.send(encodePing(performanceNowMs() >>> 0)), 1000);

function frame() {
  if (game.tickRate !== lastRate) {
    lastRate = game.tickRate;
    startInputs(lastRate);
  }
  const now = nowSeconds();
  const side = Math.min(innerWidth - 24, innerHeight - 90);
  if (canvas.width !== side) canvas.width = canvas.height = Math.max(200, side);
  draw(ctx, game, now);
  if (state === "reconnecting") drawNotice(ctx, "connection lost, reconnecting…");
  const me = game.replica.entities.get(game.playerId);
  hud.textContent = roomError ?? [
    `${state}${stateDetail ? ` (${stateDetail})` : ""}`,
    conn.transport,
    game.room !== null ? `room ${game.room}` : "",
    `RTT ${game.rttMs === null ? "–" : `${game.rttMs.toFixed(0)} ms`}`,
    `${game.tickRate} Hz`,
    `${(game.bytesPerSecond(now) / 1024).toFixed(1)} KiB/s`,
    `${game.replica.entities.size} players`,
    me ? `you: ${me.name} (#${me.id}) ${Math.max(0, me.hp)} hp` : "",
  ].filter(Boolean).join(" · ");
  feed.replaceChildren(...game.killFeed.map((k) => Object.assign(document.createElement("li"), { textContent: k.text })));
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);

// For tests and the curious: the game's state, read-only.
Object.assign(window, {
  skirmish: {
    get playerId() { return game.playerId; },
    get state() { return state; },
    get room() { return game.room; },
    get transport() { return conn.transport; },
    entities: () => game.replica.sorted(),
    feed: () => game.killFeed.map((k) => k.text),
    drop: () => conn.drop(),
  },
});
