//! The little HTTP/1.1 this server speaks: read one request head (bounded in size and time),
//! answer it, close. The WebSocket upgrade starts here too; everything after it is
//! tungstenite's.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bytes a request head may take at most; larger gets 431.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// Headers a request may have at most; more gets 431.
pub const MAX_HEADERS: usize = 32;

/// The parts of a request this server looks at.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The path without query string.
    pub path: String,
    /// `Upgrade` contains `websocket`.
    pub upgrade_websocket: bool,
    /// `Connection` contains `upgrade`.
    pub connection_upgrade: bool,
    /// `Sec-WebSocket-Key`.
    pub ws_key: Option<String>,
    /// `Sec-WebSocket-Version`.
    pub ws_version: Option<String>,
    /// `Origin`.
    pub origin: Option<String>,
    /// `Host`.
    pub host: Option<String>,
}

/// Why no request could be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HeadError {
    /// The head is over [`MAX_HEAD_BYTES`] or has too many headers.
    #[error("request head too large")]
    TooLarge,
    /// Not HTTP.
    #[error("malformed request: {0}")]
    Malformed(httparse::Error),
    /// The peer closed before finishing the head.
    #[error("connection closed before the request was complete")]
    Closed,
    /// The peer took longer than the handshake timeout.
    #[error("request head timed out")]
    Timeout,
    /// The socket failed.
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads one request head. Returns it with any bytes read past its end.
pub async fn read_head(
    stream: &mut TcpStream,
    timeout: Duration,
) -> Result<(Request, Vec<u8>), HeadError> {
    tokio::time::timeout(timeout, read_head_inner(stream)).await.map_err(|_| HeadError::Timeout)?
}

async fn read_head_inner(stream: &mut TcpStream) -> Result<(Request, Vec<u8>), HeadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(HeadError::Closed);
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let parsed = to_request(&req);
                return Ok((parsed, buf[len..].to_vec()));
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD_BYTES => continue,
            Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => {
                return Err(HeadError::TooLarge);
            }
            Err(e) => return Err(HeadError::Malformed(e)),
        }
    }
}

fn to_request(req: &httparse::Request<'_, '_>) -> Request {
    let mut out = Request {
        method: req.method.unwrap_or_default().to_owned(),
        path: req.path.unwrap_or("/").split(['?', '#']).next().unwrap_or("/").to_owned(),
        ..Request::default()
    };
    for h in req.headers.iter() {
        let value = String::from_utf8_lossy(h.value).trim().to_owned();
        let has = |word: &str| value.split(',').any(|v| v.trim().eq_ignore_ascii_case(word));
        match h.name.to_ascii_lowercase().as_str() {
            "upgrade" => out.upgrade_websocket = has("websocket"),
            "connection" => out.connection_upgrade = has("upgrade"),
            "sec-websocket-key" => out.ws_key = Some(value),
            "sec-websocket-version" => out.ws_version = Some(value),
            "origin" => out.origin = Some(value),
            "host" => out.host = Some(value),
            _ => {}
        }
    }
    out
}

/// Writes a complete response and closes the write side.
pub async fn respond(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    extra_headers: &str,
    body: &[u8],
    head_only: bool,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n{extra_headers}\r\n",
        reason(status),
        body.len(),
    );
    stream.write_all(head.as_bytes()).await?;
    if !head_only {
        stream.write_all(body).await?;
    }
    stream.shutdown().await
}

/// Writes a plain-text error response.
pub async fn respond_text(stream: &mut TcpStream, status: u16, text: &str) -> std::io::Result<()> {
    respond(stream, status, "text/plain; charset=utf-8", "", text.as_bytes(), false).await
}

fn reason(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
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

/// The `101 Switching Protocols` answer to a valid WebSocket request, or the status and
/// text to refuse it with.
pub fn websocket_accept(req: &Request) -> Result<String, (u16, &'static str)> {
    if req.method != "GET" {
        return Err((405, "WebSocket needs GET"));
    }
    if !req.upgrade_websocket || !req.connection_upgrade {
        return Err((426, "this path only speaks WebSocket"));
    }
    if req.ws_version.as_deref() != Some("13") {
        return Err((426, "WebSocket version 13 required"));
    }
    let key = req.ws_key.as_deref().ok_or((400, "missing Sec-WebSocket-Key"))?;
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    Ok(format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    ))
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
}
