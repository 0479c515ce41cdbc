// The HTTP long-polling transport's batch (docs/protocol.md, "HTTP long-polling"; mirrors
// shared/src/batch.rs): the messages of one HTTP body, each behind its length as a u32
// big-endian, and optionally, last, the close of the session: a length of 0, then the close
// code as a u16 big-endian and the reason, UTF-8, to the end of the body. An empty body is an
// empty batch. A body that can't be read is an error value, never an exception.

/** Bytes a close reason may take at most (as in a WebSocket close frame). */
export const MAX_REASON_BYTES = 123;

export interface CloseRecord {
  code: number;
  reason: string;
}

export type Batch =
  | { ok: true; messages: Uint8Array[]; close: CloseRecord | null }
  | { ok: false; error: string };

/**
 * The batch of `messages` (none may be empty: it would read as a close), then `close` if
 * given, its reason cut to MAX_REASON_BYTES at a character boundary.
 */
export function encodeBatch(messages: readonly Uint8Array[], close: CloseRecord | null = null): Uint8Array<ArrayBuffer> {
  const reason = close ? cutReason(close.reason) : new Uint8Array(0);
  let size = close ? 6 + reason.length : 0;
  for (const m of messages) {
    if (m.length === 0) throw new RangeError("an empty message would read as a close");
    size += 4 + m.length;
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const m of messages) {
    view.setUint32(at, m.length);
    out.set(m, at + 4);
    at += 4 + m.length;
  }
  if (close) {
    view.setUint32(at, 0);
    view.setUint16(at + 4, close.code);
    out.set(reason, at + 6);
  }
  return out;
}

/** The records of `body`, in order; an error if a record runs past its end or a reason is not UTF-8. */
export function decodeBatch(body: Uint8Array): Batch {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const messages: Uint8Array[] = [];
  let at = 0;
  while (at < body.length) {
    if (body.length - at < 4) return { ok: false, error: "batch truncated: a length runs past the end" };
    const len = view.getUint32(at);
    at += 4;
    if (len === 0) {
      if (body.length - at < 2) return { ok: false, error: "batch truncated: a close code runs past the end" };
      const code = view.getUint16(at);
      const reason = utf8(body.subarray(at + 2));
      if (reason === null) return { ok: false, error: "close reason is not UTF-8" };
      return { ok: true, messages, close: { code, reason } };
    }
    if (body.length - at < len) return { ok: false, error: "batch truncated: a message runs past the end" };
    messages.push(body.subarray(at, at + len));
    at += len;
  }
  return { ok: true, messages, close: null };
}

function utf8(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return null;
  }
}

function cutReason(reason: string): Uint8Array {
  const bytes = new TextEncoder().encode(reason);
  if (bytes.length <= MAX_REASON_BYTES) return bytes;
  let end = MAX_REASON_BYTES;
  while ((bytes[end] & 0xc0) === 0x80) end--; // not inside a character
  return bytes.subarray(0, end);
}
