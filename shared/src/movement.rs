//! The movement rule, shared so that a predicting client moves exactly as the server does.
//!
//! One applied input moves a player for one tick: `step · direction`, rounded half up to whole
//! subunits, then clamped to the map. Only IEEE double operations are used (a JavaScript
//! client gets the same result with `Math.floor(v + 0.5)`).

use crate::protocol::Direction;
use crate::rules::TickRules;

/// The position after one tick of movement in `dir` from `(x, y)`, in subunits.
#[inline]
pub fn step(x: i32, y: i32, dir: Direction, t: &TickRules) -> (i32, i32) {
    let dx = floor(f64::from(dir.x()) * t.step + 0.5);
    let dy = floor(f64::from(dir.y()) * t.step + 0.5);
    (
        (i64::from(x) + dx).clamp(0, i64::from(t.max_x)) as i32,
        (i64::from(y) + dy).clamp(0, i64::from(t.max_y)) as i32,
    )
}

/// `v.floor() as i64` for `|v|` below 2^53, without a call into libm (x86-64's baseline has
/// no rounding instruction, so `f64::floor` is a function call there): truncate, then step
/// down once if that rounded a negative value up. Exact, so clients' `Math.floor` agrees.
#[inline]
fn floor(v: f64) -> i64 {
    let i = v as i64;
    if (i as f64) > v { i - 1 } else { i }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rules;

    #[test]
    fn full_stick_moves_speed_over_tick_rate() {
        let t = Rules::default().per_tick(30);
        let right = Direction::new(1.0, 0.0).expect("valid");
        // 100 units/s at 30 Hz = 3.33 units = 26.67 subunits -> 27.
        assert_eq!(step(800, 800, right, &t), (827, 800));
    }

    #[test]
    fn floor_matches_f64_floor() {
        for v in [-3.5, -3.0, -2.999, -0.5, -0.0, 0.0, 0.49, 0.5, 26.67, 27.0, -26.17, 1e15, -1e15]
        {
            assert_eq!(floor(v), v.floor() as i64, "{v}");
        }
        let t = Rules::default().per_tick(30);
        for k in 0..=4096 {
            let a = f64::from(k) / 4096.0 * std::f64::consts::TAU;
            let v = a.cos() * t.step + 0.5;
            assert_eq!(floor(v), v.floor() as i64, "{v}");
        }
    }

    #[test]
    fn clamped_to_the_map() {
        let t = Rules::default().per_tick(30);
        let up_left = Direction::new(-0.6, -0.8).expect("valid");
        assert_eq!(step(3, 5, up_left, &t), (0, 0));
        let down_right = Direction::new(0.6, 0.8).expect("valid");
        assert_eq!(step(t.max_x - 1, t.max_y, down_right, &t), (t.max_x, t.max_y));
    }
}
