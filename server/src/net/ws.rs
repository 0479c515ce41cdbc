//! One WebSocket connection after the upgrade: this task reads, decodes, validates and
//! forwards to the connection's room (placed by the registry at join). Nothing here writes
//! frames: the room's fan-out writes them straight to the socket through the connection's
//! [`Sender`]; this task only writes out what the socket could not take at once (the
//! backlog, when the socket is writable again), and pongs, pings and the close.
//!
//! A client closing its socket is not an error. Whoever decides the connection must end
//! (the reader on bad input, the sim on a full server or a stalled client, the server on
//! shutdown) asks through the connection's [`Closer`]; this task then sends the close frame.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::StreamExt;
use skirmish_shared::{ClientMsg, DecodeError, PROTOCOL_VERSION, ServerMsg};
use tokio::io::Interest;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tracing::{debug, info};

use crate::link::{ConnId, INPUT_QUEUE_CAPACITY, Inbound, Route};
use crate::net::fanout::FanoutMsg;
use crate::net::outbox::{Close, CloseCode, Closer, Delivery, Link};
use crate::net::sender::{Opcode, Sender};
use crate::net::{NetContext, websocket_config};
use crate::room::RoomHandle;
use crate::room::registry::{PlaceError, RoomRequest};

/// An upgraded HTTP connection speaking WebSocket.
pub type Ws = WebSocketStream<Io>;

/// An input whose sequence number jumps further ahead than this closes the connection.
pub const MAX_SEQ_JUMP: u32 = 10_000;
/// Time a closing connection gets, in all, to send its close frame and hear the peer's answer;
/// then its socket is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// An upgraded connection's socket as tungstenite sees it: reads come from the socket (after
/// the bytes hyper had already read past the upgrade), writes (its pong replies and close
/// frames) go through the connection's [`Sender`], in order with everything else written.
#[derive(Debug)]
pub struct Io {
    tcp: Arc<TcpStream>,
    prefix: Bytes,
    sender: Arc<Sender>,
}

impl AsyncRead for Io {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix.split_to(n));
            return Poll::Ready(Ok(()));
        }
        loop {
            ready!(self.tcp.poll_read_ready(cx))?;
            let room = buf.remaining();
            match self.tcp.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    if n > 0 && n < room {
                        // A short read emptied the socket: forget its readiness now rather
                        // than learn it from one more read that fails (a syscall per input
                        // saved). Safe against data arriving meanwhile: tokio clears only the
                        // readiness this read observed.
                        let _ = self.tcp.try_io(Interest::READABLE, || {
                            Err::<(), _>(io::ErrorKind::WouldBlock.into())
                        });
                    }
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(match self.sender.raw(buf) {
            Delivery::Queued => Ok(buf.len()),
            // Not `WouldBlock`: nothing would wake tungstenite to retry. A peer that let this
            // much pile up is not reading; its connection ends.
            Delivery::Full => Err(io::Error::other("peer not reading: backlog full")),
            Delivery::Gone => Err(io::ErrorKind::BrokenPipe.into()),
        })
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The sender writes at once; its backlog is the connection task's to flush.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Runs the connection to its end and tells the sim the player left. `prefix`: bytes read
/// past the upgrade request.
pub async fn run(
    tcp: TcpStream,
    prefix: Bytes,
    conn: ConnId,
    ip: std::net::IpAddr,
    ctx: Arc<NetContext>,
) {
    let tcp = Arc::new(tcp);
    let sender = Arc::new(Sender::new(Box::new(tcp.clone())));
    let io = Io { tcp: tcp.clone(), prefix, sender: sender.clone() };
    let mut ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(websocket_config())).await;
    let (closer, close_rx) = Closer::new();
    let last_seen = LastSeen::new();
    let link = Link::new(sender.clone(), closer.clone());
    let mut reader = Reader {
        conn,
        ip,
        ctx: &ctx,
        link: link.clone(),
        joined: None,
        left_for_good: false,
        last_seq: 0,
        bucket: InputBucket::new(ctx.limits.tick_rate),
        last_seen: &last_seen,
    };
    let mut asked = close_rx.clone();
    let mut shutdown = ctx.shutdown.clone();
    tokio::select! {
        close = reader.read_loop(&mut ws) => closer.close(close),
        close = heartbeat(&link, &last_seen, ctx.limits.ping_interval, ctx.limits.idle_timeout) => closer.close(close),
        close = flusher(&tcp, &sender, ctx.limits.write_timeout) => closer.close(close),
        _ = asked.wait_for(Option::is_some) => {}
        _ = shutdown.wait_for(|&stop| stop) => closer.close(Close::new(CloseCode::GoingAway, "server shutting down")),
    }
    let joined = reader.joined.take();
    let left_for_good = reader.left_for_good;
    drop(reader);
    let close = close_rx.borrow().clone();
    // Send the close frame (through tungstenite, which keeps the close handshake's state),
    // then keep reading (and discarding) until the peer answers it or the grace ends, while
    // the backlog goes out as the socket takes it: closing a socket with unread input makes
    // the kernel send a reset, which would destroy our close frame before the peer read it.
    // No frame may follow the close frame: the fan-out's writes stop here.
    sender.closing();
    let finish = async {
        if let Some(close) = close {
            let frame = CloseFrame {
                code: WsCloseCode::from(close.code.as_u16()),
                reason: truncate(&close.reason).into(),
            };
            let _ = ws.close(Some(frame)).await;
        }
        let drain = async { while let Some(Ok(_)) = ws.next().await {} };
        let flush = async {
            if sender.has_backlog() {
                // The outer grace bounds it; a failed socket just ends the wait.
                let _ = flush_backlog(&tcp, &sender, CLOSE_GRACE).await;
            }
        };
        tokio::join!(drain, flush);
    };
    if tokio::time::timeout(CLOSE_GRACE, finish).await.is_err() {
        debug!(conn, "connection did not finish closing in time");
    }
    // Others (the fan-out) may still hold the sender for a moment: they write nothing more,
    // and the peer learns now.
    sender.close();
    let _ = socket2::SockRef::from(&*tcp).shutdown(std::net::Shutdown::Both);
    if let Some((room, _)) = joined {
        // A closed room has nobody left to tell.
        let _ = room.inbox.send(Inbound::Leave { conn, for_good: left_for_good });
        let _ = room.fanout.send(FanoutMsg::Unregister { conn });
    }
}

/// Writes the connection's backlog out whenever one waits and the socket takes it; returns a
/// close if one waits longer than `limit` (the peer stopped reading) or the socket fails.
/// Idle, it is a small wait; the flushing state is allocated only while a backlog waits.
async fn flusher(tcp: &TcpStream, sender: &Sender, limit: Duration) -> Close {
    loop {
        sender.backlog().await;
        if let Some(close) = Box::pin(flush_backlog(tcp, sender, limit)).await {
            return close;
        }
    }
}

/// Writes the backlog out as the socket takes it: `None` once it is empty.
async fn flush_backlog(tcp: &TcpStream, sender: &Sender, limit: Duration) -> Option<Close> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, tcp.writable()).await {
            Err(_) => return Some(Close::new(CloseCode::Policy, "too slow: stopped reading")),
            Ok(Err(_)) => return Some(Close::new(CloseCode::Normal, "")),
            Ok(Ok(())) => {}
        }
        match sender.flush() {
            Ok(true) => return None,
            Ok(false) => {}
            Err(_) => return Some(Close::new(CloseCode::Normal, "")),
        }
    }
}

/// Pings the peer every `interval`; returns once it has been silent (no message of any
/// kind, pongs included) for `timeout`.
async fn heartbeat(
    link: &Link,
    last_seen: &LastSeen,
    interval: Duration,
    timeout: Duration,
) -> Close {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let silent = last_seen.silent_for();
        if silent >= timeout {
            info!(silent_ms = silent.as_millis() as u64, "peer silent too long, dropping it");
            return Close::new(
                CloseCode::IdleTimeout,
                "no message or pong within the idle timeout",
            );
        }
        // Behind a backlog of control frames the peer is not reading anyway; the next will do.
        let _ = link.sender.control(Opcode::Ping, &[]);
    }
}

/// When the peer last sent anything, shared by the reader (writes) and the heartbeat (reads).
#[derive(Debug)]
struct LastSeen {
    start: Instant,
    nanos: AtomicU64,
}

impl LastSeen {
    fn new() -> Self {
        Self { start: Instant::now(), nanos: AtomicU64::new(0) }
    }

    fn touch(&self) {
        let now = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.nanos.store(now, Ordering::Relaxed);
    }

    fn silent_for(&self) -> Duration {
        self.start
            .elapsed()
            .saturating_sub(Duration::from_nanos(self.nanos.load(Ordering::Relaxed)))
    }
}

struct Reader<'a> {
    conn: ConnId,
    ip: std::net::IpAddr,
    ctx: &'a NetContext,
    link: Link,
    /// Once joined: the room, and where its sim publishes this connection's input slot.
    joined: Option<(Arc<RoomHandle>, Route)>,
    /// The client sent the leave message: its player goes at once.
    left_for_good: bool,
    last_seq: u32,
    bucket: InputBucket,
    last_seen: &'a LastSeen,
}

/// Rate limit on everything a client sends after joining — inputs, pings, and WebSocket
/// control frames: a bucket of [`INPUT_QUEUE_CAPACITY`] tokens (the burst a jittery network
/// may deliver at once) refilled at 1.25 × the tick rate plus one (one input a tick, a ping a
/// second, and slack). A message without a token is dropped; more drops within one second
/// than half the tick rate (a client sending 1.5 × faster than it may, sustained) is a flood,
/// and closes the connection (1008).
#[derive(Debug)]
struct InputBucket {
    tokens: f64,
    rate: f64,
    flood: u32,
    last: Instant,
    window: Instant,
    drops: u32,
}

impl InputBucket {
    fn new(tick_rate: u32) -> Self {
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
    fn take(&mut self, now: Instant) -> Result<bool, Close> {
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
            return Err(Close::new(CloseCode::Policy, "input flood"));
        }
        Ok(false)
    }
}

impl Reader<'_> {
    /// Reads until the peer leaves or breaks a rule; returns how to close.
    async fn read_loop(&mut self, stream: &mut Ws) -> Close {
        let join_by = tokio::time::Instant::now() + self.ctx.limits.join_timeout;
        loop {
            let next = if self.joined.is_none() {
                match tokio::time::timeout_at(join_by, stream.next()).await {
                    Ok(next) => next,
                    Err(_) => {
                        return Close::new(CloseCode::Policy, "no join within the join timeout");
                    }
                }
            } else {
                stream.next().await
            };
            let Some(msg) = next else { break };
            self.last_seen.touch();
            let outcome = match msg {
                Ok(Message::Binary(bytes)) => self.on_binary(&bytes),
                Ok(Message::Text(_)) => {
                    Err(Close::new(CloseCode::Unsupported, "binary frames only"))
                }
                Ok(Message::Close(_)) => return Close::new(CloseCode::Normal, "bye"),
                // Control frames cost a wake-up and a write (tungstenite answers pings): they
                // count toward the flood limit like any message.
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {
                    self.bucket.take(Instant::now()).map(|_| ())
                }
                Err(tungstenite::Error::Capacity(e)) => {
                    Err(Close::new(CloseCode::TooBig, e.to_string()))
                }
                Err(tungstenite::Error::Protocol(e)) => {
                    Err(Close::new(CloseCode::ProtocolError, format!("protocol error: {e}")))
                }
                Err(tungstenite::Error::Utf8(_)) => {
                    Err(Close::new(CloseCode::InvalidPayload, "invalid UTF-8"))
                }
                Err(e) => {
                    debug!(conn = self.conn, error = %e, "connection ended");
                    return Close::new(CloseCode::Normal, "");
                }
            };
            if let Err(close) = outcome {
                info!(conn = self.conn, code = close.code.as_u16(), reason = %close.reason, "closing connection");
                return close;
            }
        }
        Close::new(CloseCode::Normal, "")
    }

    fn on_binary(&mut self, bytes: &[u8]) -> Result<(), Close> {
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
            ClientMsg::Join { name, resume, room, .. } => self.join(name, resume, room),
            ClientMsg::Leave => {
                self.left_for_good = true;
                Err(Close::new(CloseCode::Normal, "bye"))
            }
            ClientMsg::Input(_) | ClientMsg::Ping { .. } if self.joined.is_none() => {
                Err(Close::new(CloseCode::Policy, "join first"))
            }
            ClientMsg::Input(_) | ClientMsg::Ping { .. } if !self.bucket.take(Instant::now())? => {
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
                let pong = ServerMsg::Pong { client_time }.encode();
                // A client too far behind to take a pong learns its RTT from the next one.
                let _ = self.link.sender.message(&[], &pong.into());
                Ok(())
            }
        }
    }
}

impl Reader<'_> {
    /// Places the join in a room, registers this connection with the room's fan-out, then
    /// sends the join to the room's sim (in that order: the fan-out must know the link before
    /// the welcome comes).
    fn join(
        &mut self,
        name: Option<String>,
        resume: Option<skirmish_shared::ResumeToken>,
        room: Option<String>,
    ) -> Result<(), Close> {
        let mut new_token = [0u8; 16];
        getrandom::fill(&mut new_token)
            .map_err(|_| Close::new(CloseCode::Internal, "no random source for a token"))?;
        if !self.ctx.admit_join(self.ip) {
            return Err(Close::new(CloseCode::TryAgainLater, "too many joins from your address"));
        }
        let request = room.map_or(RoomRequest::QuickPlay, RoomRequest::Named);
        let room = self.ctx.registry.place(&request, resume.as_ref()).map_err(|e| match e {
            PlaceError::InvalidName => Close::new(CloseCode::Policy, "invalid room name"),
            PlaceError::RoomFull => Close::new(CloseCode::TryAgainLater, "room full"),
            PlaceError::NoRoomAvailable => {
                Close::new(CloseCode::TryAgainLater, "no room available")
            }
            PlaceError::ShuttingDown => Close::new(CloseCode::GoingAway, "server shutting down"),
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
}

/// A close reason must fit 123 bytes; cut at a character boundary.
fn truncate(reason: &str) -> String {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_fit_a_close_frame() {
        assert_eq!(truncate(&"é".repeat(100)).len(), 122);
    }
}
