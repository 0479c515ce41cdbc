//! The simulation's resources: the clock, the rules, who is connected, and the tick's
//! outputs (events, removals, the [`TickOutput`] under construction) that the snapshot system
//! finishes.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use bevy_ecs::prelude::{Entity, Resource};
use crossbeam_channel::Receiver;
use skirmish_shared::{Event, PlayerId, ResumeToken, Rules, TickRules};

use crate::link::{ConnId, Inbound, InputBoard, Link, TickOutput};

/// The number of the tick being simulated; the first tick is 1.
#[derive(Resource, Debug, Default, Clone, Copy)]
pub struct Clock {
    /// Current tick.
    pub tick: u64,
}

/// The rules in force and their per-tick form.
#[derive(Resource, Debug, Clone)]
pub struct Settings {
    /// The rules as configured.
    pub rules: Rules,
    /// The rules as every welcome carries them, encoded once.
    pub rules_encoded: Vec<u8>,
    /// Ticks per second.
    pub tick_rate: u32,
    /// The rules in subunits per tick.
    pub per_tick: TickRules,
    /// Players admitted at most; later joins are refused with close 1013.
    pub max_players: usize,
    /// Ticks a disconnected player waits in the world for its client to resume.
    pub resume_grace_ticks: u64,
}

/// The channel of joins and leaves from the network.
#[derive(Resource, Debug)]
pub struct Inbox(pub Receiver<Inbound>);

/// Which player each joined connection controls, by its resume token (the player's entity
/// and id live in its [`Session`]; links live in the fan-out).
#[derive(Resource, Debug, Default)]
pub struct Clients {
    /// Resume token of each connection's player.
    pub by_conn: HashMap<ConnId, ResumeToken>,
}

/// A player that can be resumed with its token.
#[derive(Debug, Clone, Copy)]
pub struct Session {
    /// The player's entity.
    pub entity: Entity,
    /// The player's id.
    pub player: PlayerId,
    /// Its connection, while it has one.
    pub conn: Option<ConnId>,
    /// While disconnected: the tick at which the player leaves for good.
    pub expires_at: Option<u64>,
}

/// Every player's resume token, and the disconnected ones in order of expiry.
#[derive(Resource, Debug, Default)]
pub struct Sessions {
    /// Sessions by token.
    pub by_token: HashMap<ResumeToken, Session>,
    /// `(expiry tick, token)` of disconnected players, oldest first; entries whose session
    /// was resumed (or expired again later) are skipped when they come up.
    pub expiring: VecDeque<(u64, ResumeToken)>,
}

/// Player ids, handed out increasing from 1 and never reused.
#[derive(Resource, Debug)]
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

/// Random spawn points.
#[derive(Resource, Debug)]
pub struct SpawnRng(pub fastrand::Rng);

/// What happened this tick, in order; emptied by the snapshot system.
#[derive(Resource, Debug, Default)]
pub struct TickEvents(pub Vec<Event>);

/// Players despawned this tick that clients knew of; emptied by the snapshot system.
#[derive(Resource, Debug, Default)]
pub struct Removed(pub Vec<PlayerId>);

/// A join of this tick waiting for its welcome.
#[derive(Debug)]
pub struct PendingJoin {
    /// The connection.
    pub conn: ConnId,
    /// Its player.
    pub player: PlayerId,
    /// Where its frames go.
    pub link: Link,
    /// The player's resume token.
    pub token: ResumeToken,
    /// Whether the join got an existing player back.
    pub resumed: bool,
}

/// Joins of this tick waiting for their welcome (the snapshot system writes it).
#[derive(Resource, Debug, Default)]
pub struct PendingJoins(pub Vec<PendingJoin>);

/// Set by the fan-out when a client fell behind: the next tick carries a keyframe.
#[derive(Resource, Debug, Clone, Default)]
pub struct KeyframeRequest(pub Arc<AtomicBool>);

/// The input board shared with the readers, and which connection holds which slot.
#[derive(Resource, Debug)]
pub struct InputSlots {
    /// The board.
    pub board: Arc<InputBoard>,
    /// Slots no connection holds.
    pub free: Vec<u32>,
    /// The slot of each connection that has one.
    pub by_conn: HashMap<ConnId, u32>,
}

impl InputSlots {
    /// A board of `capacity` slots, all free (lowest first).
    pub fn new(capacity: usize) -> Self {
        let capacity = u32::try_from(capacity).unwrap_or(u32::MAX);
        Self {
            board: Arc::new(InputBoard::new(capacity as usize)),
            free: (0..capacity).rev().collect(),
            by_conn: HashMap::new(),
        }
    }

    /// Gives `conn` an empty slot, or `None` if all are taken.
    pub fn allocate(&mut self, conn: ConnId) -> Option<u32> {
        let slot = self.free.pop()?;
        self.board.clear(slot);
        self.by_conn.insert(conn, slot);
        Some(slot)
    }

    /// Frees `conn`'s slot (its reader has ended).
    pub fn release(&mut self, conn: ConnId) {
        if let Some(slot) = self.by_conn.remove(&conn) {
            self.free.push(slot);
        }
    }
}

/// The output of the tick being run, filled by the systems and taken by `Simulation::step`.
#[derive(Resource, Debug, Default)]
pub struct Output(pub TickOutput);
