//! The boundary between the network tasks and a room's simulation, in the game's words: what
//! flows in (joins, leaves, inputs), what flows out (a [`TickOutput`] per tick, with its
//! transport-neutral outcomes such as [`Disconnect`]). No socket or tokio type appears here;
//! `net` maps each [`DisconnectReason`] to a close code.
//!
//! Joins and leaves go through one crossbeam channel per room that its sim drains with
//! `try_recv`. Inputs go on the room's [`InputBoard`]: one contiguous array with a small slot
//! per seat, which the sim reads in the order it iterates players, so applying inputs needs
//! no lookup and no heap object per player. A connection's reader finds its slot through a
//! [`Route`] that the sim publishes at join; the route carries a generation, so a connection
//! that lost its player (taken over, left) can't put inputs in front of its successor.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use skirmish_shared::{Direction, Input, PlayerId, ResumeToken};

/// Identifies one connection for the server's lifetime.
pub type ConnId = u64;

/// Network → one room's simulation.
#[derive(Debug)]
pub enum Inbound {
    /// A connection asked to play in this room (its protocol version was already checked,
    /// and the registry reserved it a seat, which the sim keeps or gives back).
    Join {
        /// The connection.
        conn: ConnId,
        /// The display name asked for, already cleaned.
        name: Option<String>,
        /// Where the sim publishes the connection's input slot for its reader.
        route: Route,
        /// The token the client presented to get its player back, if any.
        resume: Option<ResumeToken>,
        /// A fresh random token, for the case that this is a new player.
        new_token: ResumeToken,
    },
    /// The connection is gone (closed, failed or kicked).
    Leave {
        /// The connection.
        conn: ConnId,
        /// The client said it is leaving for good (the leave message): its player goes at
        /// once instead of waiting to be resumed.
        for_good: bool,
    },
}

/// Why the simulation ends a connection, in the game's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The connection joined twice.
    AlreadyJoined,
    /// The room has no free seat.
    RoomFull,
    /// A newer connection presented the same resume token and got the player.
    TakenOver,
}

/// A connection the simulation ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disconnect {
    /// The connection.
    pub conn: ConnId,
    /// Why.
    pub reason: DisconnectReason,
}

/// A connection that got a player this tick: its welcome is this header followed by the
/// tick's keyframe.
#[derive(Debug)]
pub struct Welcomed {
    /// The connection.
    pub conn: ConnId,
    /// Its player.
    pub player: PlayerId,
    /// The welcome header (up to and including the tick).
    pub head: Bytes,
}

/// Everything one tick produced: built by the sim, delivered by the room's fan-out. Encoded
/// bytes are shared; nothing here is per client except the small lists of outcomes and acks.
#[derive(Debug, Default)]
pub struct TickOutput {
    /// The tick.
    pub tick: u64,
    /// When the tick started (set by the room's runner).
    pub started: Option<Instant>,
    /// The encoded frame body (spawned, changed, removed, events), if anything happened.
    pub body: Option<Bytes>,
    /// The whole world's entity array, when someone joined or a keyframe was asked for.
    pub keyframe: Option<Bytes>,
    /// Connections that got a player this tick.
    pub welcomed: Vec<Welcomed>,
    /// Connections the sim ends (refused, taken over).
    pub disconnects: Vec<Disconnect>,
    /// Connections that no longer play their player (they left; the player may wait).
    pub detached: Vec<(ConnId, PlayerId)>,
    /// Players whose ack changed this tick, with the new ack.
    pub acks: Vec<(PlayerId, u32)>,
    /// Resume tokens of players that joined this tick (for the registry's directory).
    pub tokens_added: Vec<ResumeToken>,
    /// Resume tokens of players that left for good this tick.
    pub tokens_removed: Vec<ResumeToken>,
    /// Seats given back this tick: joins refused or resumed (which brought a seat of their
    /// own) and players removed.
    pub seats_released: usize,
    /// Players in the room after this tick, connected or waiting.
    pub players: usize,
    /// Seats a new player could take from waiting players beyond their share.
    pub evictable: usize,
}

/// Inputs a player uses in one tick at most: one, plus one more to catch up a tick in which
/// none arrived (inputs bunched up in the network).
pub const MAX_TAKE: usize = 2;

/// The unit of input arrival times, in microseconds.
pub const ARRIVAL_UNIT_MICROS: u64 = 32;

/// Inputs a connection may have waiting for the sim at most; more are dropped.
pub const INPUT_QUEUE_CAPACITY: usize = 8;

/// An input and when it arrived, in the board's clock (see [`InputBoard::now`]). Laid out
/// by hand so the arrival time sits in what would be the input's padding: 16 bytes, as the
/// input alone.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
struct Queued {
    seq: u32,
    dir: Direction,
    attack: bool,
    arrived: u16,
}

/// Inputs waiting to be applied, stored inline, oldest first. The bookkeeping comes first so
/// that it shares a cache line with the slot's lock and the oldest inputs.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
struct InputRing {
    start: u8,
    len: u8,
    /// Inputs the seat's player may still use, as of tick `budget_at` (low 16 bits): one
    /// more each tick, at most [`MAX_TAKE`] banked. Kept here, beside the lock the sim
    /// takes anyway, rather than in a component.
    budget: u8,
    budget_at: u16,
    slots: [Queued; INPUT_QUEUE_CAPACITY],
}

impl InputRing {
    fn push(&mut self, q: Queued) -> bool {
        if usize::from(self.len) == INPUT_QUEUE_CAPACITY {
            return false;
        }
        self.slots[(usize::from(self.start) + usize::from(self.len)) % INPUT_QUEUE_CAPACITY] = q;
        self.len += 1;
        true
    }

    fn pop(&mut self) -> Option<Queued> {
        if self.len == 0 {
            return None;
        }
        let q = self.slots[usize::from(self.start)];
        self.start = ((usize::from(self.start) + 1) % INPUT_QUEUE_CAPACITY) as u8;
        self.len -= 1;
        Some(q)
    }
}

/// One seat's slot: the ring and the generation of the connection allowed to push.
#[derive(Debug, Default)]
#[repr(C)]
struct Slot {
    generation: u32,
    ring: InputRing,
}

/// Every seat's waiting inputs, in one contiguous array of slots. Readers push into their
/// slot through their [`Route`]; the sim takes from the slots of its players in the order it
/// iterates them. Each slot has its own lock, held for a few nanoseconds.
#[derive(Debug)]
pub struct InputBoard {
    slots: Box<[std::sync::Mutex<Slot>]>,
    epoch: Instant,
}

impl InputBoard {
    /// A board of `capacity` slots.
    pub fn new(capacity: usize) -> Self {
        Self {
            slots: (0..capacity).map(|_| std::sync::Mutex::default()).collect(),
            epoch: Instant::now(),
        }
    }

    fn slot(&self, slot: u32) -> Option<std::sync::MutexGuard<'_, Slot>> {
        let m = self.slots.get(slot as usize)?;
        Some(m.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The clock of input arrival times: units of [`ARRIVAL_UNIT_MICROS`] since the board was
    /// made, wrapping every 2.1 s. Only waits of a few ticks are ever measured with it
    /// (`now().wrapping_sub(arrived)`): an input waits at most [`INPUT_QUEUE_CAPACITY`] ticks
    /// of a live player.
    pub fn now(&self) -> u16 {
        (self.epoch.elapsed().as_micros() / u128::from(ARRIVAL_UNIT_MICROS)) as u16
    }

    /// Queues an input through `route`; `false` (dropped) if the route is not (or no longer)
    /// bound, or the slot holds [`INPUT_QUEUE_CAPACITY`] inputs.
    pub fn push(&self, route: &Route, input: Input) -> bool {
        let Some((slot, generation)) = route.get() else { return false };
        let arrived = self.now();
        self.slot(slot).is_some_and(|mut s| {
            s.generation == generation
                && s.ring.push(Queued {
                    seq: input.seq,
                    dir: input.dir,
                    attack: input.attack,
                    arrived,
                })
        })
    }

    /// Takes this tick's inputs from `slot`, oldest first, each with its arrival time (see
    /// [`now`](Self::now)); returns how many. The seat's player gets one input a tick, plus
    /// one banked from a tick in which it used none: over any span of ticks it uses at most
    /// one per tick plus one, however many it sends (the rest wait). `tick` is the tick being
    /// run (only its low bits matter).
    pub fn take(&self, slot: u32, out: &mut [(Input, u16); MAX_TAKE], tick: u64) -> usize {
        let Some(mut s) = self.slot(slot) else { return 0 };
        let tick = tick as u16;
        let ring = &mut s.ring;
        let elapsed = usize::from(tick.wrapping_sub(ring.budget_at)).min(MAX_TAKE);
        let budget = (usize::from(ring.budget) + elapsed).min(MAX_TAKE);
        let max = budget.min(usize::from(ring.len));
        ring.budget = (budget - max) as u8;
        ring.budget_at = tick;
        let mut n = 0;
        while n < max {
            let Some(q) = ring.pop() else { break };
            out[n] = (Input { seq: q.seq, dir: q.dir, attack: q.attack, seen: 0 }, q.arrived);
            n += 1;
        }
        n
    }

    /// Gives `slot` to a new connection: empties it and publishes it on `route`; any route
    /// to it published before stops working.
    pub fn bind(&self, slot: u32, route: &Route) {
        if let Some(mut s) = self.slot(slot) {
            s.generation = s.generation.wrapping_add(1).max(1);
            s.ring = InputRing { budget: MAX_TAKE as u8, ..InputRing::default() };
            route.set(slot, s.generation);
        }
    }

    /// Takes `slot` from its connection: empties it; its route stops working.
    pub fn unbind(&self, slot: u32) {
        if let Some(mut s) = self.slot(slot) {
            s.generation = s.generation.wrapping_add(1).max(1);
            s.ring = InputRing { budget: MAX_TAKE as u8, ..InputRing::default() };
        }
    }
}

/// A connection's input slot and generation, published by the sim at join (0 = none yet),
/// read by the connection's reader.
#[derive(Debug, Clone, Default)]
pub struct Route(Arc<AtomicU64>);

impl Route {
    fn set(&self, slot: u32, generation: u32) {
        self.0.store((u64::from(generation) << 32) | u64::from(slot), Ordering::Release);
    }

    /// The published slot and generation, if any.
    pub fn get(&self) -> Option<(u32, u32)> {
        let v = self.0.load(Ordering::Acquire);
        let generation = (v >> 32) as u32;
        (generation != 0).then_some((v as u32, generation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(seq: u32) -> Input {
        Input { seq, dir: Direction::default(), attack: false, seen: 0 }
    }

    #[test]
    fn a_rebound_slot_refuses_the_old_route() {
        let board = InputBoard::new(2);
        let (old, new) = (Route::default(), Route::default());
        assert!(!board.push(&old, input(1)), "no slot published yet");
        board.bind(1, &old);
        assert!(board.push(&old, input(1)));
        board.bind(1, &new);
        assert!(!board.push(&old, input(2)), "the old connection's route is dead");
        assert!(board.push(&new, input(1)));
        let mut out = [(Input::default(), 0u16); MAX_TAKE];
        assert_eq!(board.take(1, &mut out, 1), 1, "only the new connection's input is there");
        assert_eq!(out[0].0.seq, 1);
        board.unbind(1);
        assert!(!board.push(&new, input(2)));
    }

    #[test]
    fn a_seat_uses_at_most_one_input_a_tick_plus_one_banked() {
        let board = InputBoard::new(1);
        let route = Route::default();
        board.bind(0, &route);
        for seq in 1..=8 {
            assert!(board.push(&route, input(seq)));
        }
        let mut out = [(Input::default(), 0u16); MAX_TAKE];
        let taken: Vec<usize> = (1..=6).map(|tick| board.take(0, &mut out, tick)).collect();
        assert_eq!(taken, vec![2, 1, 1, 1, 1, 1], "a banked catch-up, then one a tick");
        assert_eq!(board.take(0, &mut out, 9), 1, "ticks 7, 8 idle: one banked (a tick's worth)");
        for seq in 9..=12 {
            assert!(board.push(&route, input(seq)));
        }
        assert_eq!(board.take(0, &mut out, 12), 2, "idle again: catch up one tick");
        assert_eq!(board.take(0, &mut out, 13), 1);
    }

    #[test]
    fn a_queued_input_takes_no_more_room_than_the_input() {
        // The sim's part of an input (seq, direction, attack) and the arrival stamp: 16 bytes,
        // the client's `seen` left with the reader.
        assert_eq!(std::mem::size_of::<Queued>(), 16);
        assert!(std::mem::size_of::<Queued>() <= std::mem::size_of::<Input>());
    }

    #[test]
    fn a_slot_holds_at_most_its_capacity() {
        let board = InputBoard::new(1);
        let route = Route::default();
        board.bind(0, &route);
        for seq in 1..=INPUT_QUEUE_CAPACITY as u32 {
            assert!(board.push(&route, input(seq)));
        }
        assert!(!board.push(&route, input(99)));
    }
}
