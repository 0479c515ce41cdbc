// What the end-to-end tests share: the real server on 127.0.0.1:0 serving the built client
// (dist/), headless Chromium (Debian's, at /usr/bin/chromium, installed by
// scripts/install-chromium.sh), and bounded waits that say what they waited for. Not a test
// file itself (node --test runs only *.test.mjs here).
import { spawn } from "node:child_process";
import { chromium } from "playwright-core";
import { after, before } from "node:test";

/** The repository's root. */
export const root = new URL("../../", import.meta.url).pathname;
export const bin = process.env.SKIRMISH_BIN ?? `${root}target/debug/skirmish`;
/** Where screenshots go. */
export const artifacts = process.env.ARTIFACTS_DIR ?? `${root}artifacts`;
/** The longest any one wait in a page may take. */
export const WAIT_MS = 15_000;

/**
 * Starts the server (no bots, no respawn) and resolves to it and its base URL once it serves.
 * `extraArgs` go after the usual flags (`--tls-cert`, say); `scheme` is the base URL's
 * (`https` for a server given a certificate).
 */
export function startServer({ extraArgs = [], scheme = "http" } = {}) {
  const proc = spawn(
    bin,
    ["--addr", "127.0.0.1:0", "--web-root", `${root}web-client/dist`, "--spawn-min", "0", "--spawn-max", "0",
     "--respawn-delay-ms", "600000", "--log", "info", ...extraArgs],
    { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, NO_COLOR: "1" } },
  );
  return new Promise((resolve, reject) => {
    let log = "";
    const timer = setTimeout(() => reject(new Error(`server did not report its address within 20 s:\n${log}`)), 20_000);
    proc.stderr.on("data", (chunk) => {
      log += chunk;
      const m = log.replace(/\x1b\[[0-9;]*m/g, "").match(/serving addr=(127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, base: `${scheme}://${m[1]}/` });
      }
    });
    proc.on("exit", (code) => reject(new Error(`server exited (${code}) before serving:\n${log}`)));
  });
}

/** Stops the server started by startServer (SIGTERM), waiting at most 10 s for it to exit. */
export async function stopServer(server) {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once("exit", r));
    server.kill("SIGTERM");
    // The timer is cleared once the server exits: a pending one would keep this test
    // process alive for the rest of the 10 s.
    let timer;
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 10_000)))]);
    clearTimeout(timer);
  }
}

/** Headless Chromium (`CHROMIUM` names another binary), with `args` added to its flags. */
export function launchBrowser({ args = [] } = {}) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-background-timer-throttling",
      "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows", ...args,
    ],
  });
}

/**
 * Waits at most WAIT_MS for `fn(arg)` to be truthy in `page`; on a timeout, fails naming
 * `what` and the page's state.
 */
export async function waitFor(page, what, fn, arg) {
  try {
    return await page.waitForFunction(fn, arg, { timeout: WAIT_MS, polling: 50 });
  } catch (e) {
    const state = await page.evaluate(() => ({
      me: window.skirmish?.playerId, state: window.skirmish?.state, transport: window.skirmish?.transport,
      room: window.skirmish?.room, hud: document.getElementById("hud")?.textContent, entities: window.skirmish?.entities(),
      feed: window.skirmish?.feed(),
    }));
    throw new Error(`timed out after ${WAIT_MS} ms waiting for ${what}; page state: ${JSON.stringify(state)}`, { cause: e });
  }
}

/** In the page: whether the HUD's text includes `text`. */
export const hudSays = (text) => document.getElementById("hud").textContent.includes(text);

/**
 * Registers the file's set-up: before its tests the server and a browser start, after them
 * both stop. `use` receives `{ browser, base }` (the page's base URL) once they are up.
 */
export function serverAndBrowser(use) {
  let server;
  let browser;
  before(async () => {
    let base;
    ({ proc: server, base } = await startServer());
    browser = await launchBrowser();
    use({ browser, base });
  });
  after(async () => {
    await browser?.close();
    await stopServer(server);
  });
}
