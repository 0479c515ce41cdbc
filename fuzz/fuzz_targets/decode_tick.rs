//! Fuzz target: bytes → client message decode + validate (as a connection's reader does) →
//! accepted inputs into a real room (simulation and fan-out) → ticks. Any panic is a bug.
//!
//! The input is split into messages by a leading length byte each.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skirmish_server::harness::LocalRoom;
use skirmish_server::sim::SimConfig;
use skirmish_shared::ClientMsg;

fuzz_target!(|data: &[u8]| {
    let config = SimConfig { seed: 1, resume_grace_ticks: 0, ..SimConfig::default() };
    let mut room = LocalRoom::new(&config, u32::MAX);
    let mut clients: Vec<_> = (1..=2u64).map(|conn| room.join(conn, 64, None)).collect();
    room.step();
    let mut rest = data;
    let mut n = 0usize;
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len).min(tail.len());
        let (msg, tail) = tail.split_at(len);
        rest = tail;
        if let Ok(ClientMsg::Input(input)) = ClientMsg::decode(msg) {
            let _ = clients[n % 2].send_input(input);
        }
        n += 1;
        if n % 4 == 0 {
            room.step();
            for c in &mut clients {
                c.drain();
            }
        }
    }
    room.step();
});
