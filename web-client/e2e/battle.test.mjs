// End to end in real headless Chromium (Debian's, at /usr/bin/chromium, installed by
// scripts/install-chromium.sh): the real server on 127.0.0.1:0 serving the built client,
// two players in two pages. Page 1 holds an arrow key and page 2 sees it move; back in range,
// page 2 presses space and both pages show page 1's player at 90 hp; page 1's connection is
// cut and it comes back as the same player with the same hp. Then rooms: two pages in room
// "alpha" see each other and not a third in room "beta", nor it them; and a page whose
// ?room= breaks the naming rule says so and opens no socket. Screenshots go to artifacts/.
// Every wait is bounded and says what it waited for.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { test } from "node:test";

import { artifacts, hudSays, serverAndBrowser, WAIT_MS, waitFor } from "./helpers.mjs";

let browser;
let base;

const entity = (id) => window.skirmish.entities().find((e) => e.id === id);
/** In the page: the names of the players it sees, sorted and joined by commas. */
const names = () => window.skirmish.entities().map((e) => e.name).sort().join(",");

serverAndBrowser((up) => ({ browser, base } = up));

test("two players in two browsers: move, attack, see it in both, reconnect as the same player", async () => {
  const one = await (await browser.newContext()).newPage();
  const two = await (await browser.newContext()).newPage();
  await one.goto(`${base}?name=one`);
  await two.goto(`${base}?name=two`);
  await waitFor(one, "page 1's welcome", () => window.skirmish.playerId > 0);
  await waitFor(two, "page 2's welcome", () => window.skirmish.playerId > 0);
  const id1 = await one.evaluate(() => window.skirmish.playerId);
  const id2 = await two.evaluate(() => window.skirmish.playerId);
  assert.notEqual(id1, id2);
  await waitFor(one, "page 1 to see both players", () => window.skirmish.entities().length === 2);
  // No ?room=: quick play, which puts both in the one open quick-play room, and says which.
  const room = await one.evaluate(() => window.skirmish.room);
  assert.ok(typeof room === "string" && room.length > 0, `quick play named no room: ${room}`);
  assert.equal(await two.evaluate(() => window.skirmish.room), room, "quick play put both players in one room");
  await one.bringToFront(); // the HUD is painted on animation frames
  await waitFor(one, `page 1's HUD to name room ${room}`, hudSays, `room ${room}`);

  // Hold the down arrow in page 1: page 2 sees page 1's player move.
  await one.bringToFront();
  await one.keyboard.down("ArrowDown");
  await waitFor(two, "page 2 to see player 1 move down", (id) => (window.skirmish.entities().find((e) => e.id === id)?.y ?? 0) >= 80, id1);
  await one.keyboard.up("ArrowDown");

  // Hold the up arrow until clamped at the top: both players at (0, 0) again, in range.
  await one.keyboard.down("ArrowUp");
  await waitFor(two, "page 2 to see player 1 back at the top", (id) => window.skirmish.entities().find((e) => e.id === id)?.y === 0, id1);
  await one.keyboard.up("ArrowUp");
  await waitFor(one, "page 1 to agree it is at the top", (id) => window.skirmish.entities().find((e) => e.id === id)?.y === 0, id1);

  // Space in page 2: player 1 is hit, and both pages show 90 hp.
  await two.bringToFront();
  await two.keyboard.press("Space");
  await waitFor(one, "page 1 to show its player at 90 hp", (id) => window.skirmish.entities().find((e) => e.id === id)?.hp === 90, id1);
  await waitFor(two, "page 2 to show player 1 at 90 hp", (id) => window.skirmish.entities().find((e) => e.id === id)?.hp === 90, id1);
  assert.equal(await two.evaluate(entity, id2).then((e) => e.hp), 100, "the attacker is not hit");

  // Cut page 1's connection: it reconnects by itself, presents its token, and gets the same
  // player back (id and hp) without a reload; page 2 never sees it leave.
  await one.evaluate(() => window.skirmish.drop());
  await waitFor(one, "page 1 to say it is reconnecting", () => window.skirmish.state === "reconnecting");
  await waitFor(one, "page 1 to reconnect", () => window.skirmish.state === "open");
  await waitFor(one, "page 1's resumed welcome", () => window.skirmish.feed().includes("reconnected: welcome back"));
  assert.equal(await one.evaluate(() => window.skirmish.playerId), id1, "same player id after the reconnect");
  await waitFor(one, "page 1 to show its player at 90 hp again", (id) => window.skirmish.entities().find((e) => e.id === id)?.hp === 90, id1);
  const feed2 = await two.evaluate(() => window.skirmish.feed());
  assert.ok(!feed2.includes("one left"), `page 2 saw player 1 leave: ${feed2}`);
  assert.equal(await two.evaluate(entity, id1).then((e) => e.hp), 90);

  mkdirSync(artifacts, { recursive: true });
  await one.screenshot({ path: `${artifacts}/e2e-page1.png` });
  await two.screenshot({ path: `${artifacts}/e2e-page2.png` });
});

test("rooms: two pages in one room see each other, and nobody in another room", async () => {
  const open = async (name, room) => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${base}?name=${name}&room=${room}`);
    await page.bringToFront(); // the HUD is painted on animation frames
    await waitFor(page, `${name}'s welcome into room ${room}`, (r) => window.skirmish.playerId > 0 && window.skirmish.room === r, room);
    await waitFor(page, `${name}'s HUD to name room ${room}`, hudSays, `room ${room}`);
    return page;
  };
  // The alpha pages join first, so that beta's welcome (a keyframe of its room) would hold
  // them if the rooms were one world.
  const a1 = await open("a1", "alpha");
  const a2 = await open("a2", "alpha");
  await waitFor(a1, "page a1 to see a1 and a2", () => window.skirmish.entities().length === 2);
  await waitFor(a2, "page a2 to see a1 and a2", () => window.skirmish.entities().length === 2);
  const b1 = await open("b1", "beta");
  const id1 = await a1.evaluate(() => window.skirmish.playerId);
  const idb = await b1.evaluate(() => window.skirmish.playerId);
  assert.notEqual(id1, await a2.evaluate(() => window.skirmish.playerId), "two players of one room share an id");

  // Moves made after b1 joined, seen through the server: had b1 joined alpha's world, its
  // spawn would have reached both alpha pages before these frames (frames arrive in order).
  await a1.bringToFront();
  await a1.keyboard.down("ArrowDown");
  await waitFor(a2, "page a2 to see a1 move down", (id) => (window.skirmish.entities().find((e) => e.id === id)?.y ?? 0) >= 80, id1);
  await waitFor(a1, "page a1's server state to show it moved down", (id) => (window.skirmish.entities().find((e) => e.id === id)?.y ?? 0) >= 80, id1);
  await a1.keyboard.up("ArrowDown");
  await b1.bringToFront();
  await b1.keyboard.down("ArrowDown");
  await waitFor(b1, "page b1's server state to show it moved down", (id) => (window.skirmish.entities().find((e) => e.id === id)?.y ?? 0) >= 80, idb);
  await b1.keyboard.up("ArrowDown");

  for (const [label, page, want] of [["a1", a1, "a1,a2"], ["a2", a2, "a1,a2"], ["b1", b1, "b1"]]) {
    assert.equal(await page.evaluate(names), want, `page ${label} sees exactly the players of its room`);
    const feed = await page.evaluate(() => window.skirmish.feed());
    const strangers = (want === "b1" ? ["a1", "a2"] : ["b1"]).filter((n) => feed.includes(`${n} joined`));
    assert.deepEqual(strangers, [], `page ${label} was told of players in another room: ${feed}`);
  }
  assert.equal(await a1.evaluate(() => window.skirmish.room), "alpha");
  assert.equal(await b1.evaluate(() => window.skirmish.room), "beta");

  // GET /rooms counts them apart too.
  const res = await fetch(`${base}rooms`, { signal: AbortSignal.timeout(WAIT_MS) });
  assert.equal(res.status, 200);
  const rooms = await res.json();
  const count = (id) => rooms.find((r) => r.id === id)?.players;
  assert.deepEqual([count("alpha"), count("beta")], [2, 1], `GET /rooms: ${JSON.stringify(rooms)}`);
  assert.ok(rooms.every((r) => Number.isInteger(r.cap) && r.cap >= r.players), `GET /rooms caps: ${JSON.stringify(rooms)}`);

  mkdirSync(artifacts, { recursive: true });
  await a1.screenshot({ path: `${artifacts}/e2e-room-alpha.png` });
  await b1.screenshot({ path: `${artifacts}/e2e-room-beta.png` });
  for (const page of [a1, a2, b1]) await page.context().close();
});

test("a ?room= that breaks the naming rule is named in the HUD, and no socket opens", async () => {
  const page = await (await browser.newContext()).newPage();
  const sockets = [];
  page.on("websocket", (ws) => sockets.push(ws.url()));
  await page.goto(`${base}?name=bad&room=${encodeURIComponent("no spaces!")}`);
  await waitFor(page, "the HUD to name the invalid room", hudSays, 'invalid room name "no spaces!"');
  // A socket would have been opened before the first HUD paint; give its event time to land.
  await page.waitForTimeout(500);
  assert.deepEqual(sockets, [], "the page opened a WebSocket");
  assert.equal(await page.evaluate(() => window.skirmish.state), "closed");
  assert.equal(await page.evaluate(() => window.skirmish.playerId), 0);
  await page.context().close();
});

test("closing a page leaves at once: the other page sees the player go, long before the resume window", async () => {
  const open = async (name) => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${base}?name=${name}&room=leavers`);
    await waitFor(page, `${name}'s welcome`, () => window.skirmish.playerId > 0);
    return page;
  };
  const stay = await open("stay");
  const go = await open("go");
  const goId = await go.evaluate(() => window.skirmish.playerId);
  await waitFor(stay, "page stay to see the other player", (id) => window.skirmish.entities().some((e) => e.id === id), goId);
  const closedAt = Date.now();
  await go.close(); // pagehide: the client sends leave
  // The server keeps a dropped player 30 s for a resume; a leave removes it at once.
  await waitFor(stay, "the closed page's player to leave", (id) => !window.skirmish.entities().some((e) => e.id === id), goId);
  assert.ok(Date.now() - closedAt < 10_000, `took ${Date.now() - closedAt} ms`);
  await stay.context().close();
});
