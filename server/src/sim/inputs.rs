//! The first two systems of a tick: drain the network's joins and leaves, then take each
//! player's inputs for this tick from its connection's input channel.

use bevy_ecs::prelude::{Query, ResMut, World};
use skirmish_shared::{Event, Rules, SUBUNITS};
use tracing::info;

use super::components::{
    AttackCooldown, Controls, Health, MAX_MOVES_PER_TICK, Player, Position, Replicated,
};
use super::state::{
    Clients, Inbox, Output, PendingJoins, PlayerIds, Removed, Settings, SpawnRng, TickEvents,
};
use crate::link::{Close, CloseCode, ConnId, Inbound, Link};
use skirmish_shared::Input;

/// Drains the joins and leaves the network sent since the last tick. Never blocks.
pub fn receive(world: &mut World) {
    // Bounded per tick so a burst can't stall the tick indefinitely; the rest waits.
    const MAX_MESSAGES_PER_TICK: usize = 1 << 16;
    for _ in 0..MAX_MESSAGES_PER_TICK {
        let Ok(msg) = world.resource::<Inbox>().0.try_recv() else { break };
        match msg {
            Inbound::Join { conn, name, link, inputs } => join(world, conn, name, link, inputs),
            Inbound::Leave { conn } => leave(world, conn),
        }
    }
}

fn join(
    world: &mut World,
    conn: ConnId,
    name: Option<String>,
    link: Link,
    inputs: crossbeam_channel::Receiver<Input>,
) {
    let settings = world.resource::<Settings>();
    let (rules, max_players) = (settings.rules.clone(), settings.max_players);
    let clients = world.resource::<Clients>();
    if clients.by_conn.contains_key(&conn) {
        link.closer.close(Close::new(CloseCode::Policy, "already joined"));
        return;
    }
    if clients.by_conn.len() >= max_players {
        link.closer.close(Close::new(CloseCode::TryAgainLater, "server full"));
        return;
    }
    let id = world.resource_mut::<PlayerIds>().allocate();
    let (x, y) = spawn_point(&mut world.resource_mut::<SpawnRng>().0, &rules);
    let name = name.unwrap_or_else(|| format!("player-{id}"));
    info!(conn, player = id, %name, "player joined");
    let entity = world
        .spawn((
            Player { id, conn, name },
            Position { x, y },
            Health { hp: rules.max_hp.min(i32::MAX as u32) as i32, last_hit_by: 0, died_at: None },
            Controls::new(inputs),
            AttackCooldown::default(),
            Replicated::default(),
        ))
        .id();
    world.resource_mut::<TickEvents>().0.push(Event::Joined { id });
    world.resource_mut::<Clients>().by_conn.insert(conn, (entity, id));
    world.resource_mut::<PendingJoins>().0.push((conn, id, link));
}

/// Removes a connection's player from the world.
pub fn leave(world: &mut World, conn: ConnId) {
    let Some((entity, player)) = world.resource_mut::<Clients>().by_conn.remove(&conn) else {
        return;
    };
    let sent = world.get::<Replicated>(entity).is_some_and(|r| r.sent);
    world.despawn(entity);
    info!(conn, player, "player left");
    world.resource_mut::<TickEvents>().0.push(Event::Left { id: player });
    if sent {
        world.resource_mut::<Removed>().0.push(player);
    }
    // A join and leave in the same tick: no welcome.
    world.resource_mut::<PendingJoins>().0.retain(|(c, ..)| *c != conn);
    world.resource_mut::<Output>().0.left.push(conn);
}

/// A random point in the spawn square, in subunits (the tutorial's `randint(0, 100)` per
/// axis, in whole units).
pub fn spawn_point(rng: &mut fastrand::Rng, rules: &Rules) -> (i32, i32) {
    let mut axis = || rng.u32(rules.spawn_min..=rules.spawn_max) as i32 * SUBUNITS;
    (axis(), axis())
}

/// Takes this tick's inputs from each player's channel: one, or two when two are waiting, so
/// inputs that bunched up in the network catch up at once instead of becoming a standing
/// delay of a tick.
/// Every player whose ack moved is listed in the tick's output.
pub fn apply_inputs(mut output: ResMut<Output>, mut players: Query<(&Player, &mut Controls)>) {
    for (player, mut c) in &mut players {
        let waiting = c.pending.len();
        if waiting == 0 && c.move_count == 0 && !c.attack {
            continue; // idle: don't even mark the component changed
        }
        let c = &mut *c;
        let take = waiting.min(MAX_MOVES_PER_TICK);
        c.move_count = 0;
        c.attack = false;
        for _ in 0..take {
            let Ok(input) = c.pending.try_recv() else { break };
            c.moves[usize::from(c.move_count)] = input.dir;
            c.move_count += 1;
            c.attack |= input.attack;
            c.acked = input.seq;
        }
        if take > 0 {
            output.0.acks.push((player.conn, c.acked));
        }
    }
}
