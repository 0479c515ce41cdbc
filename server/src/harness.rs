//! An in-memory room for tests, benchmarks and the fuzz target (feature `harness`): the real
//! simulation and the real fan-out, driven tick by tick with no thread, socket or clock, and
//! clients that hold exactly what a connection's reader and writer would.

use crossbeam_channel::Sender;
use skirmish_shared::{Input, ResumeToken, ServerMsg};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

use crate::link::{ConnId, Inbound, InputBoard, Route};
use crate::net::fanout::{Delivered, Fanout, FanoutMsg};
use crate::net::outbox::{Close, Closer, Link, Outgoing};
use crate::sim::{SimConfig, Simulation};

/// One room's simulation and fan-out, stepped by hand.
#[derive(Debug)]
pub struct LocalRoom {
    /// The simulation.
    pub sim: Simulation,
    /// The room's fan-out.
    pub fanout: Fanout,
    inbox: Sender<Inbound>,
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
        let (outbox, queue) = mpsc::channel(queue_capacity);
        let (closer, close) = Closer::new();
        let route = Route::default();
        self.fanout.handle(FanoutMsg::Register { conn, link: Link::new(outbox, closer) });
        let join = Inbound::Join {
            conn,
            name,
            route: route.clone(),
            resume,
            new_token: u128::from(conn).to_le_bytes(),
        };
        let _ = self.inbox.send(join);
        LocalClient { queue, close, route, board: self.sim.input_board() }
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

/// The far ends of a connection without a socket: what its reader and writer would hold.
#[derive(Debug)]
pub struct LocalClient {
    /// Messages the fan-out queued for this client.
    pub queue: mpsc::Receiver<Outgoing>,
    /// Becomes `Some` when something asks this connection to close.
    pub close: watch::Receiver<Option<Close>>,
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
        self.close.borrow().clone()
    }
}

/// The bytes a queued message puts on the wire (as one WebSocket message).
pub fn message_bytes(msg: &Outgoing) -> Vec<u8> {
    match msg {
        Outgoing::Whole(b) => b.to_vec(),
        Outgoing::Shared { head, body, .. } => [head.as_slice(), body].concat(),
        Outgoing::Welcome { head, body } => [head.as_ref(), body.as_ref()].concat(),
        Outgoing::Ping => Vec::new(),
    }
}

/// The length of [`message_bytes`] without building it.
pub fn message_len(msg: &Outgoing) -> usize {
    match msg {
        Outgoing::Whole(b) => b.len(),
        Outgoing::Shared { head, body, .. } => head.as_slice().len() + body.len(),
        Outgoing::Welcome { head, body } => head.len() + body.len(),
        Outgoing::Ping => 0,
    }
}

/// Decodes a queued message as a client would; `None` for a ping (not a protocol message).
pub fn decode(msg: &Outgoing) -> Option<ServerMsg> {
    if matches!(msg, Outgoing::Ping) {
        return None;
    }
    ServerMsg::decode(&message_bytes(msg)).ok()
}
