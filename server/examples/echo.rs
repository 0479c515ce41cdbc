//! A WebSocket echo server built on the game server's own accept path (hyper, the same
//! head reader and handshake checks), for the Autobahn|Testsuite fuzzing client
//! (`scripts/autobahn.sh`). Not part of the game: the server has no echo route. Its frames
//! are tungstenite's: the game reads its clients' frames with its own reader
//! (`net::client_frames`), which refuses text by design and is checked by its unit tests
//! and the server's wire tests.
//!
//! Message and frame limits are raised to 16 MiB here, because the suite sends messages up to
//! 64 KiB+ to check framing; the game's 1 KiB limit is checked by the server's own tests.

use futures_util::{SinkExt, StreamExt};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use skirmish_server::net::http;
use tokio::net::TcpListener;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("echo server on ws://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let service = hyper::service::service_fn(|mut req| async move {
                let res = match http::accept_websocket(&mut req, &[], None) {
                    Ok((res, on_upgrade)) => {
                        tokio::spawn(echo(on_upgrade));
                        res
                    }
                    Err(res) => *res,
                };
                Ok::<_, std::convert::Infallible>(res)
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

async fn echo(on_upgrade: hyper::upgrade::OnUpgrade) {
    let Ok(upgraded) = on_upgrade.await else { return };
    let config =
        WebSocketConfig::default().max_message_size(Some(16 << 20)).max_frame_size(Some(16 << 20));
    let mut ws =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
    while let Some(Ok(msg)) = ws.next().await {
        let echo = match msg {
            Message::Text(_) | Message::Binary(_) => msg,
            Message::Close(_) => break,
            _ => continue,
        };
        if ws.send(echo).await.is_err() {
            break;
        }
    }
}
