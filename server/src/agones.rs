//! The Agones lifecycle (cargo feature `agones`, flag `--agones`): the server reports to the
//! Agones SDK sidecar (gRPC on `localhost:AGONES_SDK_GRPC_PORT`, 9357 by default) through
//! the `agones` crate, so that a Fleet can allocate, health-check and replace it:
//!
//! - `Ready()` once, when the listener is bound and the rooms' sim threads run;
//! - `Health()` every `--agones-health-interval-ms`, only while every room's ticks are on
//!   time (the same rule as `/healthz`): a stuck simulation stops the pings and Agones
//!   replaces the process;
//! - the `players` and `rooms` counters (Agones Counters, beta) set to the real counts, and
//!   their capacities to the configured maxima, so an allocator can pick a server with room;
//! - `Shutdown()` after a SIGTERM drain, and, with `--exit-when-empty-after-ms`, the server
//!   drains and shuts down by itself once it has been Allocated and empty that long.
//!
//! A sidecar that does not answer at start is an error naming the port, after
//! `--agones-connect-timeout-ms`, never a hang.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{info, warn};

use crate::room::registry::Registry;

/// The Agones counter holding the number of players.
pub const PLAYERS_COUNTER: &str = "players";
/// The Agones counter holding the number of open rooms.
pub const ROOMS_COUNTER: &str = "rooms";
/// The GameServer state in which a matchmaker has handed the server out.
const ALLOCATED: &str = "Allocated";

/// How the server talks to Agones.
#[derive(Debug, Clone)]
pub struct AgonesSettings {
    /// The sidecar's gRPC port on localhost.
    pub port: u16,
    /// Time between health pings.
    pub health_interval: Duration,
    /// How long to wait for the sidecar at start.
    pub connect_timeout: Duration,
    /// Once Allocated and empty this long, drain and shut down.
    pub exit_when_empty_after: Option<Duration>,
    /// The `players` counter's capacity: every room full.
    pub max_players: i64,
    /// The `rooms` counter's capacity.
    pub max_rooms: i64,
}

/// Why the lifecycle could not start.
#[derive(Debug, thiserror::Error)]
pub enum AgonesError {
    /// Nothing answered on the sidecar's port in time.
    #[error(
        "no Agones SDK sidecar answered on localhost:{port} within {} ms (AGONES_SDK_GRPC_PORT or --agones-sdk-port names the port; run without --agones outside Agones)",
        timeout.as_millis()
    )]
    NoSidecar {
        /// The port tried.
        port: u16,
        /// How long it was tried.
        timeout: Duration,
    },
    /// A call the lifecycle needs failed.
    #[error("Agones SDK {call} failed: {detail}")]
    Call {
        /// The call.
        call: &'static str,
        /// What the SDK said.
        detail: String,
    },
}

fn call_failed(call: &'static str, e: agones::errors::Error) -> AgonesError {
    let detail = match e {
        agones::errors::Error::Rpc(status) => format!("{:?}: {}", status.code(), status.message()),
        other => other.to_string(),
    };
    AgonesError::Call { call, detail }
}

/// A connection to the sidecar (cheap to clone: one gRPC channel).
#[derive(Clone)]
pub struct Agones {
    sdk: agones::Sdk,
    settings: AgonesSettings,
}

impl std::fmt::Debug for Agones {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agones").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Agones {
    /// Connects to the sidecar (waiting at most the connect timeout).
    pub async fn connect(settings: AgonesSettings) -> Result<Self, AgonesError> {
        let (port, timeout) = (settings.port, settings.connect_timeout);
        let connecting = agones::Sdk::new_with_host(None, Some(port), None);
        let sdk = match tokio::time::timeout(timeout, connecting).await {
            Ok(Ok(sdk)) => sdk,
            Ok(Err(_)) | Err(_) => return Err(AgonesError::NoSidecar { port, timeout }),
        };
        info!(port, "connected to the Agones SDK sidecar");
        Ok(Self { sdk, settings })
    }

    /// Sets the counters' capacities and marks the server Ready.
    pub async fn ready(&mut self) -> Result<(), AgonesError> {
        let mut beta = self.sdk.beta().clone();
        for (counter, capacity) in
            [(PLAYERS_COUNTER, self.settings.max_players), (ROOMS_COUNTER, self.settings.max_rooms)]
        {
            if let Err(e) = beta.set_counter_capacity(counter, capacity).await {
                // The GameServer may not declare the counter: the lifecycle still works.
                warn!(counter, error = %call_failed("SetCounterCapacity", e), "counter not kept");
            }
        }
        self.sdk.ready().await.map_err(|e| call_failed("Ready", e))?;
        info!("reported Ready to Agones");
        Ok(())
    }

    /// Keeps Agones informed until the server should exit by itself (Allocated and empty for
    /// `--exit-when-empty-after-ms`); never returns without that setting.
    pub async fn run(&self, registry: Arc<Registry>) {
        let allocated = self.watch_allocation();
        let mut health = self.sdk.health_check();
        let mut beta = self.sdk.beta().clone();
        let mut ticker = tokio::time::interval(self.settings.health_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut published: Option<(i64, i64)> = None;
        let mut healthy = true;
        let mut empty_since: Option<tokio::time::Instant> = None;
        loop {
            ticker.tick().await;
            // Health: only while every room ticks on time.
            let late = registry.late_rooms(crate::net::http::HEALTH_LATE_LIMIT);
            if late.is_empty() {
                if !healthy {
                    info!("rooms on time again: health pings resume");
                    healthy = true;
                }
                if health.send(()).await.is_err() {
                    // The health stream ended (the sidecar restarted): open another.
                    health = self.sdk.health_check();
                    let _ = health.send(()).await;
                }
            } else if healthy {
                warn!(rooms = ?late, "rooms late: no health pings until they catch up");
                healthy = false;
            }
            // Counts, when they change.
            let rooms = registry.list();
            let counts = (rooms.iter().map(|r| r.players as i64).sum::<i64>(), rooms.len() as i64);
            if published != Some(counts) {
                let players = beta.set_counter_count(PLAYERS_COUNTER, counts.0).await;
                let open = beta.set_counter_count(ROOMS_COUNTER, counts.1).await;
                match players.and(open) {
                    Ok(()) => published = Some(counts),
                    Err(e) => {
                        warn!(error = %call_failed("UpdateCounter", e), "counts not published")
                    }
                }
            }
            // Allocated and empty for long enough: time to go.
            let Some(limit) = self.settings.exit_when_empty_after else { continue };
            if *allocated.borrow() && counts.0 == 0 {
                let since = *empty_since.get_or_insert_with(tokio::time::Instant::now);
                if since.elapsed() >= limit {
                    info!(
                        empty_ms = limit.as_millis() as u64,
                        "allocated and empty: shutting down"
                    );
                    return;
                }
            } else {
                empty_since = None;
            }
        }
    }

    /// Whether the GameServer is Allocated, kept current from `WatchGameServer`.
    fn watch_allocation(&self) -> watch::Receiver<bool> {
        let (tx, rx) = watch::channel(false);
        let closed = tx.clone();
        let mut sdk = self.sdk.clone();
        let watching = async move {
            loop {
                match sdk.watch_gameserver().await {
                    Ok(mut stream) => {
                        while let Ok(Some(gs)) = stream.message().await {
                            let state = gs.status.map(|s| s.state).unwrap_or_default();
                            let _ = tx.send(state == ALLOCATED);
                        }
                    }
                    Err(e) => warn!(error = %call_failed("WatchGameServer", e), "watch failed"),
                }
                // The watch ended (the sidecar restarted?): back off, then watch again.
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        };
        // Ends with the lifecycle that reads it (its receiver dropped), not with the sidecar.
        tokio::spawn(async move {
            tokio::select! {
                () = watching => {}
                () = closed.closed() => {}
            }
        });
        rx
    }

    /// Tells Agones this process is done.
    pub async fn shutdown(&mut self) {
        match self.sdk.shutdown().await {
            Ok(()) => info!("reported Shutdown to Agones"),
            Err(e) => warn!(error = %call_failed("Shutdown", e), "Shutdown not reported"),
        }
    }
}
