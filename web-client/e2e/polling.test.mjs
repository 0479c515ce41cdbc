// End to end over HTTP long-polling, in real headless Chromium against the real server (set
// up as for battle.test.mjs, by helpers.mjs: the server on 127.0.0.1:0 serving the built
// client). A page with ?transport=polling and a page on WebSocket share a room: each sees the
// other move and hit; the polling page's link is then cut (its requests to /poll/SID held
// unanswered) until its 3 s dead-link watchdog fires, and it comes back as the same player. A
// page whose WebSocket can't open (its URL bent to a path the server refuses, as a blocking
// proxy would) falls back to polling after two tries and plays; and closing a polling page
// leaves at once (its leave gets out in a keepalive POST on pagehide). Every wait is bounded
// and says what it waited for.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { test } from "node:test";

import { artifacts, hudSays, serverAndBrowser, waitFor } from "./helpers.mjs";

let browser;
let base;

/** In the page: the y of player `id`, or null if the page doesn't see it. */
const yOf = (id) => window.skirmish.entities().find((e) => e.id === id)?.y ?? null;
const hpOf = (id) => window.skirmish.entities().find((e) => e.id === id)?.hp ?? null;

/**
 * A page at `query`, with the WebSockets it opens and the /poll requests it makes recorded,
 * once welcomed.
 */
async function open(query, label) {
  const page = await (await browser.newContext()).newPage();
  const sockets = [];
  const polls = [];
  page.on("websocket", (ws) => sockets.push(ws.url()));
  page.on("request", (req) => {
    if (new URL(req.url()).pathname.startsWith("/poll")) polls.push(`${req.method()} ${new URL(req.url()).pathname}`);
  });
  await page.goto(`${base}?${query}`);
  await waitFor(page, `${label}'s welcome`, () => window.skirmish.playerId > 0);
  return { page, sockets, polls, id: await page.evaluate(() => window.skirmish.playerId) };
}

/** Holds `key` in `page` until `watcher` sees player `id` at a y that satisfies `until`. */
async function move(page, key, watcher, id, what, until) {
  await page.bringToFront();
  await page.keyboard.down(key);
  await waitFor(watcher, what, until, id);
  await page.keyboard.up(key);
}

serverAndBrowser((up) => ({ browser, base } = up));

test("a polling page and a WebSocket page play together; the polling page's cut link resumes its player", async () => {
  const poll = await open("name=poller&room=mixed&transport=polling", "the polling page");
  const sock = await open("name=socket&room=mixed", "the WebSocket page");
  assert.notEqual(poll.id, sock.id);
  assert.equal(await poll.page.evaluate(() => window.skirmish.transport), "polling");
  assert.equal(await sock.page.evaluate(() => window.skirmish.transport), "websocket");
  assert.deepEqual(poll.sockets, [], "the polling page opened a WebSocket");
  assert.ok(poll.polls.includes("POST /poll") && poll.polls.some((r) => r.startsWith("GET /poll/")), poll.polls.join(", "));
  assert.deepEqual(sock.polls, [], "the WebSocket page polled");
  await poll.page.bringToFront(); // the HUD is painted on animation frames
  await waitFor(poll.page, "the polling page's HUD to say polling", hudSays, " · polling · ");
  await sock.page.bringToFront();
  await waitFor(sock.page, "the WebSocket page's HUD to say websocket", hudSays, " · websocket · ");
  for (const [p, label] of [[poll, "polling"], [sock, "WebSocket"]]) {
    await waitFor(p.page, `the ${label} page to see both players`, () => window.skirmish.entities().length === 2);
  }

  // Each moves down and back up to (0, 0); the other page sees it.
  const down = (id) => (window.skirmish.entities().find((e) => e.id === id)?.y ?? 0) >= 80;
  const top = (id) => window.skirmish.entities().find((e) => e.id === id)?.y === 0;
  await move(poll.page, "ArrowDown", sock.page, poll.id, "the WebSocket page to see the poller move down", down);
  await move(poll.page, "ArrowUp", sock.page, poll.id, "the WebSocket page to see the poller back at the top", top);
  await move(sock.page, "ArrowDown", poll.page, sock.id, "the polling page to see the socket player move down", down);
  await move(sock.page, "ArrowUp", poll.page, sock.id, "the polling page to see the socket player back at the top", top);
  await waitFor(poll.page, "the polling page to see itself at the top", top, poll.id);
  await waitFor(sock.page, "the WebSocket page to see itself at the top", top, sock.id);

  // Each hits the other: both pages show both at 90 hp.
  await poll.page.bringToFront();
  await poll.page.keyboard.press("Space");
  await sock.page.bringToFront();
  await sock.page.keyboard.press("Space");
  for (const [p, label] of [[poll, "polling"], [sock, "WebSocket"]]) {
    for (const [id, whose] of [[poll.id, "the poller"], [sock.id, "the socket player"]]) {
      await waitFor(p.page, `the ${label} page to show ${whose} at 90 hp`, (i) => window.skirmish.entities().find((e) => e.id === i)?.hp === 90, id);
    }
  }

  // Cut the polling page's link: its requests to /poll/SID are held unanswered (the join,
  // POST /poll, still gets through). Nothing arrives, so within 2.5 s the watchdog takes the
  // link for dead, drops it and joins again with its resume token.
  await poll.page.bringToFront();
  const held = [];
  const hold = (route) => void held.push(route);
  await poll.page.route("**/poll/**", hold);
  await waitFor(poll.page, "the polling page's watchdog to take the silent link for dead", hudSays, "connection lost: no message for");
  await poll.page.unroute("**/poll/**", hold);
  assert.ok(held.length > 0, "no request was held");
  // The held requests go on to the server late; those the page gave up on fail, harmlessly
  // (not awaited: a request the page aborted may never settle its route).
  for (const r of held) r.continue().catch(() => {});

  await waitFor(poll.page, "the polling page to reconnect", () => window.skirmish.state === "open");
  await waitFor(poll.page, "the polling page's resumed welcome", () => window.skirmish.feed().includes("reconnected: welcome back"));
  assert.equal(await poll.page.evaluate(() => window.skirmish.playerId), poll.id, "same player id after the reconnect");
  assert.equal(await poll.page.evaluate(() => window.skirmish.transport), "polling", "still polling");
  await waitFor(poll.page, "the polling page to show its player at 90 hp again", (i) => window.skirmish.entities().find((e) => e.id === i)?.hp === 90, poll.id);
  // And it plays on: the other page sees it move again.
  await move(poll.page, "ArrowDown", sock.page, poll.id, "the WebSocket page to see the resumed poller move", down);
  const feed = await sock.page.evaluate(() => window.skirmish.feed());
  assert.ok(!feed.includes("poller left"), `the WebSocket page saw the poller leave: ${feed}`);
  assert.equal(await sock.page.evaluate(hpOf, poll.id), 90);
  assert.ok((await sock.page.evaluate(yOf, poll.id)) >= 80);
  assert.deepEqual(poll.sockets, [], "the polling page opened a WebSocket");

  mkdirSync(artifacts, { recursive: true });
  await poll.page.screenshot({ path: `${artifacts}/e2e-polling-page.png` });
  await sock.page.screenshot({ path: `${artifacts}/e2e-polling-socket-page.png` });
  for (const p of [poll, sock]) await p.page.context().close();
});

test("a page whose WebSocket can't open falls back to polling after two tries, and plays", async () => {
  const other = await open("name=plain&room=blocked", "the plain page");
  const page = await (await browser.newContext()).newPage();
  // As a proxy that refuses WebSocket: every socket the page opens asks for a path the server
  // answers with an error instead of an upgrade.
  await page.addInitScript(() => {
    const Real = window.WebSocket;
    window.wsTries = [];
    window.WebSocket = class extends Real {
      constructor(url, protocols) {
        window.wsTries.push(String(url));
        super(String(url).replace(/\/ws$/, "/ws-blocked"), protocols);
      }
    };
  });
  await page.goto(`${base}?name=blocked&room=blocked`);
  await waitFor(page, "the blocked page's welcome over polling", () => window.skirmish.playerId > 0);
  assert.equal(await page.evaluate(() => window.skirmish.transport), "polling");
  const tries = await page.evaluate(() => window.wsTries);
  assert.equal(tries.length, 2, `WebSockets tried: ${tries.join(", ")}`);
  await waitFor(page, "the blocked page to see the plain one", () => window.skirmish.entities().length === 2);
  const id = await page.evaluate(() => window.skirmish.playerId);
  await waitFor(other.page, "the plain page to see the blocked one", (i) => window.skirmish.entities().some((e) => e.id === i), id);
  await page.bringToFront();
  await waitFor(page, "the HUD to say polling", hudSays, " · polling · ");
  for (const p of [page, other.page]) await p.context().close();
});

test("closing a polling page leaves at once: its leave gets out on pagehide", async () => {
  const stay = await open("name=stay&room=pollleavers", "the staying page");
  const go = await open("name=go&room=pollleavers&transport=polling", "the polling page");
  await waitFor(stay.page, "the staying page to see the polling player", (i) => window.skirmish.entities().some((e) => e.id === i), go.id);
  const closedAt = Date.now();
  await go.page.close(); // pagehide: the client sends leave, in a keepalive POST
  // The server keeps a lost player 30 s for a resume (and notices a silent polling session
  // only after 15 s); a leave removes it at once.
  await waitFor(stay.page, "the closed page's player to leave", (i) => !window.skirmish.entities().some((e) => e.id === i), go.id);
  assert.ok(Date.now() - closedAt < 10_000, `took ${Date.now() - closedAt} ms`);
  await stay.page.context().close();
});
