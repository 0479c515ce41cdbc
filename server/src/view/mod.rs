//! Interest management: with a view radius, each client is sent only the part of the world
//! around its own player (docs/protocol.md, "Views").
//!
//! - [`grid`]: the map cut into view cells, and which cells a player sees.
//! - [`tick`]: what a tick changed, encoded once per cell ([`ViewTick`]), by the sim's last
//!   system.
//! - [`assemble`]: one client's frame, keyframe or welcome body put together from the pieces
//!   of the cells it sees and saw, by the fan-out.

pub mod assemble;
pub mod grid;
pub mod tick;

pub use assemble::{Assembled, Assembler};
pub use grid::Grid;
pub use tick::{ViewBuilder, ViewTick};
