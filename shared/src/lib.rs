//! The Skirmish protocol: what client and server say to each other, how it is encoded, the
//! rules of the game, and the pure helpers both sides run. No I/O here.
//!
//! # Layout
//! - [`protocol`]: the message types, both directions, [`PROTOCOL_VERSION`], and the room
//!   name rule ([`valid_room_name`]).
//! - [`batch`]: the HTTP long-polling transport's batch of length-prefixed messages.
//! - [`codec`]: MessagePack encoding and decoding of every message, and the frame body
//!   writer the server encodes each tick with.
//! - [`wire`]: the MessagePack primitives under `codec`: a shortest-form writer and a
//!   bounds-checked reader.
//! - [`rules`]: the [`Rules`] struct (tutorial defaults) and its per-tick form.
//! - [`movement`]: the movement step, shared for client-side prediction.
//! - [`seat`]: the seat ticket's bytes (a matchmaker's signed admission to one room).
//! - [`names`]: the display name rule ([`clean_name`]) the server applies to every join.
//! - [`replica`]: a client's copy of the world and the delta apply function.

pub mod batch;
pub mod codec;
pub mod movement;
pub mod names;
pub mod protocol;
pub mod replica;
pub mod rules;
pub mod seat;
pub mod wire;

pub use codec::{DecodeError, FrameBodyWriter, WelcomeHead};
pub use names::clean_name;
pub use protocol::{
    Change, ClientMsg, Direction, EntityState, Event, Frame, Input, InputError, InputTiming,
    Keyframe, MAX_NAME_CHARS, MAX_ROOM_CHARS, PROTOCOL_VERSION, PlayerId, ResumeToken, Score,
    ServerMsg, Welcome, valid_room_name,
};
pub use replica::{ApplyError, Replica};
pub use rules::{Rules, RulesError, SUBUNITS, TickRules};
