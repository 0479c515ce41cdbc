//! One client's session, whatever carries its bytes: what it may say and when. Both
//! transports — a WebSocket ([`super::ws`]) and HTTP long-polling ([`super::poll`]) — hand
//! each message they receive to a [`Client`], which decodes and validates it, places the join
//! in a room, rate-limits and sequences inputs onto the room's input board, answers pings,
//! and at the end tells the room the connection is gone. So the rules a client must keep are
//! the same over either transport; only framing, liveness and the close differ.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use skirmish_shared::{ClientMsg, DecodeError, PROTOCOL_VERSION, ServerMsg};
use tracing::debug;

use crate::link::{ConnId, INPUT_QUEUE_CAPACITY, Inbound, Route};
use crate::net::NetContext;
use crate::net::fanout::FanoutMsg;
use crate::net::outbox::{Close, CloseCode, Link};
use crate::room::RoomHandle;
use crate::room::registry::{PlaceError, RoomRequest};
use crate::seat::{SeatError, SeatKey, unix_now};

/// An input whose sequence number jumps further ahead than this closes the connection.
pub const MAX_SEQ_JUMP: u32 = 10_000;

/// One client's session state, owned by its transport's task.
#[derive(Debug)]
pub struct Client {
    conn: ConnId,
    ip: std::net::IpAddr,
    ctx: Arc<NetContext>,
    link: Link,
    /// Once joined: the room, and where its sim publishes this connection's input slot.
    joined: Option<(Arc<RoomHandle>, Route)>,
    /// The client sent the leave message: its player goes at once.
    left_for_good: bool,
    /// The connection is over ([`end`](Self::end)): every later message is refused, so
    /// nothing can place a player the room would never hear leave.
    ended: bool,
    last_seq: u32,
    bucket: InputBucket,
}

impl Client {
    /// A client on connection `conn` from `ip`, whose messages go out through `link`.
    pub fn new(conn: ConnId, ip: std::net::IpAddr, ctx: Arc<NetContext>, link: Link) -> Self {
        let bucket = InputBucket::new(ctx.limits.tick_rate);
        Self {
            conn,
            ip,
            ctx,
            link,
            joined: None,
            left_for_good: false,
            ended: false,
            last_seq: 0,
            bucket,
        }
    }

    /// The connection.
    pub fn conn(&self) -> ConnId {
        self.conn
    }

    /// Whether its join was placed in a room.
    pub fn joined(&self) -> bool {
        self.joined.is_some()
    }

    /// A transport's own control message (a WebSocket ping or pong): it costs a wake-up and
    /// counts toward the flood limit like any message.
    pub fn on_control(&mut self) -> Result<(), Close> {
        self.bucket.take(Instant::now(), "input flood").map(|_| ())
    }

    /// The connection is over: the room learns it (its player waits to be resumed, or goes at
    /// once after a leave) and forgets its link.
    pub fn end(&mut self) {
        self.ended = true;
        if let Some((room, _)) = self.joined.take() {
            // A closed room has nobody left to tell.
            let _ =
                room.inbox.send(Inbound::Leave { conn: self.conn, for_good: self.left_for_good });
            let _ = room.fanout.send(FanoutMsg::Unregister { conn: self.conn });
        }
    }

    /// Handles one message from the client (a WebSocket binary message, or one record of a
    /// polling batch); `Err` says how the connection must close.
    pub fn on_message(&mut self, bytes: &[u8]) -> Result<(), Close> {
        if self.ended {
            return Err(Close::new(CloseCode::Normal, "connection closed"));
        }
        let msg = match ClientMsg::decode(bytes) {
            Ok(msg) => msg,
            Err(DecodeError::Input(e)) => {
                // Well-formed but meaningless (NaN, too long): dropped, the client stays.
                debug!(conn = self.conn, error = %e, "input dropped");
                return Ok(());
            }
            Err(e) => {
                return Err(Close::new(
                    CloseCode::InvalidPayload,
                    format!("malformed message: {e}"),
                ));
            }
        };
        match msg {
            ClientMsg::Join { .. } if self.joined.is_some() => {
                Err(Close::new(CloseCode::Policy, "already joined"))
            }
            ClientMsg::Join { protocol_version, .. } if protocol_version != PROTOCOL_VERSION => {
                Err(Close::new(
                    CloseCode::VersionMismatch,
                    format!(
                        "protocol version {protocol_version} not supported; server speaks {PROTOCOL_VERSION}"
                    ),
                ))
            }
            ClientMsg::Join { name, resume, room, seat, .. } => self.join(name, resume, room, seat),
            ClientMsg::Leave => {
                // The room hears it now, not once the close handshake is over (which a peer
                // that doesn't answer the close frame can hold up for seconds).
                self.left_for_good = true;
                self.end();
                Err(Close::new(CloseCode::Normal, "bye"))
            }
            ClientMsg::Input(_) | ClientMsg::Ping { .. } if self.joined.is_none() => {
                Err(Close::new(CloseCode::Policy, "join first"))
            }
            ClientMsg::Input(_) | ClientMsg::Ping { .. }
                if !self.bucket.take(Instant::now(), "input flood")? =>
            {
                debug!(conn = self.conn, "over the input rate, message dropped");
                Ok(())
            }
            ClientMsg::Input(input) => {
                if input.seen != 0 {
                    self.link.progress.report(input.seen);
                }
                if input.seq <= self.last_seq {
                    debug!(
                        conn = self.conn,
                        seq = input.seq,
                        last = self.last_seq,
                        "stale input dropped"
                    );
                    return Ok(());
                }
                if input.seq - self.last_seq > MAX_SEQ_JUMP {
                    return Err(Close::new(CloseCode::Policy, "input sequence number jumped"));
                }
                self.last_seq = input.seq;
                // No slot yet: the sim has not seen the join; the client has no welcome yet
                // either, so it has nothing to act on.
                let pushed =
                    self.joined.as_ref().is_some_and(|(room, route)| room.board.push(route, input));
                if !pushed {
                    debug!(
                        conn = self.conn,
                        seq = input.seq,
                        "input dropped (queue full or not joined yet)"
                    );
                }
                Ok(())
            }
            ClientMsg::Ping { client_time } => {
                let timing =
                    self.joined.as_ref().and_then(|(room, route)| room.board.timing(route));
                let pong = ServerMsg::Pong { client_time, timing }.encode();
                // A client too far behind to take a pong learns its RTT from the next one.
                let _ = self.link.sender.reply(&pong.into());
                Ok(())
            }
        }
    }

    /// Places the join in a room, registers this connection with the room's fan-out, then
    /// sends the join to the room's sim (in that order: the fan-out must know the link before
    /// the welcome comes).
    fn join(
        &mut self,
        name: Option<String>,
        resume: Option<skirmish_shared::ResumeToken>,
        room: Option<String>,
        seat: Option<String>,
    ) -> Result<(), Close> {
        let mut new_token = [0u8; 16];
        getrandom::fill(&mut new_token)
            .map_err(|_| Close::new(CloseCode::Internal, "no random source for a token"))?;
        if !self.ctx.admit_join(self.ip) {
            return Err(Close::new(CloseCode::TryAgainLater, "too many joins from your address"));
        }
        let (name, room) = match &self.ctx.limits.seat_key {
            Some(key) => self.seated(key, seat.as_deref(), room)?,
            None => (name, room),
        };
        let request = room.map_or(RoomRequest::QuickPlay, RoomRequest::Named);
        let room = self.ctx.registry.place(&request, resume.as_ref()).map_err(|e| match e {
            PlaceError::InvalidName => Close::new(CloseCode::Policy, "invalid room name"),
            PlaceError::RoomFull => Close::new(CloseCode::TryAgainLater, "room full"),
            PlaceError::NoRoomAvailable => {
                Close::new(CloseCode::TryAgainLater, "no room available")
            }
            PlaceError::ShuttingDown => super::sessions::shutting_down(),
        })?;
        let route = Route::default();
        let name = name.as_deref().and_then(skirmish_shared::clean_name);
        let registered =
            room.fanout.send(FanoutMsg::Register { conn: self.conn, link: self.link.clone() });
        let join = Inbound::Join { conn: self.conn, name, route: route.clone(), resume, new_token };
        let sent = registered.is_ok() && room.inbox.send(join).is_ok();
        debug!(conn = self.conn, room = %room.id, "join placed");
        self.joined = Some((room, route));
        if !sent {
            return Err(Close::new(CloseCode::Internal, "room failed"));
        }
        Ok(())
    }

    /// With a join secret: the name and room the join's seat gives it, or the close that
    /// refuses it (4004 saying why, counted against the address; 1013 once the address has
    /// failed too often, before any check).
    fn seated(
        &self,
        key: &SeatKey,
        seat: Option<&str>,
        room: Option<String>,
    ) -> Result<(Option<String>, Option<String>), Close> {
        if !self.ctx.seat_failures.has(self.ip) {
            self.ctx.metrics.seat_refused("rate_limited");
            return Err(Close::new(
                CloseCode::TryAgainLater,
                "too many rejected seats from your address",
            ));
        }
        let checked = seat
            .ok_or(SeatError::Missing)
            .and_then(|t| key.check(t, unix_now()))
            .and_then(|claims| match room {
                // A join that names no room goes to its seat's.
                Some(r) if r != claims.room => Err(SeatError::WrongRoom),
                _ => Ok(claims),
            });
        match checked {
            Ok(claims) => Ok((Some(claims.name), Some(claims.room))),
            Err(e) => {
                self.ctx.seat_failures.take(self.ip);
                self.ctx.metrics.seat_refused(e.label());
                debug!(conn = self.conn, ip = %self.ip, error = %e, "join refused");
                Err(Close::new(CloseCode::SeatRejected, e.to_string()))
            }
        }
    }
}

/// Rate limit on everything a client sends after joining — inputs, pings, and WebSocket
/// control frames: a bucket of [`INPUT_QUEUE_CAPACITY`] tokens (the burst a jittery network
/// may deliver at once) refilled at 1.25 × the tick rate plus one (one input a tick, a ping a
/// second, and slack). A message without a token is dropped; more drops within one second
/// than half the tick rate (a client sending 1.5 × faster than it may, sustained) is a flood,
/// and closes the connection (1008).
#[derive(Debug)]
pub(crate) struct InputBucket {
    tokens: f64,
    rate: f64,
    flood: u32,
    last: Instant,
    window: Instant,
    drops: u32,
}

impl InputBucket {
    pub(crate) fn new(tick_rate: u32) -> Self {
        let now = Instant::now();
        let tick_rate = tick_rate.max(1);
        Self {
            tokens: INPUT_QUEUE_CAPACITY as f64,
            rate: 1.25 * f64::from(tick_rate) + 1.0,
            flood: (tick_rate / 2).max(1),
            last: now,
            window: now,
            drops: 0,
        }
    }

    /// `Ok(true)` to take the message, `Ok(false)` to drop it, `Err` for a flood.
    pub(crate) fn take(&mut self, now: Instant, flood: &'static str) -> Result<bool, Close> {
        let cap = INPUT_QUEUE_CAPACITY as f64;
        self.tokens = (self.tokens + (now - self.last).as_secs_f64() * self.rate).min(cap);
        self.last = now;
        if now - self.window >= Duration::from_secs(1) {
            self.window = now;
            self.drops = 0;
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(true);
        }
        self.drops += 1;
        if self.drops > self.flood {
            return Err(Close::new(CloseCode::Policy, flood));
        }
        Ok(false)
    }
}

/// When the peer last sent anything: written by whatever receives its messages, read by
/// whatever decides it has gone silent.
#[derive(Debug)]
pub struct LastSeen {
    start: Instant,
    nanos: AtomicU64,
}

impl Default for LastSeen {
    fn default() -> Self {
        Self::new()
    }
}

impl LastSeen {
    /// Silent since now.
    pub fn new() -> Self {
        Self { start: Instant::now(), nanos: AtomicU64::new(0) }
    }

    /// The peer was heard from now.
    pub fn touch(&self) {
        let now = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.nanos.store(now, Ordering::Relaxed);
    }

    /// Time since the peer was last heard from.
    pub fn silent_for(&self) -> Duration {
        self.start
            .elapsed()
            .saturating_sub(Duration::from_nanos(self.nanos.load(Ordering::Relaxed)))
    }
}
