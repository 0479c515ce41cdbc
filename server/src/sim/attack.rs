//! Attacks: every living player that pressed attack with its cooldown over hits every *other*
//! living player within range, for the rule's damage. All of a tick's attacks land together:
//! who attacks is decided before any damage, so a player killed this tick still lands its
//! own hit. The dead can't be hit; a target killed by one attack of the tick is not hit by
//! the attacks after it (the attackers go in the world's order, and the killer is the one
//! whose hit took the last hit points).
//!
//! Lag compensation: an attack whose input said which tick its client was showing (it draws
//! the others a little in the past) is judged against where the others were at that tick —
//! from the attacker's position now — within `--max-rewind-ms`, never further back
//! ([`History`] undoes the moves since). So a hit that looked in range on the attacker's
//! screen counts; the price is the target's: it can be hit where it was up to the rewind
//! limit ago, after it already stepped away on its own screen.
//!
//! Cost is linear: when anyone attacks, the living players go into a grid with cells as wide
//! as the range (plus how far a rewound target can be from where it is now), built by
//! counting sort into flat arrays; each attacker then looks at the 3×3 cells around it, and
//! only a hit touches the target's components again. Nothing is allocated once the buffers
//! have grown.

use bevy_ecs::prelude::{Entity, Local, Query, Res, ResMut};
use skirmish_shared::{Event, PlayerId, TickRules};

use super::components::{AttackCooldown, Controls, Health, Player, Position, Replicated};
use super::state::{Clock, History, Settings, TickEvents};

/// Cells per grid side at the most: on a huge map with a tiny range, cells grow instead.
const MAX_CELLS_PER_SIDE: i32 = 2048;

#[derive(Debug, Clone, Copy)]
struct Attacker {
    id: PlayerId,
    x: i32,
    y: i32,
    /// Ticks back its targets' positions are taken from.
    rewind: u8,
}

/// A living player that may be hit, as the grid keeps it.
#[derive(Debug, Clone, Copy)]
struct Target {
    entity: Entity,
    id: PlayerId,
    x: i32,
    y: i32,
    /// Where clients were last told it is, if they were: the start of a rewind.
    sent: Option<(i32, i32)>,
}

/// Living players bucketed by cell, rebuilt each tick someone attacks.
#[derive(Debug, Default)]
pub struct TargetGrid {
    cell: i32,
    cols: i32,
    rows: i32,
    /// `starts[c]..starts[c + 1]` indexes `sorted` for cell `c`.
    starts: Vec<u32>,
    sorted: Vec<Target>,
    unsorted: Vec<(u32, Target)>,
    /// This tick's attackers.
    attackers: Vec<Attacker>,
}

impl TargetGrid {
    /// Cells as wide as the range plus `reach` (how far a target may have moved since the
    /// furthest tick an attack looks back to).
    fn reset(&mut self, t: &TickRules, reach: i32) {
        let side = t.max_x.max(t.max_y).max(1);
        self.cell = (t.range + reach).max(1).max(side / MAX_CELLS_PER_SIDE + 1);
        self.cols = t.max_x / self.cell + 1;
        self.rows = t.max_y / self.cell + 1;
        self.unsorted.clear();
    }

    fn cell_of(&self, x: i32, y: i32) -> (i32, i32) {
        (x / self.cell, y / self.cell)
    }

    fn push(&mut self, target: Target) {
        let (cx, cy) = self.cell_of(target.x, target.y);
        self.unsorted.push(((cy * self.cols + cx) as u32, target));
    }

    /// Counting sort of the targets by cell.
    fn build(&mut self) {
        let cells = (self.cols * self.rows) as usize;
        self.starts.clear();
        self.starts.resize(cells + 1, 0);
        for &(c, _) in &self.unsorted {
            self.starts[c as usize + 1] += 1;
        }
        for i in 0..cells {
            self.starts[i + 1] += self.starts[i];
        }
        self.sorted.clear();
        let blank = Target { entity: Entity::PLACEHOLDER, id: 0, x: 0, y: 0, sent: None };
        self.sorted.resize(self.unsorted.len(), blank);
        // Fill each cell from its start; `starts[c]` walks forward and is restored below.
        for &(c, target) in &self.unsorted {
            let slot = &mut self.starts[c as usize];
            self.sorted[*slot as usize] = target;
            *slot += 1;
        }
        for i in (1..=cells).rev() {
            self.starts[i] = self.starts[i - 1];
        }
        self.starts[0] = 0;
    }

    /// Targets in the 3×3 cells around `(x, y)`, as one slice per row of cells (the cells of
    /// a row are contiguous in `sorted`); rows off the map are empty.
    fn near(&self, x: i32, y: i32) -> [&[Target]; 3] {
        let (cx, cy) = self.cell_of(x, y);
        let lo = (cx - 1).max(0);
        let hi = (cx + 1).min(self.cols - 1);
        let row = |ny: i32| -> &[Target] {
            if ny < 0 || ny >= self.rows {
                return &[];
            }
            let first = (ny * self.cols + lo) as usize;
            let last = (ny * self.cols + hi) as usize;
            &self.sorted[self.starts[first] as usize..self.starts[last + 1] as usize]
        };
        [row(cy - 1), row(cy), row(cy + 1)]
    }
}

/// Resolves this tick's attacks.
#[allow(clippy::type_complexity)]
pub fn attack(
    clock: Res<Clock>,
    settings: Res<Settings>,
    history: Res<History>,
    mut events: ResMut<TickEvents>,
    mut grid: Local<TargetGrid>,
    mut players: Query<(
        Entity,
        &Player,
        &Position,
        &Controls,
        &mut AttackCooldown,
        &mut Health,
        &Replicated,
    )>,
) {
    let t = &settings.per_tick;
    let now = clock.tick;
    let mut furthest = 0u8;
    let grid = &mut *grid;
    grid.attackers.clear();
    for (_, player, pos, controls, mut cooldown, health, _) in &mut players {
        if controls.attack && health.alive() && now >= cooldown.ready_at {
            cooldown.ready_at = now + t.cooldown_ticks;
            furthest = furthest.max(controls.rewind);
            let a = Attacker { id: player.id, x: pos.x, y: pos.y, rewind: controls.rewind };
            grid.attackers.push(a);
        }
    }
    if grid.attackers.is_empty() {
        return;
    }
    // A target may have moved one step a tick (or respawned: then it is out of reach of
    // this shortcut only if it came from further than that, and is judged where it is).
    let reach = (t.step.ceil() as i32).saturating_mul(i32::from(furthest));
    grid.reset(t, reach);
    for (entity, player, pos, _, _, health, rep) in &players {
        if health.alive() {
            let sent = rep.sent.then_some((rep.x, rep.y));
            grid.push(Target { entity, id: player.id, x: pos.x, y: pos.y, sent });
        }
    }
    grid.build();
    let attackers = std::mem::take(&mut grid.attackers);
    for a in &attackers {
        for target in grid.near(a.x, a.y).into_iter().flatten() {
            if target.id == a.id {
                continue;
            }
            // Where the target was on the attacker's screen: `rewind` ticks back from where
            // clients last saw it (the end of the previous tick).
            let (x, y) = match target.sent {
                Some(seen) if a.rewind > 0 => {
                    let back = now.saturating_sub(u64::from(a.rewind));
                    history.rewind(target.id, seen, now - 1, back).unwrap_or((target.x, target.y))
                }
                _ => (target.x, target.y),
            };
            let (dx, dy) = (i64::from(a.x - x), i64::from(a.y - y));
            if dx * dx + dy * dy > t.range_sq {
                continue;
            }
            let Ok((.., mut health, _)) = players.get_mut(target.entity) else { continue };
            if !health.alive() {
                continue; // killed by an earlier attack of this tick
            }
            health.hp = (health.hp - t.damage).max(0);
            health.last_hit_by = a.id;
            events.0.push(Event::Attacked { attacker: a.id, target: target.id, hp: health.hp });
        }
    }
    grid.attackers = attackers; // its buffer, for the next tick
}
