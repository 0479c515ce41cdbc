//! Fixtures for the criterion benchmarks in `benches/` (and the bot swarm): a real
//! [`Simulation`] filled with joined players, each with the real per-connection queue the sim
//! writes to, and a deterministic stream of inputs for them.
//!
//! The fixture does the untimed work (putting inputs on the sim's input board, emptying the
//! clients' queues) so a benchmark can time exactly one `step`.

use std::time::{Duration, Instant};

use skirmish_server::harness::{LocalClient, LocalRoom};
use skirmish_server::link::{ConnId, TickOutput};
use skirmish_server::net::fanout::{Delivered, Fanout};
use skirmish_server::sim::{SimConfig, Simulation};

use skirmish_shared::{Direction, Input, Rules};

/// Map side in units that keeps the tutorial's density of about one player per 100 square
/// units for `players` players.
pub fn side_for(players: usize) -> u32 {
    ((players as f64 * 100.0).sqrt().ceil() as u32).max(10)
}

/// Rules for `players` players on a map of the tutorial's density, spawned all over it, with
/// no attack cooldown so that exactly the chosen fraction attacks every tick.
pub fn dense_rules(players: usize) -> Rules {
    let side = side_for(players);
    Rules {
        map_width: side,
        map_height: side,
        spawn_min: 0,
        spawn_max: side,
        attack_cooldown_ms: 0,
        ..Rules::default()
    }
}

/// A simulation with players joined through the real inbound channel.
pub struct Arena {
    /// The simulation under test.
    pub sim: Simulation,
    /// The fan-out that queues each tick to the clients.
    pub fanout: Fanout,
    clients: Vec<LocalClient>,
    seq: u32,
    rng: fastrand::Rng,
    /// Bytes the clients received since the arena was made (WebSocket framing included).
    pub received_bytes: usize,
}

impl Arena {
    /// Joins `players` players (all of them connected clients) and runs ticks until they
    /// are all spawned and welcomed.
    pub fn new(players: usize, rules: Rules) -> Self {
        let config = SimConfig { rules, max_players: players, seed: 42, ..SimConfig::default() };
        let mut room = LocalRoom::new(&config, u32::MAX);
        let clients: Vec<LocalClient> =
            (1..=players as ConnId).map(|conn| room.join_discarding(conn)).collect();
        let LocalRoom { sim, fanout, .. } = room;
        let mut arena = Self {
            fanout,
            sim,
            clients,
            seq: 0,
            rng: fastrand::Rng::with_seed(7),
            received_bytes: 0,
        };
        while arena.sim.player_count() < players {
            arena.step_and_deliver();
        }
        arena.step_and_deliver();
        arena
    }

    /// Runs one tick, queues its output to the clients and empties their queues.
    pub fn step_and_deliver(&mut self) -> Delivered {
        let out = self.sim.step();
        let done = self.fanout.deliver(out);
        self.drain();
        done
    }

    /// Runs `iters` ticks, feeding inputs to the first `movers` players before each, and
    /// returns the time spent in the sim thread's work (`step`) alone; delivering each tick
    /// to the clients and emptying their queues is not timed.
    pub fn timed_ticks(&mut self, iters: u64, movers: usize, attack_fraction: f32) -> Duration {
        let mut timed = Duration::ZERO;
        for _ in 0..iters {
            self.feed_some(movers, attack_fraction);
            let start = Instant::now();
            let out = std::hint::black_box(self.step());
            timed += start.elapsed();
            self.fanout.deliver(out);
            self.drain();
        }
        timed
    }

    /// Runs `iters` ticks with every player moving, and returns the time spent in the sim's
    /// step and the fan-out's delivery together (emptying the clients' queues is not timed).
    pub fn timed_ticks_and_fanout(&mut self, iters: u64, attack_fraction: f32) -> Duration {
        let mut timed = Duration::ZERO;
        for _ in 0..iters {
            self.feed_inputs(attack_fraction);
            let start = Instant::now();
            let out = self.sim.step();
            std::hint::black_box(self.fanout.deliver(out));
            timed += start.elapsed();
            self.drain();
        }
        timed
    }

    /// Runs one tick (the sim thread's work only).
    pub fn step(&mut self) -> TickOutput {
        self.sim.step()
    }

    /// Queues a tick's output to the clients and empties their queues (untimed work).
    pub fn deliver(&mut self, out: TickOutput) {
        self.fanout.deliver(out);
        self.drain();
    }

    /// Queues one input for every player: a random direction of full length, with attack
    /// pressed by about `attack_fraction` of them.
    pub fn feed_inputs(&mut self, attack_fraction: f32) {
        self.feed_some(self.clients.len(), attack_fraction);
    }

    /// Like [`feed_inputs`](Self::feed_inputs) for the first `movers` players only; the rest
    /// stand still.
    pub fn feed_some(&mut self, movers: usize, attack_fraction: f32) {
        self.seq += 1;
        for client in self.clients.iter().take(movers) {
            let angle = self.rng.f32() * std::f32::consts::TAU;
            let dir = Direction::new(angle.cos(), angle.sin()).unwrap_or_default();
            let attack = self.rng.f32() < attack_fraction;
            let input = Input { seq: self.seq, dir, attack, seen: 0, shown: 0 };
            let _ = client.send_input(input);
        }
    }

    /// Reads everything written to every client, as their sockets would deliver it.
    pub fn drain(&mut self) {
        for c in &mut self.clients {
            self.received_bytes += c.drain();
        }
    }
}
