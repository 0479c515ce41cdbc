// End to end with signed seats, in real headless Chromium: the server runs with a join secret
// (SKIRMISH_JOIN_SECRET), a ticket is minted by the real binary (`skirmish seat`), and a page
// that carries it (?seat=) plays as the seat's name in the seat's room, while a page without
// one, or with a forged one, is refused and its HUD says why. Every wait is bounded.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";

import { bin, hudSays, serverAndBrowser, waitFor } from "./helpers.mjs";

// The secret reaches the server through the environment, as it should in production.
process.env.SKIRMISH_JOIN_SECRET = "an e2e join secret, 16+ bytes";

let browser;
let base;
serverAndBrowser((s) => ({ browser, base } = s));

/** A ticket for `name` in `room`, minted by `skirmish seat`. */
async function seat(room, name) {
  const { stdout } = await promisify(execFile)(bin, ["seat", "--room", room, "--name", name, "--ttl-secs", "600"], {
    env: process.env,
    timeout: 20_000,
  });
  return stdout.trim();
}

test("a page with its seat plays as the seat's name in the seat's room; without one, or forged, the HUD says why", async () => {
  const ticket = await seat("arena", "ann");
  const seated = await (await browser.newContext()).newPage();
  // The URL asks for another name: the seat's wins.
  await seated.goto(`${base}?name=mallory&room=arena&seat=${encodeURIComponent(ticket)}`);
  await waitFor(seated, "the seated page's welcome", () => window.skirmish.playerId > 0);
  const me = await seated.evaluate(() => window.skirmish.entities().find((e) => e.id === window.skirmish.playerId));
  assert.equal(me?.name, "ann");
  await waitFor(seated, "the HUD to name room arena", hudSays, "room arena");

  const unseated = await (await browser.newContext()).newPage();
  await unseated.goto(`${base}?name=eve&room=arena`);
  await waitFor(unseated, "the refusal in the HUD", hudSays, "closed: seat required (ask for a new link to join)");

  const forged = await (await browser.newContext()).newPage();
  await forged.goto(`${base}?name=eve&room=arena&seat=${encodeURIComponent(ticket.slice(0, -4) + "AAAA")}`);
  await waitFor(forged, "the refusal in the HUD", hudSays, "closed: seat forged");
  // Refused for good: no player was placed, the seated page still sees only itself.
  assert.equal(await seated.evaluate(() => window.skirmish.entities().length), 1);
});
