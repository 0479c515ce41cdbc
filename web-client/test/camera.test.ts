// The camera: the zoom rule at common window sizes, map ↔ screen, following your player, and
// clamping the view at the map's edges.
import assert from "node:assert/strict";
import { test } from "node:test";

import { clampCentre, EDGE_SLACK, Follower, gridStep, MAX_SQUARE_PX, MIN_SQUARE_PX, squarePx, toMap, toScreen, VIEW_SHARE, visibleRect, zoomFor } from "../src/camera";

const MAP = { width: 500, height: 500 };
const PLAYER = 10; // units, the default rules' player_size
const close = (a: number, b: number, what: string, eps = 1e-9) => assert.ok(Math.abs(a - b) <= eps, `${what}: ${a} vs ${b}`);

/** The canvas a window of this size leaves: minus the HUD bar and the help line (≈ 50 px). */
const canvasOf = (w: number, h: number) => ({ width: w, height: h - 50 });

test("the zoom rule: a player's square is at least 24 CSS px at 800×600, more on big screens, never over 40", () => {
  for (const [w, h] of [[800, 600], [1920, 1080], [480, 360], [390, 844], [320, 480], [3840, 2160]]) {
    for (const view of [{ width: w, height: h }, canvasOf(w, h)]) {
      const px = zoomFor(view, PLAYER) * PLAYER;
      assert.ok(px >= MIN_SQUARE_PX && px <= MAX_SQUARE_PX, `${view.width}×${view.height}: ${px} px`);
      close(px, squarePx(view), `${view.width}×${view.height}`);
    }
  }
  assert.ok(squarePx(canvasOf(800, 600)) >= 24);
  assert.ok(squarePx(canvasOf(800, 600)) > 24, "800×600 has room for more than the minimum");
  assert.ok(squarePx(canvasOf(1920, 1080)) > squarePx(canvasOf(800, 600)), "bigger screen, bigger squares");
  assert.equal(squarePx(canvasOf(1920, 1080)), MAX_SQUARE_PX);
  assert.equal(squarePx(canvasOf(480, 360)), MIN_SQUARE_PX);
  assert.equal(squarePx(canvasOf(390, 844)), MIN_SQUARE_PX, "a phone: the shorter side rules");
  // Enough of the world around you to play: at least 150 units across either way on a phone.
  const phone = canvasOf(390, 844);
  const scale = zoomFor(phone, PLAYER);
  assert.ok(phone.width / scale >= 150 && phone.height / scale >= 300, `${phone.width / scale} × ${phone.height / scale} units`);
  // The zoom follows the rules' square size: a bigger square, a smaller scale, the same pixels.
  close(zoomFor(canvasOf(800, 600), 20) * 20, squarePx(canvasOf(800, 600)), "player_size 20");
  assert.ok(Number.isFinite(zoomFor(canvasOf(800, 600), 0)), "a zero player size does not break the zoom");
});

test("with a view radius the canvas never shows further than the radius from your player, even while the camera trails it", () => {
  for (const [w, h] of [[800, 600], [1920, 1080], [390, 844], [3840, 2160]]) {
    const view = canvasOf(w, h);
    for (const radius of [30, 100, 250]) {
      const scale = zoomFor(view, PLAYER, radius);
      assert.ok(view.width / scale / 2 <= VIEW_SHARE * radius + 1e-9 && view.height / scale / 2 <= VIEW_SHARE * radius + 1e-9, `${w}×${h}, radius ${radius}: ${view.width / scale} × ${view.height / scale} units`);
      assert.ok(scale >= zoomFor(view, PLAYER), "never smaller squares than without a radius");
    }
    assert.equal(zoomFor(view, PLAYER, 0), zoomFor(view, PLAYER), "0: the whole map is sent, the usual zoom");
  }
  // A radius wide enough changes nothing: 1920×1030 at 4 px/unit spans 480 × 257 units.
  assert.equal(zoomFor(canvasOf(1920, 1080), PLAYER, 400), zoomFor(canvasOf(1920, 1080), PLAYER));
  // The follower: a player running right at 100 units/s, then teleported (a respawn) across
  // the map; at 60 fps the canvas's far edge is never more than the radius from the player.
  const map = { width: 2000, height: 2000 };
  const view = canvasOf(1920, 1080);
  const f = new Follower();
  let worst = 0;
  for (let frame = 0; frame < 240; frame++) {
    const now = frame / 60;
    const target = frame < 120 ? { x: 500 + 100 * now, y: 1000 } : { x: 1500, y: 300 };
    const cam = f.update(target, now, view, map, PLAYER, 100);
    const [halfX, halfY] = [cam.width / cam.scale / 2, cam.height / cam.scale / 2];
    worst = Math.max(worst, Math.abs(cam.x - target.x) + halfX, Math.abs(cam.y - target.y) + halfY);
  }
  assert.ok(worst <= 100 + 1e-9, `the canvas reached ${worst} units from the player`);
});

test("map → screen: the camera's point at the canvas's middle, a unit is `scale` px, and back", () => {
  const cam = { x: 120, y: 80, scale: 3, width: 800, height: 550 };
  assert.deepEqual(toScreen(cam, 120, 80), { x: 400, y: 275 });
  assert.deepEqual(toScreen(cam, 130, 70), { x: 430, y: 245 });
  assert.deepEqual(toScreen(cam, 0, 0), { x: 400 - 360, y: 275 - 240 });
  for (const [x, y] of [[0, 0], [13.5, 470], [500, 500]]) {
    const s = toScreen(cam, x, y);
    const back = toMap(cam, s.x, s.y);
    close(back.x, x, "x");
    close(back.y, y, "y");
  }
  const v = visibleRect(cam);
  close(v.w, 800 / 3, "visible width");
  close(v.h, 550 / 3, "visible height");
  close(v.x + v.w / 2, 120, "visible centre x");
  close(v.y + v.h / 2, 80, "visible centre y");
});

test("clamping: in the middle of the map the camera centres you; at an edge it shows at most EDGE_SLACK of outside", () => {
  const view = { width: 800, height: 550 };
  const scale = zoomFor(view, PLAYER);
  assert.deepEqual(clampCentre({ x: 250, y: 250 }, view, MAP, scale), { x: 250, y: 250 });
  for (const corner of [{ x: 0, y: 0 }, { x: 500, y: 500 }, { x: 0, y: 500 }, { x: -40, y: 600 }]) {
    const c = clampCentre(corner, view, MAP, scale);
    const cam = { ...c, scale, width: view.width, height: view.height };
    const tl = toScreen(cam, 0, 0);
    const br = toScreen(cam, MAP.width, MAP.height);
    // No more than the slack of outside shows, on any side.
    assert.ok(tl.x <= EDGE_SLACK * view.width + 1e-6 && tl.y <= EDGE_SLACK * view.height + 1e-6, JSON.stringify({ corner, tl }));
    assert.ok(br.x >= view.width * (1 - EDGE_SLACK) - 1e-6 && br.y >= view.height * (1 - EDGE_SLACK) - 1e-6, JSON.stringify({ corner, br }));
    // And the player at the corner (if on the map) is on screen, its square whole, clear of the canvas's edge.
    if (corner.x >= 0 && corner.x <= 500 && corner.y >= 0 && corner.y <= 500) {
      const p = toScreen(cam, corner.x, corner.y);
      const half = (PLAYER * scale) / 2;
      assert.ok(p.x - half > 0 && p.y - half > 0 && p.x + half < view.width && p.y + half < view.height, JSON.stringify({ corner, p }));
    }
  }
  // Exactly at the limit: the top-left corner of the map at the slack.
  const c = clampCentre({ x: 0, y: 0 }, view, MAP, scale);
  const tl = toScreen({ ...c, scale, width: view.width, height: view.height }, 0, 0);
  close(tl.x, EDGE_SLACK * view.width, "left edge", 1e-6);
  close(tl.y, EDGE_SLACK * view.height, "top edge", 1e-6);
});

test("clamping: a map smaller than the view is centred on that axis", () => {
  const view = { width: 1920, height: 1030 };
  const scale = zoomFor(view, PLAYER); // 4 px/unit: 480 × 257 units, the 500 map is wider only
  const small = { width: 100, height: 1000 };
  const c = clampCentre({ x: 0, y: 0 }, view, small, scale);
  assert.equal(c.x, 50, "narrow map: centred across");
  assert.ok(c.y > 0 && c.y < 1000, "tall map: clamped, not centred, along");
  assert.equal(clampCentre({ x: 99, y: 500 }, view, small, scale).x, 50);
});

test("following: the first frame snaps to you; then the camera trails and catches up; a respawn glides there", () => {
  const view = { width: 800, height: 550 };
  const f = new Follower(8);
  let cam = f.update({ x: 250, y: 250 }, 10, view, MAP, PLAYER);
  assert.deepEqual([cam.x, cam.y], [250, 250]);
  close(cam.scale * PLAYER, squarePx(view), "the camera's zoom is the rule's");
  // You run right at 100 units/s, 60 frames a second: the camera follows, a little behind.
  let t = 10;
  let x = 250;
  for (let i = 0; i < 60; i++) {
    t += 1 / 60;
    x += 100 / 60;
    cam = f.update({ x, y: 250 }, t, view, MAP, PLAYER);
    assert.ok(cam.x <= x && cam.x > x - 20, `frame ${i}: camera ${cam.x}, you ${x}`);
  }
  // You stop: within half a second the camera is on you (within a pixel or two), in a second exactly.
  for (let i = 0; i < 30; i++) cam = f.update({ x, y: 250 }, (t += 1 / 60), view, MAP, PLAYER);
  close(cam.x, x, "nearly caught up", 0.5);
  for (let i = 0; i < 30; i++) cam = f.update({ x, y: 250 }, (t += 1 / 60), view, MAP, PLAYER);
  close(cam.x, x, "caught up", 0.01);
  // A respawn 100 units away: the next frame has not jumped there, a second later it is there.
  cam = f.update({ x: x - 100, y: 150 }, (t += 1 / 60), view, MAP, PLAYER);
  assert.ok(cam.x > x - 95 && cam.y > 155, `glides, not jumps: ${cam.x}, ${cam.y}`);
  for (let i = 0; i < 60; i++) cam = f.update({ x: x - 100, y: 150 }, (t += 1 / 60), view, MAP, PLAYER);
  close(cam.x, x - 100, "arrived x", 0.05);
  close(cam.y, 150, "arrived y", 0.05);
  // A reset (another player, another room) snaps.
  f.reset();
  cam = f.update({ x: 300, y: 200 }, (t += 1 / 60), view, MAP, PLAYER);
  assert.deepEqual([cam.x, cam.y], [300, 200]);
  // Following into a corner stops at the clamp, not past it.
  const stop = clampCentre({ x: 0, y: 0 }, view, MAP, cam.scale);
  for (let i = 0; i < 120; i++) {
    cam = f.update({ x: 0, y: 0 }, (t += 1 / 60), view, MAP, PLAYER);
    assert.ok(cam.x >= stop.x && cam.y >= stop.y, `past the clamp: ${cam.x}, ${cam.y}`);
  }
  close(cam.x, stop.x, "at the clamp x", 1e-3);
  close(cam.y, stop.y, "at the clamp y", 1e-3);
});

test("following: a canvas resize keeps the camera clamped at once", () => {
  const f = new Follower();
  f.update({ x: 0, y: 0 }, 0, { width: 400, height: 300 }, MAP, PLAYER);
  const big = { width: 1600, height: 1000 };
  const cam = f.update({ x: 0, y: 0 }, 0, big, MAP, PLAYER); // no time passed: no smoothing
  assert.deepEqual({ x: cam.x, y: cam.y }, clampCentre({ x: 0, y: 0 }, big, MAP, cam.scale));
});

test("the grid's lines are at least 48 px apart, on round numbers", () => {
  assert.equal(gridStep(2.4), 25);
  assert.equal(gridStep(4), 25);
  assert.equal(gridStep(1), 50);
  assert.equal(gridStep(10), 5);
  assert.equal(gridStep(0.05), 500);
  for (const s of [0.3, 1, 2.4, 2.76, 4, 7]) assert.ok(gridStep(s) * s >= 48);
});
