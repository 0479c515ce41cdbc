//! Runs a fixed number of 10k-player ticks (as `benches/tick.rs` sets them up), for counting
//! instructions with callgrind: `valgrind --tool=callgrind --toggle-collect='*Simulation::step*'
//! target/release/examples/tick_count [players] [ticks] [share attacking]`. Deterministic where wall-clock timing on a shared VM
//! is not.

use skirmish_benches::{Arena, dense_rules};

fn main() {
    let players = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let ticks = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(20);
    // The share of players attacking each tick (the bench's 10% by default).
    let attacking = std::env::args().nth(3).and_then(|a| a.parse().ok()).unwrap_or(0.1);
    let mut arena = Arena::new(players, dense_rules(players));
    let timed = arena.timed_ticks(ticks, players, attacking);
    println!("{players} players, {ticks} ticks: {:?} per tick", timed / ticks as u32);
}
