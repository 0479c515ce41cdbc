//! Counters the server keeps about itself, served as text at `/metrics` (Prometheus
//! exposition format): ticks run, late and skipped; tick durations; and how long after a
//! tick started each of its frames was handed to the kernel. Written with relaxed atomics by
//! their one writer each (sim thread, fan-out, writers); read by anyone.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A fixed-bucket latency histogram: 100 µs buckets up to 100 ms, then one overflow bucket.
#[derive(Debug)]
pub struct LatencyHistogram {
    buckets: Box<[AtomicU64]>,
    max_nanos: AtomicU64,
    sum_nanos: AtomicU64,
}

const BUCKET_NANOS: u64 = 100_000;
const BUCKETS: usize = 1001;

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            max_nanos: AtomicU64::new(0),
            sum_nanos: AtomicU64::new(0),
        }
    }
}

impl LatencyHistogram {
    /// Counts one sample.
    pub fn record(&self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let i = usize::try_from(nanos / BUCKET_NANOS).unwrap_or(BUCKETS - 1).min(BUCKETS - 1);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.max_nanos.fetch_max(nanos, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The sum of all samples.
    pub fn sum(&self) -> Duration {
        Duration::from_nanos(self.sum_nanos.load(Ordering::Relaxed))
    }

    /// Samples counted.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    /// The upper edge of the bucket holding quantile `q` (0..=1), or `None` if empty.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += b.load(Ordering::Relaxed);
            if seen >= rank {
                return Some(Duration::from_nanos((i as u64 + 1) * BUCKET_NANOS));
            }
        }
        None
    }

    /// The largest sample.
    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.max_nanos.load(Ordering::Relaxed))
    }
}

/// Everything the server counts about itself.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Ticks run.
    pub ticks: AtomicU64,
    /// Ticks that started more than one tick interval after they were due.
    pub late_ticks: AtomicU64,
    /// Ticks skipped after falling too far behind.
    pub skipped_ticks: AtomicU64,
    /// Time the sim thread spent per tick.
    pub tick_time: LatencyHistogram,
    /// From a tick's start to one of its frames handed to the kernel, over every frame.
    pub frame_delivery: LatencyHistogram,
    /// Frames (and other messages) written to sockets.
    pub frames_sent: AtomicU64,
    /// Bytes of WebSocket payload written.
    pub bytes_sent: AtomicU64,
    /// Open WebSocket connections.
    pub connections: AtomicU64,
}

impl Metrics {
    /// The metrics as Prometheus text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        counter("skirmish_ticks_total", "Ticks run.", self.ticks.load(Ordering::Relaxed));
        counter(
            "skirmish_late_ticks_total",
            "Ticks started over one interval late.",
            self.late_ticks.load(Ordering::Relaxed),
        );
        counter(
            "skirmish_skipped_ticks_total",
            "Ticks skipped when overloaded.",
            self.skipped_ticks.load(Ordering::Relaxed),
        );
        counter(
            "skirmish_frames_sent_total",
            "Messages written to sockets.",
            self.frames_sent.load(Ordering::Relaxed),
        );
        counter(
            "skirmish_bytes_sent_total",
            "WebSocket payload bytes written.",
            self.bytes_sent.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP skirmish_connections Open WebSocket connections.\n# TYPE skirmish_connections gauge\nskirmish_connections {}",
            self.connections.load(Ordering::Relaxed)
        );
        for (name, help, h) in [
            ("skirmish_tick_seconds", "Sim thread time per tick.", &self.tick_time),
            (
                "skirmish_frame_delivery_seconds",
                "Tick start to frame handed to the kernel.",
                &self.frame_delivery,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} summary");
            for q in [0.5, 0.9, 0.99] {
                if let Some(v) = h.quantile(q) {
                    let _ = writeln!(out, "{name}{{quantile=\"{q}\"}} {:.6}", v.as_secs_f64());
                }
            }
            let _ = writeln!(
                out,
                "{name}_max {:.6}\n{name}_sum {:.6}\n{name}_count {}",
                h.max().as_secs_f64(),
                h.sum().as_secs_f64(),
                h.count()
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_the_buckets() {
        let h = LatencyHistogram::default();
        assert_eq!(h.quantile(0.5), None);
        for ms in 1..=100u64 {
            h.record(Duration::from_micros(ms * 1000 - 50));
        }
        assert_eq!(h.count(), 100);
        assert_eq!(h.quantile(0.5), Some(Duration::from_millis(50)));
        assert_eq!(h.quantile(0.99), Some(Duration::from_millis(99)));
        h.record(Duration::from_secs(5));
        assert_eq!(h.max(), Duration::from_secs(5));
        assert!(Metrics::default().render().contains("skirmish_ticks_total 0"));
    }
}
