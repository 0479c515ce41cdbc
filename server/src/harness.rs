//! An in-memory room for tests, benchmarks and the fuzz target (feature `harness`): the real
//! simulation and the real fan-out, driven tick by tick with no thread, socket or clock, and
//! clients that hold exactly what a connection's reader would, and receive the very bytes a
//! socket would (WebSocket frames, through the real [`Sender`]) from a [`MemoryWire`] that
//! holds a bounded number of messages.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::{Arc, Mutex};

use skirmish_shared::{Input, ResumeToken, ServerMsg};

use crate::link::{ConnId, Inbound, InputBoard, Route};
use crate::net::fanout::{Delivered, Fanout, FanoutMsg};
use crate::net::outbox::{Close, CloseWatch, Closer, Link};
use crate::net::sender::{Sender, Wire};
use crate::sim::{SimConfig, Simulation};

/// One room's simulation and fan-out, stepped by hand.
#[derive(Debug)]
pub struct LocalRoom {
    /// The simulation.
    pub sim: Simulation,
    /// The room's fan-out.
    pub fanout: Fanout,
    inbox: crossbeam_channel::Sender<Inbound>,
}

impl LocalRoom {
    /// A room with these settings whose fan-out drops clients full for `stall_ticks` ticks.
    pub fn new(config: &SimConfig, stall_ticks: u32) -> Self {
        let (inbox, rx) = crossbeam_channel::unbounded();
        let sim = Simulation::new(config, rx);
        Self { fanout: Fanout::new(sim.keyframe_request(), stall_ticks), sim, inbox }
    }

    /// Joins connection `conn` as its reader would (link registered with the fan-out, then
    /// the join sent to the sim), with a queue of `queue_capacity` messages. The fresh resume
    /// token is derived from `conn` (not secret: no network here).
    pub fn join(
        &mut self,
        conn: ConnId,
        queue_capacity: usize,
        resume: Option<ResumeToken>,
    ) -> LocalClient {
        self.join_named(conn, queue_capacity, resume, None)
    }

    /// [`join`](Self::join) with a display name.
    pub fn join_named(
        &mut self,
        conn: ConnId,
        queue_capacity: usize,
        resume: Option<ResumeToken>,
        name: Option<String>,
    ) -> LocalClient {
        self.join_on(conn, Arc::new(MemoryWire::new(queue_capacity)), resume, name)
    }

    /// Joins connection `conn` whose frames go to a [`MemoryWire::discarding`] wire.
    pub fn join_discarding(&mut self, conn: ConnId) -> LocalClient {
        self.join_on(conn, Arc::new(MemoryWire::discarding()), None, None)
    }

    fn join_on(
        &mut self,
        conn: ConnId,
        wire: Arc<MemoryWire>,
        resume: Option<ResumeToken>,
        name: Option<String>,
    ) -> LocalClient {
        let (closer, close) = Closer::new();
        let route = Route::default();
        let sender = Arc::new(Sender::new(wire.clone()));
        self.fanout.handle(FanoutMsg::Register { conn, link: Link::new(sender, closer) });
        let join = Inbound::Join {
            conn,
            name,
            route: route.clone(),
            resume,
            new_token: u128::from(conn).to_le_bytes(),
        };
        let _ = self.inbox.send(join);
        LocalClient { wire, close, route, board: self.sim.input_board() }
    }

    /// Connection `conn` has ended, as its reader would report it.
    pub fn leave(&mut self, conn: ConnId) {
        self.end(conn, false);
    }

    /// Connection `conn` has ended; `for_good` if its client sent the leave message.
    pub fn end(&mut self, conn: ConnId, for_good: bool) {
        let _ = self.inbox.send(Inbound::Leave { conn, for_good });
        self.fanout.handle(FanoutMsg::Unregister { conn });
    }

    /// Runs one tick and queues its output to the clients.
    pub fn step(&mut self) -> Delivered {
        let out = self.sim.step();
        self.fanout.deliver(out)
    }
}

/// A socket's stand-in: whole writes are kept as messages, at most `capacity` of them;
/// beyond that, writes would block (as a full socket's). A discarding wire stands for a
/// reader that reads everything at once: it only counts the bytes.
#[derive(Debug)]
pub struct MemoryWire {
    capacity: usize,
    frames: Mutex<VecDeque<Vec<u8>>>,
    /// `Some(bytes written)` for a discarding wire.
    discarded: Option<std::sync::atomic::AtomicUsize>,
}

impl MemoryWire {
    /// A wire holding at most `capacity` unread messages.
    pub fn new(capacity: usize) -> Self {
        Self { capacity, frames: Mutex::new(VecDeque::new()), discarded: None }
    }

    /// A wire that takes everything and keeps nothing but the count of bytes (benchmarks:
    /// a hundred thousand clients each keeping a copy of a large welcome would not fit).
    pub fn discarding() -> Self {
        Self {
            capacity: usize::MAX,
            frames: Mutex::new(VecDeque::new()),
            discarded: Some(std::sync::atomic::AtomicUsize::new(0)),
        }
    }

    fn frames(&self) -> std::sync::MutexGuard<'_, VecDeque<Vec<u8>>> {
        self.frames.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drops every unread message; returns their bytes (WebSocket framing included).
    pub fn clear(&self) -> usize {
        let kept: usize = self.frames().drain(..).map(|f| f.len()).sum();
        let discarded =
            self.discarded.as_ref().map_or(0, |n| n.swap(0, std::sync::atomic::Ordering::Relaxed));
        kept + discarded
    }
}

impl Wire for MemoryWire {
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if let Some(count) = &self.discarded {
            let n = bufs.iter().map(|b| b.len()).sum();
            count.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            return Ok(n);
        }
        let mut frames = self.frames();
        if frames.len() >= self.capacity {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let bytes: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
        let n = bytes.len();
        frames.push_back(bytes);
        Ok(n)
    }
}

/// One WebSocket frame as a client reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A binary message's payload.
    Binary(Vec<u8>),
    /// A ping.
    Ping,
}

/// Splits one unmasked server frame into opcode and payload; `None` if it is not one whole
/// frame.
fn parse_frame(bytes: &[u8]) -> Option<(u8, &[u8])> {
    let (&b0, rest) = bytes.split_first()?;
    let (&b1, rest) = rest.split_first()?;
    let (len, rest) = match b1 {
        0..=125 => (usize::from(b1), rest),
        126 => (usize::from(u16::from_be_bytes(rest.get(..2)?.try_into().ok()?)), &rest[2..]),
        127 => {
            (usize::try_from(u64::from_be_bytes(rest.get(..8)?.try_into().ok()?)).ok()?, &rest[8..])
        }
        _ => return None,
    };
    (b0 & 0x80 != 0 && rest.len() == len).then_some((b0 & 0x0f, rest))
}

/// The far ends of a connection without a socket: what its reader and writer would hold.
#[derive(Debug)]
pub struct LocalClient {
    /// What the fan-out wrote to this client.
    pub wire: Arc<MemoryWire>,
    /// Becomes `Some` when something asks this connection to close.
    pub close: CloseWatch,
    /// The input slot the sim gives this connection at join.
    pub route: Route,
    board: Arc<InputBoard>,
}

impl LocalClient {
    /// Sends an input as the connection's reader would; `false` if it was dropped (not yet
    /// joined, taken over, or the slot is full).
    pub fn send_input(&self, input: Input) -> bool {
        self.board.push(&self.route, input)
    }

    /// The close asked for this connection, if any.
    pub fn closed(&self) -> Option<Close> {
        self.close.get()
    }

    /// Reads the next frame written to this client, as its socket would deliver it.
    ///
    /// # Panics
    /// If the bytes are not one whole server frame: the fan-out wrote something broken.
    pub fn try_recv(&self) -> Option<Received> {
        let bytes = self.wire.frames().pop_front()?;
        let Some((opcode, payload)) = parse_frame(&bytes) else {
            panic!("not one whole WebSocket frame: {bytes:02x?}")
        };
        Some(match opcode {
            0x2 => Received::Binary(payload.to_vec()),
            0x9 => Received::Ping,
            other => panic!("unexpected opcode {other:#x}"),
        })
    }

    /// Whether nothing waits to be read.
    pub fn is_empty(&self) -> bool {
        self.wire.frames().is_empty()
    }

    /// Reads and drops everything waiting; returns the bytes on the wire (frames included).
    pub fn drain(&self) -> usize {
        self.wire.clear()
    }
}

/// Decodes a received frame as a client would; `None` for a ping (not a protocol message) or
/// bytes that don't decode.
pub fn decode(msg: &Received) -> Option<ServerMsg> {
    match msg {
        Received::Binary(bytes) => ServerMsg::decode(bytes).ok(),
        Received::Ping => None,
    }
}
