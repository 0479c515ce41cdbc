//! The registry: every open room by id, the directory of resume tokens to rooms, and the
//! placement of joins (a named room, or quick play: the fullest open quick-play room with a
//! free seat, else a new one, like Colyseus's joinOrCreate).
//!
//! Seats are counted here so two joins can't both take the last one: a placement takes a
//! seat under the registry's lock, and the room's sim gives it back when the join is refused
//! or resumed an existing player, or when a player leaves for good. A room closes when it has
//! had no seat taken for its linger time; the check and the removal happen under the same
//! lock as placements, so nobody is placed in a closing room.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use skirmish_shared::ResumeToken;
use skirmish_shared::protocol::valid_room_name;
use tokio::sync::mpsc;
use tracing::info;

use super::clock::Clock;
use super::pool::Pool;
use super::{Hooks, Room, RoomHandle, RoomId};
use crate::metrics::Metrics;
use crate::net::fanout::{self, Fanout};
use crate::sim::{SimConfig, Simulation};

/// Where a join asks to play.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomRequest {
    /// The room with this id (opened if there is none).
    Named(String),
    /// Any open quick-play room with a free seat, else a new one.
    QuickPlay,
}

/// Why a join can't be placed in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlaceError {
    /// The room name is not 1–32 of `A–Z a–z 0–9 - _`.
    #[error("invalid room name")]
    InvalidName,
    /// The named room has no free seat.
    #[error("room full")]
    RoomFull,
    /// A new room would be needed, and `--max-rooms` are open.
    #[error("no room available")]
    NoRoomAvailable,
    /// The server is shutting down.
    #[error("server shutting down")]
    ShuttingDown,
}

/// What `GET /rooms` tells of a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomInfo {
    /// The room's id.
    pub id: RoomId,
    /// Players in it, connected or waiting to be resumed.
    pub players: usize,
    /// Players it holds at most.
    pub cap: usize,
}

/// How rooms are made.
#[derive(Debug, Clone)]
pub struct RoomSettings {
    /// Every room's simulation settings (rules, tick rate, seats, grace, base seed); the
    /// room id and seed are set per room.
    pub sim: SimConfig,
    /// Rooms open at most.
    pub max_rooms: usize,
    /// How long an empty room stays open.
    pub linger: Duration,
    /// Ticks a client's queue may stay full before it is disconnected.
    pub stall_ticks: u32,
    /// Sim threads that tick the rooms.
    pub sim_threads: usize,
}

struct Inner {
    rooms: HashMap<RoomId, Arc<RoomHandle>>,
    directory: HashMap<ResumeToken, RoomId>,
    next_quick: u64,
    rooms_made: u64,
    closing: bool,
}

/// The part of the registry the rooms see (to update the directory and close themselves).
pub struct RegistryState {
    inner: Mutex<Inner>,
    epoch: Instant,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for RegistryState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryState").finish_non_exhaustive()
    }
}

impl RegistryState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `t` in nanoseconds since the registry's epoch (0 before it).
    pub fn nanos(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Records the resume tokens a room's tick added and removed.
    pub fn update_directory(&self, room: &RoomId, added: &[ResumeToken], removed: &[ResumeToken]) {
        let mut inner = self.lock();
        for t in removed {
            if inner.directory.get(t) == Some(room) {
                inner.directory.remove(t);
            }
        }
        for t in added {
            inner.directory.insert(*t, room.clone());
        }
    }

    /// Removes `room` if no seat is taken; `true` if it was removed.
    pub fn close_if_empty(&self, room: &Arc<RoomHandle>) -> bool {
        let mut inner = self.lock();
        if room.seats.load(Ordering::Acquire) > 0 {
            return false;
        }
        Self::remove_locked(&mut inner, room);
        self.metrics.set_rooms(inner.rooms.len() as i64);
        true
    }

    /// Removes `room` whatever it holds (it failed).
    pub fn remove(&self, room: &Arc<RoomHandle>) {
        let mut inner = self.lock();
        Self::remove_locked(&mut inner, room);
        self.metrics.set_rooms(inner.rooms.len() as i64);
    }

    fn remove_locked(inner: &mut Inner, room: &Arc<RoomHandle>) {
        if inner.rooms.get(&room.id).is_some_and(|r| Arc::ptr_eq(r, room)) {
            inner.rooms.remove(&room.id);
            inner.directory.retain(|_, id| *id != room.id);
        }
    }

    /// The room is gone for good: its metric series go (a room reopened under the same id
    /// starts afresh).
    pub fn forget_metrics(&self, room: &RoomId) {
        let inner = self.lock();
        if !inner.rooms.contains_key(room) {
            self.metrics.remove_room(room);
        }
    }
}

/// Every open room, and the sim threads that tick them.
#[derive(Debug)]
pub struct Registry {
    state: Arc<RegistryState>,
    settings: RoomSettings,
    hooks: Hooks,
    pool: Pool,
    runtime: tokio::runtime::Handle,
}

impl Registry {
    /// A registry with no room yet, and its sim threads started. Must be called within a
    /// tokio runtime (rooms' fan-out tasks are spawned on it).
    pub fn new(
        settings: RoomSettings,
        metrics: Arc<Metrics>,
        hooks: Hooks,
    ) -> std::io::Result<Self> {
        let pool = Pool::start(settings.sim_threads.max(1))?;
        Ok(Self {
            state: Arc::new(RegistryState {
                inner: Mutex::new(Inner {
                    rooms: HashMap::new(),
                    directory: HashMap::new(),
                    next_quick: 1,
                    rooms_made: 0,
                    closing: false,
                }),
                epoch: Instant::now(),
                metrics,
            }),
            settings,
            hooks,
            pool,
            runtime: tokio::runtime::Handle::current(),
        })
    }

    /// Places a join: a resume token known here returns the player to its room, whatever
    /// the request; otherwise the named room (opened if needed) or quick play. Takes a seat
    /// in the room, which the room's sim keeps or gives back.
    pub fn place(
        &self,
        request: &RoomRequest,
        resume: Option<&ResumeToken>,
    ) -> Result<Arc<RoomHandle>, PlaceError> {
        let mut inner = self.state.lock();
        if inner.closing {
            return Err(PlaceError::ShuttingDown);
        }
        if let Some(room) =
            resume.and_then(|t| inner.directory.get(t)).and_then(|id| inner.rooms.get(id)).cloned()
        {
            // The player holds its seat already; this one comes back if it is resumed.
            room.seats.fetch_add(1, Ordering::AcqRel);
            return Ok(room);
        }
        let room = match request {
            RoomRequest::Named(name) => {
                if !valid_room_name(name) {
                    return Err(PlaceError::InvalidName);
                }
                match inner.rooms.get(name.as_str()) {
                    Some(room) if !room.has_room() => return Err(PlaceError::RoomFull),
                    Some(room) => room.clone(),
                    None => self.open(&mut inner, RoomId::from(name.as_str()), false)?,
                }
            }
            RoomRequest::QuickPlay => {
                let fullest = inner
                    .rooms
                    .values()
                    .filter(|r| r.quick && r.has_room())
                    .max_by_key(|r| (r.fullness(), std::cmp::Reverse(r.id.clone())))
                    .cloned();
                match fullest {
                    Some(room) => room,
                    None => {
                        let id = loop {
                            let id = format!("quick-{}", inner.next_quick);
                            inner.next_quick += 1;
                            if !inner.rooms.contains_key(id.as_str()) {
                                break RoomId::from(id);
                            }
                        };
                        self.open(&mut inner, id, true)?
                    }
                }
            }
        };
        room.seats.fetch_add(1, Ordering::AcqRel);
        Ok(room)
    }

    /// Opens a room: its sim, its fan-out task, its place on a sim thread.
    fn open(
        &self,
        inner: &mut Inner,
        id: RoomId,
        quick: bool,
    ) -> Result<Arc<RoomHandle>, PlaceError> {
        if inner.rooms.len() >= self.settings.max_rooms {
            return Err(PlaceError::NoRoomAvailable);
        }
        let (inbox_tx, inbox_rx) = crossbeam_channel::unbounded();
        let sim_config = SimConfig {
            room: id.to_string(),
            seed: self.settings.sim.seed.wrapping_add(inner.rooms_made),
            ..self.settings.sim.clone()
        };
        inner.rooms_made += 1;
        let sim = Simulation::new(&sim_config, inbox_rx);
        let (fanout_tx, fanout_rx) = mpsc::unbounded_channel();
        let fanout = Fanout::new(sim.keyframe_request(), self.settings.stall_ticks)
            .with_metrics(self.state.metrics.clone());
        self.runtime.spawn(fanout::run(fanout, fanout_rx));
        let clock = Clock::new(Instant::now(), sim_config.tick_rate);
        let handle = Arc::new(RoomHandle {
            id: id.clone(),
            inbox: inbox_tx,
            board: sim.input_board(),
            fanout: fanout_tx,
            cap: sim_config.max_players,
            quick,
            seats: AtomicUsize::new(0),
            players: AtomicUsize::new(0),
            evictable: AtomicUsize::new(0),
            next_due: AtomicU64::new(self.state.nanos(clock.next_due())),
            late_since: AtomicU64::new(0),
        });
        let room = Room {
            handle: handle.clone(),
            sim,
            clock,
            metrics: self.state.metrics.room(&id),
            registry: self.state.clone(),
            linger: self.settings.linger,
            empty_since: None,
            hooks: self.hooks.clone(),
        };
        inner.rooms.insert(id.clone(), handle.clone());
        self.state.metrics.set_rooms(inner.rooms.len() as i64);
        info!(room = %id, quick, "room opened");
        self.pool.add(room);
        Ok(handle)
    }

    /// Every open room, sorted by id.
    pub fn list(&self) -> Vec<RoomInfo> {
        let inner = self.state.lock();
        let mut rooms: Vec<RoomInfo> = inner
            .rooms
            .values()
            .map(|r| RoomInfo { id: r.id.clone(), players: r.players(), cap: r.cap })
            .collect();
        rooms.sort_by(|a, b| a.id.cmp(&b.id));
        rooms
    }

    /// Rooms whose ticks have been late for more than `limit` (a stuck tick counts from
    /// when its tick was due), with how late.
    pub fn late_rooms(&self, limit: Duration) -> Vec<(RoomId, Duration)> {
        let now = self.state.nanos(Instant::now());
        let inner = self.state.lock();
        let mut late = Vec::new();
        for r in inner.rooms.values() {
            let overdue = now.saturating_sub(r.next_due.load(Ordering::Relaxed));
            let since = r.late_since.load(Ordering::Relaxed);
            let late_for = if since == 0 { 0 } else { now.saturating_sub(since - 1) };
            let worst = Duration::from_nanos(overdue.max(late_for));
            if worst > limit {
                late.push((r.id.clone(), worst));
            }
        }
        late
    }

    /// Whether a new player could be placed now: not shutting down, and a room has a free
    /// seat or a new room may be opened.
    pub fn ready(&self) -> bool {
        let inner = self.state.lock();
        if inner.closing {
            return false;
        }
        inner.rooms.len() < self.settings.max_rooms || inner.rooms.values().any(|r| r.has_room())
    }

    /// Stops placing players (the server is draining).
    pub fn stop_placing(&self) {
        self.state.lock().closing = true;
    }

    /// Stops every room's ticks and the sim threads; returns the ticks run in all.
    pub fn shutdown(&self) -> u64 {
        self.stop_placing();
        self.pool.stop();
        let mut inner = self.state.lock();
        inner.rooms.clear();
        inner.directory.clear();
        self.state.metrics.ticks_total()
    }
}
