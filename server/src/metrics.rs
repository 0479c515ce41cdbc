//! What the server counts about itself, kept in a prometheus-client `Registry` and served at
//! `/metrics` in the OpenMetrics text format: per-room tick counts, tick durations and input
//! delays (label `room`), plus server-wide frame delivery, bytes sent, connections and rooms.
//!
//! Histograms are our own lock-free [`Histogram`] (prometheus-client's takes a lock per
//! observation, and a sim thread records thousands of samples a tick); a system that records
//! many samples in a tick fills a plain [`LocalHistogram`] and flushes it once.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::exemplar::Exemplar;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::{Registry, Unit};

/// The `Content-Type` of [`Metrics::render`]'s output. Served as `text/plain; version=0.0.4`
/// instead, Prometheus would not tie the `_total` samples to their counters' `# TYPE` lines.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds (inclusive, in nanoseconds) of the finite buckets: fine enough for a tick's
/// sim time (tens of µs) and coarse enough for a late frame (seconds).
const BOUNDS_NANOS: [u64; 15] = [
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
];

/// The finite buckets and the `+Inf` one.
const BUCKETS: usize = BOUNDS_NANOS.len() + 1;

/// A sample's length in nanoseconds; beyond `u64::MAX` ns (584 years) is not a real sample.
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The bucket a sample of `nanos` falls in: the first whose bound is not below it.
fn bucket_of(nanos: u64) -> usize {
    BOUNDS_NANOS.partition_point(|&bound| bound < nanos)
}

/// A lock-free histogram of durations with fixed buckets (50 µs … 2.5 s, then `+Inf`).
///
/// Clones share the same counts. [`record`](Self::record) is two relaxed `fetch_add`s, so any
/// number of threads may record at once; a reader may see a sample's bucket before its sum.
/// The sum is kept in nanoseconds and wraps after 2⁶⁴ ns (584 years) of summed samples, which
/// Prometheus reads as a counter reset.
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    inner: Arc<HistogramCounts>,
}

/// The counts a [`Histogram`] and its clones share.
#[derive(Debug, Default)]
struct HistogramCounts {
    /// Samples per bucket, not cumulative: a record touches one bucket only.
    buckets: [AtomicU64; BUCKETS],
    /// Sum of all samples in nanoseconds, wrapping.
    sum_nanos: AtomicU64,
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one sample.
    pub fn record(&self, d: Duration) {
        let nanos = nanos(d);
        self.inner.buckets[bucket_of(nanos)].fetch_add(1, Ordering::Relaxed);
        self.inner.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Samples counted. Derived from the buckets, so it always equals the `+Inf` bucket.
    pub fn count(&self) -> u64 {
        self.bucket_counts().iter().sum()
    }

    /// The sum of all samples.
    pub fn sum(&self) -> Duration {
        Duration::from_nanos(self.inner.sum_nanos.load(Ordering::Relaxed))
    }

    /// The upper bound of the bucket holding quantile `q` (clamped to 0..=1), `Duration::MAX`
    /// if that is the `+Inf` bucket, or `None` if nothing was recorded.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let counts = self.bucket_counts();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        // The rank of the sample at q, 1-based; the float round trip is exact below 2^53.
        let rank = ((total as f64) * q.clamp(0.0, 1.0)).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, count) in counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(
                    BOUNDS_NANOS.get(i).map_or(Duration::MAX, |&b| Duration::from_nanos(b)),
                );
            }
        }
        Some(Duration::MAX)
    }

    /// A snapshot of the per-bucket (not cumulative) counts.
    fn bucket_counts(&self) -> [u64; BUCKETS] {
        std::array::from_fn(|i| self.inner.buckets[i].load(Ordering::Relaxed))
    }
}

impl TypedMetric for Histogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Histogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let counts = self.bucket_counts();
        // The encoder makes the bucket counts cumulative itself.
        let buckets: [(f64, u64); BUCKETS] = std::array::from_fn(|i| {
            let bound = BOUNDS_NANOS.get(i).map_or(f64::INFINITY, |&b| b as f64 / 1e9);
            (bound, counts[i])
        });
        let sum = self.inner.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        encoder.encode_histogram(
            sum,
            counts.iter().sum(),
            &buckets,
            None::<&HashMap<usize, Exemplar<NoLabelSet, f64>>>,
        )
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// A thread's private tally for a [`Histogram`]: plain integers, so recording costs no atomic
/// operation. Flush it into the shared histogram once per tick.
#[derive(Clone, Debug, Default)]
pub struct LocalHistogram {
    /// Samples per bucket, not cumulative.
    buckets: [u64; BUCKETS],
    /// Sum of the samples in nanoseconds, wrapping like the shared histogram's.
    sum_nanos: u64,
}

impl LocalHistogram {
    /// An empty tally.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one sample.
    pub fn record(&mut self, d: Duration) {
        let nanos = nanos(d);
        self.buckets[bucket_of(nanos)] += 1;
        self.sum_nanos = self.sum_nanos.wrapping_add(nanos);
    }

    /// Samples counted since the last flush.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// Adds the samples to `histogram` (one `fetch_add` per non-empty bucket, plus the sum)
    /// and empties this tally for the next tick.
    pub fn flush_into(&mut self, histogram: &Histogram) {
        if self.count() == 0 {
            return;
        }
        for (shared, local) in histogram.inner.buckets.iter().zip(&mut self.buckets) {
            if *local > 0 {
                shared.fetch_add(std::mem::take(local), Ordering::Relaxed);
            }
        }
        histogram.inner.sum_nanos.fetch_add(std::mem::take(&mut self.sum_nanos), Ordering::Relaxed);
    }
}

/// The label every per-room series carries: `room="<id>"`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RoomLabel {
    /// The room's id.
    room: String,
}

/// The label of refused seats: `reason="forged"` and so on.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    /// Why.
    reason: &'static str,
}

/// One room's metrics, labelled `room="<id>"`. Clones share the same series; the room's sim
/// thread keeps one and updates it without locks.
#[derive(Clone, Debug)]
pub struct RoomMetrics {
    /// Sim-thread time per tick (`skirmish_tick_duration_seconds`).
    pub tick_time: Histogram,
    /// From an input's arrival at the server to the tick that applied it
    /// (`skirmish_input_delay_seconds`).
    pub input_delay: Histogram,
    /// Ticks run (`skirmish_ticks_total`).
    pub ticks: Counter,
    /// Ticks that started more than one tick interval after they were due
    /// (`skirmish_late_ticks_total`).
    pub late_ticks: Counter,
    /// Ticks skipped after falling too far behind (`skirmish_skipped_ticks_total`).
    pub skipped_ticks: Counter,
    /// Players in the room (`skirmish_players`).
    pub players: Gauge,
    /// Ticks a seat's de-jitter buffer was dry and its last direction repeated
    /// (`skirmish_input_repeats_total`).
    pub input_repeats: Counter,
    /// Inputs dropped to trim a de-jitter buffer grown too deep
    /// (`skirmish_input_trimmed_total`).
    pub input_trimmed: Counter,
    /// Mean inputs waiting in a sampled seat's buffer at the start of the last tick
    /// (`skirmish_input_buffer_depth`).
    pub input_depth: Gauge<f64, AtomicU64>,
}

/// Tick counts of rooms already removed, so the server-wide totals still include them.
#[derive(Debug, Default)]
struct RemovedRoomTicks {
    /// Ticks run.
    ticks: AtomicU64,
    /// Late ticks.
    late: AtomicU64,
    /// Skipped ticks.
    skipped: AtomicU64,
}

/// Everything the server counts about itself, in a prometheus-client `Registry`. `Send + Sync`;
/// share it as `Arc<Metrics>`.
#[derive(Debug)]
pub struct Metrics {
    /// Owns a handle to every metric below, for [`render`](Self::render).
    registry: Registry,
    /// Per-room tick durations.
    tick_time: Family<RoomLabel, Histogram>,
    /// Per-room input delays.
    input_delay: Family<RoomLabel, Histogram>,
    /// Per-room ticks run.
    ticks: Family<RoomLabel, Counter>,
    /// Per-room late ticks.
    late_ticks: Family<RoomLabel, Counter>,
    /// Per-room skipped ticks.
    skipped_ticks: Family<RoomLabel, Counter>,
    /// Per-room player counts.
    players: Family<RoomLabel, Gauge>,
    /// Per-room de-jitter repeats, trims and depth.
    input_repeats: Family<RoomLabel, Counter>,
    input_trimmed: Family<RoomLabel, Counter>,
    input_depth: Family<RoomLabel, Gauge<f64, AtomicU64>>,
    /// Tick start to frame handed to the kernel, every frame of every room.
    frame_delivery: Histogram,
    /// Frames (and other messages) written to sockets.
    frames_sent: Counter,
    /// Payload bytes of the welcomes, frames and keyframes written.
    bytes_sent: Counter,
    /// Frames not sent because the client's socket took no more.
    frames_behind: Counter,
    /// Frames held back from paced clients that had not read what they were sent.
    frames_held: Counter,
    /// Open game connections: WebSocket connections and polling sessions.
    connections: Gauge,
    /// Open long-polling sessions (counted in `connections` too).
    polling_sessions: Gauge,
    /// Long-polling `GET`s held open, waiting for messages.
    polls_waiting: Gauge,
    /// Open rooms.
    rooms: Gauge,
    /// Joins refused for their seat (`--join-secret`), by reason.
    seats_refused: Family<ReasonLabel, Counter>,
    /// The handles given out by [`room`](Self::room), by room id: the families cannot be
    /// iterated outside prometheus-client, and the totals need every live room.
    open_rooms: Mutex<HashMap<String, RoomMetrics>>,
    /// What removed rooms counted.
    removed: RemovedRoomTicks,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric registered, all zero, no rooms.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let tick_time = Family::<RoomLabel, Histogram>::default();
        let input_delay = Family::<RoomLabel, Histogram>::default();
        let ticks = Family::<RoomLabel, Counter>::default();
        let late_ticks = Family::<RoomLabel, Counter>::default();
        let skipped_ticks = Family::<RoomLabel, Counter>::default();
        let players = Family::<RoomLabel, Gauge>::default();
        let input_repeats = Family::<RoomLabel, Counter>::default();
        let input_trimmed = Family::<RoomLabel, Counter>::default();
        let input_depth = Family::<RoomLabel, Gauge<f64, AtomicU64>>::default();
        let frame_delivery = Histogram::new();
        let frames_sent = Counter::default();
        let bytes_sent = Counter::default();
        let frames_behind = Counter::default();
        let frames_held = Counter::default();
        let connections = Gauge::default();
        let polling_sessions = Gauge::default();
        let polls_waiting = Gauge::default();
        let rooms = Gauge::default();

        // prometheus-client appends "_total" to counters, the unit to the others, and a full
        // stop to every help text.
        registry.register_with_unit(
            "skirmish_tick_duration",
            "Sim thread time per tick",
            Unit::Seconds,
            tick_time.clone(),
        );
        registry.register_with_unit(
            "skirmish_input_delay",
            "From an input's arrival at the server to the tick that applied it (the inputs of one seat in 8, a different eighth each tick)",
            Unit::Seconds,
            input_delay.clone(),
        );
        registry.register(
            "skirmish_input_repeats",
            "Ticks a seat's de-jitter buffer was dry and its streaming client's last direction was repeated (underruns)",
            input_repeats.clone(),
        );
        registry.register(
            "skirmish_input_trimmed",
            "Inputs dropped (acknowledged, not moved) to trim a de-jitter buffer grown too deep",
            input_trimmed.clone(),
        );
        registry.register(
            "skirmish_input_buffer_depth",
            "Mean inputs waiting in a seat's de-jitter buffer at the start of the last tick (the seats of one in 8)",
            input_depth.clone(),
        );
        registry.register("skirmish_ticks", "Ticks run", ticks.clone());
        registry.register(
            "skirmish_late_ticks",
            "Ticks started more than one tick interval after they were due",
            late_ticks.clone(),
        );
        registry.register(
            "skirmish_skipped_ticks",
            "Ticks skipped after falling too far behind",
            skipped_ticks.clone(),
        );
        registry.register("skirmish_players", "Players in the room", players.clone());
        registry.register_with_unit(
            "skirmish_frame_delivery",
            "From a tick's start to one of its frames handed to the kernel, all rooms",
            Unit::Seconds,
            frame_delivery.clone(),
        );
        registry.register(
            "skirmish_frames_sent",
            "Welcomes, frames and keyframes written to sockets (not pongs or pings)",
            frames_sent.clone(),
        );
        registry.register(
            "skirmish_frames_behind",
            "Frames not sent because a client's socket took no more (it gets a keyframe later)",
            frames_behind.clone(),
        );
        registry.register(
            "skirmish_frames_held",
            "Frames held back from a client reading slower than the stream (it reported the ticks it received; it gets a keyframe once caught up)",
            frames_held.clone(),
        );
        registry.register(
            "skirmish_bytes_sent",
            "Payload bytes of the messages counted in skirmish_frames_sent",
            bytes_sent.clone(),
        );
        registry.register(
            "skirmish_connections",
            "Open game connections: WebSocket connections and long-polling sessions",
            connections.clone(),
        );
        registry.register(
            "skirmish_polling_sessions",
            "Open long-polling sessions (counted in skirmish_connections too)",
            polling_sessions.clone(),
        );
        registry.register(
            "skirmish_polls_waiting",
            "Long-polling GETs held open, waiting for messages",
            polls_waiting.clone(),
        );
        registry.register("skirmish_rooms", "Open rooms", rooms.clone());
        let seats_refused = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "skirmish_seats_refused",
            "Joins refused for their seat ticket (--join-secret), by reason: missing, malformed, forged, expired, wrong_room, rate_limited",
            seats_refused.clone(),
        );

        Self {
            registry,
            tick_time,
            input_delay,
            ticks,
            late_ticks,
            skipped_ticks,
            players,
            input_repeats,
            input_trimmed,
            input_depth,
            frame_delivery,
            frames_sent,
            bytes_sent,
            frames_behind,
            frames_held,
            connections,
            polling_sessions,
            polls_waiting,
            rooms,
            seats_refused,
            open_rooms: Mutex::default(),
            removed: RemovedRoomTicks::default(),
        }
    }

    /// The handles for `room`'s series, created (at zero) on first use; later calls return
    /// handles to the same series.
    pub fn room(&self, room: &str) -> RoomMetrics {
        let mut open = self.open_rooms();
        match open.entry(room.to_owned()) {
            Entry::Occupied(e) => e.get().clone(),
            Entry::Vacant(e) => {
                let label = RoomLabel { room: room.to_owned() };
                let handles = RoomMetrics {
                    tick_time: self.tick_time.get_or_create_owned(&label),
                    input_delay: self.input_delay.get_or_create_owned(&label),
                    ticks: self.ticks.get_or_create_owned(&label),
                    late_ticks: self.late_ticks.get_or_create_owned(&label),
                    skipped_ticks: self.skipped_ticks.get_or_create_owned(&label),
                    players: self.players.get_or_create_owned(&label),
                    input_repeats: self.input_repeats.get_or_create_owned(&label),
                    input_trimmed: self.input_trimmed.get_or_create_owned(&label),
                    input_depth: self.input_depth.get_or_create_owned(&label),
                };
                e.insert(handles).clone()
            }
        }
    }

    /// Drops every series labelled with `room`, so closed rooms don't pile up in `/metrics`.
    /// Its tick counts stay in [`ticks_total`](Self::ticks_total) and friends. Call it once the
    /// room's sim thread has stopped: what a leftover handle records afterwards is lost.
    pub fn remove_room(&self, room: &str) {
        let Some(handles) = self.open_rooms().remove(room) else {
            return;
        };
        self.removed.ticks.fetch_add(handles.ticks.get(), Ordering::Relaxed);
        self.removed.late.fetch_add(handles.late_ticks.get(), Ordering::Relaxed);
        self.removed.skipped.fetch_add(handles.skipped_ticks.get(), Ordering::Relaxed);
        let label = RoomLabel { room: room.to_owned() };
        self.tick_time.remove(&label);
        self.input_delay.remove(&label);
        self.ticks.remove(&label);
        self.late_ticks.remove(&label);
        self.skipped_ticks.remove(&label);
        self.players.remove(&label);
        self.input_repeats.remove(&label);
        self.input_trimmed.remove(&label);
        self.input_depth.remove(&label);
    }

    /// From a tick's start to one of its frames handed to the kernel, over every frame.
    pub fn frame_delivery(&self) -> &Histogram {
        &self.frame_delivery
    }

    /// Counts `frames` messages of `bytes` payload bytes in all written to sockets.
    pub fn frames_sent(&self, frames: u64, bytes: u64) {
        self.frames_sent.inc_by(frames);
        self.bytes_sent.inc_by(bytes);
    }

    /// Counts frames not sent: `behind` to clients whose socket took no more, `held` to paced
    /// clients that had not read what they were sent.
    pub fn frames_not_sent(&self, behind: u64, held: u64) {
        if behind > 0 {
            self.frames_behind.inc_by(behind);
        }
        if held > 0 {
            self.frames_held.inc_by(held);
        }
    }

    /// Counts a WebSocket connection opened.
    pub fn connection_opened(&self) {
        self.connections.inc();
    }

    /// Counts a join refused for its seat, for `reason` (a fixed word).
    pub fn seat_refused(&self, reason: &'static str) {
        self.seats_refused.get_or_create(&ReasonLabel { reason }).inc();
    }

    /// Counts a WebSocket connection closed.
    pub fn connection_closed(&self) {
        self.connections.dec();
    }

    /// Counts a long-polling session opened (a connection too).
    pub fn polling_session_opened(&self) {
        self.connections.inc();
        self.polling_sessions.inc();
    }

    /// Counts a long-polling session closed.
    pub fn polling_session_closed(&self) {
        self.connections.dec();
        self.polling_sessions.dec();
    }

    /// Counts a long-polling `GET` that starts (`+1`) or stops (`-1`) waiting.
    pub fn polls_waiting(&self, delta: i64) {
        self.polls_waiting.inc_by(delta);
    }

    /// Sets the number of open rooms.
    pub fn set_rooms(&self, n: i64) {
        self.rooms.set(n);
    }

    /// The registry in the OpenMetrics text format (send it with [`CONTENT_TYPE`]). Rooms'
    /// series appear in no particular order; a family with no room yet is left out.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail, and our metrics' encoders fail only on a write.
        if let Err(error) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(%error, "encoding metrics failed");
        }
        out
    }

    /// Ticks run by every room since the server started, removed rooms included.
    pub fn ticks_total(&self) -> u64 {
        self.removed.ticks.load(Ordering::Relaxed)
            + self.open_rooms().values().map(|r| r.ticks.get()).sum::<u64>()
    }

    /// Late ticks of every room since the server started, removed rooms included.
    pub fn late_ticks_total(&self) -> u64 {
        self.removed.late.load(Ordering::Relaxed)
            + self.open_rooms().values().map(|r| r.late_ticks.get()).sum::<u64>()
    }

    /// Skipped ticks of every room since the server started, removed rooms included.
    pub fn skipped_ticks_total(&self) -> u64 {
        self.removed.skipped.load(Ordering::Relaxed)
            + self.open_rooms().values().map(|r| r.skipped_ticks.get()).sum::<u64>()
    }

    /// Frames (and other messages) written to sockets.
    pub fn frames_sent_total(&self) -> u64 {
        self.frames_sent.get()
    }

    /// Payload bytes of the welcomes, frames and keyframes written.
    pub fn bytes_sent_total(&self) -> u64 {
        self.bytes_sent.get()
    }

    /// Open game connections (WebSocket connections and polling sessions).
    pub fn connections(&self) -> i64 {
        self.connections.get()
    }

    /// The room handles, whether or not a thread panicked holding the lock: the map holds
    /// only handles, so it is never left half-updated.
    fn open_rooms(&self) -> MutexGuard<'_, HashMap<String, RoomMetrics>> {
        self.open_rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn samples_land_in_the_first_bucket_not_below_them() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(50_000), 0);
        assert_eq!(bucket_of(50_001), 1);
        assert_eq!(bucket_of(1_000_000), 4);
        assert_eq!(bucket_of(2_500_000_000), BUCKETS - 2);
        assert_eq!(bucket_of(2_500_000_001), BUCKETS - 1);
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles_are_upper_bucket_edges() {
        let h = Histogram::new();
        assert_eq!(h.quantile(0.5), None);
        for _ in 0..90 {
            h.record(Duration::from_micros(700)); // ≤ 1 ms
        }
        for _ in 0..9 {
            h.record(ms(20)); // ≤ 25 ms
        }
        h.record(Duration::from_secs(5)); // +Inf
        assert_eq!(h.count(), 100);
        assert_eq!(h.sum(), Duration::from_micros(90 * 700) + ms(9 * 20) + Duration::from_secs(5));
        assert_eq!(h.quantile(0.0), Some(ms(1)));
        assert_eq!(h.quantile(0.5), Some(ms(1)));
        assert_eq!(h.quantile(0.9), Some(ms(1)));
        assert_eq!(h.quantile(0.91), Some(ms(25)));
        assert_eq!(h.quantile(0.99), Some(ms(25)));
        assert_eq!(h.quantile(1.0), Some(Duration::MAX));
        assert_eq!(h.quantile(7.0), Some(Duration::MAX));
    }

    #[test]
    fn a_local_tally_flushes_and_starts_again() {
        let h = Histogram::new();
        let mut local = LocalHistogram::new();
        for _ in 0..1000 {
            local.record(Duration::from_micros(80));
        }
        local.record(ms(3));
        assert_eq!(h.count(), 0);
        local.flush_into(&h);
        assert_eq!(local.count(), 0);
        assert_eq!(h.count(), 1001);
        assert_eq!(h.sum(), Duration::from_micros(80_000) + ms(3));
        assert_eq!(h.quantile(0.999), Some(Duration::from_micros(100)));
        assert_eq!(h.quantile(1.0), Some(ms(5)));
        local.flush_into(&h);
        assert_eq!(h.count(), 1001);
    }

    #[test]
    fn records_from_two_threads_add_up() {
        let h = Histogram::new();
        std::thread::scope(|s| {
            let direct = h.clone();
            s.spawn(move || {
                for _ in 0..10_000 {
                    direct.record(Duration::from_micros(200));
                }
            });
            s.spawn(|| {
                let mut local = LocalHistogram::new();
                for i in 0..10_000 {
                    local.record(ms(2));
                    if i % 100 == 99 {
                        local.flush_into(&h);
                    }
                }
            });
        });
        assert_eq!(h.count(), 20_000);
        assert_eq!(h.sum(), Duration::from_micros(10_000 * 200) + ms(10_000 * 2));
        assert_eq!(h.quantile(0.5), Some(Duration::from_micros(250)));
        assert_eq!(h.quantile(0.51), Some(ms(5) / 2));
    }

    #[test]
    fn render_shows_rooms_counters_and_cumulative_buckets() {
        let m = Metrics::new();
        let a = m.room("a");
        for _ in 0..3 {
            a.ticks.inc();
        }
        a.late_ticks.inc();
        a.players.set(2);
        a.tick_time.record(Duration::from_micros(40));
        a.tick_time.record(Duration::from_micros(900));
        a.tick_time.record(ms(30));
        m.room("b").ticks.inc();
        m.frames_sent(4, 1200);
        m.frames_not_sent(3, 5);
        m.connection_opened();
        m.connection_opened();
        m.connection_closed();
        m.set_rooms(2);
        m.frame_delivery().record(ms(2));

        let text = m.render();
        for line in [
            "# HELP skirmish_ticks Ticks run.",
            "# TYPE skirmish_ticks counter",
            "skirmish_ticks_total{room=\"a\"} 3",
            "skirmish_ticks_total{room=\"b\"} 1",
            "skirmish_late_ticks_total{room=\"a\"} 1",
            "skirmish_skipped_ticks_total{room=\"a\"} 0",
            "skirmish_players{room=\"a\"} 2",
            "# TYPE skirmish_tick_duration_seconds histogram",
            "# UNIT skirmish_tick_duration_seconds seconds",
            "skirmish_tick_duration_seconds_bucket{le=\"0.00005\",room=\"a\"} 1",
            "skirmish_tick_duration_seconds_bucket{le=\"0.001\",room=\"a\"} 2",
            "skirmish_tick_duration_seconds_bucket{le=\"0.025\",room=\"a\"} 2",
            "skirmish_tick_duration_seconds_bucket{le=\"0.05\",room=\"a\"} 3",
            "skirmish_tick_duration_seconds_bucket{le=\"+Inf\",room=\"a\"} 3",
            "skirmish_tick_duration_seconds_sum{room=\"a\"} 0.03094",
            "skirmish_tick_duration_seconds_count{room=\"a\"} 3",
            "skirmish_input_delay_seconds_count{room=\"b\"} 0",
            "skirmish_frame_delivery_seconds_bucket{le=\"0.0025\"} 1",
            "skirmish_frame_delivery_seconds_count 1",
            "skirmish_frames_sent_total 4",
            "skirmish_bytes_sent_total 1200",
            "skirmish_frames_behind_total 3",
            "skirmish_frames_held_total 5",
            "skirmish_connections 1",
            "skirmish_rooms 2",
            "# EOF",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("_total_total"), "{text}");
        assert_eq!(m.ticks_total(), 4);
        assert_eq!(m.late_ticks_total(), 1);
        assert_eq!(m.frames_sent_total(), 4);
        assert_eq!(m.bytes_sent_total(), 1200);
        assert_eq!(m.connections(), 1);
    }

    #[test]
    fn a_room_asked_for_twice_shares_its_series() {
        let m = Metrics::new();
        m.room("a").ticks.inc();
        m.room("a").ticks.inc();
        assert_eq!(m.room("a").ticks.get(), 2);
        assert_eq!(m.ticks_total(), 2);
    }

    #[test]
    fn removing_a_room_drops_its_series_but_not_its_ticks() {
        let m = Metrics::new();
        let a = m.room("a");
        a.ticks.inc_by(5);
        a.skipped_ticks.inc();
        a.input_delay.record(ms(1));
        m.room("b").ticks.inc();
        m.remove_room("a");
        m.remove_room("a");
        m.remove_room("never-opened");

        let text = m.render();
        assert!(!text.contains("room=\"a\""), "{text}");
        assert!(text.contains("skirmish_ticks_total{room=\"b\"} 1"), "{text}");
        assert_eq!(m.ticks_total(), 6);
        assert_eq!(m.skipped_ticks_total(), 1);

        // A room reopened under the same id starts its series again.
        assert_eq!(m.room("a").ticks.get(), 0);
        assert_eq!(m.ticks_total(), 6);
    }

    #[test]
    fn metrics_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<Metrics>();
        shareable::<RoomMetrics>();
        shareable::<Histogram>();
    }
}
