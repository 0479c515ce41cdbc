// End to end, the presentation, in real headless Chromium against the real server (set up as
// for battle.test.mjs by helpers.mjs; both players spawn at (0, 0), respawns are off): an
// 800×600 desktop page and a 390×844 touch phone at devicePixelRatio 3 in one room. The
// canvas fills the window at device resolution and follows resizes; your square is at least
// 24 CSS px; every name label is inside the canvas and none overlaps another (the two players
// stand on one spot); the scoreboard lists both. Then the desktop player holds attack until
// the phone's player dies: the phone says who killed it and counts down, its camera stays
// where it died, the kill is highlighted in its feed, the scoreboards count it, and the feed
// has let the old join notice expire. Screenshots go to artifacts/.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { test } from "node:test";

import { artifacts, serverAndBrowser, waitFor } from "./helpers.mjs";

let browser;
let base;

serverAndBrowser((up) => ({ browser, base } = up));

/** In the page: what the labels and the camera look like, and what is wrong with them. */
const layout = () => {
  const { canvas, labels } = window.skirmish.labels();
  const problems = [];
  for (const [i, a] of labels.entries()) {
    if (a.x < 0 || a.y < 0 || a.x + a.w > canvas.width || a.y + a.h > canvas.height) problems.push(`label ${a.text} outside ${canvas.width}×${canvas.height}: ${JSON.stringify(a)}`);
    for (const b of labels.slice(i + 1)) {
      if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) problems.push(`labels ${a.text} and ${b.text} overlap`);
    }
  }
  return { canvas, labels, problems, view: window.skirmish.view() };
};

test("the canvas, camera, labels, scoreboard, death banner and kill feed, on a desktop and a phone", async () => {
  const desk = await (await browser.newContext({ viewport: { width: 800, height: 600 } })).newPage();
  const phone = await (await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true })).newPage();
  await desk.goto(`${base}?name=one&room=show`);
  await waitFor(desk, "the desktop's welcome", () => window.skirmish.playerId > 0);
  await phone.goto(`${base}?name=two&room=show`);
  await waitFor(phone, "the phone's welcome", () => window.skirmish.playerId > 0);
  const twoId = await phone.evaluate(() => window.skirmish.playerId);
  for (const page of [desk, phone]) {
    await page.bringToFront(); // drawn on animation frames
    await waitFor(page, "both players' labels", () => window.skirmish.labels().labels.length === 2);
  }

  // The desktop: the canvas spans the window's width and most of its height, at 1 device px per CSS px.
  await desk.bringToFront();
  let d = await desk.evaluate(layout);
  assert.deepEqual(d.problems, []);
  assert.equal(d.canvas.width, 800);
  assert.ok(d.canvas.height >= 480 && d.canvas.height <= 600, `canvas height ${d.canvas.height}`);
  assert.deepEqual(d.view.backing, d.view.canvas);
  assert.ok(d.view.square >= 24, `your square is ${d.view.square} CSS px at 800×600`);
  assert.ok(Math.abs(d.view.square - d.view.scale * 10) < 1e-9, "a square is player_size (10) units");

  // The phone: sharp (backing store 3× the CSS size), the square still ≥ 24 CSS px.
  await phone.bringToFront();
  const p = await phone.evaluate(layout);
  assert.deepEqual(p.problems, []);
  assert.equal(p.canvas.width, 390);
  assert.equal(p.view.dpr, 3);
  assert.deepEqual(p.view.backing, { width: p.canvas.width * 3, height: p.canvas.height * 3 });
  assert.ok(p.view.square >= 24, `your square is ${p.view.square} CSS px on the phone`);
  const scores = await phone.evaluate(() => window.skirmish.scores());
  assert.deepEqual(scores.top.map((r) => r.name).sort(), ["one", "two"]);
  assert.equal(await phone.locator("#scores-body tr").count(), 2);

  // A resize: the canvas follows, bigger squares on a bigger window.
  await desk.bringToFront();
  await desk.setViewportSize({ width: 1600, height: 1000 });
  await waitFor(desk, "the canvas to follow the resize", () => window.skirmish.view()?.canvas.width === 1600);
  d = await desk.evaluate(layout);
  assert.deepEqual(d.problems, []);
  assert.ok(d.view.square > 24, `your square is ${d.view.square} CSS px at 1600×1000`);
  await desk.setViewportSize({ width: 800, height: 600 });
  await waitFor(desk, "the canvas to follow the resize back", () => window.skirmish.view()?.canvas.width === 800);

  // The desktop player holds attack (both stand at (0, 0), in range) until the phone's dies.
  const cameraBefore = await phone.evaluate(() => window.skirmish.view().camera);
  await desk.keyboard.down("Space");
  await waitFor(desk, "the phone's player to die", (id) => window.skirmish.entities().find((e) => e.id === id)?.hp === 0, twoId);
  await desk.keyboard.up("Space");
  await phone.bringToFront();
  await waitFor(phone, "the phone's death banner", () => window.skirmish.banner()?.title === "killed by one");
  const banner = await phone.evaluate(() => window.skirmish.banner());
  assert.match(banner.detail, /^respawning in \d+…$/, JSON.stringify(banner));
  const cameraAfter = await phone.evaluate(() => window.skirmish.view().camera);
  assert.ok(Math.hypot(cameraAfter.x - cameraBefore.x, cameraAfter.y - cameraBefore.y) < 1, "the camera stays where you died");
  const feed = await phone.evaluate(() => window.skirmish.feedShown());
  assert.ok(feed.some((f) => f.text === "one killed two" && f.mine), `the kill is not highlighted: ${JSON.stringify(feed)}`);
  assert.ok(await phone.locator("#feed li.mine", { hasText: "one killed two" }).count() === 1);
  // The join of "two" came more than 5 s ago (ten hits, 0.5 s apart): gone from the desktop's feed.
  await desk.bringToFront();
  await waitFor(desk, "the old join notice to expire", () => !window.skirmish.feedShown().some((f) => f.text === "two joined"));
  assert.ok((await desk.evaluate(() => window.skirmish.feed())).includes("two joined"), "kept in the log");
  const board = await desk.evaluate(() => window.skirmish.scores().top.map((r) => [r.name, r.kills, r.deaths, r.streak]));
  assert.deepEqual(board, [["one", 1, 0, 1], ["two", 0, 1, 0]]);
  assert.deepEqual((await desk.evaluate(layout)).problems, []);

  mkdirSync(artifacts, { recursive: true });
  await desk.screenshot({ path: `${artifacts}/e2e-presentation-desktop.png` });
  await phone.bringToFront();
  await phone.screenshot({ path: `${artifacts}/e2e-presentation-phone.png` });
  await desk.context().close();
  await phone.context().close();
});
