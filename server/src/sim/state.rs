//! The simulation's resources: the clock, the rules, the connected clients, and the tick's
//! outputs (events, removals) that the snapshot system turns into bytes.

use std::collections::HashMap;

use bevy_ecs::prelude::{Entity, Resource};
use crossbeam_channel::Receiver;
use skirmish_shared::{Event, PlayerId, Rules, TickRules};

use crate::link::{ConnId, Inbound, Link};

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
    /// Ticks a client's queue may stay full before it is disconnected.
    pub stall_ticks: u32,
}

/// The inbound channel from the network.
#[derive(Resource, Debug)]
pub struct Inbox(pub Receiver<Inbound>);

/// One connected, joined client.
#[derive(Debug)]
pub struct Client {
    /// The player entity it controls.
    pub entity: Entity,
    /// That player's id.
    pub player: PlayerId,
    /// Where its frames go.
    pub link: Link,
    /// Whether its welcome went out.
    pub welcomed: bool,
    /// Whether it missed a frame and must get a keyframe next.
    pub needs_keyframe: bool,
    /// The ack in the last frame it was sent.
    pub last_ack_sent: u32,
    /// Consecutive ticks its queue was full.
    pub stalled_ticks: u32,
}

/// Every joined client, by connection. The only owner of the links.
#[derive(Resource, Debug, Default)]
pub struct Clients {
    /// Clients by connection.
    pub by_conn: HashMap<ConnId, Client>,
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
