//! The sim threads: a fixed pool that ticks every room, each at its own due times.
//!
//! Rooms wait in one queue ordered by when their next tick is due. A free thread takes the
//! room due first, once it is due, runs its tick and puts it back with its next due time. A
//! room is owned by one thread at a time (it moves, no lock around its world), and a slow
//! room holds up only the thread running it: the others go on taking the rooms that are due.

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

use tracing::{debug, info};

use super::{After, Room};

struct Scheduled {
    due: Instant,
    seq: u64,
    room: Box<Room>,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    /// Reversed: the heap's top is the room due first.
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (other.due, other.seq).cmp(&(self.due, self.seq))
    }
}

#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Scheduled>,
    seq: u64,
    stop: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, room: Box<Room>, due: Instant) {
        let mut q = self.lock();
        q.seq += 1;
        let seq = q.seq;
        let first = q.heap.peek().is_none_or(|top| due < top.due);
        q.heap.push(Scheduled { due, seq, room });
        drop(q);
        if first {
            // Threads waiting for a later room must look again.
            self.wake.notify_all();
        }
    }
}

/// The sim threads.
pub struct Pool {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").finish_non_exhaustive()
    }
}

impl Pool {
    /// Starts `threads` sim threads with no room.
    pub fn start(threads: usize) -> std::io::Result<Self> {
        let shared = Arc::new(Shared { queue: Mutex::new(Queue::default()), wake: Condvar::new() });
        let mut handles = Vec::with_capacity(threads);
        for i in 0..threads {
            let shared = shared.clone();
            handles.push(
                std::thread::Builder::new()
                    .name(format!("sim-{i}"))
                    .spawn(move || work(&shared))?,
            );
        }
        info!(threads, "sim threads started");
        Ok(Self { shared, threads: Mutex::new(handles) })
    }

    /// Adds a room; its first tick runs when due.
    pub fn add(&self, room: Room) {
        let due = room.next_due();
        self.shared.push(Box::new(room), due);
    }

    /// Stops the threads (each finishes the tick it is running) and drops every room.
    pub fn stop(&self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_all();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
        let rooms = std::mem::take(&mut self.shared.lock().heap);
        drop(rooms);
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One sim thread: take the room due first when it is due, tick it, put it back.
fn work(shared: &Shared) {
    loop {
        let mut room = {
            let mut q = shared.lock();
            loop {
                if q.stop {
                    return;
                }
                let now = Instant::now();
                match q.heap.peek() {
                    Some(top) if top.due <= now => break q.heap.pop().map(|s| s.room),
                    Some(top) => {
                        let wait = top.due - now;
                        q = shared.wake.wait_timeout(q, wait).unwrap_or_else(|e| e.into_inner()).0;
                    }
                    None => q = shared.wake.wait(q).unwrap_or_else(|e| e.into_inner()),
                }
            }
        };
        let Some(mut r) = room.take() else { continue };
        match r.run_tick() {
            After::Next(due) => shared.push(r, due),
            After::Closed => debug!(room = %r.id(), "room left its sim thread"),
        }
    }
}
