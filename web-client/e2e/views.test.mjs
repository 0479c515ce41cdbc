// A server with a view radius (`--view-radius 20`: view cells of 20 units on a 400-unit
// map), two pages in one room, both players spawned at (0, 0): one page walks its player away
// until the other no longer holds it, then back until it does again, in the state its own
// page holds; the camera of a page spans at most 80% of the radius each way from its centre.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { after, before, test } from "node:test";

import { artifacts, launchBrowser, startServer, stopServer, waitFor } from "./helpers.mjs";

let server;
let browser;
let base;

before(async () => {
  ({ proc: server, base } = await startServer({ extraArgs: ["--view-radius", "20", "--map-width", "400", "--map-height", "400"] }));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stopServer(server);
});

const entity = (id) => window.skirmish.entities().find((e) => e.id === id) ?? null;

test("with a view radius, a player walking out of view leaves the other page's world and comes back as it is", async () => {
  const open = async (name) => {
    const page = await (await browser.newContext({ viewport: { width: 800, height: 600 } })).newPage();
    await page.goto(`${base}?name=${name}&room=views`);
    await waitFor(page, `${name}'s welcome`, () => window.skirmish.playerId > 0);
    return { page, id: await page.evaluate(() => window.skirmish.playerId) };
  };
  const walker = await open("walker");
  const watcher = await open("watcher");
  await waitFor(watcher.page, "the watcher to hold the walker", (id) => window.skirmish.entities().some((e) => e.id === id), walker.id);

  // Cells of 20 units (160 subunits): the watcher at (0, 0) sees cells 0 and 1, x < 40 units.
  await walker.page.bringToFront();
  await walker.page.keyboard.down("ArrowRight");
  await waitFor(walker.page, "the walker at x ≥ 45 units", (id) => (window.skirmish.entities().find((e) => e.id === id)?.x ?? 0) >= 45 * 8, walker.id);
  await walker.page.keyboard.up("ArrowRight");
  await waitFor(watcher.page, "the walker gone from the watcher's world", (id) => !window.skirmish.entities().some((e) => e.id === id), walker.id);
  await waitFor(walker.page, "the watcher gone from the walker's world", (id) => !window.skirmish.entities().some((e) => e.id === id), watcher.id);
  const feed = await watcher.page.evaluate(() => window.skirmish.feed());
  assert.ok(!feed.some((t) => t.includes("walker left")), `out of view is not leaving the game: ${feed}`);

  // The camera zooms to the radius: its canvas spans at most 80% of the 20 units each way from
  // its centre, which stays within the rest of the radius from the player.
  await walker.page.bringToFront();
  await waitFor(walker.page, "a drawn frame", () => window.skirmish.view() !== null);
  const view = await walker.page.evaluate(() => window.skirmish.view());
  const half = Math.max(view.canvas.width, view.canvas.height) / view.scale / 2;
  assert.ok(half <= 0.8 * 20 + 1e-6, `the camera shows ${half} units from its centre, over 80% of the radius of 20`);
  mkdirSync(artifacts, { recursive: true });
  await walker.page.screenshot({ path: `${artifacts}/views-walker.png` });

  await walker.page.keyboard.down("ArrowLeft");
  await waitFor(watcher.page, "the walker back in the watcher's world", (id) => window.skirmish.entities().some((e) => e.id === id), walker.id);
  await walker.page.keyboard.up("ArrowLeft");
  // Once the walker stands still, both pages hold the same state of it.
  const settled = async () => {
    const mine = await walker.page.evaluate(entity, walker.id);
    const theirs = await watcher.page.evaluate(entity, walker.id);
    return JSON.stringify(mine) === JSON.stringify(theirs) ? mine : null;
  };
  let same = null;
  for (let i = 0; i < 50 && same === null; i++) {
    same = await settled();
    if (same === null) await watcher.page.waitForTimeout(100);
  }
  assert.ok(same, "the watcher holds the walker as the walker's own page does");
  assert.ok(same.x < 40 * 8, `back in view at x ${same.x}`);
});
