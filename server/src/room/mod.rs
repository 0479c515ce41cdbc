//! Rooms: one match each. A room is one simulation (a bevy_ecs `World` and its schedule),
//! its input board, its inbox of joins and leaves, and its fan-out task. The [`registry`]
//! keeps the rooms by id and places players in them; the [`pool`] ticks every room on a few
//! sim threads, each room on its own [`clock`].
//!
//! This is where the simulation and the network meet: a [`Room`] runs its sim's ticks and
//! hands each [`TickOutput`](crate::link::TickOutput) to its fan-out; the network side holds
//! a [`RoomHandle`] to send it joins, leaves and inputs.

pub mod clock;
pub mod pool;
pub mod registry;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::link::{Inbound, InputBoard};
use crate::metrics::RoomMetrics;
use crate::net::fanout::FanoutMsg;
use crate::net::outbox::{Close, CloseCode};
use crate::sim::Simulation;
use clock::{Clock, Start};
use registry::RegistryState;

/// A room's id: a name a player chose, or one the server gave a quick-play room.
pub type RoomId = Arc<str>;

/// Called on the sim thread before each tick of each room, with the room's id and the tick
/// about to run. An extension point for embedding (and the tests' way to make a room fail:
/// a panic here is a panic of that room's tick).
pub type TickHook = Arc<dyn Fn(&str, u64) + Send + Sync>;

/// Optional callbacks into the rooms.
#[derive(Clone, Default)]
pub struct Hooks {
    /// See [`TickHook`].
    pub before_tick: Option<TickHook>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks").field("before_tick", &self.before_tick.is_some()).finish()
    }
}

/// What the network side holds of a room: where its joins, leaves and inputs go, and what
/// the registry and health checks read of it.
#[derive(Debug)]
pub struct RoomHandle {
    /// The room's id.
    pub id: RoomId,
    /// Joins and leaves, drained by the room's sim each tick.
    pub inbox: Sender<Inbound>,
    /// Where connections' readers put inputs.
    pub board: Arc<InputBoard>,
    /// The room's fan-out: links are registered here before a join is sent.
    pub fanout: mpsc::UnboundedSender<FanoutMsg>,
    /// Players the room holds at most.
    pub cap: usize,
    /// Whether quick play may place players here (not a named room).
    pub quick: bool,
    /// Seats taken: players in the room plus joins on their way to it. Taken by the
    /// registry (under its lock), given back by the room's sim.
    seats: AtomicUsize,
    /// Players after the last tick.
    players: AtomicUsize,
    /// Seats held by waiting players beyond their share after the last tick: a full room
    /// still takes that many new players.
    evictable: AtomicUsize,
    /// When the next tick is due, in nanoseconds since the registry's epoch.
    next_due: AtomicU64,
    /// Since when the room's ticks have been starting late (nanoseconds since the registry's
    /// epoch, plus one; 0: on time).
    late_since: AtomicU64,
}

impl RoomHandle {
    /// Players in the room after its last tick, connected or waiting to be resumed.
    pub fn players(&self) -> usize {
        self.players.load(Ordering::Relaxed)
    }

    /// Seats taken, counting joins not yet seen by the room.
    pub fn seats_taken(&self) -> usize {
        self.seats.load(Ordering::Acquire)
    }

    /// Whether a new player can be placed here: a free seat, or one a waiting player beyond
    /// its share would give up.
    pub fn has_room(&self) -> bool {
        self.fullness() < self.cap
    }

    /// Seats taken less those a new player could have: how full the room is for placement.
    pub fn fullness(&self) -> usize {
        self.seats_taken().saturating_sub(self.evictable.load(Ordering::Relaxed))
    }
}

/// Whether a room goes on after a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Run it again at this time.
    Next(Instant),
    /// The room closed (empty past its linger, or failed).
    Closed,
}

/// A running room, owned by whichever sim thread runs it.
pub struct Room {
    handle: Arc<RoomHandle>,
    sim: Simulation,
    clock: Clock,
    metrics: RoomMetrics,
    registry: Arc<RegistryState>,
    linger: Duration,
    empty_since: Option<Instant>,
    hooks: Hooks,
}

impl std::fmt::Debug for Room {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Room").field("id", &self.handle.id).finish_non_exhaustive()
    }
}

impl Room {
    /// The room's id.
    pub fn id(&self) -> &RoomId {
        &self.handle.id
    }

    /// When the next tick is due.
    pub fn next_due(&self) -> Instant {
        self.clock.next_due()
    }

    /// Runs the room's next tick (it is due) and hands its output to the fan-out.
    pub fn run_tick(&mut self) -> After {
        let started = Instant::now();
        let start = self.clock.start(started);
        match start {
            Start::OnTime => {
                self.handle.late_since.store(0, Ordering::Relaxed);
            }
            Start::Late | Start::Skipped(_) => {
                self.metrics.late_ticks.inc();
                let since = self.registry.nanos(started).saturating_add(1);
                let _ = self.handle.late_since.compare_exchange(
                    0,
                    since,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
                if let Start::Skipped(behind) = start {
                    warn!(room = %self.handle.id, behind, "room overloaded, skipping ticks");
                    self.metrics.skipped_ticks.inc_by(behind);
                }
            }
        }
        let tick = self.sim.tick() + 1;
        let hooks = &self.hooks;
        let sim = &mut self.sim;
        let id = &self.handle.id;
        let stepped = std::panic::catch_unwind(AssertUnwindSafe(|| {
            if let Some(hook) = &hooks.before_tick {
                hook(id, tick);
            }
            sim.step()
        }));
        let mut output = match stepped {
            Ok(output) => output,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                error!(room = %self.handle.id, tick, panic = %what, "room failed; closing its connections");
                self.close(Close::new(CloseCode::Internal, "room failed"));
                return After::Closed;
            }
        };
        output.started = Some(started);
        self.metrics.tick_time.record(started.elapsed());
        self.metrics.ticks.inc();
        let stats = self.sim.input_stats();
        stats.waits.flush_into(&self.metrics.input_delay);
        if stats.repeats > 0 {
            self.metrics.input_repeats.inc_by(std::mem::take(&mut stats.repeats));
        }
        if stats.trimmed > 0 {
            self.metrics.input_trimmed.inc_by(std::mem::take(&mut stats.trimmed));
        }
        if stats.depth_samples > 0 {
            let mean = stats.depth_sum as f64 / stats.depth_samples as f64;
            self.metrics.input_depth.set(mean);
            (stats.depth_sum, stats.depth_samples) = (0, 0);
        }
        self.metrics.players.set(i64::try_from(output.players).unwrap_or(i64::MAX));
        self.handle.players.store(output.players, Ordering::Relaxed);
        self.handle.evictable.store(output.evictable, Ordering::Relaxed);
        if output.seats_released > 0 {
            self.handle.seats.fetch_sub(output.seats_released, Ordering::AcqRel);
        }
        if !output.tokens_added.is_empty() || !output.tokens_removed.is_empty() {
            self.registry.update_directory(
                &self.handle.id,
                &output.tokens_added,
                &output.tokens_removed,
            );
        }
        if self.handle.fanout.send(FanoutMsg::Tick(Box::new(output))).is_err() {
            return After::Closed; // the fan-out is gone: the server is stopping
        }
        let next = self.clock.next_due();
        self.handle.next_due.store(self.registry.nanos(next), Ordering::Relaxed);
        if self.lingered_out(Instant::now()) {
            return After::Closed;
        }
        After::Next(next)
    }

    /// Closes the room if it has been empty for the linger time.
    fn lingered_out(&mut self, now: Instant) -> bool {
        if self.handle.seats_taken() > 0 {
            self.empty_since = None;
            return false;
        }
        let since = *self.empty_since.get_or_insert(now);
        if now.duration_since(since) < self.linger {
            return false;
        }
        if !self.registry.close_if_empty(&self.handle) {
            return false; // someone was placed here meanwhile
        }
        info!(room = %self.handle.id, ticks = self.sim.tick(), "room closed: empty");
        let _ = self
            .handle
            .fanout
            .send(FanoutMsg::Closed(Close::new(CloseCode::Normal, "room closed")));
        true
    }

    /// Takes the room out of the registry and closes all its connections.
    fn close(&mut self, close: Close) {
        self.registry.remove(&self.handle);
        let _ = self.handle.fanout.send(FanoutMsg::Closed(close));
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        self.registry.forget_metrics(&self.handle.id);
    }
}
