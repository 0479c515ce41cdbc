//! The HTTP routes, served by hyper: the web client's files (with ETags), `GET /rooms`,
//! `/healthz`, `/readyz`, `/metrics`, and the WebSocket upgrade at `/ws` (checked here, run
//! by [`super::ws`] once hyper hands over the connection). The long-polling transport's
//! routes under `/poll` are [`super::poll`]'s.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode, Version};
use http_body_util::Full;
use hyper::body::Incoming;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::{Listener, NetContext};

/// Bytes a request head may take at most; larger gets 431.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// Headers a request may have at most; more gets 431.
pub const MAX_HEADERS: usize = 32;
/// A room whose ticks have been late this long makes `/healthz` fail.
pub const HEALTH_LATE_LIMIT: Duration = Duration::from_secs(1);

/// The body every response has.
pub type Body = Full<Bytes>;

/// A request in flight on its connection, from the moment hyper hands it to the service
/// until its response has been written (the response body holds it; hyper drops that once
/// written): shutdown finishes such a request, while a connection idle or in the middle of a
/// request head is simply closed. A long-poll waiting for messages counts as in flight.
#[derive(Debug)]
pub struct InFlight(Arc<std::sync::atomic::AtomicUsize>);

impl InFlight {
    /// Counts a request in `counter` until dropped.
    pub fn new(counter: Arc<std::sync::atomic::AtomicUsize>) -> Self {
        counter.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Self(counter)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted as in flight ([`InFlight`]) until it is
/// written.
#[derive(Debug)]
pub struct Tracked {
    inner: Body,
    _in_flight: InFlight,
}

impl Tracked {
    /// `inner`, counted in flight by `in_flight` until dropped.
    pub fn new(inner: Body, in_flight: InFlight) -> Self {
        Self { inner, _in_flight: in_flight }
    }
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        std::pin::Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// A WebSocket upgrade accepted by [`route`], for the connection's task to take over once
/// hyper has sent the 101.
pub struct PendingUpgrade {
    /// Resolves to the upgraded connection.
    pub on_upgrade: hyper::upgrade::OnUpgrade,
    /// The client's address (behind a trusted proxy, the one it forwarded).
    pub client_ip: std::net::IpAddr,
    /// The forwarded address's place under the per-address cap, if counted here.
    pub(crate) ip_slot: Option<super::IpSlot>,
}

/// Where [`route`] leaves an accepted upgrade.
pub type UpgradeSlot = Arc<Mutex<Option<PendingUpgrade>>>;

/// Answers a connection refused before any HTTP is read (over a cap) and closes it.
pub async fn refuse(mut stream: TcpStream, status: u16, text: &str) {
    let reason = StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = stream.write_all(head.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

pub(crate) fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut res = Response::new(Full::new(body.into()));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    res
}

/// A refusal that also closes the connection (a client that broke a rule gets no more).
pub(crate) fn refusal(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut res = text(status, body);
    res.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

/// Answers one request.
pub fn route(
    mut req: Request<Incoming>,
    kind: Listener,
    peer: std::net::SocketAddr,
    ctx: &Arc<NetContext>,
    upgrade: &UpgradeSlot,
) -> Response<Body> {
    let path = req.uri().path().to_owned();
    if kind == Listener::Metrics {
        return match path.as_str() {
            "/metrics" => metrics(ctx),
            _ => text(StatusCode::NOT_FOUND, "only /metrics here\n"),
        };
    }
    if path == "/ws" {
        return websocket(&mut req, peer, ctx, upgrade);
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut res = text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        res.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return res;
    }
    match path.as_str() {
        "/metrics" if ctx.limits.metrics_on_main => metrics(ctx),
        "/healthz" => health(ctx),
        "/readyz" => {
            if ctx.registry.ready() && !*ctx.shutdown.borrow() {
                text(StatusCode::OK, "ready\n")
            } else {
                text(StatusCode::SERVICE_UNAVAILABLE, "not accepting players\n")
            }
        }
        "/rooms" => rooms(ctx),
        _ => asset(&req, &path, ctx),
    }
}

fn metrics(ctx: &NetContext) -> Response<Body> {
    let mut res = text(StatusCode::OK, ctx.metrics.render());
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(crate::metrics::CONTENT_TYPE));
    res
}

/// 200 while every room ticks on time; 503 naming the rooms whose ticks have been late for
/// more than [`HEALTH_LATE_LIMIT`].
fn health(ctx: &NetContext) -> Response<Body> {
    let late = ctx.registry.late_rooms(HEALTH_LATE_LIMIT);
    if late.is_empty() {
        return text(StatusCode::OK, "ok\n");
    }
    let mut body = String::from("late rooms:");
    for (id, by) in late {
        body.push_str(&format!(" {id} ({} ms)", by.as_millis()));
    }
    body.push('\n');
    text(StatusCode::SERVICE_UNAVAILABLE, body)
}

/// `[{"id":"arena","players":2,"cap":100}, …]`
fn rooms(ctx: &NetContext) -> Response<Body> {
    let mut body = String::from("[");
    for (i, r) in ctx.registry.list().iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            "{{\"id\":{},\"players\":{},\"cap\":{}}}",
            json_string(&r.id),
            r.players,
            r.cap
        ));
    }
    body.push(']');
    let mut res = text(StatusCode::OK, body);
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// A JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn asset(req: &Request<Incoming>, path: &str, ctx: &NetContext) -> Response<Body> {
    let Some(asset) = ctx.assets.get(path) else {
        return text(StatusCode::NOT_FOUND, "not found\n");
    };
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok());
    let mut res = if asset.not_modified(if_none_match) {
        let mut res = Response::new(Full::new(Bytes::new()));
        *res.status_mut() = StatusCode::NOT_MODIFIED;
        res
    } else {
        let mut res = Response::new(Full::new(asset.body.clone()));
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
        res
    };
    let h = res.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&asset.etag) {
        h.insert(header::ETAG, etag);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(asset.cache_control));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    res
}

fn header_has(req: &Request<Incoming>, name: header::HeaderName, word: &str) -> bool {
    req.headers()
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case(word))
}

/// The client's address — the peer's, or behind a trusted proxy the one it forwarded — and
/// whether the peer is such a proxy (then the per-address cap is counted per request).
pub(crate) fn client_address(
    req: &Request<Incoming>,
    peer: std::net::SocketAddr,
    ctx: &NetContext,
) -> (std::net::IpAddr, bool) {
    let proxies = &ctx.limits.trusted_proxies;
    if !proxies.contains(peer.ip()) {
        return (peer.ip(), false);
    }
    let forwarded = req.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
    (proxies.client_ip(peer.ip(), forwarded), true)
}

/// Checks a WebSocket upgrade request and accepts it (101) or refuses it.
fn websocket(
    req: &mut Request<Incoming>,
    peer: std::net::SocketAddr,
    ctx: &Arc<NetContext>,
    upgrade: &UpgradeSlot,
) -> Response<Body> {
    let (client_ip, from_proxy) = client_address(req, peer, ctx);
    // Through a trusted proxy the per-address cap applies to the forwarded address here.
    let ip_slot = if from_proxy {
        match ctx.admit_ip(client_ip) {
            Some(slot) => Some(slot),
            None => {
                return refusal(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "too many connections from your address\n",
                );
            }
        }
    } else {
        None
    };
    match accept_websocket(req, &ctx.limits.allowed_origins, ctx.limits.allowed_hosts.as_deref()) {
        Ok((res, on_upgrade)) => {
            *upgrade.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(PendingUpgrade { on_upgrade, client_ip, ip_slot });
            res
        }
        Err(res) => *res,
    }
}

/// The WebSocket handshake (RFC 6455 §4.2) over hyper: a valid upgrade request from an allowed
/// origin gets the 101 response and the future of the upgraded connection; anything else the
/// refusal to send (403, 405, 400, 426). Also used by the Autobahn echo example.
pub fn accept_websocket(
    req: &mut Request<Incoming>,
    allowed_origins: &[String],
    allowed_hosts: Option<&[String]>,
) -> Result<(Response<Body>, hyper::upgrade::OnUpgrade), Box<Response<Body>>> {
    check_page(req, allowed_origins, allowed_hosts)?;
    if req.method() != Method::GET {
        return Err(Box::new(refusal(StatusCode::METHOD_NOT_ALLOWED, "WebSocket needs GET\n")));
    }
    if req.version() != Version::HTTP_11 {
        return Err(Box::new(refusal(StatusCode::BAD_REQUEST, "WebSocket needs HTTP/1.1\n")));
    }
    if !header_has(req, header::UPGRADE, "websocket")
        || !header_has(req, header::CONNECTION, "upgrade")
    {
        return Err(Box::new(refusal(
            StatusCode::UPGRADE_REQUIRED,
            "this path only speaks WebSocket\n",
        )));
    }
    if req.headers().get(header::SEC_WEBSOCKET_VERSION).map(HeaderValue::as_bytes) != Some(b"13") {
        let mut res = refusal(StatusCode::UPGRADE_REQUIRED, "WebSocket version 13 required\n");
        res.headers_mut().insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        return Err(Box::new(res));
    }
    let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY) else {
        return Err(Box::new(refusal(StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key\n")));
    };
    if !valid_websocket_key(key.as_bytes()) {
        return Err(Box::new(refusal(StatusCode::BAD_REQUEST, "invalid Sec-WebSocket-Key\n")));
    }
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let on_upgrade = hyper::upgrade::on(req);
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = res.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    Ok((res, on_upgrade))
}

/// A request from a browser page (one with an `Origin`) that may play: the page's origin is
/// allowed and the name it used for us is ours (DNS rebinding: a foreign name resolving to
/// this address gives a matching Origin and Host); else the 403 to answer.
pub fn check_page(
    req: &Request<Incoming>,
    allowed_origins: &[String],
    allowed_hosts: Option<&[String]>,
) -> Result<(), Box<Response<Body>>> {
    let host = req.headers().get(header::HOST).and_then(|v| v.to_str().ok());
    let Some(origin) = req.headers().get(header::ORIGIN) else { return Ok(()) };
    let origin = origin.to_str().unwrap_or("");
    if let Some(hosts) = allowed_hosts
        && !host.is_some_and(|h| host_allowed(h, hosts))
    {
        tracing::debug!(?host, "refused: host not allowed");
        return Err(Box::new(refusal(StatusCode::FORBIDDEN, "host not allowed\n")));
    }
    if !origin_allowed(origin, host, allowed_origins) {
        tracing::debug!(%origin, "refused: origin not allowed");
        return Err(Box::new(refusal(StatusCode::FORBIDDEN, "origin not allowed\n")));
    }
    Ok(())
}

/// Whether the `Host` header value `host` (name or address, with or without a port) names
/// one of `allowed`.
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) { name } else { host }
        })
    };
    allowed.iter().any(|a| a.eq_ignore_ascii_case(name))
}

/// RFC 6455 §4.1: the key is 16 random bytes in base64, so 24 characters ending `==`.
fn valid_websocket_key(key: &[u8]) -> bool {
    key.len() == 24
        && key.ends_with(b"==")
        && key[..22].iter().all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// Whether a browser page from `origin` may open a WebSocket: one of `allowed`, or (with
/// no list) the server's own origin (`host`, as the browser addressed it) or any localhost.
pub fn origin_allowed(origin: &str, host: Option<&str>, allowed: &[String]) -> bool {
    if !allowed.is_empty() {
        return allowed.iter().any(|a| a.eq_ignore_ascii_case(origin));
    }
    let authority = origin.split_once("://").map_or(origin, |(_, rest)| rest).trim_end_matches('/');
    if host.is_some_and(|h| h.eq_ignore_ascii_case(authority)) {
        return true;
    }
    let hostname = if authority.starts_with('[') {
        authority.split_inclusive(']').next().unwrap_or(authority)
    } else {
        authority.split(':').next().unwrap_or(authority)
    };
    matches!(hostname.to_ascii_lowercase().as_str(), "localhost" | "127.0.0.1" | "[::1]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let none: &[String] = &[];
        assert!(origin_allowed("http://127.0.0.1:5000", Some("127.0.0.1:5000"), none));
        assert!(origin_allowed("http://localhost:3000", Some("game.example"), none));
        assert!(origin_allowed("http://[::1]:8080", None, none));
        assert!(origin_allowed("https://game.example", Some("game.example"), none));
        assert!(!origin_allowed("https://evil.example", Some("game.example"), none));
        assert!(!origin_allowed("http://localhost.evil.example", Some("game.example"), none));
        let list = vec!["https://game.example".to_owned()];
        assert!(origin_allowed("https://game.example", Some("x"), &list));
        assert!(!origin_allowed("http://localhost:5000", Some("localhost:5000"), &list));
    }

    #[test]
    fn hosts() {
        let local = ["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
        assert!(host_allowed("127.0.0.1:5000", &local));
        assert!(host_allowed("LOCALHOST:80", &local));
        assert!(host_allowed("[::1]:5000", &local));
        assert!(host_allowed("localhost", &local));
        assert!(!host_allowed("evil.example:5000", &local));
        assert!(!host_allowed("localhost.evil.example", &local));
    }

    #[test]
    fn websocket_keys() {
        assert!(valid_websocket_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!valid_websocket_key(b"short=="));
        assert!(!valid_websocket_key(b"dGhlIHNhbXBsZSBub25jZQ!="));
        assert!(!valid_websocket_key(b"dGhlIHNhbXBsZSBub25jZQxx"));
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }
}
