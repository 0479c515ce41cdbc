//! The fan-out: takes each tick's [`TickOutput`] from the sim thread and queues it to every
//! connection, off the sim thread. The only owner of the links and of each client's delivery
//! state (welcomed, ack sent, behind, stalled).
//!
//! Up-to-date clients get the tick's shared body behind a few bytes of their own header
//! (tag, tick, ack). A client whose queue is full misses that frame, is marked behind and
//! asks the sim for a keyframe, which it gets instead of the frames it missed; one full for
//! longer than the stall limit is disconnected (close 1008). Ticks with nothing in them are
//! not sent, unless the client's ack moved.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use skirmish_shared::PlayerId;
use skirmish_shared::codec::{write_frame_header, write_keyframe_header};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::link::{Close, CloseCode, ConnId, Delivery, Head, Link, Outgoing, TickOutput};

/// Four empty arrays: the body of a frame that only carries a new ack.
const EMPTY_BODY: &[u8] = &[0x90, 0x90, 0x90, 0x90];

/// One connection's delivery state.
#[derive(Debug)]
struct Subscriber {
    player: PlayerId,
    link: Link,
    ack: u32,
    last_ack_sent: u32,
    needs_keyframe: bool,
    stalled_ticks: u32,
    kicked: bool,
    /// The tick of its welcome.
    welcomed_at: u64,
}

/// What one delivery did, for statistics and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    /// Messages queued.
    pub sent: usize,
    /// Clients that missed this tick because their queue was full.
    pub behind: usize,
    /// Bytes of the shared body (0 for an idle tick).
    pub body_bytes: usize,
}

/// Every connection's delivery state.
#[derive(Debug)]
pub struct Fanout {
    subscribers: HashMap<ConnId, Subscriber>,
    keyframe_request: Arc<AtomicBool>,
    stall_ticks: u32,
    head: Vec<u8>,
}

impl Fanout {
    /// A fan-out that asks for keyframes through `keyframe_request` (the sim's flag) and
    /// disconnects clients full for more than `stall_ticks` ticks.
    pub fn new(keyframe_request: Arc<AtomicBool>, stall_ticks: u32) -> Self {
        Self {
            subscribers: HashMap::new(),
            keyframe_request,
            stall_ticks,
            head: Vec::with_capacity(16),
        }
    }

    /// Queues one tick's output to every connection. Never waits.
    pub fn deliver(&mut self, out: TickOutput) -> Delivered {
        let mut done = Delivered {
            body_bytes: out.body.as_ref().map_or(0, Bytes::len),
            ..Delivered::default()
        };
        for conn in &out.left {
            self.subscribers.remove(conn);
        }
        for (conn, close) in out.kicked {
            if let Some(s) = self.subscribers.remove(&conn) {
                s.link.closer.close(close);
            }
        }
        let keyframe = out.keyframe.clone();
        for j in out.joined {
            let body = keyframe.clone().unwrap_or_else(|| Bytes::from_static(&[0x90]));
            // A fresh queue always has room for the welcome.
            if j.link.offer(Outgoing::Welcome { head: j.welcome_head, body }) == Delivery::Queued {
                done.sent += 1;
            }
            self.subscribers.insert(
                j.conn,
                Subscriber {
                    player: j.player,
                    link: j.link,
                    ack: 0,
                    last_ack_sent: 0,
                    needs_keyframe: false,
                    stalled_ticks: 0,
                    kicked: false,
                    welcomed_at: out.tick,
                },
            );
        }
        for (conn, ack) in &out.acks {
            if let Some(s) = self.subscribers.get_mut(conn) {
                s.ack = *ack;
            }
        }
        let empty = Bytes::from_static(EMPTY_BODY);
        for (&conn, s) in self.subscribers.iter_mut() {
            // Just welcomed: the welcome already holds this tick.
            if s.kicked || s.welcomed_at == out.tick {
                continue;
            }
            self.head.clear();
            let body = if s.needs_keyframe {
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
            // A frame header is at most 16 bytes (fixarray, tag, u64, u32).
            let Some(head) = Head::new(&self.head) else { continue };
            match s.link.offer(Outgoing::Shared { head, body: body.clone(), started: out.started })
            {
                Delivery::Queued => {
                    done.sent += 1;
                    s.needs_keyframe = false;
                    s.last_ack_sent = s.ack;
                    s.stalled_ticks = 0;
                }
                Delivery::Full => {
                    done.behind += 1;
                    s.needs_keyframe = true;
                    s.stalled_ticks += 1;
                    self.keyframe_request.store(true, Ordering::Release);
                    if s.stalled_ticks > self.stall_ticks {
                        warn!(
                            conn,
                            player = s.player,
                            ticks = s.stalled_ticks,
                            "client stalled, disconnecting"
                        );
                        s.kicked = true;
                        s.link
                            .closer
                            .close(Close::new(CloseCode::Policy, "too slow: stopped reading"));
                    } else {
                        debug!(conn, player = s.player, "client behind, keyframe next");
                    }
                }
                Delivery::Gone => {}
            }
        }
        done
    }
}

/// Delivers tick outputs until the sim thread stops sending them.
pub async fn run(mut fanout: Fanout, mut outputs: mpsc::UnboundedReceiver<TickOutput>) {
    while let Some(out) = outputs.recv().await {
        let backlog = outputs.len();
        if backlog > 30 {
            warn!(backlog, "fan-out is behind the simulation");
        }
        fanout.deliver(out);
    }
}
