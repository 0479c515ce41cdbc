//! Snapshot cost and size: encoding a tick's changes (delta) against the whole world
//! (keyframe); queueing one encoded tick to 1, 100 and 1,000 clients receiving the same view
//! (the fan-out, off the sim thread); and the sim thread's tick as connected players grow.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use bytes::Bytes;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use skirmish_benches::{Arena, dense_rules};
use skirmish_server::harness::MemoryWire;
use skirmish_server::link::{TickOutput, Welcomed};
use skirmish_server::net::fanout::Fanout;
use skirmish_server::net::outbox::{Closer, Link};
use skirmish_server::net::sender::Sender;
use skirmish_shared::codec::write_entity;
use skirmish_shared::{Change, FrameBodyWriter, Score};

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("snapshot/encode");
    for n in [100u32, 10_000] {
        let mut rng = fastrand::Rng::with_seed(1);
        let changes: Vec<Change> = (1..=n)
            .map(|id| Change {
                id,
                dx: Some(rng.i32(-27..=27)),
                dy: Some(rng.i32(-27..=27)),
                hp: None,
            })
            .collect();
        let mut writer = FrameBodyWriter::default();
        let mut out = Vec::new();
        group.throughput(Throughput::Elements(u64::from(n)));
        group.bench_with_input(BenchmarkId::new("delta", n), &changes, |b, changes| {
            b.iter(|| {
                writer.clear();
                for ch in changes {
                    writer.change(ch);
                }
                out.clear();
                writer.finish(&mut out);
                std::hint::black_box(out.len())
            })
        });
        eprintln!(
            "snapshot/encode/delta/{n}: {:.2} bytes per moving entity",
            (out.len() - 4) as f64 / f64::from(n)
        );
        group.bench_with_input(BenchmarkId::new("keyframe", n), &n, |b, &n| {
            b.iter(|| {
                out.clear();
                for id in 1..=n {
                    write_entity(&mut out, id, "player-00000", (1234, 2345), 100, Score::default());
                }
                std::hint::black_box(out.len())
            })
        });
        eprintln!(
            "snapshot/encode/keyframe/{n}: {:.2} bytes per entity",
            out.len() as f64 / f64::from(n)
        );
    }
    group.finish();
}

/// One tick's body with 100 moving players, queued to 1, 100 and 1,000 clients receiving the
/// same view: encoded once, so each client costs only a queue push and a 6-byte header.
fn fanout(c: &mut Criterion) {
    let mut group = c.benchmark_group("snapshot/fanout");
    let mut writer = FrameBodyWriter::default();
    let mut rng = fastrand::Rng::with_seed(2);
    for id in 1..=100u32 {
        writer.change(&Change {
            id,
            dx: Some(rng.i32(-27..=27)),
            dy: Some(rng.i32(-27..=27)),
            hp: None,
        });
    }
    let mut bytes = Vec::new();
    writer.finish(&mut bytes);
    let body = Bytes::from(bytes);
    for clients in [1usize, 100, 1_000] {
        let mut fanout = Fanout::new(Arc::new(AtomicBool::new(false)), u32::MAX);
        let mut queues = Vec::with_capacity(clients);
        let welcomed = (1..=clients as u64)
            .map(|conn| {
                let wire = Arc::new(MemoryWire::discarding());
                queues.push(wire.clone());
                let sender = Arc::new(Sender::new(wire));
                fanout.register(conn, Link::new(sender, Closer::new().0));
                Welcomed { conn, player: conn as u32, head: Bytes::from_static(&[0x90]) }
            })
            .collect();
        fanout.deliver(TickOutput { tick: 1, welcomed, ..TickOutput::default() });
        let mut tick = 1;
        group.throughput(Throughput::Elements(clients as u64));
        group.bench_with_input(BenchmarkId::from_parameter(clients), &clients, |b, _| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    for q in &queues {
                        q.clear();
                    }
                    tick += 1;
                    let out =
                        TickOutput { tick, body: Some(body.clone()), ..TickOutput::default() };
                    let start = Instant::now();
                    std::hint::black_box(fanout.deliver(out));
                    timed += start.elapsed();
                }
                timed
            });
        });
    }
    group.finish();
}

/// The sim thread's tick when 100 players move among 100 or 1,000 connected players: it
/// grows with the world's entities, not with the clients (no per-client work on this thread).
fn tick_with_clients(c: &mut Criterion) {
    let mut group = c.benchmark_group("snapshot/tick_100_moving");
    group.sample_size(20).measurement_time(Duration::from_secs(5));
    for players in [100usize, 1_000] {
        let mut arena = Arena::new(players, dense_rules(players));
        group.bench_with_input(BenchmarkId::from_parameter(players), &players, |b, _| {
            b.iter_custom(|iters| arena.timed_ticks(iters, 100, 0.0));
        });
    }
    group.finish();
}

criterion_group!(benches, encode, fanout, tick_with_clients);
criterion_main!(benches);
