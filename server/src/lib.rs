//! Skirmish: an authoritative, fixed-tick multiplayer battle server.
//!
//! Clients send intents over WebSocket (or, where that is blocked, HTTP long-polling); each
//! room's simulation owns a bevy_ecs world, runs it at a fixed tick rate on a small pool of
//! sim threads, and streams each tick's changes back as compact MessagePack deltas. `docs/architecture.md` draws the data flow and says which
//! module owns which state.
//!
//! # Layout
//! - `agones` (cargo feature `agones`): the Agones SDK lifecycle (Ready, Health, counters,
//!   Shutdown).
//! - [`config`]: flags and environment variables, with built-in defaults.
//! - [`telemetry`]: logging set-up.
//! - [`metrics`]: Prometheus metrics (prometheus-client), per room where it makes sense.
//! - [`net`]: TCP accept and caps, HTTP routes (hyper), the client session core both
//!   transports share, WebSocket connections, long-polling sessions, each room's fan-out,
//!   the embedded web client.
//! - [`room`]: rooms, the registry that places players in them, the sim thread pool.
//! - [`seat`]: signed seat tickets (`--join-secret`): minting and checking.
//! - [`session`]: the session core, one owner of every connection ↔ player binding.
//! - [`link`]: what flows between the network and a room's simulation, in the game's words.
//! - [`sim`]: the game: components, the tick's systems, the snapshot.
//!
//! Data flows one way each direction:
//! `socket → ws reader or poll request → client (decode, validate) → room inbox (joins, leaves) and input board
//! (inputs) → room's sim (tick, on a pool thread) → room fan-out task → each connection's
//! sender → socket` (one vectored write per client per tick, no task woken per client), or
//! the polling session's queue → its waiting `GET`.

#[cfg(feature = "agones")]
pub mod agones;
pub mod config;
pub mod link;
pub mod malloc;
pub mod metrics;
pub mod net;
pub mod room;
pub mod seat;
pub mod session;
pub mod sim;
pub mod telemetry;
pub mod view;

#[cfg(feature = "harness")]
pub mod harness;
#[cfg(feature = "harness")]
pub mod poll_client;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::info;

pub use config::Config;
use metrics::Metrics;
use net::assets::Assets;
use net::{Listener, NetContext};
pub use room::Hooks;
use room::registry::Registry;

/// Why the server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The configured rules can't be played.
    #[error("invalid rules: {0}")]
    Rules(#[from] skirmish_shared::RulesError),
    /// The sim threads could not be started or stopped.
    #[error("simulation threads failed: {0}")]
    SimThread(String),
    /// A `--trusted-proxies` entry is not an address or network.
    #[error("invalid --trusted-proxies: {0}")]
    Proxies(#[from] net::proxy::ProxyError),
    /// `--join-secret` can't be used.
    #[error("invalid --join-secret: {0}")]
    JoinSecret(#[from] seat::SecretError),
    /// The TLS certificate or key can't be used.
    #[error("TLS: {0}")]
    Tls(#[from] net::tls::TlsError),
    /// The Agones lifecycle could not start.
    #[cfg(feature = "agones")]
    #[error("{0}")]
    Agones(#[from] agones::AgonesError),
    /// A socket operation failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// The sockets the server serves on.
#[derive(Debug)]
pub struct Listeners {
    /// The game's port: page, rooms, health, WebSocket.
    pub main: TcpListener,
    /// A separate port for `/metrics` (`--metrics-addr`), if any.
    pub metrics: Option<TcpListener>,
}

/// Runs the server on `listener` (metrics on it too: `--metrics-addr` needs a listener of its
/// own, see [`run_with`]) until `shutdown` resolves, then closes every connection
/// (close code 1001), stops every room and returns.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let listeners = Listeners { main: listener, metrics: None };
    run_with(config, listeners, shutdown, Hooks::default()).await
}

/// [`run`] with a separate metrics port and hooks into the rooms.
pub async fn run_with(
    config: Config,
    listeners: Listeners,
    shutdown: impl Future<Output = ()>,
    hooks: Hooks,
) -> Result<(), ServerError> {
    let settings = config.rooms();
    settings.sim.rules.validate()?;
    // Before anything starts: a missing sidecar is an error now, not a server that serves
    // but never becomes Ready.
    #[cfg(feature = "agones")]
    let mut agones = match config.agones() {
        Some(s) => Some(agones::Agones::connect(s).await?),
        None => None,
    };
    let metrics = Arc::new(Metrics::new());
    let registry = Arc::new(Registry::new(settings.clone(), metrics.clone(), hooks)?);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let assets = match &config.web_root {
        Some(root) => Assets::load(root),
        None => Assets::embedded(),
    };
    let limits = config.net_limits(listeners.main.local_addr()?, listeners.metrics.is_some())?;
    let mut ctx =
        NetContext::new(registry.clone(), assets, limits, shutdown_rx.clone(), metrics.clone());
    if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
        ctx.tls = Some(net::tls::Tls::load(cert, key)?);
    }
    let ctx = Arc::new(ctx);
    info!(
        addr = %listeners.main.local_addr()?,
        tick_rate = config.tick_rate,
        max_rooms = settings.max_rooms,
        sim_threads = settings.sim_threads,
        tls = config.tls_cert.is_some(),
        seats = config.join_secret.is_some(),
        "serving"
    );
    // Set when the server should drain and stop by itself (Agones: allocated and empty).
    let (exit_tx, mut exit_rx) = watch::channel(false);
    #[cfg(feature = "agones")]
    let lifecycle = match agones.as_mut() {
        Some(a) => {
            a.ready().await?;
            let (a, registry) = (a.clone(), registry.clone());
            Some(tokio::spawn(async move {
                a.run(registry).await;
                let _ = exit_tx.send(true);
            }))
        }
        None => None,
    };
    #[cfg(not(feature = "agones"))]
    drop(exit_tx);
    let metrics_task = match listeners.metrics {
        Some(l) => {
            info!(addr = %l.local_addr()?, "serving metrics");
            let ctx = ctx.clone();
            let mut stop = shutdown_rx.clone();
            Some(tokio::spawn(async move {
                net::serve(l, Listener::Metrics, ctx, async move {
                    let _ = stop.wait_for(|&s| s).await;
                })
                .await;
            }))
        }
        None => None,
    };
    net::serve(listeners.main, Listener::Main, ctx.clone(), async {
        tokio::select! {
            () = shutdown => {}
            Ok(_) = exit_rx.wait_for(|&exit| exit) => {}
        }
        info!("shutting down");
        registry.stop_placing();
        let _ = shutdown_tx.send(true);
    })
    .await;
    if let Some(task) = metrics_task {
        let _ = task.await;
    }
    ctx.polls.clear();
    drop(ctx);
    let ticks = tokio::task::spawn_blocking(move || registry.shutdown())
        .await
        .map_err(|e| ServerError::SimThread(e.to_string()))?;
    info!(ticks, late = metrics.late_ticks_total(), "stopped");
    #[cfg(feature = "agones")]
    if let Some(a) = agones.as_mut() {
        if let Some(task) = lifecycle {
            task.abort();
        }
        a.shutdown().await;
    }
    Ok(())
}
