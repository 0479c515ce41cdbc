//! The network side: accept TCP connections, answer plain HTTP (the web client, a health
//! check, metrics), upgrade `/ws` to WebSocket, and run each connection's session. Nothing
//! here touches the world: sessions only decode, validate and forward to the sim thread.
//!
//! Every limit a hostile client could push against is here or in [`session`]: connection
//! caps (global and per IP), request head size and time, the Origin allowlist, WebSocket
//! message, frame and buffer sizes.

pub mod assets;
pub mod fanout;
pub mod http;
pub mod session;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::Sender;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tracing::{debug, info, warn};

use crate::link::{Inbound, InputBoard};
use crate::metrics::Metrics;
use assets::Assets;
use http::HeadError;

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
    /// Time to send the whole request head.
    pub handshake_timeout: Duration,
    /// Interval of the server's pings.
    pub ping_interval: Duration,
    /// Silence after which a connection is dropped.
    pub idle_timeout: Duration,
    /// Kernel send buffer per connection, if set.
    pub send_buffer_bytes: Option<usize>,
    /// Ticks per second (the input rate limit follows it).
    pub tick_rate: u32,
}

/// What every connection task shares.
#[derive(Debug)]
pub struct NetContext {
    /// Into the sim thread.
    pub inbound: Sender<Inbound>,
    /// Where readers put validated inputs (the sim's board).
    pub board: Arc<InputBoard>,
    /// The web client's files.
    pub assets: Assets,
    /// The limits.
    pub limits: NetLimits,
    /// Caps open connections.
    slots: Arc<Semaphore>,
    /// Open connections per IP address.
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    /// Becomes `true` when the server shuts down.
    pub shutdown: watch::Receiver<bool>,
    /// The server's counters.
    pub metrics: Arc<Metrics>,
    next_conn: AtomicU64,
}

impl NetContext {
    /// A context with these limits.
    pub fn new(
        inbound: Sender<Inbound>,
        board: Arc<InputBoard>,
        assets: Assets,
        limits: NetLimits,
        shutdown: watch::Receiver<bool>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            inbound,
            board,
            assets,
            slots: Arc::new(Semaphore::new(limits.max_connections)),
            per_ip: Mutex::new(HashMap::new()),
            limits,
            shutdown,
            metrics,
            next_conn: AtomicU64::new(1),
        }
    }

    /// Counts a connection from `ip`, or `None` if that address has too many open.
    fn admit_ip(self: &Arc<Self>, ip: IpAddr) -> Option<IpSlot> {
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

/// One connection counted against its address (unless exempt); uncounted when dropped.
struct IpSlot {
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

/// The WebSocket limits every connection gets: small buffers (thousands of connections,
/// tiny inputs), a bounded write buffer and small maximum message sizes.
pub fn websocket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(16 * 1024)
        .max_write_buffer_size(8 << 20)
        .max_message_size(Some(MAX_CLIENT_MESSAGE))
        .max_frame_size(Some(MAX_CLIENT_MESSAGE))
}

/// Accepts connections until `stop` resolves, then waits (up to [`SHUTDOWN_GRACE`]) for
/// the open ones to close.
pub async fn serve(
    listener: TcpListener,
    ctx: Arc<NetContext>,
    stop: impl std::future::Future<Output = ()>,
) {
    let mut tasks = JoinSet::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let ctx = ctx.clone();
                    tasks.spawn(async move { handle(stream, peer, ctx).await });
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    drop(listener);
    info!(open = tasks.len(), "no longer accepting; closing connections");
    let drained =
        tokio::time::timeout(SHUTDOWN_GRACE, async { while tasks.join_next().await.is_some() {} })
            .await;
    if drained.is_err() {
        warn!(left = tasks.len(), "connections still open after the grace period, dropping them");
        tasks.abort_all();
    }
}

async fn handle(mut stream: TcpStream, peer: SocketAddr, ctx: Arc<NetContext>) {
    let Ok(_slot) = ctx.slots.clone().try_acquire_owned() else {
        debug!(%peer, "connection refused: at capacity");
        let _ = http::respond_text(&mut stream, 503, "server at capacity").await;
        return;
    };
    let Some(_ip_slot) = ctx.admit_ip(peer.ip()) else {
        debug!(%peer, "connection refused: too many from this address");
        let _ =
            http::respond_text(&mut stream, 503, "too many connections from your address").await;
        return;
    };
    let _ = stream.set_nodelay(true);
    if let Some(bytes) = ctx.limits.send_buffer_bytes {
        let _ = socket2::SockRef::from(&stream).set_send_buffer_size(bytes);
    }
    let (req, leftover) = match http::read_head(&mut stream, ctx.limits.handshake_timeout).await {
        Ok(ok) => ok,
        Err(HeadError::TooLarge) => {
            let _ = http::respond_text(&mut stream, 431, "request head too large").await;
            return;
        }
        Err(HeadError::Malformed(_)) => {
            let _ = http::respond_text(&mut stream, 400, "malformed request").await;
            return;
        }
        Err(e) => {
            debug!(%peer, error = %e, "no request");
            return;
        }
    };
    if req.path == "/ws" {
        return upgrade(stream, peer, &req, leftover, &ctx).await;
    }
    let head_only = req.method == "HEAD";
    if req.method != "GET" && !head_only {
        let _ = http::respond_text(&mut stream, 405, "only GET").await;
        return;
    }
    if req.path == "/metrics" {
        let body = ctx.metrics.render();
        let _ = http::respond(
            &mut stream,
            200,
            "text/plain; version=0.0.4",
            "",
            body.as_bytes(),
            head_only,
        )
        .await;
        return;
    }
    if req.path == "/healthz" {
        let _ = http::respond(&mut stream, 200, "text/plain", "", b"ok\n", head_only).await;
        return;
    }
    match ctx.assets.get(&req.path) {
        Some(asset) => {
            let _ = http::respond(&mut stream, 200, asset.content_type, "", &asset.body, head_only)
                .await;
        }
        None => {
            let _ = http::respond_text(&mut stream, 404, "not found").await;
        }
    }
}

async fn upgrade(
    mut stream: TcpStream,
    peer: SocketAddr,
    req: &http::Request,
    leftover: Vec<u8>,
    ctx: &Arc<NetContext>,
) {
    if let Some(origin) = &req.origin
        && !http::origin_allowed(origin, req.host.as_deref(), &ctx.limits.allowed_origins)
    {
        debug!(%peer, %origin, "websocket refused: origin not allowed");
        let _ = http::respond_text(&mut stream, 403, "origin not allowed").await;
        return;
    }
    let accept = match http::websocket_accept(req) {
        Ok(accept) => accept,
        Err((status, text)) => {
            let extra = if status == 426 { "Sec-WebSocket-Version: 13\r\n" } else { "" };
            let _ = http::respond(&mut stream, status, "text/plain", extra, text.as_bytes(), false)
                .await;
            return;
        }
    };
    if stream.write_all(accept.as_bytes()).await.is_err() {
        return;
    }
    let conn = ctx.next_conn.fetch_add(1, Ordering::Relaxed);
    debug!(conn, %peer, "websocket open");
    let ws = WebSocketStream::from_partially_read(
        stream,
        leftover,
        Role::Server,
        Some(websocket_config()),
    )
    .await;
    ctx.metrics.connections.fetch_add(1, Ordering::Relaxed);
    session::run(ws, conn, ctx.clone()).await;
    ctx.metrics.connections.fetch_sub(1, Ordering::Relaxed);
    debug!(conn, "websocket closed");
}
