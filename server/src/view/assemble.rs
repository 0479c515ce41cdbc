//! One client's messages in a room with a view radius, put together from the pieces of a
//! [`ViewTick`]: what the cells it sees now and saw before the tick say, plus the few players
//! that moved between cells (a change for a client that saw them, a spawn for one that did
//! not). The bytes are copied into one buffer per client, reused from client to client: a
//! view is a few hundred bytes, a copy of them far cheaper than the write that follows.

use skirmish_shared::codec::{
    RUN_BREAK, sink_change, write_keyframe_header, write_view_frame_header,
};
use skirmish_shared::wire::{Sink, write_array_len, write_uint};
use skirmish_shared::{Change, PlayerId};

use super::tick::{Piece, ViewTick};

/// What [`Assembler::frame`] made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assembled {
    /// A frame with something in it for this client.
    Frame,
    /// Nothing in this client's view changed (a frame only carries a new ack).
    Nothing,
    /// The tick lacks a piece this client needs (it saw the world from elsewhere than its
    /// player was): it needs a keyframe.
    NeedKeyframe,
}

/// Puts clients' messages together; its buffers are reused from client to client.
#[derive(Debug, Default)]
pub struct Assembler {
    spawned: Vec<Piece>,
    runs: Vec<Piece>,
    removed: Vec<Piece>,
    events: Vec<u32>,
    out_ids: Vec<Piece>,
    out_movers: Vec<PlayerId>,
    known: Vec<Change>,
    run: Sink,
    buf: Vec<u8>,
}

impl Assembler {
    /// The message last put together.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The frame of tick `tick` for a client whose view was centred on cell `prev` before
    /// the tick and is on `now` after it (its player's cells), with its `ack`.
    pub fn frame(&mut self, vt: &ViewTick, prev: u32, now: u32, tick: u64, ack: u32) -> Assembled {
        let g = vt.grid;
        for v in [&mut self.spawned, &mut self.runs, &mut self.removed, &mut self.out_ids] {
            v.clear();
        }
        self.events.clear();
        self.out_movers.clear();
        self.known.clear();
        for c in g.view(now) {
            let cell = vt.cell(c);
            if g.sees(prev, c) {
                if !cell.changes.is_empty() {
                    self.runs.push(cell.changes);
                }
            } else if cell.full {
                if !cell.stayers.is_empty() {
                    self.spawned.push(cell.stayers);
                }
            } else {
                return Assembled::NeedKeyframe;
            }
            for &m in vt.enter_of(c) {
                let mover = &vt.movers[m as usize];
                if mover.from.is_some_and(|f| g.sees(prev, f)) {
                    self.known.push(mover.change);
                } else {
                    self.spawned.push(mover.entity);
                }
            }
            self.events.extend_from_slice(vt.events_of(c));
        }
        for c in g.view(prev) {
            let cell = vt.cell(c);
            self.removed.push(cell.gone);
            self.events.extend_from_slice(vt.left_of(c));
            if !g.sees(now, c) {
                if !cell.ids {
                    return Assembled::NeedKeyframe;
                }
                self.out_ids.push(cell.stayer_ids);
            }
            for &m in vt.exit_of(c) {
                let mover = &vt.movers[m as usize];
                if !g.sees(now, mover.to) {
                    self.out_movers.push(mover.id);
                }
            }
        }
        self.events.extend_from_slice(&vt.kills);
        // The events in the tick's order, each once (an attack between two cells it sees is
        // referenced from both).
        self.events.sort_unstable();
        self.events.dedup();
        // The movers this client saw and still sees: one run of their changes, by id.
        self.known.sort_unstable_by_key(|c| c.id);
        self.run.clear();
        let (mut last, mut known_ints) = (0, 0);
        for c in &self.known {
            let k = sink_change(&mut self.run, last, c);
            if k > 0 {
                last = c.id;
                known_ints += k;
            }
        }

        let total = |pieces: &[Piece]| pieces.iter().map(|p| p.count).sum::<u32>();
        let spawned = total(&self.spawned);
        let run_count = self.runs.len() as u32 + u32::from(known_ints > 0);
        let changed = total(&self.runs) + known_ints + run_count.saturating_sub(1);
        let removed = total(&self.removed);
        let events = self.events.iter().map(|&k| vt.events[k as usize].count).sum::<u32>();
        let out = total(&self.out_ids) + self.out_movers.len() as u32;

        let buf = &mut self.buf;
        buf.clear();
        write_view_frame_header(buf, tick, ack);
        write_array_len(buf, spawned);
        extend(buf, vt, &self.spawned);
        write_array_len(buf, changed);
        for (i, &p) in self.runs.iter().enumerate() {
            if i > 0 {
                write_uint(buf, RUN_BREAK);
            }
            buf.extend_from_slice(vt.bytes(p));
        }
        if known_ints > 0 {
            if !self.runs.is_empty() {
                write_uint(buf, RUN_BREAK);
            }
            buf.extend_from_slice(self.run.bytes());
        }
        write_array_len(buf, removed);
        extend(buf, vt, &self.removed);
        write_array_len(buf, events);
        for &k in &self.events {
            buf.extend_from_slice(vt.bytes(vt.events[k as usize]));
        }
        write_array_len(buf, out);
        extend(buf, vt, &self.out_ids);
        for &id in &self.out_movers {
            write_uint(buf, u64::from(id));
        }
        if spawned + changed + removed + events + out > 0 {
            Assembled::Frame
        } else {
            Assembled::Nothing
        }
    }

    /// A keyframe of the view centred on cell `now`; `false` (nothing made) if the tick does
    /// not hold every cell of it in full.
    pub fn keyframe(&mut self, vt: &ViewTick, now: u32, tick: u64, ack: u32) -> bool {
        self.buf.clear();
        write_keyframe_header(&mut self.buf, tick, ack);
        self.write_entities(vt, now)
    }

    /// The entity array of the view centred on cell `now` (a welcome's keyframe); `false`
    /// (nothing made) if the tick does not hold every cell of it in full.
    pub fn entities(&mut self, vt: &ViewTick, now: u32) -> bool {
        self.buf.clear();
        self.write_entities(vt, now)
    }

    fn write_entities(&mut self, vt: &ViewTick, now: u32) -> bool {
        self.spawned.clear();
        for c in vt.grid.view(now) {
            let cell = vt.cell(c);
            if !cell.full {
                self.buf.clear();
                return false;
            }
            if !cell.stayers.is_empty() {
                self.spawned.push(cell.stayers);
            }
            for &m in vt.enter_of(c) {
                self.spawned.push(vt.movers[m as usize].entity);
            }
        }
        let count = self.spawned.iter().map(|p| p.count).sum();
        write_array_len(&mut self.buf, count);
        extend(&mut self.buf, vt, &self.spawned);
        true
    }
}

fn extend(buf: &mut Vec<u8>, vt: &ViewTick, pieces: &[Piece]) {
    for &p in pieces {
        buf.extend_from_slice(vt.bytes(p));
    }
}

#[cfg(test)]
mod tests {
    use skirmish_shared::{Change, Rules, Score, ServerMsg};

    use super::*;
    use crate::view::Grid;
    use crate::view::tick::{Seen, TickFacts, ViewBuilder};

    /// A 500-unit map in cells of 50 (11 × 11); players standing still at (x, y) units.
    fn tick(players: &[(u32, i32, i32)], keyframe: bool) -> ViewTick {
        let rules = Rules { view_radius: 50, ..Rules::default() };
        let grid = Grid::new(&rules).expect("a grid");
        let seen: Vec<Seen<'_>> = players
            .iter()
            .map(|&(id, x, y)| {
                let cell = grid.cell(x * 8, y * 8);
                Seen {
                    id,
                    name: "p",
                    pos: (x * 8, y * 8),
                    hp: 100,
                    score: Score::default(),
                    from: Some(cell),
                    to: cell,
                    change: Change { id, dx: None, dy: None, hp: None },
                }
            })
            .collect();
        let facts = TickFacts { events: &[], removed: &[], welcomed: &[], keyframe };
        ViewBuilder::default().build(grid, &seen, facts)
    }

    #[test]
    fn a_keyframe_holds_exactly_the_players_in_the_view() {
        let vt = tick(&[(1, 10, 10), (2, 99, 99), (3, 100, 10), (4, 10, 300)], true);
        let mut asm = Assembler::default();
        assert!(asm.keyframe(&vt, vt.cell_of(1).expect("in the room"), 7, 3));
        let ServerMsg::Keyframe(k) = ServerMsg::decode(asm.bytes()).expect("decodes") else {
            panic!("not a keyframe")
        };
        let mut ids: Vec<u32> = k.entities.iter().map(|e| e.id).collect();
        ids.sort_unstable();
        assert_eq!(ids, vec![1, 2], "cell (0, 0) sees x, y < 100 units");
        assert_eq!((k.tick, k.ack), (7, 3));
    }

    #[test]
    fn a_view_the_tick_did_not_write_in_full_asks_for_a_keyframe() {
        // Nobody moved, so no cell was written in full: a client whose view was elsewhere
        // (it missed being told its player moved) can't be sent a frame.
        let vt = tick(&[(1, 10, 10), (2, 400, 400)], false);
        let mut asm = Assembler::default();
        let now = vt.cell_of(1).expect("in the room");
        let far = vt.cell_of(2).expect("in the room");
        assert_eq!(asm.frame(&vt, far, now, 7, 0), Assembled::NeedKeyframe);
        assert!(!asm.keyframe(&vt, now, 7, 0), "nor a keyframe before one is asked for");
        // The same view as before: a frame with nothing in it.
        assert_eq!(asm.frame(&vt, now, now, 7, 0), Assembled::Nothing);
        let ServerMsg::Frame(f) = ServerMsg::decode(asm.bytes()).expect("decodes") else {
            panic!("not a frame")
        };
        assert!(f.spawned.is_empty() && f.changed.is_empty() && f.out_of_view.is_empty());
    }
}
