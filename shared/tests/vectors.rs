//! Shared test vectors for the browser client: example server messages as bytes, each with
//! what it decodes to and the client state after applying it; joins, inputs and the leave as
//! the client must encode them; and room names with whether the room name rule allows them.
//! Written to `web-client/test/vectors.json` (committed); the client's tests decode the same
//! bytes and must reach the same state, encode the same joins and leave, and judge the names
//! alike, so a protocol change that forgets one side fails a test.
//!
//! The file must match what this code produces: after a deliberate protocol change, run
//! `UPDATE_VECTORS=1 cargo test -p skirmish-shared --test vectors` and commit the result.

use serde_json::{Value, json};
use skirmish_shared::{
    Change, ClientMsg, Direction, EntityState, Event, Frame, Input, InputTiming, Keyframe,
    MAX_ROOM_CHARS, PROTOCOL_VERSION, Replica, ResumeToken, Rules, Score, ServerMsg, Welcome,
    valid_room_name,
};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn entity(e: &EntityState) -> Value {
    json!({
        "id": e.id, "name": e.name, "x": e.x, "y": e.y, "hp": e.hp,
        "kills": e.score.kills, "deaths": e.score.deaths, "streak": e.score.streak,
    })
}

fn event(e: &Event) -> Value {
    match *e {
        Event::Joined { id } => json!({ "kind": "joined", "id": id }),
        Event::Left { id } => json!({ "kind": "left", "id": id }),
        Event::Attacked { attacker, target, hp } => {
            json!({ "kind": "attacked", "attacker": attacker, "target": target, "hp": hp })
        }
        Event::Killed { victim, killer } => {
            json!({ "kind": "killed", "victim": victim, "killer": killer })
        }
        Event::Respawned { id } => json!({ "kind": "respawned", "id": id }),
    }
}

fn message(m: &ServerMsg) -> Value {
    match m {
        ServerMsg::Welcome(w) => json!({
            "type": "welcome",
            "playerId": w.player_id,
            "protocolVersion": w.protocol_version,
            "tickRate": w.tick_rate,
            "rules": serde_json::to_value(&w.rules).expect("rules serialise"),
            "token": hex(&w.token),
            "resumed": w.resumed,
            "room": w.room,
            "keyframe": { "tick": w.keyframe.tick, "ack": w.keyframe.ack,
                          "entities": w.keyframe.entities.iter().map(entity).collect::<Vec<_>>() },
        }),
        ServerMsg::Frame(f) => json!({
            "type": "frame",
            "tick": f.tick,
            "ack": f.ack,
            "spawned": f.spawned.iter().map(entity).collect::<Vec<_>>(),
            "changed": f.changed.iter().map(|c: &Change| json!({ "id": c.id, "dx": c.dx, "dy": c.dy, "hp": c.hp })).collect::<Vec<_>>(),
            "removed": f.removed,
            "events": f.events.iter().map(event).collect::<Vec<_>>(),
            "outOfView": f.out_of_view,
        }),
        ServerMsg::Keyframe(k) => json!({
            "type": "keyframe", "tick": k.tick, "ack": k.ack,
            "entities": k.entities.iter().map(entity).collect::<Vec<_>>(),
        }),
        ServerMsg::Pong { client_time, timing } => json!({
            "type": "pong", "clientTime": client_time,
            "timing": timing.map(|t| json!({ "leadUs": t.lead_us, "jitterUs": t.jitter_us })),
        }),
    }
}

fn state(r: &Replica) -> Value {
    json!({ "tick": r.tick, "ack": r.ack, "entities": r.entities.values().map(entity).collect::<Vec<_>>() })
}

fn ent(id: u32, name: &str, x: i32, y: i32, hp: i32) -> EntityState {
    EntityState { id, name: name.into(), x, y, hp, score: Score::default() }
}

/// A short game: a welcome, deltas with every kind of change and event, a resync keyframe,
/// and a pong.
fn game() -> Vec<ServerMsg> {
    let rules = Rules { speed: 123.5, ..Rules::default() };
    vec![
        ServerMsg::Welcome(Welcome {
            player_id: 2,
            protocol_version: PROTOCOL_VERSION,
            tick_rate: 30,
            rules,
            token: *b"resume-token-16b",
            resumed: true,
            room: "arena-2_b".into(),
            keyframe: Keyframe {
                tick: 100,
                ack: 0,
                entities: vec![ent(1, "ann", 400, 160, 100), ent(2, "bob", 8, 800, 100)],
            },
        }),
        ServerMsg::Frame(Frame {
            tick: 101,
            ack: 1,
            spawned: vec![ent(7, "cy", 0, 800, 100)],
            changed: vec![
                Change { id: 1, dx: Some(27), dy: None, hp: None },
                Change { id: 2, dx: Some(-19), dy: Some(19), hp: None },
            ],
            removed: vec![],
            events: vec![Event::Joined { id: 7 }],
            out_of_view: vec![],
        }),
        ServerMsg::Frame(Frame {
            tick: 103,
            ack: 3,
            changed: vec![
                Change { id: 2, dx: None, dy: None, hp: Some(90) },
                Change { id: 7, dx: Some(-300), dy: Some(4000), hp: Some(0) },
            ],
            events: vec![
                Event::Attacked { attacker: 1, target: 2, hp: 90 },
                Event::Attacked { attacker: 1, target: 7, hp: 0 },
                Event::Killed { victim: 7, killer: 1 },
            ],
            ..Frame::default()
        }),
        ServerMsg::Frame(Frame {
            tick: 104,
            ack: 3,
            removed: vec![1],
            events: vec![Event::Left { id: 1 }, Event::Respawned { id: 7 }],
            changed: vec![Change { id: 7, dx: Some(40), dy: Some(-3000), hp: Some(100) }],
            ..Frame::default()
        }),
        // From a server with a view radius: two runs of changes (one per view cell), a player
        // come into view who killed this tick (its entity counts the kill already: the event
        // counts only the victim's death), then one gone out of view.
        ServerMsg::Frame(Frame {
            tick: 105,
            ack: 4,
            spawned: vec![EntityState {
                score: Score { kills: 1, deaths: 0, streak: 1 },
                ..ent(5, "eve", 900, 900, 100)
            }],
            changed: vec![
                Change { id: 7, dx: Some(8), dy: None, hp: None },
                Change { id: 2, dx: None, dy: Some(-8), hp: Some(0) },
            ],
            events: vec![Event::Killed { victim: 2, killer: 5 }],
            ..Frame::default()
        }),
        ServerMsg::Frame(Frame { tick: 106, ack: 4, out_of_view: vec![7], ..Frame::default() }),
        ServerMsg::Keyframe(Keyframe {
            tick: 200,
            ack: 9,
            entities: vec![
                EntityState {
                    score: Score { kills: 4, deaths: 2, streak: 1 },
                    ..ent(2, "bob", 1, 2, 50)
                },
                ent(9, "dee", 3999, 3999, 100),
            ],
        }),
        ServerMsg::Frame(Frame {
            tick: 70_000,
            ack: 70_000,
            changed: vec![Change { id: 9, dx: Some(-1), dy: Some(-1), hp: None }],
            ..Frame::default()
        }),
        ServerMsg::Pong { client_time: 4_000_000_000, timing: None },
        ServerMsg::Pong {
            client_time: 5,
            timing: Some(InputTiming { lead_us: -2_500, jitter_us: 31_000 }),
        },
    ]
}

/// Joins as the client sends them: quick play and a named room, new and resuming.
fn joins() -> Vec<Value> {
    type Case =
        (Option<&'static str>, Option<ResumeToken>, Option<&'static str>, Option<&'static str>);
    let cases: [Case; 5] = [
        (Some("ann"), None, None, None),
        (Some("ann"), None, Some("arena"), None),
        (Some("ann"), Some(*b"resume-token-16b"), Some("arena-2_b"), None),
        (None, Some([0xff; 16]), None, None),
        // With a seat ticket (its text, as the page got it from its URL).
        (Some("ann"), None, Some("arena"), Some("lKVhcmVuYaNhbm7Oaw1Px8QgRdSCHckQ")),
    ];
    cases
        .into_iter()
        .map(|(name, resume, room, seat)| {
            let join = ClientMsg::Join {
                protocol_version: PROTOCOL_VERSION,
                name: name.map(str::to_owned),
                resume,
                room: room.map(str::to_owned),
                seat: seat.map(str::to_owned),
            };
            json!({ "name": name, "token": resume.as_ref().map(|t| hex(t)), "room": room,
                    "seat": seat, "bytes": hex(&join.encode()) })
        })
        .collect()
}

/// Inputs as the client sends them, with and without the tick it has seen. Directions with
/// no integral component: the client's encoder writes integral numbers as integers (which the
/// server accepts too), so only these are byte-for-byte the same on both sides.
fn inputs() -> Vec<Value> {
    let cases: [(u32, f32, f32, bool, u64, u64); 6] = [
        (1, 0.6, -0.8, false, 0, 0),
        (7, -0.8, 0.6, true, 300, 0),
        (70_000, 0.28, 0.96, false, 70_000, 0),
        (u32::MAX, -0.6, -0.8, true, (1 << 32) + 5, 0),
        // With the tick the client was showing (lag compensation).
        (8, 0.6, 0.8, true, 300, 296),
        (9, -0.28, 0.96, true, 70_000, 69_996),
    ];
    cases
        .into_iter()
        .map(|(seq, x, y, attack, seen, shown)| {
            let dir = Direction::new(x, y).expect("valid direction");
            let input = ClientMsg::Input(Input { seq, dir, attack, seen, shown });
            json!({ "seq": seq, "dx": x, "dy": y, "attack": attack, "seen": seen,
                    "shown": shown, "bytes": hex(&input.encode()) })
        })
        .collect()
}

/// Names on both sides of every edge of the room name rule.
fn room_names() -> Vec<Value> {
    let longest = "a".repeat(MAX_ROOM_CHARS);
    let too_long = "b".repeat(MAX_ROOM_CHARS + 1);
    [
        "arena",
        "a",
        "Z",
        "7",
        "-",
        "_",
        "Arena-2_b",
        &longest,
        &too_long,
        "",
        "two words",
        " arena",
        "arena\n",
        "a/b",
        "a.b",
        "..",
        "%20",
        "caf\u{e9}",
        "\u{661}\u{662}",
        "a\0",
        "?room=x",
        "a&b",
    ]
    .into_iter()
    .map(|name| json!({ "name": name, "valid": valid_room_name(name) }))
    .collect()
}

fn vectors() -> Value {
    let mut replica = Replica::default();
    let steps: Vec<Value> = game()
        .iter()
        .map(|m| {
            let bytes = m.encode();
            assert_eq!(ServerMsg::decode(&bytes).as_ref(), Ok(m), "round trip");
            match m {
                ServerMsg::Welcome(w) => replica = Replica::from_keyframe(&w.keyframe),
                ServerMsg::Keyframe(k) => replica = Replica::from_keyframe(k),
                ServerMsg::Frame(f) => replica.apply(f).expect("frame applies"),
                ServerMsg::Pong { .. } => {}
            }
            json!({ "bytes": hex(&bytes), "message": message(m), "state": state(&replica) })
        })
        .collect();
    json!({
        "about": "Generated by shared/tests/vectors.rs; do not edit. Each step: server message bytes (hex), what they decode to, and the client state after applying them in order. Each join: the bytes (hex) the client must encode for that name, token (hex) and room (null: none). leave: the bytes (hex) of the leave message. Each input: the bytes (hex) the client must encode for that sequence number, direction, attack and seen tick (0: not said). Each room name: whether the room name rule allows it.",
        "protocolVersion": PROTOCOL_VERSION,
        "steps": steps,
        "joins": joins(),
        "leave": hex(&ClientMsg::Leave.encode()),
        "inputs": inputs(),
        "roomNames": room_names(),
    })
}

#[test]
fn client_vectors_are_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../web-client/test/vectors.json");
    let want = serde_json::to_string_pretty(&vectors()).expect("json") + "\n";
    if std::env::var_os("UPDATE_VECTORS").is_some() {
        std::fs::write(path, &want).expect("write vectors");
        return;
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        have == want,
        "web-client/test/vectors.json is stale: run `UPDATE_VECTORS=1 cargo test -p skirmish-shared --test vectors` and commit it"
    );
}
