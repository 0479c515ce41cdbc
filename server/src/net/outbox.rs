//! A connection's outbound side, as the fan-out and the connection's tasks see it: the
//! [`Outlet`] its messages go out through (a WebSocket's [`Sender`](super::sender::Sender),
//! or a polling session's queue), the [`Closer`] anyone may use to end it, and
//! the WebSocket close codes the server speaks. The simulation's transport-neutral
//! [`DisconnectReason`]s are mapped to close codes here, and only here.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;

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
pub struct Closer(Arc<CloseCell>);

/// The connection's own end of its [`Closer`]: learns that a close was asked, and why, and
/// (a WebSocket's) the beats of the server's heartbeat clock. One task waits on it (the
/// connection's, or a polling session's watcher).
#[derive(Debug)]
pub struct CloseWatch(Arc<CloseCell>);

/// What woke a [`CloseWatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// A close was asked for.
    Close(Close),
    /// The beat the connection asked for ([`CloseWatch::beat_at`]) came
    /// ([`super::sessions::OpenSessions::beat_due`]): time to check its timeouts and pings.
    Beat,
}

/// A close request and the one task to wake for it. Every connection holds one for as long
/// as it is open, so it is small: a `tokio::sync::watch` channel was 376 bytes a connection
/// (its eight notifiers) of the few KiB an idle connection costs (BENCHMARKS "Memory at
/// rest"). It carries the heartbeat clock's beats too, so that an idle connection waits on
/// one thing, not on a timer of its own as well (a timer was 112 bytes of every connection's
/// task).
#[derive(Debug, Default)]
struct CloseCell {
    close: Mutex<Option<Close>>,
    /// When the connection wants its next beat, on the heartbeat clock
    /// ([`super::sessions::clock_ms`]); [`NO_BEAT`] or [`BEAT_CAME`].
    beat_due: AtomicU64,
    waiter: AtomicWaker,
}

/// `beat_due`: no beat wanted.
const NO_BEAT: u64 = 0;
/// `beat_due`: the beat came and the connection has not seen it yet.
const BEAT_CAME: u64 = u64::MAX;

impl CloseCell {
    fn slot(&self) -> MutexGuard<'_, Option<Close>> {
        // A panic while holding the lock leaves either no close or a whole one.
        self.close.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Requests the close; ignored if one was already requested.
    fn close(&self, close: Close) {
        {
            let mut slot = self.slot();
            if slot.is_some() {
                return;
            }
            *slot = Some(close);
        }
        self.waiter.wake();
    }
}

impl Closer {
    /// A closer and the watch its connection waits on.
    pub fn new() -> (Self, CloseWatch) {
        let cell = Arc::new(CloseCell::default());
        (Self(cell.clone()), CloseWatch(cell))
    }

    /// Requests the close; ignored if one was already requested.
    pub fn close(&self, close: Close) {
        self.0.close(close);
    }

    /// A beat of the heartbeat clock at `now_ms` ([`super::sessions::clock_ms`]): wakes the
    /// connection's task if the beat it asked for is due (it then checks its timeouts);
    /// nothing otherwise.
    pub fn beat_if_due(&self, now_ms: u64) {
        let due = self.0.beat_due.load(Ordering::Acquire);
        if due != NO_BEAT
            && due != BEAT_CAME
            && due <= now_ms
            && self
                .0
                .beat_due
                .compare_exchange(due, BEAT_CAME, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            self.0.waiter.wake();
        }
    }
}

impl CloseWatch {
    /// The close asked for, if any (the first one).
    pub fn get(&self) -> Option<Close> {
        self.0.slot().clone()
    }

    /// Ready once a close has been asked for; wakes the last task that polled it.
    pub fn poll_closed(&self, cx: &mut Context<'_>) -> Poll<Close> {
        // Registered before looking, so a close asked in between still wakes this task.
        self.0.waiter.register(cx.waker());
        match &*self.0.slot() {
            Some(close) => Poll::Ready(close.clone()),
            None => Poll::Pending,
        }
    }

    /// Asks for the close from the connection's own side (as [`Closer::close`]: ignored if
    /// one was already asked for).
    pub fn close(&self, close: Close) {
        self.0.close(close);
    }

    /// Waits until a close is asked for; returns it.
    pub async fn closed(&self) -> Close {
        std::future::poll_fn(|cx| self.poll_closed(cx)).await
    }

    /// Asks for a beat at `due_ms` on the heartbeat clock ([`super::sessions::clock_ms`]),
    /// instead of any asked before: the first beat of the clock at or after it comes as
    /// [`Signal::Beat`].
    pub fn beat_at(&self, due_ms: u64) {
        self.0.beat_due.store(due_ms.clamp(1, BEAT_CAME - 1), Ordering::Release);
    }

    /// Waits for a close or the beat asked for, the close first when both wait. A beat is
    /// given once; the next must be asked for again.
    pub async fn signal(&self) -> Signal {
        std::future::poll_fn(|cx| match self.poll_closed(cx) {
            Poll::Ready(close) => Poll::Ready(Signal::Close(close)),
            Poll::Pending if self.0.beat_due.load(Ordering::Acquire) == BEAT_CAME => {
                self.0.beat_due.store(NO_BEAT, Ordering::Release);
                Poll::Ready(Signal::Beat)
            }
            Poll::Pending => Poll::Pending,
        })
        .await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_beat_comes_once_when_due_and_a_close_comes_first() {
        let (closer, watch) = Closer::new();
        let pending = |watch: &CloseWatch| {
            let mut signal = std::pin::pin!(watch.signal());
            let waker = futures_util::task::noop_waker();
            signal.as_mut().poll(&mut Context::from_waker(&waker)).is_pending()
        };
        closer.beat_if_due(1_000);
        assert!(pending(&watch), "no beat asked for: none comes");
        watch.beat_at(500);
        closer.beat_if_due(499);
        assert!(pending(&watch), "not due yet");
        closer.beat_if_due(500);
        closer.beat_if_due(600);
        assert_eq!(watch.signal().await, Signal::Beat);
        assert!(pending(&watch), "given once, however many beats of the clock went by");
        watch.beat_at(700);
        closer.beat_if_due(800);
        closer.close(Close::new(CloseCode::GoingAway, "server shutting down"));
        let close = Signal::Close(Close::new(CloseCode::GoingAway, "server shutting down"));
        assert_eq!(watch.signal().await, close, "a close before a waiting beat");
        assert_eq!(watch.signal().await, close, "and for good");
    }

    #[test]
    fn the_first_close_asked_for_wins() {
        let (closer, watch) = Closer::new();
        assert!(watch.get().is_none());
        closer.close(Close::new(CloseCode::Policy, "flood"));
        closer.clone().close(Close::new(CloseCode::GoingAway, "server shutting down"));
        assert_eq!(watch.get(), Some(Close::new(CloseCode::Policy, "flood")));
    }

    #[tokio::test]
    async fn a_close_from_another_task_wakes_the_waiting_one() {
        let (closer, watch) = Closer::new();
        let waiting = tokio::spawn(async move { watch.closed().await });
        tokio::task::yield_now().await;
        closer.close(Close::new(CloseCode::TryAgainLater, "room full"));
        let close = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("the waiting task was not woken within 5 s")
            .expect("the waiting task panicked");
        assert_eq!(close, Close::new(CloseCode::TryAgainLater, "room full"));
    }

    #[test]
    fn a_close_asked_before_the_wait_is_seen_at_once() {
        let (closer, watch) = Closer::new();
        closer.close(Close::new(CloseCode::Normal, "bye"));
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert_eq!(watch.poll_closed(&mut cx), Poll::Ready(Close::new(CloseCode::Normal, "bye")));
    }

    #[test]
    fn a_connections_close_cell_is_small() {
        // Held by every open connection (a watch channel was 376 bytes of it).
        let size = std::mem::size_of::<CloseCell>();
        assert!(size <= 96, "the close cell is {size} bytes");
    }
}
