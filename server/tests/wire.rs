//! The real server on 127.0.0.1:0 with real WebSocket clients: every tutorial rule over the
//! wire, and bad input. Waits are bounded (each fails with a message saying what it waited
//! for); "nothing happened" is checked up to the tick that acknowledged the input, never by
//! sleeping.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use skirmish_server::poll_client::{self, HttpConn, Polled};
use skirmish_server::{Config, Hooks};
use skirmish_shared::{
    ClientMsg, Direction, Event, Input, PROTOCOL_VERSION, PlayerId, Replica, ResumeToken,
    ServerMsg, Welcome,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(10);

/// How a test's players talk to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    WebSocket,
    Polling,
}

struct TestApp {
    addr: SocketAddr,
    transport: Transport,
    metrics_addr: Option<SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<Result<(), skirmish_server::ServerError>>,
}

impl TestApp {
    async fn spawn(config: Config) -> Self {
        Self::spawn_with(config, Hooks::default(), false).await
    }

    /// A server whose players (see [`Player`]) use `transport`. A polling player that stops
    /// polling is lost at the idle timeout, here 1 s, as a WebSocket player whose socket
    /// closes is at once.
    async fn spawn_on(transport: Transport, config: Config) -> Self {
        Self::spawn_on_with(transport, config, Hooks::default()).await
    }

    async fn spawn_on_with(transport: Transport, config: Config, hooks: Hooks) -> Self {
        let config = match transport {
            Transport::WebSocket => config,
            Transport::Polling => Config { idle_timeout_ms: 1_000, ..config },
        };
        Self { transport, ..Self::spawn_with(config, hooks, false).await }
    }

    /// With hooks into the rooms, and optionally a separate metrics port.
    async fn spawn_with(config: Config, hooks: Hooks, metrics_port: bool) -> Self {
        let common::Server { addr, metrics_addr, stop, task } =
            common::start_with_metrics(config, hooks, metrics_port).await;
        Self { addr, transport: Transport::WebSocket, metrics_addr, stop, server: task }
    }

    /// Everyone spawns at (0, 0), attacks have no cooldown, the dead stay dead for the test.
    fn arena() -> Config {
        Config {
            spawn_min: 0,
            spawn_max: 0,
            attack_cooldown_ms: 0,
            respawn_delay_ms: 600_000,
            resume_grace_ms: 0,
            seed: Some(1),
            ..Config::default()
        }
    }

    async fn shutdown(mut self) {
        let _ = self.stop.take().map(|s| s.send(()));
        let res =
            tokio::time::timeout(WAIT, self.server).await.expect("server stopped within 10 s");
        res.expect("server task did not panic").expect("server returned Ok");
    }
}

type Ws = WebSocketStream<TcpStream>;

async fn connect(addr: SocketAddr) -> Ws {
    let tcp = TcpStream::connect(addr).await.expect("tcp connect");
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/ws"), tcp)
        .await
        .expect("websocket handshake");
    ws
}

/// What a connection brings: a message, or the server's close.
#[derive(Debug)]
enum Got {
    Msg(ServerMsg),
    Closed(u16, String),
}

/// One client connection, over either transport.
enum Conn {
    Ws(Ws),
    Poll(Poller),
}

/// A long-polling client: a task keeps one `GET` waiting and queues what it brings; sends
/// are `POST`s on a connection of their own.
struct Poller {
    addr: SocketAddr,
    sid: String,
    post: HttpConn,
    inbox: mpsc::UnboundedReceiver<Got>,
    reader: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Poller {
    fn drop(&mut self) {
        if let Some(r) = self.reader.take() {
            r.abort();
        }
    }
}

/// Queues a batch's messages (and close); `true` if the session closed.
fn queue_batch(tx: &mpsc::UnboundedSender<Got>, polled: Polled) -> bool {
    for m in polled.messages {
        let _ = tx.send(Got::Msg(ServerMsg::decode(&m).expect("server message decodes")));
    }
    match polled.close {
        Some((code, reason)) => {
            let _ = tx.send(Got::Closed(code, reason));
            true
        }
        None => false,
    }
}

impl Conn {
    /// Connects and sends the join (encoded in `join`).
    async fn open(addr: SocketAddr, transport: Transport, join: Vec<u8>) -> Self {
        match transport {
            Transport::WebSocket => {
                let mut ws = connect(addr).await;
                ws.send(Message::Binary(join.into())).await.expect("send join");
                Conn::Ws(ws)
            }
            Transport::Polling => {
                let mut get = HttpConn::new(addr);
                let (sid, first) = tokio::time::timeout(WAIT, poll_client::join(&mut get, &join))
                    .await
                    .expect("join answered within 10 s")
                    .expect("polling join");
                let (tx, inbox) = mpsc::unbounded_channel();
                let reader = (!queue_batch(&tx, first)).then(|| {
                    let sid = sid.clone();
                    tokio::spawn(async move {
                        loop {
                            match poll_client::poll(&mut get, &sid).await {
                                Ok(Ok(polled)) => {
                                    if queue_batch(&tx, polled) {
                                        return;
                                    }
                                }
                                Ok(Err(res)) => {
                                    panic!("poll answered {}: {}", res.status, res.text())
                                }
                                Err(e) => {
                                    eprintln!("poll failed: {e}");
                                    return;
                                } // the test dropped the server
                            }
                        }
                    })
                });
                Conn::Poll(Poller { addr, sid, post: HttpConn::new(addr), inbox, reader })
            }
        }
    }

    /// Sends one message; `false` if the server refused it (closed the connection).
    async fn send(&mut self, bytes: Vec<u8>) -> bool {
        match self {
            Conn::Ws(ws) => ws.send(Message::Binary(bytes.into())).await.is_ok(),
            Conn::Poll(p) => {
                let batch = poll_client::write_batch([bytes.as_slice()]);
                let res =
                    poll_client::send(&mut p.post, &p.sid, &batch).await.expect("POST answered");
                res.status == 204
            }
        }
    }

    /// The next message or close; `None` if the connection ended without a close.
    async fn recv(&mut self) -> Option<Got> {
        match self {
            Conn::Ws(ws) => ws.recv().await,
            Conn::Poll(p) => p.inbox.recv().await,
        }
    }

    /// Drops the connection without a leave: a WebSocket closes, a poller stops polling.
    async fn disconnect(&mut self) {
        match self {
            Conn::Ws(ws) => ws.close(None).await.expect("close"),
            Conn::Poll(p) => {
                if let Some(r) = p.reader.take() {
                    r.abort();
                }
                p.post = HttpConn::new(p.addr);
            }
        }
    }
}

struct Player {
    conn: Conn,
    id: PlayerId,
    welcome: Welcome,
    replica: Replica,
    seq: u32,
    /// Every event seen, with the tick it happened on.
    events: Vec<(u64, Event)>,
}

impl Player {
    async fn join(app: &TestApp, name: &str) -> Self {
        Self::join_with(app, name, None).await
    }

    async fn join_with(app: &TestApp, name: &str, resume: Option<ResumeToken>) -> Self {
        Self::join_room(app, name, None, resume).await
    }

    /// Joins over `transport`, whatever the app's.
    async fn join_via(
        app: &TestApp,
        transport: Transport,
        name: &str,
        resume: Option<ResumeToken>,
    ) -> Self {
        Self::join_on(app.addr, transport, name, None, resume).await
    }

    /// Joins over the app's transport.
    async fn join_room(
        app: &TestApp,
        name: &str,
        room: Option<&str>,
        resume: Option<ResumeToken>,
    ) -> Self {
        Self::join_on(app.addr, app.transport, name, room, resume).await
    }

    async fn join_on(
        addr: SocketAddr,
        transport: Transport,
        name: &str,
        room: Option<&str>,
        resume: Option<ResumeToken>,
    ) -> Self {
        let join = ClientMsg::Join {
            protocol_version: PROTOCOL_VERSION,
            name: Some(name.into()),
            resume,
            room: room.map(str::to_owned),
            seat: None,
        };
        let mut conn = Conn::open(addr, transport, join.encode()).await;
        let msg = next_msg(&mut conn, "welcome").await;
        let ServerMsg::Welcome(welcome) = msg else { panic!("expected welcome, got {msg:?}") };
        Self {
            id: welcome.player_id,
            replica: Replica::from_keyframe(&welcome.keyframe),
            welcome,
            conn,
            seq: 0,
            events: Vec::new(),
        }
    }

    async fn input(&mut self, x: f32, y: f32, attack: bool) -> u32 {
        self.seq += 1;
        let input = Input {
            seq: self.seq,
            dir: Direction::new(x, y).expect("valid direction"),
            attack,
            seen: 0,
            shown: 0,
        };
        assert!(self.conn.send(ClientMsg::Input(input).encode()).await, "input refused");
        self.seq
    }

    /// Reads frames, applying each, until `done` holds.
    async fn until(&mut self, what: &str, mut done: impl FnMut(&Player) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !done(self) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let msg =
                tokio::time::timeout(left, next_msg(&mut self.conn, what)).await.unwrap_or_else(
                    |_| panic!("player {} timed out after {WAIT:?} waiting for {what}", self.id),
                );
            match msg {
                ServerMsg::Frame(f) => {
                    self.replica.apply(&f).expect("frame applies");
                    self.events.extend(f.events.iter().map(|e| (f.tick, *e)));
                }
                ServerMsg::Keyframe(k) => self.replica = Replica::from_keyframe(&k),
                ServerMsg::Welcome(_) | ServerMsg::Pong { .. } => {}
            }
        }
    }

    /// Waits until the server has applied this player's input `seq`; returns that tick.
    async fn acked(&mut self, seq: u32) -> u64 {
        self.until(&format!("ack of input {seq}"), |p| p.replica.ack >= seq).await;
        self.replica.tick
    }

    /// The WebSocket of a player of a WebSocket-only test.
    fn ws(&mut self) -> &mut Ws {
        match &mut self.conn {
            Conn::Ws(ws) => ws,
            Conn::Poll(_) => panic!("a WebSocket-only test joined over polling"),
        }
    }

    fn hp_of(&self, id: PlayerId) -> i32 {
        self.replica.entities[&id].hp
    }

    fn saw(&self, e: Event) -> bool {
        self.events.iter().any(|(_, seen)| *seen == e)
    }
}

/// A connection messages and a close come from.
trait Recv {
    /// The next message or close; `None` if the connection ended without a close.
    async fn recv(&mut self) -> Option<Got>;
}

impl Recv for Conn {
    async fn recv(&mut self) -> Option<Got> {
        Conn::recv(self).await
    }
}

impl Recv for Ws {
    async fn recv(&mut self) -> Option<Got> {
        loop {
            match self.next().await? {
                Ok(Message::Binary(b)) => {
                    return Some(Got::Msg(ServerMsg::decode(&b).expect("server message decodes")));
                }
                Ok(Message::Close(Some(frame))) => {
                    return Some(Got::Closed(frame.code.into(), frame.reason.to_string()));
                }
                Ok(Message::Close(None)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }
}

/// The next message, decoded; panics on close or after [`WAIT`].
async fn next_msg(conn: &mut impl Recv, what: &str) -> ServerMsg {
    let got = tokio::time::timeout(WAIT, conn.recv())
        .await
        .unwrap_or_else(|_| panic!("timed out after {WAIT:?} waiting for {what}"))
        .unwrap_or_else(|| panic!("connection ended while waiting for {what}"));
    match got {
        Got::Msg(msg) => msg,
        Got::Closed(code, reason) => panic!("closed ({code} {reason}) while waiting for {what}"),
    }
}

/// Reads until the server closes; returns the close code and reason.
async fn close_code(conn: &mut impl Recv) -> (u16, String) {
    loop {
        let got = tokio::time::timeout(WAIT, conn.recv()).await.expect("server closes within 10 s");
        match got {
            Some(Got::Closed(code, reason)) => return (code, reason),
            Some(Got::Msg(_)) => {}
            None => panic!("closed without a close code"),
        }
    }
}

async fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.expect("tcp connect");
    tcp.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .expect("write");
    let mut out = String::new();
    tokio::time::timeout(WAIT, tcp.read_to_string(&mut out))
        .await
        .expect("response within 10 s")
        .expect("read");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_page_and_welcomes_a_join() {
    // Its own web root, so this test needs no npm build.
    let web_root = std::env::temp_dir().join(format!("skirmish-web-{}", std::process::id()));
    std::fs::create_dir_all(&web_root).expect("temp dir");
    std::fs::write(web_root.join("index.html"), "<!doctype html><html><body>hi</body></html>")
        .expect("write page");
    let app = TestApp::spawn(Config {
        seed: Some(1),
        web_root: Some(web_root.clone()),
        ..Config::default()
    })
    .await;
    let page = http_get(app.addr, "/").await;
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
    assert!(page.contains("<html"), "{page}");
    assert!(http_get(app.addr, "/nope").await.starts_with("HTTP/1.1 404"));
    assert!(http_get(app.addr, "/healthz").await.ends_with("ok\n"));
    assert!(http_get(app.addr, "/metrics").await.contains("skirmish_connections"));
    let _ = std::fs::remove_dir_all(&web_root);

    let p = Player::join(&app, "ann").await;
    let metrics = http_get(app.addr, "/metrics").await;
    assert!(metrics.contains("application/openmetrics-text"), "{metrics}");
    let room = &p.welcome.room;
    assert!(metrics.contains(&format!("skirmish_ticks_total{{room=\"{room}\"}}")), "{metrics}");
    assert_eq!(p.welcome.protocol_version, PROTOCOL_VERSION);
    assert_eq!(p.welcome.tick_rate, 30);
    assert_eq!(p.welcome.rules, Config::default().rules());
    let me = &p.replica.entities[&p.id];
    assert_eq!((me.name.as_str(), me.hp), ("ann", 100));
    assert!(
        (0..=800).contains(&me.x) && (0..=800).contains(&me.y),
        "spawned in 0..=100 units: {me:?}"
    );
    app.shutdown().await;
}

async fn players_see_joins_moves_attacks_kills_and_leaves(t: Transport) {
    let app = TestApp::spawn_on(t, TestApp::arena()).await;
    let mut a = Player::join(&app, "a").await;
    let mut b = Player::join(&app, "b").await;
    assert!(b.replica.entities.contains_key(&a.id), "B's keyframe holds A");
    let ib = b.id;
    a.until("B's join", |p| {
        p.replica.entities.contains_key(&ib) && p.saw(Event::Joined { id: ib })
    })
    .await;

    // A move is seen by the other client, at the configured speed: 100 u/s at 30 Hz = 27 subunits.
    let ia = a.id;
    a.input(1.0, 0.0, false).await;
    b.until("A's move", |p| p.replica.entities[&ia].x != 0).await;
    assert_eq!((b.replica.entities[&ia].x, b.replica.entities[&ia].y), (27, 0));
    a.input(-1.0, 0.0, false).await;
    b.until("A's move back", |p| p.replica.entities[&ia].x == 0).await;

    // C walks far away so it is out of every fight.
    let mut c = Player::join(&app, "c").await;
    let ic = c.id;
    for _ in 0..2 {
        for _ in 0..5 {
            c.input(0.0, 1.0, false).await;
        }
        let last = c.seq;
        c.acked(last).await;
    }

    // In range (distance 0): A's attack takes 10 hp, and both see it.
    let seq = a.input(0.0, 0.0, true).await;
    a.acked(seq).await;
    let hit = Event::Attacked { attacker: ia, target: ib, hp: 90 };
    a.until("A's hit on B", |p| p.saw(hit)).await;
    b.until("A's hit on B", |p| p.saw(hit)).await;
    assert_eq!(a.hp_of(ib), 90);
    assert_eq!(a.hp_of(ia), 100, "no self-hit");
    assert_eq!(a.hp_of(ic), 100, "C is out of range");

    // Out of range (3 steps = 81 subunits > 80 = 10 units): nothing happens.
    for _ in 0..3 {
        b.input(1.0, 0.0, false).await;
    }
    let moved = b.seq;
    b.acked(moved).await;
    a.until("B out of range", |p| p.replica.entities[&ib].x == 81).await;
    let before = a.events.len();
    let seq = a.input(0.0, 0.0, true).await;
    a.acked(seq).await;
    assert!(
        !a.events[before..].iter().any(|(_, e)| matches!(e, Event::Attacked { .. })),
        "an attack at 10.125 units hit: {:?}",
        &a.events[before..]
    );
    assert_eq!(a.hp_of(ib), 90);

    // Back in range; nine more hits kill, and everyone sees the kill.
    for _ in 0..3 {
        b.input(-1.0, 0.0, false).await;
    }
    let back = b.seq;
    b.acked(back).await;
    a.until("B back in range", |p| p.replica.entities[&ib].x == 0).await;
    // One attack per tick at most: each waits for the previous one's ack.
    for _ in 0..9 {
        let seq = a.input(0.0, 0.0, true).await;
        a.acked(seq).await;
    }
    let kill = Event::Killed { victim: ib, killer: ia };
    for p in [&mut a, &mut b, &mut c] {
        p.until("B's death", |p| p.saw(kill)).await;
        assert_eq!(p.hp_of(ib), 0);
    }
    let hits_on_b = a
        .events
        .iter()
        .filter(|(_, e)| matches!(e, Event::Attacked { target, .. } if *target == ib))
        .count();
    assert_eq!(hits_on_b, 10, "ten hits of 10 from 100 hp");

    // The dead can't attack.
    let before = a.events.len();
    let seq = b.input(0.0, 0.0, true).await;
    b.acked(seq).await;
    // Idle ticks aren't sent: A syncs past B's tick through the ack of its own input.
    let sync = a.input(0.0, 0.0, false).await;
    a.acked(sync).await;
    assert!(a.replica.tick >= b.replica.tick);
    assert!(
        !a.events[before..]
            .iter()
            .any(|(_, e)| matches!(e, Event::Attacked { attacker, .. } if *attacker == ib))
    );
    assert_eq!(a.hp_of(ia), 100);

    // A disconnect is seen as a leave.
    b.conn.disconnect().await;
    for p in [&mut a, &mut c] {
        p.until("B's leave", |p| {
            p.saw(Event::Left { id: ib }) && !p.replica.entities.contains_key(&ib)
        })
        .await;
    }
    app.shutdown().await;
}

/// Sends `bytes` from a fresh joined client and returns the close code it gets, while a
/// bystander checks the server keeps ticking for others.
async fn bad_input_closes(app: &TestApp, bystander: &mut Player, msg: Vec<u8>) -> (u16, String) {
    let mut bad = Player::join(app, "bad").await;
    bad.conn.send(msg).await;
    let code = close_code(&mut bad.conn).await;
    let seq = bystander.input(0.0, 1.0, false).await;
    bystander.acked(seq).await;
    code
}

async fn bad_input_never_hurts_the_server(t: Transport) {
    let app = TestApp::spawn_on(t, TestApp::arena()).await;
    let mut ok = Player::join(&app, "ok").await;

    let (code, reason) = bad_input_closes(&app, &mut ok, vec![0xc1, 0xff, 0x00]).await;
    assert_eq!(code, 1007, "malformed MessagePack: {reason}");
    let (code, reason) = bad_input_closes(&app, &mut ok, vec![0x92, 0x09, 0x00]).await;
    assert_eq!(code, 1007, "unknown message: {reason}");
    assert!(reason.contains("unknown message tag 9"), "{reason}");
    let (code, _) = bad_input_closes(&app, &mut ok, vec![0xdd, 0xff, 0xff, 0xff, 0xff]).await;
    assert_eq!(code, 1007, "huge array length prefix");
    let (code, _) = bad_input_closes(&app, &mut ok, vec![0x91; 1000]).await;
    assert_eq!(code, 1007, "deep nesting");
    if t == Transport::WebSocket {
        let mut bad = Player::join(&app, "bad").await;
        bad.ws().send(Message::Text("hello".into())).await.expect("send");
        assert_eq!(close_code(&mut bad.conn).await.0, 1003, "text frame");
    }
    let (code, _) = bad_input_closes(&app, &mut ok, vec![0; 4096]).await;
    assert_eq!(code, 1009, "oversized message");
    let rejoin = ClientMsg::Join {
        protocol_version: PROTOCOL_VERSION,
        name: None,
        resume: None,
        room: None,
        seat: None,
    }
    .encode();
    let (code, _) = bad_input_closes(&app, &mut ok, rejoin).await;
    assert_eq!(code, 1008, "second join");

    // Before join, and with the wrong protocol version.
    let input = ClientMsg::Input(Input {
        seq: 1,
        dir: Direction::default(),
        attack: false,
        seen: 0,
        shown: 0,
    })
    .encode();
    match t {
        Transport::WebSocket => {
            let mut early = connect(app.addr).await;
            early.send(Message::Binary(input.into())).await.expect("send");
            assert_eq!(close_code(&mut early).await.0, 1008, "input before join");
        }
        Transport::Polling => {
            let res =
                HttpConn::new(app.addr).request("POST", "/poll", &input).await.expect("answer");
            assert_eq!(
                (res.status, res.text().as_str()),
                (400, "the first message must be a join\n")
            );
        }
    }
    let join = ClientMsg::Join {
        protocol_version: PROTOCOL_VERSION + 1,
        name: None,
        resume: None,
        room: None,
        seat: None,
    }
    .encode();
    let mut old = Conn::open(app.addr, t, join).await;
    assert_eq!(close_code(&mut old).await.0, 4001, "protocol version mismatch");

    // NaN, infinite or too long directions are dropped; the connection stays and plays on.
    let mut odd = Player::join(&app, "odd").await;
    for (seq, x, y) in [
        (1u32, f32::NAN, 0.0f32),
        (2, f32::INFINITY, 0.0),
        (3, 0.0, f32::NEG_INFINITY),
        (4, 3.0, 4.0),
    ] {
        let mut raw = vec![0x95, 0x01, seq as u8, 0xca];
        raw.extend_from_slice(&x.to_be_bytes());
        raw.push(0xca);
        raw.extend_from_slice(&y.to_be_bytes());
        raw.push(0xc2);
        assert!(odd.conn.send(raw).await, "sent");
    }
    odd.seq = 4;
    let seq = odd.input(0.0, 1.0, false).await;
    odd.acked(seq).await;
    let me = &odd.replica.entities[&odd.id];
    assert_eq!((me.x, me.y), (0, 27), "only the valid input moved the player");
    assert!(odd.conn.send(ClientMsg::Ping { client_time: 42 }.encode()).await, "ping sent");
    loop {
        if let ServerMsg::Pong { client_time, .. } = next_msg(&mut odd.conn, "pong").await {
            assert_eq!(client_time, 42);
            break;
        }
    }
    app.shutdown().await;
}

async fn shutdown_closes_every_client_with_going_away(t: Transport) {
    let app = TestApp::spawn_on(t, TestApp::arena()).await;
    let mut a = Player::join(&app, "a").await;
    let TestApp { mut stop, server, .. } = app;
    let _ = stop.take().map(|s| s.send(()));
    assert_eq!(close_code(&mut a.conn).await.0, 1001);
    tokio::time::timeout(WAIT, server).await.expect("stopped").expect("no panic").expect("Ok");
}

fn with_grace(ms: u64) -> Config {
    Config { resume_grace_ms: ms, ..TestApp::arena() }
}

/// Waits until the server has run a tick after everything `p` sent so far.
async fn sync(p: &mut Player) {
    let seq = p.input(0.0, 0.0, false).await;
    p.acked(seq).await;
}

async fn resuming_within_the_window_keeps_the_player_and_nobody_sees_a_leave(t: Transport) {
    let app = TestApp::spawn_on(t, with_grace(30_000)).await;
    let mut a = Player::join(&app, "a").await;
    let mut b = Player::join(&app, "b").await;
    let (ia, ib, token) = (a.id, b.id, b.welcome.token);
    assert!(!b.welcome.resumed);
    // B takes a hit and moves, so there is state to keep.
    let seq = a.input(0.0, 0.0, true).await;
    a.acked(seq).await;
    let seq = b.input(0.0, 1.0, false).await;
    b.acked(seq).await;
    b.until("B's hit", |p| p.replica.entities[&ib].hp == 90).await;
    let before = b.replica.entities[&ib].clone();

    b.conn.disconnect().await;
    drop(b);
    sync(&mut a).await;
    let mut b2 = Player::join_with(&app, "b", Some(token)).await;
    assert!(b2.welcome.resumed, "the token got the player back");
    assert_eq!(b2.id, ib);
    assert_eq!(b2.welcome.token, token);
    assert_eq!(b2.replica.entities[&ib], before, "same id, position, hp and name");
    // It plays on: its new connection's inputs are applied and acknowledged from 1.
    let seq = b2.input(0.0, 1.0, false).await;
    assert_eq!(seq, 1);
    b2.acked(seq).await;
    assert_eq!(b2.replica.entities[&ib].y, before.y + 27);
    sync(&mut a).await;
    assert!(!a.saw(Event::Left { id: ib }), "nobody saw B leave");
    assert!(
        a.events
            .iter()
            .all(|(_, e)| *e != Event::Joined { id: ib } || a.replica.entities.contains_key(&ib))
    );
    assert_eq!(a.replica.entities[&ib].y, before.y + 27, "A sees the resumed player move");
    assert!(a.replica.entities.contains_key(&ia));
    app.shutdown().await;
}

async fn after_the_window_or_with_a_wrong_token_it_is_a_new_player(t: Transport) {
    let app = TestApp::spawn_on(t, with_grace(100)).await;
    let mut a = Player::join(&app, "a").await;
    let b = Player::join(&app, "b").await;
    let (ib, token) = (b.id, b.welcome.token);
    drop(b);
    // The grace window (100 ms = 3 ticks) ends: everyone sees B leave.
    a.until("B's leave after the window", |p| p.saw(Event::Left { id: ib })).await;
    let late = Player::join_with(&app, "b", Some(token)).await;
    assert!(!late.welcome.resumed, "too late: a new player");
    assert_ne!(late.id, ib);
    assert_ne!(late.welcome.token, token);

    let wrong = Player::join_with(&app, "c", Some([0x5a; 16])).await;
    assert!(!wrong.welcome.resumed, "a wrong token is a new join");
    assert_ne!(wrong.id, late.id);
    app.shutdown().await;
}

async fn a_token_used_twice_closes_the_older_connection(t: Transport) {
    let app = TestApp::spawn_on(t, with_grace(30_000)).await;
    let mut a = Player::join(&app, "a").await;
    let mut first = Player::join(&app, "b").await;
    let second = Player::join_with(&app, "b", Some(first.welcome.token)).await;
    assert!(second.welcome.resumed);
    assert_eq!(second.id, first.id);
    let (code, reason) = close_code(&mut first.conn).await;
    assert_eq!(code, 4002, "{reason}");
    sync(&mut a).await;
    assert!(!a.saw(Event::Left { id: first.id }));
    app.shutdown().await;
}

/// Sends raw bytes on a fresh TCP connection and returns everything the server answers
/// (until it closes, or 10 s).
async fn raw_request(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut tcp = TcpStream::connect(addr).await.expect("tcp connect");
    let _ = tcp.write_all(bytes).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(WAIT, tcp.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// Sends an upgrade request and `then` in one write, with no WebSocket library; returns the
/// socket and the bytes that followed the 101 response's head.
async fn upgrade_and_send(addr: SocketAddr, then: &[u8]) -> (TcpStream, Vec<u8>) {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let mut bytes = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes();
    bytes.extend_from_slice(then);
    tcp.write_all(&bytes).await.expect("one write: upgrade and what follows");
    let mut got = Vec::new();
    let head_end = loop {
        let mut buf = [0u8; 1024];
        let n = tokio::time::timeout(WAIT, tcp.read(&mut buf))
            .await
            .expect("response within 10 s")
            .expect("read");
        assert!(n > 0, "closed before answering: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
        if let Some(at) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    assert!(got.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&got));
    let rest = got.split_off(head_end);
    (tcp, rest)
}

fn join_bytes(name: &str) -> Vec<u8> {
    ClientMsg::Join {
        protocol_version: PROTOCOL_VERSION,
        name: Some(name.into()),
        resume: None,
        room: None,
        seat: None,
    }
    .encode()
}

/// A client that sends its join in the same write as the upgrade request: the bytes the HTTP
/// layer read past the request reach the WebSocket reader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_sent_with_the_upgrade_request_is_read() {
    let app = TestApp::spawn(TestApp::arena()).await;
    let (tcp, rest) =
        upgrade_and_send(app.addr, &client_frame(0x82, &join_bytes("eager"), false)).await;
    let mut ws = WebSocketStream::from_partially_read(
        tcp,
        rest,
        tokio_tungstenite::tungstenite::protocol::Role::Client,
        None,
    )
    .await;
    let ServerMsg::Welcome(w) = next_msg(&mut ws, "welcome").await else { panic!("no welcome") };
    assert_eq!(
        w.keyframe.entities.iter().find(|e| e.id == w.player_id).map(|e| e.name.as_str()),
        Some("eager")
    );
    app.shutdown().await;
}

/// Appends what `tcp` delivers to `got` until `until` or the end of the stream.
async fn read_until(tcp: &mut TcpStream, got: &mut Vec<u8>, until: tokio::time::Instant) {
    let mut buf = [0u8; 4096];
    while let Ok(Ok(n @ 1..)) = tokio::time::timeout_at(until, tcp.read(&mut buf)).await {
        got.extend_from_slice(&buf[..n]);
    }
}

/// Server frames in `bytes` (unmasked, as the server sends them): (opcode, payload length);
/// stops at an incomplete frame.
fn server_frames(mut bytes: &[u8]) -> Vec<(u8, usize)> {
    let mut frames = Vec::new();
    while bytes.len() >= 2 {
        let (len, header) = match bytes[1] & 0x7f {
            126 if bytes.len() >= 4 => (usize::from(u16::from_be_bytes([bytes[2], bytes[3]])), 4),
            127 if bytes.len() >= 10 => {
                (u64::from_be_bytes(bytes[2..10].try_into().expect("8 bytes")) as usize, 10)
            }
            126 | 127 => break,
            n => (usize::from(n), 2),
        };
        if bytes.len() < header + len {
            break;
        }
        frames.push((bytes[0] & 0x0f, len));
        bytes = &bytes[header + len..];
    }
    frames
}

/// RFC 6455 §5.5.1: nothing follows the close frame. The room keeps producing frames (another
/// player moves every tick) while this client, closed by the server for a malformed message,
/// does not answer the close: no frame may come after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_frame_follows_the_close_frame() {
    let app = TestApp::spawn(TestApp::arena()).await;
    let mut mover = Player::join(&app, "mover").await;
    let (mut tcp, mut got) =
        upgrade_and_send(app.addr, &client_frame(0x82, &join_bytes("closed"), false)).await;
    // Let frames flow for a few ticks, then break a rule: a message that is not MessagePack.
    let moving = tokio::spawn(async move {
        for i in 0..60 {
            let x = if i % 2 == 0 { 1.0 } else { -1.0 };
            mover.input(x, 0.0, false).await;
            tokio::time::sleep(Duration::from_millis(33)).await; // the mover's pace, not a wait
        }
        mover
    });
    read_until(&mut tcp, &mut got, tokio::time::Instant::now() + Duration::from_millis(300)).await;
    let before = server_frames(&got).len();
    assert!(before >= 3, "frames flowed before the close: {before}");
    tcp.write_all(&client_frame(0x82, &[0xc1], false)).await.expect("send a malformed message");
    // Read (never answering the close) until the server gives up on the handshake.
    read_until(&mut tcp, &mut got, tokio::time::Instant::now() + Duration::from_secs(3)).await;
    let frames = server_frames(&got);
    let close = frames.iter().position(|&(op, _)| op == 0x8).expect("a close frame");
    assert_eq!(&frames[close + 1..], &[], "frames after the close frame: {:?}", &frames[close..]);
    let _ = moving.await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_or_huge_handshakes_are_cut_off() {
    let app = TestApp::spawn(Config { handshake_timeout_ms: 300, ..TestApp::arena() }).await;
    // A client that connects and never sends its request is dropped after the timeout.
    let mut idle = TcpStream::connect(app.addr).await.expect("tcp connect");
    let started = std::time::Instant::now();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(WAIT, idle.read(&mut buf)).await.expect("dropped within 10 s");
    assert!(matches!(n, Ok(0) | Err(_)), "connection closed without an answer: {n:?}");
    assert!(started.elapsed() >= Duration::from_millis(250), "not before the timeout");
    // A request head over 8 KiB gets 431.
    let mut huge = b"GET / HTTP/1.1\r\nX-Filler: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 9000));
    huge.extend_from_slice(b"\r\n\r\n");
    let answer = raw_request(app.addr, &huge).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    // Not HTTP at all: 400.
    let answer = raw_request(app.addr, b"GARBAGE\x01\x02 NOT HTTP\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    // A WebSocket upgrade with a key that is not 16 bytes of base64, or over HTTP/1.0: 400.
    let upgrade = |version: &str, key: &str| {
        format!(
            "GET /ws HTTP/{version}\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
    };
    let answer = raw_request(app.addr, upgrade("1.1", "not-a-key").as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "bad key: {answer}");
    let answer = raw_request(app.addr, upgrade("1.0", "dGhlIHNhbXBsZSBub25jZQ==").as_bytes()).await;
    assert!(answer.contains(" 400 "), "HTTP/1.0: {answer}");
    app.shutdown().await;
}

async fn sequence_numbers_going_back_are_dropped_and_absurd_jumps_close(t: Transport) {
    let app = TestApp::spawn_on(t, TestApp::arena()).await;
    let mut p = Player::join(&app, "p").await;
    let send = |seq: u32| {
        ClientMsg::Input(Input {
            seq,
            dir: Direction::new(0.0, 1.0).expect("dir"),
            attack: false,
            seen: 0,
            shown: 0,
        })
        .encode()
    };
    assert!(p.conn.send(send(5)).await, "sent");
    p.acked(5).await;
    // Seq 3 and 5 again: dropped. Seq 6 moves once more: two steps in all.
    for seq in [3, 5, 6] {
        assert!(p.conn.send(send(seq)).await, "sent");
    }
    p.acked(6).await;
    assert_eq!(p.replica.entities[&p.id].y, 2 * 27, "only seq 5 and 6 moved the player");
    // Over polling the POST's answer already says the session closed (400).
    p.conn.send(send(6 + 20_000)).await;
    assert_eq!(close_code(&mut p.conn).await.0, 1008, "a jump of 20,000 closes");
    app.shutdown().await;
}

async fn a_flood_of_inputs_closes_with_1008_and_others_play_on(t: Transport) {
    let app = TestApp::spawn_on(t, TestApp::arena()).await;
    let mut ok = Player::join(&app, "ok").await;
    let mut flood = Player::join(&app, "flood").await;
    for seq in 1..=2_000u32 {
        let input = Input { seq, dir: Direction::default(), attack: false, seen: 0, shown: 0 };
        if !flood.conn.send(ClientMsg::Input(input).encode()).await {
            break; // the server closed on us
        }
    }
    let (code, reason) = close_code(&mut flood.conn).await;
    assert_eq!((code, reason.as_str()), (1008, "input flood"));
    sync(&mut ok).await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_peer_is_dropped_and_its_player_leaves() {
    let config = Config {
        ping_interval_ms: 100,
        idle_timeout_ms: 400,
        resume_grace_ms: 0,
        ..TestApp::arena()
    };
    let app = TestApp::spawn(config).await;
    let mut a = Player::join(&app, "a").await;
    // B joins, then neither reads nor writes: it never answers the server's pings.
    let silent = Player::join(&app, "silent").await;
    let id = silent.id;
    a.until("the silent player's leave", |p| p.saw(Event::Left { id })).await;
    // A kept reading (its client answers pings by itself): still connected.
    sync(&mut a).await;
    drop(silent);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_origins_and_too_many_connections_per_address_are_refused() {
    let app = TestApp::spawn(Config {
        max_connections_per_ip: 3,
        cap_loopback: true,
        ..TestApp::arena()
    })
    .await;
    let upgrade = |origin: &str| {
        format!(
            "GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n",
            app.addr
        )
    };
    let answer = raw_request(app.addr, upgrade("https://evil.example").as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    // An accepted upgrade stays open: read only the response head.
    let mut tcp = TcpStream::connect(app.addr).await.expect("tcp connect");
    tcp.write_all(upgrade(&format!("http://{}", app.addr)).as_bytes()).await.expect("write");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let n =
            tokio::time::timeout(WAIT, tcp.read(&mut byte)).await.expect("answer").expect("read");
        assert_eq!(n, 1, "closed before the head ended: {}", String::from_utf8_lossy(&head));
        head.push(byte[0]);
    }
    let answer = String::from_utf8_lossy(&head);
    assert!(answer.starts_with("HTTP/1.1 101"), "own origin: {answer}");

    let _one = Player::join(&app, "one").await;
    let _two = Player::join(&app, "two").await;
    let answer = raw_request(app.addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 503"), "fourth connection from 127.0.0.1: {answer}");
    drop(tcp);
    app.shutdown().await;
}

/// A bot that moves every tick and checks it gets every tick's frame.
async fn play_and_check_every_tick(
    mut p: Player,
    until: tokio::time::Instant,
) -> (PlayerId, u64, usize) {
    let mut frames = 0usize;
    let mut last_tick = p.replica.tick;
    let mut missing = 0u64;
    let mut interval = tokio::time::interval(Duration::from_millis(33));
    while tokio::time::Instant::now() < until {
        tokio::select! {
            _ = interval.tick() => { p.input(0.0, if p.seq.is_multiple_of(2) { 1.0 } else { -1.0 }, false).await; }
            msg = next_msg(&mut p.conn, "frames") => match msg {
                ServerMsg::Frame(f) => {
                    missing += f.tick.saturating_sub(last_tick + 1);
                    last_tick = f.tick;
                    frames += 1;
                }
                ServerMsg::Keyframe(k) => panic!("an up-to-date client got a keyframe at tick {}", k.tick),
                _ => {}
            },
        }
    }
    (p.id, missing, frames)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_percent_of_clients_stalled_do_not_slow_the_others() {
    let config = Config {
        send_buffer_bytes: Some(4096),
        stall_timeout_ms: 300,
        resume_grace_ms: 0,
        max_connections_per_ip: 100,
        ..TestApp::arena()
    };
    let app = TestApp::spawn(config).await;
    let mut stalled = Vec::new();
    for i in 0..4 {
        // A tiny receive buffer, and after the welcome it never reads again.
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(1024).expect("rcvbuf");
        let tcp = socket.connect(app.addr).await.expect("connect");
        let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{}/ws", app.addr), tcp)
            .await
            .expect("handshake");
        let join = ClientMsg::Join {
            protocol_version: PROTOCOL_VERSION,
            name: Some(format!("stall{i}")),
            resume: None,
            room: None,
            seat: None,
        };
        ws.send(Message::Binary(join.encode().into())).await.expect("join");
        let ServerMsg::Welcome(w) = next_msg(&mut ws, "welcome").await else {
            panic!("no welcome")
        };
        stalled.push((w.player_id, ws));
    }
    let mut players = Vec::new();
    for i in 0..36 {
        players.push(Player::join(&app, &format!("p{i}")).await);
    }
    let stalled_ids: Vec<PlayerId> = stalled.iter().map(|(id, _)| *id).collect();
    // The stalled clients keep sending inputs (bigger frames for everyone) but never read;
    // for longer than the watcher waits, so that only the server can have dropped them.
    let writers = tokio::spawn(async move {
        let mut seq = 0;
        let deadline = tokio::time::Instant::now() + 2 * WAIT;
        while tokio::time::Instant::now() < deadline {
            seq += 1;
            for (_, ws) in stalled.iter_mut() {
                let input = Input {
                    seq,
                    dir: Direction::new(1.0, 0.0).expect("dir"),
                    attack: false,
                    seen: 0,
                    shown: 0,
                };
                let _ = tokio::time::timeout(
                    Duration::from_millis(5),
                    ws.send(Message::Binary(ClientMsg::Input(input).encode().into())),
                )
                .await;
            }
            tokio::time::sleep(Duration::from_millis(33)).await;
        }
    });
    let watcher = players.pop().expect("a watcher");
    let until = tokio::time::Instant::now() + Duration::from_secs(4);
    let bots: Vec<_> =
        players.into_iter().map(|p| tokio::spawn(play_and_check_every_tick(p, until))).collect();
    let mut watcher = watcher;
    watcher
        .until("the stalled clients to be dropped", |p| {
            stalled_ids.iter().all(|&id| p.saw(Event::Left { id }))
        })
        .await;
    for bot in bots {
        let (id, missing, frames) = bot.await.expect("bot");
        assert_eq!(missing, 0, "player {id} missed ticks while others stalled");
        assert!(frames >= 30, "player {id} got only {frames} frames in 4 s");
    }
    writers.abort();
    app.shutdown().await;
}

// ---- Rooms ----------------------------------------------------------------------------

/// `GET /rooms` as `(id, players, cap)` triples (the JSON is flat and our ids need no
/// escaping, so a small parser does).
async fn rooms(addr: SocketAddr) -> Vec<(String, usize, usize)> {
    let res = http_get(addr, "/rooms").await;
    assert!(res.starts_with("HTTP/1.1 200"), "{res}");
    assert!(res.contains("application/json"), "{res}");
    let body = res.split("\r\n\r\n").nth(1).expect("a body");
    body.split("{\"id\":\"")
        .skip(1)
        .map(|r| {
            let id = r.split('"').next().expect("id").to_owned();
            let num = |key: &str| -> usize {
                r.split(key)
                    .nth(1)
                    .and_then(|v| v.split([',', '}']).next())
                    .expect("field")
                    .parse()
                    .expect("number")
            };
            (id, num("\"players\":"), num("\"cap\":"))
        })
        .collect()
}

/// Polls `check` (an HTTP look at the server) until it holds, for at most [`WAIT`].
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {WAIT:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Joins and expects to be refused with a close code.
async fn join_refused(app: &TestApp, room: &str) -> (u16, String) {
    let join = ClientMsg::Join {
        protocol_version: PROTOCOL_VERSION,
        name: Some("late".into()),
        resume: None,
        room: Some(room.into()),
        seat: None,
    };
    let mut conn = Conn::open(app.addr, app.transport, join.encode()).await;
    close_code(&mut conn).await
}

/// With `--view-radius 50` (cells of 50 units), over real sockets: a player that walks away
/// leaves the others' replicas and comes back with its state; an attack reaches the players
/// that see it and not one far away.
async fn with_a_view_radius_players_see_only_their_view(t: Transport) {
    let app = TestApp::spawn_on(t, Config { view_radius: 50, ..TestApp::arena() }).await;
    // Everyone spawns at (0, 0), in view cell 0, which sees cells 0 and 1 (x < 100 units).
    let mut a = Player::join(&app, "a").await;
    let mut b = Player::join(&app, "b").await;
    let mut c = Player::join(&app, "c").await;
    assert_eq!(a.welcome.rules.view_radius, 50, "the welcome's rules say the radius");
    sync(&mut a).await;
    assert_eq!(a.replica.entities.len(), 3, "all three in view");
    // b walks right until it is in cell 2 (x ≥ 800 subunits): out of a's and c's view.
    for _ in 0..60 {
        let seq = b.input(1.0, 0.0, false).await;
        b.acked(seq).await;
        if b.replica.entities[&b.id].x >= 800 {
            break;
        }
    }
    assert!(b.replica.entities[&b.id].x >= 800, "b walked off");
    sync(&mut a).await;
    assert!(
        !a.replica.entities.contains_key(&b.id),
        "b is out of a's view: {:?}",
        a.replica.entities.keys()
    );
    sync(&mut b).await;
    assert_eq!(
        b.replica.entities.keys().copied().collect::<Vec<_>>(),
        vec![b.id],
        "b sees only itself"
    );
    // c hits a: both see it; b, far away, does not.
    let seq = c.input(0.0, 0.0, true).await;
    c.acked(seq).await;
    let hit = Event::Attacked { attacker: c.id, target: a.id, hp: 90 };
    a.until("the hit", |p| p.saw(hit)).await;
    assert!(c.saw(hit));
    sync(&mut b).await;
    assert!(!b.saw(hit), "b is too far to see the hit: {:?}", b.events);
    // b walks back: it reappears in a's replica as it is.
    for _ in 0..60 {
        let seq = b.input(-1.0, 0.0, false).await;
        b.acked(seq).await;
        if b.replica.entities.contains_key(&a.id) {
            break;
        }
    }
    assert_eq!(b.replica.entities.get(&a.id).map(|e| e.hp), Some(90), "a is back in b's view, hit");
    sync(&mut b).await;
    sync(&mut a).await;
    assert_eq!(
        a.replica.entities.get(&b.id),
        b.replica.entities.get(&b.id),
        "b is back in a's view, where it is"
    );
    app.shutdown().await;
}

async fn two_rooms_never_see_each_other(t: Transport) {
    let app = TestApp::spawn_on(t, TestApp::arena()).await;
    // Everyone spawns at (0, 0): in one room they would all be in each other's range.
    let mut a1 = Player::join_room(&app, "a1", Some("alpha"), None).await;
    let mut a2 = Player::join_room(&app, "a2", Some("alpha"), None).await;
    let mut b1 = Player::join_room(&app, "b1", Some("beta"), None).await;
    assert_eq!(a1.welcome.room, "alpha");
    assert_eq!(b1.welcome.room, "beta");
    assert_eq!(b1.replica.entities.len(), 1, "beta's keyframe holds only b1");
    sync(&mut a1).await;
    assert_eq!(a1.replica.entities.len(), 2, "alpha holds a1 and a2 only");
    // a1 attacks: a2 (alpha) is hit, b1 (beta) is not.
    let seq = a1.input(0.0, 0.0, true).await;
    a1.acked(seq).await;
    let (attacker, target) = (a1.id, a2.id);
    a2.until("the hit", |p| p.saw(Event::Attacked { attacker, target, hp: 90 })).await;
    // b1 moves: alpha never hears of it.
    let seq = b1.input(1.0, 0.0, false).await;
    b1.acked(seq).await;
    sync(&mut a1).await;
    sync(&mut b1).await;
    assert_eq!(b1.hp_of(b1.id), 100, "no hit crossed rooms");
    assert!(
        b1.events.iter().all(|(_, e)| matches!(e, Event::Joined { id } if *id == b1.id)),
        "beta saw only its own join: {:?}",
        b1.events
    );
    assert!(a1.replica.entities.values().all(|e| e.name != "b1"), "alpha never saw b1");
    assert!(b1.replica.entities.values().all(|e| e.name == "b1"), "beta never saw alpha");
    let listed = rooms(app.addr).await;
    assert_eq!(listed, vec![("alpha".into(), 2, 100), ("beta".into(), 1, 100)]);
    app.shutdown().await;
}

async fn quick_play_fills_a_room_then_opens_another(t: Transport) {
    let app = TestApp::spawn_on(t, Config { max_players_per_room: 2, ..TestApp::arena() }).await;
    let p1 = Player::join(&app, "p1").await;
    let p2 = Player::join(&app, "p2").await;
    let p3 = Player::join(&app, "p3").await;
    assert_eq!(p1.welcome.room, p2.welcome.room, "the second joins the first's room");
    assert_ne!(p3.welcome.room, p1.welcome.room, "a full room: a new one opens");
    // A named room is not for quick play: the next quick join fills p3's room.
    let _named = Player::join_room(&app, "n", Some("private"), None).await;
    let p4 = Player::join(&app, "p4").await;
    assert_eq!(p4.welcome.room, p3.welcome.room);
    let listed = rooms(app.addr).await;
    assert_eq!(listed.len(), 3, "{listed:?}");
    app.shutdown().await;
}

async fn a_full_room_an_invalid_name_and_too_many_rooms_are_refused(t: Transport) {
    let app =
        TestApp::spawn_on(t, Config { max_players_per_room: 1, max_rooms: 2, ..TestApp::arena() })
            .await;
    let _a = Player::join_room(&app, "a", Some("duel"), None).await;
    assert_eq!(join_refused(&app, "duel").await, (1013, "room full".into()));
    assert_eq!(join_refused(&app, "no spaces!").await, (1008, "invalid room name".into()));
    let _b = Player::join_room(&app, "b", Some("other"), None).await;
    assert_eq!(join_refused(&app, "third").await, (1013, "no room available".into()));
    let ready = http_get(app.addr, "/readyz").await;
    assert!(ready.starts_with("HTTP/1.1 503"), "every seat taken and no room to open: {ready}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_room_closes_after_the_linger_and_its_id_is_reused() {
    let app = TestApp::spawn(Config { room_linger_ms: 200, ..TestApp::arena() }).await;
    assert!(http_get(app.addr, "/readyz").await.starts_with("HTTP/1.1 200"));
    let mut p = Player::join_room(&app, "solo", Some("lonely"), None).await;
    sync(&mut p).await;
    let first_tick = p.replica.tick;
    assert_eq!(rooms(app.addr).await, vec![("lonely".into(), 1, 100)]);
    drop(p);
    eventually("the empty room to close", || async { rooms(app.addr).await.is_empty() }).await;
    let again = Player::join_room(&app, "solo", Some("lonely"), None).await;
    assert_eq!(again.welcome.room, "lonely");
    assert_eq!(again.id, 1, "a new room: ids start again");
    assert!(again.welcome.keyframe.tick < first_tick + 30, "a new room's clock");
    app.shutdown().await;
}

async fn resume_returns_the_player_to_its_own_room(t: Transport) {
    let app = TestApp::spawn_on(t, with_grace(10_000)).await;
    let mut a = Player::join_room(&app, "a", Some("alpha"), None).await;
    let _b = Player::join_room(&app, "b", Some("beta"), None).await;
    let (id, token) = (a.id, a.welcome.token);
    sync(&mut a).await;
    drop(a);
    // Asking for another room (or quick play) does not matter: the token wins.
    let back = Player::join_room(&app, "a", Some("beta"), Some(token)).await;
    assert!(back.welcome.resumed);
    assert_eq!((back.welcome.room.as_str(), back.id), ("alpha", id));
    let quick = Player::join_room(&app, "a", None, Some(token)).await;
    assert_eq!((quick.welcome.room.as_str(), quick.id), ("alpha", id), "taken over, same room");
    app.shutdown().await;
}

async fn a_room_that_panics_closes_its_own_clients_only(t: Transport) {
    let hooks = Hooks {
        before_tick: Some(std::sync::Arc::new(|room: &str, tick: u64| {
            if room == "doomed" && tick > 20 {
                panic!("test hook: room {room} fails at tick {tick}");
            }
        })),
    };
    let app = TestApp::spawn_on_with(t, TestApp::arena(), hooks).await;
    let mut safe = Player::join_room(&app, "safe", Some("safe"), None).await;
    let mut doomed = Player::join_room(&app, "d", Some("doomed"), None).await;
    assert_eq!(close_code(&mut doomed.conn).await, (1011, "room failed".into()));
    eventually("the failed room to be gone", || async {
        rooms(app.addr).await.iter().all(|(id, ..)| id != "doomed")
    })
    .await;
    // The other room ticks on: inputs are still acknowledged.
    for _ in 0..3 {
        sync(&mut safe).await;
    }
    assert!(http_get(app.addr, "/healthz").await.starts_with("HTTP/1.1 200"));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_room_fails_health_and_delays_no_other_room() {
    let (hold, hooks) = common::StuckRoom::new("stuck", 10, WAIT);
    let config = Config { sim_threads: Some(2), ..TestApp::arena() };
    let app = TestApp::spawn_with(config, hooks, false).await;
    let mut fine = Player::join_room(&app, "f", Some("fine"), None).await;
    let _stuck = Player::join_room(&app, "s", Some("stuck"), None).await;
    eventually("/healthz to report the stuck room", || async {
        let h = http_get(app.addr, "/healthz").await;
        h.starts_with("HTTP/1.1 503") && h.contains("stuck")
    })
    .await;
    // Meanwhile the other room's ticks go on, each acknowledged within a few ticks.
    for _ in 0..10 {
        let seq = fine.input(1.0, 0.0, false).await;
        let sent = tokio::time::Instant::now();
        fine.acked(seq).await;
        assert!(sent.elapsed() < Duration::from_millis(500), "the fine room was held up");
    }
    hold.release();
    eventually("/healthz to recover", || async {
        http_get(app.addr, "/healthz").await.starts_with("HTTP/1.1 200")
    })
    .await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_every_room() {
    let app = TestApp::spawn(TestApp::arena()).await;
    let mut a = Player::join_room(&app, "a", Some("one"), None).await;
    let mut b = Player::join_room(&app, "b", Some("two"), None).await;
    let mut c = Player::join(&app, "c").await;
    let TestApp { mut stop, server, .. } = app;
    let _ = stop.take().map(|s| s.send(()));
    for p in [&mut a, &mut b, &mut c] {
        assert_eq!(close_code(&mut p.conn).await.0, 1001);
    }
    tokio::time::timeout(WAIT, server).await.expect("stopped").expect("no panic").expect("Ok");
}

// ---- HTTP ----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_keeps_connections_alive_and_revalidates_with_etags() {
    let app = TestApp::spawn(TestApp::arena()).await;
    // The embedded client (no --web-root): two requests on one connection.
    let mut tcp = TcpStream::connect(app.addr).await.expect("connect");
    let mut buf = vec![0u8; 1 << 20];
    let mut read_response = async |tcp: &mut TcpStream| -> String {
        let mut got = Vec::new();
        loop {
            let n = tokio::time::timeout(WAIT, tcp.read(&mut buf))
                .await
                .expect("answer")
                .expect("read");
            assert!(n > 0, "connection closed: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(|v| v.trim().parse().expect("length"))
                    })
                    .unwrap_or(0);
                if body.len() >= len {
                    return text;
                }
            }
        }
    };
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
    let first = read_response(&mut tcp).await;
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(
        first.contains("<html") || first.contains("<!doctype") || first.contains("<!DOCTYPE"),
        "the page"
    );
    let etag = first
        .lines()
        .find_map(|l| l.to_ascii_lowercase().starts_with("etag:").then(|| l[5..].trim().to_owned()))
        .expect("an ETag");
    assert!(first.to_ascii_lowercase().contains("cache-control: no-cache"), "{first}");
    tcp.write_all(format!("GET / HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\n\r\n").as_bytes())
        .await
        .expect("write on the same connection");
    let second = read_response(&mut tcp).await;
    assert!(second.starts_with("HTTP/1.1 304"), "{second}");
    // A request body is read and the connection goes on.
    tcp.write_all(b"POST /rooms HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        .await
        .expect("write");
    let third = read_response(&mut tcp).await;
    assert!(third.starts_with("HTTP/1.1 405"), "{third}");
    tcp.write_all(b"GET /rooms HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
    let fourth = read_response(&mut tcp).await;
    assert!(fourth.starts_with("HTTP/1.1 200") && fourth.ends_with("[]"), "{fourth}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_have_a_port_of_their_own() {
    let app = TestApp::spawn_with(TestApp::arena(), Hooks::default(), true).await;
    let mut p = Player::join_room(&app, "m", Some("metered"), None).await;
    sync(&mut p).await;
    let metrics_addr = app.metrics_addr.expect("a metrics port");
    let m = http_get(metrics_addr, "/metrics").await;
    assert!(m.starts_with("HTTP/1.1 200"), "{m}");
    for line in [
        "skirmish_ticks_total{room=\"metered\"}",
        "skirmish_tick_duration_seconds_bucket{le=\"0.001\",room=\"metered\"}",
        "skirmish_input_delay_seconds_count{room=\"metered\"}",
        "skirmish_players{room=\"metered\"} 1",
        "skirmish_frame_delivery_seconds_count",
        "skirmish_connections 1",
        "skirmish_rooms 1",
    ] {
        assert!(m.contains(line), "missing {line}:\n{m}");
    }
    assert!(
        http_get(app.addr, "/metrics").await.starts_with("HTTP/1.1 404"),
        "not on the game port"
    );
    assert!(http_get(metrics_addr, "/").await.starts_with("HTTP/1.1 404"), "only metrics there");
    app.shutdown().await;
}

// ---- Hostile clients ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_never_joins_is_closed_after_the_join_timeout() {
    let app = TestApp::spawn(Config { join_timeout_ms: 300, ..TestApp::arena() }).await;
    let mut ws = connect(app.addr).await;
    let started = std::time::Instant::now();
    // Answering pings (tungstenite does while reading) does not count as joining.
    let (code, reason) = close_code(&mut ws).await;
    assert_eq!((code, reason.as_str()), (1008, "no join within the join timeout"));
    assert!(started.elapsed() >= Duration::from_millis(250), "not before the timeout");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_ping_frames_is_a_flood() {
    let app = TestApp::spawn(TestApp::arena()).await;
    let mut ok = Player::join(&app, "ok").await;
    let mut flood = Player::join(&app, "pings").await;
    for _ in 0..2_000 {
        if flood.ws().send(Message::Ping(bytes::Bytes::from_static(b"x"))).await.is_err() {
            break;
        }
    }
    let (code, reason) = close_code(&mut flood.conn).await;
    assert_eq!((code, reason.as_str()), (1008, "input flood"));
    sync(&mut ok).await;
    app.shutdown().await;
}

/// Two inputs per tick, sustained: the player never moves faster than the rules allow while
/// connected, and the connection is closed as a flood.
async fn two_inputs_per_tick_give_no_speed_and_are_a_flood(t: Transport) {
    let app = TestApp::spawn_on(t, TestApp::arena()).await;
    let mut watcher = Player::join(&app, "watch").await;
    let mut cheat = Player::join(&app, "cheat").await;
    let id = cheat.id;
    let start_tick = cheat.replica.tick;
    let mut interval = tokio::time::interval(Duration::from_millis(33));
    let deadline = tokio::time::Instant::now() + WAIT;
    let close = loop {
        assert!(tokio::time::Instant::now() < deadline, "never closed as a flood");
        tokio::select! {
            _ = interval.tick() => {
                for _ in 0..2 {
                    cheat.seq += 1;
                    let input = Input { seq: cheat.seq, dir: Direction::new(1.0, 0.0).expect("dir"), attack: false, seen: 0, shown: 0 };
                    let _ = cheat.conn.send(ClientMsg::Input(input).encode()).await;
                }
            }
            got = cheat.conn.recv() => match got {
                Some(Got::Closed(code, reason)) => break (code, reason),
                Some(Got::Msg(ServerMsg::Frame(f))) => {
                    cheat.replica.apply(&f).expect("applies");
                    let me = &cheat.replica.entities[&id];
                    let ticks = (f.tick - start_tick) as i32;
                    assert!(me.x <= (ticks + 1) * 27, "moved {} subunits in {ticks} ticks", me.x);
                }
                Some(Got::Msg(_)) => {}
                None => panic!("connection ended without a close"),
            },
        }
    };
    assert_eq!(close, (1008, "input flood".to_owned()));
    sync(&mut watcher).await;
    app.shutdown().await;
}

/// Bytes of a WebSocket frame a client sends, masked with a zero key unless `unmasked`.
fn client_frame(first_byte: u8, payload: &[u8], unmasked: bool) -> Vec<u8> {
    let mut f = vec![first_byte];
    if unmasked {
        f.push(payload.len() as u8);
    } else {
        f.push(0x80 | payload.len() as u8);
        f.extend_from_slice(&[0, 0, 0, 0]);
    }
    f.extend_from_slice(payload);
    f
}

/// Upgrades a raw TCP connection and returns it (the 101 head read).
async fn raw_upgrade(addr: SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.expect("tcp connect");
    tcp.write_all(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .expect("write");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let n =
            tokio::time::timeout(WAIT, tcp.read(&mut byte)).await.expect("answer").expect("read");
        assert_eq!(n, 1, "closed during the handshake");
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    tcp
}

/// The close code in the first close frame the server sends on a raw connection.
async fn raw_close_code(tcp: &mut TcpStream) -> u16 {
    let mut buf = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut chunk = [0u8; 256];
        let n = tokio::time::timeout_at(deadline, tcp.read(&mut chunk))
            .await
            .expect("a close frame within 10 s")
            .expect("read");
        assert!(n > 0, "closed without a close frame: {buf:02x?}");
        buf.extend_from_slice(&chunk[..n]);
        // Server frames are unmasked: opcode byte, length byte (< 126 here), payload.
        let mut at = 0;
        while at + 2 <= buf.len() {
            let len = usize::from(buf[at + 1] & 0x7f);
            if at + 2 + len > buf.len() {
                break;
            }
            if buf[at] & 0x0f == 0x8 && len >= 2 {
                return u16::from_be_bytes([buf[at + 2], buf[at + 3]]);
            }
            at += 2 + len;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_protocol_violations_close_with_1002() {
    let app = TestApp::spawn(TestApp::arena()).await;
    for (what, frame) in [
        ("an unmasked client frame", client_frame(0x82, &[0x90], true)),
        ("reserved bits set", client_frame(0xC2, &[0x90], false)),
        ("an unknown opcode", client_frame(0x83, &[0x90], false)),
        ("a fragmented ping", client_frame(0x09, b"x", false)),
    ] {
        let mut tcp = raw_upgrade(app.addr).await;
        tcp.write_all(&frame).await.expect("write");
        assert_eq!(raw_close_code(&mut tcp).await, 1002, "{what}");
    }
    app.shutdown().await;
}

/// A connection that broke a reading rule (here a message over the size limit) ends
/// cleanly: closed with its code, and its task finishes (the open-connections gauge goes
/// back to zero) instead of reading on past the error (which tripped a debug assertion in
/// tungstenite and left the task to unwind without ending the connection).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_closed_for_a_read_error_ends_cleanly() {
    let app = TestApp::spawn(TestApp::arena()).await;
    for (what, msg) in [("oversized", vec![0; 4096]), ("text", Vec::new())] {
        let mut bad = Player::join(&app, "bad").await;
        if msg.is_empty() {
            assert!(bad.ws().send(Message::Text("hi".into())).await.is_ok(), "sent");
        } else {
            bad.conn.send(msg).await;
        }
        let (code, _) = close_code(&mut bad.conn).await;
        assert_eq!(code, if what == "text" { 1003 } else { 1009 }, "{what}");
        eventually(&format!("the {what} connection's task to end"), || async {
            let m = http_get(app.addr, "/metrics").await;
            m.lines().any(|l| l == "skirmish_connections 0")
        })
        .await;
    }
    app.shutdown().await;
}

/// A message in more than 16 frames closes with 1008: empty fragments never add up to the size
/// limit nor make a message the flood limit counts, so without a cap they would cost the
/// server work for free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_in_too_many_frames_closes_with_1008() {
    let app = TestApp::spawn(TestApp::arena()).await;
    let mut tcp = raw_upgrade(app.addr).await;
    let mut bytes = client_frame(0x02, &[], false);
    for _ in 0..100 {
        bytes.extend(client_frame(0x00, &[], false));
    }
    tcp.write_all(&bytes).await.expect("write");
    assert_eq!(raw_close_code(&mut tcp).await, 1008);
    app.shutdown().await;
}

/// A client's WebSocket ping is answered with a pong carrying its payload (the server reads
/// its clients' frames itself and writes the pong through the connection's sender).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_ping_is_answered_with_its_pong() {
    let app = TestApp::spawn(TestApp::arena()).await;
    let mut tcp = raw_upgrade(app.addr).await;
    tcp.write_all(&client_frame(0x89, b"hi", false)).await.expect("write");
    let mut buf = [0u8; 4];
    tokio::time::timeout(WAIT, tcp.read_exact(&mut buf))
        .await
        .expect("a pong within 10 s")
        .expect("read");
    assert_eq!(&buf[..4], &[0x8A, 0x02, b'h', b'i'], "an unmasked pong with the ping's payload");
    app.shutdown().await;
}

/// Shutdown reaches a WebSocket that never joined (no room knows it): it is closed with 1001,
/// and the server does not wait out its join timeout to stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_a_websocket_that_has_not_joined_with_going_away() {
    let config = Config { join_timeout_ms: 600_000, ..TestApp::arena() };
    let app = TestApp::spawn(config).await;
    let mut tcp = raw_upgrade(app.addr).await;
    let TestApp { mut stop, server, .. } = app;
    let _ = stop.take().map(|s| s.send(()));
    assert_eq!(raw_close_code(&mut tcp).await, 1001);
    tokio::time::timeout(WAIT, server).await.expect("stopped").expect("no panic").expect("Ok");
}

/// A player that stops reading (a tiny receive buffer it never drains) while still sending,
/// with the default send limits: its unsent backlog stays small, its queue fills, and it is
/// closed at the stall limit instead of hiding seconds of frames in a kernel buffer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_stops_is_closed_with_the_default_send_limits() {
    let config = Config { stall_timeout_ms: 500, ..TestApp::arena() };
    stopped_reader_is_dropped(config).await;
}

/// The write deadline alone: frames to a reader that stopped are skipped (that rule is
/// given a minute here), but its pings must not be lost, so they wait in its backlog; a
/// backlog the socket can't take for `--write-timeout-ms` ends the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_that_cannot_be_written_closes_at_the_write_deadline() {
    let config = Config {
        stall_timeout_ms: 60_000,
        ping_interval_ms: 100,
        write_timeout_ms: 300,
        ..TestApp::arena()
    };
    stopped_reader_is_dropped(config).await;
}

/// A client on a tiny receive buffer joins and never reads, while 20 players move and
/// attack every tick; it keeps sending inputs (never idle). A watcher must see it leave
/// within [`WAIT`], while the client itself would hold on for twice that.
async fn stopped_reader_is_dropped(config: Config) {
    // Nobody dies (0 damage), so every tick is full of attacks: a steady stream of frames.
    let app = TestApp::spawn(Config { attack_damage: 0, ..config }).await;
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(1024).expect("rcvbuf");
    let tcp = socket.connect(app.addr).await.expect("connect");
    let (mut stalled, _) = tokio_tungstenite::client_async(format!("ws://{}/ws", app.addr), tcp)
        .await
        .expect("handshake");
    let join = ClientMsg::Join {
        protocol_version: PROTOCOL_VERSION,
        name: Some("stalled".into()),
        resume: None,
        room: None,
        seat: None,
    };
    stalled.send(Message::Binary(join.encode().into())).await.expect("join");
    let ServerMsg::Welcome(w) = next_msg(&mut stalled, "welcome").await else {
        panic!("no welcome")
    };
    let stalled_id = w.player_id;
    let mut watcher = Player::join(&app, "watcher").await;
    // Traffic: 20 players moving and attacking every tick.
    // The traffic and the stalled client outlive the watcher's wait: the player can only
    // leave in time because the server dropped it, not because its client gave up.
    let until = tokio::time::Instant::now() + 2 * WAIT;
    let mut bots = Vec::new();
    for i in 0..20 {
        let mut p = Player::join(&app, &format!("b{i}")).await;
        bots.push(tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_millis(33));
            while tokio::time::Instant::now() < until {
                tokio::select! {
                    _ = interval.tick() => {
                        let x = if p.seq.is_multiple_of(2) { 1.0 } else { -1.0 };
                        p.input(x, 0.0, true).await;
                    }
                    msg = p.ws().next() => if !matches!(msg, Some(Ok(_))) { break },
                }
            }
        }));
    }
    // The stalled client keeps sending (so it is never idle) and never reads.
    let pacer = tokio::spawn(async move {
        let mut seq = 0;
        let mut interval = tokio::time::interval(Duration::from_millis(100));
        while tokio::time::Instant::now() < until {
            interval.tick().await;
            seq += 1;
            let input = Input { seq, dir: Direction::default(), attack: false, seen: 0, shown: 0 };
            let sent = tokio::time::timeout(
                Duration::from_millis(100),
                stalled.send(Message::Binary(ClientMsg::Input(input).encode().into())),
            )
            .await;
            if matches!(sent, Ok(Err(_))) {
                break;
            }
        }
    });
    // With no resume grace, its player leaves when the server drops the connection.
    watcher
        .until("the stalled player to be dropped", |p| p.saw(Event::Left { id: stalled_id }))
        .await;
    pacer.abort();
    for b in bots {
        b.abort();
    }
    app.shutdown().await;
}

/// What one reporting reader saw: the most stale frame it read after the warm-up (in ticks
/// behind the server's clock), keyframes and frames.
#[derive(Debug, Default)]
struct ReadStats {
    stalest: u64,
    keyframes: usize,
    frames: usize,
}

/// Plays for `run`, reading one message at a time and pausing `read_pause` after each (the
/// reader's speed), moving back and forth so every tick has news, and reporting the newest
/// tick received in every input, as the web client does.
async fn report_and_read(mut p: Player, run: Duration, read_pause: Duration) -> ReadStats {
    let start = tokio::time::Instant::now();
    let (tick0, rate) = (p.replica.tick, u64::from(p.welcome.tick_rate));
    let warm_up = run / 2;
    let mut stats = ReadStats::default();
    while start.elapsed() < run {
        let msg = next_msg(&mut p.conn, "the next frame").await;
        let now = tick0 + (start.elapsed().as_millis() as u64 * rate / 1000);
        let tick = match msg {
            ServerMsg::Frame(f) => {
                p.replica.apply(&f).expect("frame applies");
                stats.frames += 1;
                f.tick
            }
            ServerMsg::Keyframe(k) => {
                p.replica = Replica::from_keyframe(&k);
                stats.keyframes += 1;
                k.tick
            }
            ServerMsg::Welcome(_) | ServerMsg::Pong { .. } => continue,
        };
        if start.elapsed() > warm_up {
            stats.stalest = stats.stalest.max(now.saturating_sub(tick));
        }
        p.seq += 1;
        let x = if p.seq.is_multiple_of(2) { -1.0 } else { 1.0 };
        let input = Input {
            seq: p.seq,
            dir: Direction::new(x, 0.0).expect("dir"),
            attack: false,
            seen: p.replica.tick,
            shown: 0,
        };
        assert!(p.conn.send(ClientMsg::Input(input).encode()).await, "sent");
        if !read_pause.is_zero() {
            // The behaviour under test: a reader at half the stream's rate.
            tokio::time::sleep(read_pause).await;
        }
    }
    stats
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_at_half_the_stream_rate_reads_recent_state() {
    let app = TestApp::spawn(TestApp::arena()).await;
    let steady = Player::join(&app, "steady").await;
    let slow = Player::join(&app, "slow").await;
    let run = Duration::from_secs(6);
    let steady = tokio::spawn(report_and_read(steady, run, Duration::ZERO));
    let slow = tokio::spawn(report_and_read(slow, run, Duration::from_millis(66)));
    let slow = slow.await.expect("slow reader");
    let steady = steady.await.expect("steady reader");
    println!("slow: {slow:?}\nsteady: {steady:?}");
    // Reading every other frame, it would be 45 ticks behind by 3 s and 90 by 6 s; reporting
    // what it received, it is held and gets keyframes, reading state at most a few ticks old.
    assert!(slow.keyframes >= 3, "the slow reader got keyframes: {slow:?}");
    assert!(slow.frames > 0, "the slow reader read frames between keyframes: {slow:?}");
    assert!(slow.stalest <= 20, "the slow reader read stale frames: {slow:?}");
    // The reader keeping up beside it is never held: no keyframe, nothing stale.
    assert_eq!(steady.keyframes, 0, "steady reader: {steady:?}");
    assert!(steady.stalest <= 5, "steady reader: {steady:?}");
    // Operators see it: frames held back from a slow reader are counted.
    let metrics = http_get(app.addr, "/metrics").await;
    let held = metrics
        .lines()
        .find_map(|l| l.strip_prefix("skirmish_frames_held_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .expect("skirmish_frames_held_total in /metrics");
    assert!(held > 0.0, "frames held: {held}");
    app.shutdown().await;
}

async fn a_client_that_leaves_is_gone_within_a_second_and_cannot_be_resumed(t: Transport) {
    let app = TestApp::spawn_on(t, with_grace(30_000)).await;
    let mut a = Player::join(&app, "a").await;
    let mut b = Player::join(&app, "b").await;
    sync(&mut a).await;
    let (id, token) = (b.id, b.welcome.token);
    let left_at = tokio::time::Instant::now();
    assert!(b.conn.send(ClientMsg::Leave.encode()).await, "leave accepted");
    assert_eq!(close_code(&mut b.conn).await, (1000, "bye".into()));
    // Within the 30 s grace window, yet everyone is told after the short leave grace (0.5 s).
    a.until("b's leave", |p| p.saw(Event::Left { id })).await;
    let took = left_at.elapsed();
    assert!(took < Duration::from_secs(1), "left seen after {took:?}");
    assert!(took >= Duration::from_millis(450), "not before the leave grace: {took:?}");
    let again = Player::join_with(&app, "b", Some(token)).await;
    assert!(!again.welcome.resumed, "a player that left for good is not resumed");
    assert_ne!(again.id, id);
    app.shutdown().await;
}

/// A page reload: the old page sends leave as it goes, the new one joins with the token at
/// once. It gets its player back; nobody saw it leave.
async fn a_reload_right_after_a_leave_resumes_the_player(t: Transport) {
    let app = TestApp::spawn_on(t, with_grace(30_000)).await;
    let mut a = Player::join(&app, "a").await;
    let mut b = Player::join(&app, "b").await;
    sync(&mut b).await;
    let (id, token) = (b.id, b.welcome.token);
    assert!(b.conn.send(ClientMsg::Leave.encode()).await, "leave accepted");
    assert_eq!(close_code(&mut b.conn).await, (1000, "bye".into()));
    let mut again = Player::join_with(&app, "b", Some(token)).await;
    assert!(again.welcome.resumed, "the reloaded page resumed its player");
    assert_eq!(again.id, id);
    sync(&mut again).await;
    // Well past the leave grace: still there, and nobody was told it left.
    for _ in 0..30 {
        sync(&mut a).await;
    }
    assert!(!a.saw(Event::Left { id }), "nobody saw the reloading player leave");
    assert!(a.replica.entities.contains_key(&id));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_does_not_wait_for_unfinished_request_heads() {
    let app = TestApp::spawn(TestApp::arena()).await;
    let mut half = TcpStream::connect(app.addr).await.expect("connect");
    half.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.expect("write");
    let mut idle = TcpStream::connect(app.addr).await.expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(WAIT, idle.read(&mut buf)).await.expect("answer").expect("read");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // One request head half sent, one kept-alive idle connection: neither holds up the exit.
    let started = std::time::Instant::now();
    app.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(1), "exit took {:?}", started.elapsed());
    drop((half, idle));
}

/// DNS rebinding: a page from `evil.example`, which resolves to this loopback server, sends a
/// matching Origin and Host. The Host is not one of the bound address's names: refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_from_a_rebound_name_cannot_open_a_websocket() {
    let app = TestApp::spawn(TestApp::arena()).await;
    let port = app.addr.port();
    let upgrade = |host: &str| {
        format!(
            "GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Origin: http://{host}:{port}\r\n\r\n"
        )
    };
    let answer = raw_request(app.addr, upgrade("evil.example").as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("host not allowed"), "{answer}");
    // The same from localhost is fine (read only the head: the upgrade stays open).
    let mut tcp = TcpStream::connect(app.addr).await.expect("connect");
    tcp.write_all(upgrade("localhost").as_bytes()).await.expect("write");
    let mut buf = [0u8; 12];
    tokio::time::timeout(WAIT, tcp.read_exact(&mut buf)).await.expect("answer").expect("read");
    assert_eq!(&buf, b"HTTP/1.1 101");
    app.shutdown().await;
}

/// The attack: join, drop, join again, one connection at a time. Each dropped player waits
/// 30 s for a resume; before, 40 of them locked a room. Now waiting players hold at most a
/// quarter of a full room: new players take the seats of those that waited longest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_players_waiting_to_be_resumed_cannot_lock_a_room() {
    let app = TestApp::spawn(Config { max_players_per_room: 4, ..with_grace(30_000) }).await;
    for i in 0..12 {
        let p = Player::join_room(&app, &format!("ghost{i}"), Some("arena"), None).await;
        drop(p);
    }
    // Every seat has been held by a waiting player many times over; an honest player still
    // gets in, and so does the next.
    let mut honest = Player::join_room(&app, "honest", Some("arena"), None).await;
    sync(&mut honest).await;
    let _second = Player::join_room(&app, "second", Some("arena"), None).await;
    app.shutdown().await;
}

async fn joins_from_one_address_are_rate_limited(t: Transport) {
    let config = Config {
        cap_loopback: true,
        joins_per_ip_per_sec: 0.5,
        max_connections_per_ip: 100,
        ..TestApp::arena()
    };
    let app = TestApp::spawn_on(t, config).await;
    let mut players = Vec::new();
    for i in 0..10 {
        players.push(Player::join(&app, &format!("p{i}")).await); // the burst
    }
    assert_eq!(join_refused_quick(&app).await, (1013, "too many joins from your address".into()));
    sync(&mut players[0]).await;
    app.shutdown().await;
}

/// A quick-play join that is expected to be refused.
async fn join_refused_quick(app: &TestApp) -> (u16, String) {
    let join = ClientMsg::Join {
        protocol_version: PROTOCOL_VERSION,
        name: None,
        resume: None,
        room: None,
        seat: None,
    };
    let mut conn = Conn::open(app.addr, app.transport, join.encode()).await;
    close_code(&mut conn).await
}

/// Behind a reverse proxy every connection comes from the proxy. With `--trusted-proxies`,
/// the per-address cap counts the address the proxy forwards; anyone else's header is
/// ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_caps_count_the_forwarded_address() {
    let config = Config {
        cap_loopback: true,
        max_connections_per_ip: 2,
        trusted_proxies: vec!["127.0.0.1".into()],
        ..TestApp::arena()
    };
    let app = TestApp::spawn(config).await;
    let upgrade = |client: &str| {
        format!(
            "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             X-Forwarded-For: {client}\r\n\r\n"
        )
    };
    let open = |client: &'static str| {
        let req = upgrade(client);
        async move {
            let mut tcp = TcpStream::connect(app.addr).await.expect("connect");
            tcp.write_all(req.as_bytes()).await.expect("write");
            let mut buf = [0u8; 12];
            tokio::time::timeout(WAIT, tcp.read_exact(&mut buf))
                .await
                .expect("answer")
                .expect("read");
            (tcp, String::from_utf8_lossy(&buf).into_owned())
        }
    };
    let (_a1, s1) = open("203.0.113.7").await;
    let (_a2, s2) = open("203.0.113.7").await;
    let (_a3, s3) = open("203.0.113.7").await;
    assert_eq!((s1.as_str(), s2.as_str()), ("HTTP/1.1 101", "HTTP/1.1 101"));
    assert_eq!(s3, "HTTP/1.1 503", "a third connection from the same forwarded address");
    let (_b1, other) = open("198.51.100.1").await;
    assert_eq!(other, "HTTP/1.1 101", "another client behind the same proxy");
    app.shutdown().await;
}

/// Slow downloads: clients that request a big file and never read it. Each is dropped when
/// its writes have been blocked for the write timeout, so they can't hold the server's
/// connection slots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_nobody_reads_is_cut_off_at_the_write_deadline() {
    let web_root = std::env::temp_dir().join(format!("skirmish-big-{}", std::process::id()));
    std::fs::create_dir_all(&web_root).expect("temp dir");
    std::fs::write(web_root.join("big.bin"), vec![7u8; 8 << 20]).expect("write file");
    let config = Config {
        web_root: Some(web_root.clone()),
        max_connections: 2,
        write_timeout_ms: 300,
        ..TestApp::arena()
    };
    let app = TestApp::spawn(config).await;
    let mut slow = Vec::new();
    for _ in 0..2 {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("rcvbuf");
        let mut tcp = socket.connect(app.addr).await.expect("connect");
        tcp.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
        slow.push(tcp);
    }
    // Both slots are held until the deadline passes; then the server serves again.
    eventually("a slot to be free again", || async {
        raw_request(app.addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .starts_with("HTTP/1.1 200")
    })
    .await;
    drop(slow);
    let _ = std::fs::remove_dir_all(&web_root);
    app.shutdown().await;
}

/// The real `skirmish` binary, started through bash (`prefix` runs first, e.g. a `ulimit`),
/// its log lines collected; killed however the test ends.
struct Binary {
    child: std::process::Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Binary {
    fn start(prefix: &str, args: &str) -> Self {
        use std::io::BufRead;
        let bin = env!("CARGO_BIN_EXE_skirmish");
        let mut child = std::process::Command::new("bash")
            .args(["-c", &format!("{prefix} {bin} {args}")])
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn the server");
        let stderr = child.stderr.take().expect("stderr");
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().expect("lines").push(line);
            }
        });
        Self { child, lines }
    }

    /// The address logged after `marker` (e.g. `serving addr=`), waiting for it up to [`WAIT`].
    fn addr(&self, marker: &str) -> SocketAddr {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let found = self.lines.lock().expect("lines").iter().find_map(|l| {
                l.split(marker).nth(1).and_then(|r| r.split_whitespace().next()?.parse().ok())
            });
            if let Some(addr) = found {
                return addr;
            }
            assert!(std::time::Instant::now() < deadline, "the server never logged {marker:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// How many log lines contain `text`.
    fn lines_with(&self, text: &str) -> usize {
        self.lines.lock().expect("lines").iter().filter(|l| l.contains(text)).count()
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The real binary under `ulimit -n 64`: with more clients than descriptors it keeps
/// running, tells the clients it can't take that it is out of descriptors (503) instead of
/// leaving them hanging, logs the failing accepts once per interval, and serves again once
/// descriptors are free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_file_descriptors_the_server_backs_off_and_recovers() {
    let server = Binary::start(
        "ulimit -n 64 && exec",
        "--addr 127.0.0.1:0 --handshake-timeout-ms 60000 --log warn,skirmish_server=info",
    );
    let addr = server.addr("serving addr=");
    // 100 connections that send nothing hold descriptors (their handshake timeout is long).
    let mut held = Vec::new();
    for _ in 0..100 {
        held.push(TcpStream::connect(addr).await.expect("the kernel accepts into the backlog"));
    }
    // Some of them are told the server is out of descriptors.
    let mut told = 0;
    for tcp in held.iter_mut().rev().take(40) {
        let mut buf = [0u8; 64];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(200), tcp.read(&mut buf)).await
            && String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 503")
        {
            told += 1;
        }
    }
    assert!(told > 0, "no client was told the server is out of descriptors");
    drop(held);
    eventually("the server to serve again", || async {
        raw_request(addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .starts_with("HTTP/1.1 200")
    })
    .await;
    let warnings = server.lines_with("accepting connections fails");
    assert!((1..=2).contains(&warnings), "{warnings} warnings: once per 10 s expected");
}

/// The binary's `--metrics-addr`: metrics on their own port, not on the game's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_metrics_on_the_metrics_address() {
    let server = Binary::start("exec", "--addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 --log info");
    let (main, metrics) = (server.addr("serving addr="), server.addr("serving metrics addr="));
    let m = http_get(metrics, "/metrics").await;
    assert!(m.starts_with("HTTP/1.1 200") && m.contains("skirmish_connections"), "{m}");
    assert!(http_get(main, "/metrics").await.starts_with("HTTP/1.1 404"), "not on the game port");
}

/// Quick play counts the seats of players waiting beyond their share as free, like a named
/// room does: dropped players don't make quick play open room after room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_play_reuses_seats_held_by_long_waiting_players() {
    let app = TestApp::spawn(Config { max_players_per_room: 4, ..with_grace(30_000) }).await;
    let mut rooms_seen = Vec::new();
    for i in 0..8 {
        let p = Player::join(&app, &format!("ghost{i}")).await;
        rooms_seen.push(p.welcome.room.clone());
        drop(p);
    }
    assert!(
        rooms_seen.iter().all(|r| *r == rooms_seen[0]),
        "quick play spread over {rooms_seen:?}"
    );
    app.shutdown().await;
}

/// Runs each named test over both transports: the same test body, once per transport.
macro_rules! over_both_transports {
    ($($name:ident),* $(,)?) => {
        mod over_websocket {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Transport::WebSocket).await
                }
            )*
        }
        mod over_polling {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Transport::Polling).await
                }
            )*
        }
    };
}

over_both_transports!(
    seats_admit_only_valid_tickets_for_their_room,
    players_see_joins_moves_attacks_kills_and_leaves,
    bad_input_never_hurts_the_server,
    shutdown_closes_every_client_with_going_away,
    resuming_within_the_window_keeps_the_player_and_nobody_sees_a_leave,
    after_the_window_or_with_a_wrong_token_it_is_a_new_player,
    a_token_used_twice_closes_the_older_connection,
    sequence_numbers_going_back_are_dropped_and_absurd_jumps_close,
    a_flood_of_inputs_closes_with_1008_and_others_play_on,
    two_rooms_never_see_each_other,
    with_a_view_radius_players_see_only_their_view,
    quick_play_fills_a_room_then_opens_another,
    a_full_room_an_invalid_name_and_too_many_rooms_are_refused,
    resume_returns_the_player_to_its_own_room,
    a_room_that_panics_closes_its_own_clients_only,
    two_inputs_per_tick_give_no_speed_and_are_a_flood,
    a_client_that_leaves_is_gone_within_a_second_and_cannot_be_resumed,
    a_reload_right_after_a_leave_resumes_the_player,
    joins_from_one_address_are_rate_limited,
);

// ---- Long-polling only: what has no WebSocket counterpart. ----

fn quick_join(name: &str, resume: Option<ResumeToken>) -> Vec<u8> {
    ClientMsg::Join {
        protocol_version: PROTOCOL_VERSION,
        name: Some(name.into()),
        resume,
        room: None,
        seat: None,
    }
    .encode()
}

/// Joins over polling with raw requests: the session id and the welcome.
async fn poll_join(addr: SocketAddr, name: &str) -> (String, Welcome) {
    let mut conn = HttpConn::new(addr);
    let (sid, first) = poll_client::join(&mut conn, &quick_join(name, None)).await.expect("join");
    let msg = ServerMsg::decode(&first.messages[0]).expect("decodes");
    let ServerMsg::Welcome(w) = msg else { panic!("expected the welcome first, got {msg:?}") };
    (sid, w)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_get_answers_the_first_empty_and_an_idle_get_times_out_empty() {
    let app = TestApp::spawn(Config { poll_timeout_ms: 1_500, ..TestApp::arena() }).await;
    let (sid, _) = poll_join(app.addr, "p").await;
    // Nothing happens in a world of one idle player: the GET waits its full timeout.
    let started = tokio::time::Instant::now();
    let mut first = HttpConn::new(app.addr);
    let polled = poll_client::poll(&mut first, &sid).await.expect("answer").expect("200");
    assert_eq!(polled, Polled::default(), "an empty batch");
    assert!(started.elapsed() >= Duration::from_millis(1_500), "not before the timeout");
    // Two GETs at once: the older answers at once, empty; the newer one waits.
    let older = tokio::spawn({
        let sid = sid.clone();
        async move {
            let started = tokio::time::Instant::now();
            let got = poll_client::poll(&mut first, &sid).await.expect("answer").expect("200");
            (got, started.elapsed())
        }
    });
    // The older one is waiting once the server holds it; then the newer comes.
    eventually("the first GET to be held", || async {
        http_get(app.addr, "/metrics").await.lines().any(|l| l == "skirmish_polls_waiting 1")
    })
    .await;
    let mut second = HttpConn::new(app.addr);
    let newer = tokio::spawn({
        let sid = sid.clone();
        async move { poll_client::poll(&mut second, &sid).await.expect("answer").expect("200") }
    });
    let (got, waited) = tokio::time::timeout(WAIT, older).await.expect("answered").expect("ok");
    assert_eq!(got, Polled::default());
    assert!(waited < Duration::from_millis(300), "answered when the newer GET came: {waited:?}");
    let got = tokio::time::timeout(WAIT, newer).await.expect("answered").expect("ok");
    assert_eq!(got, Polled::default(), "the newer one timed out in its turn");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_polling_requests_get_clear_answers_and_cost_nothing() {
    let app = TestApp::spawn(TestApp::arena()).await;
    let mut ok = Player::join(&app, "ok").await;
    let (sid, _) = poll_join(app.addr, "p").await;
    let mut http = HttpConn::new(app.addr);
    let mut ask = async |method: &str, path: &str, body: &[u8]| {
        let res = http.request(method, path, body).await.expect("answer");
        (res.status, res.text())
    };
    let unknown = "00112233445566778899aabbccddeeff";
    assert_eq!(ask("GET", &format!("/poll/{unknown}"), b"").await.0, 404, "unknown session");
    assert_eq!(ask("GET", "/poll/xyz", b"").await.0, 404, "not a session id");
    assert_eq!(ask("GET", &format!("/poll/{}", sid.to_uppercase()), b"").await.0, 404);
    assert_eq!(ask("DELETE", &format!("/poll/{sid}"), b"").await.0, 405);
    assert_eq!(ask("GET", "/poll", b"").await.0, 405, "a join is a POST");
    let (status, text) = ask("POST", &format!("/poll/{sid}"), &[0, 0, 0, 9, 1]).await;
    assert_eq!(
        (status, text.as_str()),
        (400, "not a batch: batch truncated: a record runs past the end of the body\n")
    );
    let (status, _) = ask("POST", &format!("/poll/{sid}"), &[0, 0, 0, 0, 3, 232]).await;
    assert_eq!(status, 400, "a client sends no close record");
    let (status, _) = ask("POST", &format!("/poll/{sid}"), &vec![0u8; 64 * 1024 + 1]).await;
    assert_eq!(status, 413, "a body over 64 KiB");
    let (status, _) = ask("POST", "/poll", &vec![0u8; 64 * 1024 + 1]).await;
    assert_eq!(status, 413, "a join body over 64 KiB");
    let (status, text) = ask("POST", "/poll", &[0xc1]).await;
    assert_eq!(status, 400, "{text}");
    // None of it hurt the session: it still plays.
    let ping = ClientMsg::Ping { client_time: 7 }.encode();
    let (status, _) =
        ask("POST", &format!("/poll/{sid}"), &poll_client::write_batch([ping.as_slice()])).await;
    assert_eq!(status, 204);
    let got =
        poll_client::poll(&mut HttpConn::new(app.addr), &sid).await.expect("answer").expect("200");
    assert_eq!(
        ServerMsg::decode(&got.messages[0]).expect("pong"),
        ServerMsg::Pong { client_time: 7, timing: None }
    );

    // Too many inputs in one batch: the flood rule, as over WebSocket.
    let inputs: Vec<Vec<u8>> = (1..=200u32)
        .map(|seq| {
            ClientMsg::Input(Input {
                seq,
                dir: Direction::default(),
                attack: false,
                seen: 0,
                shown: 0,
            })
            .encode()
        })
        .collect();
    let batch = poll_client::write_batch(inputs.iter().map(Vec::as_slice));
    let (status, text) = ask("POST", &format!("/poll/{sid}"), &batch).await;
    assert_eq!((status, text.as_str()), (400, "session closed: 1008 input flood\n"));
    let got =
        poll_client::poll(&mut HttpConn::new(app.addr), &sid).await.expect("answer").expect("200");
    assert_eq!(got.close, Some((1008, "input flood".into())), "the close reaches the poller");
    // Then the session is gone: 410 with what closed it.
    let (status, text) = ask("GET", &format!("/poll/{sid}"), b"").await;
    assert_eq!((status, text.as_str()), (410, "session closed: 1008 input flood\n"));
    let (status, _) = ask("POST", &format!("/poll/{sid}"), &[]).await;
    assert_eq!(status, 410);
    sync(&mut ok).await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_faster_than_the_rate_is_refused_then_a_flood() {
    let app = TestApp::spawn(TestApp::arena()).await;
    let (sid, _) = poll_join(app.addr, "p").await;
    // GETs at once, each on a connection of its own (each supersedes the one before).
    let gets: Vec<_> = (0..200)
        .map(|_| {
            let (addr, sid) = (app.addr, sid.clone());
            tokio::spawn(async move {
                let mut conn = HttpConn::new(addr);
                conn.request("GET", &format!("/poll/{sid}"), b"").await.expect("answer")
            })
        })
        .collect();
    let mut answers = Vec::new();
    let mut close = None;
    for get in gets {
        let res = tokio::time::timeout(WAIT, get).await.expect("answered").expect("no panic");
        if res.status == 200
            && let Some(c) = poll_client::read_batch(&res.body).expect("batch").close
        {
            close = Some(c);
        }
        answers.push(res.status);
    }
    assert!(answers.contains(&429), "over the rate: 429 ({answers:?})");
    assert_eq!(close, Some((1008, "poll flood".into())), "sustained: a flood ({answers:?})");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_sessions_count_against_the_connection_caps() {
    let app = TestApp::spawn(Config {
        max_connections_per_ip: 3,
        cap_loopback: true,
        ..TestApp::arena()
    })
    .await;
    // One HTTP connection carries both joins and stays open: 1 + 2 sessions = 3.
    let mut http = HttpConn::new(app.addr);
    let (_a, _) = poll_client::join(&mut http, &quick_join("a", None)).await.expect("join a");
    let (_b, _) = poll_client::join(&mut http, &quick_join("b", None)).await.expect("join b");
    let res = http.request("POST", "/poll", &quick_join("c", None)).await.expect("answer");
    assert_eq!(
        (res.status, res.text().as_str()),
        (503, "too many connections from your address\n")
    );
    app.shutdown().await;

    let app = TestApp::spawn(Config { max_connections: 3, ..TestApp::arena() }).await;
    let mut http = HttpConn::new(app.addr);
    let (_a, _) = poll_client::join(&mut http, &quick_join("a", None)).await.expect("join a");
    let (_b, _) = poll_client::join(&mut http, &quick_join("b", None)).await.expect("join b");
    let res = http.request("POST", "/poll", &quick_join("c", None)).await.expect("answer");
    assert_eq!((res.status, res.text().as_str()), (503, "server at capacity\n"));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poller_back_late_gets_a_keyframe_not_a_backlog() {
    let app = TestApp::spawn(TestApp::arena()).await;
    let (sid, welcome) = poll_join(app.addr, "late").await;
    let mut mover = Player::join(&app, "mover").await;
    // The mover moves every tick for 40 ticks while the poller does not poll.
    for _ in 0..40 {
        let seq = mover.input(0.0, 1.0, false).await;
        mover.acked(seq).await;
    }
    let got =
        poll_client::poll(&mut HttpConn::new(app.addr), &sid).await.expect("answer").expect("200");
    assert!(got.messages.len() <= 16, "at most the queue's 16 messages: {}", got.messages.len());
    let first = ServerMsg::decode(&got.messages[0]).expect("decodes");
    let ServerMsg::Keyframe(k) = first else { panic!("expected a keyframe first, got {first:?}") };
    assert!(k.tick > welcome.keyframe.tick + 16, "fresh state: tick {}", k.tick);
    // Applying the rest on top of the keyframe gives the mover where the server has it.
    let mut replica = Replica::from_keyframe(&k);
    for m in &got.messages[1..] {
        if let ServerMsg::Frame(f) = ServerMsg::decode(m).expect("decodes") {
            replica.apply(&f).expect("applies");
        }
    }
    assert!(replica.entities[&mover.id].y <= mover.replica.entities[&mover.id].y);
    assert!(replica.entities[&mover.id].y >= 27 * 24, "not an old state");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_poller_is_a_lost_connection_and_resumes_over_either_transport() {
    let app = TestApp::spawn(Config { idle_timeout_ms: 300, ..with_grace(30_000) }).await;
    let mut watcher = Player::join(&app, "watcher").await;
    // A WebSocket player comes back over polling...
    let mut p = Player::join(&app, "p").await;
    let (id, token) = (p.id, p.welcome.token);
    sync(&mut p).await;
    p.conn.disconnect().await;
    let mut back = Player::join_via(&app, Transport::Polling, "p", Some(token)).await;
    assert!(back.welcome.resumed, "a WebSocket player resumed over polling");
    assert_eq!(back.id, id);
    sync(&mut back).await;
    // ...stops polling: past the idle timeout its session ends as a lost connection...
    back.conn.disconnect().await;
    eventually("the silent poller's session to end", || async {
        let m = http_get(app.addr, "/metrics").await;
        m.lines().any(|l| l == "skirmish_connections 1")
    })
    .await;
    // ...whose player waits to be resumed: nobody sees it leave...
    sync(&mut watcher).await;
    assert!(!watcher.saw(Event::Left { id }), "a lost connection waits to be resumed");
    assert!(watcher.replica.entities.contains_key(&id));
    // ...and it comes back over WebSocket.
    let again = Player::join_with(&app, "p", Some(token)).await;
    assert!(again.welcome.resumed, "a polling player resumed over WebSocket");
    assert_eq!(again.id, id);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polling_body_sent_too_slowly_gets_408() {
    let app = TestApp::spawn(Config { handshake_timeout_ms: 300, ..TestApp::arena() }).await;
    let head = format!(
        "POST /poll HTTP/1.1\r\nHost: {}\r\nContent-Length: 100\r\n\r\n0123456789",
        app.addr
    );
    let answer = raw_request(app.addr, head.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    app.shutdown().await;
}

/// A batch whose body arrives after its session ended (here: a leave sent meanwhile on
/// another connection) is refused: it can't place a player the room would never hear leave.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_arrives_after_its_session_ended_is_refused() {
    let app = TestApp::spawn(with_grace(30_000)).await;
    let (sid, _) = poll_join(app.addr, "p").await;
    let rejoin = poll_client::write_batch([quick_join("again", None).as_slice()]);
    // The head of a POST, its body held back.
    let mut held = TcpStream::connect(app.addr).await.expect("connect");
    let head = format!(
        "POST /poll/{sid} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n",
        app.addr,
        rejoin.len()
    );
    held.write_all(head.as_bytes()).await.expect("head");
    // Meanwhile the session ends (a leave), and its poller reads the close.
    let leave = poll_client::write_batch([ClientMsg::Leave.encode().as_slice()]);
    let res = poll_client::send(&mut HttpConn::new(app.addr), &sid, &leave).await.expect("answer");
    assert_eq!(res.status, 204);
    let got = poll_client::poll(&mut HttpConn::new(app.addr), &sid).await.expect("answer");
    assert_eq!(got.expect("200").close, Some((1000, "bye".into())));
    // The held body comes now: refused, and nobody joined.
    held.write_all(&rejoin).await.expect("body");
    let mut answer = vec![0u8; 512];
    let n =
        tokio::time::timeout(WAIT, held.read(&mut answer)).await.expect("answered").expect("read");
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 410"), "{answer}");
    let mut watcher = Player::join(&app, "watcher").await;
    sync(&mut watcher).await;
    assert!(
        watcher.replica.entities.values().all(|e| e.name != "again"),
        "no player was placed: {:?}",
        watcher.replica.entities
    );
    app.shutdown().await;
}

/// Sending is not polling: a client that posts inputs but never polls is lost at the idle
/// timeout (4003), as a silent one is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poller_that_sends_but_never_polls_is_lost_at_the_idle_timeout() {
    let app = TestApp::spawn(Config { idle_timeout_ms: 500, ..TestApp::arena() }).await;
    let (sid, _) = poll_join(app.addr, "p").await;
    let mut post = HttpConn::new(app.addr);
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut seq = 0;
    let status = loop {
        assert!(tokio::time::Instant::now() < deadline, "never lost");
        seq += 1;
        let input = ClientMsg::Input(Input {
            seq,
            dir: Direction::default(),
            attack: false,
            seen: 0,
            shown: 0,
        })
        .encode();
        let res = poll_client::send(&mut post, &sid, &poll_client::write_batch([input.as_slice()]))
            .await
            .expect("answer");
        if res.status != 204 {
            break res;
        }
        // At the tick rate: sending, never reading.
        tokio::time::sleep(Duration::from_millis(33)).await;
    };
    assert_eq!(status.status, 410, "{}", status.text());
    assert!(status.text().contains("4003"), "{}", status.text());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_polling_session_gives_back_its_place_under_the_caps() {
    let app = TestApp::spawn(Config {
        max_connections_per_ip: 2,
        cap_loopback: true,
        ..TestApp::arena()
    })
    .await;
    // The HTTP connection (1) and one session (2): the address is full.
    let mut http = HttpConn::new(app.addr);
    let (sid, _) = poll_client::join(&mut http, &quick_join("a", None)).await.expect("join a");
    let res = http.request("POST", "/poll", &quick_join("b", None)).await.expect("answer");
    assert_eq!(res.status, 503, "full");
    // The refusal closed the HTTP connection (`Connection: close`); the server frees its place
    // when that connection's task ends, which can come after the client has read the 503. Until
    // then a new connection from the address is refused too (the CI run of 781786c raced it).
    let leave = poll_client::write_batch([ClientMsg::Leave.encode().as_slice()]);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let res = poll_client::send(&mut http, &sid, &leave).await.expect("answer");
        if res.status == 204 {
            break;
        }
        assert_eq!(res.status, 503, "{}", res.text());
        assert!(res.text().contains("from your address"), "{}", res.text());
        assert!(
            tokio::time::Instant::now() < deadline,
            "the refused connection's place never freed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The session ends at once (no grace for the connection; the player's leave grace is the
    // room's business): the next join from the address, on the same HTTP connection, fits.
    // (Not on a new connection: that would be a third place, which only the server's
    // keep-alive timeout closing `http` after 10 s would free; the test once raced it.)
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if poll_client::join(&mut http, &quick_join("b", None)).await.is_ok() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the ended session's place never freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(http);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polling_join_from_a_foreign_page_is_refused() {
    let app = TestApp::spawn(TestApp::arena()).await;
    let join = quick_join("p", None);
    let head = format!(
        "POST /poll HTTP/1.1\r\nHost: {}\r\nOrigin: https://evil.example\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        app.addr,
        join.len()
    );
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&join);
    let answer = raw_request(app.addr, &bytes).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("origin not allowed"), "{answer}");
    app.shutdown().await;
}

/// At shutdown a poller between two `GET`s still reads its 1001 on its next one: the server
/// keeps its HTTP connections up until each poller has read its close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poller_between_two_gets_reads_its_1001_at_shutdown() {
    let app = TestApp::spawn(TestApp::arena()).await;
    let mut http = HttpConn::new(app.addr);
    let (sid, _) = poll_client::join(&mut http, &quick_join("p", None)).await.expect("join");
    let TestApp { mut stop, server, addr, .. } = app;
    let _ = stop.take().map(|s| s.send(()));
    // The server is shutting down (its listener closes); this poller has no GET waiting.
    eventually("the listener to close", || async move { TcpStream::connect(addr).await.is_err() })
        .await;
    let got = poll_client::poll(&mut http, &sid).await.expect("answer on the open connection");
    assert_eq!(got.expect("200").close, Some((1001, "server shutting down".into())));
    tokio::time::timeout(WAIT, server).await.expect("stopped").expect("no panic").expect("Ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_polling_body_over_64_kib_gets_413() {
    let app = TestApp::spawn(TestApp::arena()).await;
    let (sid, _) = poll_join(app.addr, "p").await;
    let mut bytes = format!(
        "POST /poll/{sid} HTTP/1.1\r\nHost: {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        app.addr
    )
    .into_bytes();
    for _ in 0..(64 * 1024 + 1) {
        bytes.extend_from_slice(b"1\r\n\0\r\n");
    }
    bytes.extend_from_slice(b"0\r\n\r\n");
    let answer = raw_request(app.addr, &bytes).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{}", &answer[..answer.len().min(200)]);
    app.shutdown().await;
}

// --- Signed seats (`--join-secret`) ---

const SECRET: &str = "a join secret for the wire tests";

fn seated() -> Config {
    Config { join_secret: Some(SECRET.into()), ..TestApp::arena() }
}

/// A ticket for `name` in `room`, signed with `secret`, expiring `ttl` seconds from now
/// (negative: already expired).
fn ticket(secret: &str, room: &str, name: &str, ttl: i64) -> String {
    let key = skirmish_server::seat::SeatKey::new(secret.as_bytes()).expect("secret");
    let expires = skirmish_server::seat::unix_now().saturating_add_signed(ttl);
    key.mint(&skirmish_shared::seat::SeatClaims { room: room.into(), name: name.into(), expires })
}

/// Opens a connection with a join asking for `room` as "mallory", carrying `seat`.
async fn seated_join(app: &TestApp, room: Option<&str>, seat: Option<String>) -> Conn {
    let join = ClientMsg::Join {
        protocol_version: PROTOCOL_VERSION,
        name: Some("mallory".into()),
        resume: None,
        room: room.map(str::to_owned),
        seat,
    };
    Conn::open(app.addr, app.transport, join.encode()).await
}

async fn seats_admit_only_valid_tickets_for_their_room(t: Transport) {
    let app = TestApp::spawn_on(t, seated()).await;
    // A valid seat: the player is the seat's name, whatever the join says.
    let mut ann = seated_join(&app, Some("arena"), Some(ticket(SECRET, "arena", "ann", 60))).await;
    let ServerMsg::Welcome(w) = next_msg(&mut ann, "welcome").await else { panic!("welcome") };
    assert_eq!(w.room, "arena");
    let me = w.keyframe.entities.iter().find(|e| e.id == w.player_id).expect("own entity");
    assert_eq!(me.name, "ann");
    // A join that names no room goes to its seat's.
    let mut bob = seated_join(&app, None, Some(ticket(SECRET, "arena", "bob", 60))).await;
    let ServerMsg::Welcome(w) = next_msg(&mut bob, "welcome").await else { panic!("welcome") };
    assert_eq!(w.room, "arena");
    let refused = [
        (Some("arena"), None, "seat required"),
        (Some("arena"), Some(ticket(SECRET, "arena", "eve", -1)), "seat expired"),
        (Some("other"), Some(ticket(SECRET, "arena", "eve", 60)), "seat is for another room"),
        (
            Some("arena"),
            Some(ticket("some other secret, 16+ bytes", "arena", "eve", 60)),
            "seat forged",
        ),
        (Some("arena"), Some("not a ticket".into()), "seat malformed"),
    ];
    for (room, seat, reason) in refused {
        let mut conn = seated_join(&app, room, seat).await;
        assert_eq!(close_code(&mut conn).await, (4004, reason.into()), "{reason}");
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_seat_failures_from_one_address_are_refused_before_any_check() {
    // Loopback counts here, as a remote address does by default.
    let app = TestApp::spawn(Config { cap_loopback: true, ..seated() }).await;
    for i in 0..skirmish_server::net::SEAT_FAILURE_BURST as usize {
        let mut conn = seated_join(&app, Some("arena"), None).await;
        assert_eq!(close_code(&mut conn).await.0, 4004, "failure {i}");
    }
    // Now even a valid seat is refused until the address's failures age out.
    let mut conn = seated_join(&app, Some("arena"), Some(ticket(SECRET, "arena", "ann", 60))).await;
    assert_eq!(
        close_code(&mut conn).await,
        (1013, "too many rejected seats from your address".into())
    );
    // Operators see it in /metrics.
    let metrics = http_get(app.addr, "/metrics").await;
    assert!(metrics.contains("skirmish_seats_refused_total{reason=\"missing\"} 5"), "{metrics}");
    assert!(
        metrics.contains("skirmish_seats_refused_total{reason=\"rate_limited\"} 1"),
        "{metrics}"
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_server_needs_no_seat_and_ignores_one() {
    let app = TestApp::spawn(TestApp::arena()).await;
    let mut plain = seated_join(&app, Some("arena"), None).await;
    assert!(matches!(next_msg(&mut plain, "welcome").await, ServerMsg::Welcome(_)));
    let mut junk = seated_join(&app, Some("arena"), Some("junk".into())).await;
    let ServerMsg::Welcome(w) = next_msg(&mut junk, "welcome").await else { panic!("welcome") };
    let me = w.keyframe.entities.iter().find(|e| e.id == w.player_id).expect("own entity");
    assert_ne!(me.name, "ann");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seat_command_mints_a_ticket_the_server_admits() {
    let bin = env!("CARGO_BIN_EXE_skirmish");
    let out = std::process::Command::new(bin)
        .args(["seat", "--room", "arena", "--name", "ann", "--ttl-secs", "60"])
        .env("SKIRMISH_JOIN_SECRET", SECRET)
        .output()
        .expect("run skirmish seat");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ticket = String::from_utf8(out.stdout).expect("utf-8").trim().to_owned();
    let app = TestApp::spawn(seated()).await;
    let mut conn = seated_join(&app, Some("arena"), Some(ticket)).await;
    let ServerMsg::Welcome(w) = next_msg(&mut conn, "welcome").await else { panic!("welcome") };
    let me = w.keyframe.entities.iter().find(|e| e.id == w.player_id).expect("own entity");
    assert_eq!(me.name, "ann");
    app.shutdown().await;
    // Without the secret it says what is missing.
    let out = std::process::Command::new(bin)
        .args(["seat", "--room", "arena", "--name", "ann"])
        .env_remove("SKIRMISH_JOIN_SECRET")
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run skirmish seat");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SKIRMISH_JOIN_SECRET"));
}
