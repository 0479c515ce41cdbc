//! `swarm`: N real WebSocket bots against a running Skirmish server. Each joins, then sends
//! one input per tick (a random walk, sometimes attacking) and reads every frame. Measures
//! input → ack latency, frames and bytes per second per client, missing ticks, keyframe
//! resyncs and connect failures, its own CPU and the server's, and the server's own view from
//! `/metrics`. Bounded by `--clients` and `--duration`.
//!
//! Lean on purpose (it shares the machine with the server): one thread, 4 KiB read buffers,
//! and only each frame's three-value header is decoded.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use skirmish_shared::wire::Reader;
use skirmish_shared::{ClientMsg, Direction, Input, PROTOCOL_VERSION, ServerMsg};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Load generator for a Skirmish server.
#[derive(Debug, Parser)]
#[command(name = "swarm", version)]
struct Args {
    /// Server address (HTTP and WebSocket on one port).
    #[arg(long, env = "SWARM_ADDR", default_value = "127.0.0.1:5000")]
    addr: SocketAddr,
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
    /// Spread the bots over this many named rooms (`swarm-0`, `swarm-1`, …, bot i in room
    /// i mod N). 0: every bot asks for quick play and the server places it.
    #[arg(long, env = "SWARM_ROOMS", default_value_t = 0)]
    rooms: usize,
    /// Print the summary as one JSON object instead of a table.
    #[arg(long, env = "SWARM_JSON")]
    json: bool,
    /// The server's process id, to report its CPU (default: the process named `skirmish`).
    #[arg(long, env = "SWARM_SERVER_PID")]
    server_pid: Option<u32>,
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
    let connect = async {
        let tcp = TcpStream::connect(args.addr).await.ok()?;
        let _ = tcp.set_nodelay(true);
        let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
        let url = format!("ws://{}/ws", args.addr);
        let (mut ws, _) =
            tokio_tungstenite::client_async_with_config(url, tcp, Some(config)).await.ok()?;
        let join = ClientMsg::Join {
            protocol_version: PROTOCOL_VERSION,
            name: Some(format!("bot{id}")),
            resume: None,
            room: (args.rooms > 0).then(|| format!("swarm-{}", id % args.rooms)),
        };
        ws.send(Message::Binary(join.encode().into())).await.ok()?;
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Binary(b) = msg
                && let Ok(ServerMsg::Welcome(w)) = ServerMsg::decode(&b)
            {
                return Some((ws, w.tick_rate, w.room));
            }
        }
        None
    };
    let Ok(Some((mut ws, tick_rate, room))) =
        tokio::time::timeout(Duration::from_secs(10), connect).await
    else {
        stats.borrow_mut().connect_failures += 1;
        return;
    };
    stats.borrow_mut().connected += 1;
    let mut rng = fastrand::Rng::with_seed(id as u64);
    let mut heading = rng.f32() * std::f32::consts::TAU;
    let mut interval = tokio::time::interval(Duration::from_secs(1) / tick_rate.max(1));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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
                if rng.f32() < 0.1 {
                    heading = rng.f32() * std::f32::consts::TAU;
                }
                seq += 1;
                let dir = Direction::new(heading.cos(), heading.sin()).unwrap_or_default();
                let input = Input { seq, dir, attack: rng.f32() < args.attack };
                if ws.send(Message::Binary(ClientMsg::Input(input).encode().into())).await.is_err() {
                    break;
                }
                in_flight.push_back((seq, Instant::now()));
                if in_flight.len() > 64 {
                    in_flight.pop_front();
                }
                stats.borrow_mut().inputs += 1;
            }
            msg = ws.next() => {
                let bytes = match msg {
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(Message::Close(_))) => { stats.borrow_mut().closed_by_server += 1; break }
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => { stats.borrow_mut().closed_by_server += 1; break }
                };
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
    let _ = ws.close(None).await;
}

fn main() -> anyhow_free::Result {
    let args = Rc::new(Args::parse());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, run(args))
}

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
            cpu(server_cpu0, server_cpu1).map_or("n/a (no pid)".into(), |v| format!("{v:.0}")),
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
        let fields: Vec<String> = rows
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
        println!("{{{}}}", fields.join(","));
    } else {
        println!("swarm: {} clients against {} for {}s", args.clients, args.addr, args.duration);
        for (k, v) in &rows {
            println!("  {k:<38} {v:>14}");
        }
    }
    Ok(())
}
