//! Encoding and decoding of every message: MessagePack arrays whose first element is the
//! message tag. See `docs/protocol.md` for the layout with example bytes.
//!
//! Frames are built by [`FrameBodyWriter`]: the server encodes a tick's body once and shares
//! it; only the three-value header ([`write_frame_header`]: tag, tick, ack) is per client.
//! Changes are a flat integer array: per entity one head `(id gap << 3) | field mask`, then
//! only the changed fields, positions as deltas. With ids close together that is one byte of
//! head plus one per moved axis.

use crate::protocol::{
    Change, ClientMsg, Direction, EntityState, Event, Frame, Input, InputError, InputTiming,
    Keyframe, PROTOCOL_VERSION, PlayerId, ResumeToken, Score, ServerMsg, Welcome,
};
use crate::rules::Rules;
use crate::wire::{
    Reader, Sink, write_array_len, write_bin, write_bool, write_f32, write_int, write_nil,
    write_str, write_uint,
};

/// Client → server tags.
mod client_tag {
    pub const JOIN: i64 = 0;
    pub const INPUT: i64 = 1;
    pub const PING: i64 = 2;
    pub const LEAVE: i64 = 3;
}

/// Server → client tags.
mod server_tag {
    pub const WELCOME: u64 = 0;
    pub const FRAME: u64 = 1;
    pub const KEYFRAME: u64 = 2;
    pub const PONG: u64 = 3;
}

/// Event kinds inside a frame's flat event array.
mod event_kind {
    pub const JOINED: i64 = 0;
    pub const LEFT: i64 = 1;
    pub const ATTACKED: i64 = 2;
    pub const KILLED: i64 = 3;
    pub const RESPAWNED: i64 = 4;
}

/// Field mask bits in a change head.
const CHANGED_X: u64 = 1;
const CHANGED_Y: u64 = 2;
const CHANGED_HP: u64 = 4;
const MASK_BITS: u32 = 3;
/// In `changed`, the head that ends a run (gap 0, no field: never a change): the next id is
/// gap-coded from 0 again.
pub const RUN_BREAK: u64 = 0;

/// Why bytes could not be decoded into a message. Small and `Copy`: decoding fails often
/// under attack and must stay cheap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The message ends in the middle of a value.
    #[error("message is truncated")]
    Truncated,
    /// A value of another type was found.
    #[error("expected {0}")]
    Type(&'static str),
    /// A length prefix is larger than the bytes that follow.
    #[error("length prefix exceeds the message")]
    LengthTooLarge,
    /// A string is not valid UTF-8.
    #[error("string is not UTF-8")]
    Utf8,
    /// A number does not fit its field.
    #[error("number out of range")]
    Range,
    /// Bytes follow the message.
    #[error("{0} bytes after the message")]
    TrailingBytes(usize),
    /// The message tag is not one of this protocol's.
    #[error("unknown message tag {0}")]
    UnknownTag(i64),
    /// The message has the wrong number of fields for its tag.
    #[error("message {tag} has {len} fields")]
    Arity {
        /// The message tag.
        tag: i64,
        /// The number of fields found.
        len: usize,
    },
    /// An event kind that is not one of this protocol's.
    #[error("unknown event kind {0}")]
    UnknownEvent(i64),
    /// The input is well-formed but means something not allowed.
    #[error("invalid input: {0}")]
    Input(#[from] InputError),
    /// The welcome's rules map could not be read.
    #[error("rules map is malformed")]
    Rules,
    /// Well-formed MessagePack that is not the structure expected (it says which).
    #[error("malformed: {0}")]
    Malformed(&'static str),
}

impl ClientMsg {
    /// Encodes the message.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24);
        match self {
            ClientMsg::Join { protocol_version, name, resume, room, seat } => {
                // The seat is optional on the wire: left out when there is none.
                write_array_len(&mut out, if seat.is_some() { 6 } else { 5 });
                write_int(&mut out, client_tag::JOIN);
                write_uint(&mut out, u64::from(*protocol_version));
                match name {
                    Some(n) => write_str(&mut out, n),
                    None => write_nil(&mut out),
                }
                match resume {
                    Some(t) => write_bin(&mut out, t),
                    None => write_nil(&mut out),
                }
                match room {
                    Some(r) => write_str(&mut out, r),
                    None => write_nil(&mut out),
                }
                if let Some(seat) = seat {
                    write_str(&mut out, seat);
                }
            }
            ClientMsg::Input(i) => {
                // `seen` and `shown` are optional on the wire: trailing zeros (not said) are
                // left out; `shown` needs `seen` before it.
                let fields = if i.shown != 0 {
                    7
                } else if i.seen != 0 {
                    6
                } else {
                    5
                };
                write_array_len(&mut out, fields);
                write_int(&mut out, client_tag::INPUT);
                write_uint(&mut out, u64::from(i.seq));
                write_f32(&mut out, i.dir.x());
                write_f32(&mut out, i.dir.y());
                write_bool(&mut out, i.attack);
                if fields >= 6 {
                    write_uint(&mut out, i.seen);
                }
                if fields == 7 {
                    write_uint(&mut out, i.shown);
                }
            }
            ClientMsg::Ping { client_time } => {
                write_array_len(&mut out, 2);
                write_int(&mut out, client_tag::PING);
                write_uint(&mut out, u64::from(*client_time));
            }
            ClientMsg::Leave => {
                write_array_len(&mut out, 1);
                write_int(&mut out, client_tag::LEAVE);
            }
        }
        out
    }

    /// Decodes one message that must fill `buf` exactly. Never allocates more than the
    /// message's own size, never recurses, never panics.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        let (tag, len) = open_message(&mut r)?;
        let arity = |want: usize| {
            if len == want { Ok(()) } else { Err(DecodeError::Arity { tag, len }) }
        };
        let msg = match tag {
            client_tag::JOIN => {
                // The version comes first, and a join of another version is not read further
                // (its layout may differ), so that any old or new client hears "wrong
                // version" rather than "malformed".
                if len < 2 {
                    return Err(DecodeError::Arity { tag, len });
                }
                let protocol_version = r.int_as()?;
                if protocol_version != PROTOCOL_VERSION {
                    return Ok(ClientMsg::Join {
                        protocol_version,
                        name: None,
                        resume: None,
                        room: None,
                        seat: None,
                    });
                }
                if len != 6 {
                    arity(5)?;
                }
                let name = if r.nil()? { None } else { Some(r.str()?.to_owned()) };
                let resume = if r.nil()? { None } else { Some(r.bin16()?) };
                // Any string: the room name rule is the server's to apply (and answer).
                let room = if r.nil()? { None } else { Some(r.str()?.to_owned()) };
                // Checked by the server, which holds the key.
                let seat = if len == 6 { Some(r.str()?.to_owned()) } else { None };
                ClientMsg::Join { protocol_version, name, resume, room, seat }
            }
            client_tag::INPUT => {
                if len != 6 && len != 7 {
                    arity(5)?;
                }
                let seq = r.int_as()?;
                let x = r.number()? as f32;
                let y = r.number()? as f32;
                let attack = r.bool()?;
                let seen = if len >= 6 { r.int_as()? } else { 0 };
                let shown = if len == 7 { r.int_as()? } else { 0 };
                r.finish()?;
                let dir = Direction::new(x, y)?;
                return Ok(ClientMsg::Input(Input { seq, dir, attack, seen, shown }));
            }
            client_tag::PING => {
                arity(2)?;
                ClientMsg::Ping { client_time: r.int_as()? }
            }
            client_tag::LEAVE => {
                arity(1)?;
                ClientMsg::Leave
            }
            other => return Err(DecodeError::UnknownTag(other)),
        };
        r.finish()?;
        Ok(msg)
    }
}

/// Reads the start of every message: an array header and the tag. Returns the tag and the
/// number of fields (tag included).
fn open_message(r: &mut Reader<'_>) -> Result<(i64, usize), DecodeError> {
    let len = r.array_len()?;
    if len == 0 {
        return Err(DecodeError::Arity { tag: -1, len });
    }
    Ok((r.int()?, len))
}

/// Appends one entity's full state: `[id, name, x, y, hp, kills, deaths, streak]`.
pub fn write_entity(
    out: &mut Vec<u8>,
    id: PlayerId,
    name: &str,
    (x, y): (i32, i32),
    hp: i32,
    score: Score,
) {
    write_array_len(out, 8);
    write_uint(out, u64::from(id));
    write_str(out, name);
    write_int(out, i64::from(x));
    write_int(out, i64::from(y));
    write_int(out, i64::from(hp));
    write_uint(out, u64::from(score.kills));
    write_uint(out, u64::from(score.deaths));
    write_uint(out, u64::from(score.streak));
}

/// Appends one entity's full state as [`write_entity`] does, to a [`Sink`].
#[inline]
pub fn sink_entity(
    out: &mut Sink,
    id: PlayerId,
    name: &str,
    (x, y): (i32, i32),
    hp: i32,
    score: Score,
) {
    out.raw(&[0x98]); // array of 8
    out.uint(u64::from(id));
    out.str(name);
    out.int(i64::from(x));
    out.int(i64::from(y));
    out.int(i64::from(hp));
    out.uint(u64::from(score.kills));
    out.uint(u64::from(score.deaths));
    out.uint(u64::from(score.streak));
}

/// Appends a frame's header: array of 7, tag, tick, ack. Four body values must follow
/// ([`FrameBodyWriter::finish`]).
pub fn write_frame_header(out: &mut Vec<u8>, tick: u64, ack: u32) {
    write_frame_header_of(out, 7, tick, ack);
}

/// Appends the header of a frame from a server with a view radius: array of 8, tag, tick,
/// ack. Five body values must follow (the fifth: out of view).
pub fn write_view_frame_header(out: &mut Vec<u8>, tick: u64, ack: u32) {
    write_frame_header_of(out, 8, tick, ack);
}

fn write_frame_header_of(out: &mut Vec<u8>, fields: u32, tick: u64, ack: u32) {
    write_array_len(out, fields);
    write_uint(out, server_tag::FRAME);
    write_uint(out, tick);
    write_uint(out, u64::from(ack));
}

/// Appends a keyframe's header: array of 4, tag, tick, ack. One entity array must follow.
pub fn write_keyframe_header(out: &mut Vec<u8>, tick: u64, ack: u32) {
    write_array_len(out, 4);
    write_uint(out, server_tag::KEYFRAME);
    write_uint(out, tick);
    write_uint(out, u64::from(ack));
}

/// What a welcome says besides the keyframe.
#[derive(Debug, Clone, Copy)]
pub struct WelcomeHead<'a> {
    /// The player's id.
    pub player_id: PlayerId,
    /// Ticks per second.
    pub tick_rate: u32,
    /// The rules in force, as [`encode_rules`] wrote them (they never change, so a server
    /// encodes them once, not per welcome).
    pub rules: &'a [u8],
    /// The player's resume token.
    pub token: &'a ResumeToken,
    /// Whether the token presented got this player back.
    pub resumed: bool,
    /// The room the player is in.
    pub room: &'a str,
    /// The keyframe's tick.
    pub tick: u64,
}

/// The rules as the welcome carries them: a MessagePack map with named keys (rare,
/// self-describing, and lets either side add rules later).
pub fn encode_rules(rules: &Rules) -> Vec<u8> {
    let mut out = Vec::with_capacity(192);
    if rmp_serde::encode::write_named(&mut out, rules).is_err() {
        // Writing plain fields into a Vec can't fail; keep the message well-formed anyway.
        out.clear();
        write_nil(&mut out);
    }
    out
}

/// Appends a welcome's header: array of 10, tag, player id, protocol version, tick rate,
/// rules, token, resumed, room, tick. One entity array must follow (the keyframe's).
pub fn write_welcome_header(out: &mut Vec<u8>, w: &WelcomeHead<'_>) {
    let WelcomeHead { player_id, tick_rate, rules, token, resumed, room, tick } = *w;
    write_array_len(out, 10);
    write_uint(out, server_tag::WELCOME);
    write_uint(out, u64::from(player_id));
    write_uint(out, u64::from(PROTOCOL_VERSION));
    write_uint(out, u64::from(tick_rate));
    out.extend_from_slice(rules);
    write_bin(out, token);
    write_bool(out, resumed);
    write_str(out, room);
    write_uint(out, tick);
}

/// Appends one change to a `changed` run whose previous id is `prev` (0 at a run's start):
/// its head, then its fields. Returns the integers written (0 for a change with no field,
/// which writes nothing).
#[inline]
pub fn sink_change(out: &mut Sink, prev: PlayerId, c: &Change) -> u32 {
    let bit = |set: bool, bit: u64| if set { bit } else { 0 };
    let mask = bit(c.dx.is_some(), CHANGED_X)
        | bit(c.dy.is_some(), CHANGED_Y)
        | bit(c.hp.is_some(), CHANGED_HP);
    if mask == 0 {
        return 0;
    }
    let gap = u64::from(c.id.wrapping_sub(prev));
    out.uint((gap << MASK_BITS) | mask);
    if let Some(v) = c.dx {
        out.int(i64::from(v));
    }
    if let Some(v) = c.dy {
        out.int(i64::from(v));
    }
    if let Some(v) = c.hp {
        out.int(i64::from(v));
    }
    1 + mask.count_ones()
}

/// Appends one event to an `events` array: its kind, then its arguments. Returns the
/// integers written.
pub fn sink_event(out: &mut Sink, e: &Event) -> u32 {
    let ints: &[i64] = match *e {
        Event::Joined { id } => &[event_kind::JOINED, i64::from(id)],
        Event::Left { id } => &[event_kind::LEFT, i64::from(id)],
        Event::Attacked { attacker, target, hp } => {
            &[event_kind::ATTACKED, i64::from(attacker), i64::from(target), i64::from(hp)]
        }
        Event::Killed { victim, killer } => {
            &[event_kind::KILLED, i64::from(victim), i64::from(killer)]
        }
        Event::Respawned { id } => &[event_kind::RESPAWNED, i64::from(id)],
    };
    for &v in ints {
        out.int(v);
    }
    ints.len() as u32
}

/// Builds the shared part of a frame: spawned, changed, removed and events, each written as
/// it is produced and joined by [`finish`](Self::finish). Reused tick after tick, so it stops
/// allocating once its buffers have grown.
#[derive(Debug, Default, Clone)]
pub struct FrameBodyWriter {
    spawned: Vec<u8>,
    spawned_len: u32,
    changed: Sink,
    changed_len: u32,
    last_changed: PlayerId,
    removed: Vec<u8>,
    removed_len: u32,
    events: Sink,
    events_len: u32,
}

impl FrameBodyWriter {
    /// Empties the writer for the next tick, keeping its buffers.
    pub fn clear(&mut self) {
        self.spawned.clear();
        self.changed.clear();
        self.removed.clear();
        self.events.clear();
        self.spawned_len = 0;
        self.changed_len = 0;
        self.removed_len = 0;
        self.events_len = 0;
        self.last_changed = 0;
    }

    /// Whether nothing was written since the last clear.
    pub fn is_empty(&self) -> bool {
        self.spawned_len == 0
            && self.changed_len == 0
            && self.removed_len == 0
            && self.events_len == 0
    }

    /// Adds a player new to the client, in full.
    pub fn spawn(&mut self, id: PlayerId, name: &str, pos: (i32, i32), hp: i32, score: Score) {
        write_entity(&mut self.spawned, id, name, pos, hp, score);
        self.spawned_len += 1;
    }

    /// Ends the current run of changes: the next change's id is gap-coded from 0 again (a
    /// `0` between two runs, [`RUN_BREAK`]).
    pub fn break_run(&mut self) {
        if self.last_changed != 0 {
            self.changed.uint(RUN_BREAK);
            self.changed_len += 1;
            self.last_changed = 0;
        }
    }

    /// Adds a change. Within a run, changes must come in increasing id order (ids are
    /// gap-coded; [`break_run`](Self::break_run) starts a new run); a change with no field
    /// set is skipped.
    pub fn change(&mut self, c: &Change) {
        debug_assert!(c.id > self.last_changed, "changes must be sorted by id");
        let ints = sink_change(&mut self.changed, self.last_changed, c);
        if ints > 0 {
            self.last_changed = c.id;
            self.changed_len += ints;
        }
    }

    /// Adds a player gone from the world.
    pub fn remove(&mut self, id: PlayerId) {
        write_uint(&mut self.removed, u64::from(id));
        self.removed_len += 1;
    }

    /// Adds an event.
    pub fn event(&mut self, e: &Event) {
        self.events_len += sink_event(&mut self.events, e);
    }

    /// Appends the four body arrays to `out`.
    pub fn finish(&self, out: &mut Vec<u8>) {
        out.reserve(
            self.spawned.len() + self.changed.len() + self.removed.len() + self.events.len() + 20,
        );
        for (len, bytes) in [
            (self.spawned_len, &self.spawned[..]),
            (self.changed_len, self.changed.bytes()),
            (self.removed_len, &self.removed[..]),
            (self.events_len, self.events.bytes()),
        ] {
            write_array_len(out, len);
            out.extend_from_slice(bytes);
        }
    }
}

impl Frame {
    /// Encodes the frame (the server builds the same bytes from its parts): a change whose id
    /// is not above the one before it starts a new run; 8 fields if anything is out of view.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = FrameBodyWriter::default();
        for e in &self.spawned {
            body.spawn(e.id, &e.name, (e.x, e.y), e.hp, e.score);
        }
        let mut last = 0;
        for c in &self.changed {
            if c.id <= last {
                body.break_run();
            }
            last = c.id;
            body.change(c);
        }
        for &id in &self.removed {
            body.remove(id);
        }
        for e in &self.events {
            body.event(e);
        }
        let mut out = Vec::new();
        if self.out_of_view.is_empty() {
            write_frame_header(&mut out, self.tick, self.ack);
            body.finish(&mut out);
        } else {
            write_view_frame_header(&mut out, self.tick, self.ack);
            body.finish(&mut out);
            write_array_len(&mut out, u32::try_from(self.out_of_view.len()).unwrap_or(u32::MAX));
            for &id in &self.out_of_view {
                write_uint(&mut out, u64::from(id));
            }
        }
        out
    }
}

fn write_entities(out: &mut Vec<u8>, entities: &[EntityState]) {
    write_array_len(out, u32::try_from(entities.len()).unwrap_or(u32::MAX));
    for e in entities {
        write_entity(out, e.id, &e.name, (e.x, e.y), e.hp, e.score);
    }
}

impl ServerMsg {
    /// Encodes the message.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            ServerMsg::Welcome(w) => {
                let mut out = Vec::new();
                let head = WelcomeHead {
                    player_id: w.player_id,
                    tick_rate: w.tick_rate,
                    rules: &encode_rules(&w.rules),
                    token: &w.token,
                    resumed: w.resumed,
                    room: &w.room,
                    tick: w.keyframe.tick,
                };
                write_welcome_header(&mut out, &head);
                write_entities(&mut out, &w.keyframe.entities);
                out
            }
            ServerMsg::Frame(f) => f.encode(),
            ServerMsg::Keyframe(k) => {
                let mut out = Vec::new();
                write_keyframe_header(&mut out, k.tick, k.ack);
                write_entities(&mut out, &k.entities);
                out
            }
            ServerMsg::Pong { client_time, timing } => {
                let mut out = Vec::with_capacity(17);
                write_array_len(&mut out, if timing.is_some() { 4 } else { 2 });
                write_uint(&mut out, server_tag::PONG);
                write_uint(&mut out, u64::from(*client_time));
                if let Some(t) = timing {
                    write_int(&mut out, i64::from(t.lead_us));
                    write_uint(&mut out, u64::from(t.jitter_us));
                }
                out
            }
        }
    }

    /// Decodes one message that must fill `buf` exactly.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        let (tag, len) = open_message(&mut r)?;
        let arity = |want: usize| {
            if len == want { Ok(()) } else { Err(DecodeError::Arity { tag, len }) }
        };
        let msg = match u64::try_from(tag).unwrap_or(u64::MAX) {
            server_tag::WELCOME => {
                arity(10)?;
                let player_id = r.int_as()?;
                let protocol_version = r.int_as()?;
                let tick_rate = r.int_as()?;
                let mut rest = r.rest();
                let rules: Rules =
                    rmp_serde::decode::from_read(&mut rest).map_err(|_| DecodeError::Rules)?;
                r.set_rest(rest);
                let token = r.bin16()?;
                let resumed = r.bool()?;
                let room = r.str()?.to_owned();
                let tick = r.int_as()?;
                let entities = read_entities(&mut r)?;
                ServerMsg::Welcome(Welcome {
                    player_id,
                    protocol_version,
                    tick_rate,
                    rules,
                    token,
                    resumed,
                    room,
                    keyframe: Keyframe { tick, ack: 0, entities },
                })
            }
            server_tag::FRAME => {
                if len != 8 {
                    arity(7)?;
                }
                let tick = r.int_as()?;
                let ack = r.int_as()?;
                let spawned = read_entities(&mut r)?;
                let changed = read_changes(&mut r)?;
                let removed = read_ids(&mut r)?;
                let events = read_events(&mut r)?;
                let out_of_view = if len == 8 { read_ids(&mut r)? } else { Vec::new() };
                ServerMsg::Frame(Frame {
                    tick,
                    ack,
                    spawned,
                    changed,
                    removed,
                    events,
                    out_of_view,
                })
            }
            server_tag::KEYFRAME => {
                arity(4)?;
                let tick = r.int_as()?;
                let ack = r.int_as()?;
                let entities = read_entities(&mut r)?;
                ServerMsg::Keyframe(Keyframe { tick, ack, entities })
            }
            server_tag::PONG => {
                if len != 4 {
                    arity(2)?;
                }
                let client_time = r.int_as()?;
                let timing = if len == 4 {
                    Some(InputTiming { lead_us: r.int_as()?, jitter_us: r.int_as()? })
                } else {
                    None
                };
                ServerMsg::Pong { client_time, timing }
            }
            _ => return Err(DecodeError::UnknownTag(tag)),
        };
        r.finish()?;
        Ok(msg)
    }
}

fn read_entities(r: &mut Reader<'_>) -> Result<Vec<EntityState>, DecodeError> {
    let n = r.array_len()?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let len = r.array_len()?;
        if len != 8 {
            return Err(DecodeError::Arity { tag: -1, len });
        }
        out.push(EntityState {
            id: r.int_as()?,
            name: r.str()?.to_owned(),
            x: r.int_as()?,
            y: r.int_as()?,
            hp: r.int_as()?,
            score: Score { kills: r.int_as()?, deaths: r.int_as()?, streak: r.int_as()? },
        });
    }
    Ok(out)
}

fn read_ids(r: &mut Reader<'_>) -> Result<Vec<PlayerId>, DecodeError> {
    let n = r.array_len()?;
    (0..n).map(|_| r.int_as()).collect()
}

fn read_changes(r: &mut Reader<'_>) -> Result<Vec<Change>, DecodeError> {
    let mut left = r.array_len()?;
    let mut out = Vec::new();
    let mut id: PlayerId = 0;
    while left > 0 {
        let head: u64 = r.int_as()?;
        left -= 1;
        if head == RUN_BREAK {
            id = 0; // a new run: ids gap-coded from 0 again
            continue;
        }
        let gap = u32::try_from(head >> MASK_BITS).map_err(|_| DecodeError::Range)?;
        id = id.checked_add(gap).ok_or(DecodeError::Range)?;
        let mut field = |bit: u64| -> Result<Option<i32>, DecodeError> {
            if head & bit == 0 {
                return Ok(None);
            }
            if left == 0 {
                return Err(DecodeError::Truncated);
            }
            left -= 1;
            r.int_as().map(Some)
        };
        let dx = field(CHANGED_X)?;
        let dy = field(CHANGED_Y)?;
        let hp = field(CHANGED_HP)?;
        out.push(Change { id, dx, dy, hp });
    }
    Ok(out)
}

fn read_events(r: &mut Reader<'_>) -> Result<Vec<Event>, DecodeError> {
    let mut left = r.array_len()?;
    let mut out = Vec::new();
    while left > 0 {
        let kind = r.int()?;
        let argc = match kind {
            event_kind::ATTACKED => 3,
            event_kind::KILLED => 2,
            event_kind::JOINED | event_kind::LEFT | event_kind::RESPAWNED => 1,
            other => return Err(DecodeError::UnknownEvent(other)),
        };
        if left < 1 + argc {
            return Err(DecodeError::Truncated);
        }
        left -= 1 + argc;
        out.push(match kind {
            event_kind::JOINED => Event::Joined { id: r.int_as()? },
            event_kind::LEFT => Event::Left { id: r.int_as()? },
            event_kind::ATTACKED => {
                Event::Attacked { attacker: r.int_as()?, target: r.int_as()?, hp: r.int_as()? }
            }
            event_kind::KILLED => Event::Killed { victim: r.int_as()?, killer: r.int_as()? },
            _ => Event::Respawned { id: r.int_as()? },
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The current version as the one byte (a positive fixint) a join carries it in.
    const V: u8 = {
        assert!(PROTOCOL_VERSION < 0x80);
        PROTOCOL_VERSION as u8
    };

    fn dir(x: f32, y: f32) -> Direction {
        Direction::new(x, y).expect("valid direction")
    }

    fn join(room: Option<&str>) -> ClientMsg {
        ClientMsg::Join {
            protocol_version: PROTOCOL_VERSION,
            name: Some("ann".into()),
            resume: None,
            room: room.map(str::to_owned),
            seat: None,
        }
    }

    #[test]
    fn a_sink_writes_entities_and_strings_as_the_vec_writers_do() {
        for name in ["", "ann", &"x".repeat(31), &"y".repeat(32), &"z".repeat(300), "名前"] {
            for (id, x, hp, kills) in
                [(1, 0, 100, 0), (70_000, -40_000, -1, 300), (u32::MAX, i32::MIN, 0, u32::MAX)]
            {
                let score = Score { kills, deaths: kills / 2, streak: 3 };
                let mut want = Vec::new();
                write_entity(&mut want, id, name, (x, 9), hp, score);
                let mut sink = Sink::default();
                sink_entity(&mut sink, id, name, (x, 9), hp, score);
                assert_eq!(sink.bytes(), &want[..], "{name:?} {id}");
                assert_eq!(sink.into_vec(), want);
            }
        }
    }

    #[test]
    fn client_messages_round_trip() {
        for m in [
            join(None),
            join(Some("arena")),
            ClientMsg::Join {
                protocol_version: PROTOCOL_VERSION,
                name: None,
                resume: Some([7; 16]),
                room: Some("x".repeat(40)),
                seat: None,
            },
            ClientMsg::Join {
                protocol_version: PROTOCOL_VERSION,
                name: Some("ann".into()),
                resume: None,
                room: Some("arena".into()),
                seat: Some("kwXhcmVuYQ".into()),
            },
            ClientMsg::Join {
                protocol_version: 7,
                name: None,
                resume: None,
                room: None,
                seat: None,
            },
            ClientMsg::Input(Input {
                seq: 70_000,
                dir: dir(0.6, -0.8),
                attack: true,
                seen: 0,
                shown: 0,
            }),
            ClientMsg::Input(Input {
                seq: 70_001,
                dir: dir(0.0, 1.0),
                attack: false,
                seen: 1 << 40,
                shown: 0,
            }),
            ClientMsg::Input(Input {
                seq: 70_002,
                dir: dir(0.0, 1.0),
                attack: true,
                seen: 900,
                shown: 897,
            }),
            ClientMsg::Ping { client_time: 123_456 },
            ClientMsg::Leave,
        ] {
            assert_eq!(ClientMsg::decode(&m.encode()), Ok(m));
        }
    }

    #[test]
    fn a_leave_is_the_tag_alone() {
        assert_eq!(ClientMsg::Leave.encode(), [0x91, 0x03]);
        let cases: &[(&[u8], DecodeError)] = &[
            // A leave carries nothing: any field after the tag is the wrong shape, not ignored.
            (&[0x92, 0x03, 0x00], DecodeError::Arity { tag: 3, len: 2 }),
            (&[0x92, 0x03, 0xc0], DecodeError::Arity { tag: 3, len: 2 }),
            (&[0x91, 0x03, 0x00], DecodeError::TrailingBytes(1)),
            (&[0x91], DecodeError::LengthTooLarge),
            (&[0x91, 0x04], DecodeError::UnknownTag(4)),
        ];
        for (bytes, want) in cases {
            assert_eq!(ClientMsg::decode(bytes), Err(*want), "{bytes:02x?}");
        }
        // Like every tag, 3 is read in any integer form, not only the shortest.
        assert_eq!(ClientMsg::decode(&[0x91, 0xcc, 0x03]), Ok(ClientMsg::Leave));
        assert_eq!(ClientMsg::decode(&[0x91, 0xd0, 0x03]), Ok(ClientMsg::Leave));
    }

    #[test]
    fn server_messages_round_trip() {
        let ent = |id, hp| EntityState {
            id,
            name: format!("p{id}"),
            x: 10,
            y: 800,
            hp,
            score: Score { kills: 3, deaths: 1, streak: 2 },
        };
        let frame = Frame {
            tick: 99,
            ack: 4,
            spawned: vec![ent(9, 100)],
            changed: vec![
                Change { id: 2, dx: Some(-27), dy: None, hp: None },
                Change { id: 3, dx: Some(5), dy: Some(300), hp: Some(0) },
                Change { id: 400, dx: None, dy: None, hp: Some(90) },
                // A second run (a server with a view radius: one per view cell).
                Change { id: 1, dx: Some(1), dy: None, hp: None },
            ],
            removed: vec![5, 6],
            events: vec![
                Event::Joined { id: 9 },
                Event::Left { id: 5 },
                Event::Attacked { attacker: 3, target: 400, hp: 90 },
                Event::Killed { victim: 3, killer: 400 },
                Event::Respawned { id: 1 },
            ],
            out_of_view: vec![7, 8],
        };
        let keyframe = Keyframe { tick: 12, ack: 0, entities: vec![ent(1, 100), ent(2, 0)] };
        for m in [
            ServerMsg::Frame(frame),
            ServerMsg::Keyframe(Keyframe { ack: 3, ..keyframe.clone() }),
            ServerMsg::Welcome(Welcome {
                player_id: 2,
                protocol_version: PROTOCOL_VERSION,
                tick_rate: 30,
                rules: Rules { speed: 42.5, ..Rules::default() },
                token: [0xab; 16],
                resumed: true,
                room: "arena".into(),
                keyframe,
            }),
            ServerMsg::Pong { client_time: 77, timing: None },
            ServerMsg::Pong {
                client_time: 78,
                timing: Some(InputTiming { lead_us: -12_345, jitter_us: 4_000 }),
            },
        ] {
            assert_eq!(ServerMsg::decode(&m.encode()), Ok(m));
        }
    }

    #[test]
    fn a_moving_entity_costs_three_bytes() {
        let mut body = FrameBodyWriter::default();
        body.change(&Change { id: 1, dx: Some(27), dy: Some(-20), hp: None });
        body.change(&Change { id: 2, dx: Some(-19), dy: Some(19), hp: None });
        let mut out = Vec::new();
        body.finish(&mut out);
        // 4 array headers (1 byte each) + 2 entities * 3 bytes.
        assert_eq!(out.len(), 4 + 6);
    }

    #[test]
    fn frame_bytes_are_plain_msgpack_for_rmp_serde() {
        let frame = Frame {
            tick: 1_000_000,
            ack: 9,
            changed: vec![Change { id: 3, dx: Some(-200), dy: None, hp: Some(100) }],
            events: vec![Event::Killed { victim: 3, killer: 1 }],
            ..Frame::default()
        };
        type Raw = (u8, u64, u32, Vec<(u32, String, i32, i32, i32)>, Vec<i64>, Vec<u32>, Vec<i64>);
        let raw: Raw = rmp_serde::from_slice(&frame.encode()).expect("rmp-serde reads it");
        assert_eq!(
            raw,
            (1, 1_000_000, 9, vec![], vec![(3 << 3) | 5, -200, 100], vec![], vec![3, 3, 1])
        );
    }

    #[test]
    fn bad_client_bytes_are_errors() {
        let cases: &[(&[u8], DecodeError)] = &[
            (&[], DecodeError::Truncated),
            (&[0xc1], DecodeError::Type("array")),
            (&[0x90], DecodeError::Arity { tag: -1, len: 0 }),
            (&[0x92, 0x09, 0x00], DecodeError::UnknownTag(9)),
            (&[0x92, 0x02, 0x01, 0x00], DecodeError::TrailingBytes(1)),
            (&[0x91, 0x02], DecodeError::Arity { tag: 2, len: 1 }),
            (&[0x95, 0x00, V, 0xa2, 0xc3, 0x28, 0xc0, 0xc0], DecodeError::Utf8),
            (&[0x95, 0x00, V, 0xc0, 0xc0, 0xa2, 0xc3, 0x28], DecodeError::Utf8),
            (&[0x95, 0x00, V, 0xc0, 0xc0, 0x01], DecodeError::Type("string")),
            (&[0x95, 0x00, V, 0xc0, 0xc4, 0x01, 0x00, 0xc0], DecodeError::Range),
            // join: 5 fields, or 6 with a seat (a string, not nil)
            (&[0x96, 0x00, V, 0xc0, 0xc0, 0xc0, 0xc0], DecodeError::Type("string")),
            (
                &[0x97, 0x00, V, 0xc0, 0xc0, 0xc0, 0xa1, 0x61, 0xc0],
                DecodeError::Arity { tag: 0, len: 7 },
            ),
            (&[0xdd, 0xff, 0xff, 0xff, 0xff], DecodeError::LengthTooLarge),
            (&[0x95, 0x00, V, 0xdb, 0xff, 0xff, 0xff, 0xff], DecodeError::LengthTooLarge),
            (
                &[0x95, 0x00, V, 0xc0, 0xc0, 0xdb, 0xff, 0xff, 0xff, 0xff],
                DecodeError::LengthTooLarge,
            ),
            (&[0x91, 0x91, 0x91, 0x91], DecodeError::Type("integer")),
            // input: 4 or 8 fields; a `seen` or `shown` that is not a non-negative integer
            (&[0x94, 0x01, 0x01, 0x00, 0x00], DecodeError::Arity { tag: 1, len: 4 }),
            (
                &[0x98, 0x01, 0x01, 0x00, 0x00, 0xc2, 0x05, 0x05, 0x05],
                DecodeError::Arity { tag: 1, len: 8 },
            ),
            (&[0x97, 0x01, 0x01, 0x00, 0x00, 0xc2, 0x05, 0xc0], DecodeError::Type("integer")),
            (&[0x96, 0x01, 0x01, 0x00, 0x00, 0xc2, 0xc0], DecodeError::Type("integer")),
            (&[0x96, 0x01, 0x01, 0x00, 0x00, 0xc2, 0xff], DecodeError::Range),
        ];
        for (bytes, want) in cases {
            assert_eq!(ClientMsg::decode(bytes), Err(*want), "{bytes:02x?}");
        }
        let mut nan = ClientMsg::Input(Input {
            seq: 1,
            dir: dir(0.0, 0.0),
            attack: false,
            seen: 0,
            shown: 0,
        })
        .encode();
        let at = nan.len() - 10; // first f32 payload
        nan[at..at + 4].copy_from_slice(&f32::NAN.to_be_bytes());
        assert_eq!(ClientMsg::decode(&nan), Err(DecodeError::Input(InputError::NotFinite)));
    }

    #[test]
    fn a_join_of_another_version_decodes_to_its_version_alone() {
        let other = |protocol_version| ClientMsg::Join {
            protocol_version,
            name: None,
            resume: None,
            room: None,
            seat: None,
        };
        let cases: &[(&[u8], u16)] = &[
            // A version 2 client's join, as it sent it: `[0, 2, "ann", nil]`.
            (&[0x94, 0x00, 0x02, 0xa3, 0x61, 0x6e, 0x6e, 0xc0], 2),
            // The version alone, and a later version whose fields this one can't read.
            (&[0x92, 0x00, 0x01], 1),
            (&[0x93, 0x00, V + 1, 0xc1], u16::from(V + 1)),
            (&[0x97, 0x00, 0xcd, 0x01, 0x00, 0x90, 0x90, 0x90, 0x90, 0x90], 256),
        ];
        for (bytes, version) in cases {
            assert_eq!(ClientMsg::decode(bytes), Ok(other(*version)), "{bytes:02x?}");
        }
        // The current version is held to the current layout: a version 2 shape is malformed.
        let v2_shape = [0x94, 0x00, V, 0xa3, 0x61, 0x6e, 0x6e, 0xc0];
        assert_eq!(ClientMsg::decode(&v2_shape), Err(DecodeError::Arity { tag: 0, len: 4 }));
        // A join too short to hold a version is malformed, even with a version after it.
        for bytes in [&[0x91, 0x00][..], &[0x91, 0x00, 0x02]] {
            assert_eq!(ClientMsg::decode(bytes), Err(DecodeError::Arity { tag: 0, len: 1 }));
        }
    }

    #[test]
    fn a_join_room_is_bytes_for_the_server_to_judge() {
        // The decoder does not apply the room name rule: the server does, and answers 1008.
        for room in ["two words", "caf\u{e9}", "r".repeat(200).as_str()] {
            let m = join(Some(room));
            assert_eq!(ClientMsg::decode(&m.encode()), Ok(m));
        }
        assert_eq!(
            join(Some("arena")).encode(),
            [0x95, 0x00, V, 0xa3, 0x61, 0x6e, 0x6e, 0xc0, 0xa5, 0x61, 0x72, 0x65, 0x6e, 0x61]
        );
        assert_eq!(join(None).encode(), [0x95, 0x00, V, 0xa3, 0x61, 0x6e, 0x6e, 0xc0, 0xc0]);
    }

    #[test]
    fn the_welcome_room_sits_between_resumed_and_tick() {
        let rules = encode_rules(&Rules::default());
        let mut out = Vec::new();
        let head = WelcomeHead {
            player_id: 2,
            tick_rate: 30,
            rules: &rules,
            token: &[0; 16],
            resumed: false,
            room: "arena",
            tick: 42,
        };
        write_welcome_header(&mut out, &head);
        assert_eq!(out[0], 0x9a, "an array of 10");
        let tail = [0xc2, 0xa5, 0x61, 0x72, 0x65, 0x6e, 0x61, 0x2a];
        assert!(out.ends_with(&tail), "resumed, room, tick end the header: {out:02x?}");
        // The server appends the keyframe's entity array; the whole decodes as one welcome.
        write_entities(&mut out, &[]);
        let Ok(ServerMsg::Welcome(w)) = ServerMsg::decode(&out) else {
            panic!("a welcome: {out:02x?}");
        };
        assert_eq!((w.room.as_str(), w.keyframe.tick, w.resumed), ("arena", 42, false));
    }

    #[test]
    fn deep_nesting_is_rejected_at_once() {
        let deep = vec![0x91u8; 10_000];
        assert!(ClientMsg::decode(&deep).is_err());
        assert!(ServerMsg::decode(&deep).is_err());
    }
}
