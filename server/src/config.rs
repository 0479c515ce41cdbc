//! Server settings: command-line flags, each also read from an environment variable, with
//! defaults built in so the binary runs with no configuration at all.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use skirmish_shared::Rules;

use crate::sim::SimConfig;

/// Everything the server can be told.
#[derive(Debug, Clone, Parser)]
#[command(name = "skirmish", version, about = "Authoritative fixed-tick multiplayer battle server")]
pub struct Config {
    /// Address to serve HTTP (the web client at /) and WebSocket (/ws) on.
    #[arg(long, env = "SKIRMISH_ADDR", default_value = "127.0.0.1:5000")]
    pub addr: SocketAddr,
    /// Serve `/metrics` on this address only (instead of on the main one), e.g. to keep it
    /// off the public port.
    #[arg(long, env = "SKIRMISH_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// Simulation ticks per second.
    #[arg(long, env = "SKIRMISH_TICK_RATE", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=240))]
    pub tick_rate: u32,
    /// Map width in units.
    #[arg(long, env = "SKIRMISH_MAP_WIDTH", default_value_t = Rules::default().map_width)]
    pub map_width: u32,
    /// Map height in units.
    #[arg(long, env = "SKIRMISH_MAP_HEIGHT", default_value_t = Rules::default().map_height)]
    pub map_height: u32,
    /// Movement speed in units per second.
    #[arg(long, env = "SKIRMISH_SPEED", default_value_t = Rules::default().speed)]
    pub speed: f32,
    /// Lowest spawn coordinate on both axes, in units.
    #[arg(long, env = "SKIRMISH_SPAWN_MIN", default_value_t = Rules::default().spawn_min)]
    pub spawn_min: u32,
    /// Highest spawn coordinate on both axes, in units.
    #[arg(long, env = "SKIRMISH_SPAWN_MAX", default_value_t = Rules::default().spawn_max)]
    pub spawn_max: u32,
    /// Attack reach in units.
    #[arg(long, env = "SKIRMISH_ATTACK_RANGE", default_value_t = Rules::default().attack_range)]
    pub attack_range: f32,
    /// Hit points one attack takes.
    #[arg(long, env = "SKIRMISH_ATTACK_DAMAGE", default_value_t = Rules::default().attack_damage)]
    pub attack_damage: u32,
    /// Hit points at spawn.
    #[arg(long, env = "SKIRMISH_MAX_HP", default_value_t = Rules::default().max_hp)]
    pub max_hp: u32,
    /// Milliseconds between two attacks of one player.
    #[arg(long, env = "SKIRMISH_ATTACK_COOLDOWN_MS", default_value_t = Rules::default().attack_cooldown_ms)]
    pub attack_cooldown_ms: u32,
    /// Milliseconds a killed player waits before respawning.
    #[arg(long, env = "SKIRMISH_RESPAWN_DELAY_MS", default_value_t = Rules::default().respawn_delay_ms)]
    pub respawn_delay_ms: u32,
    /// How far around its player each client is sent the world, in units (the side of the
    /// view cells: a client sees its cell and the 8 around it); 0: the whole map.
    #[arg(long, env = "SKIRMISH_VIEW_RADIUS", default_value_t = Rules::default().view_radius)]
    pub view_radius: u32,
    /// Players in one room at most, connected or waiting to be resumed; a join naming a full
    /// room is refused (close 1013), quick play opens another room.
    #[arg(long, env = "SKIRMISH_MAX_PLAYERS_PER_ROOM", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_players_per_room: u32,
    /// Rooms open at most; a join that needs a new room beyond this is refused (close 1013).
    #[arg(long, env = "SKIRMISH_MAX_ROOMS", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_rooms: u32,
    /// Milliseconds an empty room stays open before it closes (its id can then be reused).
    #[arg(long, env = "SKIRMISH_ROOM_LINGER_MS", default_value_t = 10_000)]
    pub room_linger_ms: u64,
    /// Threads that tick the rooms (default: the number of cores).
    #[arg(long, env = "SKIRMISH_SIM_THREADS",
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub sim_threads: Option<u32>,
    /// Open connections at most (HTTP and WebSocket); more are refused with HTTP 503.
    #[arg(long, env = "SKIRMISH_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// Milliseconds a disconnected player stays in the world for its client to resume it
    /// with its token (0: it leaves at once).
    #[arg(long, env = "SKIRMISH_RESUME_GRACE_MS", default_value_t = 30_000)]
    pub resume_grace_ms: u64,
    /// Milliseconds a player whose client sent `leave` stays before everyone sees it go: long
    /// enough for a reload of the page (which sends `leave` as the old page goes) to resume
    /// it, short enough that a closed page's player is gone within a second (0: at once).
    #[arg(long, env = "SKIRMISH_LEAVE_GRACE_MS", default_value_t = 500)]
    pub leave_grace_ms: u64,
    /// Milliseconds back in time an attack may be resolved, to the tick its client was
    /// showing (lag compensation); never further (0: attacks resolve against the present).
    #[arg(long, env = "SKIRMISH_MAX_REWIND_MS", default_value_t = 250)]
    pub max_rewind_ms: u64,
    /// Milliseconds a client may leave its frame queue full before it is disconnected.
    #[arg(long, env = "SKIRMISH_STALL_TIMEOUT_MS", default_value_t = 5000)]
    pub stall_timeout_ms: u64,
    /// Open connections from one IP address at most; more are refused with HTTP 503.
    #[arg(long, env = "SKIRMISH_MAX_CONNECTIONS_PER_IP", default_value_t = 64)]
    pub max_connections_per_ip: usize,
    /// Joins one IP address may make per second, after a burst of 10; faster joins are
    /// refused (close 1013). Loopback peers are exempt unless `--cap-loopback`.
    #[arg(long, env = "SKIRMISH_JOINS_PER_IP_PER_SEC", default_value_t = 1.0)]
    pub joins_per_ip_per_sec: f64,
    /// Apply the per-address cap to loopback peers too. Off by default: behind a local
    /// reverse proxy every player comes from 127.0.0.1, and so does a local load test.
    #[arg(long, env = "SKIRMISH_CAP_LOOPBACK")]
    pub cap_loopback: bool,
    /// Reverse proxies whose `X-Forwarded-For` header names the client, comma-separated
    /// addresses or networks (e.g. `127.0.0.1,10.0.0.0/8`). Their connections are counted
    /// against the per-address caps by the forwarded address; anyone else's header is
    /// ignored.
    #[arg(long, env = "SKIRMISH_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// Origins allowed to open a WebSocket, comma-separated (e.g. `https://game.example`).
    /// Empty: the server's own origin and localhost. Requests without an Origin header
    /// (non-browser clients) are always allowed.
    #[arg(long, env = "SKIRMISH_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// Host names a browser may address this server by to open a WebSocket, comma-separated
    /// (e.g. `game.example`); the `Host` of an upgrade that carries an `Origin` must be one of
    /// them (ports ignored), which stops DNS-rebinding pages. Empty: the names of the bound
    /// address — `localhost`, `127.0.0.1`, `::1` for a loopback address, the address itself
    /// for another one, and any name when bound to all interfaces (0.0.0.0 or ::; set this
    /// flag when serving publicly).
    #[arg(long, env = "SKIRMISH_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
    /// Milliseconds a client has to send its whole HTTP request (and WebSocket upgrade).
    #[arg(long, env = "SKIRMISH_HANDSHAKE_TIMEOUT_MS", default_value_t = 10_000)]
    pub handshake_timeout_ms: u64,
    /// Milliseconds between the server's WebSocket pings.
    #[arg(long, env = "SKIRMISH_PING_INTERVAL_MS", default_value_t = 5_000)]
    pub ping_interval_ms: u64,
    /// Milliseconds a connection may stay silent (no message, no pong) before it is dropped
    /// (close 4003) and its player leaves.
    #[arg(long, env = "SKIRMISH_IDLE_TIMEOUT_MS", default_value_t = 15_000)]
    pub idle_timeout_ms: u64,
    /// Milliseconds a write to a client (a response, or WebSocket frames) may stay blocked
    /// before the connection is dropped: a client that stops reading a download can't hold
    /// its slot.
    #[arg(long, env = "SKIRMISH_WRITE_TIMEOUT_MS", default_value_t = 10_000)]
    pub write_timeout_ms: u64,
    /// Milliseconds a WebSocket connection has to send its join before it is closed (1008);
    /// for a long-polling join, how long its answer waits for the welcome.
    #[arg(long, env = "SKIRMISH_JOIN_TIMEOUT_MS", default_value_t = 5_000)]
    pub join_timeout_ms: u64,
    /// Milliseconds a long-polling `GET` waits for a message before it answers with an empty
    /// batch.
    #[arg(long, env = "SKIRMISH_POLL_TIMEOUT_MS", default_value_t = 25_000)]
    pub poll_timeout_ms: u64,
    /// Unsent bytes the kernel may hold for one connection before writes to it wait
    /// (TCP_NOTSENT_LOWAT, Linux). Small, so a client that stops reading is noticed within a
    /// few ticks (its socket takes no more: keyframe, then the stall limit) instead of hiding seconds
    /// of backlog in an autotuned send buffer. 0: the kernel's default.
    #[arg(long, env = "SKIRMISH_UNSENT_LIMIT_BYTES", default_value_t = 8192)]
    pub unsent_limit_bytes: u32,
    /// Arenas the C allocator (glibc) may use; 0: its own default (8 per core; also when
    /// `MALLOC_ARENA_MAX` is set). One keeps idle connections smallest, at no CPU cost measured
    /// on 2 cores (BENCHMARKS "Memory at rest"); on many cores, measure.
    #[arg(long, env = "SKIRMISH_MALLOC_ARENAS", default_value_t = 1)]
    pub malloc_arenas: usize,
    /// Kernel send buffer per connection in bytes (default: the OS's). Smaller makes a client
    /// that stops reading show up sooner as behind.
    #[arg(long, env = "SKIRMISH_SEND_BUFFER_BYTES")]
    pub send_buffer_bytes: Option<usize>,
    /// Serve the web client from this folder, read at start (for development), instead of
    /// the copy built into the binary.
    #[arg(long, env = "SKIRMISH_WEB_ROOT")]
    pub web_root: Option<PathBuf>,
    /// Seed for spawn points (random if not given).
    #[arg(long, env = "SKIRMISH_SEED")]
    pub seed: Option<u64>,
    /// The secret (at least 16 bytes) seat tickets are signed with. When set, a join must
    /// carry a valid, unexpired seat for its room (`skirmish seat` mints one); when not, the
    /// server is open to anyone. Give it in the environment: a command line is visible to
    /// every user of the machine.
    #[arg(long, env = "SKIRMISH_JOIN_SECRET", hide_env_values = true)]
    pub join_secret: Option<String>,
    /// Certificate chain (PEM) to serve TLS with: with `--tls-key`, the port speaks https and
    /// wss (and answers plain HTTP with a 400 saying so).
    #[arg(long, env = "SKIRMISH_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "SKIRMISH_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Report the lifecycle to the Agones SDK sidecar: Ready, Health while every room ticks
    /// on time, the `players` and `rooms` counters, Shutdown (cargo feature `agones`).
    #[cfg(feature = "agones")]
    #[arg(long, env = "SKIRMISH_AGONES")]
    pub agones: bool,
    /// The Agones SDK sidecar's gRPC port on localhost.
    #[cfg(feature = "agones")]
    #[arg(long, env = "AGONES_SDK_GRPC_PORT", default_value_t = 9357)]
    pub agones_sdk_port: u16,
    /// Milliseconds between Agones health pings (keep it under the Fleet's health period).
    #[cfg(feature = "agones")]
    #[arg(long, env = "SKIRMISH_AGONES_HEALTH_INTERVAL_MS", default_value_t = 2_000)]
    pub agones_health_interval_ms: u64,
    /// Milliseconds to wait for the Agones SDK sidecar at start before giving up.
    #[cfg(feature = "agones")]
    #[arg(long, env = "SKIRMISH_AGONES_CONNECT_TIMEOUT_MS", default_value_t = 10_000)]
    pub agones_connect_timeout_ms: u64,
    /// With --agones: once Allocated and empty for this many milliseconds, drain and shut
    /// down (Agones then replaces the process with a fresh Ready one).
    #[cfg(feature = "agones")]
    #[arg(long, env = "SKIRMISH_EXIT_WHEN_EMPTY_AFTER_MS")]
    pub exit_when_empty_after_ms: Option<u64>,
    /// Log filter, in tracing's EnvFilter syntax (e.g. `info`, `skirmish_server=debug`).
    #[arg(long, env = "SKIRMISH_LOG", default_value = "info")]
    pub log: String,
}

impl Default for Config {
    /// The built-in defaults, ignoring flags and environment.
    fn default() -> Self {
        let rules = Rules::default();
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 5000)),
            metrics_addr: None,
            tick_rate: 30,
            map_width: rules.map_width,
            map_height: rules.map_height,
            speed: rules.speed,
            spawn_min: rules.spawn_min,
            spawn_max: rules.spawn_max,
            attack_range: rules.attack_range,
            attack_damage: rules.attack_damage,
            max_hp: rules.max_hp,
            attack_cooldown_ms: rules.attack_cooldown_ms,
            respawn_delay_ms: rules.respawn_delay_ms,
            view_radius: rules.view_radius,
            max_players_per_room: 100,
            max_rooms: 100,
            room_linger_ms: 10_000,
            sim_threads: None,
            max_connections: 4096,
            stall_timeout_ms: 5000,
            resume_grace_ms: 30_000,
            leave_grace_ms: 500,
            max_rewind_ms: 250,
            max_connections_per_ip: 64,
            cap_loopback: false,
            joins_per_ip_per_sec: 1.0,
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            trusted_proxies: Vec::new(),
            handshake_timeout_ms: 10_000,
            ping_interval_ms: 5_000,
            idle_timeout_ms: 15_000,
            join_timeout_ms: 5_000,
            poll_timeout_ms: 25_000,
            write_timeout_ms: 10_000,
            unsent_limit_bytes: 8192,
            malloc_arenas: 1,
            send_buffer_bytes: None,
            web_root: None,
            seed: None,
            join_secret: None,
            tls_cert: None,
            tls_key: None,
            #[cfg(feature = "agones")]
            agones: false,
            #[cfg(feature = "agones")]
            agones_sdk_port: 9357,
            #[cfg(feature = "agones")]
            agones_health_interval_ms: 2_000,
            #[cfg(feature = "agones")]
            agones_connect_timeout_ms: 10_000,
            #[cfg(feature = "agones")]
            exit_when_empty_after_ms: None,
            log: "info".into(),
        }
    }
}

impl Config {
    /// The game rules these settings describe.
    pub fn rules(&self) -> Rules {
        Rules {
            map_width: self.map_width,
            map_height: self.map_height,
            speed: self.speed,
            spawn_min: self.spawn_min,
            spawn_max: self.spawn_max,
            attack_range: self.attack_range,
            attack_damage: self.attack_damage,
            max_hp: self.max_hp,
            attack_cooldown_ms: self.attack_cooldown_ms,
            respawn_delay_ms: self.respawn_delay_ms,
            view_radius: self.view_radius,
            ..Rules::default()
        }
    }

    /// The simulation's part of the settings.
    pub fn sim(&self) -> SimConfig {
        SimConfig {
            rules: self.rules(),
            tick_rate: self.tick_rate,
            max_players: self.max_players_per_room as usize,
            resume_grace_ticks: self.ms_to_ticks(self.resume_grace_ms),
            leave_grace_ticks: self.ms_to_ticks(self.leave_grace_ms),
            max_rewind_ticks: self
                .ms_to_ticks(self.max_rewind_ms)
                .min(crate::sim::MAX_REWIND_TICKS),
            seed: self.seed.unwrap_or_else(|| fastrand::u64(..)),
            room: String::new(),
        }
    }

    /// How rooms are made and ticked.
    pub fn rooms(&self) -> crate::room::registry::RoomSettings {
        crate::room::registry::RoomSettings {
            sim: self.sim(),
            max_rooms: self.max_rooms as usize,
            linger: Duration::from_millis(self.room_linger_ms),
            stall_ticks: self.stall_ticks(),
            sim_threads: self.sim_threads.map_or_else(
                || std::thread::available_parallelism().map_or(1, |n| n.get()),
                |n| n as usize,
            ),
        }
    }

    /// The network side's limits, for a server bound to `bound` that serves metrics on the
    /// main port or (`metrics_separate`) on a port of their own.
    pub fn net_limits(
        &self,
        bound: SocketAddr,
        metrics_separate: bool,
    ) -> Result<crate::net::NetLimits, crate::ServerError> {
        let seat_key = match &self.join_secret {
            Some(secret) => Some(crate::seat::SeatKey::new(secret.as_bytes())?),
            None => None,
        };
        Ok(crate::net::NetLimits {
            seat_key,
            max_connections: self.max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
            cap_loopback: self.cap_loopback,
            joins_per_ip_per_sec: self.joins_per_ip_per_sec.max(0.0),
            allowed_origins: self
                .allowed_origins
                .iter()
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
            handshake_timeout: Duration::from_millis(self.handshake_timeout_ms),
            ping_interval: Duration::from_millis(self.ping_interval_ms.max(1)),
            idle_timeout: Duration::from_millis(self.idle_timeout_ms.max(1)),
            join_timeout: Duration::from_millis(self.join_timeout_ms.max(1)),
            poll_timeout: Duration::from_millis(self.poll_timeout_ms.max(1)),
            write_timeout: Duration::from_millis(self.write_timeout_ms.max(1)),
            allowed_hosts: self.allowed_hosts(bound),
            trusted_proxies: crate::net::proxy::TrustedProxies::parse(&self.trusted_proxies)?,
            send_buffer_bytes: self.send_buffer_bytes,
            unsent_limit_bytes: self.unsent_limit_bytes,
            tick_rate: self.tick_rate,
            metrics_on_main: !metrics_separate,
        })
    }

    /// The host names a browser may use to reach a server bound to `bound` (see
    /// `--allowed-hosts`); `None`: any.
    pub fn allowed_hosts(&self, bound: std::net::SocketAddr) -> Option<Vec<String>> {
        let listed: Vec<String> = self
            .allowed_hosts
            .iter()
            .map(|h| h.trim().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        if !listed.is_empty() {
            return Some(listed);
        }
        let ip = bound.ip();
        if ip.is_unspecified() {
            None
        } else if ip.is_loopback() {
            Some(vec!["localhost".into(), "127.0.0.1".into(), "::1".into(), ip.to_string()])
        } else {
            Some(vec![ip.to_string()])
        }
    }

    /// With `--agones`: how to talk to the sidecar.
    #[cfg(feature = "agones")]
    pub fn agones(&self) -> Option<crate::agones::AgonesSettings> {
        self.agones.then(|| crate::agones::AgonesSettings {
            port: self.agones_sdk_port,
            health_interval: Duration::from_millis(self.agones_health_interval_ms.max(1)),
            connect_timeout: Duration::from_millis(self.agones_connect_timeout_ms.max(1)),
            exit_when_empty_after: self.exit_when_empty_after_ms.map(Duration::from_millis),
            max_players: i64::from(self.max_players_per_room) * i64::from(self.max_rooms),
            max_rooms: i64::from(self.max_rooms),
        })
    }

    /// `ms` milliseconds in ticks, rounded up.
    fn ms_to_ticks(&self, ms: u64) -> u64 {
        (u128::from(ms) * u128::from(self.tick_rate)).div_ceil(1000).try_into().unwrap_or(u64::MAX)
    }

    /// `--stall-timeout-ms` in ticks: how long a client's queue may stay full.
    pub fn stall_ticks(&self) -> u32 {
        let tick = Duration::from_secs(1) / self.tick_rate.max(1);
        (Duration::from_millis(self.stall_timeout_ms).as_nanos() / tick.as_nanos().max(1))
            .try_into()
            .unwrap_or(u32::MAX)
    }
}
