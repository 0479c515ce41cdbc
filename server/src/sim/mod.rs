//! The simulation: a bevy_ecs `World` and the tick's `Schedule`, owned by one thread.
//!
//! One tick runs, in order: [`inputs::receive`] (drain the network's channel) →
//! [`inputs::apply_inputs`] → [`movement::movement`] → [`attack::attack`] →
//! [`life::death_and_respawn`] → [`snapshot::snapshot`]. [`Simulation::step`] runs exactly
//! one tick and returns its [`TickOutput`], so tests drive the game tick by tick in memory;
//! the room's runner (`crate::room`) runs it on a fixed clock and hands each output to the
//! room's fan-out. Nothing here knows of sockets or tasks.

pub mod attack;
pub mod components;
pub mod inputs;
pub mod life;
pub mod movement;
pub mod snapshot;
pub mod state;

use bevy_ecs::prelude::{IntoScheduleConfigs, Schedule, World};
use crossbeam_channel::Receiver;
use skirmish_shared::{EntityState, Rules};

use components::{Health, Player, Position, Scoreboard};

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::link::{Inbound, TickOutput};
use state::{
    Clock, Inbox, InputDelays, KeyframeRequest, Names, Output, Seats, Settings, SpawnRng, TickNews,
};

/// What the simulation needs to start.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The game rules.
    pub rules: Rules,
    /// Ticks per second.
    pub tick_rate: u32,
    /// Players in the world at most, connected or waiting to be resumed (the room's seats).
    pub max_players: usize,
    /// Ticks a disconnected player waits in the world for its client to resume (0: leaves at
    /// once).
    pub resume_grace_ticks: u64,
    /// Ticks a player whose client sent `leave` stays, resumable (a page reload), before it
    /// goes (0: at once).
    pub leave_grace_ticks: u64,
    /// Ticks back an attack may be resolved (lag compensation), at most
    /// [`MAX_REWIND_TICKS`]; 0: none.
    pub max_rewind_ticks: u64,
    /// Seed of the spawn-point generator (fixed in tests for repeatable games).
    pub seed: u64,
    /// The room's id, told to every player in its welcome.
    pub room: String,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            rules: Rules::default(),
            tick_rate: 30,
            max_players: 1000,
            resume_grace_ticks: 30 * 30,
            leave_grace_ticks: 15,
            max_rewind_ticks: 8,
            seed: 0,
            room: "default".into(),
        }
    }
}

/// The world and its schedule.
/// The most ticks an attack may be rewound (lag compensation), whatever the settings: 64
/// ticks is 2 s at 30 Hz.
pub const MAX_REWIND_TICKS: u64 = 64;

/// One room's world and its schedule.
pub struct Simulation {
    world: World,
    schedule: Schedule,
}

impl std::fmt::Debug for Simulation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulation").field("tick", &self.tick()).finish_non_exhaustive()
    }
}

impl Simulation {
    /// A world with no players, reading the network's messages from `inbox`.
    pub fn new(config: &SimConfig, inbox: Receiver<Inbound>) -> Self {
        let mut world = World::new();
        world.insert_resource(Settings(Box::new(state::SettingsData {
            per_tick: config.rules.per_tick(config.tick_rate),
            grid: crate::view::Grid::new(&config.rules),
            rules: config.rules.clone(),
            rules_encoded: skirmish_shared::codec::encode_rules(&config.rules),
            tick_rate: config.tick_rate,
            room: config.room.clone(),
            resume_grace_ticks: config.resume_grace_ticks,
            leave_grace_ticks: config.leave_grace_ticks,
            max_rewind_ticks: config.max_rewind_ticks.min(MAX_REWIND_TICKS),
        })));
        world.insert_resource(state::History::new(config.max_rewind_ticks.min(MAX_REWIND_TICKS)));
        world.insert_resource(Inbox(inbox));
        world.insert_resource(Clock::default());
        world.insert_resource(state::PlayerEntities::default());
        world.insert_resource(Names::default());
        world.insert_resource(SpawnRng(fastrand::Rng::with_seed(config.seed)));
        world.insert_resource(TickNews::default());
        world.insert_resource(Seats::new(config.max_players, config.tick_rate));
        world.insert_resource(InputDelays::default());
        world.insert_resource(KeyframeRequest::default());
        world.insert_resource(Output::default());
        let mut schedule = Schedule::default();
        schedule.add_systems(
            (
                inputs::receive,
                inputs::apply_inputs,
                movement::movement,
                attack::attack,
                life::death_and_respawn,
                snapshot::snapshot,
            )
                .chain(),
        );
        Self { world, schedule }
    }

    /// Runs one tick and returns what it produced for the clients.
    pub fn step(&mut self) -> TickOutput {
        self.world.resource_mut::<Clock>().tick += 1;
        self.schedule.run(&mut self.world);
        let players = self.player_count();
        let evictable = self.sessions().evictable();
        let mut out = std::mem::take(&mut *self.world.resource_mut::<Output>().0);
        out.players = players;
        out.evictable = evictable;
        out
    }

    /// The board the connections' readers put inputs on.
    pub fn input_board(&self) -> Arc<crate::link::InputBoard> {
        self.world.resource::<Seats>().board.clone()
    }

    /// The input statistics counted since the last call (waits, repeats, trims, depths),
    /// for the room's metrics.
    pub fn input_stats(&mut self) -> &mut InputDelays {
        self.world.resource_mut::<InputDelays>().into_inner()
    }

    /// The session core: who plays whom in this room.
    pub fn sessions(&self) -> &crate::session::Sessions<bevy_ecs::entity::Entity> {
        &self.world.resource::<Seats>().sessions
    }

    /// The flag the fan-out sets to get a keyframe in the next tick's output.
    pub fn keyframe_request(&self) -> Arc<AtomicBool> {
        self.world.resource::<KeyframeRequest>().0.clone()
    }

    /// The last tick run (0 before the first).
    pub fn tick(&self) -> u64 {
        self.world.resource::<Clock>().tick
    }

    /// Players in the world, connected or waiting to be resumed.
    pub fn player_count(&self) -> usize {
        self.world.resource::<Seats>().sessions.len()
    }

    /// Every player's replicated state, sorted by id: what a client's replica must equal.
    pub fn entities(&mut self) -> Vec<EntityState> {
        let mut out: Vec<EntityState> = self
            .world
            .query::<(&Player, &Position, &Health, &Scoreboard)>()
            .iter(&self.world)
            .map(|(p, pos, h, s)| EntityState {
                id: p.id,
                name: p.name.clone(),
                x: pos.x,
                y: pos.y,
                hp: h.hp,
                score: s.0,
            })
            .collect();
        out.sort_unstable_by_key(|e| e.id);
        out
    }

    /// The world, for inspection in tests and benchmarks.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The world, for setting up tests and benchmarks.
    pub fn world_mut(&mut self) -> &mut World {
        &mut self.world
    }
}
