//! A room's clock: tick N starts at `t0 + N·dt`, computed from N (never by adding up
//! sleeps), so there is no drift over hours. A late tick runs at once and is counted; when a
//! room is more than [`MAX_CATCH_UP`] ticks behind it stops catching up, counts the ticks it
//! skipped, and restarts its schedule from now.

use std::time::{Duration, Instant};

/// Ticks a room runs back to back to catch up before it gives up on them.
pub const MAX_CATCH_UP: u64 = 5;

/// When tick `n` (counted from the schedule's start) is due.
pub fn due(t0: Instant, n: u64, tick_rate: u32) -> Instant {
    let nanos = u128::from(n) * 1_000_000_000 / u128::from(tick_rate.max(1));
    t0 + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// How a tick started relative to when it was due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Within one interval of its due time.
    OnTime,
    /// More than one interval late; it runs now.
    Late,
    /// So late that this many ticks were given up and the schedule restarts from now.
    Skipped(u64),
}

/// One room's schedule.
#[derive(Debug, Clone)]
pub struct Clock {
    t0: Instant,
    n: u64,
    tick_rate: u32,
    interval: Duration,
}

impl Clock {
    /// A schedule whose first tick is due one interval after `t0`.
    pub fn new(t0: Instant, tick_rate: u32) -> Self {
        let tick_rate = tick_rate.max(1);
        Self {
            t0,
            n: 0,
            tick_rate,
            interval: Duration::from_nanos(1_000_000_000 / u64::from(tick_rate)),
        }
    }

    /// When the next tick is due.
    pub fn next_due(&self) -> Instant {
        due(self.t0, self.n + 1, self.tick_rate)
    }

    /// The time between two ticks.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Starts the next tick at `now`: says whether it is on time.
    pub fn start(&mut self, now: Instant) -> Start {
        self.n += 1;
        let due_at = due(self.t0, self.n, self.tick_rate);
        let late_by = now.saturating_duration_since(due_at);
        if late_by <= self.interval {
            return Start::OnTime;
        }
        let behind = (late_by.as_nanos() / self.interval.as_nanos().max(1)) as u64;
        if behind > MAX_CATCH_UP {
            self.t0 = now;
            self.n = 0;
            return Start::Skipped(behind);
        }
        Start::Late
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_times_do_not_drift() {
        let t0 = Instant::now();
        // 30 Hz for ten hours: tick 1,080,000 is due exactly 36,000 s after t0.
        assert_eq!(due(t0, 1_080_000, 30) - t0, Duration::from_secs(36_000));
        assert_eq!(due(t0, 1, 30) - t0, Duration::from_nanos(33_333_333));
        assert_eq!(due(t0, 3, 30) - t0, Duration::from_millis(100));
    }

    #[test]
    fn late_ticks_are_counted_and_far_behind_restarts() {
        let t0 = Instant::now();
        let mut c = Clock::new(t0, 10);
        assert_eq!(c.next_due(), t0 + Duration::from_millis(100));
        assert_eq!(c.start(t0 + Duration::from_millis(150)), Start::OnTime);
        assert_eq!(c.next_due(), t0 + Duration::from_millis(200), "no drift from a late start");
        assert_eq!(c.start(t0 + Duration::from_millis(350)), Start::Late);
        let now = t0 + Duration::from_secs(10);
        assert!(matches!(c.start(now), Start::Skipped(n) if n > MAX_CATCH_UP));
        assert_eq!(c.next_due(), now + Duration::from_millis(100));
    }
}
