// Entry point: wires the canvas, the start screen, the controls, the connection and the game
// together. The start screen (start-screen.ts) asks for a name and a room; only Play connects,
// unless the URL or this tab says to start at once (launch.ts: `?name=`, `?autoplay=1`, or a
// resume token kept by a reload). Arrow keys or WASD by physical key (keys.ts) or the touch
// stick and button (touch.ts) move and attack, through one Controls; while something is held an
// input goes out every tick. The link is a WebSocket, or HTTP long-polling where one can't
// open; `?transport=websocket|polling` forces one. The resume token lives in sessionStorage
// (storage.ts), so a reload of the tab joins with it and gets the same player back. The canvas
// fills the window below the HUD, its backing store sized for devicePixelRatio; render.ts draws
// the world through a camera following your player; panels.ts keeps the scoreboard (Tab folds
// it), the kill feed and the death banner over it.

import { type Banner, bannerOf } from "./banner";
import { Connection, type ConnState, transportOf } from "./connection";
import { Controls } from "./controls";
import { byId } from "./dom";
import { shownFeed } from "./feed";
import { Game, nowSeconds, performanceNowMs } from "./game";
import { hudText } from "./hud";
import { InputClock } from "./input-clock";
import { launchOf, roomProblem } from "./launch";
import { minimapRect } from "./minimap";
import { Panels } from "./panels";
import { encodeJoin, encodeLeave, encodePing } from "./protocol";
import { Renderer } from "./render";
import { leadersFor, scoreboard } from "./scoreboard";
import { phaseShift } from "./send-phase";
import { type Choice, StartScreen } from "./start-screen";
import { Memory } from "./storage";
import { isTouchDevice, TouchControls } from "./touch";

const canvas = byId(document, "map", HTMLCanvasElement);
const ctx = canvas.getContext("2d") as CanvasRenderingContext2D;
const hud = byId(document, "hud", HTMLElement);
const panels = new Panels(document);
const renderer = new Renderer();
const leaveButton = byId(document, "leave", HTMLButtonElement);

const memory = Memory.ofPage();
const params = new URLSearchParams(location.search);
const launch = launchOf(location.search, { name: memory.name, room: memory.room, token: memory.token !== null });
/** A matchmaker's seat ticket (`?seat=`), sent with every join; a server run with a join
 * secret admits only joins with a valid one. */
const seat = params.get("seat");
const touchAsked = params.get("touch");
const touchOn = touchAsked === null ? isTouchDevice() : touchAsked !== "0";
document.body.classList.toggle("touch", touchOn); // the panels make room for the controls
byId(document, "help-keys", HTMLElement).hidden = touchOn;
byId(document, "help-touch", HTMLElement).hidden = !touchOn;

let game = new Game();
game.token = memory.token;
/** The token last written to sessionStorage (compared by identity: each welcome brings one). */
let savedToken = game.token;
/** "menu": the start screen, before Play (or after leaving). */
let state: ConnState | "menu" = "menu";
let stateDetail = "";
/** Shown in the HUD instead of the state (a ?room= the server would refuse). */
let notice: string | null = null;
/** Play was pressed (or autoplay) and the player has not left. */
let playing = false;
/** What the join asks for: a name (null: the server names the player), a room (null: quick
 * play). Sent again on every reconnect; the resume token brings the player back to its own
 * room anyway. */
let joinName: string | null = null;
let joinRoom: string | null = null;
const controls = new Controls();

const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
const ping = () => encodePing(performanceNowMs() >>> 0);
const conn = new Connection(url, {
  onOpen(send) {
    send(encodeJoin(joinName, game.token, joinRoom, seat));
    send(ping()); // the RTT at once, not a second later
  },
  onMessage(bytes) {
    if (!playing) return; // late words for a player that left
    try {
      game.receive(bytes, nowSeconds());
    } catch (e) {
      // Out of step with the server (or a bug): start over with a fresh welcome.
      console.error("frame rejected, reconnecting", e);
      conn.drop();
    }
    keepToken();
  },
  onState(s, detail) {
    state = s;
    stateDetail = detail;
  },
}, { transport: transportOf(location.search) });

/** Remembers the welcome's token for a reload: the same one on a resume, a new one (replacing
 * the old) for a new player. */
function keepToken(): void {
  if (game.token === savedToken) return;
  savedToken = game.token;
  memory.token = game.token;
}

const touch = new TouchControls(document, controls);
const start = new StartScreen(document, (choice) => {
  memory.name = choice.name || null;
  play(choice);
}, !touchOn);

/** Connects and joins as `choice` says. */
function play(choice: Choice): void {
  joinName = choice.name || null;
  joinRoom = choice.room || null;
  memory.room = joinRoom;
  playing = true;
  notice = null;
  start.hide();
  touch.show(touchOn);
  leaveButton.hidden = false;
  if (document.activeElement instanceof HTMLElement) document.activeElement.blur(); // keys to the game
  conn.start();
}

/** Leaves for good (the leave button): the server drops the player, this tab forgets it, and
 * the start screen comes back. */
function leave(): void {
  if (!playing) return;
  conn.leave(encodeLeave());
  playing = false;
  memory.token = null;
  game = new Game();
  savedToken = null;
  state = "menu";
  stateDetail = "";
  controls.clear();
  touch.show(false);
  leaveButton.hidden = true;
  start.show({ name: joinName ?? "", room: joinRoom ?? "" });
}
leaveButton.addEventListener("click", () => {
  leaveButton.blur(); // a later space attacks instead of pressing it again
  leave();
});

// The server would refuse a ?room= that breaks the naming rule (1008), and every reconnect
// after it: say why in the HUD and on the start screen, and open no socket.
const urlProblem = roomProblem(launch.room, "no ?room=");
if (launch.autoplay && !urlProblem) {
  play({ name: launch.name, room: launch.room });
} else {
  if (launch.autoplay && urlProblem) {
    state = "closed";
    notice = urlProblem;
  }
  start.show({ name: launch.name, room: launch.room }, roomProblem(launch.room));
}

// The tab is closing, reloading or the page is being left: tell the server, so the player
// leaves at once instead of standing idle through the resume grace window (a reload's join
// presents the token kept in sessionStorage within the server's short leave grace, and gets
// the player back). A send from pagehide still goes out on an open socket. A lost connection
// never gets here: it reconnects and resumes.
addEventListener("pagehide", () => {
  if (playing) conn.leave(encodeLeave());
});
// Shown again from the back/forward cache after that pagehide: join again, with the token
// (the server resumes the player if it is still within its grace, else makes a new one).
addEventListener("pageshow", (e) => {
  if (e.persisted && playing) conn.start();
});

// Keys, by physical key: held ones are tracked by code, so Shift or Caps Lock changing the
// key's value between press and release leaves nothing held. Keys typed into a form, or with
// Ctrl/Alt/Meta (browser shortcuts), are not the game's.
addEventListener("keydown", (e) => {
  if (!playing || e.ctrlKey || e.altKey || e.metaKey || typing(e.target)) return;
  if (e.code === "Tab") {
    // Folds the scoreboard (and moves no focus: there is nothing else to focus in a game).
    e.preventDefault();
    if (!e.repeat) panels.toggleScores();
    return;
  }
  if (controls.keyDown(e.code, e.key)) e.preventDefault();
});
addEventListener("keyup", (e) => controls.keyUp(e.code, e.key));
// Key-ups that happen elsewhere never come: let go of everything when the page loses focus
// or is hidden.
function letGo(): void {
  controls.clear();
  touch.reset();
}
addEventListener("blur", letGo);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") letGo();
});

function typing(target: EventTarget | null): boolean {
  return (
    target instanceof HTMLInputElement ||
    target instanceof HTMLTextAreaElement ||
    target instanceof HTMLSelectElement ||
    (target instanceof HTMLElement && target.isContentEditable)
  );
}

// Inputs at the tick rate, while something is held (or an attack is queued): one per tick on
// the page's clock, the missed ones too when a busy page's timer fires late (input-clock.ts).
// The timer's phase follows the server's word on when the inputs arrive (send-phase.ts).
let inputTimer: ReturnType<typeof setTimeout> | null = null;
function startInputs(rate: number) {
  if (inputTimer) clearTimeout(inputTimer);
  const clock = new InputClock(1000 / rate, performance.now());
  const tick = () => {
    const due = clock.due(performance.now());
    if (due > 0 && playing && game.welcomed && state === "open") {
      const intent = controls.take();
      if (intent) {
        conn.send(game.input(intent.dx, intent.dy, intent.attack));
        // The ticks this page's timer missed: the same direction, no second attack.
        const moving = intent.dx !== 0 || intent.dy !== 0;
        for (let i = 1; moving && i < due; i++) conn.send(game.input(intent.dx, intent.dy, false));
      }
      if (game.inputTiming) {
        clock.shift(phaseShift(game.inputTiming));
        game.inputTiming = null;
      }
    }
    inputTimer = setTimeout(tick, clock.wait(performance.now()));
  };
  inputTimer = setTimeout(tick, clock.wait(performance.now()));
}
let lastRate = 0;
/** The banner of the last frame (your death, your respawn). */
let banner: Banner | null = null;
// A ping every second (and one at each open): its pong keeps a quiet world measurable, and the
// connection's watchdog (no message for 3 s: a dead link) fed.
setInterval(() => conn.send(ping()), 1000);

function frame() {
  if (game.tickRate !== lastRate) {
    lastRate = game.tickRate;
    startInputs(lastRate);
  }
  const now = nowSeconds();
  // The canvas fills #wrap (CSS); its backing store is that many device pixels.
  const width = Math.max(1, canvas.clientWidth);
  const height = Math.max(1, canvas.clientHeight);
  const dpr = devicePixelRatio > 0 ? devicePixelRatio : 1;
  const bw = Math.round(width * dpr);
  const bh = Math.round(height * dpr);
  if (canvas.width !== bw || canvas.height !== bh) {
    canvas.width = bw;
    canvas.height = bh;
  }
  const inGame = playing && game.welcomed;
  const me = game.replica.entities.get(game.playerId);
  panels.scores(inGame ? scoreboard(game.replica.entities.values(), game.playerId, leadersFor(height)) : null);
  const rules = game.rules;
  const mini = rules ? minimapRect({ width, height }, { width: rules.map_width, height: rules.map_height }) : null;
  panels.feed(shownFeed(game.killFeed, now), mini ? mini.y + mini.h + 8 : 8);
  renderer.draw(ctx, game, now, { width, height, dpr, attacking: controls.attacking(), covered: panels.covered(canvas) });
  panels.fadeOver(renderer.mine, canvas);
  banner = inGame ? bannerOf({
    hp: me?.hp ?? null,
    death: game.death,
    respawnedAt: game.respawnedAt,
    respawnDelayMs: rules?.respawn_delay_ms ?? 0,
  }, now) : null;
  const mine = renderer.mine;
  panels.banner(banner, mine !== null && mine.y + mine.h / 2 < height / 2);
  if (state === "reconnecting") renderer.notice(ctx, "connection lost, reconnecting…");
  hud.textContent = notice ?? hudText({
    state,
    detail: stateDetail,
    transport: conn.transport,
    room: game.room,
    rttMs: game.rttMs,
    tickRate: game.tickRate,
    bytesPerSecond: game.bytesPerSecond(now),
    players: game.replica.entities.size,
    me: me ?? null,
  });
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
    /** Whether the game is on (false on the start screen). */
    get playing() { return playing; },
    entities: () => game.replica.sorted(),
    /** The feed's recent entries (shown or already expired), oldest first. */
    feed: () => game.killFeed.map((k) => k.text),
    /** The feed as shown now: text, whether it involves you, opacity. */
    feedShown: () => shownFeed(game.killFeed, nowSeconds()).map((s) => ({ text: s.entry.text, mine: s.entry.mine, opacity: s.opacity })),
    /** The last frame's camera: `scale` (CSS px per map unit), `square` (your square's side,
     * CSS px), `camera` (the map point at the middle, units), `canvas` (CSS px), `dpr` and
     * `backing` (the canvas's size in device px); null before the welcome. */
    view: () => renderer.view && { ...renderer.view, backing: { width: canvas.width, height: canvas.height } },
    /** The last frame's name labels (CSS px from the canvas's top-left) and the canvas's CSS size. */
    labels: () => ({ canvas: { width: canvas.clientWidth, height: canvas.clientHeight }, labels: renderer.labels.map((l) => ({ ...l })) }),
    /** The scoreboard as shown: the leaders (ten, fewer on a short canvas) and your row when
     * you are not among them. */
    scores: () => scoreboard(game.replica.entities.values(), game.playerId, leadersFor(canvas.clientHeight)),
    /** The banner shown: its kind ("dead", "respawned"), title ("killed by NAME") and detail
     * ("respawning in 2…"), or null. */
    banner: () => banner && { ...banner },
    drop: () => conn.drop(),
    /** The last frame as drawn: its time (seconds, performance.now), each player's drawn
     * position (subunits) and the notice over the canvas (null if none). */
    drawn: () => renderer.drawn,
  },
});
