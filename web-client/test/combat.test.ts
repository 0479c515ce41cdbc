// What the game keeps for the screen from the server's events: each confirmed hit once, with
// the damage it did; your death (who killed you, when) and your respawn; feed entries that
// involve you marked; the scoreboard counts the replica keeps.
import assert from "node:assert/strict";
import { test } from "node:test";

import { encode } from "@msgpack/msgpack";

import { Game } from "../src/game";
import type { Rules } from "../src/protocol";

const rules: Rules = {
  map_width: 500, map_height: 500, spawn_min: 0, spawn_max: 100, speed: 100, attack_range: 10,
  attack_damage: 10, max_hp: 100, attack_cooldown_ms: 500, respawn_delay_ms: 3000, player_size: 10,
};
type Ent = [number, string, number, number, number, number, number, number];
const ann: Ent = [1, "ann", 400, 160, 100, 0, 0, 0];
const bob: Ent = [2, "bob", 408, 160, 100, 0, 0, 0];
const cy: Ent = [3, "cy", 416, 160, 15, 0, 0, 0];

/** A welcome for player `me` at tick 10 with these entities. */
const welcome = (me: number, entities: Ent[]) => encode([0, me, 4, 30, rules, new Uint8Array(16), false, "arena", 10, entities]);
/** A frame: hp changes as [id, hp] (ids ascending), events as flat integers. */
function frame(tick: number, hp: [number, number][], events: number[]): Uint8Array {
  const changed: number[] = [];
  let prev = 0;
  for (const [id, v] of hp) {
    changed.push(((id - prev) << 3) | 4, v);
    prev = id;
  }
  return encode([1, tick, 0, [], changed, [], events]);
}
const ATTACKED = 2;
const KILLED = 3;
const RESPAWNED = 4;

test("each confirmed hit flashes once on its target, with the damage it did", () => {
  const g = new Game();
  g.receive(welcome(2, [ann, bob, cy]), 0);
  // ann hits bob (100 → 90) and cy (15 → 5).
  g.receive(frame(11, [[2, 90], [3, 5]], [ATTACKED, 1, 2, 90, ATTACKED, 1, 3, 5]), 1);
  const hits = g.effects.filter((e) => e.kind === "hit").map((e) => [e.id, e.amount, e.at]);
  assert.deepEqual(hits, [[2, 10, 1], [3, 10, 1]]);
  // ann hits cy again, 5 → 0: the hit took what was left; and the kill. Each hit once,
  // nothing from the earlier frame again.
  g.receive(frame(12, [[3, 0]], [ATTACKED, 1, 3, 0, KILLED, 3, 1]), 1.5);
  assert.deepEqual(g.effects.filter((e) => e.kind === "hit" && e.at === 1.5).map((e) => [e.id, e.amount]), [[3, 5]]);
  assert.equal(g.effects.filter((e) => e.kind === "hit").length, 3);
  // Two hits on one target in one tick: each with its own damage.
  const h = new Game();
  h.receive(welcome(1, [ann, bob, [3, "cy", 416, 160, 100, 0, 0, 0]]), 0);
  h.receive(frame(11, [[3, 80]], [ATTACKED, 1, 3, 90, ATTACKED, 2, 3, 80]), 1);
  assert.deepEqual(h.effects.filter((e) => e.kind === "hit").map((e) => [e.id, e.amount]), [[3, 10], [3, 10]]);
  // Hits fade from the list a second later.
  h.receive(frame(50, [], []), 2.5);
  assert.deepEqual(h.effects.filter((e) => e.kind === "hit"), []);
});

test("your death: who killed you and when, for the banner; the respawn ends it", () => {
  const g = new Game();
  g.receive(welcome(2, [ann, [2, "bob", 408, 160, 10, 0, 0, 0]]), 0);
  assert.equal(g.death, null);
  g.receive(frame(11, [[2, 0]], [ATTACKED, 1, 2, 0, KILLED, 2, 1]), 5);
  assert.deepEqual(g.death, { killer: "ann", at: 5 });
  assert.equal(g.replica.entities.get(2)?.deaths, 1);
  assert.equal(g.replica.entities.get(1)?.kills, 1);
  assert.equal(g.replica.entities.get(1)?.streak, 1);
  // Someone else's death is not yours.
  g.receive(frame(12, [], [KILLED, 1, 3]), 6);
  assert.deepEqual(g.death, { killer: "ann", at: 5 });
  g.receive(frame(100, [[2, 100]], [RESPAWNED, 2]), 8);
  assert.equal(g.death, null);
  assert.equal(g.respawnedAt, 8);
});

test("a keyframe that finds you alive ends a death whose respawn was missed", () => {
  const g = new Game();
  g.receive(welcome(2, [ann, bob]), 0);
  g.receive(frame(11, [[2, 0]], [KILLED, 2, 1]), 1);
  assert.ok(g.death);
  g.receive(encode([2, 200, 0, [ann, bob]]), 5);
  assert.equal(g.death, null);
});

test("the feed marks what involves you: your kills and your death, not others' nor joins", () => {
  const g = new Game();
  g.receive(welcome(2, [ann, bob, cy]), 0);
  g.receive(frame(11, [[3, 0]], [KILLED, 3, 2]), 1); // bob (you) killed cy
  g.receive(frame(12, [[2, 0]], [KILLED, 2, 1]), 2); // ann killed you
  g.receive(frame(13, [], [KILLED, 1, 3]), 3); // cy killed ann
  g.receive(encode([1, 14, 0, [[4, "dee", 0, 0, 100, 0, 0, 0]], [], [], [0, 4]]), 4);
  assert.deepEqual(g.killFeed.map((k) => [k.text, k.kind, k.mine, k.at]), [
    ["bob killed cy", "kill", true, 1],
    ["ann killed bob", "kill", true, 2],
    ["cy killed ann", "kill", false, 3],
    ["dee joined", "join", false, 4],
  ]);
});
