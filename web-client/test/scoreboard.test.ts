// The scoreboard: ranked by kills, ties by fewer deaths then the lower id; the top ten, and
// your own row when you are further down; an empty room.
import assert from "node:assert/strict";
import { test } from "node:test";

import { byScore, leadersFor, type Scored, scoreboard, TOP } from "../src/scoreboard";

const p = (id: number, kills: number, deaths = 0, streak = 0): Scored => ({ id, name: `p${id}`, kills, deaths, streak });

test("ranked by kills, most first", () => {
  const b = scoreboard([p(1, 2), p(2, 5), p(3, 0), p(4, 3)], 3);
  assert.deepEqual(b.top.map((r) => [r.rank, r.id]), [[1, 2], [2, 4], [3, 1], [4, 3]]);
  assert.equal(b.players, 4);
  assert.equal(b.you, null, "you are in the top ten: no extra row");
  assert.deepEqual(b.top.filter((r) => r.me).map((r) => r.id), [3]);
});

test("ties: fewer deaths first, then the lower id", () => {
  const b = scoreboard([p(9, 4, 2), p(3, 4, 1), p(5, 4, 2), p(1, 4, 3), p(2, 6, 9)], 0);
  assert.deepEqual(b.top.map((r) => r.id), [2, 3, 5, 9, 1]);
  assert.equal(byScore(p(5, 1, 1), p(5, 1, 1)), 0);
});

test("the rows carry kills, deaths, streak and name", () => {
  const [row] = scoreboard([{ id: 7, name: "ann", kills: 3, deaths: 1, streak: 2 }], 7).top;
  assert.deepEqual(row, { id: 7, name: "ann", kills: 3, deaths: 1, streak: 2, rank: 1, me: true });
});

test("the top ten, and you outside them with your rank", () => {
  const players = Array.from({ length: 25 }, (_, i) => p(i + 1, 30 - i)); // 1 leads, 25 last
  const b = scoreboard(players, 17);
  assert.equal(b.top.length, TOP);
  assert.deepEqual(b.top.map((r) => r.id), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.ok(b.top.every((r) => !r.me));
  assert.deepEqual(b.you && { id: b.you.id, rank: b.you.rank, me: b.you.me }, { id: 17, rank: 17, me: true });
  assert.equal(b.players, 25);
  // Tenth: in the top, no extra row; eleventh: the extra row.
  assert.equal(scoreboard(players, 10).you, null);
  assert.equal(scoreboard(players, 11).you?.rank, 11);
  // A smaller board.
  assert.equal(scoreboard(players, 4, 3).you?.rank, 4);
});

test("an empty room, and a room you are not in", () => {
  assert.deepEqual(scoreboard([], 1), { top: [], you: null, players: 0 });
  const b = scoreboard([p(1, 0), p(2, 0)], 99);
  assert.equal(b.you, null);
  assert.ok(b.top.every((r) => !r.me));
});

test("the input is not reordered", () => {
  const players = [p(1, 0), p(2, 5)];
  scoreboard(players, 1);
  assert.deepEqual(players.map((x) => x.id), [1, 2]);
});

test("ten leaders on a desktop or a phone, fewer (at least 3) on a short canvas", () => {
  assert.equal(leadersFor(552), 10, "800×600");
  assert.equal(leadersFor(769), 10, "390×844 phone");
  assert.equal(leadersFor(1030), 10, "1920×1080");
  assert.equal(leadersFor(305), 4, "480×360");
  assert.equal(leadersFor(100), 3);
  for (let h = 0; h < 2000; h += 7) assert.ok(leadersFor(h) >= 3 && leadersFor(h) <= TOP && leadersFor(h) <= leadersFor(h + 7), `${h}`);
});
