//! `swarm`: N real bots against a running Skirmish server, over WebSocket or (with
//! `--transport polling`) HTTP long-polling. Each joins, then sends
//! one input per tick (a random walk, sometimes attacking) and reads every frame. Measures
//! input → ack latency, frames and bytes per second per client, missing ticks, keyframe
//! resyncs and connect failures, its own CPU and the server's, and the server's own view from
//! `/metrics`. Bounded by `--clients` and `--duration`.
//!
//! With `--hostile N`, N more connections attack the server beside the bots (see [`hostile`]);
//! they are counted apart and never enter the bots' figures.
//!
//! Lean on purpose (it shares the machine with the server): one thread for the bots (a second
//! one for the hostile connections, if any), 4 KiB read buffers, and only each frame's
//! three-value header is decoded.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use skirmish_server::poll_client::{self, HttpConn};
use skirmish_shared::wire::Reader;
use skirmish_shared::{ClientMsg, Direction, Input, InputTiming, PROTOCOL_VERSION, ServerMsg};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Bytes;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Load generator for a Skirmish server.
#[derive(Debug, Parser)]
#[command(name = "swarm", version)]
struct Args {
    /// Server address (HTTP and WebSocket on one port).
    #[arg(long, env = "SWARM_ADDR", default_value = "127.0.0.1:5000")]
    addr: SocketAddr,
    /// How the bots talk to the server: `websocket`, or `polling` (HTTP long-polling: one
    /// `GET` always waiting, inputs `POST`ed with at most one in flight, batched meanwhile, as
    /// the web client does).
    #[arg(long, env = "SWARM_TRANSPORT", value_enum, default_value_t = Transport::Websocket)]
    transport: Transport,
    /// Bots to run.
    #[arg(long, env = "SWARM_CLIENTS", default_value_t = 100)]
    clients: usize,
    /// Seconds to measure, after every bot has had its turn to connect.
    #[arg(long, env = "SWARM_DURATION", default_value_t = 10)]
    duration: u64,
    /// Seconds over which the bots connect.
    #[arg(long, env = "SWARM_RAMP", default_value_t = 2)]
    ramp: u64,
    /// Chance that an input presses attack.
    #[arg(long, env = "SWARM_ATTACK", default_value_t = 0.05)]
    attack: f32,
    /// Churn: each bot leaves after a random 1..=2×N seconds and joins again as a new player,
    /// until the end (for soak tests). 0 = bots stay.
    #[arg(long, env = "SWARM_CHURN_SECS", default_value_t = 0)]
    churn_secs: u64,
    /// Bots join and then send nothing: measures what an idle world costs each client.
    #[arg(long, env = "SWARM_IDLE")]
    idle: bool,
    /// Bots open the WebSocket and never join (for measuring what a connection that has not
    /// joined costs the server; run it with a long `--join-timeout-ms`).
    #[arg(long, env = "SWARM_NO_JOIN")]
    no_join: bool,
    /// Spread the bots over this many named rooms (`swarm-0`, `swarm-1`, …, bot i in room
    /// i mod N). 0: every bot asks for quick play and the server places it.
    #[arg(long, env = "SWARM_ROOMS", default_value_t = 0)]
    rooms: usize,
    /// Hostile connections beside the bots, not counted in the bots' figures: hostile i
    /// repeats attack i mod 6 until the end (join and drop at once, flood inputs, never join,
    /// flood WebSocket pings, stop reading, read at half the stream's rate); the summary counts
    /// each kind's connections and the close codes the server ended them with, and how stale
    /// the half-rate readers' frames were.
    #[arg(long, env = "SWARM_HOSTILE", default_value_t = 0)]
    hostile: usize,
    /// Keep each bot's send timer where it started instead of following the server's word on
    /// when its inputs arrive (the pong's input timing, as the web client does).
    #[arg(long, env = "SWARM_FIXED_PHASE")]
    fixed_phase: bool,
    /// Print the summary as one JSON object instead of a table.
    #[arg(long, env = "SWARM_JSON")]
    json: bool,
    /// The server's process id, to report its CPU (default: the process named `skirmish`).
    #[arg(long, env = "SWARM_SERVER_PID")]
    server_pid: Option<u32>,
    /// Connect with wss (a server run with --tls-cert), trusting the CA certificates in this
    /// PEM file (WebSocket bots only).
    #[arg(long, env = "SWARM_TLS_CA")]
    tls_ca: Option<std::path::PathBuf>,
    /// The name the server's certificate must have (with --tls-ca).
    #[arg(long, env = "SWARM_TLS_NAME", default_value = "localhost")]
    tls_name: String,
    /// Set up from --tls-ca at start.
    #[arg(skip)]
    tls: Option<tls_stream::Tls>,
}

/// A bot's transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Transport {
    Websocket,
    Polling,
}

#[derive(Debug)]
struct Stats {
    connected: usize,
    connect_failures: usize,
    closed_by_server: usize,
    frames: u64,
    bytes: u64,
    keyframes: u64,
    /// Gaps in a client's tick numbers: ticks it was not sent, lost or (legitimately) idle.
    gap_ticks: u64,
    /// Per room, the ticks whose frame carried a change: every client of the room should get
    /// these (or a keyframe after them).
    changed_ticks: HashMap<String, HashSet<u64>>,
    /// Per finished connection: its room, the ticks it got (or skipped by a keyframe), and its
    /// first and last measured tick.
    received: Vec<(String, HashSet<u64>, u64, u64)>,
    rejoins: u64,
    inputs: u64,
    latency_us: Histogram<u64>,
    measuring: bool,
    /// Polling: every byte of the HTTP requests and responses while measuring, and the body
    /// bytes among them.
    http_bytes: u64,
    http_body_bytes: u64,
    /// The servers' word (pongs) on how long before their tick the bots' inputs arrived, µs.
    leads_us: Vec<i32>,
}

impl Stats {
    fn new() -> Self {
        Self {
            connected: 0,
            connect_failures: 0,
            closed_by_server: 0,
            frames: 0,
            bytes: 0,
            keyframes: 0,
            gap_ticks: 0,
            changed_ticks: HashMap::new(),
            received: Vec::new(),
            rejoins: 0,
            inputs: 0,
            latency_us: Histogram::new_with_bounds(1, 60_000_000, 3)
                .unwrap_or_else(|_| unreachable!("valid histogram bounds")),
            measuring: false,
            http_bytes: 0,
            http_body_bytes: 0,
            leads_us: Vec::new(),
        }
    }
}

impl Stats {
    /// Ticks that carried a change in a client's room but never reached it (nor a keyframe
    /// after them): frames really lost. A gap for a tick with no change for this client is
    /// the protocol's idle-tick rule, not a loss.
    fn missing_ticks(&self) -> u64 {
        let mut missing = 0;
        for (room, got, first, last) in &self.received {
            let Some(changed) = self.changed_ticks.get(room) else { continue };
            missing +=
                changed.iter().filter(|&&t| t >= *first && t <= *last && !got.contains(&t)).count()
                    as u64;
        }
        missing
    }
}

type Shared = Rc<RefCell<Stats>>;

/// CPU seconds (user + system) used by process `pid` (or this one), from /proc.
fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = pid.map_or_else(|| "/proc/self/stat".to_owned(), |p| format!("/proc/{p}/stat"));
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0) // USER_HZ is 100 on Linux
}

fn find_server_pid() -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let state = stat.rsplit_once(')')?.1.split_whitespace().next()?;
        (comm.trim() == "skirmish" && state != "Z").then_some(pid)
    })
}

/// The server's counters from `/metrics`, as (name, value) pairs.
async fn server_metrics(addr: SocketAddr) -> Vec<(String, f64)> {
    let fetch = async {
        let mut tcp = TcpStream::connect(addr).await.ok()?;
        tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: swarm\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut body = String::new();
        tcp.read_to_string(&mut body).await.ok()?;
        Some(body)
    };
    let body = tokio::time::timeout(Duration::from_secs(5), fetch)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    body.lines()
        .filter(|l| l.starts_with("skirmish_"))
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect()
}

/// The sum of a metric over all its labels (e.g. every room's ticks).
fn metric(m: &[(String, f64)], name: &str) -> Option<f64> {
    let mut found = None;
    for (k, v) in m {
        if k.split('{').next() == Some(name) {
            *found.get_or_insert(0.0) += v;
        }
    }
    found
}

/// The `q` quantile (upper bucket edge, seconds) of histogram `name` over what was recorded
/// between `before` and `after`, summed over all labels.
fn quantile(before: &[(String, f64)], after: &[(String, f64)], name: &str, q: f64) -> Option<f64> {
    let bucket = format!("{name}_bucket{{");
    let mut by_le: Vec<(f64, f64)> = Vec::new();
    for (sign, m) in [(-1.0, before), (1.0, after)] {
        for (k, v) in m {
            let Some(labels) = k.strip_prefix(&bucket) else { continue };
            let le = labels.split("le=\"").nth(1)?.split('"').next()?;
            let le = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
            match by_le.iter_mut().find(|(l, _)| *l == le) {
                Some((_, n)) => *n += sign * v,
                None => by_le.push((le, sign * v)),
            }
        }
    }
    by_le.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = by_le.last()?.1;
    if total <= 0.0 {
        return None;
    }
    by_le.iter().find(|(_, n)| *n >= q * total).map(|(le, _)| *le)
}

/// One bot: plays until the end, or with `--churn-secs` leaves and comes back as a new player
/// again and again.
async fn bot(id: usize, args: Rc<Args>, stats: Shared, start_at: Instant, end_at: Instant) {
    tokio::time::sleep_until(start_at.into()).await;
    let mut rng = fastrand::Rng::with_seed(id as u64 ^ 0x5eed);
    loop {
        let until = if args.churn_secs == 0 {
            end_at
        } else {
            let life = Duration::from_millis(rng.u64(1000..=2000 * args.churn_secs));
            (Instant::now() + life).min(end_at)
        };
        play(id, &args, &stats, until).await;
        if Instant::now() >= end_at {
            break;
        }
        stats.borrow_mut().rejoins += 1;
    }
}

/// One connection: join, play until `end_at`, leave.
async fn play(id: usize, args: &Args, stats: &Shared, end_at: Instant) {
    let join = ClientMsg::Join {
        protocol_version: PROTOCOL_VERSION,
        name: Some(format!("bot{id}")),
        resume: None,
        room: (args.rooms > 0).then(|| format!("swarm-{}", id % args.rooms)),
        seat: None,
    }
    .encode();
    let connect = async {
        if args.transport == Transport::Polling {
            return Link::join_polling(args.addr, &join, stats).await;
        }
        let tcp = TcpStream::connect(args.addr).await.ok()?;
        let _ = tcp.set_nodelay(true);
        let (stream, scheme) = match &args.tls {
            Some(tls) => (tls.connect(tcp).await.ok()?, "wss"),
            None => (tls_stream::Stream::Plain(tcp), "ws"),
        };
        let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
        let url = format!("{scheme}://{}:{}/ws", args.tls_name, args.addr.port());
        let (mut ws, _) =
            tokio_tungstenite::client_async_with_config(url, stream, Some(config)).await.ok()?;
        if args.no_join {
            stats.borrow_mut().connected += 1;
            // Holds the connection, answering pings, until the end or the server closes it.
            let _ = tokio::time::timeout_at(end_at.into(), async {
                while let Some(Ok(_)) = ws.next().await {}
            })
            .await;
            return None;
        }
        ws.send(Message::Binary(join.into())).await.ok()?;
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Binary(b) = msg
                && let Ok(ServerMsg::Welcome(w)) = ServerMsg::decode(&b)
            {
                return Some((Link::Ws(Box::new(ws)), w.tick_rate, w.room));
            }
        }
        None
    };
    let connect_by = if args.no_join { end_at } else { Instant::now() + Duration::from_secs(10) };
    let Ok(Some((mut link, tick_rate, room))) =
        tokio::time::timeout_at(connect_by.into(), connect).await
    else {
        if !args.no_join {
            stats.borrow_mut().connect_failures += 1;
        }
        return;
    };
    stats.borrow_mut().connected += 1;
    let mut rng = fastrand::Rng::with_seed(id as u64);
    let mut heading = rng.f32() * std::f32::consts::TAU;
    let period = Duration::from_secs(1) / tick_rate.max(1);
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // A ping a second: its pong says when this bot's inputs arrive.
    let mut pinger = tokio::time::interval(Duration::from_secs(1));
    // When the last input went: a phase shift moves the next one relative to it.
    let mut last_send = tokio::time::Instant::now();
    pinger.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seq = 0u32;
    let mut in_flight: VecDeque<(u32, Instant)> = VecDeque::with_capacity(16);
    let mut last_tick = 0u64;
    let mut got: HashSet<u64> = HashSet::new();
    let (mut first_measured, mut last_measured) = (0u64, 0u64);
    let end = tokio::time::sleep_until(end_at.into());
    tokio::pin!(end);
    loop {
        tokio::select! {
            _ = &mut end => break,
            _ = interval.tick(), if !args.idle => {
                last_send = tokio::time::Instant::now();
                if rng.f32() < 0.1 {
                    heading = rng.f32() * std::f32::consts::TAU;
                }
                seq += 1;
                let dir = Direction::new(heading.cos(), heading.sin()).unwrap_or_default();
                let input = Input { seq, dir, attack: rng.f32() < args.attack, seen: last_tick, shown: 0 };
                if !link.send(ClientMsg::Input(input).encode()).await {
                    break;
                }
                in_flight.push_back((seq, Instant::now()));
                if in_flight.len() > 64 {
                    in_flight.pop_front();
                }
                stats.borrow_mut().inputs += 1;
            }
            _ = pinger.tick(), if !args.idle && !args.fixed_phase => {
                if !link.send(ClientMsg::Ping { client_time: 0 }.encode()).await {
                    break;
                }
            }
            msg = link.next() => {
                let Some(bytes) = msg else {
                    stats.borrow_mut().closed_by_server += 1;
                    break;
                };
                if let Ok(ServerMsg::Pong { timing: Some(t), .. }) = pong_of(&bytes) {
                    let mut s = stats.borrow_mut();
                    if s.measuring {
                        s.leads_us.push(t.lead_us);
                    }
                    drop(s);
                    if !args.fixed_phase {
                        let shift = phase_shift_ms(t);
                        if shift != 0.0 {
                            let next = (period.as_secs_f64() + shift / 1e3).max(0.0);
                            interval.reset_at(last_send + Duration::from_secs_f64(next));
                        }
                    }
                    continue;
                }
                let mut r = Reader::new(&bytes);
                let (Ok(_), Ok(tag), Ok(tick), Ok(ack)) = (r.array_len(), r.int(), r.int_as::<u64>(), r.int_as::<u32>()) else {
                    continue; // a pong
                };
                let now = Instant::now();
                let mut s = stats.borrow_mut();
                if !s.measuring {
                    last_tick = tick;
                    in_flight.retain(|&(q, _)| q > ack);
                    continue;
                }
                s.frames += 1;
                s.bytes += bytes.len() as u64;
                if first_measured == 0 {
                    first_measured = tick;
                }
                if tag == 2 {
                    s.keyframes += 1;
                    // The keyframe stands in for the frames missed before it.
                    if last_tick != 0 {
                        got.extend(last_tick + 1..tick);
                    }
                } else {
                    if last_tick != 0 && tick > last_tick + 1 {
                        s.gap_ticks += tick - last_tick - 1;
                    }
                    // Four empty arrays after the header: a frame that only moves the ack.
                    if r.rest() != [0x90, 0x90, 0x90, 0x90] {
                        s.changed_ticks.entry(room.clone()).or_default().insert(tick);
                    }
                }
                got.insert(tick);
                last_tick = tick;
                last_measured = tick;
                while let Some(&(q, sent)) = in_flight.front() {
                    if q > ack {
                        break;
                    }
                    in_flight.pop_front();
                    let us = u64::try_from((now - sent).as_micros()).unwrap_or(u64::MAX).max(1);
                    let _ = s.latency_us.record(us);
                }
            }
        }
    }
    if first_measured != 0 {
        stats.borrow_mut().received.push((room, got, first_measured, last_measured));
    }
    link.close().await;
}

/// The message if it is a pong (decoding only those: frames are read by their header).
fn pong_of(bytes: &[u8]) -> Result<ServerMsg, ()> {
    let mut r = Reader::new(bytes);
    match (r.array_len(), r.int()) {
        (Ok(_), Ok(3)) => ServerMsg::decode(bytes).map_err(|_| ()),
        _ => Err(()),
    }
}

/// How much later (ms; negative: earlier) to send the next input, from the server's word on
/// when this bot's inputs arrive: the web client's rule (web-client/src/send-phase.ts), to
/// arrive the jitter plus 3 ms before the tick, moving by half the difference, at most 4 ms.
fn phase_shift_ms(t: InputTiming) -> f64 {
    let target = f64::from(t.jitter_us) / 1e3 + 3.0;
    let early = f64::from(t.lead_us) / 1e3 - target;
    if early.abs() < 1.0 { 0.0 } else { (early / 2.0).clamp(-4.0, 4.0) }
}

type Ws = tokio_tungstenite::WebSocketStream<tls_stream::Stream>;

/// A bot's connection, over either transport.
enum Link {
    Ws(Box<Ws>),
    Poll(Poller),
}

/// A long-polling bot: one task keeps a `GET` waiting and hands over what it brings; another
/// `POST`s what the bot sends, one request at a time, batching what waits meanwhile.
struct Poller {
    outbox: tokio::sync::mpsc::UnboundedSender<Vec<u8>>,
    inbox: tokio::sync::mpsc::UnboundedReceiver<Bytes>,
    tasks: [tokio::task::JoinHandle<()>; 2],
}

/// Adds a request's bytes to the figures, while measuring.
fn count_http(stats: &Shared, conn: &HttpConn, seen: &mut (u64, u64)) {
    let total = conn.sent + conn.received;
    let mut s = stats.borrow_mut();
    if s.measuring {
        s.http_bytes += total - seen.0;
        s.http_body_bytes += conn.payload - seen.1;
    }
    *seen = (total, conn.payload);
}

impl Link {
    /// Joins over polling: the link, the tick rate and the room, once welcomed.
    async fn join_polling(
        addr: SocketAddr,
        join: &[u8],
        stats: &Shared,
    ) -> Option<(Link, u32, String)> {
        let mut get = HttpConn::new(addr);
        let (sid, first) = poll_client::join(&mut get, join).await.ok()?;
        let welcome = first.messages.first().and_then(|m| match ServerMsg::decode(m) {
            Ok(ServerMsg::Welcome(w)) => Some(w),
            _ => None,
        })?;
        let (to_bot, inbox) = tokio::sync::mpsc::unbounded_channel();
        let (outbox, mut from_bot) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
        for m in first.messages.into_iter().skip(1) {
            let _ = to_bot.send(m);
        }
        let reader = tokio::task::spawn_local({
            let (sid, stats) = (sid.clone(), stats.clone());
            async move {
                let mut seen = (0, 0);
                while let Ok(Ok(polled)) = poll_client::poll(&mut get, &sid).await {
                    count_http(&stats, &get, &mut seen);
                    for m in polled.messages {
                        let _ = to_bot.send(m);
                    }
                    if polled.close.is_some() {
                        break;
                    }
                }
                // Dropping the sender tells the bot the session ended.
            }
        });
        let writer = tokio::task::spawn_local({
            let stats = stats.clone();
            async move {
                let mut post = HttpConn::new(addr);
                let mut seen = (0, 0);
                while let Some(first) = from_bot.recv().await {
                    let mut waiting = vec![first];
                    while let Ok(more) = from_bot.try_recv() {
                        waiting.push(more);
                    }
                    let batch = poll_client::write_batch(waiting.iter().map(Vec::as_slice));
                    match poll_client::send(&mut post, &sid, &batch).await {
                        Ok(res) if res.status == 204 => count_http(&stats, &post, &mut seen),
                        _ => break,
                    }
                }
            }
        });
        let poller = Poller { outbox, inbox, tasks: [reader, writer] };
        Some((Link::Poll(poller), welcome.tick_rate, welcome.room))
    }

    /// Sends one message; `false` once the connection is gone.
    async fn send(&mut self, msg: Vec<u8>) -> bool {
        match self {
            Link::Ws(ws) => ws.send(Message::Binary(msg.into())).await.is_ok(),
            Link::Poll(p) => p.outbox.send(msg).is_ok(),
        }
    }

    /// The next message's bytes; `None` once the server closed the connection (or it failed).
    async fn next(&mut self) -> Option<Bytes> {
        match self {
            Link::Ws(ws) => loop {
                match ws.next().await? {
                    Ok(Message::Binary(b)) => return Some(b),
                    Ok(Message::Close(_)) | Err(_) => return None,
                    Ok(_) => {}
                }
            },
            Link::Poll(p) => p.inbox.recv().await,
        }
    }

    /// Leaves as a dropped connection does (the player waits to be resumed): a WebSocket
    /// closes; a poller stops polling.
    async fn close(self) {
        match self {
            Link::Ws(mut ws) => {
                let _ = tokio_tungstenite::WebSocketStream::close(&mut *ws, None).await;
            }
            Link::Poll(p) => {
                for t in p.tasks {
                    t.abort();
                }
            }
        }
    }
}

fn main() -> anyhow_free::Result {
    let mut args = Args::parse();
    if let Some(ca) = &args.tls_ca {
        args.tls = Some(tls_stream::Tls::new(ca, &args.tls_name)?);
    }
    let args = Rc::new(args);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, run(args))
}

mod tls_stream;

/// Without anyhow: the swarm's only errors are start-up I/O errors.
mod anyhow_free {
    pub type Result = std::result::Result<(), Box<dyn std::error::Error>>;
}

async fn run(args: Rc<Args>) -> anyhow_free::Result {
    let stats: Shared = Rc::new(RefCell::new(Stats::new()));
    let t0 = Instant::now();
    let ramp = Duration::from_secs(args.ramp);
    let measure_from = t0 + ramp + Duration::from_secs(1);
    let end_at = measure_from + Duration::from_secs(args.duration);
    let mut bots = Vec::with_capacity(args.clients);
    for i in 0..args.clients {
        let start = t0 + ramp.mul_f64(i as f64 / args.clients.max(1) as f64);
        bots.push(tokio::task::spawn_local(bot(i, args.clone(), stats.clone(), start, end_at)));
    }
    let hostiles = match args.hostile {
        0 => None,
        count => Some(hostile::spawn(hostile::Plan {
            addr: args.addr,
            rooms: args.rooms,
            count,
            start: t0,
            ramp,
            end_at,
        })?),
    };
    let bar = if args.json {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::with_draw_target(
            Some(args.ramp + 1 + args.duration),
            ProgressDrawTarget::stderr(),
        );
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len}s {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    };
    let server_pid = args.server_pid.or_else(find_server_pid);
    tokio::time::sleep_until(measure_from.into()).await;
    let before = server_metrics(args.addr).await;
    let (self_cpu0, server_cpu0) =
        (cpu_seconds(None), server_pid.and_then(|p| cpu_seconds(Some(p))));
    stats.borrow_mut().measuring = true;
    let measure_start = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_millis(500));
    while Instant::now() < end_at {
        ticker.tick().await;
        let s = stats.borrow();
        bar.set_position(t0.elapsed().as_secs());
        bar.set_message(format!(
            "{} connected, {} failed, {:.0} frames/s",
            s.connected,
            s.connect_failures,
            s.frames as f64 / measure_start.elapsed().as_secs_f64().max(0.001)
        ));
    }
    let wall = measure_start.elapsed().as_secs_f64();
    stats.borrow_mut().measuring = false;
    let (self_cpu1, server_cpu1) =
        (cpu_seconds(None), server_pid.and_then(|p| cpu_seconds(Some(p))));
    let after = server_metrics(args.addr).await;
    for b in bots {
        let _ = b.await;
    }
    // Err: the hostile thread failed before reporting (its runtime did not start).
    let hostile_report = match hostiles {
        Some(report) => Some(report.await),
        None => None,
    };
    bar.finish_and_clear();

    let s = stats.borrow();
    let clients = s.connected.max(1) as f64;
    let q = |p: f64| s.latency_us.value_at_quantile(p) as f64 / 1000.0;
    let delta = |name: &str| Some(metric(&after, name)? - metric(&before, name).unwrap_or(0.0));
    let cpu = |a: Option<f64>, b: Option<f64>| Some((b? - a?) / wall * 100.0);
    let rows: Vec<(&str, String)> = vec![
        ("connections made", format!("{} ({} bots)", s.connected, args.clients)),
        ("connect failures", s.connect_failures.to_string()),
        ("closed by server", s.closed_by_server.to_string()),
        ("measured seconds", format!("{wall:.1}")),
        ("input -> ack p50 ms", format!("{:.2}", q(0.5))),
        ("input -> ack p90 ms", format!("{:.2}", q(0.9))),
        ("input -> ack p99 ms", format!("{:.2}", q(0.99))),
        ("input -> ack max ms", format!("{:.2}", s.latency_us.max() as f64 / 1000.0)),
        ("acks measured", s.latency_us.len().to_string()),
        ("frames/s per client", format!("{:.1}", s.frames as f64 / wall / clients)),
        ("bytes/s per client", format!("{:.0}", s.bytes as f64 / wall / clients)),
        ("HTTP bytes/s per client (all)", format!("{:.0}", s.http_bytes as f64 / wall / clients)),
        (
            "HTTP body bytes/s per client",
            format!("{:.0}", s.http_body_bytes as f64 / wall / clients),
        ),
        (
            "HTTP overhead bytes/s per client",
            format!("{:.0}", (s.http_bytes - s.http_body_bytes) as f64 / wall / clients),
        ),
        ("missing ticks (all clients)", s.missing_ticks().to_string()),
        (
            "idle ticks not sent (all clients)",
            (s.gap_ticks.saturating_sub(s.missing_ticks())).to_string(),
        ),
        ("keyframe resyncs", s.keyframes.to_string()),
        ("rejoins (churn)", s.rejoins.to_string()),
        ("swarm CPU %", cpu(self_cpu0, self_cpu1).map_or("n/a".into(), |v| format!("{v:.0}"))),
        (
            "swarm CPU us per frame",
            cpu(self_cpu0, self_cpu1).map_or("n/a".into(), |v| {
                format!("{:.1}", v / 100.0 * wall * 1e6 / (s.frames.max(1) as f64))
            }),
        ),
        (
            "server CPU %",
            cpu(server_cpu0, server_cpu1).map_or("n/a (no pid)".into(), |v| format!("{v:.1}")),
        ),
        (
            "server CPU us per frame",
            cpu(server_cpu0, server_cpu1).map_or("n/a (no pid)".into(), |v| {
                format!("{:.1}", v / 100.0 * wall * 1e6 / (s.frames.max(1) as f64))
            }),
        ),
        ("server ticks", delta("skirmish_ticks_total").map_or("n/a".into(), |v| format!("{v:.0}"))),
        (
            "server late ticks",
            delta("skirmish_late_ticks_total").map_or("n/a".into(), |v| format!("{v:.0}")),
        ),
        (
            "server skipped ticks",
            delta("skirmish_skipped_ticks_total").map_or("n/a".into(), |v| format!("{v:.0}")),
        ),
        (
            "server tick p99 ms (bucket edge)",
            quantile(&before, &after, "skirmish_tick_duration_seconds", 0.99)
                .map_or("n/a".into(), |v| format!("{:.2}", v * 1e3)),
        ),
        ("input lead before its tick p50 ms (pongs)", {
            let mut leads = s.leads_us.clone();
            leads.sort_unstable();
            leads
                .get(leads.len() / 2)
                .map_or("n/a".into(), |v| format!("{:.2}", f64::from(*v) / 1e3))
        }),
        (
            "server input wait p50 ms (bucket edge)",
            quantile(&before, &after, "skirmish_input_delay_seconds", 0.5)
                .map_or("n/a".into(), |v| format!("{:.2}", v * 1e3)),
        ),
        (
            "server input wait p99 ms (bucket edge)",
            quantile(&before, &after, "skirmish_input_delay_seconds", 0.99)
                .map_or("n/a".into(), |v| format!("{:.2}", v * 1e3)),
        ),
        (
            "server tick->kernel p50 ms (bucket edge)",
            quantile(&before, &after, "skirmish_frame_delivery_seconds", 0.5)
                .map_or("n/a".into(), |v| format!("{:.2}", v * 1e3)),
        ),
        (
            "server tick->kernel p99 ms (bucket edge)",
            quantile(&before, &after, "skirmish_frame_delivery_seconds", 0.99)
                .map_or("n/a".into(), |v| format!("{:.2}", v * 1e3)),
        ),
    ];
    if args.json {
        let mut fields: Vec<String> = rows
            .iter()
            .map(|(k, v)| {
                let key = k
                    .replace(['%'], "pct")
                    .replace([' ', '-', '>', '(', ')'], "_")
                    .replace("__", "_");
                let key = key.trim_matches('_').replace("__", "_");
                match v.parse::<f64>() {
                    Ok(_) => format!("\"{key}\":{v}"),
                    Err(_) => format!("\"{key}\":\"{v}\""),
                }
            })
            .collect();
        match &hostile_report {
            Some(Ok(report)) => fields.push(format!("\"hostile\":{}", report.json())),
            Some(Err(_)) => fields.push("\"hostile\":null".to_owned()),
            None => {}
        }
        println!("{{{}}}", fields.join(","));
    } else {
        let hostile = match args.hostile {
            0 => String::new(),
            n => format!(" (and {n} hostile)"),
        };
        println!(
            "swarm: {} clients{hostile} over {:?} against {} for {}s",
            args.clients, args.transport, args.addr, args.duration
        );
        for (k, v) in &rows {
            println!("  {k:<38} {v:>14}");
        }
        match &hostile_report {
            Some(Ok(report)) => print!("{}", report.table()),
            Some(Err(_)) => println!("hostile connections: no report (their thread failed)"),
            None => {}
        }
    }
    Ok(())
}

/// Hostile connections (`--hostile N`): each repeats one attack until the run ends, on a
/// thread of its own so their work never delays an honest bot's timestamps. They count their
/// connections and how each one ended, apart from the bots' [`Stats`].
mod hostile {
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::fmt::Write as _;
    use std::net::SocketAddr;
    use std::rc::Rc;
    use std::time::{Duration, Instant};

    use futures_util::{SinkExt, Stream, StreamExt};
    use skirmish_shared::{ClientMsg, Direction, Input, PROTOCOL_VERSION, ServerMsg};
    use tokio::net::{TcpSocket, TcpStream};
    use tokio::sync::oneshot;
    use tokio_tungstenite::WebSocketStream;
    use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
    use tokio_tungstenite::tungstenite::{self, Bytes, Message};

    /// The least time between two connections of one hostile, so that a server refusing at
    /// once is not hammered in a tight loop; also join-drop's pace.
    const CYCLE: Duration = Duration::from_millis(200);
    /// Pause after the server closed a flooding or stalled connection.
    const RECONNECT_AFTER: Duration = Duration::from_secs(1);
    /// A connect and upgrade that take longer count as failed.
    const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    /// Join-drop drops its connection at the welcome, or after this long without one.
    const WELCOME_WAIT: Duration = Duration::from_secs(1);
    /// After a failed write, how long to look for the close frame the server may have sent.
    const CLOSE_WAIT: Duration = Duration::from_secs(1);
    /// WebSocket pings sent on one connection at most.
    const PING_FLOOD_LIMIT: usize = 5_000;
    /// The stalled connection's receive buffer (the kernel may double it).
    const STALL_RECEIVE_BUFFER: u32 = 4096;
    /// The stalled connection sends an input this often, so it is never idle.
    const STALL_INPUT_EVERY: Duration = Duration::from_millis(500);

    /// The attacks, given out round-robin by hostile index: from six hostiles on, every kind
    /// is present.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Attack {
        /// Join, drop the socket (no close frame) at the welcome, join again as a new player,
        /// one connection at a time, one every [`CYCLE`]: each leaves a player waiting out its
        /// resume window.
        JoinDrop,
        /// Join, then two inputs a tick until the server closes (expected: 1008 "input flood").
        InputFlood,
        /// Upgrade and never join (expected: 1008 after `--join-timeout-ms`).
        NoJoin,
        /// Join, then WebSocket pings as fast as the socket takes them, at most
        /// [`PING_FLOOD_LIMIT`] (expected: 1008 "input flood": control frames count).
        PingFlood,
        /// Join on a socket with a small receive buffer and never read, one input every
        /// [`STALL_INPUT_EVERY`] (expected: the stall limit closes it, 1008 "too slow"; as it
        /// never reads it can't see the close frame, and shows as a write failing: "none").
        Stall,
        /// Join and read at half the stream's rate (one message every two ticks), reporting
        /// the tick received in an input after each read, as the web client does (expected:
        /// stays open, paced by the server: keyframes, never a growing backlog; the stalest
        /// frame it read is reported).
        HalfRate,
    }

    impl Attack {
        const ALL: [Self; 6] = [
            Self::JoinDrop,
            Self::InputFlood,
            Self::NoJoin,
            Self::PingFlood,
            Self::Stall,
            Self::HalfRate,
        ];

        fn name(self) -> &'static str {
            match self {
                Self::JoinDrop => "join-drop",
                Self::InputFlood => "input-flood",
                Self::NoJoin => "no-join",
                Self::PingFlood => "ping-flood",
                Self::Stall => "stall",
                Self::HalfRate => "half-rate",
            }
        }
    }

    /// How one connection ended.
    #[derive(Debug, Clone, Copy)]
    enum Ended {
        /// The server ended it: the code of its close frame, or `None` without one (EOF, a
        /// reset, a write that failed).
        Closed(Option<u16>),
        /// The swarm dropped it on purpose (join-drop).
        Dropped,
        /// The run ended first.
        OpenAtEnd,
    }

    /// One kind of attack's figures.
    #[derive(Debug, Default)]
    struct KindStats {
        hostiles: usize,
        /// Upgrades completed.
        connections: u64,
        /// Connects or upgrades that failed or took over [`CONNECT_TIMEOUT`].
        connect_failures: u64,
        /// Connections the server ended, by close code (`None`: without a close frame).
        closes: BTreeMap<Option<u16>, u64>,
        /// Seconds from upgrade to the server's close: the sum (for the mean) and the longest.
        close_secs_sum: f64,
        close_secs_max: f64,
        dropped: u64,
        /// Half-rate readers: the stalest frame read after each connection's first two
        /// seconds, in ticks behind the server's clock (as the reader's own clock estimates
        /// it), and keyframes read.
        stalest_ticks: u64,
        keyframes: u64,
        /// Connections still open when the run ended, and the oldest one's age: for an attack
        /// the server should close within seconds, a sign it did not.
        open_at_end: u64,
        oldest_open_secs: f64,
    }

    impl KindStats {
        fn record(&mut self, ended: Ended, age: Duration) {
            let secs = age.as_secs_f64();
            match ended {
                Ended::Closed(code) => {
                    *self.closes.entry(code).or_default() += 1;
                    self.close_secs_sum += secs;
                    self.close_secs_max = self.close_secs_max.max(secs);
                }
                Ended::Dropped => self.dropped += 1,
                Ended::OpenAtEnd => {
                    self.open_at_end += 1;
                    self.oldest_open_secs = self.oldest_open_secs.max(secs);
                }
            }
        }

        fn closed(&self) -> u64 {
            self.closes.values().sum()
        }
    }

    fn code_name(code: Option<u16>) -> String {
        code.map_or_else(|| "none".to_owned(), |c| c.to_string())
    }

    /// Every kind's figures, in [`Attack::ALL`] order.
    #[derive(Debug, Default)]
    pub struct Report([KindStats; Attack::ALL.len()]);

    impl Report {
        /// Lines to print below the summary table.
        pub fn table(&self) -> String {
            let mut out = String::from(
                "hostile connections, apart from the figures above (\"none\": ended without a \
                 close frame):\n",
            );
            let _ = writeln!(
                out,
                "  {:<11} {:>8} {:>6} {:>6} {:>7} {:>11} {:>15}  server closes (code x count)",
                "attack",
                "hostiles",
                "conns",
                "failed",
                "dropped",
                "open at end",
                "s to close avg/max"
            );
            for (attack, k) in Attack::ALL.iter().zip(&self.0) {
                let closed = k.closed();
                let to_close = match closed {
                    0 => "-".to_owned(),
                    n => format!("{:.1}/{:.1}", k.close_secs_sum / n as f64, k.close_secs_max),
                };
                let open = match k.open_at_end {
                    0 => "0".to_owned(),
                    n => format!("{n} ({:.1} s)", k.oldest_open_secs),
                };
                let closes: Vec<String> =
                    k.closes.iter().map(|(c, n)| format!("{} x{n}", code_name(*c))).collect();
                let closes = if closes.is_empty() { "-".to_owned() } else { closes.join(", ") };
                let _ = writeln!(
                    out,
                    "  {:<11} {:>8} {:>6} {:>6} {:>7} {:>11} {:>18}  {closes}",
                    attack.name(),
                    k.hostiles,
                    k.connections,
                    k.connect_failures,
                    k.dropped,
                    open,
                    to_close,
                );
            }
            let half = &self.0[Attack::ALL.len() - 1];
            if half.hostiles > 0 {
                let _ = writeln!(
                    out,
                    "  half-rate readers: stalest frame read {} ticks behind, {} keyframes",
                    half.stalest_ticks, half.keyframes
                );
            }
            out
        }

        /// One JSON object, by attack.
        pub fn json(&self) -> String {
            let kinds: Vec<String> = Attack::ALL
                .iter()
                .zip(&self.0)
                .map(|(attack, k)| {
                    let closes: Vec<String> = k
                        .closes
                        .iter()
                        .map(|(c, n)| format!("\"{}\":{n}", code_name(*c)))
                        .collect();
                    let mean = match k.closed() {
                        0 => "null".to_owned(),
                        n => format!("{:.3}", k.close_secs_sum / n as f64),
                    };
                    format!(
                        "\"{}\":{{\"hostiles\":{},\"connections\":{},\"connect_failures\":{},\
                         \"dropped\":{},\"open_at_end\":{},\"oldest_open_secs\":{:.3},\
                         \"mean_secs_to_close\":{mean},\"max_secs_to_close\":{:.3},\
                         \"stalest_ticks\":{},\"keyframes\":{},\"closes\":{{{}}}}}",
                        attack.name().replace('-', "_"),
                        k.hostiles,
                        k.connections,
                        k.connect_failures,
                        k.dropped,
                        k.open_at_end,
                        k.oldest_open_secs,
                        k.close_secs_max,
                        k.stalest_ticks,
                        k.keyframes,
                        closes.join(","),
                    )
                })
                .collect();
            format!("{{{}}}", kinds.join(","))
        }
    }

    /// What the hostiles do: `count` of them against `addr`, starting spread over `ramp` from
    /// `start` (as the bots do), until `end_at`.
    #[derive(Debug)]
    pub struct Plan {
        pub addr: SocketAddr,
        /// As `--rooms`: hostile i joins room `swarm-{i mod rooms}`, or quick play if 0.
        pub rooms: usize,
        pub count: usize,
        pub start: Instant,
        pub ramp: Duration,
        pub end_at: Instant,
    }

    /// Starts the hostiles on their own thread; their report comes when the last one is done
    /// (an error if the thread could not start its runtime).
    pub fn spawn(plan: Plan) -> std::io::Result<oneshot::Receiver<Report>> {
        let (tx, rx) = oneshot::channel();
        std::thread::Builder::new().name("swarm-hostile".to_owned()).spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            let report = tokio::task::LocalSet::new().block_on(&rt, run(plan));
            let _ = tx.send(report);
        })?;
        Ok(rx)
    }

    async fn run(plan: Plan) -> Report {
        let report = Rc::new(RefCell::new(Report::default()));
        let plan = Rc::new(plan);
        let mut tasks = Vec::with_capacity(plan.count);
        for id in 0..plan.count {
            let kind = id % Attack::ALL.len();
            report.borrow_mut().0[kind].hostiles += 1;
            let task = hostile(id, Attack::ALL[kind], plan.clone(), report.clone());
            tasks.push(tokio::task::spawn_local(task));
        }
        for task in tasks {
            let _ = task.await;
        }
        report.take()
    }

    /// One hostile: its attack, connection after connection, until the end.
    async fn hostile(id: usize, attack: Attack, plan: Rc<Plan>, report: Rc<RefCell<Report>>) {
        let start = plan.start + plan.ramp.mul_f64(id as f64 / plan.count.max(1) as f64);
        tokio::time::sleep_until(start.into()).await;
        let end = plan.end_at;
        let kind = id % Attack::ALL.len();
        while Instant::now() < end {
            let cycle = Instant::now();
            let connect = connect(plan.addr, attack == Attack::Stall);
            let ws =
                match tokio::time::timeout_at((cycle + CONNECT_TIMEOUT).min(end).into(), connect)
                    .await
                {
                    Ok(Some(ws)) => ws,
                    _ if Instant::now() >= end => break,
                    _ => {
                        report.borrow_mut().0[kind].connect_failures += 1;
                        tokio::time::sleep_until((cycle + CYCLE).min(end).into()).await;
                        continue;
                    }
                };
            report.borrow_mut().0[kind].connections += 1;
            let opened = Instant::now();
            let join = join_message(id, plan.rooms);
            let play = async {
                match attack {
                    Attack::JoinDrop => join_drop(ws, join).await,
                    Attack::InputFlood => input_flood(ws, join).await,
                    Attack::NoJoin => no_join(ws).await,
                    Attack::PingFlood => ping_flood(ws, join).await,
                    Attack::Stall => stall(ws, join).await,
                    Attack::HalfRate => half_rate(ws, join, &report, kind).await,
                }
            };
            let ended = tokio::time::timeout_at(end.into(), play).await.unwrap_or(Ended::OpenAtEnd);
            report.borrow_mut().0[kind].record(ended, opened.elapsed());
            let pause = match (attack, ended) {
                (Attack::InputFlood | Attack::PingFlood | Attack::Stall, Ended::Closed(_)) => {
                    RECONNECT_AFTER
                }
                _ => Duration::ZERO,
            };
            let next = (cycle + CYCLE).max(Instant::now() + pause).min(end);
            tokio::time::sleep_until(next.into()).await;
        }
    }

    type Ws = WebSocketStream<TcpStream>;

    /// A WebSocket to `addr`, on a socket with a small receive buffer if asked.
    async fn connect(addr: SocketAddr, small_receive_buffer: bool) -> Option<Ws> {
        let tcp = if small_receive_buffer {
            let socket =
                if addr.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() }.ok()?;
            // Before connecting: the window is negotiated in the handshake.
            socket.set_recv_buffer_size(STALL_RECEIVE_BUFFER).ok()?;
            socket.connect(addr).await.ok()?
        } else {
            TcpStream::connect(addr).await.ok()?
        };
        let _ = tcp.set_nodelay(true);
        let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
        let url = format!("ws://{addr}/ws");
        let (ws, _) =
            tokio_tungstenite::client_async_with_config(url, tcp, Some(config)).await.ok()?;
        Some(ws)
    }

    fn join_message(id: usize, rooms: usize) -> Message {
        let join = ClientMsg::Join {
            protocol_version: PROTOCOL_VERSION,
            name: Some(format!("hostile{id}")),
            resume: None,
            room: (rooms > 0).then(|| format!("swarm-{}", id % rooms)),
            seat: None,
        };
        Message::Binary(join.encode().into())
    }

    /// A full-stick input that attacks: whatever the server lets through, it uses.
    fn input_message(seq: u32) -> Message {
        let dir = Direction::new(1.0, 0.0).unwrap_or_default();
        Message::Binary(
            ClientMsg::Input(Input { seq, dir, attack: true, seen: 0, shown: 0 }).encode().into(),
        )
    }

    /// What a message read says about the connection's end, if it ended.
    fn ending(msg: Option<Result<Message, tungstenite::Error>>) -> Option<Ended> {
        match msg {
            // 1005: a close frame without a code.
            Some(Ok(Message::Close(frame))) => {
                Some(Ended::Closed(Some(frame.map_or(1005, |f| u16::from(f.code)))))
            }
            Some(Ok(_)) => None,
            Some(Err(_)) | None => Some(Ended::Closed(None)),
        }
    }

    /// Reads (and discards) until the connection ends.
    async fn read_end<S>(stream: &mut S) -> Ended
    where
        S: Stream<Item = Result<Message, tungstenite::Error>> + Unpin,
    {
        loop {
            if let Some(end) = ending(stream.next().await) {
                return end;
            }
        }
    }

    /// After a write failed: the close frame the server may have sent first.
    async fn after_failed_write(ws: &mut Ws) -> Ended {
        tokio::time::timeout(CLOSE_WAIT, read_end(ws)).await.unwrap_or(Ended::Closed(None))
    }

    /// Sends the join and reads up to the welcome: the tick rate.
    async fn joined(ws: &mut Ws, join: Message) -> Result<u32, Ended> {
        if ws.send(join).await.is_err() {
            return Err(after_failed_write(ws).await);
        }
        loop {
            let msg = ws.next().await;
            if let Some(Ok(Message::Binary(b))) = &msg
                && let Ok(ServerMsg::Welcome(w)) = ServerMsg::decode(b)
            {
                return Ok(w.tick_rate);
            }
            if let Some(end) = ending(msg) {
                return Err(end);
            }
        }
    }

    async fn no_join(mut ws: Ws) -> Ended {
        read_end(&mut ws).await
    }

    async fn join_drop(mut ws: Ws, join: Message) -> Ended {
        match tokio::time::timeout(WELCOME_WAIT, joined(&mut ws, join)).await {
            Ok(Err(end)) => end,
            // Dropped without a close frame, as a lost connection.
            Ok(Ok(_)) | Err(_) => Ended::Dropped,
        }
    }

    async fn input_flood(mut ws: Ws, join: Message) -> Ended {
        let tick_rate = match joined(&mut ws, join).await {
            Ok(rate) => rate.max(1),
            Err(end) => return end,
        };
        let mut every = tokio::time::interval(Duration::from_secs(1) / (2 * tick_rate));
        let mut seq = 0;
        loop {
            tokio::select! {
                _ = every.tick() => {
                    seq += 1;
                    if ws.send(input_message(seq)).await.is_err() {
                        return after_failed_write(&mut ws).await;
                    }
                }
                msg = ws.next() => {
                    if let Some(end) = ending(msg) {
                        return end;
                    }
                }
            }
        }
    }

    async fn ping_flood(mut ws: Ws, join: Message) -> Ended {
        if let Err(end) = joined(&mut ws, join).await {
            return end;
        }
        let (mut sink, mut stream) = ws.split();
        let flood = async {
            for _ in 0..PING_FLOOD_LIMIT {
                if sink.send(Message::Ping(Bytes::new())).await.is_err() {
                    break;
                }
            }
        };
        tokio::pin!(flood);
        let read = read_end(&mut stream);
        tokio::pin!(read);
        let mut flooding = true;
        loop {
            tokio::select! {
                () = &mut flood, if flooding => flooding = false,
                end = &mut read => return end,
            }
        }
    }

    /// Reads one message every two ticks, answering each frame with an input that says the
    /// tick received.
    async fn half_rate(mut ws: Ws, join: Message, report: &RefCell<Report>, kind: usize) -> Ended {
        const WARM_UP: Duration = Duration::from_secs(2);
        if ws.send(join).await.is_err() {
            return after_failed_write(&mut ws).await;
        }
        let (mut clock, mut seq, mut rate) = (None::<(u64, Instant)>, 0u32, 30u64);
        loop {
            let msg = ws.next().await;
            let tick = match &msg {
                Some(Ok(Message::Binary(b))) => match ServerMsg::decode(b) {
                    Ok(ServerMsg::Welcome(w)) => {
                        rate = u64::from(w.tick_rate.max(1));
                        clock = Some((w.keyframe.tick, Instant::now()));
                        w.keyframe.tick
                    }
                    Ok(ServerMsg::Frame(f)) => f.tick,
                    Ok(ServerMsg::Keyframe(k)) => {
                        report.borrow_mut().0[kind].keyframes += 1;
                        k.tick
                    }
                    _ => continue,
                },
                _ => match ending(msg) {
                    Some(end) => return end,
                    None => continue,
                },
            };
            if let Some((tick0, at)) = clock
                && at.elapsed() > WARM_UP
            {
                let now = tick0 + (at.elapsed().as_millis() as u64 * rate / 1000);
                let stats = &mut report.borrow_mut().0[kind];
                stats.stalest_ticks = stats.stalest_ticks.max(now.saturating_sub(tick));
            }
            seq += 1;
            let dir = Direction::new(0.6, 0.8).unwrap_or_default();
            let input = Input { seq, dir, attack: false, seen: tick, shown: 0 };
            if ws.send(Message::Binary(ClientMsg::Input(input).encode().into())).await.is_err() {
                return after_failed_write(&mut ws).await;
            }
            tokio::time::sleep(Duration::from_millis(2000 / rate)).await;
        }
    }

    /// Never reads after the upgrade, so a close frame can't be seen: the end is the first
    /// write that fails (the server's kernel resets a connection its owner closed).
    async fn stall(mut ws: Ws, join: Message) -> Ended {
        if ws.send(join).await.is_err() {
            return Ended::Closed(None);
        }
        let mut every = tokio::time::interval(STALL_INPUT_EVERY);
        let mut seq = 0;
        loop {
            every.tick().await;
            seq += 1;
            if ws.send(input_message(seq)).await.is_err() {
                return Ended::Closed(None);
            }
        }
    }
}
