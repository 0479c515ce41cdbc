//! The simulation's resources: the clock, the rules, who is connected, and the tick's
//! outputs (events, removals, the [`TickOutput`] under construction) that the snapshot system
//! finishes.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use bevy_ecs::prelude::{Entity, Resource};
use crossbeam_channel::Receiver;
use skirmish_shared::{Event, PlayerId, Rules, TickRules};

use crate::link::{ConnId, Inbound, Link, TickOutput};

/// The number of the tick being simulated; the first tick is 1.
#[derive(Resource, Debug, Default, Clone, Copy)]
pub struct Clock {
    /// Current tick.
    pub tick: u64,
}

/// The rules in force and their per-tick form.
#[derive(Resource, Debug, Clone)]
pub struct Settings {
    /// The rules as configured (sent in the welcome).
    pub rules: Rules,
    /// Ticks per second.
    pub tick_rate: u32,
    /// The rules in subunits per tick.
    pub per_tick: TickRules,
    /// Players admitted at most; later joins are refused with close 1013.
    pub max_players: usize,
}

/// The channel of joins and leaves from the network.
#[derive(Resource, Debug)]
pub struct Inbox(pub Receiver<Inbound>);

/// The player entity of every joined connection. Owned here; links live in the fan-out.
#[derive(Resource, Debug, Default)]
pub struct Clients {
    /// Player entity and id by connection.
    pub by_conn: HashMap<ConnId, (Entity, PlayerId)>,
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

/// Joins of this tick waiting for their welcome (the snapshot system writes it).
#[derive(Resource, Debug, Default)]
pub struct PendingJoins(pub Vec<(ConnId, PlayerId, Link)>);

/// Set by the fan-out when a client fell behind: the next tick carries a keyframe.
#[derive(Resource, Debug, Clone, Default)]
pub struct KeyframeRequest(pub Arc<AtomicBool>);

/// The output of the tick being run, filled by the systems and taken by `Simulation::step`.
#[derive(Resource, Debug, Default)]
pub struct Output(pub TickOutput);
