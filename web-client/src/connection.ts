// One link to the server that comes back by itself: an unexpected close reconnects with
// backoff (backoff.ts), and every state change is reported for the HUD. A link that goes
// silent (no message for SILENT_LIMIT_MS while open: the page pings every second, so even a
// quiet world answers) is taken for dead: the link is dropped at once and a new one opened,
// rather than waiting the minutes TCP can take to notice. Only `leave` (the user went away) or
// `stop` ends it. The link is a WebSocket, or HTTP long-polling (polling.ts) where the page
// asks for it (`?transport=polling`), or where WebSocket looks blocked: FALLBACK_AFTER
// WebSockets in a row failed to open (closed before opening, or still not open after
// OPEN_TIMEOUT_MS, as behind a proxy that swallows the upgrade) and none has ever opened on
// this page. Then it is polling for the rest of the page's life. A page whose WebSocket
// opened once never falls back: failures after that are a server restart or a network blip,
// retried over WebSocket with the backoff. `?transport=websocket` never falls back.

import { reconnectDelay } from "./backoff";
import { PollingSocket } from "./polling";

export type ConnState = "connecting" | "open" | "reconnecting" | "closed";
export type Transport = "websocket" | "polling";

/** What the connection needs of a transport: a WebSocket's surface (polling.ts has a stand-in). */
export interface Link {
  /** A WebSocket's values: OPEN (1) is open. */
  readonly readyState: number;
  onopen: (() => void) | null;
  /** Binary messages come as ArrayBuffers. */
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  send(bytes: Uint8Array): void;
  close(code?: number, reason?: string): void;
}

export interface Options {
  /** One transport only (the page's `?transport=`); null: WebSocket, then polling if it can't open. */
  transport?: Transport | null;
  /** Opens a polling link (tests substitute a stand-in). */
  polling?: () => Link;
}

export interface Handlers {
  onOpen(send: (bytes: Uint8Array) => void): void;
  onMessage(bytes: Uint8Array): void;
  onState(state: ConnState, detail: string): void;
}

/** Close codes after which reconnecting can't help: 4001, another protocol version; 4002, the
 * player taken over by a newer connection with its token (a duplicated tab: coming back would
 * take it back, and the two tabs would take turns for ever); 4004, the seat ticket refused
 * (missing, forged, expired, another room: the same ticket would be refused again). */
const FINAL_CODES = new Set([4001, 4002, 4004]);

/** An open socket that delivers nothing for this long is taken for dead. */
export const SILENT_LIMIT_MS = 2500;
/** WebSockets that fail to open this many times in a row, none ever open: polling from then on. */
export const FALLBACK_AFTER = 2;
/** A WebSocket not open this long after it was made is closed, and counts as failing to open. */
export const OPEN_TIMEOUT_MS = 5000;
const OPEN = 1;

/** The transport `?transport=` asks for in the page's query string `search`, if it names one. */
export function transportOf(search: string): Transport | null {
  const asked = new URLSearchParams(search).get("transport");
  return asked === "websocket" || asked === "polling" ? asked : null;
}

export class Connection {
  private ws: Link | null = null;
  private attempt = 0;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Fires when the open socket has been silent for SILENT_LIMIT_MS; re-armed by every message. */
  private watchdog: ReturnType<typeof setTimeout> | null = null;
  /** Fires when the WebSocket being opened has not opened within OPEN_TIMEOUT_MS. */
  private openTimer: ReturnType<typeof setTimeout> | null = null;
  private current: Transport;
  /** WebSockets in a row that failed to open (only counted while none ever opened). */
  private failedOpens = 0;
  /** A WebSocket opened on this page once: WebSocket works here, never fall back. */
  private wsOpened = false;
  private readonly forced: Transport | null;
  private readonly dialPolling: () => Link;

  /** `url`: the WebSocket's. */
  constructor(private url: string, private handlers: Handlers, options: Options = {}) {
    this.forced = options.transport ?? null;
    this.current = this.forced ?? "websocket";
    this.dialPolling = options.polling ?? (() => new PollingSocket());
  }

  /** The transport in use (or being tried). */
  get transport(): Transport {
    return this.current;
  }

  start(): void {
    this.stopped = false;
    this.open("connecting");
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.disarm();
    this.clearOpenTimer();
    this.ws?.close(1000, "bye");
    this.handlers.onState("closed", "stopped");
  }

  /**
   * Leaves for good: sends `bytes` (the leave message) if the socket is open, then closes it
   * and never reconnects. For the page going away; a socket that merely fails reconnects and
   * the server resumes the player, so this is never called for that.
   */
  leave(bytes: Uint8Array): void {
    // A WebSocket sends in order: the leave goes out before the close frame. Polling sends
    // it in close()'s keepalive POST, which outlives the page.
    this.send(bytes);
    this.stop();
  }

  /** Drops the socket as a network failure would (reconnects). */
  drop(): void {
    this.ws?.close(4000, "dropped by client");
  }

  send(bytes: Uint8Array): void {
    if (this.ws?.readyState === OPEN) this.ws.send(bytes);
  }

  private open(state: ConnState, detail = this.attempt ? `attempt ${this.attempt}` : ""): void {
    this.handlers.onState(state, detail);
    const ws = this.current === "polling" ? this.dialPolling() : webSocket(this.url);
    this.ws = ws;
    let opened = false;
    // A polling link opens at once (polling.ts); a WebSocket may hang in CONNECTING for good.
    if (this.current === "websocket") {
      this.openTimer = setTimeout(() => this.notOpen(ws), OPEN_TIMEOUT_MS);
    }
    // Every handler ignores a socket that is no longer the current one: one closed by the
    // watchdog or the open timeout (its late events, whenever they come, change nothing).
    ws.onopen = () => {
      if (this.ws !== ws) return;
      opened = true;
      this.clearOpenTimer();
      if (this.current === "websocket") this.wsOpened = true;
      this.arm(ws);
      this.handlers.onState("open", "");
      this.handlers.onOpen((b) => this.send(b));
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      // The backoff starts over once the server said something (not at open: a polling link
      // opens before any request, so a server that is down would be asked every second).
      this.attempt = 0;
      this.arm(ws);
      if (ev.data instanceof ArrayBuffer) this.handlers.onMessage(new Uint8Array(ev.data));
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.disarm();
      this.clearOpenTimer();
      if (this.stopped) return;
      if (FINAL_CODES.has(ev.code)) {
        this.handlers.onState("closed", `${ev.code} ${ev.reason}`);
        return;
      }
      const why = `closed ${ev.reason ? `${ev.code} ${ev.reason}` : `${ev.code}`}`;
      if (opened) this.retry(why);
      else this.failedOpen(why);
    };
  }

  /** The WebSocket `ws` is still not open after OPEN_TIMEOUT_MS: give it up, a failed open. */
  private notOpen(ws: Link): void {
    this.openTimer = null;
    if (this.ws !== ws || this.stopped) return;
    this.ws = null;
    ws.close(4000, `not open after ${OPEN_TIMEOUT_MS / 1000} s`);
    this.failedOpen(`WebSocket not open after ${OPEN_TIMEOUT_MS / 1000} s`);
  }

  /** The link closed (or was given up on) before it opened: reconnect, or fall back to polling. */
  private failedOpen(why: string): void {
    if (this.current === "websocket" && this.forced === null && !this.wsOpened && ++this.failedOpens >= FALLBACK_AFTER) {
      // No WebSocket ever opened here: WebSocket is blocked on the way (or the server was
      // down since the page loaded). Polling, for good, tried at once.
      this.current = "polling";
      this.attempt = 0;
      this.open("reconnecting", `${why}; WebSocket failed to open ${this.failedOpens} times: trying HTTP long-polling`);
      return;
    }
    this.retry(why);
  }

  /** Schedules the next attempt and says why. */
  private retry(why: string): void {
    const delay = reconnectDelay(this.attempt++, Math.random());
    this.handlers.onState("reconnecting", `${why}; retry in ${(delay / 1000).toFixed(1)} s`);
    this.timer = setTimeout(() => this.open("reconnecting"), delay);
  }

  private arm(ws: Link): void {
    this.disarm();
    this.watchdog = setTimeout(() => this.silent(ws), SILENT_LIMIT_MS);
  }

  private disarm(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = null;
  }

  private clearOpenTimer(): void {
    if (this.openTimer) clearTimeout(this.openTimer);
    this.openTimer = null;
  }

  /** The socket said nothing for too long: drop it now (its close event, whenever it comes,
   * is ignored) and reconnect, so the player can be resumed. */
  private silent(ws: Link): void {
    if (this.ws !== ws || this.stopped) return;
    this.ws = null;
    this.watchdog = null;
    ws.close(4000, `no message for ${SILENT_LIMIT_MS / 1000} s`);
    this.retry(`connection lost: no message for ${SILENT_LIMIT_MS / 1000} s`);
  }
}

/** A browser WebSocket as a Link. */
function webSocket(url: string): Link {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  const link: Link = {
    get readyState() {
      return ws.readyState;
    },
    onopen: null,
    onmessage: null,
    onclose: null,
    send: (bytes) => ws.send(bytes),
    close: (code, reason) => ws.close(code, reason),
  };
  ws.onopen = () => link.onopen?.();
  ws.onmessage = (ev) => link.onmessage?.(ev);
  ws.onclose = (ev) => link.onclose?.(ev);
  return link;
}
