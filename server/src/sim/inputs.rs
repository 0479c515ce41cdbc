//! The first two systems of a tick: drain the network's joins and leaves, then take each
//! player's inputs for this tick from its connection's slot on the input board.

use bevy_ecs::prelude::{Query, Res, ResMut, World};
use skirmish_shared::{Event, Rules, SUBUNITS};
use tracing::info;

use super::components::{
    AttackCooldown, Controls, Health, MAX_MOVES_PER_TICK, Player, Position, Replicated,
};
use super::state::{
    Clients, Clock, Inbox, InputSlots, Output, PendingJoin, PendingJoins, PlayerIds, Removed,
    Session, Sessions, Settings, SpawnRng, TickEvents,
};
use crate::link::{Close, CloseCode, ConnId, Inbound, Link, NO_SLOT};
use skirmish_shared::{Input, ResumeToken};

/// Drains the joins and leaves the network sent since the last tick, then lets go of the
/// disconnected players whose grace window is over. Never blocks.
pub fn receive(world: &mut World) {
    // Bounded per tick so a burst can't stall the tick indefinitely; the rest waits.
    const MAX_MESSAGES_PER_TICK: usize = 1 << 16;
    for _ in 0..MAX_MESSAGES_PER_TICK {
        let Ok(msg) = world.resource::<Inbox>().0.try_recv() else { break };
        match msg {
            Inbound::Join { conn, name, link, route, resume, new_token } => {
                // Before anything is allocated for it: a connection joins once.
                if world.resource::<Clients>().by_conn.contains_key(&conn) {
                    link.closer.close(Close::new(CloseCode::Policy, "already joined"));
                    continue;
                }
                let Some(slot) = world.resource_mut::<InputSlots>().allocate(conn) else {
                    link.closer.close(Close::new(CloseCode::TryAgainLater, "server full"));
                    continue;
                };
                route.set(slot);
                let resumed = resume.is_some_and(|t| try_resume(world, conn, &link, slot, t));
                if !resumed && !join(world, conn, name, link, slot, new_token) {
                    world.resource_mut::<InputSlots>().release(conn);
                }
            }
            Inbound::Leave { conn } => leave(world, conn),
        }
    }
    expire_sessions(world);
}

/// Gives a connection the player of `token`, if that player is still in the world.
fn try_resume(world: &mut World, conn: ConnId, link: &Link, slot: u32, token: ResumeToken) -> bool {
    let Some(session) = world.resource::<Sessions>().by_token.get(&token).copied() else {
        return false;
    };
    if world.get::<Player>(session.entity).is_none() {
        return false;
    }
    if let Some(old) = session.conn {
        // One token, one live connection: the newer one wins.
        world.resource_mut::<Clients>().by_conn.remove(&old);
        let close =
            Close::new(CloseCode::SessionTakenOver, "session taken over by a newer connection");
        world.resource_mut::<Output>().0.kicked.push((old, close));
    }
    let (entity, player) = (session.entity, session.player);
    if let Some(s) = world.resource_mut::<Sessions>().by_token.get_mut(&token) {
        s.conn = Some(conn);
        s.expires_at = None;
    }
    world.resource_mut::<Clients>().by_conn.insert(conn, token);
    if let Some(mut p) = world.get_mut::<Player>(entity) {
        p.conn = conn;
    }
    // The new connection's inputs start afresh (its acks count from its own first input).
    if let Some(mut c) = world.get_mut::<Controls>(entity) {
        *c = Controls::new(slot);
    }
    info!(conn, player, "player resumed");
    world.resource_mut::<PendingJoins>().0.push(PendingJoin {
        conn,
        player,
        link: link.clone(),
        token,
        resumed: true,
    });
    true
}

fn join(
    world: &mut World,
    conn: ConnId,
    name: Option<String>,
    link: Link,
    slot: u32,
    token: ResumeToken,
) -> bool {
    let settings = world.resource::<Settings>();
    let (rules, max_players) = (settings.rules.clone(), settings.max_players);
    // Disconnected players waiting to be resumed still hold their place.
    if world.resource::<Sessions>().by_token.len() >= max_players {
        link.closer.close(Close::new(CloseCode::TryAgainLater, "server full"));
        return false;
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
            Controls::new(slot),
            AttackCooldown::default(),
            Replicated::default(),
        ))
        .id();
    world.resource_mut::<TickEvents>().0.push(Event::Joined { id });
    world.resource_mut::<Clients>().by_conn.insert(conn, token);
    world
        .resource_mut::<Sessions>()
        .by_token
        .insert(token, Session { entity, player: id, conn: Some(conn), expires_at: None });
    world.resource_mut::<PendingJoins>().0.push(PendingJoin {
        conn,
        player: id,
        link,
        token,
        resumed: false,
    });
    true
}

/// A connection is gone. Its player stays in the world, idle, for the grace window, so the
/// client can come back to it; with no grace window it leaves at once.
pub fn leave(world: &mut World, conn: ConnId) {
    // The reader has ended: its input slot can go to a new connection.
    world.resource_mut::<InputSlots>().release(conn);
    let Some(token) = world.resource_mut::<Clients>().by_conn.remove(&conn) else {
        return; // never joined, refused, or already taken over by a newer connection
    };
    let Some(session) = world.resource::<Sessions>().by_token.get(&token).copied() else {
        return;
    };
    world.resource_mut::<Output>().0.left.push(conn);
    // The slot goes back to the board for the next connection: this player, waiting to be
    // resumed, must not read it any more.
    if let Some(mut c) = world.get_mut::<Controls>(session.entity) {
        *c = Controls::new(NO_SLOT);
    }
    // A join and leave in the same tick: no welcome.
    world.resource_mut::<PendingJoins>().0.retain(|j| j.conn != conn);
    let grace = world.resource::<Settings>().resume_grace_ticks;
    if grace == 0 {
        remove_player(world, token);
        return;
    }
    let expires_at = world.resource::<Clock>().tick + grace;
    let mut sessions = world.resource_mut::<Sessions>();
    if let Some(s) = sessions.by_token.get_mut(&token) {
        s.conn = None;
        s.expires_at = Some(expires_at);
        sessions.expiring.push_back((expires_at, token));
    }
    info!(
        conn,
        player = session.player,
        grace_ticks = grace,
        "connection lost, player kept for resume"
    );
}

/// Removes the players whose grace window ended without a resume.
fn expire_sessions(world: &mut World) {
    let now = world.resource::<Clock>().tick;
    loop {
        let mut sessions = world.resource_mut::<Sessions>();
        let Some(&(at, token)) = sessions.expiring.front() else { break };
        if at > now {
            break;
        }
        sessions.expiring.pop_front();
        let still_gone = sessions.by_token.get(&token).is_some_and(|s| s.expires_at == Some(at));
        if still_gone {
            remove_player(world, token);
        }
    }
}

/// Takes a player out of the world for good: everyone is told it left.
fn remove_player(world: &mut World, token: ResumeToken) {
    let Some(session) = world.resource_mut::<Sessions>().by_token.remove(&token) else { return };
    let sent = world.get::<Replicated>(session.entity).is_some_and(|r| r.sent);
    world.despawn(session.entity);
    info!(player = session.player, "player left");
    world.resource_mut::<TickEvents>().0.push(Event::Left { id: session.player });
    if sent {
        world.resource_mut::<Removed>().0.push(session.player);
    }
}

/// A random point in the spawn square, in subunits (the tutorial's `randint(0, 100)` per
/// axis, in whole units).
pub fn spawn_point(rng: &mut fastrand::Rng, rules: &Rules) -> (i32, i32) {
    let mut axis = || rng.u32(rules.spawn_min..=rules.spawn_max) as i32 * SUBUNITS;
    (axis(), axis())
}

/// Takes this tick's inputs from each player's slot: one, or two when two are waiting, so
/// inputs that bunched up in the network catch up at once instead of becoming a standing
/// delay of a tick.
/// Every player whose ack moved is listed in the tick's output.
pub fn apply_inputs(
    slots: Res<InputSlots>,
    mut output: ResMut<Output>,
    mut players: Query<(&Player, &mut Controls)>,
) {
    let board = &slots.board;
    let mut taken = [Input::default(); MAX_MOVES_PER_TICK];
    for (player, mut c) in &mut players {
        let n = board.take(c.slot, &mut taken);
        if n == 0 && c.move_count == 0 && !c.attack {
            continue; // idle: don't even mark the component changed
        }
        let c = &mut *c;
        c.move_count = 0;
        c.attack = false;
        for input in &taken[..n] {
            c.moves[usize::from(c.move_count)] = input.dir;
            c.move_count += 1;
            c.attack |= input.attack;
            c.acked = input.seq;
        }
        if n > 0 {
            output.0.acks.push((player.conn, c.acked));
        }
    }
}
