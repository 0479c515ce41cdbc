//! Does batching the fan-out's writes with io_uring save CPU on this machine? The fan-out's
//! shape without the server: N loopback TCP connections, every tick one vectored write of a
//! frame to each (the WebSocket header, the client's header, the shared body: three slices),
//! the sender pinned to core 0, a reader draining every socket on core 1. Compares one
//! `writev` syscall per socket against one io_uring submission of N `writev`s a tick, in CPU
//! time of the sending thread (which, on loopback, also pays the receive path's softirq).
//!
//!     cargo run --release -p skirmish-benches --features io-uring --example syscall_batch -- \
//!         [writev|uring] [clients=1000] [body bytes=2000] [ticks=300]
//!
//! The results are in BENCHMARKS.md ("Batching the writes: io_uring"): no gain at the frame
//! size of 1,000 clients, so the server does not use it.

// FFI to the kernel (affinity, rusage, epoll, writev) and io_uring's submission entries.
#![allow(unsafe_code)]

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn pin(core: usize) {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the calls take it by pointer.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// (user, system) CPU seconds of the calling thread.
fn thread_cpu() -> (f64, f64) {
    // SAFETY: getrusage fills the struct it is given.
    let r = unsafe {
        let mut r: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_THREAD, &mut r);
        r
    };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (s(r.ru_utime), s(r.ru_stime))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map_or("writev", String::as_str).to_owned();
    let n: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let body_len: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let ticks: usize = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(300);

    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut receivers = Vec::with_capacity(n);
    let mut senders = Vec::with_capacity(n);
    for _ in 0..n {
        let r = TcpStream::connect(addr).expect("connect");
        let (s, _) = listener.accept().expect("accept");
        s.set_nodelay(true).expect("nodelay");
        s.set_nonblocking(true).expect("nonblocking");
        r.set_nonblocking(true).expect("nonblocking");
        receivers.push(r);
        senders.push(s);
    }
    let frame_len = (4 + 4 + body_len) as u64;
    let expected = frame_len * n as u64 * ticks as u64;
    let read = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (read, stop) = (read.clone(), stop.clone());
        std::thread::spawn(move || {
            pin(1);
            let mut buf = vec![0u8; 64 * 1024];
            let mut total = 0u64;
            // Asleep in epoll until a write wakes it, as a real client's event loop is.
            // SAFETY: plain epoll calls on descriptors this thread owns.
            let ep = unsafe { libc::epoll_create1(0) };
            for (i, r) in receivers.iter().enumerate() {
                let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: i as u64 };
                unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, r.as_raw_fd(), &mut ev) };
            }
            let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
            while !stop.load(Ordering::Relaxed) {
                let k = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), 256, 50) };
                for e in events.iter().take(k.max(0) as usize) {
                    let r = &mut receivers[e.u64 as usize];
                    while let Ok(k) = r.read(&mut buf) {
                        if k == 0 {
                            break;
                        }
                        total += k as u64;
                    }
                }
                read.store(total, Ordering::Release);
            }
        })
    };

    pin(0);
    let ws_header = [0x82u8, 126, ((body_len + 4) >> 8) as u8, (body_len + 4) as u8];
    let client_header = [0x94u8, 0x00, 0x01, 0x02];
    let body = vec![0x5au8; body_len];
    let iovecs: Vec<[libc::iovec; 3]> = (0..n)
        .map(|_| {
            [
                libc::iovec { iov_base: ws_header.as_ptr() as *mut _, iov_len: ws_header.len() },
                libc::iovec {
                    iov_base: client_header.as_ptr() as *mut _,
                    iov_len: client_header.len(),
                },
                libc::iovec { iov_base: body.as_ptr() as *mut _, iov_len: body.len() },
            ]
        })
        .collect();
    let fds: Vec<i32> = senders.iter().map(|s| s.as_raw_fd()).collect();
    let mut ring = io_uring::IoUring::new(n.next_power_of_two() as u32).expect("io_uring");
    let (mut short, mut blocked) = (0u64, 0u64);
    let mut cpu = Duration::ZERO;
    let (mut user, mut sys) = (0.0, 0.0);
    for tick in 0..ticks {
        let (u0, s0) = thread_cpu();
        let t0 = Instant::now();
        if mode == "uring" {
            let mut sq = ring.submission();
            for (i, fd) in fds.iter().enumerate() {
                let e =
                    io_uring::opcode::Writev::new(io_uring::types::Fd(*fd), iovecs[i].as_ptr(), 3)
                        .build()
                        .user_data(i as u64);
                // SAFETY: the iovecs and what they point at outlive the completion (reaped
                // below, before the next tick).
                unsafe { sq.push(&e).expect("room in the submission queue") };
            }
            drop(sq);
            ring.submit_and_wait(n).expect("submit");
            for c in ring.completion() {
                let res = c.result();
                if res == -libc::EAGAIN {
                    blocked += 1;
                } else if res < frame_len as i32 {
                    short += 1;
                }
            }
        } else {
            for (i, fd) in fds.iter().enumerate() {
                // SAFETY: valid descriptors and iovecs.
                let res = unsafe { libc::writev(*fd, iovecs[i].as_ptr(), 3) };
                if res < 0 {
                    blocked += 1;
                } else if (res as u64) < frame_len {
                    short += 1;
                }
            }
        }
        let (u1, s1) = thread_cpu();
        cpu += t0.elapsed();
        user += u1 - u0;
        sys += s1 - s0;
        // Paced like ticks, and the reader caught up (its CPU is not the sender's).
        let target = frame_len * n as u64 * (tick as u64 + 1);
        let deadline = Instant::now() + Duration::from_secs(5);
        while read.load(Ordering::Acquire) < target && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = reader.join();
    let writes = (n * ticks) as f64;
    println!(
        "{mode}: {n} clients x {ticks} ticks, {body_len}-byte body: {:.2} us CPU per write (user {:.2}, system {:.2}), {:.2} us wall per write; {blocked} would-block, {short} short; read {} of {expected} bytes",
        (user + sys) / writes * 1e6,
        user / writes * 1e6,
        sys / writes * 1e6,
        cpu.as_secs_f64() / writes * 1e6,
        read.load(Ordering::Acquire)
    );
}
