//! What an idle connection holds on the server's heap, counted byte by byte: a counting global
//! allocator tracks the live bytes of this whole process (the real server runs in it), while
//! plain blocking sockets (which allocate nothing per connection on the client side) open
//! connections from outside the server's runtime.
//!
//! This is the heap part of the capacity issue's memory target (BENCHMARKS.md, "Memory at
//! rest", measured there as RSS with `scripts/rss-per-connection.sh`): a bound here catches a
//! regression of a few dozen bytes a connection in the test suite, where RSS can't.
//!
//! One test per file: the allocator counts every thread of the process.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use skirmish_server::{Config, Hooks};

mod common;

struct Counting;

/// Bytes allocated and not yet freed, by the whole process.
static LIVE: AtomicIsize = AtomicIsize::new(0);

// A test allocator that delegates to the system one.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same layout, passed straight to the system allocator.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
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

/// Upgrades a blocking socket to a WebSocket (no library: the client must not allocate per
/// connection, or it would count as the server's).
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
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    // A first connection, opened and closed, lets every lazily built piece of the server exist
    // before the baseline.
    let mut warm = upgrade(addr, request.as_bytes());
    ping_pong(&mut warm);
    drop(warm);
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
    let common::Server { stop, task, .. } = server;
    drop(stop);
    runtime
        .block_on(async { tokio::time::timeout(WAIT, task).await })
        .expect("the server stopped within 10 s")
        .expect("no panic")
        .expect("Ok");
}
