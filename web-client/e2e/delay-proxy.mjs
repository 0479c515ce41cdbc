// A TCP proxy for the end-to-end tests that makes a link feel far away: every chunk read from
// one side is written to the other `base` ms ± `spread` ms later (uniform, drawn per chunk,
// each direction independently), and never out of order within a direction: a chunk is
// released at max(its own due time, the previous chunk's release). A page loaded from the
// proxy's origin gets its page, its scripts and its WebSocket through it. `blackHole()`
// stops forwarding both ways without closing anything (what was in flight is lost, later
// bytes are dropped, new connections are accepted and hear nothing): a link that died
// silently, as on a train going into a tunnel. Not a test file itself (node --test runs only
// *.test.mjs here).
import net from "node:net";

/**
 * Starts a proxy on 127.0.0.1:0 forwarding to `target` (`host:port`); resolves to
 * `{ port, origin, blackHole(), close() }` once it listens. `rand` (0 ≤ r < 1) draws the spread.
 */
export function startDelayProxy(target, { base = 100, spread = 30, rand = Math.random } = {}) {
  const [host, port] = [target.slice(0, target.lastIndexOf(":")), Number(target.slice(target.lastIndexOf(":") + 1))];
  const sockets = new Set();
  let holed = false;
  const track = (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {}); // a reset is the other side going away; close handles it
    s.setNoDelay(true); // a chunk goes out when it is due, not when Nagle lets it
  };

  /** Forwards `from` to `to`, each chunk delayed, in order. */
  const pipe = (from, to) => {
    const queue = []; // { at (ms, performance clock), chunk | null for the end }
    let last = 0;
    let timer = null;
    const flush = () => {
      timer = null;
      const now = performance.now();
      while (queue.length > 0 && queue[0].at <= now) {
        const { chunk } = queue.shift();
        if (holed || to.destroyed) continue;
        if (chunk === null) to.end();
        else to.write(chunk);
      }
      if (queue.length > 0) timer = setTimeout(flush, Math.max(0, queue[0].at - performance.now()));
    };
    const enqueue = (chunk) => {
      if (holed) return;
      const due = performance.now() + base + (rand() * 2 - 1) * spread;
      last = Math.max(due, last);
      queue.push({ at: last, chunk });
      if (timer === null) timer = setTimeout(flush, Math.max(0, queue[0].at - performance.now()));
    };
    from.on("data", enqueue);
    from.on("end", () => enqueue(null));
    from.on("close", () => {
      // Reset (not ended): the other side goes too, once what was sent before has gone out.
      if (!from.readableEnded) enqueue(null);
    });
    return () => {
      if (timer !== null) clearTimeout(timer);
      queue.length = 0;
    };
  };

  const stops = new Set();
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    track(client);
    const upstream = net.connect({ host, port, allowHalfOpen: true });
    track(upstream);
    const stopUp = pipe(client, upstream);
    const stopDown = pipe(upstream, client);
    stops.add(stopUp);
    stops.add(stopDown);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port: own } = server.address();
      resolve({
        port: own,
        origin: `http://127.0.0.1:${own}/`,
        /** From now on nothing crosses, either way; nothing is closed. */
        blackHole() {
          holed = true;
          for (const stop of stops) stop();
        },
        get holed() {
          return holed;
        },
        /** Closes the proxy and every connection through it. */
        close() {
          holed = true;
          for (const stop of stops) stop();
          for (const s of sockets) s.destroy();
          return new Promise((r) => server.close(() => r()));
        },
      });
    });
  });
}
