//! The simulation stepped tick by tick in memory: no sockets, no sleeps. Each test client
//! reads the WebSocket frames the real fan-out writes to it (through an in-memory wire that
//! holds a bounded number of messages) and keeps a replica by applying every frame it
//! receives with the shared apply function.

use std::collections::HashMap;

use proptest::prelude::*;
use skirmish_server::harness::{LocalClient, LocalRoom, Received, decode as decode_msg};
use skirmish_server::link::ConnId;
use skirmish_server::net::fanout::Delivered;
use skirmish_server::net::outbox::CloseCode;
use skirmish_server::sim::SimConfig;
use skirmish_server::sim::components::{Player, Position};
use skirmish_server::view::Grid;
use skirmish_shared::{
    Direction, EntityState, Event, Frame, Input, PlayerId, Replica, Rules, Score, ServerMsg,
};

struct TestClient {
    local: LocalClient,
    player: PlayerId,
    replica: Replica,
    seq: u32,
    /// Frames received since the last `take_frames`.
    frames: Vec<Frame>,
    keyframes: usize,
}

struct Harness {
    room: LocalRoom,
    rules: Rules,
    clients: HashMap<ConnId, TestClient>,
    next_conn: ConnId,
    queue_capacity: usize,
}

fn decode(msg: Received) -> ServerMsg {
    decode_msg(&msg).expect("server frames decode")
}

impl Harness {
    fn new(config: SimConfig) -> Self {
        Self::with_stall_limit(config, 150)
    }

    fn with_stall_limit(config: SimConfig, stall_ticks: u32) -> Self {
        Self {
            rules: config.rules.clone(),
            room: LocalRoom::new(&config, stall_ticks),
            clients: HashMap::new(),
            next_conn: 1,
            queue_capacity: 64,
        }
    }

    fn rules() -> SimConfig {
        SimConfig { seed: 7, resume_grace_ticks: 0, ..SimConfig::default() }
    }

    /// Joins a client and steps once so it is welcomed; returns its connection id.
    fn join(&mut self) -> ConnId {
        let conn = self.join_no_step();
        self.step();
        assert!(self.clients[&conn].player != 0, "client {conn} was not welcomed");
        conn
    }

    /// Joins a client and puts its player at (x, y) in subunits; returns both ids.
    fn join_at(&mut self, x: i32, y: i32) -> (ConnId, PlayerId) {
        let conn = self.join();
        let id = self.player(conn);
        self.place(id, x, y);
        (conn, id)
    }

    fn join_no_step(&mut self) -> ConnId {
        self.join_resuming(None)
    }

    /// A new connection joining (presenting `resume`, if any), not stepped yet.
    fn join_resuming(&mut self, resume: Option<skirmish_shared::ResumeToken>) -> ConnId {
        let conn = self.next_conn;
        self.next_conn += 1;
        let local = self.room.join(conn, self.queue_capacity, resume);
        self.clients.insert(
            conn,
            TestClient {
                local,
                player: 0,
                replica: Replica::default(),
                seq: 0,
                frames: Vec::new(),
                keyframes: 0,
            },
        );
        conn
    }

    fn leave(&mut self, conn: ConnId) {
        self.room.leave(conn);
        self.clients.remove(&conn);
    }

    fn input(&mut self, conn: ConnId, x: f32, y: f32, attack: bool) -> u32 {
        self.input_showing(conn, x, y, attack, 0)
    }

    /// An input made while the client showed the others at tick `shown` (0: not said).
    fn input_showing(&mut self, conn: ConnId, x: f32, y: f32, attack: bool, shown: u64) -> u32 {
        let c = self.clients.get_mut(&conn).expect("known client");
        c.seq += 1;
        let input = Input {
            seq: c.seq,
            dir: Direction::new(x, y).expect("valid direction"),
            attack,
            seen: 0,
            shown,
        };
        // As the connection's reader does: a full queue drops the input.
        let _ = c.local.send_input(input);
        c.seq
    }

    /// Runs one tick, then lets every client read and apply what it was sent.
    fn step(&mut self) {
        self.step_unread();
        for c in self.clients.values_mut() {
            Self::drain(c);
        }
    }

    /// Runs one tick without letting clients read.
    fn step_unread(&mut self) -> Delivered {
        self.room.step()
    }

    fn drain(c: &mut TestClient) {
        while let Some(msg) = c.local.try_recv() {
            match decode(msg) {
                ServerMsg::Welcome(w) => {
                    c.player = w.player_id;
                    c.replica = Replica::from_keyframe(&w.keyframe);
                }
                ServerMsg::Keyframe(k) => {
                    c.replica = Replica::from_keyframe(&k);
                    c.keyframes += 1;
                }
                ServerMsg::Frame(f) => {
                    c.replica.apply(&f).expect("frame applies to the replica");
                    c.frames.push(f);
                }
                ServerMsg::Pong { .. } => {}
            }
        }
    }

    fn player(&self, conn: ConnId) -> PlayerId {
        self.clients[&conn].player
    }

    fn server_entity(&mut self, id: PlayerId) -> EntityState {
        self.room.sim.entities().into_iter().find(|e| e.id == id).expect("player in the world")
    }

    /// Puts a player somewhere (subunits), as if it had walked there.
    fn place(&mut self, id: PlayerId, x: i32, y: i32) {
        let world = self.room.sim.world_mut();
        let mut q = world.query::<(&Player, &mut Position)>();
        for (p, mut pos) in q.iter_mut(world) {
            if p.id == id {
                *pos = Position { x, y };
            }
        }
    }

    fn events(&mut self, conn: ConnId) -> Vec<Event> {
        let c = self.clients.get_mut(&conn).expect("known client");
        c.frames.drain(..).flat_map(|f| f.events).collect()
    }

    /// Every client's replica equals the server's state filtered to its view.
    fn assert_views_match(&mut self) {
        let clients: Vec<(ConnId, PlayerId, Vec<EntityState>)> = self
            .clients
            .iter()
            .map(|(&conn, c)| (conn, c.player, c.replica.entities.values().cloned().collect()))
            .collect();
        for (conn, me, mine) in clients {
            let tick = self.room.sim.tick();
            assert_eq!(mine, truth_for(self, me), "client {conn}'s view at tick {tick}");
        }
    }

    /// Every client's replica equals the server's state.
    fn assert_replicas_match(&mut self) {
        let truth = self.room.sim.entities();
        for (conn, c) in &self.clients {
            let mine: Vec<EntityState> = c.replica.entities.values().cloned().collect();
            assert_eq!(
                mine,
                truth,
                "client {conn}'s replica differs from the server at tick {}",
                self.room.sim.tick()
            );
        }
    }
}

#[test]
fn moves_at_the_configured_speed_and_stays_on_the_map() {
    let mut h = Harness::new(Harness::rules());
    let (a, id) = h.join_at(800, 800);
    h.step();
    let step = (100.0 * 8.0 / 30.0_f64 + 0.5).floor() as i32; // speed 100 u/s, 30 Hz, 8 subunits
    h.input(a, 1.0, 0.0, false);
    h.step();
    assert_eq!(h.server_entity(id).x, 800 + step);
    assert_eq!(h.clients[&a].replica.entities[&id].x, 800 + step);
    // No input, no movement: one input is one tick of movement.
    h.step();
    assert_eq!(h.server_entity(id).x, 800 + step);
    for _ in 0..60 {
        h.input(a, -0.6, -0.8, false);
        h.step();
    }
    let e = h.server_entity(id);
    assert_eq!((e.x, e.y), (0, 0), "clamped at the top-left corner");
    let max = Rules::default().map_width as i32 * 8;
    h.place(id, max - 3, max - 3);
    h.input(a, 0.6, 0.8, false);
    h.step();
    let e = h.server_entity(id);
    assert_eq!((e.x, e.y), (max, max), "clamped at the bottom-right corner");
    h.assert_replicas_match();
}

/// Inputs bunched by the network come out of the de-jitter buffer exactly one a tick (a
/// burst is no stream: no repeats after it).
#[test]
fn bunched_inputs_are_applied_one_a_tick() {
    let mut h = Harness::new(Harness::rules());
    let (a, id) = h.join_at(800, 800);
    for _ in 0..4 {
        h.input(a, 1.0, 0.0, false);
    }
    for n in 1..=4 {
        h.step();
        assert_eq!(h.server_entity(id).x, 800 + n * 27, "one step a tick");
        assert_eq!(h.clients[&a].replica.ack, n as u32);
    }
    h.step(); // none waiting: the burst was no stream, nothing repeats
    assert_eq!(h.server_entity(id).x, 800 + 4 * 27);
    h.assert_replicas_match();
}

/// Two inputs every tick (the speed hack the swarm found: 60 inputs/s at 30 Hz moved a player
/// at 2.00x): over 60 ticks the player moves at most 61 steps, never 120.
#[test]
fn more_inputs_than_ticks_give_no_speed() {
    let mut h = Harness::new(Harness::rules());
    let (a, id) = h.join_at(0, 800);
    h.step();
    for _ in 0..60 {
        h.input(a, 1.0, 0.0, false);
        h.input(a, 1.0, 0.0, false);
        h.step();
    }
    let moved = h.server_entity(id).x;
    assert!(moved <= 61 * 27, "moved {moved} subunits in 60 ticks: more than one step a tick");
    assert!(moved >= 60 * 27, "still moves every tick: {moved}");
}

#[test]
fn attack_hits_within_range_only_and_respects_cooldown() {
    let mut h = Harness::new(Harness::rules());
    let (a, b, c) = (h.join(), h.join(), h.join());
    let (ia, ib, ic) = (h.player(a), h.player(b), h.player(c));
    h.place(ia, 1000, 1000);
    h.place(ib, 1000 + 48, 1000 + 64); // exactly 10 units away: hit
    h.place(ic, 1000 + 81, 1000); // 10.125 units away: missed
    h.step();
    h.events(b);
    h.input(a, 0.0, 0.0, true);
    h.step();
    assert_eq!(h.events(b), vec![Event::Attacked { attacker: ia, target: ib, hp: 90 }]);
    assert_eq!(h.server_entity(ia).hp, 100, "the attacker does not hit itself");
    assert_eq!(h.server_entity(ic).hp, 100, "out of range");
    // Cooldown: 500 ms at 30 Hz is 15 ticks; pressing every tick hits once per 15 ticks.
    h.events(c);
    let mut hits = 0;
    for _ in 0..30 {
        h.input(a, 0.0, 0.0, true);
        h.step();
        hits += h.events(c).iter().filter(|e| matches!(e, Event::Attacked { .. })).count();
    }
    assert_eq!(hits, 2);
    assert_eq!(h.server_entity(ib).hp, 70);
    h.assert_replicas_match();
}

#[test]
fn ten_hits_kill_and_the_dead_respawn_after_the_delay() {
    let config = SimConfig {
        rules: Rules { attack_cooldown_ms: 0, ..Rules::default() },
        ..Harness::rules()
    };
    let mut h = Harness::new(config);
    let (a, b) = (h.join(), h.join());
    let (ia, ib) = (h.player(a), h.player(b));
    h.place(ia, 400, 400);
    h.place(ib, 400, 400);
    h.step();
    let mut killed_at = None;
    for i in 1..=10 {
        h.input(a, 0.0, 0.0, true);
        h.step();
        let events = h.events(b);
        if events.contains(&Event::Killed { victim: ib, killer: ia }) {
            killed_at = Some((i, h.room.sim.tick()));
        }
        h.events(a);
    }
    let (hits, tick) = killed_at.expect("B was killed");
    assert_eq!(hits, 10);
    assert_eq!(h.server_entity(ib).hp, 0);

    // Dead: can't be hit, can't move, can't attack.
    let before = h.server_entity(ib);
    h.input(a, 0.0, 0.0, true);
    h.input(b, 1.0, 0.0, true);
    h.step();
    assert!(h.events(a).is_empty(), "nothing happens to or by the dead");
    assert_eq!(h.server_entity(ib), before);
    assert_eq!(h.server_entity(ia).hp, 100);
    assert_eq!(h.clients[&b].replica.ack, 1, "the dead player's input is still acknowledged");

    // Respawn: 3000 ms at 30 Hz = 90 ticks after death.
    while h.room.sim.tick() < tick + 90 {
        h.step();
    }
    assert!(h.events(a).contains(&Event::Respawned { id: ib }));
    assert_eq!(h.server_entity(ib).hp, 100);
    h.assert_replicas_match();
}

#[test]
fn a_tick_s_attacks_land_together_and_a_kill_is_credited_once() {
    // One hit kills. In a row 9 units apart, A and C each reach only B, and B reaches both;
    // all three press attack in the same tick.
    let config = SimConfig {
        rules: Rules { attack_cooldown_ms: 0, attack_damage: 100, ..Rules::default() },
        ..Harness::rules()
    };
    let mut h = Harness::new(config);
    let (a, b, c) = (h.join(), h.join(), h.join());
    let (ia, ib, ic) = (h.player(a), h.player(b), h.player(c));
    h.place(ia, 800, 800);
    h.place(ib, 800 + 72, 800);
    h.place(ic, 800 + 144, 800);
    h.step();
    h.events(a);
    for conn in [a, b, c] {
        h.input(conn, 0.0, 0.0, true);
    }
    h.step();
    let events = h.events(a);
    let hits: Vec<(u32, u32)> = events
        .iter()
        .filter_map(|e| match *e {
            Event::Attacked { attacker, target, hp } => {
                assert_eq!(hp, 0, "{e:?}");
                Some((attacker, target))
            }
            _ => None,
        })
        .collect();
    // Who attacks is decided before any damage: B, killed this tick, still kills A and C.
    // B dies of one hit (the dead take no more), and the kill goes to whoever's hit it was.
    assert_eq!(hits.len(), 3, "{events:?}");
    assert!(hits.contains(&(ib, ia)) && hits.contains(&(ib, ic)), "{hits:?}");
    let killers_of_b: Vec<u32> = hits.iter().filter(|h| h.1 == ib).map(|h| h.0).collect();
    assert!(matches!(killers_of_b[..], [k] if k == ia || k == ic), "{hits:?}");
    let kills: Vec<(u32, u32)> = events
        .iter()
        .filter_map(|e| match *e {
            Event::Killed { victim, killer } => Some((victim, killer)),
            _ => None,
        })
        .collect();
    assert_eq!(kills.len(), 3, "each dies once: {events:?}");
    assert!(kills.contains(&(ib, killers_of_b[0])), "{events:?}");
    assert!(kills.contains(&(ia, ib)) && kills.contains(&(ic, ib)), "{events:?}");
    for id in [ia, ib, ic] {
        assert_eq!(h.server_entity(id).hp, 0);
    }
    h.assert_replicas_match();
}

#[test]
fn deltas_hold_only_what_changed_and_idle_ticks_send_nothing() {
    let mut h = Harness::new(Harness::rules());
    let (a, b) = (h.join(), h.join());
    let ia = h.player(a);
    h.place(ia, 800, 800);
    h.step();
    h.events(a);
    h.clients.get_mut(&b).expect("b").frames.clear();

    h.input(a, 1.0, 0.0, false);
    h.step();
    let frames = std::mem::take(&mut h.clients.get_mut(&b).expect("b").frames);
    assert_eq!(frames.len(), 1);
    let f = &frames[0];
    assert_eq!(f.changed.len(), 1, "only the mover: {f:?}");
    assert_eq!(
        (f.changed[0].id, f.changed[0].dx, f.changed[0].dy, f.changed[0].hp),
        (ia, Some(27), None, None)
    );
    assert!(f.spawned.is_empty() && f.removed.is_empty() && f.events.is_empty());

    // A's own frame carries its ack; then the world is idle and nothing is sent at all.
    for _ in 0..10 {
        let stats = h.step_unread();
        assert_eq!(stats.body_bytes, 0);
        assert_eq!(stats.sent, 0, "idle ticks send nothing");
    }
    for c in h.clients.values_mut() {
        Harness::drain(c);
    }
    h.assert_replicas_match();
}

#[test]
fn a_client_that_falls_behind_gets_a_keyframe_and_a_stalled_one_is_dropped() {
    let mut h = Harness::with_stall_limit(Harness::rules(), 20);
    h.queue_capacity = 4;
    let (a, b) = (h.join(), h.join());
    // B stops reading while A moves every tick: B's queue fills.
    for _ in 0..10 {
        h.input(a, 0.0, 1.0, false);
        h.step_unread();
        Harness::drain(h.clients.get_mut(&a).expect("a"));
    }
    Harness::drain(h.clients.get_mut(&b).expect("b"));
    h.input(a, 0.0, 1.0, false);
    h.step();
    assert_eq!(h.clients[&b].keyframes, 1, "B got a keyframe instead of the frames it missed");
    h.assert_replicas_match();

    // Now B stops reading for good: past the stall limit it is told to close.
    for _ in 0..30 {
        h.input(a, 0.0, -1.0, false);
        h.step_unread();
        Harness::drain(h.clients.get_mut(&a).expect("a"));
    }
    let close = h.clients[&b].local.close.get().expect("B was asked to close");
    assert_eq!(close.code, CloseCode::Policy);
    assert!(h.clients[&a].local.close.get().is_none(), "A is fine");
}

#[test]
fn a_full_server_refuses_joins() {
    let mut h = Harness::new(SimConfig { max_players: 2, ..Harness::rules() });
    h.join();
    h.join();
    let c = h.join_no_step();
    h.step();
    let close = h.clients[&c].local.close.get().expect("refused");
    assert_eq!(close.code, CloseCode::TryAgainLater);
    assert_eq!(h.room.sim.player_count(), 2);
}

/// Kills and deaths are counted by the server and by every client the same way: the killer's
/// kills and streak, the victim's deaths and a streak back to 0; a resume keeps them.
#[test]
fn the_scoreboard_counts_kills_deaths_and_streaks_on_server_and_clients_alike() {
    let config = SimConfig {
        rules: Rules { attack_cooldown_ms: 0, respawn_delay_ms: 0, ..Rules::default() },
        ..Harness::rules()
    };
    let mut h = Harness::new(config);
    let (a, b, c) = (h.join(), h.join(), h.join());
    let (ia, ib, ic) = (h.player(a), h.player(b), h.player(c));
    for id in [ia, ib] {
        h.place(id, 400, 400);
    }
    h.place(ic, 4000, 4000);
    h.step();
    // A kills B twice (B respawns at once, placed back in range).
    for round in 1..=2u32 {
        while h.server_entity(ib).hp > 0 {
            h.input(a, 0.0, 0.0, true);
            h.step();
        }
        h.step(); // respawn
        h.place(ib, 400, 400);
        let (sa, sb) = (h.server_entity(ia).score, h.server_entity(ib).score);
        assert_eq!(sa, Score { kills: round, deaths: 0, streak: round }, "round {round}");
        assert_eq!(sb, Score { kills: 0, deaths: round, streak: 0 }, "round {round}");
    }
    // Then B kills A: A's streak ends, B's begins.
    h.place(ia, 400, 400);
    while h.server_entity(ia).hp > 0 {
        h.input(b, 0.0, 0.0, true);
        h.step();
    }
    assert_eq!(h.server_entity(ia).score, Score { kills: 2, deaths: 1, streak: 0 });
    assert_eq!(h.server_entity(ib).score, Score { kills: 1, deaths: 2, streak: 1 });
    assert_eq!(h.server_entity(ic).score, Score::default(), "the bystander");
    // Every client counted the same from the events (C never saw the fights' frames
    // differently from anyone); a late joiner gets the counters in its keyframe.
    let d = h.join();
    h.step();
    let server = h.server_entity(ib).score;
    assert_eq!(h.clients[&d].replica.entities[&ib].score, server);
    h.assert_replicas_match();
}

/// Lag compensation: an attack is judged against where the others were at the tick its
/// client was showing, within the rewind limit (8 ticks, 250 ms at 30 Hz), never further.
#[test]
fn an_attack_rewinds_to_the_tick_shown_within_the_limit_only() {
    let config = SimConfig {
        rules: Rules { attack_cooldown_ms: 0, ..Rules::default() },
        max_rewind_ticks: 8,
        ..Harness::rules()
    };
    let mut h = Harness::new(config);
    let (a, ia) = h.join_at(400, 400);
    let (b, ib) = h.join_at(480, 400); // exactly at the attack range (80 subunits)
    h.step();
    let in_range_at = h.room.sim.tick();
    // B steps out of range: 3 steps right.
    for _ in 0..3 {
        h.input(b, 1.0, 0.0, false);
        h.step();
    }
    assert_eq!(h.server_entity(ib).x, 480 + 3 * 27);
    let hit = |h: &mut Harness| h.server_entity(ib).hp < 100;
    // Now, from where B is: a miss.
    h.input_showing(a, 0.0, 0.0, true, 0);
    h.step();
    assert!(!hit(&mut h), "no rewind: B is out of range now");
    // As A's screen showed it 4 ticks ago: in range: a hit.
    h.input_showing(a, 0.0, 0.0, true, in_range_at);
    h.step();
    assert_eq!(h.server_entity(ib).hp, 90, "the hit A saw counts");
    assert!(h.events(a).contains(&Event::Attacked { attacker: ia, target: ib, hp: 90 }));
    // B keeps out of range for longer than the limit; a screen that old is not believed: the
    // rewind stops 8 ticks back, where B was already out of range.
    for _ in 0..8 {
        h.step();
    }
    h.input_showing(a, 0.0, 0.0, true, in_range_at);
    h.step();
    assert_eq!(h.server_entity(ib).hp, 90, "beyond the rewind limit: a miss");
    h.assert_replicas_match();
}

#[test]
fn leaving_is_seen_by_everyone() {
    let mut h = Harness::new(Harness::rules());
    let (a, b) = (h.join(), h.join());
    let ib = h.player(b);
    h.events(a);
    h.leave(b);
    h.step();
    let f = h.clients.get_mut(&a).expect("a").frames.pop().expect("a frame");
    assert_eq!(f.removed, vec![ib]);
    assert_eq!(f.events, vec![Event::Left { id: ib }]);
    h.assert_replicas_match();
}

/// A coordinate on a 40-unit map (320 subunits) with attack cells 80 subunits wide: the
/// edges, the cell boundaries and either side of them, or anywhere.
fn coordinate() -> impl Strategy<Value = i32> {
    prop_oneof![
        3 => prop::sample::select(vec![0, 1, 79, 80, 81, 159, 160, 161, 239, 240, 241, 319, 320]),
        5 => 0i32..=320,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// The attack grid finds exactly the hits the rule names: every attacker hits every other
    /// living player within range (checked pair by pair here), whatever the cells they stand in.
    #[test]
    fn attacks_hit_exactly_the_players_in_range(
        players in proptest::collection::vec((coordinate(), coordinate(), proptest::bool::weighted(0.4)), 2..14),
    ) {
        let config = SimConfig {
            rules: Rules {
                map_width: 40, map_height: 40, spawn_max: 40, attack_range: 10.0, attack_damage: 1,
                attack_cooldown_ms: 0, ..Rules::default()
            },
            ..Harness::rules()
        };
        let mut h = Harness::new(config);
        let mut placed = Vec::new();
        for &(x, y, attacks) in &players {
            let (conn, id) = h.join_at(x, y);
            placed.push((conn, id, x, y, attacks));
        }
        h.step();
        let watcher = placed[0].0;
        h.events(watcher);
        for &(conn, _, _, _, attacks) in &placed {
            if attacks {
                h.input(conn, 0.0, 0.0, true);
            }
        }
        h.step();
        let mut hits: Vec<(u32, u32)> = h
            .events(watcher)
            .iter()
            .filter_map(|e| match *e {
                Event::Attacked { attacker, target, .. } => Some((attacker, target)),
                _ => None,
            })
            .collect();
        hits.sort_unstable();
        let range_sq = 80 * 80;
        let mut expected = Vec::new();
        for &(_, a, ax, ay, attacks) in &placed {
            for &(_, t, tx, ty, _) in &placed {
                let (dx, dy) = (ax - tx, ay - ty);
                if attacks && a != t && dx * dx + dy * dy <= range_sq {
                    expected.push((a, t));
                }
            }
        }
        expected.sort_unstable();
        prop_assert_eq!(hits, expected);
    }
}

#[derive(Debug, Clone)]
enum Op {
    Join,
    Leave(usize),
    Input { who: usize, x: f32, y: f32, attack: bool },
    Step,
    Stall(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::Join),
        1 => (0usize..8).prop_map(Op::Leave),
        8 => (0usize..8, -1.0f32..=1.0, -1.0f32..=1.0, proptest::bool::weighted(0.3))
            .prop_map(|(who, x, y, attack)| {
                let len = (x * x + y * y).sqrt().max(1.0);
                Op::Input { who, x: x / len, y: y / len, attack }
            }),
        6 => Just(Op::Step),
        1 => (0usize..8).prop_map(Op::Stall),
    ]
}

/// The server's world as a client playing `me` must hold it: everyone, or with a view radius
/// the players in the view cells around `me`.
fn truth_for(h: &mut Harness, me: PlayerId) -> Vec<EntityState> {
    let truth = h.room.sim.entities();
    let Some(grid) = Grid::new(&h.rules) else { return truth };
    let Some(mine) = truth.iter().find(|e| e.id == me) else { return truth };
    let centre = grid.cell(mine.x, mine.y);
    truth.into_iter().filter(|e| grid.sees(centre, grid.cell(e.x, e.y))).collect()
}

/// For random games, every client's replica — built only by applying each tick's delta (or a
/// keyframe after falling behind) — equals the server's state after every tick (with a view
/// radius: the state of its view, as players walk in and out of it).
fn replicas_follow_the_server(
    ops: Vec<Op>,
    view_radius: u32,
    walk: bool,
) -> Result<(), TestCaseError> {
    // With views, a smaller map spawned all over: players meet and part often.
    let (side, spawn_max) = if view_radius > 0 { (24, 24) } else { (60, 30) };
    let config = SimConfig {
        rules: Rules {
            map_width: side,
            map_height: side,
            spawn_max,
            attack_cooldown_ms: 0,
            respawn_delay_ms: 200,
            view_radius,
            ..Rules::default()
        },
        ..Harness::rules()
    };
    let mut h = Harness::new(config);
    h.queue_capacity = 3;
    let mut stalled: Vec<ConnId> = Vec::new();
    // With `walk`, a player keeps going its last direction, an input every tick.
    let mut heading: HashMap<ConnId, (f32, f32)> = HashMap::new();
    for op in ops {
        let conns: Vec<ConnId> = {
            let mut v: Vec<_> = h.clients.keys().copied().collect();
            v.sort();
            v
        };
        match op {
            Op::Join => {
                h.join_no_step();
            }
            Op::Leave(i) if !conns.is_empty() => h.leave(conns[i % conns.len()]),
            Op::Input { who, x, y, attack } if !conns.is_empty() => {
                let conn = conns[who % conns.len()];
                heading.insert(conn, (x, y));
                h.input(conn, x, y, attack);
            }
            Op::Stall(i) if !conns.is_empty() => stalled.push(conns[i % conns.len()]),
            Op::Step => {
                if walk {
                    for &conn in &conns {
                        if let Some(&(x, y)) = heading.get(&conn) {
                            h.input(conn, x, y, false);
                        }
                    }
                }
                h.step_unread();
                for (conn, c) in h.clients.iter_mut() {
                    if !stalled.contains(conn) {
                        Harness::drain(c);
                    }
                }
                stalled.clear();
                h.room.sim.sessions().check();
                // Clients that could read are exactly in sync.
                let tick = h.room.sim.tick();
                let synced: Vec<(PlayerId, Vec<EntityState>)> = h
                    .clients
                    .values()
                    .filter(|c| {
                        c.player != 0
                            && c.local.is_empty()
                            && c.local.close.get().is_none()
                            && c.replica.tick == tick
                    })
                    .map(|c| (c.player, c.replica.entities.values().cloned().collect()))
                    .collect();
                for (me, mine) in synced {
                    prop_assert_eq!(
                        &mine,
                        &truth_for(&mut h, me),
                        "player {}'s replica at tick {}",
                        me,
                        tick
                    );
                }
            }
            _ => {}
        }
    }
    // Finally everyone reads everything: all replicas match (with a view radius, also those
    // that were sent nothing lately: nothing in their view changed).
    h.step();
    h.step();
    let finals: Vec<(PlayerId, Vec<EntityState>)> = h
        .clients
        .values()
        .filter(|c| c.player != 0 && c.local.close.get().is_none())
        .map(|c| (c.player, c.replica.entities.values().cloned().collect()))
        .collect();
    for (me, mine) in finals {
        prop_assert_eq!(&mine, &truth_for(&mut h, me), "player {}'s replica at the end", me);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn replicas_always_equal_the_server(ops in proptest::collection::vec(op(), 1..200)) {
        replicas_follow_the_server(ops, 0, false)?;
    }

    /// View cells of 4 units on a 24-unit map (7 × 7), players spawned all over it and
    /// walking on every tick: a step (3.3 units) often crosses a cell, and players walk in
    /// and out of each other's views.
    #[test]
    fn replicas_always_equal_the_server_filtered_to_their_view(ops in proptest::collection::vec(op(), 1..200)) {
        replicas_follow_the_server(ops, 4, true)?;
    }
}

/// With 100 players all moving (random directions), a frame costs at most 4 bytes per moving
/// player on the wire, everything included (frame header, array headers).
#[test]
fn a_moving_player_costs_at_most_four_bytes() {
    let mut h = Harness::new(Harness::rules());
    let conns: Vec<ConnId> = (0..100).map(|_| h.join_no_step()).collect();
    h.step();
    let observer = conns[0];
    h.clients.get_mut(&observer).expect("observer").frames.clear();
    let mut rng = fastrand::Rng::with_seed(3);
    for _ in 0..60 {
        for &c in &conns {
            let a = rng.f32() * std::f32::consts::TAU;
            h.input(c, a.cos(), a.sin(), false);
        }
        h.step();
    }
    let frames = std::mem::take(&mut h.clients.get_mut(&observer).expect("observer").frames);
    let bytes: usize = frames.iter().map(|f| f.encode().len()).sum();
    let moved: usize = frames.iter().map(|f| f.changed.len()).sum();
    let per = bytes as f64 / moved as f64;
    assert!(moved > 60 * 90, "most players moved every tick: {moved}");
    assert!(per <= 4.0, "{per:.2} bytes per moving player");
    eprintln!("{per:.2} bytes per moving-player update over {} frames", frames.len());
}

fn hostile_message() -> impl Strategy<Value = Vec<u8>> {
    let valid_input = (any::<u32>(), any::<f32>(), any::<f32>(), any::<bool>()).prop_map(
        |(seq, x, y, attack)| {
            let mut b = vec![0x95, 0x01];
            skirmish_shared::wire::write_uint(&mut b, u64::from(seq));
            skirmish_shared::wire::write_f32(&mut b, x);
            skirmish_shared::wire::write_f32(&mut b, y);
            skirmish_shared::wire::write_bool(&mut b, attack);
            b
        },
    );
    let mutated =
        (valid_input.clone(), proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4))
            .prop_map(|(mut b, flips)| {
                for (at, byte) in flips {
                    let i = at % b.len();
                    b[i] = byte;
                }
                b
            });
    prop_oneof![proptest::collection::vec(any::<u8>(), 0..64), valid_input, mutated,]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// The fuzz target's path, in CI: arbitrary bytes are decoded and validated exactly as a
    /// connection's reader does, whatever is accepted goes into the sim, and the sim ticks.
    /// Nothing panics, and clients still hold exactly the server's state.
    #[test]
    fn hostile_bytes_never_break_decoding_or_the_tick(batches in proptest::collection::vec(proptest::collection::vec(hostile_message(), 0..8), 1..20)) {
        let mut h = Harness::new(Harness::rules());
        let (a, b) = (h.join(), h.join());
        for batch in batches {
            for (i, bytes) in batch.iter().enumerate() {
                let conn = if i % 2 == 0 { a } else { b };
                if let Ok(skirmish_shared::ClientMsg::Input(input)) = skirmish_shared::ClientMsg::decode(bytes) {
                    let _ = h.clients[&conn].local.send_input(input);
                }
            }
            h.step();
        }
        h.step();
        h.assert_replicas_match();
    }
}

/// A player kept for resume keeps its seat and reads nothing; a new connection gets a seat of
/// its own, whose inputs are its own (the soak once found a waiting player reading its old
/// connection's slot after it went to someone else).
#[test]
fn a_new_connection_reusing_a_slot_gets_its_own_inputs() {
    let mut h = Harness::new(SimConfig { resume_grace_ticks: 300, ..Harness::rules() });
    let a = h.join();
    let ia = h.player(a);
    h.place(ia, 800, 800);
    h.step();
    h.leave(a); // A's player stays for resume, holding its seat
    h.step();
    let b = h.join();
    let ib = h.player(b);
    h.place(ib, 1600, 1600);
    h.step();
    for _ in 0..5 {
        h.input(b, 1.0, 0.0, false);
        h.step();
    }
    assert_eq!(h.clients[&b].replica.ack, 5, "every input of B was applied to B");
    assert_eq!(h.server_entity(ib).x, 1600 + 5 * 27);
    assert_eq!(h.server_entity(ia).x, 800, "the waiting player did not move");
}

/// Resume through the real sim and fan-out: the same player comes back, a second connection
/// with the same token takes it over (the first is told 4002), and the old connection's
/// inputs no longer reach the player.
#[test]
fn resume_and_takeover_keep_one_connection_per_player() {
    let mut h = Harness::new(SimConfig { resume_grace_ticks: 300, ..Harness::rules() });
    let a = h.join();
    let player = h.player(a);
    let token = u128::from(a).to_le_bytes();
    // A second connection presents A's token while A is still connected: it takes over.
    let b = h.join_resuming(Some(token));
    h.step();
    assert_eq!(h.player(b), player, "B got A's player back");
    let close = h.clients[&a].local.closed().expect("A was asked to close");
    assert_eq!(close.code, CloseCode::SessionTakenOver);
    h.room.sim.sessions().check();
    // A's reader is still up for a moment: its inputs are refused, B's are applied.
    assert!(!h.clients[&a].local.send_input(Input {
        seq: 1,
        dir: Direction::default(),
        attack: false,
        seen: 0,
        shown: 0,
    }));
    let seq = h.input(b, 1.0, 0.0, false);
    h.step();
    assert_eq!(h.clients[&b].replica.ack, seq);
    // A's leave arrives later: it changes nothing for B.
    h.leave(a);
    h.step();
    assert_eq!(h.room.sim.player_count(), 1);
    assert_eq!(h.room.sim.sessions().by_conn(b).map(|s| s.player), Some(player));
    h.room.sim.sessions().check();
    h.assert_replicas_match();
}

/// Seats released by the sim: a refused join, a resume (which brought a seat of its own) and
/// a removed player each give one back, so the registry's count stays exact.
#[test]
fn the_sim_gives_back_every_seat_it_does_not_keep() {
    let mut h =
        Harness::new(SimConfig { max_players: 1, resume_grace_ticks: 0, ..Harness::rules() });
    let a = h.join_no_step();
    let b = h.join_no_step();
    let out = h.room.sim.step();
    assert_eq!(out.seats_released, 1, "B was refused");
    assert_eq!(out.players, 1);
    h.room.fanout.deliver(out);
    assert_eq!(h.clients[&b].local.closed().map(|c| c.code), Some(CloseCode::TryAgainLater));
    h.leave(a);
    let out = h.room.sim.step();
    assert_eq!(out.seats_released, 1, "A's player left for good");
    assert_eq!(out.tokens_removed, vec![u128::from(a).to_le_bytes()]);
    assert_eq!(out.players, 0);
}

/// The fan-out lets go of every connection that ended, whatever the order in which it hears
/// of it (the reader's unregister usually arrives before the tick that detaches the player).
#[test]
fn the_fan_out_forgets_connections_that_ended() {
    let mut h = Harness::new(SimConfig { resume_grace_ticks: 300, ..Harness::rules() });
    let conns: Vec<ConnId> = (0..3).map(|_| h.join()).collect();
    assert_eq!(h.room.fanout.connections(), 3);
    for conn in conns {
        h.leave(conn);
    }
    h.step();
    h.step();
    assert_eq!(h.room.fanout.connections(), 0, "no link kept for a connection that ended");
    assert_eq!(h.room.sim.player_count(), 3, "the players wait to be resumed");
}

/// bevy keeps a room's component types and resources in a vector that doubles: with 33 of them
/// it holds 64 entries of ~300 bytes, 9.7 KB a room more than with 32 (~97 bytes a player in
/// rooms of 100; BENCHMARKS "Memory at rest"). A new component or resource past 32 should merge
/// into one, or say why the cost is worth it. Counted with players joined, moving, attacking,
/// leaving and dying, so that whatever only spawning or a system's first run registers counts.
#[test]
fn a_room_world_registers_at_most_32_component_types_and_resources() {
    let config = SimConfig {
        rules: Rules {
            attack_cooldown_ms: 0,
            attack_damage: 100,
            respawn_delay_ms: 0,
            ..Rules::default()
        },
        ..Harness::rules()
    };
    let mut h = Harness::new(config);
    let (a, b, c) = (h.join(), h.join(), h.join());
    let (ia, ib) = (h.player(a), h.player(b));
    h.place(ia, 800, 800);
    h.place(ib, 800 + 72, 800);
    for _ in 0..5 {
        h.input(a, 1.0, 0.0, true);
        h.input(b, -1.0, 0.0, false);
        h.step();
    }
    h.leave(c);
    h.step();
    h.assert_replicas_match();
    let registered = h.room.sim.world().components().len();
    assert!(registered <= 32, "{registered} component types and resources registered");
}

/// A room of 500 × 500 units with view cells of 50 (11 × 11), no cooldown.
fn view_rules() -> SimConfig {
    SimConfig {
        rules: Rules { view_radius: 50, attack_cooldown_ms: 0, ..Rules::default() },
        ..Harness::rules()
    }
}

/// Subunits per unit.
const U: i32 = 8;

#[test]
fn a_player_walking_out_of_view_disappears_and_comes_back_with_its_state() {
    let mut h = Harness::new(view_rules());
    let (a, ida) = h.join_at(60 * U, 60 * U); // cell (1, 1): sees cells 0..=2, units 0..150
    let (b, idb) = h.join_at(100 * U, 60 * U);
    let (c, idc) = h.join_at(300 * U, 60 * U); // cell (6, 1): far from a
    h.step();
    h.step();
    assert!(h.clients[&a].replica.entities.contains_key(&idb), "b starts in a's view");
    assert!(!h.clients[&a].replica.entities.contains_key(&idc), "c is out of a's view");
    assert!(!h.clients[&c].replica.entities.contains_key(&ida));
    h.assert_views_match();
    h.clients.get_mut(&a).expect("a").frames.clear(); // the joins (placed after spawning)
    // b walks right, away from a, until it is out of a's view (x ≥ 150 units: cell 3).
    let mut gone_at = None;
    for _ in 0..60 {
        h.input(b, 1.0, 0.0, false);
        h.step();
        h.assert_views_match();
        if !h.clients[&a].replica.entities.contains_key(&idb) {
            gone_at = Some(h.server_entity(idb).x);
            break;
        }
    }
    let x = gone_at.expect("b left a's view");
    assert!(
        (150 * U..=151 * U + 27).contains(&x),
        "b went out of view at x {x}: cell 3 starts at 1200"
    );
    let outs: Vec<PlayerId> =
        h.clients.get_mut(&a).expect("a").frames.drain(..).flat_map(|f| f.out_of_view).collect();
    assert_eq!(outs, vec![idb], "a was told b is out of view, once");
    // Out of a's view, b is hit by c (its hp changes where a cannot see), then walks back.
    let bx = h.server_entity(idb).x;
    h.place(idc, bx + 5 * U, 60 * U);
    h.step();
    h.input(c, 0.0, 0.0, true);
    h.step();
    assert_eq!(h.server_entity(idb).hp, 90, "c hit b");
    assert!(!h.clients[&a].replica.entities.contains_key(&idb));
    for _ in 0..60 {
        h.input(b, -1.0, 0.0, false);
        h.step();
        h.assert_views_match();
        if h.clients[&a].replica.entities.contains_key(&idb) {
            break;
        }
    }
    let seen =
        h.clients[&a].replica.entities.get(&idb).cloned().expect("b came back into a's view");
    assert_eq!(
        seen,
        h.server_entity(idb),
        "b came back with its state: position and the hp c took"
    );
    assert_eq!(seen.hp, 90);
    let spawned: Vec<PlayerId> = h
        .clients
        .get_mut(&a)
        .expect("a")
        .frames
        .drain(..)
        .flat_map(|f| f.spawned)
        .map(|e| e.id)
        .collect();
    assert_eq!(spawned, vec![idb], "b came back in `spawned`");
}

#[test]
fn attack_events_reach_exactly_the_clients_that_see_the_attacker_or_the_target() {
    let mut h = Harness::new(view_rules());
    // The attacker at the right edge of cell 4 (x 245), its target across the border in cell
    // 5 (x 252): 7 units apart.
    let (att, id_att) = h.join_at(245 * U, 25 * U);
    let (tgt, id_tgt) = h.join_at(252 * U, 25 * U);
    let (sees_att, _) = h.join_at(170 * U, 25 * U); // cell 3: sees 2..=4, the attacker only
    let (sees_tgt, _) = h.join_at(330 * U, 25 * U); // cell 6: sees 5..=7, the target only
    let (sees_both, _) = h.join_at(230 * U, 75 * U); // cell (4, 1): sees 3..=5
    let (sees_none, _) = h.join_at(450 * U, 25 * U); // cell 9: sees 8..=10
    let (far_below, _) = h.join_at(245 * U, 400 * U); // row 8: sees rows 7..=9
    h.step();
    h.step();
    for conn in [att, tgt, sees_att, sees_tgt, sees_both, sees_none, far_below] {
        h.events(conn);
    }
    h.input(att, 0.0, 0.0, true);
    h.step();
    let hit = Event::Attacked { attacker: id_att, target: id_tgt, hp: 90 };
    for (conn, sees) in [
        (att, true),
        (tgt, true),
        (sees_att, true),
        (sees_tgt, true),
        (sees_both, true),
        (sees_none, false),
        (far_below, false),
    ] {
        let got = h.events(conn).into_iter().filter(|e| *e == hit).count();
        assert_eq!(got, usize::from(sees), "client {conn}: the attack event {} times", got);
    }
    h.assert_views_match();
}

#[test]
fn a_resumed_player_is_welcomed_with_its_view_and_follows_it() {
    let mut h = Harness::new(SimConfig { resume_grace_ticks: 300, ..view_rules() });
    let (a, ida) = h.join_at(400 * U, 400 * U);
    let (_, idb) = h.join_at(10 * U, 10 * U);
    let (c, idc) = h.join_at(420 * U, 410 * U);
    h.step();
    h.assert_views_match();
    // a's connection drops; its player waits. Meanwhile c walks (a's player still sees it).
    h.leave(a);
    for _ in 0..5 {
        h.input(c, 0.0, -1.0, false);
        h.step();
    }
    // a comes back with its token: the welcome holds its view, c where it is now, not b.
    let back = h.join_resuming(Some(u128::from(a).to_le_bytes()));
    h.step();
    assert_eq!(h.player(back), ida, "the token got a's player back");
    let held: Vec<PlayerId> = h.clients[&back].replica.entities.keys().copied().collect();
    assert_eq!(held, vec![ida, idc], "the welcome holds a's view: a and c, not b ({idb})");
    h.assert_views_match();
    // Then it follows its view as it walks toward b.
    for _ in 0..160 {
        h.input(back, -std::f32::consts::FRAC_1_SQRT_2, -std::f32::consts::FRAC_1_SQRT_2, false);
        h.step();
        h.assert_views_match();
    }
    assert!(h.clients[&back].replica.entities.contains_key(&idb), "b came into view");
    assert!(!h.clients[&back].replica.entities.contains_key(&idc), "c went out of view");
}
