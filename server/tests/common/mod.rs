//! What several integration test files share: the real server started on 127.0.0.1:0, and a
//! room whose tick is stuck (a simulation that hangs), through the rooms' `before_tick` hook.
#![allow(dead_code)] // each test file uses its part

use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use skirmish_server::{Config, Hooks, Listeners, ServerError, run_with};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The real server, running in a task of the test's runtime.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Where its separate metrics port listens, if it has one.
    pub metrics_addr: Option<SocketAddr>,
    /// Sending (or dropping) it is the SIGTERM: the server drains and stops.
    pub stop: Option<oneshot::Sender<()>>,
    /// What `run_with` returned.
    pub task: tokio::task::JoinHandle<Result<(), ServerError>>,
}

/// Starts the server with `config` and `hooks` on 127.0.0.1:0.
pub async fn start(config: Config, hooks: Hooks) -> Server {
    start_with_metrics(config, hooks, false).await
}

/// [`start`], with `/metrics` on a port of its own (also 127.0.0.1:0) if `metrics_port`.
pub async fn start_with_metrics(config: Config, hooks: Hooks, metrics_port: bool) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
    let addr = listener.local_addr().expect("addr");
    let metrics = if metrics_port {
        Some(TcpListener::bind("127.0.0.1:0").await.expect("bind port 0"))
    } else {
        None
    };
    let metrics_addr = metrics.as_ref().map(|l| l.local_addr().expect("addr"));
    let (stop, rx) = oneshot::channel::<()>();
    let listeners = Listeners { main: listener, metrics };
    let task = tokio::spawn(run_with(
        config,
        listeners,
        async {
            let _ = rx.await;
        },
        hooks,
    ));
    Server { addr, metrics_addr, stop: Some(stop), task }
}

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
