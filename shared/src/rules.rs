//! The game rules in one struct, with the tutorial's defaults, and the per-tick numbers both
//! the server and a predicting client derive from them.
//!
//! Positions are fixed-point integers: one map unit is [`SUBUNITS`] subunits. The simulation
//! and the wire use subunits, so a client that applies the deltas holds exactly the server's
//! state, and movement prediction can repeat the server's arithmetic to the bit.

use serde::{Deserialize, Serialize};

/// Subunits per map unit: positions are stored and sent as integers of 1/8 unit.
pub const SUBUNITS: i32 = 8;

/// Every rule of the game. The defaults are the tutorial's where it had one, ours otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Rules {
    /// Width of the map in units; positions are clamped to `0..=map_width`.
    pub map_width: u32,
    /// Height of the map in units; positions are clamped to `0..=map_height`.
    pub map_height: u32,
    /// Lowest spawn coordinate on both axes (tutorial: `randint(0, 100)`, so 0).
    pub spawn_min: u32,
    /// Highest spawn coordinate on both axes (tutorial: 100).
    pub spawn_max: u32,
    /// Movement speed in units per second at full stick; the tutorial moved 5 units a key step.
    pub speed: f32,
    /// Attack reach: every other living player at a distance `<=` this is hit (tutorial: 10).
    pub attack_range: f32,
    /// Hit points an attack takes (tutorial: 10).
    pub attack_damage: u32,
    /// Hit points at spawn (tutorial: 100).
    pub max_hp: u32,
    /// Milliseconds between two attacks of the same player (the tutorial had none).
    pub attack_cooldown_ms: u32,
    /// Milliseconds a killed player stays dead before respawning (the tutorial had none).
    pub respawn_delay_ms: u32,
    /// Side of a player's square when drawn, in units (tutorial: 10); drawing only.
    pub player_size: u32,
    /// How far a client is sent the world around its own player, in units: the view cells'
    /// side (a client sees its cell and the 8 around it: everyone within this distance along
    /// each axis, and no one beyond twice it). 0: the whole map (every client sees everyone).
    pub view_radius: u32,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            map_width: 500,
            map_height: 500,
            spawn_min: 0,
            spawn_max: 100,
            speed: 100.0,
            attack_range: 10.0,
            attack_damage: 10,
            max_hp: 100,
            attack_cooldown_ms: 500,
            respawn_delay_ms: 3000,
            player_size: 10,
            view_radius: 0,
        }
    }
}

/// Why a [`Rules`] value can't be played.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RulesError {
    /// A map side is zero or so large that subunit coordinates would overflow.
    #[error("map size {0}x{1} must be between 1 and 1,000,000 units per side")]
    MapSize(u32, u32),
    /// The spawn range is empty or leaves the map.
    #[error("spawn range {min}..={max} must be non-empty and inside the map")]
    SpawnRange {
        /// Lowest spawn coordinate.
        min: u32,
        /// Highest spawn coordinate.
        max: u32,
    },
    /// A speed or range that is negative, NaN or infinite.
    #[error("{0} must be a finite number >= 0")]
    NotFinite(&'static str),
    /// A speed or range beyond any map (subunit arithmetic would overflow).
    #[error("{0} must be at most 1,000,000 (units, or units per second)")]
    TooLarge(&'static str),
    /// Zero hit points at spawn.
    #[error("max_hp must be at least 1")]
    MaxHp,
    /// A view radius so small for the map that its grid has too many cells.
    #[error(
        "view radius {radius} cuts the map into {cells} view cells, over the limit of 16,384: use a larger radius (or 0, the whole map)"
    )]
    ViewCells {
        /// The view radius.
        radius: u32,
        /// The cells it would make.
        cells: u64,
    },
}

/// The most view cells a map may be cut into (a room keeps a little per cell and tick).
pub const MAX_VIEW_CELLS: u64 = 16_384;

impl Rules {
    /// Checks that the rules describe a playable game.
    pub fn validate(&self) -> Result<(), RulesError> {
        const MAX_SIDE: u32 = 1_000_000;
        if !(1..=MAX_SIDE).contains(&self.map_width) || !(1..=MAX_SIDE).contains(&self.map_height) {
            return Err(RulesError::MapSize(self.map_width, self.map_height));
        }
        if self.spawn_min > self.spawn_max
            || self.spawn_max > self.map_width
            || self.spawn_max > self.map_height
        {
            return Err(RulesError::SpawnRange { min: self.spawn_min, max: self.spawn_max });
        }
        for (name, v) in [("speed", self.speed), ("attack_range", self.attack_range)] {
            if !v.is_finite() || v < 0.0 {
                return Err(RulesError::NotFinite(name));
            }
            // A step or a range wider than the largest map means nothing, and its subunits
            // would overflow the arithmetic of a move or of the attack grid.
            if v > MAX_SIDE as f32 {
                return Err(RulesError::TooLarge(name));
            }
        }
        if self.max_hp == 0 {
            return Err(RulesError::MaxHp);
        }
        if self.view_radius > MAX_SIDE {
            return Err(RulesError::TooLarge("view_radius"));
        }
        if self.view_radius > 0 {
            let cells = |side: u32| u64::from(side / self.view_radius) + 1;
            let n = cells(self.map_width) * cells(self.map_height);
            if n > MAX_VIEW_CELLS {
                return Err(RulesError::ViewCells { radius: self.view_radius, cells: n });
            }
        }
        Ok(())
    }

    /// The numbers the simulation uses each tick at `tick_rate` ticks per second.
    pub fn per_tick(&self, tick_rate: u32) -> TickRules {
        let rate = f64::from(tick_rate.max(1));
        let range = f64::from(self.attack_range) * f64::from(SUBUNITS);
        TickRules {
            step: f64::from(self.speed) * f64::from(SUBUNITS) / rate,
            max_x: self.map_width as i32 * SUBUNITS,
            max_y: self.map_height as i32 * SUBUNITS,
            range_sq: (range * range).floor() as i64,
            range: range.ceil() as i32,
            damage: self.attack_damage.min(i32::MAX as u32) as i32,
            max_hp: self.max_hp.min(i32::MAX as u32) as i32,
            cooldown_ticks: ms_to_ticks(self.attack_cooldown_ms, tick_rate),
            respawn_ticks: ms_to_ticks(self.respawn_delay_ms, tick_rate),
        }
    }
}

/// Milliseconds to whole ticks, rounded up, so a delay is never shorter than asked.
fn ms_to_ticks(ms: u32, tick_rate: u32) -> u64 {
    (u64::from(ms) * u64::from(tick_rate)).div_ceil(1000)
}

/// [`Rules`] turned into per-tick integer subunits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TickRules {
    /// Subunits moved per tick at full stick.
    pub step: f64,
    /// Largest x in subunits.
    pub max_x: i32,
    /// Largest y in subunits.
    pub max_y: i32,
    /// Attack range in subunits, squared: a hit is `dx² + dy² <= range_sq`.
    pub range_sq: i64,
    /// Attack range in subunits, rounded up (the attack grid's cell size).
    pub range: i32,
    /// Damage per hit.
    pub damage: i32,
    /// Hit points at spawn.
    pub max_hp: i32,
    /// Ticks between two attacks of one player.
    pub cooldown_ticks: u64,
    /// Ticks between death and respawn.
    pub respawn_ticks: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_radius_too_small_for_the_map_is_refused() {
        let rules =
            |w, r| Rules { map_width: w, map_height: w, view_radius: r, ..Rules::default() };
        assert_eq!(rules(2000, 100).validate(), Ok(()));
        assert_eq!(rules(12_700, 100).validate(), Ok(()), "128 × 128 cells");
        assert_eq!(
            rules(12_800, 100).validate(),
            Err(RulesError::ViewCells { radius: 100, cells: 129 * 129 })
        );
        assert_eq!(rules(1_000_000, 0).validate(), Ok(()), "0: the whole map, no cells");
        assert_eq!(rules(1_000_000, 1_000_000).validate(), Ok(()), "one cell");
        assert_eq!(
            rules(1_000_000, 1_000_001).validate(),
            Err(RulesError::TooLarge("view_radius"))
        );
    }

    #[test]
    fn defaults_are_the_tutorials() {
        let r = Rules::default();
        assert_eq!((r.spawn_min, r.spawn_max), (0, 100));
        assert_eq!((r.attack_range, r.attack_damage, r.max_hp), (10.0, 10, 100));
        r.validate().expect("defaults are valid");
    }

    #[test]
    fn per_tick_numbers() {
        let t = Rules::default().per_tick(30);
        assert_eq!(t.range_sq, 80 * 80);
        assert_eq!(t.cooldown_ticks, 15);
        assert_eq!(t.respawn_ticks, 90);
        assert!((t.step - 800.0 / 30.0).abs() < 1e-9);
        assert_eq!(
            Rules { attack_cooldown_ms: 10, ..Rules::default() }.per_tick(30).cooldown_ticks,
            1
        );
    }

    #[test]
    fn invalid_rules_are_named() {
        let bad = Rules { speed: f32::NAN, ..Rules::default() };
        assert_eq!(bad.validate(), Err(RulesError::NotFinite("speed")));
        let bad = Rules { speed: 3.5e19, ..Rules::default() };
        assert_eq!(bad.validate(), Err(RulesError::TooLarge("speed")));
        let bad = Rules { attack_range: 2e6, ..Rules::default() };
        assert_eq!(bad.validate(), Err(RulesError::TooLarge("attack_range")));
        let bad = Rules { map_width: 0, ..Rules::default() };
        assert!(matches!(bad.validate(), Err(RulesError::MapSize(0, _))));
        let bad = Rules { map_height: 1_000_001, ..Rules::default() };
        assert!(matches!(bad.validate(), Err(RulesError::MapSize(_, 1_000_001))));
        let bad = Rules { attack_range: -1.0, ..Rules::default() };
        assert_eq!(bad.validate(), Err(RulesError::NotFinite("attack_range")));
        let bad = Rules { max_hp: 0, ..Rules::default() };
        assert_eq!(bad.validate(), Err(RulesError::MaxHp));
        let bad = Rules { spawn_max: 600, ..Rules::default() };
        assert!(matches!(bad.validate(), Err(RulesError::SpawnRange { .. })));
    }
}
