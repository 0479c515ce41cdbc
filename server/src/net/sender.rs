//! A connection's outgoing bytes. Whole WebSocket messages are written straight to the socket
//! by whichever task has one (the room's fan-out for frames, the connection's own task for
//! pongs, pings and the close), never waiting and never copying a shared body: the frame
//! header, the client's few bytes and the body go out in one vectored write. Server frames
//! are unmasked, so their framing is a few bytes written here; tungstenite keeps the reading
//! side, and what it writes itself (pong replies, the close handshake) comes through
//! [`Sender::raw`] so that nothing interleaves with a frame.
//!
//! What the kernel does not take at once is kept in a backlog (the only copy, of the unsent
//! rest), which the connection's task writes out when the socket is writable
//! ([`Sender::flush`]). While a backlog waits, new data frames are refused
//! ([`Delivery::Full`]: the fan-out then owes the client a keyframe) and control frames
//! queue behind it. A frame the kernel refuses outright is not started, so it is simply
//! refused. Nothing is allocated per connection while it is idle or keeping up.

use std::io::{self, IoSlice};
use std::sync::Mutex;

use super::outbox::Delivery;

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

impl Wire for tokio::net::TcpStream {
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        tokio::net::TcpStream::try_write_vectored(self, bufs)
    }
}

/// WebSocket opcodes the server sends itself (RFC 6455 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    /// A binary message.
    Binary = 0x2,
    /// A ping.
    Ping = 0x9,
}

/// The longest server frame header: FIN and opcode, 127, a 64-bit length (no mask).
pub const MAX_FRAME_HEADER: usize = 10;
/// Control frames and tungstenite's own bytes may wait behind a backlog up to this much; a
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
    /// Bytes accepted but not yet written, in order (empty, without capacity, when caught up).
    backlog: Vec<u8>,
    /// The connection is over: nothing more is written.
    closed: bool,
}

/// One connection's outgoing side. Every write takes its lock, so messages from different
/// tasks never interleave.
#[derive(Debug)]
pub struct Sender {
    wire: Box<dyn Wire>,
    state: Mutex<State>,
    /// Tells the connection's task that a backlog waits.
    backlog_waiting: tokio::sync::Notify,
}

impl Sender {
    /// A sender writing to `wire`.
    pub fn new(wire: Box<dyn Wire>) -> Self {
        Self { wire, state: Mutex::default(), backlog_waiting: tokio::sync::Notify::new() }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent bytes (appends are whole).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends one binary message made of `parts` (for example the client's header and a shared
    /// body). Refused ([`Delivery::Full`]) while a backlog waits or if the socket takes none of
    /// it; [`Delivery::Queued`] once it is written or started (its rest then waits in the
    /// backlog).
    pub fn message(&self, parts: &[&[u8]]) -> Delivery {
        let mut state = self.state();
        if state.closed {
            return Delivery::Gone;
        }
        if !state.backlog.is_empty() {
            return Delivery::Full;
        }
        let len = parts.iter().map(|p| p.len()).sum();
        let mut header = [0; MAX_FRAME_HEADER];
        let n = frame_header(&mut header, Opcode::Binary, len);
        let mut slices = [IoSlice::new(&[]); 4];
        slices[0] = IoSlice::new(&header[..n]);
        let count = 1 + parts.len().min(3);
        for (slot, part) in slices[1..count].iter_mut().zip(parts) {
            *slot = IoSlice::new(part);
        }
        let total = n + len;
        match self.write_all_or_keep(&mut state, &slices[..count], total, false) {
            Ok(true) => Delivery::Queued,
            Ok(false) => Delivery::Full,
            Err(_) => Delivery::Gone,
        }
    }

    /// Sends a control frame (a ping); it waits behind a backlog if there is one.
    pub fn control(&self, opcode: Opcode, payload: &[u8]) -> Delivery {
        let mut header = [0; MAX_FRAME_HEADER];
        let n = frame_header(&mut header, opcode, payload.len());
        self.raw_parts(&[&header[..n], payload])
    }

    /// Sends bytes that are already framed (tungstenite's pong replies and close frames);
    /// they wait behind a backlog if there is one.
    pub fn raw(&self, bytes: &[u8]) -> Delivery {
        self.raw_parts(&[bytes])
    }

    fn raw_parts(&self, parts: &[&[u8]]) -> Delivery {
        let mut state = self.state();
        if state.closed {
            return Delivery::Gone;
        }
        let total: usize = parts.iter().map(|p| p.len()).sum();
        if !state.backlog.is_empty() {
            if state.backlog.len() + total > MAX_BACKLOG {
                return Delivery::Full;
            }
            for p in parts {
                state.backlog.extend_from_slice(p);
            }
            return Delivery::Queued;
        }
        let slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
        match self.write_all_or_keep(&mut state, &slices, total, true) {
            Ok(_) => Delivery::Queued,
            Err(_) => Delivery::Gone,
        }
    }

    /// Writes `slices` (`total` bytes, no backlog waiting); keeps what the socket did not take
    /// in the backlog, also all of it if `keep_unstarted`. `Ok(false)`: refused, not started.
    fn write_all_or_keep(
        &self,
        state: &mut State,
        slices: &[IoSlice<'_>],
        total: usize,
        keep_unstarted: bool,
    ) -> io::Result<bool> {
        let written = match self.wire.try_write_vectored(slices) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => {
                state.closed = true;
                return Err(e);
            }
        };
        if written == total {
            return Ok(true);
        }
        if written == 0 && !keep_unstarted {
            return Ok(false);
        }
        // Started (or must not be lost): the rest waits, in order.
        let mut skip = written;
        for s in slices {
            let take = s.len().saturating_sub(skip);
            state.backlog.extend_from_slice(&s[s.len() - take..]);
            skip = skip.saturating_sub(s.len());
        }
        self.backlog_waiting.notify_one();
        Ok(true)
    }

    /// Writes as much of the backlog as the socket takes now. `Ok(true)` when it is empty.
    pub fn flush(&self) -> io::Result<bool> {
        let mut state = self.state();
        while !state.backlog.is_empty() {
            match self.wire.try_write_vectored(&[IoSlice::new(&state.backlog)]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    state.backlog.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    state.closed = true;
                    return Err(e);
                }
            }
        }
        // Caught up: give the memory back.
        state.backlog = Vec::new();
        Ok(true)
    }

    /// Whether bytes wait to be written.
    pub fn has_backlog(&self) -> bool {
        !self.state().backlog.is_empty()
    }

    /// Waits until a write leaves a backlog (returns at once if one is already waiting).
    pub async fn backlog(&self) {
        loop {
            let notified = self.backlog_waiting.notified();
            if self.has_backlog() {
                return;
            }
            notified.await;
        }
    }

    /// Ends the connection's output: nothing more is written, the backlog is dropped.
    pub fn close(&self) {
        let mut state = self.state();
        state.closed = true;
        state.backlog = Vec::new();
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
        (Sender::new(Box::new(pipe.clone())), pipe)
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
        assert_eq!(s.message(&[b"ab", b"cde"]), Delivery::Queued);
        assert_eq!(*pipe.got.lock().expect("lock"), [0x82, 5, b'a', b'b', b'c', b'd', b'e']);
        assert!(!s.has_backlog());
    }

    #[test]
    fn a_partial_write_keeps_the_rest_and_refuses_frames_until_flushed() {
        let (s, pipe) = sender(4);
        assert_eq!(s.message(&[b"hello", b"!"]), Delivery::Queued, "started");
        assert!(s.has_backlog());
        assert_eq!(s.message(&[b"next"]), Delivery::Full, "refused behind the backlog");
        assert_eq!(s.control(Opcode::Ping, b""), Delivery::Queued, "control waits behind it");
        assert!(!s.flush().expect("flush"), "the socket is still full");
        *pipe.room.lock().expect("lock") = 100;
        assert!(s.flush().expect("flush"));
        let got = pipe.got.lock().expect("lock").clone();
        assert_eq!(got, [0x82, 6, b'h', b'e', b'l', b'l', b'o', b'!', 0x89, 0]);
        assert_eq!(s.message(&[b"x"]), Delivery::Queued);
    }

    #[test]
    fn a_frame_the_socket_refuses_outright_is_not_kept() {
        let (s, pipe) = sender(0);
        assert_eq!(s.message(&[b"frame"]), Delivery::Full);
        assert!(!s.has_backlog());
        // Tungstenite's bytes must not be lost: kept.
        assert_eq!(s.raw(&[0x8a, 0]), Delivery::Queued);
        assert!(s.has_backlog());
        *pipe.room.lock().expect("lock") = 10;
        assert!(s.flush().expect("flush"));
        assert_eq!(*pipe.got.lock().expect("lock"), [0x8a, 0]);
    }

    #[test]
    fn after_close_nothing_is_written() {
        let (s, pipe) = sender(100);
        s.close();
        assert_eq!(s.message(&[b"x"]), Delivery::Gone);
        assert_eq!(s.raw(b"x"), Delivery::Gone);
        assert!(pipe.got.lock().expect("lock").is_empty());
    }
}
