// End to end, what the presentation issue asks be checked in a real browser (set up as for
// battle.test.mjs by helpers.mjs: the real server on 127.0.0.1:0 serving the built client,
// headless Chromium; players spawn at (0, 0), respawns are off):
//  - the PNG decoder (png.mjs) these checks read screenshots with, on images Chromium made;
//  - an 800×600 screenshot at 1 device px per CSS px, decoded and checked pixel by pixel:
//    your square, in its exact fill colour, spans at least 24 px each way where
//    window.skirmish.view() puts it, and every name label is inside the canvas and has text
//    drawn in it;
//  - a 390×844 touch phone: a finger held on the stick, right of its centre, moves your
//    player right, and letting go stops it;
//  - a reload resumes the same player, and a page watching never sees it leave;
//  - closing a page (its pagehide sends the leave) has the other page see the player go
//    within a second.
// Screenshots go to artifacts/. Every wait is bounded and says what it waited for.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { deflateSync } from "node:zlib";
import { test } from "node:test";

import { artifacts, serverAndBrowser, waitFor } from "./helpers.mjs";
import { decodePng, paeth, pixelAt } from "./png.mjs";

let browser;
let base;

serverAndBrowser((up) => ({ browser, base } = up));

/** A page in a new context with `options`, at `query`, once welcomed. */
async function open(query, label, options = {}) {
  const page = await (await browser.newContext(options)).newPage();
  await page.goto(`${base}?${query}`);
  await waitFor(page, `${label}'s welcome`, () => window.skirmish.playerId > 0 && window.skirmish.state === "open");
  return { page, id: await page.evaluate(() => window.skirmish.playerId) };
}

/** In the page: player `id` as the page sees it, or null. */
const entityOf = (id) => window.skirmish.entities().find((e) => e.id === id) ?? null;

/** Whether two colours ([r, g, b, …]) are within `tol` of each other in every channel. */
const near = (a, b, tol) => Math.abs(a[0] - b[0]) <= tol && Math.abs(a[1] - b[1]) <= tol && Math.abs(a[2] - b[2]) <= tol;

/** "#rgb" or "#rrggbb" as [r, g, b]. */
function rgbOf(hex) {
  const h = hex.length === 4 ? [...hex.slice(1)].map((c) => c + c).join("") : hex.slice(1);
  return [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16));
}

/** A PNG of `rows` (each an array of bytes, `channels` a pixel) with row i filtered by
 * filter type `filters[i]`: the decoder's input, built the way the spec says an encoder does. */
function encodePng(width, rows, channels, filters) {
  const chunk = (type, body) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(body.length, 0);
    head.write(type, 4, "latin1");
    return Buffer.concat([head, body, Buffer.alloc(4)]); // CRC left 0: the decoder doesn't read it
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(rows.length, 4);
  ihdr[8] = 8;
  ihdr[9] = { 1: 0, 2: 4, 3: 2, 4: 6 }[channels];
  const raw = [];
  rows.forEach((row, y) => {
    const up = y > 0 ? rows[y - 1] : null;
    raw.push(filters[y]);
    row.forEach((v, i) => {
      const a = i >= channels ? row[i - channels] : 0;
      const b = up ? up[i] : 0;
      const c = up && i >= channels ? up[i - channels] : 0;
      const pred = [0, a, b, (a + b) >> 1, paeth(a, b, c)][filters[y]];
      raw.push((v - pred) & 0xff);
    });
  });
  const data = deflateSync(Buffer.from(raw));
  // The image data split over two IDAT chunks, as encoders may.
  const cut = data.length >> 1;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr),
    chunk("IDAT", data.subarray(0, cut)), chunk("IDAT", data.subarray(cut)), chunk("IEND", Buffer.alloc(0)),
  ]);
}

test("the PNG decoder: all five filters, and screenshots Chromium made of known pixels", async () => {
  // Hand-made: RGB and RGBA, five rows, each with another filter.
  for (const channels of [3, 4]) {
    const width = 7;
    const rows = Array.from({ length: 5 }, (_, y) => Array.from({ length: width * channels }, (_, i) => (y * 73 + i * 41 + ((i * i) % 13) * 17) & 0xff));
    const img = decodePng(encodePng(width, rows, channels, [0, 1, 2, 3, 4]));
    assert.equal(img.width, width);
    assert.equal(img.height, 5);
    for (let y = 0; y < 5; y++) {
      for (let x = 0; x < width; x++) {
        const want = rows[y].slice(x * channels, (x + 1) * channels);
        if (channels === 3) want.push(255);
        assert.deepEqual(pixelAt(img, x, y), want, `${channels}-channel pixel (${x}, ${y}), filter ${y}`);
      }
    }
  }
  assert.throws(() => decodePng(Buffer.from("not a png at all")), /signature/);

  const page = await (await browser.newContext({ viewport: { width: 200, height: 120 }, deviceScaleFactor: 1 })).newPage();
  // A solid block of a known colour.
  await page.setContent('<body style="margin:0;background:#000"><div id="block" style="width:50px;height:30px;background:rgb(12, 200, 77)"></div>');
  const block = decodePng(await page.locator("#block").screenshot());
  assert.equal(block.width, 50);
  assert.equal(block.height, 30);
  for (let y = 0; y < block.height; y++) {
    for (let x = 0; x < block.width; x++) assert.deepEqual(pixelAt(block, x, y), [12, 200, 77, 255], `block pixel (${x}, ${y})`);
  }
  // Noise (which Chromium's encoder filters every which way), put on a canvas pixel by pixel:
  // the screenshot decodes to the very bytes put there.
  const noise = await page.evaluate(() => {
    document.body.innerHTML = '<canvas id="noise" width="61" height="37" style="display:block"></canvas>';
    const ctx = document.getElementById("noise").getContext("2d");
    const img = ctx.createImageData(61, 37);
    let s = 12345;
    for (let i = 0; i < img.data.length; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      // Smooth runs and noise, so that different rows suit different filters.
      img.data[i] = i % 4 === 3 ? 255 : (i >> 8) % 3 === 0 ? (i >> 2) & 0xff : s >>> 24;
    }
    ctx.putImageData(img, 0, 0);
    return Array.from(img.data);
  });
  const shot = decodePng(await page.locator("#noise").screenshot());
  assert.equal(shot.width, 61);
  assert.equal(shot.height, 37);
  const bad = [];
  for (let i = 0; i < noise.length; i += 4) {
    if (!near(noise.slice(i, i + 3), shot.data.subarray(i, i + 3), 0)) bad.push(`(${(i / 4) % 61}, ${Math.floor(i / 4 / 61)})`);
  }
  assert.deepEqual(bad.slice(0, 10), [], `${bad.length} noise pixels differ`);
  await page.context().close();
});

test("an 800×600 screenshot shows your square ≥ 24 px in its colour where the view says, and every label drawn inside the canvas", async (t) => {
  const desk = await open("name=pix&room=pixels", "the desktop", { viewport: { width: 800, height: 600 }, deviceScaleFactor: 1 });
  const other = await open("name=other&room=pixels", "the other page");
  const { page } = desk;
  await page.bringToFront(); // drawn on animation frames
  await waitFor(page, "both players' labels", () => window.skirmish.labels().labels.length === 2);

  /** In the page: the last frame's camera and labels, your player, and your square's fill
   * colour as the canvas paints it (render.ts's colourOf: hsl(id × 137.508° 70% 50%)). */
  const state = () => {
    const id = window.skirmish.playerId;
    const ctx = new OffscreenCanvas(1, 1).getContext("2d");
    ctx.fillStyle = `hsl(${((id * 137.508) % 360).toFixed(0)} 70% 50%)`;
    ctx.fillRect(0, 0, 1, 1);
    const view = window.skirmish.view();
    return {
      me: window.skirmish.entities().find((e) => e.id === id),
      view: { scale: view.scale, square: view.square, camera: view.camera, canvas: view.canvas, dpr: view.dpr },
      labels: window.skirmish.labels().labels,
      fill: Array.from(ctx.getImageData(0, 0, 1, 1).data.slice(0, 3)),
    };
  };
  // Nobody moves, so the picture holds still: the state read before the screenshot and after
  // it must agree (else the screenshot may show another frame), a few tries at most.
  let s;
  let png;
  for (let attempt = 0; ; attempt++) {
    s = await page.evaluate(state);
    png = await page.screenshot();
    if (JSON.stringify(await page.evaluate(state)) === JSON.stringify(s)) break;
    assert.ok(attempt < 5, "the page never held still for a screenshot");
  }
  mkdirSync(artifacts, { recursive: true });
  writeFileSync(`${artifacts}/e2e-pixels-800x600.png`, png);
  const img = decodePng(png);
  assert.deepEqual([img.width, img.height], [800, 600], "screenshot size at deviceScaleFactor 1");
  assert.equal(s.view.dpr, 1);
  const box = await page.locator("#map").boundingBox();
  assert.ok(box.x >= 0 && box.y >= 0 && box.x + box.width <= img.width && box.y + box.height <= img.height, `canvas box ${JSON.stringify(box)} outside the screenshot`);
  assert.deepEqual([box.width, box.height], [s.view.canvas.width, s.view.canvas.height], "the canvas's box and the view's canvas agree");

  // Your square: centred where the camera puts your player (positions are in 1/8 units).
  const cx = Math.floor(box.x + (s.me.x / 8 - s.view.camera.x) * s.view.scale + s.view.canvas.width / 2);
  const cy = Math.floor(box.y + (s.me.y / 8 - s.view.camera.y) * s.view.scale + s.view.canvas.height / 2);
  const fill = s.fill;
  assert.ok(near(pixelAt(img, cx, cy), fill, 2), `pixel (${cx}, ${cy}) at your player is ${pixelAt(img, cx, cy)}, not your colour ${fill}`);
  // Its 1 px edge is the fill under rgba(0, 0, 0, 0.45): part of the square too.
  const edge = fill.map((v) => v * 0.55);
  const ofSquare = (x, y) => x >= 0 && y >= 0 && x < img.width && y < img.height && (near(pixelAt(img, x, y), fill, 2) || near(pixelAt(img, x, y), edge, 3));
  const run = (dx, dy) => {
    let n = 0;
    while (ofSquare(cx + dx * (n + 1), cy + dy * (n + 1))) n++;
    return n;
  };
  const across = run(-1, 0) + 1 + run(1, 0);
  const down = run(0, -1) + 1 + run(0, 1);
  // …and the fill alone, without the edge, spans the square less its two edge pixels.
  let inner = 0;
  for (let x = cx - 60; x <= cx + 60; x++) if (x >= 0 && x < img.width && near(pixelAt(img, x, cy), fill, 2)) inner++;
  t.diagnostic(`your square: ${across}×${down} px in the screenshot (fill ${inner} px across), view.square ${s.view.square} CSS px, colour rgb(${fill})`);
  assert.ok(across >= 24 && down >= 24, `your square spans ${across}×${down} px in the screenshot, want ≥ 24 each way`);
  assert.ok(Math.abs(across - s.view.square) <= 1 && Math.abs(down - s.view.square) <= 1, `your square spans ${across}×${down} px, the view says ${s.view.square}`);
  assert.ok(inner >= across - 2, `only ${inner} px of the ${across} across are the fill colour`);

  // Every label: inside the canvas's box, and text drawn in it (pixels of its text colours:
  // the name in white, yours, or #d4d9e0; the hp in #7d7).
  assert.equal(s.labels.length, 2);
  for (const l of s.labels) {
    const x0 = box.x + l.x;
    const y0 = box.y + l.y;
    assert.ok(x0 >= box.x && y0 >= box.y && x0 + l.w <= box.x + box.width && y0 + l.h <= box.y + box.height,
      `label "${l.text}" at ${JSON.stringify(l)} outside the canvas box ${JSON.stringify(box)}`);
    const nameColour = rgbOf(l.id === desk.id ? "#fff" : "#d4d9e0");
    const hpColour = rgbOf("#7d7");
    let name = 0;
    let hp = 0;
    for (let y = Math.floor(y0); y < Math.ceil(y0 + l.h); y++) {
      for (let x = Math.floor(x0); x < Math.ceil(x0 + l.w); x++) {
        const p = pixelAt(img, x, y);
        if (near(p, nameColour, 40)) name++;
        if (near(p, hpColour, 40)) hp++;
      }
    }
    t.diagnostic(`label "${l.text}" ${l.w}×${l.h} at (${x0}, ${y0}): ${name} name-coloured and ${hp} hp-coloured px`);
    assert.match(l.text, /^(pix|other) 100$/, `label text ${l.text}`);
    assert.ok(name >= 10, `label "${l.text}" has ${name} px of its name's colour ${nameColour}: not drawn there`);
    assert.ok(hp >= 4, `label "${l.text}" has ${hp} px of its hp's colour ${hpColour}: not drawn there`);
    // A control: the same rectangle in the middle of the canvas (empty ground, the players
    // being at the map's top-left corner) has no such pixels, so the counts above are the text.
    let control = 0;
    const mx = Math.floor(box.x + box.width / 2);
    const my = Math.floor(box.y + box.height / 2);
    for (let y = my; y < my + Math.ceil(l.h); y++) {
      for (let x = mx; x < mx + Math.ceil(l.w); x++) if (near(pixelAt(img, x, y), nameColour, 40) || near(pixelAt(img, x, y), hpColour, 40)) control++;
    }
    assert.equal(control, 0, `${control} text-coloured px on the empty ground in the middle of the canvas`);
  }
  await page.context().close();
  await other.page.context().close();
});

test("on a 390×844 touch phone, holding the stick right of its centre moves your player right, and letting go stops it", async (t) => {
  const { page, id } = await open("name=thumb&room=stick", "the phone", { viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true });
  await page.bringToFront();
  assert.ok(await page.evaluate(() => document.body.classList.contains("touch")), "the page did not detect the touch screen");
  const stick = page.locator("#stick");
  assert.ok(await stick.isVisible(), "the stick is not shown");
  const box = await stick.boundingBox();
  const start = await page.evaluate(entityOf, id);
  // A finger down 3/4 of the radius right of the stick's centre (the dead zone is 1/4), held.
  const finger = { x: box.x + box.width / 2 + box.width * 0.375, y: box.y + box.height / 2, id: 1, radiusX: 8, radiusY: 8, force: 1 };
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: [finger] });
  let released = false;
  try {
    await waitFor(page, "the stick to light up under the finger", () => document.getElementById("stick").classList.contains("active"));
    const heldAt = Date.now();
    // A few ticks' worth (30 a second, 1/8-unit positions): 5 units right, as the server has it.
    await waitFor(page, "the player to move right while the stick is held", ([i, x]) => (window.skirmish.entities().find((e) => e.id === i)?.x ?? -1) >= x + 40, [id, start.x]);
    t.diagnostic(`moved from x ${start.x} to ≥ ${start.x + 40} (1/8 units) in ${Date.now() - heldAt} ms of holding`);
    await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
    released = true;
  } finally {
    if (!released) await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] }).catch(() => {});
  }
  await waitFor(page, "the stick to let go", () => !document.getElementById("stick").classList.contains("active"));
  // Stopped: the same x for 500 ms running.
  await waitFor(page, "the player to stop once the finger lifts", (i) => {
    const x = window.skirmish.entities().find((e) => e.id === i)?.x;
    const w = (window.stillSince ??= { x, at: Date.now() });
    if (x !== w.x) window.stillSince = { x, at: Date.now() };
    return x === w.x && Date.now() - w.at >= 500;
  }, id);
  const end = await page.evaluate(entityOf, id);
  assert.ok(end.x > start.x, `x went from ${start.x} to ${end.x}`);
  assert.equal(end.y, start.y, "a stick pushed straight right moved the player up or down");
  t.diagnostic(`stopped at x ${end.x} (from ${start.x}), y ${end.y}`);
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: `${artifacts}/e2e-phone-stick.png` });
  await page.context().close();
});

/** In a watching page: from now on, every 10 ms, notes the first time (Date.now()) player
 * `id` is missing (window.gone) and how often it was checked (window.checks). */
const watch = (id) => {
  window.gone = null;
  window.checks = 0;
  const timer = setInterval(() => {
    window.checks++;
    if (window.gone === null && !window.skirmish.entities().some((e) => e.id === id)) {
      window.gone = Date.now();
      clearInterval(timer);
    }
  }, 10);
};

test("a reload resumes the same player, and a page watching never sees it leave", async (t) => {
  const watcher = await open("name=watcher&room=reload", "the watching page");
  const reloader = await open("name=reloader&room=reload", "the reloading page");
  const { page } = reloader;
  await waitFor(watcher.page, "the watcher to see the reloading player", (i) => window.skirmish.entities().some((e) => e.id === i), reloader.id);
  await watcher.page.evaluate(watch, reloader.id);

  const reloadAt = Date.now();
  await page.reload();
  await waitFor(page, "the reloaded page's welcome", () => window.skirmish.playerId > 0 && window.skirmish.state === "open");
  t.diagnostic(`welcomed again ${Date.now() - reloadAt} ms after the reload began`);
  assert.equal(await page.evaluate(() => window.skirmish.playerId), reloader.id, "a new player id after the reload: not resumed");
  assert.ok((await page.evaluate(() => window.skirmish.feed())).includes("reconnected: welcome back"), "the reloaded page was not told it resumed");

  // A move made after the resume, seen by the watcher: frames arrive in order, so any leave
  // (which the server would send by the end of its 0.5 s leave grace) came before it.
  await page.bringToFront();
  await page.keyboard.down("ArrowDown");
  try {
    await waitFor(watcher.page, "the watcher to see the resumed player move", (i) => (window.skirmish.entities().find((e) => e.id === i)?.y ?? 0) >= 80, reloader.id);
  } finally {
    await page.keyboard.up("ArrowDown");
  }
  // And on, until well past the end of the leave grace (0.5 s from the leave sent on
  // pagehide, before the reload began): a player resumed must not be dropped when it ends.
  const until = reloadAt + 1500;
  await waitFor(watcher.page, "the watch to run 1.5 s past the reload, or the player to go", (u) => window.gone !== null || Date.now() >= u, until);
  const seen = await watcher.page.evaluate(() => ({ gone: window.gone, checks: window.checks, feed: window.skirmish.feed() }));
  t.diagnostic(`the watcher checked ${seen.checks} times over ${Date.now() - reloadAt} ms; its feed: ${JSON.stringify(seen.feed)}`);
  assert.equal(seen.gone, null, `the watcher lost the player ${seen.gone - reloadAt} ms after the reload began`);
  assert.ok(seen.checks >= 20, `the watcher checked only ${seen.checks} times`);
  assert.ok(!seen.feed.includes("reloader left"), `the watcher saw the player leave: ${seen.feed}`);
  assert.equal(seen.feed.filter((f) => f === "reloader joined").length, 1, `the watcher saw the player join again: ${seen.feed}`);
  await page.context().close();
  await watcher.page.context().close();
});

test("closing a page: the other page sees its player leave within a second", async (t) => {
  const stay = await open("name=stay&room=closers", "the staying page");
  const go = await open("name=go&room=closers", "the closing page");
  await waitFor(stay.page, "the staying page to see the other player", (i) => window.skirmish.entities().some((e) => e.id === i), go.id);
  await stay.page.evaluate(watch, go.id);
  const closedAt = Date.now();
  await go.page.close({ runBeforeUnload: true }); // pagehide: the client sends leave
  await waitFor(stay.page, "the closed page's player to be gone", () => window.gone !== null);
  const gone = await stay.page.evaluate(() => window.gone);
  const took = gone - closedAt;
  t.diagnostic(`the staying page saw the player gone ${took} ms after the close call`);
  assert.ok(took < 1000, `the player was gone ${took} ms after the close, want < 1000 ms`);
  await waitFor(stay.page, "the staying page's feed to say the player left", () => window.skirmish.feed().includes("go left"));
  await go.page.context().close();
  await stay.page.context().close();
});
