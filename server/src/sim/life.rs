//! Death and respawn: a player whose hit points reached 0 is killed (everyone is told who
//! killed whom, and the scoreboard counts a kill for the killer and a death for the victim,
//! in the order of the events, as clients replay them), stays dead for the respawn delay,
//! then comes back at a random spawn point with full hit points.

use bevy_ecs::entity::Entity;
use bevy_ecs::prelude::{Query, Res, ResMut};
use skirmish_shared::Event;

use super::components::{Health, Player, Position, Scoreboard};
use super::inputs::spawn_point;
use super::state::{Clock, PlayerEntities, Settings, SpawnRng, TickNews};

/// Marks new deaths and respawns those whose delay is over.
pub fn death_and_respawn(
    clock: Res<Clock>,
    settings: Res<Settings>,
    entities: Res<PlayerEntities>,
    mut rng: ResMut<SpawnRng>,
    mut news: ResMut<TickNews>,
    mut players: Query<(Entity, &Player, &mut Health, &mut Position)>,
    mut scores: Query<&mut Scoreboard>,
) {
    let t = &settings.per_tick;
    for (entity, player, mut health, mut pos) in &mut players {
        match health.died_at {
            None if !health.alive() => {
                health.died_at = Some(clock.tick);
                news.events.push(Event::Killed { victim: player.id, killer: health.last_hit_by });
                if let Ok(mut s) = scores.get_mut(entity) {
                    s.0 = s.0.died();
                }
                // A killer that left the room since its hit counts nothing.
                let killer = entities.by_id.get(&health.last_hit_by).copied();
                if let Some(mut s) = killer.and_then(|k| scores.get_mut(k).ok()) {
                    s.0 = s.0.killed_one();
                }
            }
            Some(died) if clock.tick >= died + t.respawn_ticks => {
                let (x, y) = spawn_point(&mut rng.0, &settings.rules);
                *pos = Position { x, y };
                *health = Health { hp: t.max_hp, last_hit_by: 0, died_at: None };
                news.events.push(Event::Respawned { id: player.id });
            }
            _ => {}
        }
    }
}
