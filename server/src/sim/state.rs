//! The simulation's resources: the clock, the rules, the room's seats, and the tick's
//! outputs (events, removals, the [`TickOutput`] under construction) that the snapshot system
//! finishes.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use bevy_ecs::prelude::{Entity, Resource};
use crossbeam_channel::Receiver;
use skirmish_shared::{Event, PlayerId, ResumeToken, Rules, TickRules};

use crate::link::{ConnId, Inbound, InputBoard, TickOutput};
use crate::metrics::LocalHistogram;
use crate::session::Sessions;

/// The number of the tick being simulated; the first tick is 1.
#[derive(Resource, Debug, Default, Clone, Copy)]
pub struct Clock {
    /// Current tick.
    pub tick: u64,
}

/// The rules in force and their per-tick form (boxed whole: see [`Output`]; read through
/// `Deref`).
#[derive(Resource, Debug, Clone)]
pub struct Settings(pub Box<SettingsData>);

impl std::ops::Deref for Settings {
    type Target = SettingsData;
    fn deref(&self) -> &SettingsData {
        &self.0
    }
}

/// What [`Settings`] holds.
#[derive(Debug, Clone)]
pub struct SettingsData {
    /// The rules as configured.
    pub rules: Rules,
    /// The rules as every welcome carries them, encoded once.
    pub rules_encoded: Vec<u8>,
    /// Ticks per second.
    pub tick_rate: u32,
    /// The room's id, as every welcome carries it.
    pub room: String,
    /// The rules in subunits per tick.
    pub per_tick: TickRules,
    /// The view grid, with a view radius (`None`: every client sees the whole room).
    pub grid: Option<crate::view::Grid>,
    /// Ticks a disconnected player waits in the world for its client to resume.
    pub resume_grace_ticks: u64,
    /// Ticks a player that left (`leave`) waits, resumable, before it goes.
    pub leave_grace_ticks: u64,
    /// Ticks back an attack may be resolved (lag compensation).
    pub max_rewind_ticks: u64,
}

/// The channel of joins and leaves from the network.
#[derive(Resource, Debug)]
pub struct Inbox(pub Receiver<Inbound>);

/// The room's players and their connections (the session core), and the input board their
/// readers write to.
#[derive(Resource, Debug)]
pub struct Seats {
    /// Who plays whom: the one owner of every connection ↔ player binding in this room
    /// (boxed: see [`Output`]).
    pub sessions: Box<Sessions<Entity>>,
    /// The board the connections' readers put inputs on, one slot per seat.
    pub board: Arc<InputBoard>,
}

impl Seats {
    /// `seats` seats, all free, and a board with a slot for each, for a sim ticking
    /// `tick_rate` times a second.
    pub fn new(seats: usize, tick_rate: u32) -> Self {
        Self {
            sessions: Box::new(Sessions::new(seats)),
            board: Arc::new(InputBoard::new(seats, tick_rate)),
        }
    }
}

/// Player ids, handed out increasing from 1 and never reused (kept in [`PlayerEntities`]).
#[derive(Debug)]
pub struct PlayerIds {
    next: PlayerId,
}

impl Default for PlayerIds {
    fn default() -> Self {
        Self { next: 1 }
    }
}

impl PlayerIds {
    /// The next unused id.
    pub fn allocate(&mut self) -> PlayerId {
        let id = self.next;
        self.next = self.next.wrapping_add(1).max(1);
        id
    }
}

/// The last ticks' movements (each tick's `changed` list, sorted by id, as sent), so that an
/// attack can be resolved against where the other players were at the tick its client was
/// showing. The snapshot hands over its list each tick (a swap, no copy).
#[derive(Resource, Debug)]
pub struct History {
    /// `ticks[t % len]` holds tick `t`'s changes, for the last `len` ticks.
    ticks: Box<[(u64, Vec<skirmish_shared::Change>)]>,
}

impl History {
    /// Room for `depth` ticks (0: no history, no rewind).
    pub fn new(depth: u64) -> Self {
        Self { ticks: (0..depth).map(|_| (0, Vec::new())).collect() }
    }

    /// Keeps tick `tick`'s changes; `changes` gets back the oldest tick's list, emptied.
    pub fn record(&mut self, tick: u64, changes: &mut Vec<skirmish_shared::Change>) {
        let len = self.ticks.len() as u64;
        if len == 0 {
            return;
        }
        let slot = &mut self.ticks[(tick % len) as usize];
        slot.0 = tick;
        std::mem::swap(&mut slot.1, changes);
        changes.clear();
    }

    /// Where player `id` was at the end of tick `at`, given where it was at the end of tick
    /// `now` (both within the history): the moves in between undone. `None` if a tick in
    /// between is not recorded.
    pub fn rewind(
        &self,
        id: PlayerId,
        (x, y): (i32, i32),
        now: u64,
        at: u64,
    ) -> Option<(i32, i32)> {
        let len = self.ticks.len() as u64;
        let (mut x, mut y) = (x, y);
        for t in (at + 1..=now).rev() {
            let (tick, changes) = self.ticks.get((t % len.max(1)) as usize)?;
            if *tick != t {
                return None;
            }
            if let Ok(i) = changes.binary_search_by_key(&id, |c| c.id) {
                x -= changes[i].dx.unwrap_or(0);
                y -= changes[i].dy.unwrap_or(0);
            }
        }
        Some((x, y))
    }
}

/// The players' ids: the next one to hand out, and each player's entity by id, kept as players
/// join and leave: the few lookups that go by id (a kill's killer) need no pass over every
/// player.
///
/// One resource, not two: bevy's registry of a room's component types and resources doubles
/// past 32 of them (9.7 KB a room; see `sim::tests`), and a resource costs a room ~1.3 KB.
#[derive(Resource, Debug, Default)]
pub struct PlayerEntities {
    /// Each player's entity (boxed: see [`Output`]).
    pub by_id: Box<std::collections::HashMap<PlayerId, Entity>>,
    /// Where the ids come from.
    pub ids: PlayerIds,
}

/// The display names in use in this room (compared without case), so that each is unique
/// (boxed: see [`Output`]).
#[derive(Resource, Debug, Default)]
#[expect(clippy::box_collection, reason = "a room keeps 64 of each resource's size")]
pub struct Names(Box<std::collections::HashSet<String>>);

impl Names {
    /// `wanted` if no player of the room has it, else the first free `wanted 2`, `wanted 3`,
    /// … (the base cut so the whole stays within the name length limit); taken for the
    /// caller.
    pub fn claim(&mut self, wanted: &str) -> String {
        if self.0.insert(wanted.to_lowercase()) {
            return wanted.to_owned();
        }
        for n in 2u32.. {
            let suffix = format!(" {n}");
            let keep =
                skirmish_shared::protocol::MAX_NAME_CHARS.saturating_sub(suffix.chars().count());
            let base: String = wanted.chars().take(keep).collect();
            let name = format!("{}{suffix}", base.trim_end());
            if self.0.insert(name.to_lowercase()) {
                return name;
            }
        }
        unreachable!("some suffix is free: at most u32::MAX names")
    }

    /// The name is free again (its player left).
    pub fn release(&mut self, name: &str) {
        self.0.remove(&name.to_lowercase());
    }
}

/// Random spawn points.
#[derive(Resource, Debug)]
pub struct SpawnRng(pub fastrand::Rng);

/// What this tick has for the snapshot system, which sends it and empties it (boxed whole: see
/// [`Output`]; read through `Deref`). One resource for the three lists, not one each: every
/// resource costs a room ~1.3 KB, and the registry's doubling past 32 types is near (see
/// [`PlayerEntities`]).
#[derive(Resource, Debug, Default)]
pub struct TickNews(Box<News>);

impl std::ops::Deref for TickNews {
    type Target = News;
    fn deref(&self) -> &News {
        &self.0
    }
}

impl std::ops::DerefMut for TickNews {
    fn deref_mut(&mut self) -> &mut News {
        &mut self.0
    }
}

/// What [`TickNews`] holds.
#[derive(Debug, Default)]
pub struct News {
    /// What happened this tick, in order.
    pub events: Vec<Event>,
    /// Players despawned this tick that clients knew of, with the view cell clients last
    /// knew them in (0 without a view radius).
    pub removed: Vec<(PlayerId, u32)>,
    /// This tick's joins, waiting for their welcome.
    pub joins: Vec<PendingJoin>,
}

/// A join of this tick waiting for its welcome.
#[derive(Debug)]
pub struct PendingJoin {
    /// The connection.
    pub conn: ConnId,
    /// Its player.
    pub player: PlayerId,
    /// The player's resume token.
    pub token: ResumeToken,
    /// Whether the join got an existing player back.
    pub resumed: bool,
}

/// Set by the fan-out when a client fell behind: the next tick carries a keyframe.
#[derive(Resource, Debug, Clone, Default)]
pub struct KeyframeRequest(pub Arc<AtomicBool>);

/// How long this tick's applied inputs waited from arrival, counted locally and flushed to
/// the room's metrics by its runner (one atomic add per bucket, not per input).
#[derive(Resource, Debug, Default)]
pub struct InputDelays(Box<DelayStats>);

impl std::ops::Deref for InputDelays {
    type Target = DelayStats;
    fn deref(&self) -> &DelayStats {
        &self.0
    }
}

impl std::ops::DerefMut for InputDelays {
    fn deref_mut(&mut self) -> &mut DelayStats {
        &mut self.0
    }
}

/// What [`InputDelays`] holds (boxed whole: see [`Output`]).
#[derive(Debug, Default)]
pub struct DelayStats {
    /// Waits from arrival to application.
    pub waits: LocalHistogram,
    /// Repeats of the last direction for a dry buffer (underruns).
    pub repeats: u64,
    /// Inputs dropped to trim a buffer grown too deep.
    pub trimmed: u64,
    /// Sum of sampled seats' buffer depths (inputs waiting at the start of a tick).
    pub depth_sum: u64,
    /// Seats sampled for `depth_sum`.
    pub depth_samples: u64,
}

impl DelayStats {
    /// Counts one input that waited `units` of the board's clock
    /// ([`crate::link::ARRIVAL_UNIT_MICROS`]).
    #[inline]
    pub fn record_units(&mut self, units: u16) {
        let micros = u64::from(units) * crate::link::ARRIVAL_UNIT_MICROS;
        self.waits.record(std::time::Duration::from_micros(micros));
    }
}

/// The output of the tick being run, filled by the systems and taken by `Simulation::step`.
///
/// Boxed, as the room's larger resources are: bevy keeps every resource in a column made
/// for 64 of them, so each byte of a resource costs a room 64 (its resources were ~65 KB a
/// room, 0.65 KiB per player in rooms of 100).
#[derive(Resource, Debug, Default)]
pub struct Output(pub Box<TickOutput>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_without_case_and_within_the_limit() {
        let mut names = Names::default();
        assert_eq!(names.claim("ann"), "ann");
        assert_eq!(names.claim("Ann"), "Ann 2");
        assert_eq!(names.claim("ann"), "ann 3");
        names.release("ann");
        assert_eq!(names.claim("ANN"), "ANN");
        let long = "abcdefghijklmnop"; // 16, the limit
        assert_eq!(names.claim(long), long);
        assert_eq!(names.claim(long), "abcdefghijklmn 2");
        assert_eq!(names.claim(long).chars().count(), 16);
    }
}
