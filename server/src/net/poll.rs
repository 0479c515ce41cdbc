//! The HTTP long-polling transport: the same game over plain requests, for players whose
//! network blocks WebSockets (`docs/protocol.md`, "HTTP long-polling").
//!
//! A `POST /poll` carrying a join opens a session: a connection like any other, with its
//! [`Client`] (the session core both transports share), a [`PollQueue`] as the outlet its
//! room's fan-out sends to, and a small task that ends it (a close asked for, a request-less
//! idle timeout, shutdown). `GET /poll/SID` long-polls the queue; `POST /poll/SID` hands a
//! batch of messages to the client, in order. A session counts against the connection caps
//! from join to end; an ended one answers `410` for [`ENDED_TTL`], then is forgotten.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use skirmish_shared::ClientMsg;
use skirmish_shared::batch::{self, Record};
use tokio::sync::OwnedSemaphorePermit;
use tracing::debug;

use super::client::{Client, InputBucket, LastSeen};
use super::http::{Body, refusal, text};
use super::outbox::{Close, CloseCode, CloseWatch, Closer, Link};
use super::poll_queue::{Answer, PollQueue};
use super::{IpSlot, MAX_CLIENT_MESSAGE, NetContext, http as routes};

/// A session's id: 128 bits from the operating system's random source.
pub type SessionId = [u8; 16];

/// Largest request body (a join, or a batch of messages).
pub const MAX_BODY: usize = 64 * 1024;
/// How long an ended session answers `410` before it is forgotten (`404`).
pub const ENDED_TTL: Duration = Duration::from_secs(60);

/// Whether `path` is one of this transport's.
pub fn is_poll_path(path: &str) -> bool {
    path == "/poll" || path.starts_with("/poll/")
}

/// One polling session.
#[derive(Debug)]
pub struct PollSession {
    id: SessionId,
    queue: Arc<PollQueue>,
    client: Mutex<Client>,
    closer: Closer,
    /// When the last `GET` for it came or ended (or its join).
    last_seen: LastSeen,
    /// `GET`s waiting now: while one waits, the session is not idle.
    waiting: AtomicUsize,
    /// `GET`s per second, as inputs are limited.
    polls: Mutex<InputBucket>,
    /// Counted in [`PollSessions`]'s undelivered closes (live, or closed by the shutdown and
    /// its close not yet read).
    counted: AtomicBool,
}

impl PollSession {
    /// The close the session ended with.
    fn queue_close(&self) -> Close {
        self.queue.ended_with().unwrap_or_else(|| Close::new(CloseCode::Normal, ""))
    }

    fn client(&self) -> std::sync::MutexGuard<'_, Client> {
        self.client.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Time since a request for it, or zero while a `GET` waits.
    fn idle_for(&self) -> Duration {
        if self.waiting.load(Ordering::Acquire) > 0 {
            Duration::ZERO
        } else {
            self.last_seen.silent_for()
        }
    }
}

/// A `GET` waiting: counted while it lasts, and the session heard from when it ends.
struct Waiting<'a>(&'a PollSession, &'a crate::metrics::Metrics);

impl<'a> Waiting<'a> {
    fn new(session: &'a PollSession, metrics: &'a crate::metrics::Metrics) -> Self {
        session.waiting.fetch_add(1, Ordering::AcqRel);
        metrics.polls_waiting(1);
        Self(session, metrics)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.last_seen.touch();
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
        self.1.polls_waiting(-1);
    }
}

/// Every polling session of the server, live or recently ended.
#[derive(Debug, Default)]
pub struct PollSessions {
    table: Mutex<Table>,
    /// Sessions live, or closed by the shutdown with their close not read yet.
    undelivered: AtomicUsize,
    /// Told whenever that count falls.
    delivered: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct Table {
    sessions: HashMap<SessionId, Arc<PollSession>>,
    /// Ended sessions, oldest first, with when they ended: forgotten after [`ENDED_TTL`].
    ended: VecDeque<(Instant, SessionId)>,
}

impl PollSessions {
    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, id: &SessionId) -> Option<Arc<PollSession>> {
        self.table().sessions.get(id).cloned()
    }

    fn insert(&self, session: Arc<PollSession>) {
        self.undelivered.fetch_add(1, Ordering::AcqRel);
        let mut table = self.table();
        prune(&mut table, Instant::now(), usize::MAX, self);
        table.sessions.insert(session.id, session);
    }

    /// `session` no longer waits for its close to be read (it was, or the close is not the
    /// shutdown's, or it is forgotten).
    fn uncount(&self, session: &PollSession) {
        if session.counted.swap(false, Ordering::AcqRel) {
            self.undelivered.fetch_sub(1, Ordering::AcqRel);
            self.delivered.notify_waiters();
        }
    }

    /// `id` has ended: it answers `410` for a while. Forgets the sessions ended longest ago
    /// (after [`ENDED_TTL`], or beyond `keep` ended sessions).
    fn ended(&self, id: SessionId, keep: usize) {
        let now = Instant::now();
        let mut table = self.table();
        table.ended.push_back((now, id));
        prune(&mut table, now, keep, self);
    }

    /// Forgets every session (at the end of shutdown: each holds the context that holds
    /// this table).
    pub fn clear(&self) {
        let mut table = self.table();
        for s in table.sessions.values() {
            self.uncount(s);
        }
        table.sessions.clear();
        table.ended.clear();
    }

    /// At shutdown, once every session was told to close: waits until each poller has read
    /// its close (a poller has no request open between two `GET`s, so its HTTP connection
    /// must stay up until its next one), for at most `limit`.
    pub async fn closes_delivered(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let delivered = self.delivered.notified();
            tokio::pin!(delivered);
            delivered.as_mut().enable();
            if self.undelivered.load(Ordering::Acquire) == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline, delivered).await.is_err() {
                return;
            }
        }
    }
}

/// Forgets the sessions that ended longest ago: after [`ENDED_TTL`], or beyond `keep` ended
/// sessions.
fn prune(table: &mut Table, now: Instant, keep: usize, sessions: &PollSessions) {
    while let Some(&(at, old)) = table.ended.front() {
        if now.duration_since(at) < ENDED_TTL && table.ended.len() <= keep {
            break;
        }
        table.ended.pop_front();
        if let Some(s) = table.sessions.remove(&old) {
            sessions.uncount(&s);
        }
    }
}

/// Answers a request under `/poll`.
pub async fn handle(
    req: Request<Incoming>,
    peer: std::net::SocketAddr,
    ctx: &Arc<NetContext>,
) -> Response<Body> {
    let path = req.uri().path().to_owned();
    if path == "/poll" {
        if req.method() != Method::POST {
            return not_allowed("POST");
        }
        return join(req, peer, ctx).await;
    }
    let Some(id) = path.strip_prefix("/poll/").and_then(parse_id) else {
        return text(StatusCode::NOT_FOUND, "no such session\n");
    };
    if req.method() != Method::GET && req.method() != Method::POST {
        return not_allowed("GET, POST");
    }
    let Some(session) = ctx.polls.get(&id) else {
        return text(StatusCode::NOT_FOUND, "no such session\n");
    };
    if req.method() == Method::GET {
        // Only polling keeps a session alive: a client that sends but never reads is lost at
        // the idle timeout like a silent one.
        session.last_seen.touch();
        poll(&session, ctx).await
    } else {
        send(&session, req, ctx).await
    }
}

fn not_allowed(allow: &'static str) -> Response<Body> {
    let mut res = text(StatusCode::METHOD_NOT_ALLOWED, format!("only {allow} here\n"));
    res.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    res
}

/// 32 lowercase hex digits.
fn parse_id(hex: &str) -> Option<SessionId> {
    let hex = hex.as_bytes();
    if hex.len() != 32 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut id = [0u8; 16];
    for (i, byte) in id.iter_mut().enumerate() {
        *byte = (digit(hex[2 * i])? << 4) | digit(hex[2 * i + 1])?;
    }
    Some(id)
}

/// A session id as it appears in paths.
pub fn format_id(id: &SessionId) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// A `200` carrying `body` (a batch, or for a join the id and a batch).
fn octets(body: Bytes) -> Response<Body> {
    let mut res = Response::new(Full::new(body));
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    res
}

/// `410` for a session whose close was delivered (or that ended before a `POST`).
fn gone(close: &Close) -> Response<Body> {
    closed(StatusCode::GONE, close)
}

/// `status`, saying which close ended the session.
fn closed(status: StatusCode, close: &Close) -> Response<Body> {
    text(status, format!("session closed: {} {}\n", close.code.as_u16(), close.reason))
}

/// Reads a request body of at most [`MAX_BODY`] within the handshake timeout; else the
/// answer to give (413, 408, 400).
async fn read_body(req: Request<Incoming>, ctx: &NetContext) -> Result<Bytes, Response<Body>> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(refusal(StatusCode::PAYLOAD_TOO_LARGE, "body over 64 KiB\n"));
    }
    let read = async {
        // Copied into one buffer as it comes: a body of many tiny chunks costs its bytes, not
        // a handle per chunk.
        let mut body = req.into_body();
        let mut out = Vec::with_capacity(declared.unwrap_or(0).min(MAX_BODY as u64) as usize);
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { return Err(StatusCode::BAD_REQUEST) };
            if let Ok(data) = frame.into_data() {
                if out.len() + data.len() > MAX_BODY {
                    return Err(StatusCode::PAYLOAD_TOO_LARGE);
                }
                out.extend_from_slice(&data);
            }
        }
        Ok(out)
    };
    match tokio::time::timeout(ctx.limits.handshake_timeout, read).await {
        Err(_) => Err(refusal(StatusCode::REQUEST_TIMEOUT, "body too slow\n")),
        Ok(Err(StatusCode::PAYLOAD_TOO_LARGE)) => {
            Err(refusal(StatusCode::PAYLOAD_TOO_LARGE, "body over 64 KiB\n"))
        }
        Ok(Err(_)) => Err(refusal(StatusCode::BAD_REQUEST, "body not read\n")),
        Ok(Ok(body)) => Ok(Bytes::from(body)),
    }
}

/// `POST /poll`: a join. Opens a session and answers with its id and the first batch (the
/// welcome, or the close that refused the join).
async fn join(
    req: Request<Incoming>,
    peer: std::net::SocketAddr,
    ctx: &Arc<NetContext>,
) -> Response<Body> {
    if let Err(res) =
        routes::check_page(&req, &ctx.limits.allowed_origins, ctx.limits.allowed_hosts.as_deref())
    {
        return *res;
    }
    let (ip, _) = routes::client_address(&req, peer, ctx);
    let Ok(slot) = ctx.slots.clone().try_acquire_owned() else {
        return refusal(StatusCode::SERVICE_UNAVAILABLE, "server at capacity\n");
    };
    let Some(ip_slot) = ctx.admit_ip(ip) else {
        return refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many connections from your address\n",
        );
    };
    let body = match read_body(req, ctx).await {
        Ok(body) => body,
        Err(res) => return res,
    };
    if body.len() > MAX_CLIENT_MESSAGE {
        return text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("join of {} bytes over the limit of {MAX_CLIENT_MESSAGE}\n", body.len()),
        );
    }
    match ClientMsg::decode(&body) {
        Ok(ClientMsg::Join { .. }) => {}
        Ok(_) => return text(StatusCode::BAD_REQUEST, "the first message must be a join\n"),
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("malformed join: {e}\n")),
    }
    let mut id = [0u8; 16];
    if getrandom::fill(&mut id).is_err() {
        return text(StatusCode::INTERNAL_SERVER_ERROR, "no random source for a session id\n");
    }
    let conn = ctx.next_conn();
    let queue = Arc::new(PollQueue::new());
    let (closer, close_rx) = Closer::new();
    let link = Link::new(queue.clone(), closer.clone());
    let session = Arc::new(PollSession {
        id,
        queue: queue.clone(),
        client: Mutex::new(Client::new(conn, ip, ctx.clone(), link)),
        closer: closer.clone(),
        last_seen: LastSeen::new(),
        waiting: AtomicUsize::new(0),
        polls: Mutex::new(InputBucket::new(ctx.limits.tick_rate)),
        counted: AtomicBool::new(true),
    });
    ctx.polls.insert(session.clone());
    debug!(conn, %ip, "polling session open");
    tokio::spawn(watch_session(session.clone(), ctx.clone(), close_rx, slot, ip_slot));
    let joined = session.client().on_message(&body);
    if let Err(close) = joined {
        closer.close(close);
    }
    let number = queue.begin_poll();
    let waiting = Waiting::new(&session, &ctx.metrics);
    let answer = queue.wait(number, tokio::time::Instant::now() + ctx.limits.join_timeout).await;
    drop(waiting);
    if queue.close_delivered() {
        ctx.polls.uncount(&session);
    }
    let mut out = Vec::with_capacity(16 + 256);
    out.extend_from_slice(&id);
    if let Answer::Batch(batch) = answer {
        out.extend_from_slice(&batch);
    }
    octets(out.into())
}

/// Ends the session when asked to, when no request came for the idle timeout, or at
/// shutdown; holds its place under the connection caps until then.
async fn watch_session(
    session: Arc<PollSession>,
    ctx: Arc<NetContext>,
    asked: CloseWatch,
    _slot: OwnedSemaphorePermit,
    _ip_slot: IpSlot,
) {
    ctx.metrics.polling_session_opened();
    let mut shutdown = ctx.shutdown.clone();
    let idle_timeout = ctx.limits.idle_timeout;
    let close = loop {
        let idle = session.idle_for();
        if idle >= idle_timeout {
            break Close::new(CloseCode::IdleTimeout, "no request within the idle timeout");
        }
        tokio::select! {
            // A close already asked for wins over shutdown and idleness.
            biased;
            close = asked.closed() => break close,
            _ = shutdown.wait_for(|&stop| stop) => {
                break super::sessions::shutting_down();
            }
            () = tokio::time::sleep(idle_timeout - idle) => {}
        }
    };
    debug!(code = close.code.as_u16(), reason = %close.reason, "polling session closed");
    let shutdown_close = close.code == CloseCode::GoingAway;
    session.closer.close(close.clone());
    session.queue.close(close);
    session.client().end();
    if !shutdown_close {
        // Only the shutdown waits for pollers to read their close.
        ctx.polls.uncount(&session);
    }
    ctx.polls.ended(session.id, ctx.limits.max_connections);
    ctx.metrics.polling_session_closed();
}

/// `GET /poll/SID`: the queued messages, once there are some.
async fn poll(session: &PollSession, ctx: &NetContext) -> Response<Body> {
    if session.queue.close_delivered() {
        return gone(&session.queue_close());
    }
    let rate =
        session.polls.lock().unwrap_or_else(|e| e.into_inner()).take(Instant::now(), "poll flood");
    match rate {
        Ok(true) => {}
        Ok(false) => return text(StatusCode::TOO_MANY_REQUESTS, "polling too fast\n"),
        // The session closes; this poll answers with the close.
        Err(close) => session.closer.close(close),
    }
    let number = session.queue.begin_poll();
    let _waiting = Waiting::new(session, &ctx.metrics);
    let deadline = tokio::time::Instant::now() + ctx.limits.poll_timeout;
    let answer = session.queue.wait(number, deadline).await;
    if session.queue.close_delivered() {
        ctx.polls.uncount(session);
    }
    match answer {
        Answer::Batch(batch) => octets(batch),
        Answer::Gone(close) => gone(&close),
    }
}

/// `POST /poll/SID`: a batch of client messages, handled in order as over WebSocket.
async fn send(session: &PollSession, req: Request<Incoming>, ctx: &NetContext) -> Response<Body> {
    if let Some(close) = session.queue.ended_with() {
        return gone(&close);
    }
    let body = match read_body(req, ctx).await {
        Ok(body) => body,
        Err(res) => return res,
    };
    let mut messages = Vec::new();
    for record in batch::records(&body) {
        match record {
            Ok(Record::Message(m)) => messages.push(m),
            Ok(Record::Close { .. }) => {
                return text(
                    StatusCode::BAD_REQUEST,
                    "not a batch: a client sends no close record\n",
                );
            }
            Err(e) => return text(StatusCode::BAD_REQUEST, format!("not a batch: {e}\n")),
        }
    }
    let mut client = session.client();
    // The session may have ended while the body came: nothing more is handled then.
    if let Some(close) = session.queue.ended_with() {
        return gone(&close);
    }
    for msg in messages {
        let outcome = if msg.len() > MAX_CLIENT_MESSAGE {
            Err(Close::new(
                CloseCode::TooBig,
                format!("message of {} bytes over the limit of {MAX_CLIENT_MESSAGE}", msg.len()),
            ))
        } else {
            client.on_message(msg)
        };
        if let Err(close) = outcome {
            session.closer.close(close.clone());
            return match close.code {
                CloseCode::Normal => no_content(),
                CloseCode::TooBig => closed(StatusCode::PAYLOAD_TOO_LARGE, &close),
                _ => closed(StatusCode::BAD_REQUEST, &close),
            };
        }
    }
    no_content()
}

fn no_content() -> Response<Body> {
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = StatusCode::NO_CONTENT;
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_32_lowercase_hex_digits() {
        let id: SessionId = *b"\x00\x01\xab\xcd\xef\x10\x20\x30\x40\x50\x60\x70\x80\x90\xa0\xff";
        let hex = format_id(&id);
        assert_eq!(hex, "0001abcdef102030405060708090a0ff");
        assert_eq!(parse_id(&hex), Some(id));
        assert_eq!(parse_id(&hex.to_uppercase()), None);
        assert_eq!(parse_id(&hex[..31]), None);
        assert_eq!(parse_id(&format!("{hex}0")), None);
        assert_eq!(parse_id("zz01abcdef102030405060708090a0ff"), None);
        assert_eq!(parse_id("é1abcdef102030405060708090a0fff"), None);
    }
}
