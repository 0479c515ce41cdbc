//! The Agones lifecycle (`--features agones`, `--agones`) against a stand-in Agones SDK
//! server: a real gRPC server (tonic, from `tests/agones/*.proto`, the sidecar's own
//! package, service and field numbers) on 127.0.0.1:0 that records every call, talked to by
//! the real `agones` crate inside the real server. Nothing of the server's own is mocked.
//! Every wait is bounded and says what it waited for.
#![cfg(feature = "agones")]

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, Stream, StreamExt};
use skirmish_server::{Config, Hooks};
use skirmish_shared::{ClientMsg, PROTOCOL_VERSION};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tonic::{Request, Response, Status};

mod common;

mod sdk {
    #![allow(missing_docs, clippy::all)]
    tonic::include_proto!("agones.dev.sdk");
    pub mod beta {
        #![allow(missing_docs, clippy::all)]
        tonic::include_proto!("agones.dev.sdk.beta");
    }
}

const WAIT: Duration = Duration::from_secs(10);
const HEALTH_EVERY: Duration = Duration::from_millis(100);

/// What the stand-in sidecar was told.
#[derive(Debug, Default)]
struct Calls {
    ready: usize,
    health: usize,
    shutdown: usize,
    /// Every counter update, in order: (name, count or capacity set).
    counts: Vec<(String, i64)>,
    capacities: Vec<(String, i64)>,
}

/// The stand-in Agones SDK sidecar.
#[derive(Clone)]
struct Sidecar {
    calls: Arc<Mutex<Calls>>,
    /// The GameServer's state, as WatchGameServer streams it.
    state: watch::Sender<String>,
}

impl Sidecar {
    fn calls(&self) -> std::sync::MutexGuard<'_, Calls> {
        self.calls.lock().expect("calls lock")
    }

    fn game_server(state: &str) -> sdk::GameServer {
        sdk::GameServer {
            object_meta: Some(sdk::game_server::ObjectMeta { name: "skirmish-test".into() }),
            status: Some(sdk::game_server::Status { state: state.into() }),
        }
    }

    /// The last count set on `counter`.
    fn count(&self, counter: &str) -> Option<i64> {
        self.calls().counts.iter().rev().find(|(n, _)| n == counter).map(|(_, c)| *c)
    }
}

#[tonic::async_trait]
impl sdk::sdk_server::Sdk for Sidecar {
    async fn ready(&self, _: Request<sdk::Empty>) -> Result<Response<sdk::Empty>, Status> {
        self.calls().ready += 1;
        self.state.send_replace("Ready".into());
        Ok(Response::new(sdk::Empty {}))
    }
    async fn allocate(&self, _: Request<sdk::Empty>) -> Result<Response<sdk::Empty>, Status> {
        self.state.send_replace("Allocated".into());
        Ok(Response::new(sdk::Empty {}))
    }
    async fn shutdown(&self, _: Request<sdk::Empty>) -> Result<Response<sdk::Empty>, Status> {
        self.calls().shutdown += 1;
        self.state.send_replace("Shutdown".into());
        Ok(Response::new(sdk::Empty {}))
    }
    async fn health(
        &self,
        request: Request<tonic::Streaming<sdk::Empty>>,
    ) -> Result<Response<sdk::Empty>, Status> {
        let mut pings = request.into_inner();
        while let Ok(Some(_)) = pings.message().await {
            self.calls().health += 1;
        }
        Ok(Response::new(sdk::Empty {}))
    }
    async fn get_game_server(
        &self,
        _: Request<sdk::Empty>,
    ) -> Result<Response<sdk::GameServer>, Status> {
        Ok(Response::new(Self::game_server(&self.state.borrow())))
    }
    type WatchGameServerStream =
        Pin<Box<dyn Stream<Item = Result<sdk::GameServer, Status>> + Send + 'static>>;
    async fn watch_game_server(
        &self,
        _: Request<sdk::Empty>,
    ) -> Result<Response<Self::WatchGameServerStream>, Status> {
        let mut rx = self.state.subscribe();
        rx.mark_changed();
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.changed().await.ok()?;
            let gs = Sidecar::game_server(&rx.borrow_and_update());
            Some((Ok(gs), rx))
        });
        Ok(Response::new(Box::pin(stream)))
    }
    async fn set_label(&self, _: Request<sdk::KeyValue>) -> Result<Response<sdk::Empty>, Status> {
        Ok(Response::new(sdk::Empty {}))
    }
    async fn set_annotation(
        &self,
        _: Request<sdk::KeyValue>,
    ) -> Result<Response<sdk::Empty>, Status> {
        Ok(Response::new(sdk::Empty {}))
    }
    async fn reserve(&self, _: Request<sdk::Duration>) -> Result<Response<sdk::Empty>, Status> {
        Ok(Response::new(sdk::Empty {}))
    }
}

#[tonic::async_trait]
impl sdk::beta::sdk_server::Sdk for Sidecar {
    async fn get_counter(
        &self,
        request: Request<sdk::beta::GetCounterRequest>,
    ) -> Result<Response<sdk::beta::Counter>, Status> {
        let name = request.into_inner().name;
        let count = self.count(&name).unwrap_or(0);
        Ok(Response::new(sdk::beta::Counter { name, count, capacity: 0 }))
    }
    async fn update_counter(
        &self,
        request: Request<sdk::beta::UpdateCounterRequest>,
    ) -> Result<Response<sdk::beta::Counter>, Status> {
        let update = request
            .into_inner()
            .counter_update_request
            .ok_or_else(|| Status::invalid_argument("no update"))?;
        let mut calls = self.calls();
        if let Some(c) = update.count {
            calls.counts.push((update.name.clone(), c.value));
        }
        if let Some(c) = update.capacity {
            calls.capacities.push((update.name.clone(), c.value));
        }
        Ok(Response::new(sdk::beta::Counter { name: update.name, count: 0, capacity: 0 }))
    }
}

/// Starts the stand-in on 127.0.0.1:0; returns it and its port.
async fn sidecar() -> (Sidecar, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
    let port = listener.local_addr().expect("addr").port();
    let (state, _) = watch::channel(String::from("Scheduled"));
    let sidecar = Sidecar { calls: Arc::default(), state };
    let incoming = tonic::transport::server::TcpIncoming::from_listener(listener, true, None)
        .expect("incoming");
    let server = tonic::transport::Server::builder()
        .add_service(sdk::sdk_server::SdkServer::new(sidecar.clone()))
        .add_service(sdk::beta::sdk_server::SdkServer::new(sidecar.clone()))
        .serve_with_incoming(incoming);
    tokio::spawn(server);
    (sidecar, port)
}

fn agones_config(port: u16) -> Config {
    Config {
        agones: true,
        agones_sdk_port: port,
        agones_health_interval_ms: HEALTH_EVERY.as_millis() as u64,
        agones_connect_timeout_ms: 5_000,
        room_linger_ms: 0,
        max_rooms: 10,
        max_players_per_room: 50,
        ..Config::default()
    }
}

/// Waits (at most [`WAIT`]) until `check` holds.
async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {WAIT:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

/// A player joined to `room` (its welcome read).
async fn join(addr: SocketAddr, room: &str) -> Ws {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let (mut ws, _) =
        tokio_tungstenite::client_async(format!("ws://{addr}/ws"), tcp).await.expect("upgrade");
    let join = ClientMsg::Join {
        protocol_version: PROTOCOL_VERSION,
        name: Some("p".into()),
        resume: None,
        room: Some(room.into()),
        seat: None,
    };
    ws.send(Message::Binary(join.encode().into())).await.expect("send join");
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next()).await.expect("welcome in time");
        if let Some(Ok(Message::Binary(_))) = msg {
            return ws;
        }
        assert!(msg.is_some(), "closed before the welcome");
    }
}

/// Leaves for good (the server removes the player at once).
async fn leave(mut ws: Ws) {
    ws.send(Message::Binary(ClientMsg::Leave.encode().into())).await.expect("send leave");
    let _ = tokio::time::timeout(WAIT, async { while ws.next().await.is_some() {} }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_once_health_while_ticking_counts_and_shutdown_after_sigterm() {
    let (sidecar, port) = sidecar().await;
    let (stuck, hooks) = common::StuckRoom::new("stuck", 10, WAIT);
    let mut server =
        common::start(Config { sim_threads: Some(2), ..agones_config(port) }, hooks).await;
    until("Ready", || sidecar.calls().ready == 1).await;
    assert_eq!(
        sidecar.calls().capacities,
        [("players".to_owned(), 500), ("rooms".to_owned(), 10)],
        "capacities before Ready"
    );
    until("health pings", || sidecar.calls().health >= 3).await;
    // At the interval, never faster: at most 10 (+1 for the window's edges) in a second.
    let before = sidecar.calls().health;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let in_a_second = sidecar.calls().health - before;
    assert!((1..=11).contains(&in_a_second), "{in_a_second} pings in a second at 100 ms");

    // Counts follow joins and leaves.
    let a = join(server.addr, "alpha").await;
    let b = join(server.addr, "beta").await;
    until("2 players in 2 rooms", || {
        sidecar.count("players") == Some(2) && sidecar.count("rooms") == Some(2)
    })
    .await;
    leave(a).await;
    leave(b).await;
    until("0 players, 0 rooms", || {
        sidecar.count("players") == Some(0) && sidecar.count("rooms") == Some(0)
    })
    .await;

    // A stalled room stops the health pings (once it is a second late, as for /healthz);
    // they resume once it ticks again.
    let _stuck = join(server.addr, "stuck").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let stalled_at = loop {
        let before = sidecar.calls().health;
        // An observation window, not a synchronisation: ten intervals without a ping.
        tokio::time::sleep(HEALTH_EVERY * 10).await;
        let after = sidecar.calls().health;
        if after == before {
            break after;
        }
        assert!(tokio::time::Instant::now() < deadline, "health pings go on with a room stuck");
    };
    stuck.release();
    until("health pings to resume", || sidecar.calls().health > stalled_at).await;
    assert_eq!(sidecar.calls().ready, 1, "Ready exactly once");

    // SIGTERM (the shutdown future): drain, then Shutdown.
    assert_eq!(sidecar.calls().shutdown, 0);
    let _ = server.stop.take().map(|s| s.send(()));
    let res = tokio::time::timeout(WAIT, &mut server.task).await.expect("stopped in time");
    res.expect("no panic").expect("Ok");
    assert_eq!(sidecar.calls().shutdown, 1, "Shutdown after the drain");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allocated_server_empty_for_the_limit_drains_and_shuts_down() {
    let (sidecar, port) = sidecar().await;
    let config = Config { exit_when_empty_after_ms: Some(300), ..agones_config(port) };
    let mut server = common::start(config, Hooks::default()).await;
    until("Ready", || sidecar.calls().ready == 1).await;
    // Ready but not allocated: empty is fine.
    let p = join(server.addr, "arena").await;
    until("1 player", || sidecar.count("players") == Some(1)).await;
    sidecar.state.send_replace("Allocated".into());
    // Allocated with a player: it stays (an observation window of twice the limit).
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!server.task.is_finished(), "an allocated server with a player stays up");
    // Empty now: it goes within the limit plus a few health intervals.
    leave(p).await;
    let res = tokio::time::timeout(WAIT, &mut server.task).await.expect("stopped by itself");
    res.expect("no panic").expect("Ok");
    assert_eq!(sidecar.calls().shutdown, 1, "Shutdown reported");
    drop(server.stop.take());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_sidecar_is_a_clear_error_naming_the_port() {
    // A port nothing listens on: bound, then closed.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        l.local_addr().expect("addr").port()
    };
    let config = Config { agones_connect_timeout_ms: 500, ..agones_config(port) };
    let server = common::start(config, Hooks::default()).await;
    let res = tokio::time::timeout(WAIT, server.task).await.expect("gave up in time");
    let err = res.expect("no panic").expect_err("no sidecar: an error");
    let text = err.to_string();
    assert!(text.contains(&format!("localhost:{port}")), "{text}");
    assert!(text.contains("no Agones SDK sidecar"), "{text}");
}
