//! One WebSocket connection after the upgrade: this task reads messages (its frames through
//! [`FrameReader`], as the socket says it has bytes) and hands each to
//! the connection's [`Client`] (the session core both transports share, which validates it
//! and forwards it to the connection's room). Nothing here writes
//! frames: the room's fan-out writes them straight to the socket through the connection's
//! [`Sender`]; this task only writes out what the socket could not take at once (the
//! backlog, when the socket is writable again), and pongs, pings and the close.
//!
//! A client closing its socket is not an error. Whoever decides the connection must end
//! (the reader on bad input, the sim on a full server or a stalled client, the server on
//! shutdown) asks through the connection's [`Closer`]; this task then sends the close frame.

use std::sync::Arc;
use std::time::Duration;

use std::future::Future;
use std::task::{Poll, ready};

use bytes::Bytes;
use tracing::{debug, info};

use crate::link::ConnId;
use crate::net::client::Client;
use crate::net::client_frames::{FrameReader, Incoming, ReadError};
use crate::net::outbox::{Close, CloseCode, CloseWatch, Closer, Link, Signal};
use crate::net::sender::{Opcode, Sender};
use crate::net::sessions::clock_ms;
use crate::net::socket::Socket;
use crate::net::{MAX_CLIENT_MESSAGE, NetContext, NetLimits};

/// An upgraded connection's reading side: the socket, the client's frames as they come
/// ([`FrameReader`]: nothing buffered between messages), and the sender its pongs go out
/// through.
#[derive(Debug)]
pub struct Ws<S> {
    tcp: Arc<S>,
    sender: Arc<Sender>,
    frames: FrameReader,
}

/// Time a closing connection gets, in all, to send its close frame and hear the peer's answer;
/// then its socket is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// The next message from the peer, waiting for the socket when none is whole; `None` once
/// the peer closed (its close frame is the last message returned) or after a read error (the
/// last thing returned; see [`FrameReader::read_until_closed`]). Cancel-safe: a partial message stays in
/// the frame reader.
fn next_message<S: Socket>(
    ws: &mut Ws<S>,
) -> impl Future<Output = Option<Result<Incoming, ReadError>>> {
    // A poll function, not an async fn: it is part of every idle connection's task.
    std::future::poll_fn(move |cx| {
        let Ws { tcp, frames, .. } = &mut *ws;
        loop {
            // No syscall for a socket tokio last saw empty; a short read forgets its
            // readiness (one more read that fails saved per input).
            match frames.read_until_closed(|buf| tcp.try_read_to_empty(buf)) {
                Ok(msg) => return Poll::Ready(Some(Ok(msg))),
                Err(ReadError::WouldBlock) => {
                    if let Err(e) = ready!(tcp.poll_read_ready(cx)) {
                        return Poll::Ready(Some(Err(ReadError::Io(e))));
                    }
                }
                // Bytes keep coming without a message: let the runtime's other tasks have a
                // turn, then read on.
                Err(ReadError::Busy) => {
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Err(ReadError::Eof) => return Poll::Ready(None),
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
        }
    })
}

/// What a WebSocket session starts from.
#[derive(Debug)]
pub struct Start<S, H> {
    /// The upgraded socket.
    pub tcp: S,
    /// Bytes read past the upgrade request.
    pub prefix: Bytes,
    /// The connection's id.
    pub conn: ConnId,
    /// The client's address.
    pub ip: std::net::IpAddr,
    /// What every connection shares.
    pub ctx: Arc<NetContext>,
    /// What the connection holds until it ends (its places under the connection caps).
    pub held: H,
}

/// Moves a value out of its box and frees the box here. (Destructuring `*start` in an async fn
/// frees the box only when the variable goes out of scope: at the connection's end.)
#[expect(clippy::boxed_local, reason = "taking the box is the point: it is freed here")]
fn unbox<T>(boxed: Box<T>) -> T {
    *boxed
}

/// Runs the connection to its end and tells the sim the player left.
///
/// `start` comes boxed, and is freed at once: an async fn keeps its arguments for as long as
/// it runs, beside the copies it moves on, and this one runs as long as the connection.
pub async fn run<S: Socket, H: Send>(start: Box<Start<S, H>>) {
    // In a block, so that the bytes read past the upgrade are not kept in the task's state for
    // the connection's life (as a local dropped early still would be).
    let (tcp, conn, ip, ctx, _held, frames) = {
        let Start { tcp, prefix, conn, ip, ctx, held } = unbox(start);
        let frames = FrameReader::new(MAX_CLIENT_MESSAGE as u32, &prefix);
        (tcp, conn, ip, ctx, held, frames)
    };
    ctx.metrics.connection_opened();
    let tcp = Arc::new(tcp);
    let sender = Arc::new(Sender::new(tcp.clone()));
    let mut ws = Ws { tcp: tcp.clone(), sender: sender.clone(), frames };
    let (closer, close_watch) = Closer::new();
    let _open = ctx.sessions.enter(conn, &closer);
    let link = Link::new(sender.clone(), closer);
    let mut reader = Reader {
        client: Client::new(conn, ip, ctx.clone(), link),
        limits: &ctx.limits,
        last_seen: tokio::time::Instant::now(),
    };
    // Shutdown comes through the closer too (`OpenSessions::close_all`), and the heartbeat
    // clock's beats.
    let close = tokio::select! {
        close = reader.read_loop(&mut ws, &close_watch) => close,
        close = flusher(&*tcp, &sender, ctx.limits.write_timeout) => close,
    };
    // Whoever asked first wins (a close asked meanwhile by the sim or the fan-out).
    close_watch.close(close);
    let close = close_watch.get();
    let mut client = reader.client;
    let conn = client.conn();
    // On the heap: only a closing connection holds the closing handshake's state.
    Box::pin(finish(ws, close, conn)).await;
    // Others (the fan-out) may still hold the sender for a moment: they write nothing more,
    // and the peer learns now.
    sender.close();
    let _ = socket2::SockRef::from(&*tcp).shutdown(std::net::Shutdown::Both);
    client.end();
    ctx.metrics.connection_closed();
    debug!(conn, "websocket closed");
}

/// Sends the close frame (an answer, if the peer closed first), then keeps reading (and
/// discarding) until the peer answers it or the grace ends, while
/// the backlog goes out as the socket takes it: closing a socket with unread input makes
/// the kernel send a reset, which would destroy our close frame before the peer read it.
/// No frame may follow the close frame: the fan-out's writes stop here.
async fn finish<S: Socket>(mut ws: Ws<S>, close: Option<Close>, conn: ConnId) {
    let (tcp, sender) = (ws.tcp.clone(), ws.sender.clone());
    sender.closing();
    let finish = async {
        if let Some(close) = close {
            // Behind the backlog if there is one (the grace bounds the wait); refused only
            // when that backlog is full, by a peer that is not reading anyway.
            let _ = sender.close_frame(close.code.as_u16(), truncate(&close.reason));
        }
        let drain = async {
            while let Some(Ok(_)) = next_message(&mut ws).await {
                // Messages read here count toward no limit: a peer that keeps sending must not
                // keep this task from yielding (and the grace from ending it).
                tokio::task::coop::consume_budget().await;
            }
        };
        let flush = async {
            if sender.has_backlog() {
                // The outer grace bounds it; a failed socket just ends the wait.
                let _ = flush_backlog(&*tcp, &sender, CLOSE_GRACE).await;
            }
        };
        tokio::join!(drain, flush);
    };
    if tokio::time::timeout(CLOSE_GRACE, finish).await.is_err() {
        debug!(conn, "connection did not finish closing in time");
    }
}

/// Writes the connection's backlog out whenever one waits and the socket takes it; returns a
/// close if one waits longer than `limit` (the peer stopped reading) or the socket fails.
/// Idle, it is a small wait; the flushing state is allocated only while a backlog waits.
async fn flusher<S: Socket>(tcp: &S, sender: &Sender, limit: Duration) -> Close {
    loop {
        sender.backlog().await;
        if let Some(close) = Box::pin(flush_backlog(tcp, sender, limit)).await {
            return close;
        }
    }
}

/// Writes the backlog out as the socket takes it: `None` once it is empty.
async fn flush_backlog<S: Socket>(tcp: &S, sender: &Sender, limit: Duration) -> Option<Close> {
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

/// The connection's reading side, and its timeouts: the join timeout and the heartbeat (a ping
/// every `ping_interval`; a peer silent for `idle_timeout`, pongs included, is dropped),
/// checked on the beats of the server's heartbeat clock ([`NetLimits::beat_period`]) that
/// come through the connection's close watch: an idle connection holds no timer of its own.
struct Reader<'a> {
    client: Client,
    /// The join timeout, ping interval and idle timeout (borrowed: every idle connection holds
    /// this reader).
    limits: &'a NetLimits,
    /// When the peer was last heard from (a message or a pong).
    last_seen: tokio::time::Instant,
}

impl Reader<'_> {
    /// Reads until the peer leaves, breaks a rule, misses the join timeout or falls silent,
    /// or a close is asked through `watch`; returns how to close.
    async fn read_loop<S: Socket>(&mut self, stream: &mut Ws<S>, watch: &CloseWatch) -> Close {
        let start = tokio::time::Instant::now();
        let join_by = start + self.limits.join_timeout;
        let mut next_ping = start + self.limits.ping_interval;
        watch.beat_at(clock_ms(next_ping.min(join_by)));
        loop {
            let next = tokio::select! {
                // A close asked for (or a beat) is seen before more input is read.
                biased;
                signal = watch.signal() => match signal {
                    Signal::Close(close) => return close,
                    Signal::Beat => {
                        let now = tokio::time::Instant::now();
                        if !self.client.joined() && now >= join_by {
                            return Close::new(CloseCode::Policy, "no join within the join timeout");
                        }
                        if now >= next_ping {
                            if let Some(close) = self.heartbeat(&stream.sender) {
                                return close;
                            }
                            // The next ping an interval from now: a late one is not made up.
                            next_ping = now + self.limits.ping_interval;
                        }
                        let due = if self.client.joined() { next_ping } else { next_ping.min(join_by) };
                        watch.beat_at(clock_ms(due));
                        continue;
                    }
                },
                next = next_message(stream) => next,
            };
            let Some(msg) = next else { break };
            self.last_seen = tokio::time::Instant::now();
            let outcome = match msg {
                Ok(Incoming::Binary(bytes)) => self.client.on_message(&bytes),
                Ok(Incoming::Text) => Err(Close::new(CloseCode::Unsupported, "binary frames only")),
                Ok(Incoming::Close(_)) => return Close::new(CloseCode::Normal, "bye"),
                // Control frames cost a wake-up (and a ping a write): they count toward the
                // flood limit like any message.
                Ok(Incoming::Ping(payload)) => self.client.on_control().inspect(|()| {
                    // Behind a backlog of control frames the peer is not reading anyway.
                    let _ = stream.sender.control(Opcode::Pong, &payload);
                }),
                Ok(Incoming::Pong) => self.client.on_control(),
                Err(e @ ReadError::TooBig { .. }) => {
                    Err(Close::new(CloseCode::TooBig, e.to_string()))
                }
                Err(e @ ReadError::Protocol(_)) => {
                    Err(Close::new(CloseCode::ProtocolError, e.to_string()))
                }
                Err(ReadError::Utf8) => Err(Close::new(CloseCode::InvalidPayload, "invalid UTF-8")),
                Err(e @ ReadError::Fragments) => Err(Close::new(CloseCode::Policy, e.to_string())),
                Err(e) => {
                    debug!(conn = self.client.conn(), error = %e, "connection ended");
                    return Close::new(CloseCode::Normal, "");
                }
            };
            if let Err(close) = outcome {
                info!(conn = self.client.conn(), code = close.code.as_u16(), reason = %close.reason, "closing connection");
                return close;
            }
        }
        Close::new(CloseCode::Normal, "")
    }

    /// A heartbeat: the close for a peer silent too long, else a ping (through `sender`, the
    /// connection's: taken from the stream rather than kept here, as every byte of an idle
    /// connection's task counts).
    fn heartbeat(&self, sender: &Sender) -> Option<Close> {
        let silent = self.last_seen.elapsed();
        if silent >= self.limits.idle_timeout {
            info!(silent_ms = silent.as_millis() as u64, "peer silent too long, dropping it");
            return Some(Close::new(
                CloseCode::IdleTimeout,
                "no message or pong within the idle timeout",
            ));
        }
        // Behind a backlog of control frames the peer is not reading anyway; the next will do.
        let _ = sender.control(Opcode::Ping, &[]);
        None
    }
}

/// A close reason must fit 123 bytes; cut at a character boundary.
fn truncate(reason: &str) -> &str {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_fit_a_close_frame() {
        assert_eq!(truncate(&"é".repeat(100)).len(), 122);
    }
}
