//! The server over TLS (`--tls-cert`, `--tls-key`) with a certificate made here (rcgen): a
//! wss client joins and plays, the page comes over https, and plain HTTP or ws to the TLS
//! port is refused cleanly. Real sockets on 127.0.0.1; every wait bounded.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use skirmish_server::{Config, Hooks};
use skirmish_shared::{ClientMsg, Direction, Input, PROTOCOL_VERSION, ServerMsg};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, pki_types::ServerName};
use tokio_tungstenite::tungstenite::Message;

mod common;

const WAIT: Duration = Duration::from_secs(10);

/// A server on 127.0.0.1:0 serving TLS with a fresh self-signed certificate for
/// `localhost`; returns its address, a client set-up that trusts that certificate, and the
/// way to stop it.
struct TlsApp {
    addr: SocketAddr,
    connector: TlsConnector,
    server: common::Server,
    _dir: TempDir,
}

/// A folder removed when dropped.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TlsApp {
    async fn spawn() -> Self {
        Self::spawn_with(Config::default()).await
    }

    /// With `config`'s settings besides the certificate and spawn point.
    async fn spawn_with(config: Config) -> Self {
        let made =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
        let dir = std::env::temp_dir().join(format!("skirmish-tls-{}", std::process::id()));
        let dir = dir.join(format!("{:x}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, made.cert.pem()).expect("write cert");
        std::fs::write(&key, made.signing_key.serialize_pem()).expect("write key");
        let mut roots = rustls::RootCertStore::empty();
        roots.add(made.cert.der().clone()).expect("trust the test certificate");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let config = Config {
            tls_cert: Some(cert),
            tls_key: Some(key),
            spawn_min: 0,
            spawn_max: 0,
            ..config
        };
        let server = common::start(config, Hooks::default()).await;
        Self {
            addr: server.addr,
            connector: TlsConnector::from(Arc::new(client)),
            server,
            _dir: TempDir(dir),
        }
    }

    async fn tls(&self) -> tokio_rustls::client::TlsStream<TcpStream> {
        let tcp = TcpStream::connect(self.addr).await.expect("tcp connect");
        let name = ServerName::try_from("localhost").expect("server name");
        tokio::time::timeout(WAIT, self.connector.connect(name, tcp))
            .await
            .expect("TLS handshake within 10 s")
            .expect("TLS handshake")
    }

    async fn shutdown(mut self) {
        let _ = self.server.stop.take().map(|s| s.send(()));
        let res = tokio::time::timeout(WAIT, self.server.task).await.expect("server stopped");
        res.expect("no panic").expect("server returned Ok");
    }
}

/// Reads a whole `Connection: close` response.
async fn read_all(mut s: impl tokio::io::AsyncRead + Unpin) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(WAIT, s.read_to_end(&mut out)).await.expect("answer within 10 s");
    String::from_utf8_lossy(&out).into_owned()
}

type Wss = tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>;

/// The next server message (skipping pings).
async fn next(ws: &mut Wss) -> ServerMsg {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a message within 10 s")
            .expect("open")
            .expect("readable");
        if let Message::Binary(b) = msg {
            return ServerMsg::decode(&b).expect("decodes");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wss_client_joins_and_plays() {
    let app = TlsApp::spawn().await;
    let tls = app.tls().await;
    let url = format!("wss://localhost:{}/ws", app.addr.port());
    let (mut ws, _) = tokio_tungstenite::client_async(url, tls).await.expect("wss handshake");
    let join = ClientMsg::Join {
        protocol_version: PROTOCOL_VERSION,
        name: Some("tls".into()),
        resume: None,
        room: None,
        seat: None,
    };
    ws.send(Message::Binary(join.encode().into())).await.expect("send join");
    let ServerMsg::Welcome(w) = next(&mut ws).await else { panic!("welcome first") };
    let start = w.keyframe.entities.iter().find(|e| e.id == w.player_id).expect("me").x;
    let input = Input {
        seq: 1,
        dir: Direction::new(1.0, 0.0).expect("dir"),
        attack: false,
        seen: 0,
        shown: 0,
    };
    ws.send(Message::Binary(ClientMsg::Input(input).encode().into())).await.expect("send input");
    // Frames until the input is acknowledged; the player has moved right.
    let mut replica = skirmish_shared::Replica::from_keyframe(&w.keyframe);
    for _ in 0..300 {
        if let ServerMsg::Frame(f) = next(&mut ws).await {
            replica.apply(&f).expect("applies");
            if f.ack >= 1 {
                let x = replica.entities[&w.player_id].x;
                assert!(x > start, "moved right: {start} -> {x}");
                app.shutdown().await;
                return;
            }
        }
    }
    panic!("input not acknowledged within 300 messages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_comes_over_https() {
    let app = TlsApp::spawn().await;
    let mut tls = app.tls().await;
    let req = format!(
        "GET / HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n\r\n",
        app.addr.port()
    );
    tls.write_all(req.as_bytes()).await.expect("send request");
    let answer = read_all(tls).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{}", &answer[..answer.len().min(200)]);
    assert!(answer.contains("<canvas"), "the page");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_or_ws_to_the_tls_port_gets_a_400_saying_so() {
    let app = TlsApp::spawn().await;
    let mut tcp = TcpStream::connect(app.addr).await.expect("connect");
    let req = "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
               Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    tcp.write_all(req.as_bytes()).await.expect("send");
    let answer = read_all(&mut tcp).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("use https:// or wss://"), "{answer}");
    // A plain WebSocket client fails cleanly, with the status.
    let tcp = TcpStream::connect(app.addr).await.expect("connect");
    let err = tokio::time::timeout(
        WAIT,
        tokio_tungstenite::client_async(format!("ws://{}/ws", app.addr), tcp),
    )
    .await
    .expect("answered within 10 s")
    .expect_err("plain ws refused");
    assert!(err.to_string().contains("400"), "{err}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_handshake_that_never_finishes_is_dropped_at_the_handshake_timeout() {
    let app = TlsApp::spawn_with(Config { handshake_timeout_ms: 300, ..Config::default() }).await;
    // The first byte of a handshake record, then nothing.
    let mut tcp = TcpStream::connect(app.addr).await.expect("connect");
    tcp.write_all(&[0x16]).await.expect("send");
    let started = tokio::time::Instant::now();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(WAIT, tcp.read(&mut buf)).await.expect("dropped within 10 s");
    assert!(matches!(read, Ok(0) | Err(_)), "closed, nothing sent: {read:?}");
    assert!(started.elapsed() >= std::time::Duration::from_millis(250), "not before the timeout");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_is_not_a_key_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("skirmish-tls-bad-{:x}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let _cleanup = TempDir(dir.clone());
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
    std::fs::write(dir.join("cert.pem"), made.cert.pem()).expect("write");
    std::fs::write(dir.join("key.pem"), made.cert.pem()).expect("write");
    let config = Config {
        tls_cert: Some(dir.join("cert.pem")),
        tls_key: Some(dir.join("key.pem")),
        ..Config::default()
    };
    let server = common::start(config, Hooks::default()).await;
    let res = tokio::time::timeout(WAIT, server.task).await.expect("answered in time");
    let err = res.expect("no panic").expect_err("refuses to start");
    assert!(err.to_string().contains("key.pem: no PEM private key"), "{err}");
}
