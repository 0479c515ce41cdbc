//! The last system of a tick: turn what changed into bytes, once.
//!
//! The tick's body (spawned, changed, removed, events) is encoded once into one `Bytes` that
//! every up-to-date client shares. The whole world (a keyframe) is encoded at most once per
//! tick, and only when someone joined or the fan-out asked for one because a client fell
//! behind. Nothing here is per client but the welcome header of a player that just joined;
//! sending is the fan-out's job (`net::fanout`), off this thread.
//!
//! With a view radius the tick is encoded per view cell instead ([`crate::view::ViewTick`]),
//! and each client's frame is put together from the cells it sees.

use std::sync::atomic::Ordering;

use bevy_ecs::prelude::{Entity, Local, Query, Res, ResMut};
use bytes::Bytes;
use skirmish_shared::codec::{write_entity, write_welcome_header};
use skirmish_shared::wire::write_array_len;
use skirmish_shared::{Change, FrameBodyWriter, PlayerId, WelcomeHead};

use super::components::{Health, Player, Position, Replicated, Scoreboard};
use super::state::{Clock, History, KeyframeRequest, News, Output, Settings, TickNews};
use crate::link::Welcomed;
use crate::view::ViewBuilder;
use crate::view::tick::{Seen, TickFacts};

/// Buffers reused from tick to tick.
#[derive(Debug, Default)]
pub struct SnapshotScratch {
    body: FrameBodyWriter,
    changes: Vec<Change>,
    order: Vec<(PlayerId, Entity)>,
    views: ViewBuilder,
    welcomed: Vec<u32>,
}

/// Encodes this tick into the tick's [`Output`].
#[allow(clippy::too_many_arguments)]
pub fn snapshot(
    clock: Res<Clock>,
    settings: Res<Settings>,
    keyframe_request: Res<KeyframeRequest>,
    mut news: ResMut<TickNews>,
    mut output: ResMut<Output>,
    mut history: ResMut<History>,
    mut scratch: Local<SnapshotScratch>,
    mut players: Query<(Entity, &Player, &Position, &Health, &Scoreboard, &mut Replicated)>,
) {
    let tick = clock.tick;
    let News { events, removed, joins } = &mut **news;
    let SnapshotScratch { body, changes, order, views, welcomed } = &mut *scratch;
    body.clear();
    changes.clear();
    let grid = settings.grid;
    let asked = keyframe_request.0.swap(false, Ordering::AcqRel);
    // With a view radius, every player as the view builder takes it (sized once per tick).
    let mut seen: Vec<Seen<'_>> =
        Vec::with_capacity(if grid.is_some() { players.iter().len() } else { 0 });

    for (_, player, pos, health, score, mut rep) in &mut players {
        let to = grid.map_or(0, |g| g.cell(pos.x, pos.y));
        if !rep.sent {
            if grid.is_none() {
                body.spawn(player.id, &player.name, (pos.x, pos.y), health.hp, score.0);
            } else {
                let change = Change { id: player.id, dx: None, dy: None, hp: None };
                seen.push(seen_now(player, pos, health, score, None, to, change));
            }
            *rep = Replicated { sent: true, x: pos.x, y: pos.y, hp: health.hp, cell: to };
            continue;
        }
        let change = Change {
            id: player.id,
            dx: (pos.x != rep.x).then(|| pos.x - rep.x),
            dy: (pos.y != rep.y).then(|| pos.y - rep.y),
            hp: (health.hp != rep.hp).then_some(health.hp),
        };
        if grid.is_some() {
            seen.push(seen_now(player, pos, health, score, Some(rep.cell), to, change));
        }
        if change.dx.is_some() || change.dy.is_some() || change.hp.is_some() {
            changes.push(change);
            // Written through `Mut` only on change, so untouched players stay untouched.
            *rep = Replicated { sent: true, x: pos.x, y: pos.y, hp: health.hp, cell: to };
        }
    }
    // Entities iterate in spawn order, which is id order until a despawn swaps rows.
    if !changes.is_sorted_by_key(|c| c.id) {
        changes.sort_unstable_by_key(|c| c.id);
    }
    let out = &mut output.0;
    out.tick = tick;
    if let Some(grid) = grid {
        if !seen.is_sorted_by_key(|s| s.id) {
            seen.sort_unstable_by_key(|s| s.id);
        }
        welcomed.clear();
        for join in joins.iter() {
            if let Ok(i) = seen.binary_search_by_key(&join.player, |s| s.id) {
                welcomed.push(seen[i].to);
            }
        }
        let facts = TickFacts { events, removed, welcomed, keyframe: asked };
        out.views = Some(Box::new(views.build(grid, &seen, facts)));
    } else {
        for c in changes.iter() {
            body.change(c);
        }
        for &(id, _) in removed.iter() {
            body.remove(id);
        }
        for e in events.iter() {
            body.event(e);
        }
        out.body = (!body.is_empty()).then(|| {
            let mut bytes = Vec::new();
            body.finish(&mut bytes);
            Bytes::from(bytes)
        });
    }
    drop(seen);
    // Kept for rewinding attacks; `changes` comes back empty (the oldest tick's list).
    history.record(tick, changes);
    events.clear();
    removed.clear();

    if grid.is_none() && (asked || !joins.is_empty()) {
        order.clear();
        order.extend(players.iter().map(|(e, p, ..)| (p.id, e)));
        order.sort_unstable_by_key(|&(id, _)| id);
        let mut bytes = Vec::with_capacity(order.len() * 24 + 5);
        write_array_len(&mut bytes, u32::try_from(order.len()).unwrap_or(u32::MAX));
        for &(_, e) in order.iter() {
            if let Ok((_, p, pos, h, score, _)) = players.get(e) {
                write_entity(&mut bytes, p.id, &p.name, (pos.x, pos.y), h.hp, score.0);
            }
        }
        out.keyframe = Some(Bytes::from(bytes));
    }
    for join in joins.drain(..) {
        let mut head = Vec::with_capacity(256);
        let welcome = WelcomeHead {
            player_id: join.player,
            tick_rate: settings.tick_rate,
            rules: &settings.rules_encoded,
            token: &join.token,
            resumed: join.resumed,
            room: &settings.room,
            tick,
        };
        write_welcome_header(&mut head, &welcome);
        out.welcomed.push(Welcomed {
            conn: join.conn,
            player: join.player,
            head: Bytes::from(head),
        });
    }
}

/// One player as the view builder takes it.
fn seen_now<'a>(
    player: &'a Player,
    pos: &Position,
    health: &Health,
    score: &Scoreboard,
    from: Option<u32>,
    to: u32,
    change: Change,
) -> Seen<'a> {
    Seen {
        id: player.id,
        name: &player.name,
        pos: (pos.x, pos.y),
        hp: health.hp,
        score: score.0,
        from,
        to,
        change,
    }
}
