//! Attacks: every living player that pressed attack with its cooldown over hits every *other*
//! living player within range, for the rule's damage. All of a tick's attacks land together:
//! who attacks is decided before any damage, so a player killed this tick still lands its
//! own hit. The dead can't be hit.
//!
//! Lag compensation: an attack whose input said which tick its client was showing (it draws
//! the others a little in the past) is judged against where the others were at that tick —
//! from the attacker's position now — within `--max-rewind-ms`, never further back
//! ([`History`] undoes the moves since). So a hit that looked in range on the attacker's
//! screen counts; the price is the target's: it can be hit where it was up to the rewind
//! limit ago, after it already stepped away on its own screen.
//!
//! Cost is linear: attackers (a few per tick) go into a grid with cells as wide as the range,
//! built by counting sort into flat arrays, with each cell marked "hot" when an attacker is in
//! it or next to it; each living player then looks at its cell's mark, and only in a hot one
//! at the 3×3 cells around it. Nothing is allocated once the buffers have grown. (Tried: the
//! other way round, each attacker looking up targets in a grid of every living player: 10%
//! fewer instructions but slower, as that grid is rebuilt from every player each tick.)

use std::num::NonZeroU32;

use bevy_ecs::prelude::{Local, Query, Res, ResMut};
use skirmish_shared::{Event, PlayerId, TickRules};

use super::components::{AttackCooldown, Controls, Health, Player, Position, Replicated};
use super::state::{Clock, History, Settings, TickNews};

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

/// The attackers of one tick, bucketed by cell.
#[derive(Debug, Default)]
pub struct AttackGrid {
    /// A cell's side (at least 1: a divisor that needs no zero check).
    cell: Option<NonZeroU32>,
    cols: i32,
    rows: i32,
    /// `starts[c]..starts[c + 1]` indexes `sorted` for cell `c`.
    starts: Vec<u32>,
    sorted: Vec<Attacker>,
    unsorted: Vec<(u32, Attacker)>,
    /// Per cell: whether any attacker is in it or its 8 neighbours. Most players stand in a
    /// cell no attack reaches and look no further.
    hot: Vec<bool>,
    /// This tick's attackers before the grid's size is known.
    pending: Vec<Attacker>,
}

impl AttackGrid {
    /// Cells as wide as the range plus `reach` (how far a target may have moved since the
    /// furthest tick an attack looks back to).
    fn reset(&mut self, t: &TickRules, reach: i32) {
        let side = t.max_x.max(t.max_y).max(1);
        let cell = (t.range + reach).max(1).max(side / MAX_CELLS_PER_SIDE + 1);
        self.cell = NonZeroU32::new(cell.unsigned_abs());
        self.cols = t.max_x / cell + 1;
        self.rows = t.max_y / cell + 1;
        self.unsorted.clear();
    }

    /// The cell of a point on the map (coordinates are never negative: unsigned division,
    /// by a divisor known not to be zero, is one instruction).
    fn cell_of(&self, x: i32, y: i32) -> (i32, i32) {
        let cell = self.cell.unwrap_or(NonZeroU32::MIN);
        ((x.max(0) as u32 / cell) as i32, (y.max(0) as u32 / cell) as i32)
    }

    fn push(&mut self, a: Attacker) {
        let (cx, cy) = self.cell_of(a.x, a.y);
        self.unsorted.push(((cy * self.cols + cx) as u32, a));
    }

    /// Counting sort of the attackers by cell.
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
        self.sorted.resize(self.unsorted.len(), Attacker { id: 0, x: 0, y: 0, rewind: 0 });
        // Fill each cell from its start; `starts[c]` walks forward and is restored below.
        for &(c, a) in &self.unsorted {
            let slot = &mut self.starts[c as usize];
            self.sorted[*slot as usize] = a;
            *slot += 1;
        }
        for i in (1..=cells).rev() {
            self.starts[i] = self.starts[i - 1];
        }
        self.starts[0] = 0;
        self.hot.clear();
        self.hot.resize(cells, false);
        for &(c, _) in &self.unsorted {
            let (cx, cy) = ((c as i32) % self.cols, (c as i32) / self.cols);
            for ny in (cy - 1).max(0)..=(cy + 1).min(self.rows - 1) {
                let row = ny * self.cols;
                for nx in (cx - 1).max(0)..=(cx + 1).min(self.cols - 1) {
                    self.hot[(row + nx) as usize] = true;
                }
            }
        }
    }

    /// Attackers in the 3×3 cells around `(x, y)`, as one slice per row of cells (the cells
    /// of a row are contiguous in `sorted`); all empty where no attacker is near.
    fn near(&self, x: i32, y: i32) -> [&[Attacker]; 3] {
        let (cx, cy) = self.cell_of(x, y);
        if !self.hot[(cy * self.cols + cx) as usize] {
            return [&[], &[], &[]];
        }
        let lo = (cx - 1).max(0);
        let hi = (cx + 1).min(self.cols - 1);
        let row = |ny: i32| -> &[Attacker] {
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
    mut news: ResMut<TickNews>,
    mut grid: Local<AttackGrid>,
    mut players: Query<(
        &Player,
        &Position,
        &Controls,
        &mut AttackCooldown,
        &mut Health,
        &Replicated,
    )>,
) {
    let t = &settings.per_tick;
    let mut furthest = 0u8;
    let grid = &mut *grid;
    grid.pending.clear();
    for (player, pos, controls, mut cooldown, health, _) in &mut players {
        if controls.attack && health.alive() && clock.tick >= cooldown.ready_at {
            cooldown.ready_at = clock.tick + t.cooldown_ticks;
            furthest = furthest.max(controls.rewind);
            let a = Attacker { id: player.id, x: pos.x, y: pos.y, rewind: controls.rewind };
            grid.pending.push(a);
        }
    }
    if grid.pending.is_empty() {
        return;
    }
    // A target may have moved one step a tick (or respawned: then it is out of reach of
    // this shortcut only if it came from further than that, and is judged where it is).
    let reach = (t.step.ceil() as i32).saturating_mul(i32::from(furthest));
    grid.reset(t, reach);
    let pending = std::mem::take(&mut grid.pending);
    for &a in &pending {
        grid.push(a);
    }
    grid.pending = pending; // its buffer, for the next tick
    grid.build();
    let now = clock.tick;
    for (player, pos, _, _, mut health, rep) in &mut players {
        if !health.alive() {
            continue;
        }
        for a in grid.near(pos.x, pos.y).into_iter().flatten() {
            // Where this player was on the attacker's screen: `rewind` ticks back from where
            // clients last saw it (the end of the previous tick).
            let (x, y) = if a.rewind == 0 || !rep.sent {
                (pos.x, pos.y)
            } else {
                let back = now.saturating_sub(u64::from(a.rewind));
                history.rewind(player.id, (rep.x, rep.y), now - 1, back).unwrap_or((pos.x, pos.y))
            };
            let (dx, dy) = (i64::from(a.x - x), i64::from(a.y - y));
            if a.id == player.id || dx * dx + dy * dy > t.range_sq {
                continue;
            }
            health.hp = (health.hp - t.damage).max(0);
            health.last_hit_by = a.id;
            news.events.push(Event::Attacked { attacker: a.id, target: player.id, hp: health.hp });
            if !health.alive() {
                break;
            }
        }
    }
}
