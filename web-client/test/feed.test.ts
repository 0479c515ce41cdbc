// The kill feed as shown (entries expire after 5 s, fading over the last half second; at
// most six) and the banner of your death (killed by NAME, respawning in 3… 2… 1…, respawned).
import assert from "node:assert/strict";
import { test } from "node:test";

import { bannerOf, countdown, RESPAWNED_SECONDS } from "../src/banner";
import { FEED_LINES, FEED_SECONDS, type FeedEntry, shownFeed } from "../src/feed";

const entry = (text: string, at: number, mine = false): FeedEntry => ({ text, at, kind: "kill", mine });

test("feed entries show for 5 s, fading out over the last half second, then go", () => {
  const feed = [entry("a killed b", 10), entry("b killed you", 12, true)];
  const at = (now: number) => shownFeed(feed, now).map((s) => [s.entry.text, Number(s.opacity.toFixed(2))]);
  assert.deepEqual(at(10), [["a killed b", 1], ["b killed you", 1]]);
  assert.deepEqual(at(14.5), [["a killed b", 1], ["b killed you", 1]]);
  assert.deepEqual(at(14.75), [["a killed b", 0.5], ["b killed you", 1]]);
  assert.deepEqual(at(15), [["b killed you", 1]]);
  assert.deepEqual(at(16.5), [["b killed you", 1]]);
  assert.deepEqual(at(16.9), [["b killed you", 0.2]]);
  assert.deepEqual(at(12 + FEED_SECONDS), []);
  assert.deepEqual(at(100), []);
  // The entry that involves you stays marked.
  assert.deepEqual(shownFeed(feed, 13).map((s) => s.entry.mine), [false, true]);
});

test("at most six entries at once, the newest", () => {
  const feed = Array.from({ length: 9 }, (_, i) => entry(`e${i}`, 10 + i * 0.1));
  const shown = shownFeed(feed, 11).map((s) => s.entry.text);
  assert.equal(shown.length, FEED_LINES);
  assert.deepEqual(shown, ["e3", "e4", "e5", "e6", "e7", "e8"]);
});

test("the countdown: 3, 2, 1 from the moment the killed event arrived, then 0", () => {
  const death = { killer: "ann", at: 100 };
  const n = (t: number) => countdown(death, 3000, t);
  assert.deepEqual([n(100), n(100.5), n(101), n(101.2), n(102), n(102.9), n(103), n(110)], [3, 3, 2, 2, 1, 1, 0, 0]);
  assert.equal(countdown(death, 2500, 100), 3, "rounded up");
});

test("the banner: killed by NAME and the countdown while dead; respawned for a moment after", () => {
  const base = { hp: 0, death: { killer: "ann", at: 100 }, respawnedAt: -Infinity, respawnDelayMs: 3000 };
  assert.deepEqual(bannerOf(base, 100), { kind: "dead", title: "killed by ann", detail: "respawning in 3…" });
  assert.deepEqual(bannerOf(base, 101.5), { kind: "dead", title: "killed by ann", detail: "respawning in 2…" });
  assert.deepEqual(bannerOf(base, 102.5), { kind: "dead", title: "killed by ann", detail: "respawning in 1…" });
  // Late (the server's respawn still on its way): no negative numbers.
  assert.deepEqual(bannerOf(base, 104), { kind: "dead", title: "killed by ann", detail: "respawning…" });
  // Dead without a death seen (joined or resumed while dead).
  assert.deepEqual(bannerOf({ ...base, death: null }, 104), { kind: "dead", title: "you are dead", detail: "respawning…" });
  // Back: "respawned", then nothing.
  const back = { ...base, hp: 100, death: null, respawnedAt: 103.1 };
  assert.deepEqual(bannerOf(back, 103.2), { kind: "respawned", title: "respawned", detail: "" });
  assert.equal(bannerOf(back, 103.1 + RESPAWNED_SECONDS), null);
  // Alive and never dead, or not in the game: nothing.
  assert.equal(bannerOf({ ...back, respawnedAt: -Infinity }, 5), null);
  assert.equal(bannerOf({ ...base, hp: null }, 100), null);
});
