//! Fuzz target: bytes → client message decode + validate (as a connection's reader does) →
//! accepted inputs into a real simulation → ticks. Any panic is a bug.
//!
//! The input is split into messages by a leading length byte each.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skirmish_server::link::LocalClient;
use skirmish_server::sim::{SimConfig, Simulation};
use skirmish_shared::ClientMsg;

fuzz_target!(|data: &[u8]| {
    let (tx, rx) = crossbeam_channel::unbounded();
    let mut sim = Simulation::new(&SimConfig { seed: 1, resume_grace_ticks: 0, ..SimConfig::default() }, rx);
    let mut clients = Vec::new();
    for conn in 1..=2u64 {
        let (join, client) = LocalClient::join(conn, 64, None, sim.input_board());
        let _ = tx.send(join);
        clients.push(client);
    }
    sim.step();
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
            sim.step();
            for c in &mut clients {
                while c.queue.try_recv().is_ok() {}
            }
        }
    }
    sim.step();
});
