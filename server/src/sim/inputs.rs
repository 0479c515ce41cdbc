//! The first two systems of a tick: drain the network's joins and leaves, then take each
//! player's inputs for this tick from its connection's slot on the input board.

use bevy_ecs::entity::Entity;
use bevy_ecs::prelude::{Query, Res, ResMut, World};
use skirmish_shared::{Event, ResumeToken, Rules, SUBUNITS};
use tracing::info;

use super::components::{
    AttackCooldown, Controls, Health, Player, Position, Replicated, Scoreboard,
};
use super::state::{
    Clock, Inbox, InputDelays, Names, Output, PendingJoin, PlayerEntities, Seats, Settings,
    SpawnRng, TickNews,
};
use crate::link::{ConnId, Disconnect, DisconnectReason, Inbound, Route};
use crate::session::{Detached, Refusal, Session};

/// Drains the joins and leaves the network sent since the last tick, then lets go of the
/// disconnected players whose grace window is over. Never blocks.
pub fn receive(world: &mut World) {
    // Bounded per tick so a burst can't stall the tick indefinitely; the rest waits.
    const MAX_MESSAGES_PER_TICK: usize = 1 << 16;
    for _ in 0..MAX_MESSAGES_PER_TICK {
        let Ok(msg) = world.resource::<Inbox>().0.try_recv() else { break };
        match msg {
            Inbound::Join { conn, name, route, resume, new_token } => {
                // Every join holds a seat the registry reserved: kept by a new player, given
                // back by a resume or a refusal.
                let resumed = resume.is_some_and(|t| try_resume(world, conn, &route, t));
                if resumed {
                    world.resource_mut::<Output>().0.seats_released += 1;
                } else if let Err(refusal) = join(world, conn, name, &route, new_token) {
                    let reason = match refusal {
                        Refusal::AlreadyJoined => DisconnectReason::AlreadyJoined,
                        Refusal::Full => DisconnectReason::RoomFull,
                    };
                    let out = &mut world.resource_mut::<Output>().0;
                    out.disconnects.push(Disconnect { conn, reason });
                    out.seats_released += 1;
                }
            }
            Inbound::Leave { conn, for_good } => leave(world, conn, for_good),
        }
    }
    expire_sessions(world);
}

/// Gives a connection the player of `token`, if that player is still in the room; a
/// connection still playing it is taken over.
fn try_resume(world: &mut World, conn: ConnId, route: &Route, token: ResumeToken) -> bool {
    let mut seats = world.resource_mut::<Seats>();
    let Some(r) = seats.sessions.resume(conn, &token) else { return false };
    // The new connection's inputs start afresh (its acks count from its own first input);
    // the old connection's route stops working.
    seats.board.bind(r.session.seat, route);
    let Session { player, entity, .. } = r.session;
    let mut out = world.resource_mut::<Output>();
    if let Some(old) = r.taken_over {
        out.0.disconnects.push(Disconnect { conn: old, reason: DisconnectReason::TakenOver });
        out.0.detached.push((old, player));
    }
    if let Some(mut c) = world.get_mut::<Controls>(entity) {
        c.acked = 0;
    }
    info!(conn, player, "player resumed");
    world.resource_mut::<TickNews>().joins.push(PendingJoin { conn, player, token, resumed: true });
    true
}

fn join(
    world: &mut World,
    conn: ConnId,
    name: Option<String>,
    route: &Route,
    token: ResumeToken,
) -> Result<(), Refusal> {
    let seat = match world.resource_mut::<Seats>().sessions.reserve_seat(conn) {
        Err(Refusal::Full) => {
            // Players nobody resumed hold at most their share of a full room.
            let evicted = world.resource_mut::<Seats>().sessions.evict_waiting();
            let Some((token, session)) = evicted else { return Err(Refusal::Full) };
            info!(player = session.player, "waiting player gives its seat to a new one");
            remove_player(world, token, session);
            world.resource_mut::<Seats>().sessions.reserve_seat(conn)?
        }
        other => other?,
    };
    let rules = world.resource::<Settings>().rules.clone();
    let id = world.resource_mut::<PlayerEntities>().ids.allocate();
    let (x, y) = spawn_point(&mut world.resource_mut::<SpawnRng>().0, &rules);
    let wanted = name.unwrap_or_else(|| format!("player-{id}"));
    // Names are unique in a room: a taken one gets a number.
    let name = world.resource_mut::<Names>().claim(&wanted);
    info!(conn, player = id, %name, "player joined");
    let entity = world
        .spawn((
            Player { id, name },
            Position { x, y },
            Health { hp: rules.max_hp.min(i32::MAX as u32) as i32, last_hit_by: 0, died_at: None },
            Scoreboard::default(),
            Controls::new(seat),
            AttackCooldown::default(),
            Replicated::default(),
        ))
        .id();
    world.resource_mut::<PlayerEntities>().by_id.insert(id, entity);
    let mut seats = world.resource_mut::<Seats>();
    seats.sessions.bind_new(conn, token, id, entity, seat);
    seats.board.bind(seat, route);
    world.resource_mut::<TickNews>().events.push(Event::Joined { id });
    world.resource_mut::<Output>().0.tokens_added.push(token);
    world.resource_mut::<TickNews>().joins.push(PendingJoin {
        conn,
        player: id,
        token,
        resumed: false,
    });
    Ok(())
}

/// A connection is gone. Its player stays in the world, idle, for the grace window, so the
/// client can come back to it; with no grace window it leaves at once. When the client said
/// it is leaving for good, the window is the short leave grace: a page reload (which sends
/// the leave as the old page goes) gets the player back, a closed page's player goes within
/// it.
pub fn leave(world: &mut World, conn: ConnId, for_good: bool) {
    let now = world.resource::<Clock>().tick;
    let settings = world.resource::<Settings>();
    let grace = if for_good { settings.leave_grace_ticks } else { settings.resume_grace_ticks };
    let mut seats = world.resource_mut::<Seats>();
    // Never joined, refused, or already taken over by a newer connection: nothing to do.
    let Some(detached) = seats.sessions.detach(conn, now, grace) else { return };
    let session = match detached {
        Detached::Waiting { session, .. } | Detached::Removed { session, .. } => session,
    };
    // Nothing more from this connection reaches the player.
    seats.board.unbind(session.seat);
    world.resource_mut::<Output>().0.detached.push((conn, session.player));
    // A join and leave in the same tick: no welcome.
    world.resource_mut::<TickNews>().joins.retain(|j| j.conn != conn);
    match detached {
        Detached::Removed { session, token } => remove_player(world, token, session),
        Detached::Waiting { until, .. } => {
            info!(conn, player = session.player, until, "connection lost, player kept for resume");
        }
    }
}

/// Removes the players whose grace window ended without a resume.
fn expire_sessions(world: &mut World) {
    let now = world.resource::<Clock>().tick;
    let mut gone = Vec::new();
    world.resource_mut::<Seats>().sessions.expire(now, |token, s| gone.push((token, s)));
    for (token, session) in gone {
        remove_player(world, token, session);
    }
}

/// Takes a player out of the world for good (the session core already let it go): everyone
/// is told it left, and its seat goes back to the registry.
fn remove_player(world: &mut World, token: ResumeToken, session: Session<Entity>) {
    let known = world.get::<Replicated>(session.entity).filter(|r| r.sent).map(|r| r.cell);
    if let Some(name) = world.get::<Player>(session.entity).map(|p| p.name.clone()) {
        world.resource_mut::<Names>().release(&name);
    }
    world.despawn(session.entity);
    world.resource_mut::<PlayerEntities>().by_id.remove(&session.player);
    info!(player = session.player, "player left");
    world.resource_mut::<TickNews>().events.push(Event::Left { id: session.player });
    if let Some(cell) = known {
        world.resource_mut::<TickNews>().removed.push((session.player, cell));
    }
    let out = &mut world.resource_mut::<Output>().0;
    out.tokens_removed.push(token);
    out.seats_released += 1;
}

/// A random point in the spawn square, in subunits (the tutorial's `randint(0, 100)` per
/// axis, in whole units).
pub fn spawn_point(rng: &mut fastrand::Rng, rules: &Rules) -> (i32, i32) {
    let mut axis = || rng.u32(rules.spawn_min..=rules.spawn_max) as i32 * SUBUNITS;
    (axis(), axis())
}

/// How many ticks before `tick` an attack is resolved, given the low 16 bits of the tick its
/// client was showing (0: not said): the tick back, at most `max` ("never further back"),
/// 0 for a tick not in the past.
pub fn rewind_ticks(tick: u64, shown: u16, max: u64) -> u8 {
    if shown == 0 || max == 0 {
        return 0;
    }
    let back = u64::from((tick as u16).wrapping_sub(shown));
    if back == 0 || back > 32_768 {
        return 0; // now, or ahead of the server (not a tick it sent)
    }
    back.min(max).min(u64::from(u8::MAX)) as u8
}

/// One seat in this many has its inputs' waits recorded each tick.
pub const DELAY_SAMPLE: u32 = 8;

/// Takes this tick's step from each player's de-jitter buffer ([`crate::link::InputBoard`]):
/// one input a tick, or a repeat of the last direction while a streaming client's input is
/// late (not an applied input: no ack). Every player whose ack moved is listed in the tick's
/// output. The wait of each applied input from its arrival to this tick, and the depth of its
/// buffer, are recorded for one seat in [`DELAY_SAMPLE`] (a different eighth each tick, so
/// every player is sampled in turn): a histogram entry per input would cost ~10% of a
/// 10k-player tick. Repeats and trims are counted for every seat.
pub fn apply_inputs(
    clock: Res<Clock>,
    settings: Res<Settings>,
    seats: Res<Seats>,
    mut output: ResMut<Output>,
    mut stats: ResMut<InputDelays>,
    mut players: Query<(&Player, &mut Controls)>,
) {
    let board = &seats.board;
    let now = board.now();
    let max_rewind = settings.max_rewind_ticks;
    let phase = (clock.tick % u64::from(DELAY_SAMPLE)) as u32;
    let stats = &mut *stats;
    for (player, mut c) in &mut players {
        let t = board.take_at(c.slot, now);
        if t.step.is_none() && t.ack.is_none() && c.move_count == 0 && !c.attack {
            continue; // idle: don't even mark the component changed
        }
        let c = &mut *c;
        c.move_count = u8::from(t.step.is_some());
        c.moves[0] = t.step.unwrap_or_default();
        c.attack = t.attack;
        c.rewind = if t.attack { rewind_ticks(clock.tick, t.shown, max_rewind) } else { 0 };
        stats.repeats += u64::from(t.repeated);
        stats.trimmed += u64::from(t.trimmed);
        if c.slot % DELAY_SAMPLE == phase {
            stats.depth_sum += u64::from(t.depth);
            stats.depth_samples += 1;
            if let Some(arrived) = t.arrived {
                stats.record_units(now.wrapping_sub(arrived));
            }
        }
        if let Some(seq) = t.ack {
            c.acked = seq;
            output.0.acks.push((player.id, seq));
        }
    }
}
