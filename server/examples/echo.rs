//! A WebSocket echo server built on the game server's own accept path (request head reader,
//! handshake, tungstenite config), for the Autobahn|Testsuite fuzzing client
//! (`scripts/autobahn.sh`). Not part of the game: the server has no echo route.
//!
//! Message and frame limits are raised to 16 MiB here, because the suite sends messages up to
//! 64 KiB+ to check framing; the game's 1 KiB limit is checked by the server's own tests.

use futures_util::{SinkExt, StreamExt};
use skirmish_server::net::{http, websocket_config};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("echo server on ws://{}", listener.local_addr()?);
    loop {
        let (mut stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let Ok((req, leftover)) =
                http::read_head(&mut stream, std::time::Duration::from_secs(10)).await
            else {
                return;
            };
            let Ok(accept) = http::websocket_accept(&req) else { return };
            if stream.write_all(accept.as_bytes()).await.is_err() {
                return;
            }
            let config =
                websocket_config().max_message_size(Some(16 << 20)).max_frame_size(Some(16 << 20));
            let mut ws =
                WebSocketStream::from_partially_read(stream, leftover, Role::Server, Some(config))
                    .await;
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
        });
    }
}
