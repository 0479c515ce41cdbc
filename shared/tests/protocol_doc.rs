//! Keeps `docs/protocol.md` true: every example message is encoded here and its bytes must
//! appear, as written, in the document.

use skirmish_shared::batch;
use skirmish_shared::{
    Change, ClientMsg, Direction, EntityState, Event, Frame, Input, Keyframe, PROTOCOL_VERSION,
    Rules, Score, ServerMsg, Welcome,
};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

fn examples() -> Vec<(&'static str, Vec<u8>)> {
    let ann = EntityState {
        id: 1,
        name: "ann".into(),
        x: 400,
        y: 160,
        hp: 100,
        score: Score { kills: 3, deaths: 1, streak: 2 },
    };
    let bob = EntityState { id: 2, name: "bob".into(), x: 8, y: 800, hp: 90, ..Default::default() };
    vec![
        (
            "join",
            ClientMsg::Join {
                protocol_version: PROTOCOL_VERSION,
                name: Some("ann".into()),
                resume: None,
                room: None,
                seat: None,
            }
            .encode(),
        ),
        (
            "input",
            ClientMsg::Input(Input {
                seq: 7,
                dir: Direction::new(1.0, 0.0).expect("valid"),
                attack: true,
                seen: 0,
                shown: 0,
            })
            .encode(),
        ),
        (
            "input-seen",
            ClientMsg::Input(Input {
                seq: 8,
                dir: Direction::new(0.0, -1.0).expect("valid"),
                attack: false,
                seen: 300,
                shown: 0,
            })
            .encode(),
        ),
        (
            "input-shown",
            ClientMsg::Input(Input {
                seq: 9,
                dir: Direction::new(1.0, 0.0).expect("valid"),
                attack: true,
                seen: 300,
                shown: 296,
            })
            .encode(),
        ),
        (
            "resume",
            ClientMsg::Join {
                protocol_version: PROTOCOL_VERSION,
                name: Some("ann".into()),
                resume: Some(*b"0123456789abcdef"),
                room: Some("arena".into()),
                seat: None,
            }
            .encode(),
        ),
        ("ping", ClientMsg::Ping { client_time: 1000 }.encode()),
        ("leave", ClientMsg::Leave.encode()),
        (
            "welcome",
            ServerMsg::Welcome(Welcome {
                player_id: 2,
                protocol_version: PROTOCOL_VERSION,
                tick_rate: 30,
                rules: Rules::default(),
                token: *b"0123456789abcdef",
                resumed: false,
                room: "arena".into(),
                keyframe: Keyframe { tick: 42, ack: 0, entities: vec![ann.clone(), bob.clone()] },
            })
            .encode(),
        ),
        (
            "frame",
            Frame {
                tick: 43,
                ack: 7,
                spawned: vec![],
                changed: vec![
                    Change { id: 1, dx: Some(27), dy: None, hp: None },
                    Change { id: 2, dx: Some(-19), dy: Some(19), hp: Some(80) },
                ],
                removed: vec![],
                events: vec![Event::Attacked { attacker: 1, target: 2, hp: 80 }],
                out_of_view: vec![],
            }
            .encode(),
        ),
        (
            "frame-join-leave",
            Frame {
                tick: 44,
                ack: 7,
                spawned: vec![EntityState {
                    id: 3,
                    name: "cy".into(),
                    x: 0,
                    y: 8,
                    hp: 100,
                    ..Default::default()
                }],
                changed: vec![],
                removed: vec![1],
                events: vec![Event::Joined { id: 3 }, Event::Left { id: 1 }],
                out_of_view: vec![],
            }
            .encode(),
        ),
        (
            "frame-view",
            Frame {
                tick: 45,
                ack: 8,
                spawned: vec![EntityState {
                    id: 9,
                    name: "di".into(),
                    x: 800,
                    y: 0,
                    hp: 100,
                    ..Default::default()
                }],
                changed: vec![
                    Change { id: 4, dx: Some(27), dy: None, hp: None },
                    Change { id: 2, dx: None, dy: Some(27), hp: None },
                ],
                removed: vec![],
                events: vec![],
                out_of_view: vec![3],
            }
            .encode(),
        ),
        (
            "frame-kill",
            Frame {
                tick: 300,
                ack: 9,
                changed: vec![Change { id: 2, dx: None, dy: None, hp: Some(0) }],
                events: vec![
                    Event::Attacked { attacker: 3, target: 2, hp: 0 },
                    Event::Killed { victim: 2, killer: 3 },
                    Event::Respawned { id: 5 },
                ],
                ..Frame::default()
            }
            .encode(),
        ),
        (
            "keyframe",
            ServerMsg::Keyframe(Keyframe { tick: 50, ack: 7, entities: vec![bob] }).encode(),
        ),
        ("pong", ServerMsg::Pong { client_time: 1000, timing: None }.encode()),
        (
            "pong-timing",
            ServerMsg::Pong {
                client_time: 1000,
                timing: Some(skirmish_shared::InputTiming { lead_us: -2500, jitter_us: 4000 }),
            }
            .encode(),
        ),
        ("batch-server", {
            let mut out = Vec::new();
            batch::push_message(
                &mut out,
                &ServerMsg::Pong { client_time: 1000, timing: None }.encode(),
            );
            batch::push_close(&mut out, 1001, "server shutting down");
            out
        }),
        ("batch-client", {
            let mut out = Vec::new();
            let input = Input {
                seq: 7,
                dir: Direction::new(1.0, 0.0).expect("valid"),
                attack: true,
                seen: 0,
                shown: 0,
            };
            batch::push_message(&mut out, &ClientMsg::Input(input).encode());
            batch::push_message(&mut out, &ClientMsg::Ping { client_time: 1000 }.encode());
            out
        }),
    ]
}

#[test]
fn every_example_in_the_protocol_doc_is_what_the_code_encodes() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.md"))
        .expect("docs/protocol.md exists");
    let doc = doc.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut missing = Vec::new();
    for (name, bytes) in examples() {
        let want = hex(&bytes);
        if !doc.contains(&want) {
            missing.push(format!("{name}: {want}"));
        }
    }
    assert!(missing.is_empty(), "docs/protocol.md lacks these encodings:\n{}", missing.join("\n"));
}
