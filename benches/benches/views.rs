//! Interest management (issue 16): 10,000 players on a 2,000 × 2,000 map, all moving.
//!
//! - `views/encode`: one tick's encoding on the sim thread — the whole world's `changed`
//!   list (`whole`: what every client gets without a view radius) against the per-cell pieces
//!   of a view radius of 100 units (`cells`: 21 × 21 cells).
//! - `views/assemble`: the fan-out's per-client work with the view radius: each of the 10,000
//!   clients' frames put together from the cells it sees (`whole` has none: one shared body).
//! - Printed once: bytes per client per tick either way, and the same from a real room
//!   (sim + fan-out, 10% attacking) through the clients' queues.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use skirmish_benches::Arena;
use skirmish_server::view::tick::{Seen, TickFacts};
use skirmish_server::view::{Assembler, Grid, ViewBuilder};
use skirmish_shared::{Change, FrameBodyWriter, Rules, Score};

const PLAYERS: u32 = 10_000;
const SIDE: u32 = 2_000;
const RADIUS: u32 = 100;

fn rules(view_radius: u32) -> Rules {
    Rules {
        map_width: SIDE,
        map_height: SIDE,
        spawn_min: 0,
        spawn_max: SIDE,
        attack_cooldown_ms: 0,
        view_radius,
        ..Rules::default()
    }
}

/// One player's tick: its id, where it was, where it is (subunits).
type Step = (u32, (i32, i32), (i32, i32));

/// One tick of 10,000 players each moving a step in a random direction.
fn world() -> Vec<Step> {
    let mut rng = fastrand::Rng::with_seed(5);
    let max = (SIDE * 8) as i32;
    (1..=PLAYERS)
        .map(|id| {
            let (x, y) = (rng.i32(0..=max), rng.i32(0..=max));
            let (dx, dy) = (rng.i32(-27..=27), rng.i32(-27..=27));
            (id, (x, y), ((x + dx).clamp(0, max), (y + dy).clamp(0, max)))
        })
        .collect()
}

fn seen(grid: Grid, world: &[Step]) -> Vec<Seen<'static>> {
    world
        .iter()
        .map(|&(id, (x0, y0), (x, y))| Seen {
            id,
            name: "player-00000",
            pos: (x, y),
            hp: 100,
            score: Score::default(),
            from: Some(grid.cell(x0, y0)),
            to: grid.cell(x, y),
            change: Change { id, dx: Some(x - x0), dy: Some(y - y0), hp: None },
        })
        .collect()
}

fn facts() -> TickFacts<'static> {
    TickFacts { events: &[], removed: &[], welcomed: &[], keyframe: false }
}

fn encode(c: &mut Criterion) {
    let grid = Grid::new(&rules(RADIUS)).expect("a grid");
    let world = world();
    let seen = seen(grid, &world);
    let mut group = c.benchmark_group("views/encode");
    group.throughput(Throughput::Elements(u64::from(PLAYERS)));
    let mut writer = FrameBodyWriter::default();
    let mut body = Vec::new();
    group.bench_function(BenchmarkId::new("whole", PLAYERS), |b| {
        b.iter(|| {
            writer.clear();
            for s in &seen {
                writer.change(&s.change);
            }
            body.clear();
            writer.finish(&mut body);
            std::hint::black_box(body.len())
        })
    });
    let mut builder = ViewBuilder::default();
    group.bench_function(BenchmarkId::new("cells", PLAYERS), |b| {
        b.iter(|| std::hint::black_box(builder.build(grid, &seen, facts()).encoded_bytes()))
    });
    group.finish();

    // Bytes per client per tick, either way (WebSocket framing left out of both; the whole
    // world's frame header of 4 bytes too).
    writer.clear();
    for s in &seen {
        writer.change(&s.change);
    }
    body.clear();
    writer.finish(&mut body);
    let vt = builder.build(grid, &seen, facts());
    let mut asm = Assembler::default();
    let mut total = 0usize;
    for s in &seen {
        asm.frame(&vt, s.from.unwrap_or(s.to), s.to, 1_000, 1);
        total += asm.bytes().len();
    }
    let crossing = seen.iter().filter(|s| s.from != Some(s.to)).count();
    let full = (0..grid.len() as u32).filter(|&c| vt.has_full(c)).count();
    eprintln!(
        "views: {crossing} players changed cells, {full} of {} cells written in full; whole world {} bytes per client per tick; radius {RADIUS}: {:.0} ({:.1}× fewer); cells encoded {} bytes",
        grid.len(),
        body.len(),
        total as f64 / f64::from(PLAYERS),
        body.len() as f64 / (total as f64 / f64::from(PLAYERS)),
        vt.encoded_bytes(),
    );
}

fn assemble(c: &mut Criterion) {
    let grid = Grid::new(&rules(RADIUS)).expect("a grid");
    let world = world();
    let seen = seen(grid, &world);
    let vt = ViewBuilder::default().build(grid, &seen, facts());
    let mut asm = Assembler::default();
    let mut group = c.benchmark_group("views/assemble");
    group.throughput(Throughput::Elements(u64::from(PLAYERS)));
    group.bench_function(BenchmarkId::new("cells", PLAYERS), |b| {
        b.iter(|| {
            let mut bytes = 0;
            for s in &seen {
                asm.frame(&vt, s.from.unwrap_or(s.to), s.to, 1_000, 1);
                bytes += asm.bytes().len();
            }
            std::hint::black_box(bytes)
        })
    });
    group.finish();
}

/// A real room either way: sim and fan-out, every client's messages through its queue.
fn room(c: &mut Criterion) {
    let mut group = c.benchmark_group("views/room_tick");
    group.sample_size(10).measurement_time(Duration::from_secs(8));
    for radius in [0, RADIUS] {
        let mut arena = Arena::new(PLAYERS as usize, rules(radius));
        // Settle (the welcomes), then count 10 ticks' bytes.
        for _ in 0..3 {
            arena.feed_inputs(0.1);
            arena.step_and_deliver();
        }
        let before = arena.received_bytes;
        let ticks = 10;
        for _ in 0..ticks {
            arena.feed_inputs(0.1);
            arena.step_and_deliver();
        }
        let per = (arena.received_bytes - before) as f64 / f64::from(PLAYERS) / f64::from(ticks);
        eprintln!(
            "views/room_tick/{radius}: {per:.0} bytes per client per tick received (framing included)"
        );
        group.bench_with_input(BenchmarkId::new("sim_and_fanout", radius), &radius, |b, _| {
            b.iter_custom(|iters| arena.timed_ticks_and_fanout(iters, 0.1));
        });
    }
    group.finish();
}

criterion_group!(benches, encode, assemble, room);
criterion_main!(benches);
