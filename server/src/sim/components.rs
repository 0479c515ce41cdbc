//! The components of a player entity. Per-tick state lives in fields (tick numbers, flags),
//! never in components added or removed each tick: structural changes cost ~400 ns an entity.

use bevy_ecs::prelude::Component;
use skirmish_shared::{Direction, PlayerId};

/// Who the entity is. Set at spawn, never changed.
#[derive(Component, Debug)]
pub struct Player {
    /// The id clients know the player by.
    pub id: PlayerId,
    /// Display name.
    pub name: String,
}

/// Where the player is, in subunits.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// X in subunits, `0..=max_x`.
    pub x: i32,
    /// Y in subunits, `0..=max_y`.
    pub y: i32,
}

/// Hit points and the bookkeeping of dying.
#[derive(Component, Debug, Clone, Copy)]
pub struct Health {
    /// Hit points; `<= 0` means dead.
    pub hp: i32,
    /// The last player whose hit landed: the killer if this one dies.
    pub last_hit_by: PlayerId,
    /// The tick the player died on, while dead.
    pub died_at: Option<u64>,
}

impl Health {
    /// Whether the player is alive (can move, attack and be hit).
    #[inline]
    pub fn alive(&self) -> bool {
        self.hp > 0
    }
}

/// Inputs per tick a player may use at most: one, plus one more to catch up a tick in which
/// none arrived (inputs bunched up in the network); the input board enforces it.
pub const MAX_MOVES_PER_TICK: usize = 1;

/// The player's inputs: those waiting, and those applied this tick.
#[derive(Component, Debug)]
pub struct Controls {
    /// The player's seat: its slot on the input board, where the reader of the connection
    /// playing it puts validated inputs (at most [`crate::link::INPUT_QUEUE_CAPACITY`]
    /// waiting). Fixed for the player's life; which connection may write to it is the session
    /// core's business.
    pub slot: u32,
    /// Sequence number of the last input applied: the ack clients get.
    pub acked: u32,
    /// The directions applied this tick, one step each.
    pub moves: [Direction; MAX_MOVES_PER_TICK],
    /// How many of `moves` are used this tick.
    pub move_count: u8,
    /// Whether an input applied this tick pressed attack.
    pub attack: bool,
    /// Ticks back the attack is resolved (the tick its client was showing, within the
    /// rewind limit); 0: now.
    pub rewind: u8,
}

impl Controls {
    /// Controls fed from input slot `slot`.
    pub fn new(slot: u32) -> Self {
        Self {
            slot,
            acked: 0,
            moves: [Direction::default(); MAX_MOVES_PER_TICK],
            move_count: 0,
            attack: false,
            rewind: 0,
        }
    }
}

/// The player's scoreboard counters (kills, deaths, streak), changed only by
/// `life::death_and_respawn` and replicated with the entity (clients count kills from the
/// frame's `killed` events in between).
#[derive(Component, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scoreboard(pub skirmish_shared::Score);

/// When the player may attack again.
#[derive(Component, Debug, Clone, Copy, Default)]
pub struct AttackCooldown {
    /// The first tick on which an attack is allowed.
    pub ready_at: u64,
}

/// What clients were last told of this player, to send only what changed.
#[derive(Component, Debug, Clone, Copy, Default)]
pub struct Replicated {
    /// Whether clients have been sent this player at all.
    pub sent: bool,
    /// X as last sent.
    pub x: i32,
    /// Y as last sent.
    pub y: i32,
    /// Hit points as last sent.
    pub hp: i32,
    /// The view cell of the position last sent (0 without a view radius).
    pub cell: u32,
}
