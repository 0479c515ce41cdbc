//! A room's fan-out: takes each tick's [`TickOutput`] from the room's sim and sends it to
//! every connection of the room, off the sim thread. The only owner of the room's links and
//! of each client's delivery state (welcomed, ack sent, behind, stalled); which connection
//! plays which player it learns from the sim's outcomes, never decides.
//!
//! A connection's reader registers its link here before its join reaches the sim (both go
//! through ordered channels, so the registration is always seen first). Up-to-date clients
//! get the tick's shared body behind a few bytes of their own header (tag, tick, ack),
//! written here straight to each socket ([`super::sender`]: one vectored write, no copy of
//! the body, no task woken per client). A client whose socket takes nothing more misses that
//! frame, is marked behind and asks the sim for a
//! keyframe, which it gets instead of the frames it missed; one full for longer than the
//! stall limit is disconnected (close 1008). A client that reports the ticks it has received
//! is also paced ([`Pacer`]): one reading slower than the stream is held, then gets a
//! keyframe, rather than reading an ever older backlog; held for longer than the stall limit,
//! it is disconnected the same way. Ticks with nothing in them are not sent, unless the
//! client's ack moved.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use skirmish_shared::PlayerId;
use skirmish_shared::codec::{write_frame_header, write_keyframe_header};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::outbox::{Close, CloseCode, Delivery, Link};
use super::pacing::{Pace, Pacer};
use crate::link::{ConnId, TickOutput};
use crate::metrics::{LocalHistogram, Metrics};
use crate::view::{Assembled, Assembler};

/// Four empty arrays: the body of a frame that only carries a new ack.
const EMPTY_BODY: &[u8] = &[0x90, 0x90, 0x90, 0x90];

/// What reaches a room's fan-out, in order.
#[derive(Debug)]
pub enum FanoutMsg {
    /// A connection is about to join this room: where its frames go.
    Register {
        /// The connection.
        conn: ConnId,
        /// Its outbound side.
        link: Link,
    },
    /// The connection has ended.
    Unregister {
        /// The connection.
        conn: ConnId,
    },
    /// One tick's output (boxed: it is large, and one a tick).
    Tick(Box<TickOutput>),
    /// The room is gone: close every connection with this.
    Closed(Close),
}

/// One connection's delivery state.
#[derive(Debug)]
struct Subscriber {
    conn: ConnId,
    link: Link,
    ack: u32,
    last_ack_sent: u32,
    needs_keyframe: bool,
    stalled_ticks: u32,
    kicked: bool,
    /// The tick of the last frame sent to it (its welcome's at first).
    last_sent: u64,
    pacer: Pacer,
    /// With a view radius: the view cell its player was in at the last message sent (the
    /// centre of what it holds).
    view: u32,
}

impl Subscriber {
    /// Counts a tick it got nothing (its socket full, or held as a slow reader); past
    /// `limit` such ticks in a row it is disconnected. `true` if it was.
    fn stalled(&mut self, limit: u32, player: PlayerId) -> bool {
        self.stalled_ticks += 1;
        if self.stalled_ticks <= limit {
            return false;
        }
        warn!(
            conn = self.conn,
            player,
            ticks = self.stalled_ticks,
            "client not reading, disconnecting"
        );
        self.kicked = true;
        self.link.closer.close(Close::new(CloseCode::Policy, "too slow: stopped reading"));
        true
    }
}

/// What one delivery did, for statistics and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    /// Messages sent.
    pub sent: usize,
    /// Clients that missed this tick because their socket took nothing more.
    pub behind: usize,
    /// Clients held because they have not read what they were sent.
    pub held: usize,
    /// Bytes of the shared body (0 for an idle tick).
    pub body_bytes: usize,
    /// Payload bytes sent in all (headers and bodies, without WebSocket framing).
    pub bytes: usize,
}

/// Every connection of one room and its delivery state.
#[derive(Debug)]
pub struct Fanout {
    /// Registered connections not (or no longer) playing a player.
    links: HashMap<ConnId, Link>,
    /// Connections playing a player, by player.
    subscribers: HashMap<PlayerId, Subscriber>,
    keyframe_request: Arc<AtomicBool>,
    stall_ticks: u32,
    head: Vec<u8>,
    /// Puts each client's messages together, with a view radius.
    assembler: Assembler,
    /// Where frames sent and their delivery times are counted, if anywhere.
    metrics: Option<Arc<Metrics>>,
    /// This tick's delivery times, flushed into `metrics` once per tick.
    delivery: LocalHistogram,
}

impl Fanout {
    /// A fan-out that asks for keyframes through `keyframe_request` (the sim's flag) and
    /// disconnects clients full for more than `stall_ticks` ticks.
    pub fn new(keyframe_request: Arc<AtomicBool>, stall_ticks: u32) -> Self {
        Self {
            links: HashMap::new(),
            subscribers: HashMap::new(),
            keyframe_request,
            stall_ticks,
            head: Vec::with_capacity(16),
            assembler: Assembler::default(),
            metrics: None,
            delivery: LocalHistogram::new(),
        }
    }

    /// Counts frames sent, their bytes and delivery times (tick start → handed to the
    /// kernel) in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Handles one message; `false` once the room is closed.
    pub fn handle(&mut self, msg: FanoutMsg) -> bool {
        match msg {
            FanoutMsg::Register { conn, link } => self.register(conn, link),
            FanoutMsg::Unregister { conn } => {
                self.links.remove(&conn);
            }
            FanoutMsg::Tick(out) => {
                self.deliver(*out);
            }
            FanoutMsg::Closed(close) => {
                self.close_all(&close);
                return false;
            }
        }
        true
    }

    /// Connections this fan-out holds a link for (registered or playing).
    pub fn connections(&self) -> usize {
        self.links.len() + self.subscribers.len()
    }

    /// Registers a connection's link (what [`FanoutMsg::Register`] does).
    pub fn register(&mut self, conn: ConnId, link: Link) {
        self.links.insert(conn, link);
    }

    /// Closes every connection of the room.
    pub fn close_all(&mut self, close: &Close) {
        for (_, link) in self.links.drain() {
            link.closer.close(close.clone());
        }
        for (_, s) in self.subscribers.drain() {
            s.link.closer.close(close.clone());
        }
    }

    /// The link of `conn`, wherever it is kept; taken out.
    fn take_link(&mut self, conn: ConnId, player: Option<PlayerId>) -> Option<Link> {
        if let Some(link) = self.links.remove(&conn) {
            return Some(link);
        }
        let player = player?;
        if self.subscribers.get(&player).is_some_and(|s| s.conn == conn) {
            return self.subscribers.remove(&player).map(|s| s.link);
        }
        None
    }

    /// Queues one tick's output to every connection. Never waits.
    pub fn deliver(&mut self, out: TickOutput) -> Delivered {
        let mut done = Delivered {
            body_bytes: out.body.as_ref().map_or(0, Bytes::len)
                + out.views.as_ref().map_or(0, |v| v.encoded_bytes()),
            ..Delivered::default()
        };
        // Connections the sim ends: registered and not yet welcomed, or (taken over) playing
        // a player named in `detached`.
        for d in &out.disconnects {
            let player = out.detached.iter().find(|(c, _)| *c == d.conn).map(|&(_, p)| p);
            if let Some(link) = self.take_link(d.conn, player) {
                link.closer.close(Close::from(d.reason));
            }
        }
        // Connections that no longer play their player: their delivery state goes (the
        // reader unregisters the connection when it ends, which may already have happened).
        for &(conn, player) in &out.detached {
            if self.subscribers.get(&player).is_some_and(|s| s.conn == conn) {
                self.subscribers.remove(&player);
            }
        }
        let keyframe = out.keyframe.clone();
        for w in out.welcomed {
            let Some(link) = self.links.remove(&w.conn) else {
                continue; // the connection ended before its welcome
            };
            let mut view = 0;
            let body = if let Some(vt) = &out.views {
                // The welcome holds the player's view (the sim wrote its cells in full).
                view = vt.cell_of(w.player).unwrap_or(0);
                if self.assembler.entities(vt, view) {
                    Bytes::copy_from_slice(self.assembler.bytes())
                } else {
                    Bytes::from_static(&[0x90])
                }
            } else {
                keyframe.clone().unwrap_or_else(|| Bytes::from_static(&[0x90]))
            };
            // A fresh connection has nothing waiting: the welcome goes (or its rest waits).
            if link.sender.message(&w.head, &body) == Delivery::Queued {
                done.sent += 1;
                done.bytes += w.head.len() + body.len();
            }
            let fresh = Subscriber {
                conn: w.conn,
                link,
                ack: 0,
                last_ack_sent: 0,
                needs_keyframe: false,
                stalled_ticks: 0,
                kicked: false,
                last_sent: out.tick,
                pacer: Pacer::default(),
                view,
            };
            if let Some(old) = self.subscribers.insert(w.player, fresh) {
                // Taken over: the sim said so in `disconnects` too; make sure.
                old.link.closer.close(Close::from(crate::link::DisconnectReason::TakenOver));
            }
        }
        for (player, ack) in &out.acks {
            if let Some(s) = self.subscribers.get_mut(player) {
                s.ack = *ack;
            }
        }
        let empty = Bytes::from_static(EMPTY_BODY);
        let no_body = Bytes::new();
        for (&player, s) in self.subscribers.iter_mut() {
            // Just welcomed (nothing else is sent before this loop): the welcome holds this tick.
            if s.kicked || s.last_sent == out.tick {
                continue;
            }
            match s.pacer.pace(s.link.progress.get(), out.tick, s.last_sent) {
                Pace::Send => {}
                Pace::Resume => {
                    debug!(conn = s.conn, player, "slow reader caught up, keyframe next");
                    s.needs_keyframe = true;
                    self.keyframe_request.store(true, Ordering::Release);
                }
                Pace::Hold => {
                    done.held += 1;
                    s.stalled(self.stall_ticks, player);
                    continue;
                }
            }
            self.head.clear();
            let mut view = s.view;
            let body = if let Some(vt) = &out.views {
                // With a view radius: this client's message, put together for it.
                let Some(now) = vt.cell_of(player) else { continue };
                view = now;
                if s.needs_keyframe {
                    if !self.assembler.keyframe(vt, now, out.tick, s.ack) {
                        continue; // asked for; comes in a later tick
                    }
                } else {
                    match self.assembler.frame(vt, s.view, now, out.tick, s.ack) {
                        Assembled::Frame => {}
                        Assembled::Nothing if s.ack != s.last_ack_sent => {}
                        Assembled::Nothing => continue,
                        Assembled::NeedKeyframe => {
                            s.needs_keyframe = true;
                            self.keyframe_request.store(true, Ordering::Release);
                            continue;
                        }
                    }
                }
                &no_body
            } else if s.needs_keyframe {
                let Some(kf) = &keyframe else { continue }; // asked for; comes in a later tick
                write_keyframe_header(&mut self.head, out.tick, s.ack);
                kf
            } else if let Some(body) = &out.body {
                write_frame_header(&mut self.head, out.tick, s.ack);
                body
            } else if s.ack != s.last_ack_sent {
                write_frame_header(&mut self.head, out.tick, s.ack);
                &empty
            } else {
                continue;
            };
            // With a view radius the whole message is this client's, in the assembler's buffer.
            let head = if out.views.is_some() { self.assembler.bytes() } else { &self.head };
            match s.link.sender.message(head, body) {
                Delivery::Queued => {
                    if let Some(started) = out.started {
                        self.delivery.record(started.elapsed());
                    }
                    done.sent += 1;
                    done.bytes += head.len() + body.len();
                    s.last_sent = out.tick;
                    s.view = view;
                    s.needs_keyframe = false;
                    s.last_ack_sent = s.ack;
                    s.stalled_ticks = 0;
                }
                Delivery::Full => {
                    done.behind += 1;
                    s.needs_keyframe = true;
                    self.keyframe_request.store(true, Ordering::Release);
                    if !s.stalled(self.stall_ticks, player) {
                        debug!(conn = s.conn, player, "client behind, keyframe next");
                    }
                }
                Delivery::Gone => {}
            }
        }
        if let Some(metrics) = &self.metrics {
            metrics.frames_sent(done.sent as u64, done.bytes as u64);
            metrics.frames_not_sent(done.behind as u64, done.held as u64);
            self.delivery.flush_into(metrics.frame_delivery());
        }
        done
    }
}

/// Handles a room's messages until the room closes or its sim stops sending.
pub async fn run(mut fanout: Fanout, mut inbox: mpsc::UnboundedReceiver<FanoutMsg>) {
    // Logged once each time the backlog grows past the limit, not once per message.
    const BEHIND: usize = 30;
    let mut behind = false;
    while let Some(msg) = inbox.recv().await {
        let backlog = inbox.len();
        if backlog > BEHIND && !behind {
            warn!(backlog, "fan-out is behind the simulation");
        }
        behind = backlog > BEHIND;
        if !fanout.handle(msg) {
            break;
        }
    }
    // The sim is gone without saying why (the server is stopping): connections close
    // through the shutdown signal; nothing more to deliver.
}
