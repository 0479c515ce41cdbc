//! The messages, both directions, as Rust types. The byte layout is in `codec` and in
//! `docs/protocol.md`.
//!
//! The client never sends a position: only intents (a direction no longer than 1, and whether
//! attack is pressed), each with a sequence number the server acknowledges in its frames.

use crate::rules::Rules;

/// Bumped on every incompatible change of the wire format; checked at join.
pub const PROTOCOL_VERSION: u16 = 5;

/// A resume token: 128 random bits handed out in the welcome.
pub type ResumeToken = [u8; 16];

/// Longest display name kept, in characters; longer names are cut ([`crate::clean_name`]).
pub const MAX_NAME_CHARS: usize = 16;

/// Longest room name, in characters (see [`valid_room_name`]).
pub const MAX_ROOM_CHARS: usize = 32;

/// Whether `name` may name a room: 1 to [`MAX_ROOM_CHARS`] characters, each an ASCII letter,
/// digit, `-` or `_` (so a room name is safe as is in a URL, a log line and JSON). The rule
/// for a join's room (`docs/protocol.md`, Rooms); the browser client checks it too.
pub fn valid_room_name(name: &str) -> bool {
    // Every allowed character is one byte, so the byte length is the character count.
    (1..=MAX_ROOM_CHARS).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A player's id, unique for the server's lifetime; never 0.
pub type PlayerId = u32;

/// A movement direction whose length is at most 1 (checked on construction).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Direction {
    x: f32,
    y: f32,
}

/// Why an input's meaning is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// A direction component is NaN or infinite.
    #[error("direction is not finite")]
    NotFinite,
    /// The direction is longer than 1.
    #[error("direction is longer than 1")]
    TooLong,
}

impl Direction {
    /// Slack for clients that normalise in single precision.
    const LENGTH_SLACK: f32 = 1e-3;

    /// A checked direction: finite, length at most 1 (up to rounding slack, which is
    /// normalised away).
    pub fn new(x: f32, y: f32) -> Result<Self, InputError> {
        if !x.is_finite() || !y.is_finite() {
            return Err(InputError::NotFinite);
        }
        let len_sq = x * x + y * y;
        if len_sq <= 1.0 {
            return Ok(Self { x, y });
        }
        let len = len_sq.sqrt();
        if len > 1.0 + Self::LENGTH_SLACK {
            return Err(InputError::TooLong);
        }
        Ok(Self { x: x / len, y: y / len })
    }

    /// Horizontal component, `-1.0..=1.0`; positive is right.
    pub fn x(self) -> f32 {
        self.x
    }

    /// Vertical component, `-1.0..=1.0`; positive is down (canvas coordinates).
    pub fn y(self) -> f32 {
        self.y
    }

    /// Whether this direction moves at all.
    pub fn is_zero(self) -> bool {
        self.x == 0.0 && self.y == 0.0
    }
}

/// One tick's worth of a player's intent.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Input {
    /// Increases by one per input; echoed back as the ack once applied.
    pub seq: u32,
    /// Where to move this tick.
    pub dir: Direction,
    /// Whether the attack key is pressed.
    pub attack: bool,
    /// The newest tick this client has received (from a welcome, frame or keyframe), or 0
    /// if it does not say. The server uses it to keep a slow reader's stream fresh: a client
    /// falling behind what it was sent gets a keyframe instead of a backlog of old frames.
    pub seen: u64,
    /// The tick the client was showing the other players at when it made this input (it
    /// draws them a little in the past, between received ticks), or 0 if it does not say. An
    /// attack is resolved against the other players' positions at that tick, within the
    /// server's rewind limit (lag compensation).
    pub shown: u64,
}

/// Client → server.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMsg {
    /// First message of a connection.
    Join {
        /// Must equal [`PROTOCOL_VERSION`].
        protocol_version: u16,
        /// Shown above the player; the server cleans it ([`crate::clean_name`]) and picks
        /// one if absent or nothing is left.
        name: Option<String>,
        /// The token of an earlier welcome, to get that player back.
        resume: Option<ResumeToken>,
        /// The room to play in, or `None` for quick play (the server picks one). Not checked
        /// by the decoder: the server applies [`valid_room_name`]. A resume token that gets
        /// its player back wins over this: the player returns to its own room.
        room: Option<String>,
        /// A signed seat ticket (its text form, [`crate::seat`]) from the matchmaker: a server
        /// run with a join secret admits only joins that carry a valid one. `None` (left out
        /// on the wire) otherwise.
        seat: Option<String>,
    },
    /// One tick of intent.
    Input(Input),
    /// Asks for a [`ServerMsg::Pong`] echoing `client_time`, to measure round-trip time.
    Ping {
        /// Any number the client wants back (milliseconds of its clock, typically).
        client_time: u32,
    },
    /// "I am leaving for good": the server removes the player at once (everyone is told it
    /// left), closes the connection, and its resume token no longer gets it back. A client
    /// sends this when its user goes away (closes the page), never on a lost connection.
    Leave,
}

/// A player's scoreboard counters, kept by the server for as long as the player is in the
/// room (a resume keeps them). Sent in full with the entity; between keyframes a client
/// updates them from the frame's `killed` events (see [`crate::Replica::apply`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Score {
    /// Players this one killed.
    pub kills: u32,
    /// Times this one died.
    pub deaths: u32,
    /// Kills since its last death.
    pub streak: u32,
}

impl Score {
    /// The killer's counters after a kill.
    pub fn killed_one(self) -> Self {
        Self { kills: self.kills.saturating_add(1), streak: self.streak.saturating_add(1), ..self }
    }

    /// The victim's counters after its death.
    pub fn died(self) -> Self {
        Self { deaths: self.deaths.saturating_add(1), streak: 0, ..self }
    }
}

/// A player's full replicated state. Positions are in subunits ([`crate::SUBUNITS`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EntityState {
    /// The player's id.
    pub id: PlayerId,
    /// Display name.
    pub name: String,
    /// X in subunits.
    pub x: i32,
    /// Y in subunits.
    pub y: i32,
    /// Hit points; 0 means dead (waiting to respawn).
    pub hp: i32,
    /// Kills, deaths and streak.
    pub score: Score,
}

/// The fields of one entity that changed this tick. Positions are deltas against the
/// previous frame; `hp` is the new value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// The player's id.
    pub id: PlayerId,
    /// Change of x in subunits, if x changed.
    pub dx: Option<i32>,
    /// Change of y in subunits, if y changed.
    pub dy: Option<i32>,
    /// New hit points, if they changed.
    pub hp: Option<i32>,
}

/// Something that happened this tick that every client is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A player joined (its state is in the same frame's `spawned`).
    Joined {
        /// Who joined.
        id: PlayerId,
    },
    /// A player left the game.
    Left {
        /// Who left.
        id: PlayerId,
    },
    /// `attacker` hit `target`, who has `hp` left.
    Attacked {
        /// Who attacked.
        attacker: PlayerId,
        /// Who was hit.
        target: PlayerId,
        /// The target's hit points after the hit.
        hp: i32,
    },
    /// `victim` died of `killer`'s hit.
    Killed {
        /// Who died.
        victim: PlayerId,
        /// Whose hit killed them.
        killer: PlayerId,
    },
    /// A dead player came back (new position and hp are in the same frame's changes).
    Respawned {
        /// Who respawned.
        id: PlayerId,
    },
}

/// Everything of one tick a client needs to go from the previous tick's state to this one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Frame {
    /// The tick this frame ends.
    pub tick: u64,
    /// The highest input sequence number of this client applied so far (0 before any).
    pub ack: u32,
    /// Players new since the previous frame, in full.
    pub spawned: Vec<EntityState>,
    /// Only the fields that changed: runs sorted by id (a server with a view radius sends one
    /// run per view cell).
    pub changed: Vec<Change>,
    /// Players gone since the previous frame (they left the game).
    pub removed: Vec<PlayerId>,
    /// What happened this tick, in order.
    pub events: Vec<Event>,
    /// Players still in the game that left this client's view (only from a server with a
    /// view radius; such a server sends frames of 8 fields, this list the 8th).
    pub out_of_view: Vec<PlayerId>,
}

/// The whole world at one tick, sent on join and whenever a client must resynchronise.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Keyframe {
    /// The tick this state is at.
    pub tick: u64,
    /// As in [`Frame::ack`].
    pub ack: u32,
    /// Every player, sorted by id.
    pub entities: Vec<EntityState>,
}

/// The answer to a join.
#[derive(Debug, Clone, PartialEq)]
pub struct Welcome {
    /// The id of the player this connection controls.
    pub player_id: PlayerId,
    /// The server's [`PROTOCOL_VERSION`].
    pub protocol_version: u16,
    /// Ticks per second.
    pub tick_rate: u32,
    /// The rules in force.
    pub rules: Rules,
    /// Presented in a later join, within the grace window, gets this player back.
    pub token: ResumeToken,
    /// Whether this is the player a presented token asked for (`false`: a new player).
    pub resumed: bool,
    /// The room the player is in: the one the join named, the one quick play picked, or (on
    /// a resume) the player's own.
    pub room: String,
    /// The world as of the tick the player joined.
    pub keyframe: Keyframe,
}

/// Server → client.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMsg {
    /// The answer to a join.
    Welcome(Welcome),
    /// One tick's delta.
    Frame(Frame),
    /// A full state that replaces the client's (after it fell behind).
    Keyframe(Keyframe),
    /// The answer to a ping.
    Pong {
        /// The ping's `client_time`, echoed.
        client_time: u32,
        /// How this client's inputs have been arriving, once the server has seen some.
        timing: Option<InputTiming>,
    },
}

/// How a client's inputs arrive at the server, relative to the ticks that use them: a client
/// shifts when it sends so they arrive just in time (its jitter plus a small margin before
/// the tick), neither waiting needlessly nor late.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InputTiming {
    /// How long before the tick that used it an input arrived, averaged over the last few
    /// (microseconds; negative: after its tick — the server repeated the last direction
    /// meanwhile).
    pub lead_us: i32,
    /// How much the time between the client's inputs varies (microseconds, averaged).
    pub jitter_us: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_are_checked() {
        assert_eq!(Direction::new(f32::NAN, 0.0), Err(InputError::NotFinite));
        assert_eq!(Direction::new(0.0, f32::INFINITY), Err(InputError::NotFinite));
        assert_eq!(Direction::new(1.0, 1.0), Err(InputError::TooLong));
        let d = Direction::new(0.7072, 0.7072).expect("within slack");
        assert!(d.x() * d.x() + d.y() * d.y() <= 1.0 + 1e-6);
        assert!(Direction::new(0.0, 0.0).expect("zero").is_zero());
    }

    #[test]
    fn room_names_are_short_url_safe_ascii() {
        let longest = "a".repeat(MAX_ROOM_CHARS);
        for ok in ["a", "Z", "7", "-", "_", "arena", "Arena-2_b", longest.as_str()] {
            assert!(valid_room_name(ok), "{ok:?} should be a valid room name");
        }
        let too_long = "a".repeat(MAX_ROOM_CHARS + 1);
        for bad in [
            "",
            too_long.as_str(),
            "two words",
            " arena",
            "arena\n",
            "a/b",
            "..",
            "a.b",
            "caf\u{e9}",
            // Non-ASCII letters and digits count as letters and digits elsewhere, not here.
            "\u{661}\u{662}",
            "\u{391}",
            "a\0",
            "%20",
        ] {
            assert!(!valid_room_name(bad), "{bad:?} should not be a valid room name");
        }
    }
}
