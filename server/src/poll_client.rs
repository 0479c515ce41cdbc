//! A minimal long-polling client (`docs/protocol.md`, "HTTP long-polling") for the wire tests
//! and the swarm: real HTTP/1.1 requests over a real, kept-alive TCP connection, counting the
//! bytes it moves so the transport's HTTP overhead can be measured.

use std::io;
use std::net::SocketAddr;

use bytes::Bytes;
use skirmish_shared::batch::{self, BatchError, Record};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Response heads larger than this are refused (ours are a few hundred bytes).
const MAX_HEAD: usize = 16 * 1024;

/// One HTTP/1.1 connection, reopened when the server closes it.
#[derive(Debug)]
pub struct HttpConn {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
    /// Bytes written: request heads and bodies.
    pub sent: u64,
    /// Bytes read: response heads and bodies.
    pub received: u64,
    /// Body bytes among them (sent and received): the payload, without HTTP's heads.
    pub payload: u64,
}

/// One response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Bytes,
}

impl HttpResponse {
    /// The body as text (for error answers).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl HttpConn {
    /// A connection to `addr`, opened at the first request.
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr, stream: None, buf: Vec::new(), sent: 0, received: 0, payload: 0 }
    }

    /// Sends one request and reads its response. On an error the connection is dropped (the
    /// next request opens a new one).
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> io::Result<HttpResponse> {
        let result = self.exchange(method, path, body).await;
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    async fn exchange(
        &mut self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> io::Result<HttpResponse> {
        if self.stream.is_none() {
            let tcp = TcpStream::connect(self.addr).await?;
            tcp.set_nodelay(true)?;
            self.stream = Some(tcp);
            self.buf.clear();
        }
        let addr = self.addr;
        let stream = self.stream.as_mut().ok_or_else(|| io::Error::other("no connection"))?;
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n").into_bytes();
        if method == "POST" {
            req.extend_from_slice(
                format!(
                    "Content-Type: application/octet-stream\r\nContent-Length: {}\r\n",
                    body.len()
                )
                .as_bytes(),
            );
        }
        req.extend_from_slice(b"\r\n");
        req.extend_from_slice(body);
        stream.write_all(&req).await?;
        self.sent += req.len() as u64;
        self.payload += body.len() as u64;
        // The head.
        let (status, length, close, head_len) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut res = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(n) = res.parse(&self.buf).map_err(io::Error::other)? {
                let status = res.code.unwrap_or(0);
                let mut length = 0usize;
                let mut close = false;
                for h in res.headers.iter() {
                    if h.name.eq_ignore_ascii_case("content-length") {
                        length = std::str::from_utf8(h.value)
                            .ok()
                            .and_then(|v| v.trim().parse().ok())
                            .ok_or_else(|| io::Error::other("bad content-length"))?;
                    } else if h.name.eq_ignore_ascii_case("connection") {
                        close = h.value.eq_ignore_ascii_case(b"close");
                    } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                        return Err(io::Error::other("chunked responses are not expected"));
                    }
                }
                break (status, length, close, n);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(io::Error::other("response head too large"));
            }
            self.read_more().await?;
        };
        while self.buf.len() < head_len + length {
            self.read_more().await?;
        }
        let body = Bytes::copy_from_slice(&self.buf[head_len..head_len + length]);
        self.buf.drain(..head_len + length);
        self.received += (head_len + length) as u64;
        self.payload += length as u64;
        if close {
            self.stream = None;
        }
        Ok(HttpResponse { status, body })
    }

    async fn read_more(&mut self) -> io::Result<()> {
        let stream = self.stream.as_mut().ok_or_else(|| io::Error::other("no connection"))?;
        let mut chunk = [0u8; 16 * 1024];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

/// A batch, read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Polled {
    /// The messages, in order.
    pub messages: Vec<Bytes>,
    /// The session's close, if it ended: code and reason.
    pub close: Option<(u16, String)>,
}

/// Reads a batch.
pub fn read_batch(body: &Bytes) -> Result<Polled, BatchError> {
    let mut out = Polled::default();
    for record in batch::records(body) {
        match record? {
            Record::Message(m) => out.messages.push(body.slice_ref(m)),
            Record::Close { code, reason } => out.close = Some((code, reason.to_owned())),
        }
    }
    Ok(out)
}

/// A batch of `messages` to send.
pub fn write_batch<'a>(messages: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for m in messages {
        batch::push_message(&mut out, m);
    }
    out
}

/// Joins with the join message `join`: the session id (hex, for paths) and the first batch.
/// Any answer but a `200` with a session id is an error naming the status and body.
pub async fn join(conn: &mut HttpConn, join: &[u8]) -> io::Result<(String, Polled)> {
    let res = conn.request("POST", "/poll", join).await?;
    if res.status != 200 || res.body.len() < 16 {
        return Err(io::Error::other(format!("join answered {}: {}", res.status, res.text())));
    }
    let sid: String = res.body[..16].iter().map(|b| format!("{b:02x}")).collect();
    let polled = read_batch(&res.body.slice(16..)).map_err(io::Error::other)?;
    Ok((sid, polled))
}

/// One `GET` of session `sid`: its batch, or (any other status) the response.
pub async fn poll(conn: &mut HttpConn, sid: &str) -> io::Result<Result<Polled, HttpResponse>> {
    let res = conn.request("GET", &format!("/poll/{sid}"), &[]).await?;
    if res.status != 200 {
        return Ok(Err(res));
    }
    read_batch(&res.body).map(Ok).map_err(io::Error::other)
}

/// One `POST` of `batch` to session `sid`: the response.
pub async fn send(conn: &mut HttpConn, sid: &str, batch: &[u8]) -> io::Result<HttpResponse> {
    conn.request("POST", &format!("/poll/{sid}"), batch).await
}
