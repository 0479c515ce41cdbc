//! The sim thread's clock: tick N starts at `t0 + N·dt`, computed from N (never by adding
//! up sleeps), so there is no drift over hours. A late tick runs at once and is counted; when
//! the thread is more than [`MAX_CATCH_UP`] ticks behind it stops catching up, logs how many
//! ticks it skipped, and restarts the schedule from now.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tracing::{info, warn};

use super::Simulation;
use crate::link::TickOutput;
use crate::metrics::Metrics;

/// Ticks the loop runs back to back to catch up before it gives up on them.
pub const MAX_CATCH_UP: u64 = 5;

/// When tick `n` (counted from the schedule's start) is due.
pub fn due(t0: Instant, n: u64, tick_rate: u32) -> Instant {
    let nanos = u128::from(n) * 1_000_000_000 / u128::from(tick_rate.max(1));
    t0 + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Runs ticks at `tick_rate` until `stop` is set, handing each tick's output to the fan-out.
/// Returns the simulation.
pub fn run(
    mut sim: Simulation,
    tick_rate: u32,
    stop: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
    outputs: mpsc::UnboundedSender<TickOutput>,
) -> Simulation {
    let interval = Duration::from_nanos(1_000_000_000 / u64::from(tick_rate.max(1)));
    let mut t0 = Instant::now();
    let mut n: u64 = 0;
    info!(tick_rate, "simulation started");
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let due_at = due(t0, n, tick_rate);
        let now = Instant::now();
        if due_at > now {
            // Sleeps at most one interval, so `stop` is seen within a tick.
            std::thread::sleep(due_at - now);
        } else if now - due_at > interval {
            metrics.late_ticks.fetch_add(1, Ordering::Relaxed);
            let behind = ((now - due_at).as_nanos() / interval.as_nanos().max(1)) as u64;
            if behind > MAX_CATCH_UP {
                warn!(behind, tick = sim.tick() + 1, "simulation overloaded, skipping ticks");
                metrics.skipped_ticks.fetch_add(behind, Ordering::Relaxed);
                t0 = now;
                n = 0;
            }
        }
        let started = Instant::now();
        let mut output = sim.step();
        output.started = Some(started);
        metrics.tick_time.record(started.elapsed());
        metrics.ticks.fetch_add(1, Ordering::Relaxed);
        if outputs.send(output).is_err() {
            break; // the fan-out is gone: the server is stopping
        }
    }
    info!(ticks = sim.tick(), "simulation stopped");
    sim
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
}
