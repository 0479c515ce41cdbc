//! The network side: accept TCP connections, serve HTTP/1.1 with hyper (the web client,
//! `/rooms`, health, metrics) and upgrade `/ws` to WebSocket, where [`ws`] runs the
//! connection over the room it joins. Nothing here touches a world: connections only
//! decode, validate and forward to their room.
//!
//! Every limit a hostile client could push against is here, in [`http`] or in [`ws`]:
//! connection caps (global and per IP), request head size and time, the Origin allowlist,
//! WebSocket message, frame and buffer sizes.

pub mod address_rate;
pub mod assets;
pub mod client;
pub mod client_frames;
pub mod deadline;
pub mod fanout;
pub mod http;
pub mod outbox;
pub mod pacing;
pub mod poll;
pub mod poll_queue;
pub mod proxy;
pub mod sender;
pub mod sessions;
pub mod socket;
pub mod tls;
pub mod ws;

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::metrics::Metrics;
use crate::room::registry::Registry;
use assets::Assets;

/// At shutdown, how long HTTP connections stay up for pollers to read their close.
const SHUTDOWN_POLL_GRACE: Duration = Duration::from_secs(2);

/// Largest message a client may send: inputs are a few dozen bytes, a join with a long
/// name a few hundred.
pub const MAX_CLIENT_MESSAGE: usize = 1024;
/// How long connections get to close after shutdown starts.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The network side's limits (all from flags; see `Config`).
#[derive(Debug, Clone)]
pub struct NetLimits {
    /// Open connections at most.
    pub max_connections: usize,
    /// Open connections from one IP address at most.
    pub max_connections_per_ip: usize,
    /// Whether loopback peers count against the per-address cap.
    pub cap_loopback: bool,
    /// Origins allowed to open a WebSocket; empty: own origin and localhost.
    pub allowed_origins: Vec<String>,
    /// Joins one address may make per second (after a burst of [`JOIN_BURST`]).
    pub joins_per_ip_per_sec: f64,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: proxy::TrustedProxies,
    /// Host names a browser may use for a WebSocket upgrade; `None`: any.
    pub allowed_hosts: Option<Vec<String>>,
    /// Time to send a whole request head (and the WebSocket upgrade).
    pub handshake_timeout: Duration,
    /// Interval of the server's pings.
    pub ping_interval: Duration,
    /// Silence after which a connection is dropped.
    pub idle_timeout: Duration,
    /// Time a write to a client may stay blocked before the connection is dropped.
    pub write_timeout: Duration,
    /// Time a WebSocket connection has to send its join (and a polling join waits for its
    /// welcome).
    pub join_timeout: Duration,
    /// Time a long-polling `GET` waits for a message.
    pub poll_timeout: Duration,
    /// Kernel send buffer per connection, if set.
    pub send_buffer_bytes: Option<usize>,
    /// Unsent bytes the kernel may hold per connection (TCP_NOTSENT_LOWAT); 0: no limit.
    pub unsent_limit_bytes: u32,
    /// Ticks per second (the input rate limit follows it).
    pub tick_rate: u32,
    /// Whether `/metrics` is served on the main port (not when it has a port of its own).
    pub metrics_on_main: bool,
    /// With a join secret: the key every join's seat must be signed with.
    pub seat_key: Option<crate::seat::SeatKey>,
}

impl NetLimits {
    /// The heartbeat clock's period ([`sessions::OpenSessions::beat_due`]): a tenth of the
    /// shorter of the ping interval and the join timeout, within 5–500 ms, so that a ping goes
    /// out, and a connection that has not joined is dropped, at most that late. A beat wakes
    /// only the connections whose ping or join timeout is due.
    pub fn beat_period(&self) -> Duration {
        (self.ping_interval.min(self.join_timeout) / 10)
            .clamp(Duration::from_millis(5), Duration::from_millis(500))
    }
}

/// What every connection task shares.
#[derive(Debug)]
pub struct NetContext {
    /// The rooms, and where joins are placed.
    pub registry: Arc<Registry>,
    /// The web client's files.
    pub assets: Assets,
    /// The limits.
    pub limits: NetLimits,
    /// Caps open connections.
    slots: Arc<Semaphore>,
    /// Open connections per IP address.
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    /// Join rate per IP address.
    joins: address_rate::AddressRate,
    /// Failed seat checks per IP address.
    pub seat_failures: address_rate::AddressRate,
    /// Becomes `true` when the server shuts down.
    pub shutdown: watch::Receiver<bool>,
    /// The server's metrics.
    pub metrics: Arc<Metrics>,
    /// The long-polling sessions.
    pub polls: poll::PollSessions,
    /// With `--tls-cert`: the main port speaks TLS.
    pub tls: Option<tls::Tls>,
    /// The open WebSocket sessions, which shutdown closes.
    pub sessions: sessions::OpenSessions,
    next_conn: AtomicU64,
}

impl NetContext {
    /// A context with these limits.
    pub fn new(
        registry: Arc<Registry>,
        assets: Assets,
        limits: NetLimits,
        shutdown: watch::Receiver<bool>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            registry,
            assets,
            slots: Arc::new(Semaphore::new(limits.max_connections)),
            per_ip: Mutex::new(HashMap::new()),
            joins: address_rate::AddressRate::new(
                JOIN_BURST,
                limits.joins_per_ip_per_sec,
                limits.cap_loopback,
            ),
            seat_failures: address_rate::AddressRate::new(
                SEAT_FAILURE_BURST,
                1.0 / SEAT_FAILURE_REFILL_SECS,
                limits.cap_loopback,
            ),
            limits,
            shutdown,
            metrics,
            polls: poll::PollSessions::default(),
            tls: None,
            sessions: sessions::OpenSessions::default(),
            next_conn: AtomicU64::new(1),
        }
    }

    /// A new connection id.
    pub fn next_conn(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// Counts a connection from `ip`, or `None` if that address has too many open.
    pub(crate) fn admit_ip(self: &Arc<Self>, ip: IpAddr) -> Option<IpSlot> {
        if ip.is_loopback() && !self.limits.cap_loopback {
            return Some(IpSlot { ctx: None, ip });
        }
        let mut map = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= self.limits.max_connections_per_ip {
            return None;
        }
        *n += 1;
        Some(IpSlot { ctx: Some(self.clone()), ip })
    }
}

/// Joins one address may make at once before the rate applies (players behind one NAT).
pub const JOIN_BURST: f64 = 10.0;
/// Failed seat checks one address may have at once, then one more per
/// [`SEAT_FAILURE_REFILL_SECS`]; beyond that its joins are refused before any check.
pub const SEAT_FAILURE_BURST: f64 = 5.0;
/// Seconds for one more failed seat check to be allowed.
pub const SEAT_FAILURE_REFILL_SECS: f64 = 10.0;

impl NetContext {
    /// Takes a join from `ip`; `false` if that address joins faster than the limit.
    /// Loopback peers are exempt unless `--cap-loopback`, as for the connection cap.
    pub fn admit_join(&self, ip: IpAddr) -> bool {
        self.joins.take(ip)
    }
}

/// One connection counted against its address (unless exempt); uncounted when dropped.
pub(crate) struct IpSlot {
    ctx: Option<Arc<NetContext>>,
    ip: IpAddr,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let Some(ctx) = &self.ctx else { return };
        let mut map = ctx.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// What a request is served as: plain HTTP on the main port, or only metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// The game's port: page, rooms, health, WebSocket (and metrics unless separate).
    Main,
    /// `--metrics-addr`: `/metrics` only.
    Metrics,
}

/// Whether an accept failed for want of file descriptors (the process's or the system's).
fn out_of_descriptors(e: &std::io::Error) -> bool {
    // EMFILE, ENFILE.
    matches!(e.raw_os_error(), Some(24 | 23))
}

/// Failed accepts, logged once per [`AcceptFailures::EVERY`] with how many there were.
#[derive(Debug, Default)]
struct AcceptFailures {
    since: u64,
    last_log: Option<std::time::Instant>,
}

impl AcceptFailures {
    const EVERY: Duration = Duration::from_secs(10);

    fn record(&mut self, e: &std::io::Error) {
        self.since += 1;
        let now = std::time::Instant::now();
        if self.last_log.is_none_or(|at| now - at >= Self::EVERY) {
            warn!(error = %e, failures = self.since, "accepting connections fails; backing off");
            self.last_log = Some(now);
            self.since = 0;
        }
    }
}

/// Accepts connections until `stop` resolves, then waits (up to [`SHUTDOWN_GRACE`]) for
/// the open ones to close.
pub async fn serve(
    listener: TcpListener,
    kind: Listener,
    ctx: Arc<NetContext>,
    stop: impl std::future::Future<Output = ()>,
) {
    let mut tasks = JoinSet::new();
    tokio::pin!(stop);
    // A descriptor kept in reserve: out of descriptors, it is given up to accept one waiting
    // connection and tell it so (503) instead of leaving every client hanging.
    let mut spare = std::fs::File::open("/dev/null").ok();
    let mut failures = AcceptFailures::default();
    // The heartbeat clock of the WebSocket sessions (the main listener's: they share it).
    let mut beats = tokio::time::interval(ctx.limits.beat_period());
    beats.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // Re-armed before anything else takes a freed descriptor.
        if spare.is_none() {
            spare = std::fs::File::open("/dev/null").ok();
        }
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let ctx = ctx.clone();
                    tasks.spawn(connection(Box::pin(open(stream, peer, kind, ctx))));
                }
                Err(e) => {
                    failures.record(&e);
                    if out_of_descriptors(&e)
                        && spare.take().is_some()
                        && let Ok((stream, _)) = listener.accept().await
                    {
                        tasks.spawn(http::refuse(stream, 503, "server out of file descriptors"));
                    }
                    // Back off instead of spinning on a failing accept.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            _ = beats.tick(), if kind == Listener::Main => ctx.sessions.beat_due(),
        }
    }
    drop(listener);
    info!(open = tasks.len(), ?kind, "no longer accepting; closing connections");
    ctx.sessions.close_all();
    let drained =
        tokio::time::timeout(SHUTDOWN_GRACE, async { while tasks.join_next().await.is_some() {} })
            .await;
    if drained.is_err() {
        warn!(left = tasks.len(), "connections still open after the grace period, dropping them");
        tasks.abort_all();
    }
}

/// One TCP connection: `opening` (the caps, HTTP requests kept alive until the connection
/// closes or is upgraded, or the whole TLS path), then the WebSocket session on the same
/// task, so that shutdown waits for it.
///
/// `opening` is on the heap and freed when it is over: the task itself holds, for as long as
/// the session lasts, only the session's own state (most of what an idle connection costs,
/// BENCHMARKS "Memory at rest"). Its one argument is a pointer: an async fn's arguments stay
/// in its future for as long as it runs, beside the copies it moved on.
async fn connection(opening: Pin<Box<impl Future<Output = Option<OpenSession>>>>) {
    let Some(open) = opening.await else { return };
    open.run().await;
}

/// A plain connection upgraded to WebSocket, and its places under the connection caps.
struct OpenSession {
    upgraded: Upgraded<TcpStream>,
    peer: SocketAddr,
    ctx: Arc<NetContext>,
    held: Caps,
}

impl OpenSession {
    /// The session's future (not an async fn: that would keep this struct beside it).
    fn run(self) -> impl Future<Output = ()> {
        let OpenSession { upgraded, peer, ctx, held: (permit, ip_slot) } = self;
        // One address slot or the other: the peer's, or (behind a trusted proxy, whose own
        // address is not counted) the forwarded client's.
        session(upgraded, peer, ctx, |forwarded| (permit, ip_slot.or(forwarded)))
    }
}

/// A plain connection's places under the connection caps: the global one and its address's.
type Caps = (OwnedSemaphorePermit, Option<IpSlot>);

/// A connection up to its WebSocket session: the caps, then HTTP requests until it closes or
/// is upgraded (`Some` for a plain connection upgraded; a TLS connection's session runs in
/// here, behind its bridge).
async fn open(
    stream: TcpStream,
    peer: SocketAddr,
    kind: Listener,
    ctx: Arc<NetContext>,
) -> Option<OpenSession> {
    let Ok(slot) = ctx.slots.clone().try_acquire_owned() else {
        debug!(%peer, "connection refused: at capacity");
        http::refuse(stream, 503, "server at capacity").await;
        return None;
    };
    // Behind a trusted proxy the client's address is known only from the request: counted
    // per request then (see `http::route`).
    let from_proxy = ctx.limits.trusted_proxies.contains(peer.ip());
    let ip_slot = if from_proxy { None } else { ctx.admit_ip(peer.ip()) };
    if !from_proxy && ip_slot.is_none() {
        debug!(%peer, "connection refused: too many from this address");
        http::refuse(stream, 503, "too many connections from your address").await;
        return None;
    }
    let _ = stream.set_nodelay(true);
    if let Some(bytes) = ctx.limits.send_buffer_bytes {
        let _ = socket2::SockRef::from(&stream).set_send_buffer_size(bytes);
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if ctx.limits.unsent_limit_bytes > 0 {
        let _ =
            socket2::SockRef::from(&stream).set_tcp_notsent_lowat(ctx.limits.unsent_limit_bytes);
    }
    // The acceptor is an `Arc` inside: cloned out of the context the task hands on. The TLS
    // path (handshake, session, bridge and a second connection future) is on the heap too:
    // inline, its state would size this future, which plain connections run as well.
    match ctx.tls.clone() {
        Some(tls) if kind == Listener::Main => {
            Box::pin(tls::serve(stream, tls, peer, kind, ctx)).await;
            None
        }
        _ => {
            let upgraded = serve_http(stream, peer, kind, ctx.clone()).await?;
            Some(OpenSession { upgraded, peer, ctx, held: (slot, ip_slot) })
        }
    }
}

/// A TLS connection past its handshake, on the inner end of its bridge's socket pair: HTTP
/// requests until it closes or is upgraded, then the WebSocket session, as a plain
/// connection gets them through [`open`].
async fn serve_bridged<S: socket::Socket>(
    stream: S,
    peer: SocketAddr,
    kind: Listener,
    ctx: Arc<NetContext>,
) {
    // The HTTP phase on the heap: its state (hyper's connection, buffers, the service) is
    // freed once it is over, not kept in this task for as long as a WebSocket session lasts.
    let Some(upgraded) = Box::pin(serve_http(stream, peer, kind, ctx.clone())).await else {
        return;
    };
    session(upgraded, peer, ctx, |forwarded| forwarded).await;
}

/// The WebSocket session of an upgraded connection, holding what `held` makes of the
/// forwarded client's address slot (its places under the connection caps) until it ends.
/// A plain function returning the session's future: an async fn would keep its arguments
/// beside it for as long as the session lasts.
fn session<S: socket::Socket, H: Send>(
    upgraded: Upgraded<S>,
    peer: SocketAddr,
    ctx: Arc<NetContext>,
    held: impl FnOnce(Option<IpSlot>) -> H,
) -> impl Future<Output = ()> {
    let Upgraded { tcp, prefix, client_ip, ip_slot: forwarded_slot } = upgraded;
    let conn = ctx.next_conn();
    debug!(conn, %peer, "websocket open");
    let held = held(forwarded_slot);
    ws::run(Box::new(ws::Start { tcp, prefix, conn, ip: client_ip, ctx, held }))
}

/// A connection upgraded to WebSocket, out of hyper's hands.
struct Upgraded<S> {
    /// The socket itself: frames are written to it directly.
    tcp: S,
    /// Bytes read past the upgrade request (usually none).
    prefix: bytes::Bytes,
    /// The client's address (behind a trusted proxy: the forwarded one).
    client_ip: IpAddr,
    /// Behind a trusted proxy: the forwarded address's slot, held while the session lasts.
    ip_slot: Option<IpSlot>,
}

/// Serves HTTP requests on `stream` until it closes (`None`) or is upgraded to WebSocket.
async fn serve_http<S: socket::Socket>(
    stream: S,
    peer: SocketAddr,
    kind: Listener,
    ctx: Arc<NetContext>,
) -> Option<Upgraded<S>> {
    let upgrade = Arc::new(Mutex::new(None));
    let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let service = {
        let (ctx, upgrade, in_flight) = (ctx.clone(), upgrade.clone(), in_flight.clone());
        hyper::service::service_fn(move |req| {
            let (ctx, upgrade, in_flight) = (ctx.clone(), upgrade.clone(), in_flight.clone());
            async move {
                let in_flight = http::InFlight::new(in_flight);
                let res = if kind == Listener::Main && poll::is_poll_path(req.uri().path()) {
                    poll::handle(req, peer, &ctx).await
                } else {
                    http::route(req, kind, peer, &ctx, &upgrade)
                };
                Ok::<_, std::convert::Infallible>(res.map(|b| http::Tracked::new(b, in_flight)))
            }
        })
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(ctx.limits.handshake_timeout)
        .max_buf_size(http::MAX_HEAD_BYTES)
        .max_headers(http::MAX_HEADERS)
        .keep_alive(true);
    let stream = deadline::WriteDeadline::new(stream, ctx.limits.write_timeout);
    let conn = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
    tokio::pin!(conn);
    let mut shutdown = ctx.shutdown.clone();
    let polls_ctx = ctx.clone();
    let stopping = async move {
        let _ = shutdown.wait_for(|&stop| stop).await;
        // Pollers read their close (1001) on their next request: this connection may be
        // the one it comes on.
        polls_ctx.polls.closes_delivered(SHUTDOWN_POLL_GRACE).await;
    };
    let served = tokio::select! {
        res = conn.as_mut() => res,
        () = stopping => {
            // Idle between requests, or in the middle of a request head: nothing to finish.
            if in_flight.load(Ordering::Acquire) == 0 {
                return None;
            }
            // Finish the response in flight, then close.
            conn.as_mut().graceful_shutdown();
            match tokio::time::timeout(SHUTDOWN_GRACE, conn.as_mut()).await {
                Ok(res) => res,
                Err(_) => return None,
            }
        }
    };
    if let Err(e) = served {
        debug!(%peer, error = %e, "http connection ended");
    }
    let pending = upgrade.lock().unwrap_or_else(|e| e.into_inner()).take()?;
    let http::PendingUpgrade { on_upgrade, client_ip, ip_slot } = pending;
    let upgraded = match on_upgrade.await {
        Ok(upgraded) => upgraded,
        Err(e) => {
            debug!(%peer, error = %e, "websocket upgrade failed");
            return None;
        }
    };
    let Ok(parts) = upgraded.downcast::<TokioIo<deadline::WriteDeadline<S>>>() else {
        warn!(%peer, "upgraded connection is not the socket it came on");
        return None;
    };
    // What hyper read past the request: usually nothing; copied, because hyper's buffer
    // (kilobytes) would otherwise live as long as the connection.
    let prefix = if parts.read_buf.is_empty() {
        bytes::Bytes::new()
    } else {
        bytes::Bytes::copy_from_slice(&parts.read_buf)
    };
    Some(Upgraded { tcp: parts.io.into_inner().into_inner(), prefix, client_ip, ip_slot })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of a connection task's future, from its type alone.
    fn connection_task_size<A, B, C, D, F>(_: impl Fn(A, B, C, D) -> F) -> usize
    where
        F: Future<Output = Option<OpenSession>>,
    {
        fn size<F: Future<Output = Option<OpenSession>>, G: Future>(
            _: impl Fn(Pin<Box<F>>) -> G,
        ) -> usize {
            std::mem::size_of::<G>()
        }
        size::<F, _>(connection)
    }

    #[test]
    fn a_plain_connection_task_does_not_carry_the_tls_path() {
        // Every open connection holds its task's future for as long as it lasts: its size is
        // most of what a connection costs at rest (BENCHMARKS "Memory at rest"). With the TLS
        // path inline it was the size of a TLS session's too; with the HTTP phase or the caps
        // around the session, a second copy of the session's arguments.
        fn run_size<A, F: std::future::Future>(_: impl Fn(A) -> F) -> usize {
            std::mem::size_of::<F>()
        }
        let session = run_size(ws::run::<TcpStream, Caps>);
        let task = connection_task_size(open);
        println!("connection task {task} bytes, its WebSocket session {session} bytes");
        assert!(
            task <= session + 128,
            "the connection task is {task} bytes, its WebSocket session {session}"
        );
        // 2,032 bytes before the close request, the shutdown wait, the closing handshake,
        // the flusher's wait and the read wait were made small or moved to the heap, the
        // frames were read by our own reader instead of tungstenite's 300-byte state, and the
        // connection's timer (112 bytes) gave way to the server's heartbeat clock. tokio's
        // task cell grows in steps of 128 bytes, and 664 is the top of one: 8 bytes more cost
        // every idle connection 128 (measured at the step above: 2.35 -> 2.46 KiB each).
        assert!(task <= 664, "the connection task is {task} bytes, over 664");
    }
}
