//! Many small rooms on one sim thread: 100 rooms of 10 players (and 10 of 100), all moving, 10% attacking,
//! each room its own world ticked in turn, as the pool runs them. Reported per room-tick
//! (throughput = rooms), so the fixed cost of a room's tick (schedule, resources, encoding a
//! small frame) shows. Only the rooms' `step`s are timed.

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use skirmish_benches::{Arena, dense_rules};
use skirmish_server::link::TickOutput;

fn rooms(c: &mut Criterion) {
    let mut group = c.benchmark_group("rooms");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(6));
    for (rooms, players) in [(100usize, 10usize), (10, 100)] {
        let mut arenas: Vec<Arena> =
            (0..rooms).map(|_| Arena::new(players, dense_rules(players))).collect();
        group.throughput(Throughput::Elements(rooms as u64));
        let id = BenchmarkId::new(format!("{players}_players"), rooms);
        group.bench_with_input(id, &rooms, |b, _| {
            b.iter_custom(|iters| {
                let mut outs: Vec<Option<TickOutput>> = (0..rooms).map(|_| None).collect();
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    for arena in &mut arenas {
                        arena.feed_some(players, 0.1);
                    }
                    let start = Instant::now();
                    for (arena, out) in arenas.iter_mut().zip(outs.iter_mut()) {
                        *out = Some(std::hint::black_box(arena.step()));
                    }
                    timed += start.elapsed();
                    for (arena, out) in arenas.iter_mut().zip(outs.iter_mut()) {
                        if let Some(out) = out.take() {
                            arena.deliver(out);
                        }
                    }
                }
                timed
            });
        });
    }
    group.finish();
}

criterion_group!(benches, rooms);
criterion_main!(benches);
