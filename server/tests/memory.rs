//! What an idle connection and an idle player hold on the server's heap, counted byte by byte:
//! a counting global allocator tracks the live bytes of the server's threads (the real server
//! runs in this process); the threads of the clients (the test's own, and a runtime of their
//! own for the WebSocket clients) are not counted.
//!
//! This is the heap part of the capacity issue's memory targets (BENCHMARKS.md, "Memory at
//! rest", measured there as RSS with `scripts/rss-per-connection.sh`): a bound here catches a
//! regression of a few dozen bytes a connection in the test suite, where RSS can't.
//!
//! The tests take turns (`SERIAL`): the allocator counts every server thread of the process.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use skirmish_server::{Config, Hooks};
use skirmish_shared::{ClientMsg, PROTOCOL_VERSION, Replica, ServerMsg};
use tokio_tungstenite::tungstenite::Message;

mod common;

struct Counting;

/// Bytes allocated and not yet freed by the threads not marked as clients'.
static LIVE: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    /// Set on the clients' threads: their allocations are not the server's.
    static CLIENT: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread's allocations count (a thread being torn down counts as a server's).
fn counted() -> bool {
    !CLIENT.try_with(Cell::get).unwrap_or(false)
}

/// Marks the calling thread as a client's.
fn client_thread() {
    CLIENT.with(|c| c.set(true));
}

/// The tests take turns.
static SERIAL: Mutex<()> = Mutex::new(());

// A test allocator that delegates to the system one.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same layout, passed straight to the system allocator.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() && counted() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if counted() {
            LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: the pointer came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Connections opened for the measurement.
const N: usize = 256;
/// Heap bytes one idle WebSocket connection that has not joined may hold on the server: 1,393
/// measured on 2026-11-30 in the test profile (the task, tokio's registration of the socket, the
/// sender, the close cell, the session registry's entry), the same on every run. A session's
/// boxed start kept for the connection's life (160 bytes) fails it, as does a task past its
/// 128-byte step (`net::tests::a_plain_connection_task_does_not_carry_the_tls_path`).
const UNJOINED_BOUND: isize = 1_440;
/// Every wait is bounded by this.
const WAIT: Duration = Duration::from_secs(10);

/// Upgrades a blocking socket to a WebSocket (with no library: the client side stays plain).
fn upgrade(addr: SocketAddr, request: &[u8]) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(WAIT)).expect("timeout");
    tcp.write_all(request).expect("upgrade request");
    let mut head = [0u8; 512];
    let mut len = 0;
    while !head[..len].windows(4).any(|w| w == b"\r\n\r\n") {
        assert!(len < head.len(), "101 response head over 512 bytes");
        let n = tcp.read(&mut head[len..]).expect("101 response within 10 s");
        assert!(n > 0, "closed before answering the upgrade");
        len += n;
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head[..len]));
    tcp
}

/// Sends a ping and reads until its pong: once the pong is back, the server's side of the
/// connection has settled into its idle reading state.
fn ping_pong(tcp: &mut TcpStream) {
    // A masked ping with a 4-byte payload ("ping" masked with 0x01020304).
    let payload = *b"ping";
    let mask = [1u8, 2, 3, 4];
    let mut frame = [0x89, 0x80 | 4, 1, 2, 3, 4, 0, 0, 0, 0];
    for i in 0..4 {
        frame[6 + i] = payload[i] ^ mask[i];
    }
    tcp.write_all(&frame).expect("ping");
    // Frames from the server: skip anything that is not our pong (a heartbeat ping).
    for _ in 0..16 {
        let mut head = [0u8; 2];
        tcp.read_exact(&mut head).expect("a frame within 10 s");
        let len = usize::from(head[1] & 0x7f);
        assert!(len <= 125, "an unexpected long frame to an idle connection");
        let mut body = [0u8; 125];
        tcp.read_exact(&mut body[..len]).expect("the frame's payload");
        if head[0] == 0x8a {
            assert_eq!(&body[..len], b"ping", "the pong carries the ping's payload");
            return;
        }
    }
    panic!("no pong among 16 frames");
}

/// The upgrade request, for raw connections to `addr`; sent once first on a connection that is
/// then closed, so that every lazily built piece of the server exists before a baseline.
fn warm_up(addr: SocketAddr) -> String {
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    let mut warm = upgrade(addr, request.as_bytes());
    ping_pong(&mut warm);
    request
}

/// Stops the server (its SIGTERM) and waits for it, within 10 s.
fn stop(runtime: &tokio::runtime::Runtime, server: common::Server) {
    let common::Server { stop, task, .. } = server;
    drop(stop);
    runtime
        .block_on(async { tokio::time::timeout(WAIT, task).await })
        .expect("the server stopped within 10 s")
        .expect("no panic")
        .expect("Ok");
}

/// Live heap bytes, once they have stopped moving (a connection's last allocations can land just
/// after its pong was written): the smallest of a few reads a millisecond apart.
fn live_settled() -> isize {
    let mut least = LIVE.load(Ordering::Relaxed);
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(1));
        least = least.min(LIVE.load(Ordering::Relaxed));
    }
    least
}

#[test]
fn an_idle_connection_that_has_not_joined_holds_little_heap() {
    client_thread();
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let config = Config {
        max_connections: N + 16,
        max_connections_per_ip: N + 16,
        join_timeout_ms: 600_000,
        ..Config::default()
    };
    let server = runtime.block_on(common::start(config, Hooks::default()));
    let addr = server.addr;
    let request = warm_up(addr);
    let mut open: Vec<TcpStream> = Vec::with_capacity(N);
    let start = Instant::now();
    let before = live_settled();
    for _ in 0..N {
        let mut tcp = upgrade(addr, request.as_bytes());
        ping_pong(&mut tcp);
        open.push(tcp);
        assert!(start.elapsed() < WAIT * 3, "opening {N} connections took over 30 s");
    }
    let during = live_settled();
    let per_connection = (during - before) / N as isize;
    eprintln!("{N} idle unjoined connections: {per_connection} heap bytes each");
    assert!(
        per_connection <= UNJOINED_BOUND,
        "an idle connection that has not joined holds {per_connection} heap bytes, over the \
         bound of {UNJOINED_BOUND}"
    );
    // Closing them gives it all back, but for the maps that keep their capacity.
    drop(open);
    let deadline = Instant::now() + WAIT;
    loop {
        let left = (live_settled() - before) / N as isize;
        if left <= 64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "10 s after closing, {left} heap bytes a connection are still held"
        );
    }
    stop(&runtime, server);
}

/// Players joined, all in one room: the default room size, so that each carries its room's
/// share as in the target's layout (100 rooms of 100).
const PLAYERS: usize = 100;
/// Heap bytes one idle joined player may hold on the server, its room's share included: 3,475
/// measured on 2026-11-30 in the test profile, the same on every run (the players join one a
/// tick). A 33rd component type or resource in a room's world (doubling bevy's registry,
/// 9.7 KB) fails it.
const JOINED_BOUND: isize = 3_520;

/// A WebSocket player that joins room "memory" and then reads every frame, keeping a replica;
/// `known` counts the players in it.
async fn player(addr: SocketAddr, name: String, known: Arc<AtomicUsize>) {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut ws, _) =
        tokio_tungstenite::client_async(format!("ws://{addr}/ws"), tcp).await.expect("upgrade");
    let join = ClientMsg::Join {
        protocol_version: PROTOCOL_VERSION,
        name: Some(name),
        resume: None,
        room: Some("memory".into()),
        seat: None,
    };
    ws.send(Message::Binary(join.encode().into())).await.expect("join");
    let mut replica: Option<Replica> = None;
    while let Some(Ok(msg)) = ws.next().await {
        let Message::Binary(bytes) = msg else { continue };
        match ServerMsg::decode(&bytes).expect("server messages decode") {
            ServerMsg::Welcome(w) => replica = Some(Replica::from_keyframe(&w.keyframe)),
            ServerMsg::Frame(f) => {
                if let Some(r) = replica.as_mut() {
                    r.apply(&f).expect("frame applies");
                }
            }
            _ => {}
        }
        known.store(replica.as_ref().map_or(0, |r| r.entities.len()), Ordering::Relaxed);
    }
}

#[test]
fn an_idle_joined_player_holds_little_heap() {
    client_thread();
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let clients = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .on_thread_start(client_thread)
        .build()
        .expect("runtime");
    let config = Config { max_connections_per_ip: PLAYERS + 16, ..Config::default() };
    let server = server_runtime.block_on(common::start(config, Hooks::default()));
    let addr = server.addr;
    warm_up(addr);
    let before = live_settled();
    let counts: Vec<Arc<AtomicUsize>> =
        (0..PLAYERS).map(|_| Arc::new(AtomicUsize::new(0))).collect();
    // One after another, each once the one before has its welcome: one join a tick, so that
    // what the room keeps of its busiest tick (its lists keep their capacity) is the same on
    // every run, however fast the machine.
    let deadline = Instant::now() + WAIT * 3;
    for (i, known) in counts.iter().enumerate() {
        clients.spawn(player(addr, format!("p{i}"), known.clone()));
        while known.load(Ordering::Relaxed) == 0 {
            assert!(Instant::now() < deadline, "player {i} got no welcome");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    // Settled once every player sees all of them: the last spawn has reached everyone, and
    // idle players are sent nothing more.
    while counts.iter().any(|k| k.load(Ordering::Relaxed) < PLAYERS) {
        assert!(Instant::now() < deadline, "the {PLAYERS} players did not all see each other");
        std::thread::sleep(Duration::from_millis(10));
    }
    let during = live_settled();
    let per_player = (during - before) / PLAYERS as isize;
    eprintln!("{PLAYERS} idle players in one room: {per_player} heap bytes each");
    assert!(
        per_player <= JOINED_BOUND,
        "an idle joined player holds {per_player} heap bytes, over the bound of {JOINED_BOUND}"
    );
    drop(clients);
    stop(&server_runtime, server);
}
