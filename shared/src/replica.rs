//! A client's copy of the world, and the one function that moves it from tick to tick.
//!
//! Clients, tests and the load generator all use [`Replica::apply`], so a change to the delta
//! rules can't leave one of them behind. Order within a frame: spawned, then changed, then the
//! events' effect on the scoreboard (a `killed` counts a kill for the killer and a death for
//! the victim, except for a player spawned in this frame: its entity already counts it), then
//! removed (a player may join and leave in the same tick), then out of view.

use std::collections::BTreeMap;

use crate::protocol::{EntityState, Event, Frame, Keyframe, PlayerId};

/// Why a frame can't be applied to the current state. Any of these means the client and
/// server disagree, and the client should ask for (or wait for) a keyframe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The frame is not newer than the state.
    #[error("frame for tick {frame} does not follow tick {state}")]
    Stale {
        /// The frame's tick.
        frame: u64,
        /// The state's tick.
        state: u64,
    },
    /// A spawned id is already present.
    #[error("player {0} spawned twice")]
    DuplicateSpawn(PlayerId),
    /// A changed or removed id is not present.
    #[error("player {0} is unknown")]
    Unknown(PlayerId),
    /// A position delta overflows.
    #[error("position of player {0} overflows")]
    Overflow(PlayerId),
}

/// The world as a client sees it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Replica {
    /// The tick of the last frame or keyframe applied.
    pub tick: u64,
    /// The last ack received.
    pub ack: u32,
    /// Every player by id.
    pub entities: BTreeMap<PlayerId, EntityState>,
}

impl Replica {
    /// The state a keyframe describes.
    pub fn from_keyframe(k: &Keyframe) -> Self {
        Self {
            tick: k.tick,
            ack: k.ack,
            entities: k.entities.iter().map(|e| (e.id, e.clone())).collect(),
        }
    }

    /// Applies one frame. On error the replica is left unchanged.
    pub fn apply(&mut self, f: &Frame) -> Result<(), ApplyError> {
        if f.tick <= self.tick {
            return Err(ApplyError::Stale { frame: f.tick, state: self.tick });
        }
        let mut next = self.entities.clone();
        for e in &f.spawned {
            if next.insert(e.id, e.clone()).is_some() {
                return Err(ApplyError::DuplicateSpawn(e.id));
            }
        }
        for c in &f.changed {
            let e = next.get_mut(&c.id).ok_or(ApplyError::Unknown(c.id))?;
            if let Some(dx) = c.dx {
                e.x = e.x.checked_add(dx).ok_or(ApplyError::Overflow(c.id))?;
            }
            if let Some(dy) = c.dy {
                e.y = e.y.checked_add(dy).ok_or(ApplyError::Overflow(c.id))?;
            }
            if let Some(hp) = c.hp {
                e.hp = hp;
            }
        }
        let spawned_now = |id: PlayerId| f.spawned.iter().any(|e| e.id == id);
        for e in &f.events {
            if let Event::Killed { victim, killer } = *e {
                // The server counts the kill the same way; a killer no longer in the room (or
                // none, or out of view) gets nothing.
                if let Some(v) = next.get_mut(&victim).filter(|_| !spawned_now(victim)) {
                    v.score = v.score.died();
                }
                if let Some(k) = next.get_mut(&killer).filter(|_| !spawned_now(killer)) {
                    k.score = k.score.killed_one();
                }
            }
        }
        for id in f.removed.iter().chain(&f.out_of_view) {
            next.remove(id).ok_or(ApplyError::Unknown(*id))?;
        }
        self.entities = next;
        self.tick = f.tick;
        self.ack = f.ack;
        Ok(())
    }
}
