//! The `skirmish` binary: parse flags, set up logging, bind, run until Ctrl-C or SIGTERM;
//! or, as `skirmish seat`, mint a seat ticket with the join secret.

use anyhow::Context;
use clap::{Parser, Subcommand};
use skirmish_server::{Config, seat, telemetry};

/// The command line: the server's flags, or a subcommand.
#[derive(Debug, Parser)]
#[command(name = "skirmish", version, about = "Authoritative fixed-tick multiplayer battle server")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: Config,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Prints a seat ticket for one player in one room, signed with the join secret
    /// (SKIRMISH_JOIN_SECRET in the environment), for a matchmaker, a test or a README.
    Seat {
        /// The room the seat is in.
        #[arg(long, env = "SKIRMISH_SEAT_ROOM")]
        room: String,
        /// The player's name (the server shows it, cleaned as any name).
        #[arg(long, env = "SKIRMISH_SEAT_NAME")]
        name: String,
        /// Seconds the ticket admits joins for.
        #[arg(long, env = "SKIRMISH_SEAT_TTL_SECS", default_value_t = 3600)]
        ttl_secs: u64,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Before the runtime starts its threads (each would take an arena of its own).
    let arenas_limited = skirmish_server::malloc::limit_arenas(cli.config.malloc_arenas);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(serve(cli, arenas_limited))
}

async fn serve(Cli { command, config }: Cli, arenas_limited: bool) -> anyhow::Result<()> {
    if let Some(Command::Seat { room, name, ttl_secs }) = command {
        let secret = config.join_secret.context("set SKIRMISH_JOIN_SECRET to mint seats")?;
        let key = seat::SeatKey::new(secret.as_bytes())?;
        let expires = seat::unix_now().saturating_add(ttl_secs);
        println!("{}", key.mint(&skirmish_shared::seat::SeatClaims { room, name, expires }));
        return Ok(());
    }
    telemetry::init(&config.log).context("invalid --log filter")?;
    if arenas_limited {
        tracing::info!(arenas = config.malloc_arenas, "C allocator arenas limited");
    }
    // Every connection is a descriptor: use all the system allows this process (the soft
    // limit is often 1024 while the hard one is far higher).
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(limit, "open file limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open file limit"),
    }
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.addr))?;
    let metrics = match config.metrics_addr {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} for metrics"))?,
        ),
        None => None,
    };
    let listeners = skirmish_server::Listeners { main: listener, metrics };
    skirmish_server::run_with(config, listeners, shutdown_signal(), Default::default()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
