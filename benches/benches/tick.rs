//! One full tick on the sim thread — drain joins, apply inputs, move, attack, death/respawn,
//! snapshot encode — for 1k, 10k and 100k players, all connected, all moving, 10% attacking,
//! at the tutorial's density. Only `step` is timed; queueing the result to every client is
//! the fan-out's work on another thread, timed in `snapshot/fanout`.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use skirmish_benches::{Arena, dense_rules};

fn tick(c: &mut Criterion) {
    let mut group = c.benchmark_group("tick");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    for players in [1_000usize, 10_000, 100_000] {
        let mut arena = Arena::new(players, dense_rules(players));
        group.throughput(Throughput::Elements(players as u64));
        group.bench_with_input(BenchmarkId::from_parameter(players), &players, |b, _| {
            b.iter_custom(|iters| arena.timed_ticks(iters, players, 0.1));
        });
    }
    group.finish();
}

criterion_group!(benches, tick);
criterion_main!(benches);
