//! The boundary between the network tasks and the simulation thread: what flows in (joins,
//! inputs, leaves), what flows out (frames and close requests), and the handle the sim keeps
//! for each connection.
//!
//! Joins and leaves go through one crossbeam channel the sim drains with `try_recv`. Inputs go
//! on the [`InputBoard`]: one contiguous array with a small slot per connection, which the sim
//! hands out at join (published to the reader through a [`Route`]) and reads in the order it
//! iterates players, so applying inputs needs no lookup and no heap object per player.
//! Outbound, the sim hands one [`TickOutput`]
//! per tick to the fan-out stage (`net::fanout`), which owns every connection's bounded
//! queue. Nobody ever waits for anybody.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use skirmish_shared::{Input, PlayerId, ResumeToken};
use tokio::sync::{mpsc, watch};

/// Identifies one connection for the server's lifetime.
pub type ConnId = u64;

/// Network → simulation.
#[derive(Debug)]
pub enum Inbound {
    /// A connection asked to play (its protocol version was already checked).
    Join {
        /// The connection.
        conn: ConnId,
        /// The display name asked for, already cleaned.
        name: Option<String>,
        /// Where this connection's frames go (handed on to the fan-out).
        link: Link,
        /// Where the sim publishes the connection's input slot for the reader.
        route: Route,
        /// The token the client presented to get its player back, if any.
        resume: Option<ResumeToken>,
        /// A fresh random token, for the case that this is a new player.
        new_token: ResumeToken,
    },
    /// The connection is gone (closed, failed or kicked).
    Leave {
        /// The connection.
        conn: ConnId,
    },
}

/// The longest per-client header in front of a shared body: fixarray, tag, tick (u64), ack
/// (u32).
pub const HEAD_CAPACITY: usize = 16;

/// A few bytes of per-client header, stored inline so that sending a shared frame to a client
/// allocates nothing on the sim thread.
#[derive(Debug, Clone, Copy)]
pub struct Head {
    len: u8,
    bytes: [u8; HEAD_CAPACITY],
}

impl Head {
    /// Copies `bytes` (at most [`HEAD_CAPACITY`]) into a head; `None` if too long.
    pub fn new(bytes: &[u8]) -> Option<Self> {
        let mut head = Self { len: 0, bytes: [0; HEAD_CAPACITY] };
        head.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
        head.len = bytes.len() as u8;
        Some(head)
    }

    /// The header bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// Simulation (or reader) → one connection's writer.
#[derive(Debug, Clone)]
pub enum Outgoing {
    /// A per-client head followed by a body shared with other clients; the writer joins them
    /// into one WebSocket message.
    Shared {
        /// Tag, tick and ack for this client.
        head: Head,
        /// The tick's encoded body, the same allocation for every client.
        body: Bytes,
        /// When the tick started, to measure delivery time.
        started: Option<Instant>,
    },
    /// A welcome: this player's header (id, rules, tick) followed by the tick's keyframe
    /// body, shared with every other client that joins or resyncs this tick.
    Welcome {
        /// The welcome header, up to and including the tick.
        head: Bytes,
        /// The keyframe's entity array.
        body: Bytes,
    },
    /// A complete message for this client alone (pong).
    Whole(Bytes),
    /// A WebSocket ping (heartbeat).
    Ping,
}

/// WebSocket close codes the server uses (RFC 6455 §7.4 and the 4000 range for ours).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseCode {
    /// 1000: done.
    Normal,
    /// 1001: the server is shutting down.
    GoingAway,
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
}

impl CloseCode {
    /// The numeric code sent on the wire.
    pub fn as_u16(self) -> u16 {
        match self {
            CloseCode::Normal => 1000,
            CloseCode::GoingAway => 1001,
            CloseCode::Unsupported => 1003,
            CloseCode::InvalidPayload => 1007,
            CloseCode::Policy => 1008,
            CloseCode::TooBig => 1009,
            CloseCode::Internal => 1011,
            CloseCode::TryAgainLater => 1013,
            CloseCode::VersionMismatch => 4001,
            CloseCode::SessionTakenOver => 4002,
            CloseCode::IdleTimeout => 4003,
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

/// The sim's handle on one connection.
#[derive(Debug, Clone)]
pub struct Link {
    /// The bounded queue of messages the connection's writer sends.
    pub outbox: mpsc::Sender<Outgoing>,
    /// Closes the connection, also when its queue is full.
    pub closer: Closer,
}

/// What the sim did with a message for one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Queued.
    Queued,
    /// The queue is full: the client is behind.
    Full,
    /// The connection is gone.
    Gone,
}

impl Link {
    /// Queues a message without waiting.
    pub fn offer(&self, msg: Outgoing) -> Delivery {
        match self.outbox.try_send(msg) {
            Ok(()) => Delivery::Queued,
            Err(mpsc::error::TrySendError::Full(_)) => Delivery::Full,
            Err(mpsc::error::TrySendError::Closed(_)) => Delivery::Gone,
        }
    }
}

/// Inputs a connection may have waiting for the sim at most; more are dropped.
pub const INPUT_QUEUE_CAPACITY: usize = 8;

/// Inputs waiting to be applied, stored inline, oldest first.
#[derive(Debug, Clone, Copy, Default)]
struct InputRing {
    slots: [Input; INPUT_QUEUE_CAPACITY],
    start: u8,
    len: u8,
}

impl InputRing {
    fn push(&mut self, input: Input) -> bool {
        if usize::from(self.len) == INPUT_QUEUE_CAPACITY {
            return false;
        }
        self.slots[(usize::from(self.start) + usize::from(self.len)) % INPUT_QUEUE_CAPACITY] =
            input;
        self.len += 1;
        true
    }

    fn pop(&mut self) -> Option<Input> {
        if self.len == 0 {
            return None;
        }
        let input = self.slots[usize::from(self.start)];
        self.start = ((usize::from(self.start) + 1) % INPUT_QUEUE_CAPACITY) as u8;
        self.len -= 1;
        Some(input)
    }
}

/// The slot of a player with no connection (waiting to be resumed): reads nothing.
pub const NO_SLOT: u32 = u32::MAX;

/// Every connection's waiting inputs, in one contiguous array of slots (one per connection,
/// allocated by the sim at join). Readers push into their slot; the sim takes from the slots
/// of its players in the order it iterates them, so memory is read in order rather than one
/// heap object per player. Each slot has its own lock, held for a few nanoseconds.
#[derive(Debug)]
pub struct InputBoard {
    slots: Box<[std::sync::Mutex<InputRing>]>,
}

impl InputBoard {
    /// A board of `capacity` slots.
    pub fn new(capacity: usize) -> Self {
        Self { slots: (0..capacity).map(|_| std::sync::Mutex::default()).collect() }
    }

    fn slot(&self, slot: u32) -> Option<std::sync::MutexGuard<'_, InputRing>> {
        let m = self.slots.get(slot as usize)?;
        Some(m.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Queues an input in `slot`; `false` (dropped) if it holds [`INPUT_QUEUE_CAPACITY`].
    pub fn push(&self, slot: u32, input: Input) -> bool {
        self.slot(slot).is_some_and(|mut ring| ring.push(input))
    }

    /// Takes up to `out.len()` inputs from `slot`, oldest first; returns how many.
    pub fn take(&self, slot: u32, out: &mut [Input]) -> usize {
        let Some(mut ring) = self.slot(slot) else { return 0 };
        let mut n = 0;
        while n < out.len() {
            let Some(input) = ring.pop() else { break };
            out[n] = input;
            n += 1;
        }
        n
    }

    /// Empties `slot` for a new connection.
    pub fn clear(&self, slot: u32) {
        if let Some(mut ring) = self.slot(slot) {
            *ring = InputRing::default();
        }
    }
}

/// A connection's input slot, published by the sim at join (slot + 1; 0 = none yet), read
/// by the connection's reader.
#[derive(Debug, Clone, Default)]
pub struct Route(Arc<std::sync::atomic::AtomicU32>);

impl Route {
    /// Publishes the slot.
    pub fn set(&self, slot: u32) {
        self.0.store(slot.saturating_add(1), std::sync::atomic::Ordering::Release);
    }

    /// The published slot, if any.
    pub fn get(&self) -> Option<u32> {
        self.0.load(std::sync::atomic::Ordering::Acquire).checked_sub(1)
    }
}

/// Everything one tick produced for the clients: built by the sim thread, delivered by the
/// fan-out. Encoded bytes are shared; nothing here is per client except the small lists of
/// joins, leaves and acks.
#[derive(Debug, Default)]
pub struct TickOutput {
    /// The tick.
    pub tick: u64,
    /// When the tick started (set by the ticker).
    pub started: Option<Instant>,
    /// The encoded frame body (spawned, changed, removed, events), if anything happened.
    pub body: Option<Bytes>,
    /// The whole world's entity array, when someone joined or a keyframe was asked for.
    pub keyframe: Option<Bytes>,
    /// The welcome header of each player that joined this tick (up to and including the
    /// tick), to be followed by `keyframe`.
    pub joined: Vec<Joined>,
    /// Connections whose player left this tick.
    pub left: Vec<ConnId>,
    /// Connections whose ack changed this tick, with the new ack.
    pub acks: Vec<(ConnId, u32)>,
    /// Connections to close (their player was taken over by a newer connection).
    pub kicked: Vec<(ConnId, Close)>,
}

/// A player that joined this tick.
#[derive(Debug)]
pub struct Joined {
    /// Its connection.
    pub conn: ConnId,
    /// Its player id.
    pub player: PlayerId,
    /// Where its frames go.
    pub link: Link,
    /// Its welcome header.
    pub welcome_head: Bytes,
}

/// The far ends of a connection without a socket: what a connection's reader and writer
/// would hold. For driving the simulation in memory (tests, benchmarks, fuzzing) through
/// exactly the structures the network uses.
#[derive(Debug)]
pub struct LocalClient {
    /// Messages the sim (through the fan-out) queued for this client.
    pub queue: mpsc::Receiver<Outgoing>,
    /// Becomes `Some` when something asks this connection to close.
    pub close: watch::Receiver<Option<Close>>,
    /// The input slot the sim gives this connection at join.
    pub route: Route,
    board: Arc<InputBoard>,
}

impl LocalClient {
    /// A join for connection `conn` with a queue of `queue_capacity` frames, and the client's
    /// ends; inputs go to `board` (the sim's). The fresh resume token is derived from `conn`
    /// (not secret: no network here).
    pub fn join(
        conn: ConnId,
        queue_capacity: usize,
        resume: Option<ResumeToken>,
        board: Arc<InputBoard>,
    ) -> (Inbound, Self) {
        let (outbox, queue) = mpsc::channel(queue_capacity);
        let (closer, close) = Closer::new();
        let route = Route::default();
        let join = Inbound::Join {
            conn,
            name: None,
            link: Link { outbox, closer },
            route: route.clone(),
            resume,
            new_token: u128::from(conn).to_le_bytes(),
        };
        (join, Self { queue, close, route, board })
    }

    /// Sends an input as the connection's reader would; `false` if it was dropped (not yet
    /// joined, or the slot is full).
    pub fn send_input(&self, input: Input) -> bool {
        self.route.get().is_some_and(|slot| self.board.push(slot, input))
    }
}
