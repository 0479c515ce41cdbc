//! The first two systems of a tick: drain the network's inbound channel (joins, inputs,
//! leaves), then take each player's inputs for this tick from its queue.

use bevy_ecs::prelude::{Query, World};
use skirmish_shared::{Event, SUBUNITS};
use tracing::{debug, info};

use super::components::{
    AttackCooldown, Controls, Health, INPUT_QUEUE_CAPACITY, MAX_MOVES_PER_TICK, Player, Position,
    Replicated,
};
use super::state::{Client, Clients, Inbox, PlayerIds, Removed, Settings, SpawnRng, TickEvents};
use crate::link::{Close, CloseCode, ConnId, Inbound, Link};

/// Drains everything the network sent since the last tick. Never blocks.
pub fn receive(world: &mut World) {
    // Bounded per tick so a burst can't stall the tick indefinitely; the rest waits.
    const MAX_MESSAGES_PER_TICK: usize = 1 << 16;
    for _ in 0..MAX_MESSAGES_PER_TICK {
        let Ok(msg) = world.resource::<Inbox>().0.try_recv() else {
            break;
        };
        match msg {
            Inbound::Join { conn, name, link } => join(world, conn, name, link),
            Inbound::Input { conn, input } => {
                let Some(entity) = world
                    .resource::<Clients>()
                    .by_conn
                    .get(&conn)
                    .map(|c| c.entity)
                else {
                    continue; // left already, or was refused
                };
                if let Some(mut controls) = world.get_mut::<Controls>(entity) {
                    if controls.pending.len() < INPUT_QUEUE_CAPACITY {
                        controls.pending.push_back(input);
                    } else {
                        debug!(conn, seq = input.seq, "input queue full, input dropped");
                    }
                }
            }
            Inbound::Leave { conn } => leave(world, conn),
        }
    }
}

fn join(world: &mut World, conn: ConnId, name: Option<String>, link: Link) {
    let settings = world.resource::<Settings>();
    let (rules, max_players) = (settings.rules.clone(), settings.max_players);
    let clients = world.resource::<Clients>();
    if clients.by_conn.contains_key(&conn) {
        link.closer
            .close(Close::new(CloseCode::Policy, "already joined"));
        return;
    }
    if clients.by_conn.len() >= max_players {
        link.closer
            .close(Close::new(CloseCode::TryAgainLater, "server full"));
        return;
    }
    let id = world.resource_mut::<PlayerIds>().allocate();
    let (x, y) = spawn_point(&mut world.resource_mut::<SpawnRng>().0, &rules);
    let name = name.unwrap_or_else(|| format!("player-{id}"));
    info!(conn, player = id, %name, "player joined");
    let entity = world
        .spawn((
            Player { id, name },
            Position { x, y },
            Health {
                hp: rules.max_hp.min(i32::MAX as u32) as i32,
                last_hit_by: 0,
                died_at: None,
            },
            Controls::default(),
            AttackCooldown::default(),
            Replicated::default(),
        ))
        .id();
    world
        .resource_mut::<TickEvents>()
        .0
        .push(Event::Joined { id });
    world.resource_mut::<Clients>().by_conn.insert(
        conn,
        Client {
            entity,
            player: id,
            link,
            welcomed: false,
            needs_keyframe: false,
            last_ack_sent: 0,
            stalled_ticks: 0,
        },
    );
}

/// Removes a connection's player from the world; also used when the sim drops a client.
pub fn leave(world: &mut World, conn: ConnId) {
    let Some(client) = world.resource_mut::<Clients>().by_conn.remove(&conn) else {
        return;
    };
    let sent = world
        .get::<Replicated>(client.entity)
        .is_some_and(|r| r.sent);
    world.despawn(client.entity);
    info!(conn, player = client.player, "player left");
    world
        .resource_mut::<TickEvents>()
        .0
        .push(Event::Left { id: client.player });
    if sent {
        world.resource_mut::<Removed>().0.push(client.player);
    }
}

/// A random point in the spawn square, in subunits (the tutorial's `randint(0, 100)` per
/// axis, in whole units).
pub fn spawn_point(rng: &mut fastrand::Rng, rules: &skirmish_shared::Rules) -> (i32, i32) {
    let mut axis = || rng.u32(rules.spawn_min..=rules.spawn_max) as i32 * SUBUNITS;
    (axis(), axis())
}

/// Takes this tick's inputs from each player's queue: one, or two when at least three are
/// waiting (inputs that bunched up in the network catch up without growing the delay).
pub fn apply_inputs(mut players: Query<&mut Controls>) {
    for mut c in &mut players {
        let c = &mut *c;
        let take = if c.pending.len() > MAX_MOVES_PER_TICK {
            MAX_MOVES_PER_TICK
        } else {
            c.pending.len().min(1)
        };
        c.move_count = 0;
        c.attack = false;
        for _ in 0..take {
            let Some(input) = c.pending.pop_front() else {
                break;
            };
            c.moves[usize::from(c.move_count)] = input.dir;
            c.move_count += 1;
            c.attack |= input.attack;
            c.acked = input.seq;
        }
    }
}
