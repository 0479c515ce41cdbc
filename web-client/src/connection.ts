// One WebSocket to the server that comes back by itself: an unexpected close reconnects with
// backoff (backoff.ts), and every state change is reported for the HUD. Only `leave` (the user
// went away) or `stop` ends it.

import { reconnectDelay } from "./backoff";

export type ConnState = "connecting" | "open" | "reconnecting" | "closed";

export interface Handlers {
  onOpen(send: (bytes: Uint8Array) => void): void;
  onMessage(bytes: Uint8Array): void;
  onState(state: ConnState, detail: string): void;
}

/** Close codes after which reconnecting can't help. */
const FINAL_CODES = new Set([4001]);

export class Connection {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(private url: string, private handlers: Handlers) {}

  start(): void {
    this.stopped = false;
    this.open("connecting");
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
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
      this.handlers.onState("open", "");
      this.handlers.onOpen((b) => this.send(b));
    };
    ws.onmessage = (ev) => {
      if (ev.data instanceof ArrayBuffer) this.handlers.onMessage(new Uint8Array(ev.data));
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      if (FINAL_CODES.has(ev.code)) {
        this.handlers.onState("closed", `${ev.code} ${ev.reason}`);
        return;
      }
      const delay = reconnectDelay(this.attempt++, Math.random());
      const why = ev.reason ? `${ev.code} ${ev.reason}` : `${ev.code}`;
      this.handlers.onState("reconnecting", `closed ${why}; retry in ${(delay / 1000).toFixed(1)} s`);
      this.timer = setTimeout(() => this.open("reconnecting"), delay);
    };
  }
}
