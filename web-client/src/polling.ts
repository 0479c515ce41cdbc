// A stand-in for a WebSocket over HTTP long-polling (docs/protocol.md, "HTTP long-polling"),
// with the surface Connection uses (connection.ts's Link). It opens at once; the first message
// sent (the join) goes out as `POST /poll`, whose answer is the session id and the first batch.
// From then on exactly one `GET /poll/SID` waits at all times (the next goes out as soon as the
// last answered) and at most one `POST /poll/SID` is in flight: what is sent meanwhile goes in
// the next. The server's close record closes the socket with its code and reason; a session the
// server no longer knows (404, 410), a refused request or a failed one closes it with 1006, as a
// WebSocket whose network failed, so the connection reconnects and resumes the player.
// close() aborts every request, after sending what was still to go in a keepalive POST that
// outlives the page (so a leave sent on pagehide gets out).

import { decodeBatch, encodeBatch } from "./batch";
import type { Link } from "./connection";

/** The part of a fetch answer the socket reads. */
export interface Answer {
  readonly status: number;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** fetch, or a stand-in for tests. */
export type Fetch = (url: string, init: RequestInit) => Promise<Answer>;

/** A WebSocket's readyState values. */
const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;

/** The close code of a connection that ended without a close from the server. */
export const ABNORMAL = 1006;
/** How long to wait before asking again after a 429 (GETs faster than the server allows). */
export const RETRY_MS = 250;
/** Bytes of the session id at the start of the join's answer. */
const SID_BYTES = 16;

export class PollingSocket implements Link {
  readyState = CONNECTING;
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;

  /** The session id as the URLs carry it (32 lowercase hex digits), once the join answered. */
  private sid: string | null = null;
  private joined = false;
  /** Messages sent and not yet in a POST. */
  private queue: Uint8Array[] = [];
  private posting = false;
  private flushQueued = false;
  private readonly aborter = new AbortController();

  /** `url`: the polling endpoint, on the page's own origin. */
  constructor(
    private readonly url = "/poll",
    private readonly fetcher: Fetch = (u, init) => fetch(u, init),
  ) {
    // As a WebSocket, it opens after the caller had the chance to set onopen.
    queueMicrotask(() => {
      if (this.readyState !== CONNECTING) return;
      this.readyState = OPEN;
      this.onopen?.();
    });
  }

  /** The first message is the join; later ones go in the next POST. */
  send(bytes: Uint8Array): void {
    if (this.readyState === CONNECTING) throw new Error("send on a polling socket that is not open yet");
    if (this.readyState !== OPEN) return;
    if (!this.joined) {
      this.joined = true;
      void this.join(bytes.slice());
      return;
    }
    this.queue.push(bytes.slice());
    // Sent at the end of this turn: what is sent together goes in one POST, and a send
    // followed at once by close() (a leave) goes in close()'s keepalive POST.
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      void this.flush();
    });
  }

  /**
   * Closes now: what was sent and not yet posted goes out first (as a WebSocket's buffered
   * messages before its close frame), in a keepalive POST that is never aborted; every other
   * request is aborted. Messages sent before the join answered have no session to go to.
   */
  close(code = 1005, reason = ""): void {
    if (this.readyState === CLOSED) return;
    if (this.sid !== null && this.queue.length > 0) {
      this.fetcher(this.sessionUrl(), this.init("POST", encodeBatch(this.queue), true)).catch(() => {});
    }
    this.end(code, reason);
  }

  private async join(joinMsg: Uint8Array<ArrayBuffer>): Promise<void> {
    const answer = await this.call(this.url, this.init("POST", joinMsg));
    if (!answer) return;
    if (answer.status !== 200) return this.end(ABNORMAL, `join refused (HTTP ${answer.status})`);
    const body = await this.bodyOf(answer);
    if (!body) return;
    if (body.length < SID_BYTES) return this.end(ABNORMAL, "join answer without a session id");
    this.sid = hex(body.subarray(0, SID_BYTES));
    this.receive(body.subarray(SID_BYTES));
    void this.flush();
  }

  /** The one waiting GET. */
  private async poll(): Promise<void> {
    const answer = await this.call(this.sessionUrl(), this.init("GET"));
    if (!answer) return;
    if (answer.status === 429) {
      setTimeout(() => {
        if (this.readyState === OPEN) void this.poll();
      }, RETRY_MS);
      return;
    }
    if (answer.status !== 200) return this.end(ABNORMAL, refused("poll", answer.status));
    const body = await this.bodyOf(answer);
    if (body) this.receive(body);
  }

  /** Hands a batch's messages over in order; the next GET goes out first, unless it closes. */
  private receive(body: Uint8Array): void {
    const batch = decodeBatch(body);
    if (!batch.ok) return this.end(ABNORMAL, batch.error);
    if (!batch.close) void this.poll();
    for (const m of batch.messages) {
      if (this.readyState !== OPEN) return; // closed by a handler
      this.onmessage?.({ data: m.slice().buffer });
    }
    if (batch.close) this.end(batch.close.code, batch.close.reason);
  }

  /** The one POST in flight, with everything queued; then the next, if more was sent meanwhile. */
  private async flush(): Promise<void> {
    if (this.posting || this.sid === null || this.queue.length === 0 || this.readyState !== OPEN) return;
    this.posting = true;
    const answer = await this.call(this.sessionUrl(), this.init("POST", encodeBatch(this.queue.splice(0))));
    this.posting = false;
    if (!answer) return;
    if (answer.status === 404 || answer.status === 410) return this.end(ABNORMAL, refused("post", answer.status));
    // Another refusal (400, 413) lost that batch; if the server ended the session over it,
    // the waiting GET brings the close record with the real code.
    void this.flush();
  }

  /** fetch; null once the socket is closed, by this request's failure or otherwise. */
  private async call(url: string, init: RequestInit): Promise<Answer | null> {
    try {
      const answer = await this.fetcher(url, init);
      return this.readyState === OPEN ? answer : null;
    } catch {
      this.end(ABNORMAL, "network error"); // nothing more if the abort was ours
      return null;
    }
  }

  private async bodyOf(answer: Answer): Promise<Uint8Array | null> {
    try {
      const body = new Uint8Array(await answer.arrayBuffer());
      return this.readyState === OPEN ? body : null;
    } catch {
      this.end(ABNORMAL, "network error");
      return null;
    }
  }

  private init(method: "GET" | "POST", body?: Uint8Array<ArrayBuffer>, keepalive = false): RequestInit {
    return {
      method,
      body,
      cache: "no-store",
      headers: body ? { "Content-Type": "application/octet-stream" } : undefined,
      keepalive,
      signal: keepalive ? undefined : this.aborter.signal,
    };
  }

  private sessionUrl(): string {
    return `${this.url}/${this.sid}`;
  }

  /** Closed for good: every request aborted, onclose told (after this turn, as a WebSocket's). */
  private end(code: number, reason: string): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.queue = [];
    this.aborter.abort();
    queueMicrotask(() => this.onclose?.({ code, reason }));
  }
}

function refused(what: string, status: number): string {
  if (status === 404 || status === 410) return `session gone (HTTP ${status})`;
  return `${what} refused (HTTP ${status})`;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
