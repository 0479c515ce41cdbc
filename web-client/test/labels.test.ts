// Label layout: every label inside the canvas, none overlapping another or an obstacle, each
// beside its own square; crowded scenes shrink or drop labels rather than overlap them.
import assert from "node:assert/strict";
import { test } from "node:test";

import { inside, type LabelRequest, layoutLabels, overlaps, type PlacedLabel, type Rect, SPOTS } from "../src/labels";

/** A label for a name of `chars` characters: 12 px text at 7 px a character, 10 px at 6, the name alone shorter. */
function request(id: number, x: number, y: number, size = 28, chars = 9): LabelRequest {
  return {
    id,
    anchor: { x, y, w: size, h: size },
    variants: [{ w: chars * 7 + 10, h: 18 }, { w: chars * 6 + 10, h: 15 }, { w: (chars - 4) * 6 + 10, h: 15 }],
  };
}

/** The checks every layout must pass. */
function check(placed: PlacedLabel[], requests: LabelRequest[], bounds: { w: number; h: number }, obstacles: Rect[] = []): void {
  const ids = new Set<number>();
  for (const [i, a] of placed.entries()) {
    assert.ok(inside(a, bounds), `label ${a.id} leaves the ${bounds.w}×${bounds.h} canvas: ${JSON.stringify(a)}`);
    assert.ok(!ids.has(a.id), `label ${a.id} placed twice`);
    ids.add(a.id);
    const req = requests.find((r) => r.id === a.id);
    assert.ok(req, `label ${a.id} was not asked for`);
    assert.deepEqual({ w: a.w, h: a.h }, req.variants[a.variant], `label ${a.id} has its variant's size`);
    for (const b of placed.slice(i + 1)) assert.ok(!overlaps(a, b), `labels ${a.id} and ${b.id} overlap: ${JSON.stringify([a, b])}`);
    for (const o of obstacles) assert.ok(!overlaps(a, o), `label ${a.id} covers an obstacle`);
  }
}

/** A repeatable pseudo-random sequence in [0, 1). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test("a lone label sits centred above its square", () => {
  const req = request(1, 386, 261);
  const [l] = layoutLabels([req], { w: 800, h: 550 });
  assert.equal(SPOTS[l.spot], "above");
  assert.equal(l.variant, 0);
  assert.equal(l.x + l.w / 2, 386 + 14);
  assert.ok(l.y + l.h <= 261, "above the square");
  assert.ok(!overlaps(l, req.anchor));
});

test("two players side by side: both labels shown, not overlapping (no more 'alibob 1900')", () => {
  const reqs = [request(1, 380, 260), request(2, 392, 262)];
  const placed = layoutLabels(reqs, { w: 800, h: 550 });
  assert.equal(placed.length, 2);
  check(placed, reqs, { w: 800, h: 550 });
  // Neither covers a square, while there is room elsewhere.
  for (const l of placed) for (const r of reqs) assert.ok(!overlaps(l, r.anchor), `label ${l.id} covers square ${r.id}`);
});

test("at the canvas's edges and corners labels are pushed inside, beside (not on) their square", () => {
  const bounds = { w: 390, h: 764 };
  const cases = [request(1, -10, -10), request(2, 375, 300), request(3, 0, 750), request(4, 380, 755), request(5, 180, -20), request(6, -20, 380)];
  for (const r of cases) {
    const placed = layoutLabels([r], bounds);
    assert.equal(placed.length, 1, `label ${r.id} was dropped`);
    check(placed, [r], bounds);
    assert.ok(!overlaps(placed[0], r.anchor), `label ${r.id} covers its own square: ${JSON.stringify(placed[0])}`);
  }
});

test("crowds: random scenes at 800×550, 1920×1030, 480×310 and a phone are laid out inside the canvas with no overlaps", () => {
  const next = random(42);
  for (const bounds of [{ w: 800, h: 550 }, { w: 1920, h: 1030 }, { w: 480, h: 310 }, { w: 390, h: 764 }]) {
    for (let scene = 0; scene < 60; scene++) {
      const n = 1 + Math.floor(next() * 50);
      const spread = 40 + next() * Math.max(bounds.w, bounds.h);
      const cx = next() * bounds.w;
      const cy = next() * bounds.h;
      const reqs = Array.from({ length: n }, (_, i) =>
        request(i + 1, cx + (next() - 0.5) * spread, cy + (next() - 0.5) * spread, 24 + next() * 16, 3 + Math.floor(next() * 14)));
      const obstacles = [{ x: bounds.w - 118, y: 8, w: 110, h: 110 }, { x: 8, y: 8, w: 160, h: 70 }];
      const placed = layoutLabels(reqs, bounds, obstacles);
      check(placed, reqs, bounds, obstacles);
      // The first (yours) is always placed when its square is on screen and clear of the panels.
      const first = reqs[0].anchor;
      const clear = inside(first, bounds) && !obstacles.some((o) => overlaps(o, { x: first.x - 100, y: first.y - 40, w: first.w + 200, h: first.h + 80 }));
      if (clear) assert.equal(placed[0]?.id, 1, `scene ${scene}: your label was dropped`);
    }
  }
});

test("no room: smaller variants first, then labels are left out, never overlapped", () => {
  // Ten players on one spot in a small canvas: some labels shrink, some are dropped.
  const bounds = { w: 200, h: 90 };
  const reqs = Array.from({ length: 10 }, (_, i) => request(i + 1, 86 + (i % 3), 31 + (i % 2)));
  const placed = layoutLabels(reqs, bounds);
  check(placed, reqs, bounds);
  assert.ok(placed.length < 10, "some were dropped");
  assert.ok(placed.length >= 3, `only ${placed.length} placed`);
  assert.equal(placed[0].variant, 0, "the first keeps its full size");
  // A canvas too narrow for the full label: the smaller one; too narrow for that: the name alone.
  const r = request(1, 20, 40); // variants 73, 64 and 40 px wide
  assert.equal(layoutLabels([r], { w: 72, h: 100 })[0].variant, 1);
  assert.equal(layoutLabels([r], { w: 50, h: 100 })[0].variant, 2);
  // Boxed in by obstacles, the smaller one fits where the full size would not.
  const walls = [{ x: 0, y: 0, w: 200, h: 20 }, { x: 0, y: 68, w: 200, h: 40 }, { x: 0, y: 20, w: 8, h: 48 }, { x: 96, y: 20, w: 104, h: 48 }];
  const boxed = request(1, 70, 30, 24, 12); // full 94 wide, smaller 82: only the smaller fits left of it
  const [small] = layoutLabels([boxed], { w: 200, h: 108 }, walls);
  check([small], [boxed], { w: 200, h: 108 }, walls);
  assert.ok(small.variant > 0, JSON.stringify(small));
  // A canvas smaller than even the smallest variant: nothing placed, nothing outside.
  assert.deepEqual(layoutLabels([request(1, 5, 5)], { w: 30, h: 12 }), []);
});

test("a label keeps the spot it had last frame while that spot is free", () => {
  const reqs = [{ ...request(1, 300, 200), prefer: SPOTS.indexOf("right") }];
  const [l] = layoutLabels(reqs, { w: 800, h: 550 });
  assert.equal(SPOTS[l.spot], "right");
  // Taken by an obstacle: it moves.
  const [m] = layoutLabels(reqs, { w: 800, h: 550 }, [{ x: 330, y: 190, w: 200, h: 50 }]);
  assert.notEqual(SPOTS[m.spot], "right");
  // A nonsense preference is ignored.
  assert.equal(SPOTS[layoutLabels([{ ...request(1, 300, 200), prefer: 99 }], { w: 800, h: 550 })[0].spot], "above");
});
