// The HUD line, and the rooms the start screen suggests.
import assert from "node:assert/strict";
import { test } from "node:test";

import { count, type HudInfo, hudText, stateText } from "../src/hud";
import { roomsOf } from "../src/rooms";

const playing: HudInfo = {
  state: "open", detail: "", transport: "websocket", room: "arena", rttMs: 23.4, tickRate: 30,
  bytesPerSecond: 2048, players: 3, me: { id: 7, name: "one 2", hp: 90 },
};

test("1 player, N players", () => {
  assert.equal(count(0, "player"), "0 players");
  assert.equal(count(1, "player"), "1 player");
  assert.equal(count(2, "player"), "2 players");
  assert.equal(hudText({ ...playing, players: 1 }).endsWith(" · 1 player"), true);
  assert.equal(hudText({ ...playing, players: 12 }).endsWith(" · 12 players"), true);
});

test("the HUD names you as the server does, then the link, room, RTT and rates", () => {
  assert.equal(
    hudText(playing),
    "you: one 2 (#7) 90 hp · open · websocket · room arena · RTT 23 ms · 30 Hz · 2.0 KiB/s · 3 players",
  );
});

test("before a pong, RTT –; before the welcome, no room and no you", () => {
  assert.equal(
    hudText({ ...playing, state: "connecting", room: null, rttMs: null, me: null, players: 0, bytesPerSecond: 0 }),
    "connecting · websocket · RTT – · 30 Hz · 0.0 KiB/s · 0 players",
  );
});

test("a dead player shows 0 hp, not less", () => {
  assert.match(hudText({ ...playing, me: { id: 7, name: "one", hp: -5 } }), /^you: one \(#7\) 0 hp · /);
});

test("the state says why; a player taken over by another tab says so", () => {
  assert.equal(stateText("reconnecting", "closed 1006; retry in 1.2 s"), "reconnecting (closed 1006; retry in 1.2 s)");
  assert.equal(stateText("closed", "4002 session taken over by a newer connection"), "closed: this player is now playing in another tab");
  assert.equal(hudText({ ...playing, state: "menu" }), "choose a name and a room, then Play");
  assert.equal(stateText("closed", "4004 seat expired"), "closed: seat expired (ask for a new link to join)");
});

test("rooms to suggest: joinable ones, fullest first, malformed ones skipped", () => {
  const json = [
    { id: "quiet", players: 1, cap: 100 },
    { id: "busy", players: 40, cap: 100 },
    { id: "full", players: 100, cap: 100 },
    { id: "bad name", players: 2, cap: 100 },
    { id: "alpha", players: 1, cap: 100 },
    { id: 5, players: 1, cap: 100 },
    { id: "nocap", players: 1 },
    null,
    "arena",
  ];
  assert.deepEqual(roomsOf(json).map((r) => r.id), ["busy", "alpha", "quiet"]);
  assert.deepEqual(roomsOf({ rooms: [] }), []);
  assert.deepEqual(roomsOf(null), []);
});
