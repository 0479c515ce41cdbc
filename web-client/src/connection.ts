// One WebSocket to the server that comes back by itself: an unexpected close reconnects with
// backoff (backoff.ts), and every state change is reported for the HUD. A link that goes
// silent (no message for SILENT_LIMIT_MS while open: the page pings every second, so even a
// quiet world answers) is taken for dead: the socket is dropped at once and a new one opened,
// rather than waiting the minutes TCP can take to notice. Only `leave` (the user went away) or
// `stop` ends it.

import { reconnectDelay } from "./backoff";

export type ConnState = "connecting" | "open" | "reconnecting" | "closed";

export interface Handlers {
  onOpen(send: (bytes: Uint8Array) => void): void;
  onMessage(bytes: Uint8Array): void;
  onState(state: ConnState, detail: string): void;
}

/** Close codes after which reconnecting can't help. */
const FINAL_CODES = new Set([4001]);

/** An open socket that delivers nothing for this long is taken for dead. */
export const SILENT_LIMIT_MS = 3000;

export class Connection {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Fires when the open socket has been silent for SILENT_LIMIT_MS; re-armed by every message. */
  private watchdog: ReturnType<typeof setTimeout> | null = null;

  constructor(private url: string, private handlers: Handlers) {}

  start(): void {
    this.stopped = false;
    this.open("connecting");
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.disarm();
    this.ws?.close(1000, "bye");
    this.handlers.onState("closed", "stopped");
  }

  /**
   * Leaves for good: sends `bytes` (the leave message) if the socket is open, then closes it
   * and never reconnects. For the page going away; a socket that merely fails reconnects and
   * the server resumes the player, so this is never called for that.
   */
  leave(bytes: Uint8Array): void {
    // WebSocket sends in order: the leave goes out before the close frame.
    this.send(bytes);
    this.stop();
  }

  /** Drops the socket as a network failure would (reconnects). */
  drop(): void {
    this.ws?.close(4000, "dropped by client");
  }

  send(bytes: Uint8Array): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(bytes);
  }

  private open(state: ConnState): void {
    this.handlers.onState(state, this.attempt ? `attempt ${this.attempt}` : "");
    const ws = new WebSocket(this.url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.arm(ws);
      this.handlers.onState("open", "");
      this.handlers.onOpen((b) => this.send(b));
    };
    ws.onmessage = (ev) => {
      if (this.ws === ws) this.arm(ws);
      if (ev.data instanceof ArrayBuffer) this.handlers.onMessage(new Uint8Array(ev.data));
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.disarm();
      if (this.stopped) return;
      if (FINAL_CODES.has(ev.code)) {
        this.handlers.onState("closed", `${ev.code} ${ev.reason}`);
        return;
      }
      this.retry(`closed ${ev.reason ? `${ev.code} ${ev.reason}` : `${ev.code}`}`);
    };
  }

  /** Schedules the next attempt and says why. */
  private retry(why: string): void {
    const delay = reconnectDelay(this.attempt++, Math.random());
    this.handlers.onState("reconnecting", `${why}; retry in ${(delay / 1000).toFixed(1)} s`);
    this.timer = setTimeout(() => this.open("reconnecting"), delay);
  }

  private arm(ws: WebSocket): void {
    this.disarm();
    this.watchdog = setTimeout(() => this.silent(ws), SILENT_LIMIT_MS);
  }

  private disarm(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = null;
  }

  /** The socket said nothing for too long: drop it now (its close event, whenever it comes,
   * is ignored) and reconnect, so the player can be resumed. */
  private silent(ws: WebSocket): void {
    if (this.ws !== ws || this.stopped) return;
    this.ws = null;
    this.watchdog = null;
    ws.close(4000, "no message for 3 s");
    this.retry(`connection lost: no message for ${SILENT_LIMIT_MS / 1000} s`);
  }
}
