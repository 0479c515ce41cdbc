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
    /// With a view radius: the tick encoded per view cell (then `body` and `keyframe` are
    /// `None`: every client's messages are put together from it).
    pub views: Option<Box<crate::view::ViewTick>>,
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

/// The unit of input arrival times, in microseconds.
pub const ARRIVAL_UNIT_MICROS: u64 = 32;

/// Inputs a connection may have waiting for the sim at most; more are dropped.
pub const INPUT_QUEUE_CAPACITY: usize = 8;

/// The deepest a seat's de-jitter buffer aims to be, in inputs (ticks), and the most repeats
/// of the last direction in a row.
pub const MAX_TARGET_DEPTH: u8 = 3;
/// A buffer deeper than its target by more than one for this many ticks in a row is trimmed
/// by one input (acknowledged, attack kept, not moved): gently, so a client sending a little
/// faster than the tick never builds up delay, and never gains speed.
pub const TRIM_AFTER_TICKS: u8 = 15;
/// Arrivals a seat needs before its stream statistics count.
const MIN_ARRIVALS: u8 = 4;

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
    /// The low 16 bits of the tick the client was showing (0: not said).
    shown: u16,
}

/// One seat's de-jitter buffer: inputs waiting to be applied, stored inline, oldest first,
/// and what the seat has learned of its client's stream. The bookkeeping comes first so that
/// it shares a cache line with the slot's lock and the oldest inputs.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
struct InputRing {
    start: u8,
    len: u8,
    /// Repeats of `last_dir` made while the buffer was dry that no input has matched yet.
    owed: u8,
    /// The depth this seat aims for (1..=[`MAX_TARGET_DEPTH`]), from its arrival jitter.
    target: u8,
    /// Ticks in a row the buffer was deeper than `target + 1`.
    deep: u8,
    /// Ticks since an input was last taken.
    idle: u8,
    /// Inputs arrived since the seat was bound (saturating).
    arrivals: u8,
    /// When the last input arrived.
    last_arrival: u16,
    /// Moving averages of the time between arrivals and of its distance from one tick, in
    /// arrival units.
    interval: u16,
    jitter: u16,
    /// Moving average of how long before the tick that used it an input arrived (arrival
    /// units; negative: after), and whether there is one yet.
    lead: i16,
    has_lead: bool,
    /// The direction last applied (or repeated).
    last_dir: Direction,
    slots: [Queued; INPUT_QUEUE_CAPACITY],
}

impl InputRing {
    fn fresh() -> Self {
        Self { target: 1, ..Self::default() }
    }

    fn push(&mut self, q: Queued) -> bool {
        if usize::from(self.len) == INPUT_QUEUE_CAPACITY {
            return false;
        }
        self.slots[(usize::from(self.start) + usize::from(self.len)) % INPUT_QUEUE_CAPACITY] = q;
        self.len += 1;
        true
    }

    fn front(&self) -> Option<&Queued> {
        (self.len > 0).then(|| &self.slots[usize::from(self.start)])
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

    /// Learns from an arrival at `now`, one tick being `tick` units: the interval and jitter
    /// averages (over about 8 arrivals), and from the jitter the target depth.
    fn arrived(&mut self, now: u16, tick: u16) {
        if self.arrivals > 0 {
            let dt = now.wrapping_sub(self.last_arrival).min(tick.saturating_mul(4));
            let ewma = |avg: u16, x: u16| -> u16 {
                (i32::from(avg) + (i32::from(x) - i32::from(avg)) / 8).clamp(0, 65_535) as u16
            };
            let dev = dt.abs_diff(tick);
            if self.arrivals == 1 {
                (self.interval, self.jitter) = (dt, dev);
            } else {
                self.interval = ewma(self.interval, dt);
                self.jitter = ewma(self.jitter, dev);
            }
            // No jitter: one input deep; half a tick of jitter: two; a tick or more: three.
            let tick32 = u32::from(tick.max(1));
            let extra = ((u32::from(self.jitter) * 2 + tick32 / 2) / tick32).min(2) as u8;
            self.target = 1 + extra;
        }
        self.arrivals = self.arrivals.saturating_add(1);
        self.last_arrival = now;
    }

    /// Applies `q` as this tick's step (taken at `now`): moved, used, and its arrival learnt.
    fn apply(&mut self, q: &Queued, now: u16, t: &mut Taken) {
        t.step = Some(q.dir);
        t.arrived = Some(q.arrived);
        t.used(q);
        self.last_dir = q.dir;
        self.idle = 0;
        self.led(now.wrapping_sub(q.arrived) as i16);
    }

    /// Learns how long before its tick an input arrived (`lead` arrival units, negative:
    /// after), averaged over about 8.
    fn led(&mut self, lead: i16) {
        if self.has_lead {
            self.lead =
                (i32::from(self.lead) + (i32::from(lead) - i32::from(self.lead)) / 8) as i16;
        } else {
            (self.lead, self.has_lead) = (lead, true);
        }
    }

    /// Whether inputs come as a stream, about one a tick (not a burst, not now and then):
    /// only then does a dry buffer repeat the last direction.
    fn streaming(&self, tick: u16) -> bool {
        self.arrivals >= MIN_ARRIVALS
            && self.interval >= tick / 2
            && self.interval <= tick + tick / 2
    }
}

/// What one seat does in one tick: at most one step, and the inputs it used.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Taken {
    /// The step: an input's direction, or a repeat of the last one.
    pub step: Option<Direction>,
    /// The step is a repeat (the buffer was dry): not an applied input, no ack.
    pub repeated: bool,
    /// The newest input used this tick, if any: the new ack.
    pub ack: Option<u32>,
    /// Whether an input used this tick pressed attack.
    pub attack: bool,
    /// When the input applied this tick arrived ([`InputBoard::now`]'s clock).
    pub arrived: Option<u16>,
    /// Inputs waiting when the tick began (after those matching earlier repeats).
    pub depth: u8,
    /// An input was dropped to trim a buffer grown too deep.
    pub trimmed: bool,
    /// The low 16 bits of the tick the client was showing when it pressed this tick's attack
    /// (0: not said).
    pub shown: u16,
}

impl Taken {
    /// Counts `q` as used this tick (applied, matched to a repeat, or trimmed): its ack, its
    /// attack and the tick it showed.
    fn used(&mut self, q: &Queued) {
        self.ack = Some(q.seq);
        self.attack |= q.attack;
        if q.attack {
            self.shown = q.shown;
        }
    }
}

/// One seat's slot: the ring and the generation of the connection allowed to push.
#[derive(Debug, Default)]
#[repr(C)]
struct Slot {
    generation: u32,
    ring: InputRing,
}

/// Every seat's de-jitter buffer, in one contiguous array of slots. Readers push into their
/// slot through their [`Route`]; the sim takes from the slots of its players in the order it
/// iterates them. Each slot has its own lock, held for a few nanoseconds.
///
/// Each tick a seat takes exactly one input when it has one, so inputs bunched by the
/// network come out one a tick. When its buffer is dry, a seat whose client streams inputs
/// (about one a tick) repeats the last direction, for up to its target depth in a row, rather
/// than stopping: the player keeps running through a late input. A repeat is not an applied
/// input and moves no ack; the late input, when it comes with the same direction, is taken as
/// the one the repeat stood for (acknowledged, not moved again), so the server's path is the
/// client's. The target depth (1–3) follows the seat's arrival jitter; a buffer deeper than
/// that by more than one for [`TRIM_AFTER_TICKS`] ticks drops its oldest input. A seat never
/// moves more than one step a tick, whatever its client sends.
#[derive(Debug)]
pub struct InputBoard {
    slots: Box<[std::sync::Mutex<Slot>]>,
    epoch: Instant,
    /// One tick in arrival units.
    tick_units: u16,
}

impl InputBoard {
    /// A board of `capacity` slots for a sim ticking `tick_rate` times a second.
    pub fn new(capacity: usize, tick_rate: u32) -> Self {
        let tick_micros = 1_000_000 / u64::from(tick_rate.max(1));
        Self {
            slots: (0..capacity).map(|_| std::sync::Mutex::default()).collect(),
            epoch: Instant::now(),
            tick_units: (tick_micros / ARRIVAL_UNIT_MICROS).clamp(1, 16_000) as u16,
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
        self.push_at(route, input, self.now())
    }

    /// [`push`](Self::push) of an input that arrived at `arrived` ([`now`](Self::now)'s clock).
    fn push_at(&self, route: &Route, input: Input, arrived: u16) -> bool {
        let Some((slot, generation)) = route.get() else { return false };
        self.slot(slot).is_some_and(|mut s| {
            if s.generation != generation {
                return false;
            }
            s.ring.arrived(arrived, self.tick_units);
            s.ring.push(Queued {
                seq: input.seq,
                dir: input.dir,
                attack: input.attack,
                arrived,
                shown: input.shown as u16,
            })
        })
    }

    /// This tick's step for `slot` (see the type's docs).
    pub fn take(&self, slot: u32) -> Taken {
        self.take_at(slot, self.now())
    }

    /// [`take`](Self::take) for a tick that starts at `now` ([`now`](Self::now)'s clock).
    pub fn take_at(&self, slot: u32, now: u16) -> Taken {
        let mut t = Taken::default();
        let Some(mut s) = self.slot(slot) else { return t };
        let tick = self.tick_units;
        let ring = &mut s.ring;
        // The common case, a stream on time: nothing owed, not too deep, one input waiting.
        if ring.owed == 0 && ring.len > 0 && ring.len <= ring.target + 1 {
            ring.deep = 0;
            t.depth = ring.len;
            if let Some(q) = ring.pop() {
                ring.apply(&q, now, &mut t);
            }
            return t;
        }
        ring.idle = ring.idle.saturating_add(1);
        // Late inputs the repeats stood for: used, not moved again. One of another direction
        // ends the match (the repeats stand; the client is corrected).
        while ring.owed > 0 {
            let Some(&front) = ring.front() else { break };
            if front.dir != ring.last_dir {
                ring.owed = 0;
                break;
            }
            ring.pop();
            // It stood for the repeat `owed` ticks ago: it was that late.
            let late = i32::from(tick) * i32::from(ring.owed);
            let lead = i32::from(now.wrapping_sub(front.arrived) as i16) - late;
            ring.led(lead.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16);
            ring.owed -= 1;
            ring.idle = 0;
            t.used(&front);
        }
        if ring.idle > ring.target + 2 {
            ring.owed = 0; // the client stopped; nothing will match
        }
        t.depth = ring.len;
        if ring.len > ring.target + 1 {
            ring.deep += 1;
            if ring.deep >= TRIM_AFTER_TICKS
                && let Some(q) = ring.pop()
            {
                ring.deep = 0;
                t.used(&q);
                t.trimmed = true;
            }
        } else {
            ring.deep = 0;
        }
        if let Some(q) = ring.pop() {
            ring.apply(&q, now, &mut t);
        } else if ring.streaming(tick)
            && ring.owed < ring.target
            && ring.idle <= ring.target
            && ring.last_dir != Direction::default()
        {
            t.step = Some(ring.last_dir);
            t.repeated = true;
            ring.owed += 1;
        }
        t
    }

    /// How the inputs pushed through `route` have been arriving (`None` before any was used,
    /// or if the route is not bound).
    pub fn timing(&self, route: &Route) -> Option<skirmish_shared::InputTiming> {
        let (slot, generation) = route.get()?;
        let s = self.slot(slot)?;
        if s.generation != generation || !s.ring.has_lead {
            return None;
        }
        let micros = |units: i64| units * ARRIVAL_UNIT_MICROS as i64;
        Some(skirmish_shared::InputTiming {
            lead_us: micros(i64::from(s.ring.lead)) as i32,
            jitter_us: micros(i64::from(s.ring.jitter)).try_into().unwrap_or(u32::MAX),
        })
    }

    /// Gives `slot` to a new connection: empties it and publishes it on `route`; any route
    /// to it published before stops working.
    pub fn bind(&self, slot: u32, route: &Route) {
        if let Some(mut s) = self.slot(slot) {
            s.generation = s.generation.wrapping_add(1).max(1);
            s.ring = InputRing::fresh();
            route.set(slot, s.generation);
        }
    }

    /// Takes `slot` from its connection: empties it; its route stops working.
    pub fn unbind(&self, slot: u32) {
        if let Some(mut s) = self.slot(slot) {
            s.generation = s.generation.wrapping_add(1).max(1);
            s.ring = InputRing::fresh();
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

    /// One tick at 30 Hz, in arrival units.
    const TICK: u16 = 1041;

    fn input(seq: u32, x: f32) -> Input {
        Input { seq, dir: Direction::new(x, 0.0).expect("valid"), attack: false, seen: 0, shown: 0 }
    }

    fn bound() -> (InputBoard, Route) {
        let board = InputBoard::new(1, 30);
        let route = Route::default();
        board.bind(0, &route);
        (board, route)
    }

    /// A client streaming one input a tick, each arriving `offsets[i]` units after its tick's
    /// start; the sim takes at each tick start. Returns each tick's step (x) and ack.
    fn stream(offsets: &[Option<u16>], x: f32) -> Vec<(f32, Option<u32>, bool)> {
        let (board, route) = bound();
        let mut seq = 0;
        let mut out = Vec::new();
        // Arrivals before tick k's start: those sent for ticks < k whose offset makes them land
        // before k·TICK.
        let mut pending: Vec<(u32, u16)> = Vec::new(); // (tick it lands in, arrival time)
        for (k, off) in offsets.iter().enumerate() {
            if let Some(off) = off {
                let at = (k as u32) * u32::from(TICK) + u32::from(*off);
                pending.push(((at / u32::from(TICK)) + 1, at as u16));
            }
            let tick = k as u32 + 1;
            let mut landed: Vec<_> = pending.iter().filter(|(t, _)| *t <= tick).copied().collect();
            pending.retain(|(t, _)| *t > tick);
            landed.sort_by_key(|&(_, at)| at);
            for (_, at) in landed {
                seq += 1;
                assert!(board.push_at(&route, input(seq, x), at));
            }
            let t = board.take(0);
            out.push((t.step.map_or(0.0, |d| d.x()), t.ack, t.repeated));
        }
        out
    }

    #[test]
    fn a_rebound_slot_refuses_the_old_route() {
        let board = InputBoard::new(2, 30);
        let (old, new) = (Route::default(), Route::default());
        assert!(!board.push(&old, input(1, 1.0)), "no slot published yet");
        board.bind(1, &old);
        assert!(board.push(&old, input(1, 1.0)));
        board.bind(1, &new);
        assert!(!board.push(&old, input(2, 1.0)), "the old connection's route is dead");
        assert!(board.push(&new, input(1, 1.0)));
        assert_eq!(board.take(1).ack, Some(1), "only the new connection's input is there");
        board.unbind(1);
        assert!(!board.push(&new, input(2, 1.0)));
    }

    #[test]
    fn bunched_inputs_come_out_one_a_tick_and_never_faster() {
        let (board, route) = bound();
        for seq in 1..=8 {
            assert!(board.push_at(&route, input(seq, 1.0), 0), "all at once");
        }
        let taken: Vec<_> = (0..10).map(|_| board.take(0)).collect();
        let acks: Vec<_> = taken.iter().map(|t| t.ack).collect();
        let want: Vec<_> = (1..=8).map(Some).chain([None, None]).collect();
        assert_eq!(acks, want, "one input a tick, in order");
        assert!(taken.iter().all(|t| !t.repeated), "a burst is not a stream: no repeats");
        assert!(taken[..8].iter().all(|t| t.step.is_some()));
    }

    #[test]
    fn a_late_input_in_a_stream_is_covered_by_a_repeat_and_not_applied_twice() {
        // Inputs arrive mid-tick; the 7th is a tick and a half late, the 8th on time.
        let mut offsets = vec![Some(500); 12];
        offsets[6] = Some(500 + TICK + TICK / 2);
        let got = stream(&offsets, 1.0);
        let steps = got.iter().filter(|(x, ..)| *x != 0.0).count();
        // Every tick after the first moved (the repeat filled the gap)...
        assert!(got[1..].iter().all(|(x, ..)| *x == 1.0), "no stop: {got:?}");
        assert!(got.iter().any(|(.., repeated)| *repeated), "the gap was a repeat: {got:?}");
        // ...the repeat moved no ack...
        assert!(got.iter().filter(|(.., r)| *r).all(|(_, ack, _)| ack.is_none()), "{got:?}");
        // ...and the late input, matched to the repeat, did not move the player again: as
        // many steps as inputs acknowledged.
        let acked = got.iter().filter_map(|(_, ack, _)| *ack).max().expect("acks");
        assert_eq!(steps as u32, acked, "{got:?}");
    }

    #[test]
    fn the_server_tells_how_early_inputs_arrive() {
        let (board, route) = bound();
        assert_eq!(board.timing(&route), None, "nothing used yet");
        // Inputs arriving 300 units before each tick that takes them.
        for k in 1..=20u16 {
            let tick_at = k.wrapping_mul(TICK);
            board.push_at(&route, input(u32::from(k), 1.0), tick_at.wrapping_sub(300));
            board.take_at(0, tick_at);
        }
        let t = board.timing(&route).expect("timing");
        assert_eq!(t.lead_us, 300 * ARRIVAL_UNIT_MICROS as i32);
        assert!(t.jitter_us < 100, "a steady stream: {t:?}");
        // Then they come late: the lead goes negative.
        let (board, route) = bound();
        for k in 1..=8u16 {
            board.push_at(&route, input(u32::from(k), 1.0), k.wrapping_mul(TICK).wrapping_sub(300));
            board.take_at(0, k.wrapping_mul(TICK));
        }
        // Every input from now on arrives 200 units after its tick: each tick repeats, and
        // the late input is matched next tick.
        for k in 9..=40u16 {
            board.take_at(0, k.wrapping_mul(TICK));
            board.push_at(&route, input(u32::from(k), 1.0), k.wrapping_mul(TICK).wrapping_add(200));
        }
        let t = board.timing(&route).expect("timing");
        assert!(t.lead_us < 0, "late inputs: a negative lead, {t:?}");
    }

    #[test]
    fn the_target_depth_follows_the_arrival_jitter() {
        let (board, route) = bound();
        let target = |board: &InputBoard| board.slot(0).expect("slot").ring.target;
        let mut at = 0u16;
        for seq in 1..=20 {
            at = at.wrapping_add(TICK);
            board.push_at(&route, input(seq, 1.0), at);
            board.take(0);
        }
        assert_eq!(target(&board), 1, "a steady stream: one deep");
        for seq in 21..=60 {
            // Bunched in pairs: nothing for a tick, then two.
            at = at.wrapping_add(if seq % 2 == 0 { 2 * TICK } else { 0 });
            board.push_at(&route, input(seq, 1.0), at);
            board.take(0);
        }
        assert_eq!(target(&board), 3, "a tick of jitter: three deep");
    }

    #[test]
    fn more_inputs_than_ticks_are_trimmed_and_give_no_speed() {
        let (board, route) = bound();
        let mut at = 0u16;
        let (mut seq, mut steps, mut trimmed) = (0, 0, 0);
        for _ in 0..300 {
            // Two inputs a tick (the queue drops what does not fit).
            for _ in 0..2 {
                seq += 1;
                board.push_at(&route, input(seq, 1.0), at);
            }
            at = at.wrapping_add(TICK);
            let t = board.take(0);
            steps += usize::from(t.step.is_some());
            trimmed += usize::from(t.trimmed);
        }
        assert!(steps <= 300, "at most one step a tick: {steps}");
        assert!(trimmed > 0, "a buffer kept too deep is trimmed");
    }

    #[test]
    fn a_stopped_stream_repeats_only_a_few_ticks() {
        // Twenty inputs on time, then nothing.
        let mut offsets = vec![Some(500); 20];
        offsets.extend([None; 10]);
        let got = stream(&offsets, 1.0);
        let repeats = got.iter().filter(|(.., r)| *r).count();
        assert!((1..=usize::from(MAX_TARGET_DEPTH)).contains(&repeats), "{repeats}: {got:?}");
        assert!(got[25..].iter().all(|(x, ..)| *x == 0.0), "then it stops: {got:?}");
    }

    #[test]
    fn a_queued_input_takes_no_more_room_than_the_input() {
        // The sim's part of an input (seq, direction, attack, the shown tick's low bits) and the
        // arrival stamp: 20 bytes, the client's `seen` left with the reader.
        assert_eq!(std::mem::size_of::<Queued>(), 20);
        assert!(std::mem::size_of::<Queued>() <= std::mem::size_of::<Input>());
    }

    #[test]
    fn a_slot_holds_at_most_its_capacity() {
        let (board, route) = bound();
        for seq in 1..=INPUT_QUEUE_CAPACITY as u32 {
            assert!(board.push(&route, input(seq, 0.0)));
        }
        assert!(!board.push(&route, input(99, 0.0)));
    }
}
