//! A connection's outbound side, as the fan-out and the connection's tasks see it: the
//! [`Outlet`] its messages go out through (a WebSocket's [`Sender`](super::sender::Sender),
//! or a polling session's queue), the [`Closer`] anyone may use to end it, and
//! the WebSocket close codes the server speaks. The simulation's transport-neutral
//! [`DisconnectReason`]s are mapped to close codes here, and only here.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::watch;

use crate::link::DisconnectReason;

/// WebSocket close codes the server uses (RFC 6455 §7.4 and the 4000 range for ours).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseCode {
    /// 1000: done.
    Normal,
    /// 1001: the server is shutting down.
    GoingAway,
    /// 1002: the peer broke the WebSocket protocol (RFC 6455 §7.4.1).
    ProtocolError,
    /// 1003: a text frame; the protocol is binary.
    Unsupported,
    /// 1007: the bytes are not a valid message.
    InvalidPayload,
    /// 1008: the client broke a rule (input before join, join twice, flooding, too slow).
    Policy,
    /// 1009: a message larger than the limit.
    TooBig,
    /// 1011: the server failed.
    Internal,
    /// 1013: the server is full; try again later.
    TryAgainLater,
    /// 4001: the client speaks another protocol version.
    VersionMismatch,
    /// 4002: the same resume token joined on a newer connection.
    SessionTakenOver,
    /// 4003: the peer sent nothing (not even a pong) within the idle timeout.
    IdleTimeout,
    /// 4004: the join's seat ticket is missing, malformed, forged, expired or for another
    /// room (the reason says which).
    SeatRejected,
}

impl CloseCode {
    /// The numeric code sent on the wire.
    pub fn as_u16(self) -> u16 {
        match self {
            CloseCode::Normal => 1000,
            CloseCode::GoingAway => 1001,
            CloseCode::ProtocolError => 1002,
            CloseCode::Unsupported => 1003,
            CloseCode::InvalidPayload => 1007,
            CloseCode::Policy => 1008,
            CloseCode::TooBig => 1009,
            CloseCode::Internal => 1011,
            CloseCode::TryAgainLater => 1013,
            CloseCode::VersionMismatch => 4001,
            CloseCode::SessionTakenOver => 4002,
            CloseCode::IdleTimeout => 4003,
            CloseCode::SeatRejected => 4004,
        }
    }
}

/// Why a connection is being closed: a code and a short human-readable reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    /// The close code.
    pub code: CloseCode,
    /// Sent as the close frame's reason (at most 123 bytes on the wire).
    pub reason: String,
}

impl Close {
    /// A close with this code and reason.
    pub fn new(code: CloseCode, reason: impl Into<String>) -> Self {
        Self { code, reason: reason.into() }
    }
}

/// Asks a connection to close; any holder may ask, the first reason wins.
#[derive(Debug, Clone)]
pub struct Closer(Arc<watch::Sender<Option<Close>>>);

impl Closer {
    /// A closer and the receiver its connection's writer watches.
    pub fn new() -> (Self, watch::Receiver<Option<Close>>) {
        let (tx, rx) = watch::channel(None);
        (Self(Arc::new(tx)), rx)
    }

    /// Requests the close; ignored if one was already requested.
    pub fn close(&self, close: Close) {
        self.0.send_if_modified(|slot| {
            if slot.is_some() {
                return false;
            }
            *slot = Some(close);
            true
        });
    }
}

/// What a client last said about its own progress: the newest tick it has received (an
/// input's `seen`). Written by the connection's reader, read by the fan-out each tick.
///
/// One word: the tick in the low 48 bits, a count of reports in the high 16, so that the
/// reader can tell a new report from an old one even when the tick did not move.
#[derive(Debug, Default)]
pub struct Progress(AtomicU64);

/// A client's report, as [`Progress::get`] reads it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// Changes with every report (wrapping).
    pub count: u16,
    /// The newest tick the client has received.
    pub seen: u64,
}

impl Progress {
    const TICK_BITS: u32 = 48;
    const TICK_MASK: u64 = (1 << Self::TICK_BITS) - 1;

    /// Records that the client has received up to `seen`. One writer (the reader task).
    pub fn report(&self, seen: u64) {
        let count = (self.0.load(Ordering::Relaxed) >> Self::TICK_BITS).wrapping_add(1);
        let word = (count << Self::TICK_BITS) | seen.min(Self::TICK_MASK);
        self.0.store(word, Ordering::Relaxed);
    }

    /// The latest report (count 0 and tick 0 before any).
    pub fn get(&self) -> Report {
        let word = self.0.load(Ordering::Relaxed);
        Report { count: (word >> Self::TICK_BITS) as u16, seen: word & Self::TICK_MASK }
    }
}

/// Where one connection's messages go, whatever the transport.
pub trait Outlet: Send + Sync + std::fmt::Debug {
    /// Sends one message: `head` (this client's few bytes) followed by `body` (shared with
    /// other clients). Never waits: a client that can take nothing more now gets
    /// [`Delivery::Full`], and the fan-out sends it a keyframe later instead.
    fn message(&self, head: &[u8], body: &bytes::Bytes) -> Delivery;

    /// Sends the connection's own answer to its client (a pong): not a frame, so never a
    /// reason for the client to need a keyframe.
    fn reply(&self, msg: &bytes::Bytes) -> Delivery {
        self.message(&[], msg)
    }
}

/// The fan-out's (and the connection's own) handle on one connection.
#[derive(Debug, Clone)]
pub struct Link {
    /// Sends its messages.
    pub sender: Arc<dyn Outlet>,
    /// Closes the connection, also when it stopped reading.
    pub closer: Closer,
    /// What the client says it has received.
    pub progress: Arc<Progress>,
}

/// What became of a message for one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Written (or started, its rest waiting to be written).
    Queued,
    /// Not sent: the socket takes nothing more now; the client is behind.
    Full,
    /// The connection is gone.
    Gone,
}

impl Link {
    /// A link sending through `sender`, with no progress reported yet.
    pub fn new(sender: Arc<dyn Outlet>, closer: Closer) -> Self {
        Self { sender, closer, progress: Arc::default() }
    }
}

impl From<DisconnectReason> for Close {
    fn from(reason: DisconnectReason) -> Self {
        match reason {
            DisconnectReason::AlreadyJoined => Close::new(CloseCode::Policy, "already joined"),
            DisconnectReason::RoomFull => Close::new(CloseCode::TryAgainLater, "room full"),
            DisconnectReason::TakenOver => {
                Close::new(CloseCode::SessionTakenOver, "session taken over by a newer connection")
            }
        }
    }
}
