//! The last system of a tick: turn what changed into bytes once, and hand them to every
//! client without waiting.
//!
//! Each tick's body (spawned, changed, removed, events) is encoded once into one `Bytes`
//! that every up-to-date client shares; per client there is only a head of a few bytes (tag,
//! tick, its ack). A keyframe (the whole world) is encoded at most once per tick, and only if
//! some client joined or fell behind. A client whose queue is full misses that frame and gets
//! the next keyframe instead; one full for too long is disconnected. Ticks with nothing in
//! them are not sent at all (unless the client's ack moved).

use bevy_ecs::prelude::{Entity, Local, Query, Res, ResMut};
use bytes::Bytes;
use skirmish_shared::codec::{
    write_entity, write_frame_header, write_keyframe_header, write_welcome_header,
};
use skirmish_shared::wire::write_array_len;
use skirmish_shared::{Change, FrameBodyWriter, PlayerId};
use tracing::{debug, warn};

use super::components::{Controls, Health, Player, Position, Replicated};
use super::state::{Clients, Clock, Removed, Settings, TickEvents};
use crate::link::{Close, CloseCode, Delivery, Head, Outgoing};

/// Buffers reused from tick to tick.
#[derive(Debug, Default)]
pub struct SnapshotScratch {
    body: FrameBodyWriter,
    changes: Vec<Change>,
    order: Vec<(PlayerId, Entity)>,
    head: Vec<u8>,
}

/// What one tick sent, for the tick loop's statistics and for tests.
#[derive(Debug, Default, Clone, Copy, bevy_ecs::prelude::Resource)]
pub struct SnapshotStats {
    /// Bytes of the shared body this tick (0 when nothing happened).
    pub body_bytes: usize,
    /// Entities whose fields changed.
    pub changed: usize,
    /// Messages queued to clients.
    pub sent: usize,
    /// Clients that missed this tick's frame because their queue was full.
    pub behind: usize,
}

/// Encodes this tick and queues it to every client.
#[allow(clippy::too_many_arguments)]
pub fn snapshot(
    clock: Res<Clock>,
    settings: Res<Settings>,
    mut clients: ResMut<Clients>,
    mut events: ResMut<TickEvents>,
    mut removed: ResMut<Removed>,
    mut stats: ResMut<SnapshotStats>,
    mut scratch: Local<SnapshotScratch>,
    mut players: Query<(Entity, &Player, &Position, &Health, &mut Replicated)>,
    controls: Query<&Controls>,
) {
    let tick = clock.tick;
    let SnapshotScratch {
        body,
        changes,
        order,
        head,
    } = &mut *scratch;
    body.clear();
    changes.clear();

    for (_, player, pos, health, mut rep) in &mut players {
        if !rep.sent {
            body.spawn(player.id, &player.name, pos.x, pos.y, health.hp);
            *rep = Replicated {
                sent: true,
                x: pos.x,
                y: pos.y,
                hp: health.hp,
            };
            continue;
        }
        let change = Change {
            id: player.id,
            dx: (pos.x != rep.x).then(|| pos.x - rep.x),
            dy: (pos.y != rep.y).then(|| pos.y - rep.y),
            hp: (health.hp != rep.hp).then_some(health.hp),
        };
        if change.dx.is_some() || change.dy.is_some() || change.hp.is_some() {
            changes.push(change);
            // Written through `Mut` only on change, so untouched players stay untouched.
            *rep = Replicated {
                sent: true,
                x: pos.x,
                y: pos.y,
                hp: health.hp,
            };
        }
    }
    // Entities iterate in spawn order, which is id order until a despawn swaps rows.
    if !changes.is_sorted_by_key(|c| c.id) {
        changes.sort_unstable_by_key(|c| c.id);
    }
    for c in changes.iter() {
        body.change(c);
    }
    for &id in &removed.0 {
        body.remove(id);
    }
    for e in &events.0 {
        body.event(e);
    }
    events.0.clear();
    removed.0.clear();

    let frame_body = if body.is_empty() {
        None
    } else {
        let mut bytes = Vec::new();
        body.finish(&mut bytes);
        Some(Bytes::from(bytes))
    };

    let wants_keyframe = clients
        .by_conn
        .values()
        .any(|c| !c.welcomed || c.needs_keyframe);
    let keyframe_body = wants_keyframe.then(|| {
        order.clear();
        order.extend(players.iter().map(|(e, p, ..)| (p.id, e)));
        order.sort_unstable_by_key(|&(id, _)| id);
        let mut bytes = Vec::with_capacity(order.len() * 16 + 5);
        write_array_len(&mut bytes, u32::try_from(order.len()).unwrap_or(u32::MAX));
        for &(_, e) in order.iter() {
            if let Ok((_, p, pos, h, _)) = players.get(e) {
                write_entity(&mut bytes, p.id, &p.name, pos.x, pos.y, h.hp);
            }
        }
        Bytes::from(bytes)
    });

    let mut sent = 0;
    let mut behind = 0;
    let stall_limit = settings.stall_ticks;
    for (&conn, client) in clients.by_conn.iter_mut() {
        if client.stalled_ticks > stall_limit {
            continue; // already told to close; its leave is on the way
        }
        let ack = controls.get(client.entity).map_or(0, |c| c.acked);
        let msg = match (&keyframe_body, &frame_body) {
            (Some(kf), _) if !client.welcomed => {
                let mut welcome = Vec::with_capacity(256);
                write_welcome_header(
                    &mut welcome,
                    client.player,
                    settings.tick_rate,
                    &settings.rules,
                    tick,
                );
                // The keyframe body is shared; only the header is this player's.
                Outgoing::Welcome {
                    head: Bytes::from(welcome),
                    body: kf.clone(),
                }
            }
            (Some(kf), _) if client.needs_keyframe => {
                head.clear();
                write_keyframe_header(head, tick, ack);
                shared(head, kf)
            }
            (_, Some(fb)) => {
                head.clear();
                write_frame_header(head, tick, ack);
                shared(head, fb)
            }
            (_, None) if ack != client.last_ack_sent => {
                head.clear();
                write_frame_header(head, tick, ack);
                shared(head, &Bytes::from_static(EMPTY_BODY))
            }
            _ => continue,
        };
        match client.link.offer(msg) {
            Delivery::Queued => {
                sent += 1;
                client.welcomed = true;
                client.needs_keyframe = false;
                client.last_ack_sent = ack;
                client.stalled_ticks = 0;
            }
            Delivery::Full => {
                behind += 1;
                client.needs_keyframe = true;
                client.stalled_ticks += 1;
                if client.stalled_ticks > stall_limit {
                    warn!(
                        conn,
                        player = client.player,
                        ticks = client.stalled_ticks,
                        "client stalled, disconnecting"
                    );
                    client
                        .link
                        .closer
                        .close(Close::new(CloseCode::Policy, "too slow: stopped reading"));
                } else {
                    debug!(conn, player = client.player, "client behind, keyframe next");
                }
            }
            Delivery::Gone => {}
        }
    }
    *stats = SnapshotStats {
        body_bytes: frame_body.as_ref().map_or(0, Bytes::len),
        changed: changes.len(),
        sent,
        behind,
    };
}

/// Four empty arrays: the body of a frame that only carries a new ack.
const EMPTY_BODY: &[u8] = &[0x90, 0x90, 0x90, 0x90];

fn shared(head: &[u8], body: &Bytes) -> Outgoing {
    // The header is at most 16 bytes by construction (fixarray, tag, u64, u32).
    let head = Head::new(head).unwrap_or_else(|| unreachable!("frame header over 16 bytes"));
    Outgoing::Shared {
        head,
        body: body.clone(),
    }
}
