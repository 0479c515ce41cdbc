//! Skirmish: an authoritative, fixed-tick multiplayer battle server.
//!
//! Clients send intents over WebSocket; a simulation thread owns a bevy_ecs world, runs it at
//! a fixed tick rate, and streams each tick's changes back as compact MessagePack deltas.
//!
//! # Layout
//! - [`config`]: flags and environment variables, with built-in defaults.
//! - [`telemetry`]: logging set-up.
//! - [`net`]: TCP accept, HTTP (web client, health check), WebSocket sessions.
//! - [`link`]: the channel types between the network tasks and the sim thread.
//! - [`metrics`]: counters served at `/metrics`.
//! - [`sim`]: the world, the tick's systems, and the fixed-rate ticker.
//!
//! Data flows one way each direction:
//! `socket → session (decode, validate) → crossbeam channel (joins, leaves) and input board
//! (inputs) → sim thread (tick) →
//! bounded per-connection queue → writer task → socket`.

pub mod config;
pub mod link;
pub mod metrics;
pub mod net;
pub mod sim;
pub mod telemetry;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::info;

pub use config::Config;
use metrics::Metrics;
use net::NetContext;
use net::assets::Assets;
use net::fanout::Fanout;
use sim::Simulation;
use sim::ticker;

/// Why the server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The configured rules can't be played.
    #[error("invalid rules: {0}")]
    Rules(#[from] skirmish_shared::RulesError),
    /// The sim thread could not be started or panicked.
    #[error("simulation thread failed: {0}")]
    SimThread(String),
    /// A socket operation failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs the server on `listener` until `shutdown` resolves, then closes every connection
/// (close code 1001), stops the simulation and returns.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let sim_config = config.sim();
    sim_config.rules.validate()?;
    let (inbound_tx, inbound_rx) = crossbeam_channel::unbounded();
    let sim = Simulation::new(&sim_config, inbound_rx);
    let fanout = Fanout::new(sim.keyframe_request(), config.stall_ticks());
    let board = sim.input_board();
    let (outputs_tx, outputs_rx) = tokio::sync::mpsc::unbounded_channel();
    let fanout_task = tokio::spawn(net::fanout::run(fanout, outputs_rx));
    let stop = Arc::new(AtomicBool::new(false));
    let metrics = Arc::new(Metrics::default());
    let sim_thread = {
        let (stop, metrics) = (stop.clone(), metrics.clone());
        std::thread::Builder::new()
            .name("sim".into())
            .spawn(move || ticker::run(sim, sim_config.tick_rate, stop, metrics, outputs_tx))?
    };
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let assets = Assets::load(&config.web_root);
    let ctx = Arc::new(NetContext::new(
        inbound_tx,
        board,
        assets,
        config.net_limits(),
        shutdown_rx,
        metrics.clone(),
    ));
    info!(addr = %listener.local_addr()?, tick_rate = config.tick_rate, "serving");
    net::serve(listener, ctx, async {
        shutdown.await;
        info!("shutting down");
        let _ = shutdown_tx.send(true);
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let sim = tokio::task::spawn_blocking(move || sim_thread.join())
        .await
        .map_err(|e| ServerError::SimThread(e.to_string()))?
        .map_err(|_| ServerError::SimThread("panicked".into()))?;
    let _ = fanout_task.await;
    info!(ticks = sim.tick(), late = metrics.late_ticks.load(Ordering::Relaxed), "stopped");
    Ok(())
}
