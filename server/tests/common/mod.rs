//! What several integration test files share: a room whose tick is stuck (a simulation that
//! hangs), through the rooms' `before_tick` hook.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use skirmish_server::Hooks;

/// Holds one room's tick until released. Dropping it releases too, so that a failing test
/// (unwinding) never leaves a sim thread blocked; and the hold is bounded anyway.
pub struct StuckRoom(Arc<(Mutex<bool>, Condvar)>);

impl StuckRoom {
    /// Hooks under which room `room` stops before its tick `tick`, until released or for at
    /// most `limit`.
    pub fn new(room: &'static str, tick: u64, limit: Duration) -> (Self, Hooks) {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let held = gate.clone();
        let hooks = Hooks {
            before_tick: Some(Arc::new(move |r: &str, t: u64| {
                if r == room && t == tick {
                    let (open, wake) = &*held;
                    let open = open.lock().unwrap_or_else(|e| e.into_inner());
                    let _ = wake.wait_timeout_while(open, limit, |open| !*open);
                }
            })),
        };
        (Self(gate), hooks)
    }

    /// Lets the room tick again.
    pub fn release(&self) {
        let (open, wake) = &*self.0;
        *open.lock().unwrap_or_else(|e| e.into_inner()) = true;
        wake.notify_all();
    }
}

impl Drop for StuckRoom {
    fn drop(&mut self) {
        self.release();
    }
}
