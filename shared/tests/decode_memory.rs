//! Hostile bytes can't make the decoder allocate: a counting global allocator watches every
//! allocation while forged length prefixes, deep nesting, invalid UTF-8 and random garbage are
//! decoded. The largest single allocation must stay below the message's own size.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use skirmish_shared::{ClientMsg, PROTOCOL_VERSION, ServerMsg};

struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);
static TOTAL: AtomicUsize = AtomicUsize::new(0);

// A test allocator that delegates to the system one (the workspace's `unsafe` is here, in
// `server/tests/memory.rs`'s counting allocator, `server/src/malloc.rs`'s `mallopt` and the
// `syscall_batch` example's system calls).
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        TOTAL.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same layout, passed straight to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the pointer came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns (largest single allocation, total bytes allocated) during it.
fn measure(f: impl FnOnce()) -> (usize, usize) {
    LARGEST.store(0, Ordering::Relaxed);
    let before = TOTAL.load(Ordering::Relaxed);
    f();
    (LARGEST.load(Ordering::Relaxed), TOTAL.load(Ordering::Relaxed) - before)
}

/// The current version as the one byte (a positive fixint) a join carries it in: the join
/// cases must be of the current version, or the decoder (rightly) reads no further than it.
const V: u8 = {
    assert!(PROTOCOL_VERSION < 0x80);
    PROTOCOL_VERSION as u8
};

#[test]
fn hostile_bytes_allocate_nothing_large() {
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("array32 of 4 billion", vec![0xdd, 0xff, 0xff, 0xff, 0xff]),
        ("str32 of 4 GiB as a name", vec![0x95, 0x00, V, 0xdb, 0xff, 0xff, 0xff, 0xff]),
        ("bin32 of 4 GiB as a token", vec![0x95, 0x00, V, 0xc0, 0xc6, 0xff, 0xff, 0xff, 0xff]),
        ("str32 of 4 GiB as a room", vec![0x95, 0x00, V, 0xc0, 0xc0, 0xdb, 0xff, 0xff, 0xff, 0xff]),
        ("map32 of 4 billion", vec![0xdf, 0xff, 0xff, 0xff, 0xff]),
        ("10,000 nested arrays", vec![0x91; 10_000]),
        ("invalid UTF-8 name", vec![0x95, 0x00, V, 0xa3, 0xff, 0xfe, 0xfd, 0xc0, 0xc0]),
        ("invalid UTF-8 room", vec![0x95, 0x00, V, 0xc0, 0xc0, 0xa3, 0xff, 0xfe, 0xfd]),
        ("trailing bytes", vec![0x92, 0x02, 0x01, 0x00, 0x00, 0x00]),
    ];
    let hostile = cases.len();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    for i in 0..200 {
        let len = 1 + i * 5;
        let bytes = (0..len)
            .map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng as u8
            })
            .collect();
        cases.push(("random", bytes));
    }
    for (name, bytes) in &cases {
        let (largest, total) = measure(|| {
            let _ = std::hint::black_box(ClientMsg::decode(bytes));
            let _ = std::hint::black_box(ServerMsg::decode(bytes));
        });
        // A server message may hold what it carries (names, entity lists): never more
        // than the bytes themselves in any one allocation, and a few times that in all.
        let bound = 256 + 64 * bytes.len();
        assert!(
            largest <= bound,
            "{name}: one allocation of {largest} bytes for a {}-byte message",
            bytes.len()
        );
        assert!(
            total <= 4 * bound,
            "{name}: {total} bytes allocated for a {}-byte message",
            bytes.len()
        );
    }
    // The client side decoder, which the server runs, allocates nothing for these at all.
    for (name, bytes) in &cases[..hostile] {
        let mut result = Ok(ClientMsg::Ping { client_time: 0 });
        let (largest, _) = measure(|| result = std::hint::black_box(ClientMsg::decode(bytes)));
        // A case the decoder accepts (say, a join of an old version it reads no further) would
        // reach none of the hostile parts and prove nothing.
        assert!(result.is_err(), "{name}: decoded to {result:?}; the case tests nothing");
        assert_eq!(largest, 0, "{name}: the server's decoder allocated");
    }
}
