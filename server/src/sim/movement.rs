//! Movement: each living player moves one step per input applied this tick, clamped to the
//! map, with the same rule clients predict with (`skirmish_shared::movement::step`).

use bevy_ecs::prelude::{Query, Res};
use skirmish_shared::movement::step;

use super::components::{Controls, Health, Position};
use super::state::Settings;

/// Moves every living player by this tick's inputs. The dead don't move.
pub fn movement(settings: Res<Settings>, mut players: Query<(&Controls, &Health, &mut Position)>) {
    let t = &settings.per_tick;
    for (controls, health, mut pos) in &mut players {
        if controls.move_count == 0 || !health.alive() {
            continue;
        }
        let (mut x, mut y) = (pos.x, pos.y);
        for &dir in &controls.moves[..usize::from(controls.move_count)] {
            (x, y) = step(x, y, dir, t);
        }
        // Only write (and so mark changed) when the player really moved.
        if (x, y) != (pos.x, pos.y) {
            *pos = Position { x, y };
        }
    }
}
