//! A connection's outgoing bytes. Whole WebSocket messages are written straight to the socket
//! by whichever task has one (the room's fan-out for frames, the connection's own task for
//! pongs, pings and the close), never waiting and never copying a shared body: the frame
//! header, the client's few bytes and the body go out in one vectored write. Server frames
//! are unmasked, so their framing is a few bytes written here, as are pongs, pings and the
//! close frame ([`Sender::control`], [`Sender::close_frame`]), through the same lock so that
//! nothing interleaves with a frame.
//!
//! What the kernel does not take at once is kept in a backlog (the rest of a shared body as a
//! reference to it, small pieces copied), which the connection's task writes out when the
//! socket is writable
//! ([`Sender::flush`]). While a backlog waits, new data frames are refused
//! ([`Delivery::Full`]: the fan-out then owes the client a keyframe) and control frames
//! queue behind it. A frame the kernel refuses outright is not started, so it is simply
//! refused. Nothing is allocated per connection while it is idle or keeping up.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::task::AtomicWaker;

use super::outbox::{Delivery, Outlet};

/// Where a connection's bytes go: a socket, or a test's in-memory pipe.
pub trait Wire: Send + Sync + std::fmt::Debug {
    /// Writes what it can without waiting (as `write(2)` on a non-blocking socket):
    /// `Err(WouldBlock)` if nothing fits.
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
}

impl<W: Wire + ?Sized> Wire for std::sync::Arc<W> {
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (**self).try_write_vectored(bufs)
    }
}

/// WebSocket opcodes the server sends itself (RFC 6455 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    /// A binary message.
    Binary = 0x2,
    /// The close frame.
    Close = 0x8,
    /// A ping.
    Ping = 0x9,
    /// A pong (the answer to a client's ping).
    Pong = 0xa,
}

/// The longest server frame header: FIN and opcode, 127, a 64-bit length (no mask).
pub const MAX_FRAME_HEADER: usize = 10;
/// Control frames and the close frame may wait behind a backlog up to this much; a
/// peer that lets more pile up is not reading (the stall and write limits end it).
const MAX_BACKLOG: usize = 256 * 1024;

/// Writes the header of one unmasked, unfragmented server frame of `len` payload bytes into
/// `out`; returns its length.
pub fn frame_header(out: &mut [u8; MAX_FRAME_HEADER], opcode: Opcode, len: usize) -> usize {
    out[0] = 0x80 | opcode as u8;
    if len < 126 {
        out[1] = len as u8;
        2
    } else if let Ok(len) = u16::try_from(len) {
        out[1] = 126;
        out[2..4].copy_from_slice(&len.to_be_bytes());
        4
    } else {
        out[1] = 127;
        out[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        10
    }
}

#[derive(Debug, Default)]
struct State {
    /// What was accepted but not yet written, in order: the rest of a shared body as a
    /// reference to it (never a copy), small pieces (headers, control frames) copied. Empty,
    /// without capacity, when caught up.
    backlog: VecDeque<Bytes>,
    /// Bytes in `backlog`.
    backlog_len: usize,
    /// The connection is over: nothing more is written.
    closed: bool,
    /// The close frame is going out: no more messages or pings (RFC 6455 §5.5.1), only the
    /// close frame itself.
    closing: bool,
}

impl State {
    /// The connection is over: nothing more is written, the backlog goes.
    fn shut(&mut self) {
        self.closed = true;
        self.backlog = VecDeque::new();
        self.backlog_len = 0;
    }

    fn keep(&mut self, bytes: Bytes) {
        if !bytes.is_empty() {
            self.backlog_len += bytes.len();
            self.backlog.push_back(bytes);
        }
    }
}

/// One connection's outgoing side. Every write takes its lock, so messages from different
/// tasks never interleave.
#[derive(Debug)]
pub struct Sender {
    wire: Arc<dyn Wire>,
    state: Mutex<State>,
    /// Wakes the connection's task (the one that flushes) when a backlog waits: a waker
    /// slot, not a `Notify`, whose wait would be ~90 bytes in every idle connection's task.
    backlog_waiting: AtomicWaker,
}

impl Sender {
    /// A sender writing to `wire`.
    pub fn new(wire: Arc<dyn Wire>) -> Self {
        Self { wire, state: Mutex::default(), backlog_waiting: AtomicWaker::new() }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent bytes (appends are whole).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends one binary message: `head` (this client's few bytes) followed by `body` (shared
    /// with other clients). Refused ([`Delivery::Full`]) while a backlog waits or if the
    /// socket takes none of it; [`Delivery::Queued`] once it is written or started (its rest
    /// then waits in the backlog, the body's part as a reference).
    pub fn message(&self, head: &[u8], body: &Bytes) -> Delivery {
        let mut state = self.state();
        if state.closed || state.closing {
            return Delivery::Gone;
        }
        if !state.backlog.is_empty() {
            return Delivery::Full;
        }
        let mut header = [0; MAX_FRAME_HEADER];
        let n = frame_header(&mut header, Opcode::Binary, head.len() + body.len());
        let slices = [IoSlice::new(&header[..n]), IoSlice::new(head), IoSlice::new(body)];
        let written = match self.try_write(&mut state, &slices) {
            Ok(written) => written,
            Err(_) => return Delivery::Gone,
        };
        if written == 0 {
            return Delivery::Full;
        }
        let framing = n + head.len();
        if written < framing + body.len() {
            if written < framing {
                state.keep(Bytes::from([&header[..n], head].concat()).slice(written..));
            }
            state.keep(body.slice(written.saturating_sub(framing)..));
            self.backlog_waiting.wake();
        }
        Delivery::Queued
    }

    /// Sends a control frame (a ping); it waits behind a backlog if there is one.
    pub fn control(&self, opcode: Opcode, payload: &[u8]) -> Delivery {
        let mut header = [0; MAX_FRAME_HEADER];
        let n = frame_header(&mut header, opcode, payload.len());
        self.write_or_keep(&[&header[..n], payload], false)
    }

    /// Sends the close frame: `code`, then `reason` (at most 123 bytes). It waits behind a
    /// backlog if there is one (refused only when that backlog is full: a peer not reading),
    /// and goes out while closing.
    pub fn close_frame(&self, code: u16, reason: &str) -> Delivery {
        let mut header = [0; MAX_FRAME_HEADER];
        let n = frame_header(&mut header, Opcode::Close, 2 + reason.len());
        self.write_or_keep(&[&header[..n], &code.to_be_bytes(), reason.as_bytes()], true)
    }

    /// Writes `parts` whole, keeping what the socket does not take (behind a backlog, all of
    /// it, up to [`MAX_BACKLOG`]). `while_closing`: allowed after [`closing`](Self::closing).
    fn write_or_keep(&self, parts: &[&[u8]], while_closing: bool) -> Delivery {
        let mut state = self.state();
        if state.closed || (state.closing && !while_closing) {
            return Delivery::Gone;
        }
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let written = if state.backlog.is_empty() {
            let slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
            match self.try_write(&mut state, &slices) {
                Ok(written) => written,
                Err(_) => return Delivery::Gone,
            }
        } else if state.backlog_len + len > MAX_BACKLOG {
            return Delivery::Full;
        } else {
            0
        };
        if written < len {
            let rest = Bytes::from(parts.concat()).slice(written..);
            let was_empty = state.backlog.is_empty();
            state.keep(rest);
            if was_empty {
                self.backlog_waiting.wake();
            }
        }
        Delivery::Queued
    }

    /// One non-blocking write: the bytes taken (0 if none fit). A failed socket shuts this
    /// sender.
    fn try_write(&self, state: &mut State, slices: &[IoSlice<'_>]) -> io::Result<usize> {
        taken(self.wire.try_write_vectored(slices)).inspect_err(|_| state.shut())
    }

    /// Writes as much of the backlog as the socket takes now. `Ok(true)` when it is empty.
    pub fn flush(&self) -> io::Result<bool> {
        const SLICES: usize = 16;
        let mut state = self.state();
        while !state.backlog.is_empty() {
            let mut slices = [IoSlice::new(&[]); SLICES];
            let count = state.backlog.len().min(SLICES);
            for (slot, piece) in slices.iter_mut().zip(&state.backlog) {
                *slot = IoSlice::new(piece);
            }
            let result = taken(self.wire.try_write_vectored(&slices[..count]));
            let mut written = result.inspect_err(|_| state.shut())?;
            if written == 0 {
                return Ok(false);
            }
            state.backlog_len -= written;
            while written > 0 {
                let Some(front) = state.backlog.front_mut() else { break };
                if written >= front.len() {
                    written -= front.len();
                    state.backlog.pop_front();
                } else {
                    let _ = front.split_to(written);
                    written = 0;
                }
            }
        }
        // Caught up: give the memory back.
        state.backlog = VecDeque::new();
        Ok(true)
    }

    /// Whether bytes wait to be written.
    pub fn has_backlog(&self) -> bool {
        !self.state().backlog.is_empty()
    }

    /// Ready once a write has left a backlog (at once if one is already waiting); wakes the
    /// last task that polled it. One task waits: the connection's own.
    pub fn poll_backlog(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        // Registered before looking, so a backlog left in between still wakes this task.
        self.backlog_waiting.register(cx.waker());
        if self.has_backlog() { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }
    }

    /// Waits until a write leaves a backlog (returns at once if one is already waiting).
    pub async fn backlog(&self) {
        std::future::poll_fn(|cx| self.poll_backlog(cx)).await;
    }

    /// The close frame is about to be sent: from now on only it goes out
    /// ([`close_frame`](Self::close_frame)); messages, pings and pongs are refused as
    /// [`Delivery::Gone`].
    pub fn closing(&self) {
        self.state().closing = true;
    }

    /// Ends the connection's output: nothing more is written, the backlog is dropped.
    pub fn close(&self) {
        self.state().shut();
    }
}

impl Outlet for Sender {
    fn message(&self, head: &[u8], body: &Bytes) -> Delivery {
        Sender::message(self, head, body)
    }
}

/// A write's outcome as bytes taken: a socket that would block (or was interrupted) took none.
fn taken(result: io::Result<usize>) -> io::Result<usize> {
    match result {
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {
            Ok(0)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket that takes `room` more bytes, then blocks.
    #[derive(Debug, Default)]
    struct Pipe {
        got: Mutex<Vec<u8>>,
        room: Mutex<usize>,
    }

    impl Wire for Pipe {
        fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            let mut room = self.room.lock().expect("lock");
            if *room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let mut got = self.got.lock().expect("lock");
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(*room - n);
                got.extend_from_slice(&b[..take]);
                n += take;
            }
            *room -= n;
            Ok(n)
        }
    }

    fn sender(room: usize) -> (Sender, std::sync::Arc<Pipe>) {
        let pipe = std::sync::Arc::new(Pipe::default());
        *pipe.room.lock().expect("lock") = room;
        (Sender::new(Arc::new(pipe.clone())), pipe)
    }

    #[test]
    fn frame_headers_use_the_shortest_length_form() {
        let header = |opcode, len| {
            let mut h = [0; MAX_FRAME_HEADER];
            let n = frame_header(&mut h, opcode, len);
            h[..n].to_vec()
        };
        assert_eq!(header(Opcode::Binary, 5), [0x82, 5]);
        assert_eq!(header(Opcode::Binary, 125), [0x82, 125]);
        assert_eq!(header(Opcode::Binary, 126), [0x82, 126, 0, 126]);
        assert_eq!(header(Opcode::Ping, 0), [0x89, 0]);
        assert_eq!(header(Opcode::Binary, 70_000), [0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
    }

    #[test]
    fn a_message_is_one_frame_of_its_parts() {
        let (s, pipe) = sender(1 << 20);
        assert_eq!(s.message(b"ab", &Bytes::from_static(b"cde")), Delivery::Queued);
        assert_eq!(*pipe.got.lock().expect("lock"), [0x82, 5, b'a', b'b', b'c', b'd', b'e']);
        assert!(!s.has_backlog());
    }

    #[test]
    fn a_partial_write_keeps_the_rest_and_refuses_frames_until_flushed() {
        let (s, pipe) = sender(4);
        assert_eq!(s.message(b"hello", &Bytes::from_static(b"!")), Delivery::Queued, "started");
        assert!(s.has_backlog());
        assert_eq!(s.message(b"", &Bytes::from_static(b"next")), Delivery::Full, "refused behind");
        assert_eq!(s.control(Opcode::Ping, b""), Delivery::Queued, "control waits behind it");
        assert!(!s.flush().expect("flush"), "the socket is still full");
        *pipe.room.lock().expect("lock") = 100;
        assert!(s.flush().expect("flush"));
        let got = pipe.got.lock().expect("lock").clone();
        assert_eq!(got, [0x82, 6, b'h', b'e', b'l', b'l', b'o', b'!', 0x89, 0]);
        assert_eq!(s.message(b"", &Bytes::from_static(b"x")), Delivery::Queued);
    }

    #[test]
    fn a_shared_body_waits_as_a_reference_and_goes_out_in_pieces() {
        let (s, pipe) = sender(5);
        let body = Bytes::from(vec![7u8; 300]);
        assert_eq!(s.message(b"hd", &body), Delivery::Queued);
        {
            let state = s.state();
            // 4 header bytes + "hd" = 6 bytes of framing; 5 went out.
            assert_eq!(state.backlog_len, 1 + 300);
            assert_eq!(&state.backlog[0][..], b"d");
            assert_eq!(state.backlog[1].as_ptr(), body.as_ptr(), "the body, not a copy");
        }
        let mut rounds = 0;
        loop {
            *pipe.room.lock().expect("lock") = 7;
            rounds += 1;
            if s.flush().expect("flush") {
                break;
            }
            assert!(rounds < 100, "flush makes progress");
        }
        let got = pipe.got.lock().expect("lock").clone();
        let mut want = vec![0x82, 126, 1, 46, b'h', b'd'];
        want.extend_from_slice(&body);
        assert_eq!(got, want);
        assert_eq!(s.state().backlog_len, 0);
    }

    #[test]
    fn a_frame_the_socket_refuses_outright_is_not_kept() {
        let (s, pipe) = sender(0);
        assert_eq!(s.message(b"", &Bytes::from_static(b"frame")), Delivery::Full);
        assert!(!s.has_backlog());
        // A pong must not be lost: kept.
        assert_eq!(s.control(Opcode::Pong, &[]), Delivery::Queued);
        assert!(s.has_backlog());
        *pipe.room.lock().expect("lock") = 10;
        assert!(s.flush().expect("flush"));
        assert_eq!(*pipe.got.lock().expect("lock"), [0x8a, 0]);
    }

    #[test]
    fn once_closing_only_the_close_handshake_goes_out() {
        let (s, pipe) = sender(100);
        s.closing();
        assert_eq!(s.message(b"", &Bytes::from_static(b"x")), Delivery::Gone);
        assert_eq!(s.control(Opcode::Ping, b""), Delivery::Gone);
        assert_eq!(s.close_frame(1000, "ok"), Delivery::Queued);
        assert_eq!(*pipe.got.lock().expect("lock"), [0x88, 0x04, 0x03, 0xe8, b'o', b'k']);
    }

    #[test]
    fn after_close_nothing_is_written() {
        let (s, pipe) = sender(100);
        s.close();
        assert_eq!(s.message(b"", &Bytes::from_static(b"x")), Delivery::Gone);
        assert_eq!(s.close_frame(1000, ""), Delivery::Gone);
        assert!(pipe.got.lock().expect("lock").is_empty());
    }
}
