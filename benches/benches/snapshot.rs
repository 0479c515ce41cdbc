//! Snapshot cost and size: encoding a tick's changes (delta) against the whole world
//! (keyframe); and one tick of a world where 100 players move, for 1, 100 and 1,000 connected
//! clients receiving the same view: the sim thread's tick (encoded once, so almost flat in
//! clients) and the fan-out's delivery (a queue push per client, on another thread).

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use skirmish_benches::{Arena, dense_rules};
use skirmish_shared::codec::write_entity;
use skirmish_shared::{Change, FrameBodyWriter};

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
                    write_entity(&mut out, id, "player-00000", 1234, 2345, 100);
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

/// 100 players move; 1, 100 or 1,000 clients are connected (the extra ones stand still).
fn fanout(c: &mut Criterion) {
    let mut group = c.benchmark_group("snapshot");
    group.sample_size(20).measurement_time(Duration::from_secs(5));
    for clients in [1usize, 100, 1_000] {
        let players = clients.max(100);
        let mut arena = Arena::new(players, dense_rules(players));
        group.bench_with_input(BenchmarkId::new("tick_100_moving", clients), &clients, |b, _| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    arena.feed_some(100, 0.0);
                    let start = Instant::now();
                    let out = std::hint::black_box(arena.step());
                    timed += start.elapsed();
                    arena.fanout.deliver(out);
                    arena.drain();
                }
                timed
            });
        });
        group.bench_with_input(BenchmarkId::new("fanout", clients), &clients, |b, _| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    arena.feed_some(100, 0.0);
                    let out = arena.step();
                    let start = Instant::now();
                    std::hint::black_box(arena.fanout.deliver(out));
                    timed += start.elapsed();
                    arena.drain();
                }
                timed
            });
        });
    }
    group.finish();
}

criterion_group!(benches, encode, fanout);
criterion_main!(benches);
