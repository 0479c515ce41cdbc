//! One tick of a room with a view radius, encoded once per view cell: the pieces every
//! client's frame is put together from ([`super::assemble`]). Built by the sim's snapshot
//! system; read by the room's fan-out.
//!
//! Per cell: the changes of the players that stayed in it (one `changed` run), their full
//! state and their ids when some client starts or stops seeing the cell this tick, the
//! events that name only players in it, and the players that left the game from it. Players
//! that moved between cells (or joined) are listed once each with their change and their full
//! state: for each client, whether one is a change or a spawn depends on what it saw. Events
//! are written once each, in the tick's order, and referenced from the cells of the players
//! they name (an attack between two cells from both); a client gets those of its cells, in
//! that order. Kills go to everyone (a streak depends on their order).

use skirmish_shared::codec::{sink_change, sink_entity, sink_event};
use skirmish_shared::wire::Sink;
use skirmish_shared::{Change, Event, PlayerId, Score};

use super::grid::Grid;

/// Bytes in [`ViewTick`]'s buffer, and how many MessagePack values (entities, integers)
/// they hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Piece {
    start: u32,
    end: u32,
    /// Values in it.
    pub count: u32,
}

impl Piece {
    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// A range of indices into one of [`ViewTick`]'s lists.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// One cell's pieces.
#[derive(Debug, Clone, Default)]
pub(crate) struct CellTick {
    /// The `changed` run of the players in this cell before and after the tick.
    pub changes: Piece,
    /// Those players in full (only when `full`).
    pub stayers: Piece,
    /// Their ids (only when `ids`).
    pub stayer_ids: Piece,
    /// Events naming a player in this cell (joined, attacked, respawned): indices into
    /// `events`.
    pub events: Span,
    /// Players that left the game from this cell (for `removed`), and their `left` events.
    pub gone: Piece,
    pub left: Span,
    /// Movers (and joiners) into this cell, and movers out of it: indices into `movers`.
    pub enter: Span,
    pub exit: Span,
    /// Whether `stayers` and `stayer_ids` were written (always, for a cell nobody stayed in:
    /// there is nothing to write).
    pub full: bool,
    pub ids: bool,
}

/// A player that changed cells this tick, or joined.
#[derive(Debug, Clone)]
pub(crate) struct Mover {
    pub id: PlayerId,
    /// Its cell before the tick (`None`: new to the world's clients).
    pub from: Option<u32>,
    pub to: u32,
    /// Its change, for a client that saw it before and sees it now.
    pub change: Change,
    /// Its full state, for a client that sees it now and did not.
    pub entity: Piece,
}

/// One tick of a room with a view radius, encoded once per cell.
#[derive(Debug, Clone)]
pub struct ViewTick {
    /// The room's grid.
    pub grid: Grid,
    pub(crate) bytes: Vec<u8>,
    pub(crate) cells: Vec<CellTick>,
    pub(crate) movers: Vec<Mover>,
    pub(crate) enter: Vec<u32>,
    pub(crate) exit: Vec<u32>,
    /// Every event sent to anyone, one piece each, in the tick's order.
    pub(crate) events: Vec<Piece>,
    pub(crate) event_refs: Vec<u32>,
    pub(crate) left_refs: Vec<u32>,
    /// `killed` events (indices into `events`), for everyone.
    pub(crate) kills: Vec<u32>,
    /// Every player's cell after the tick, sorted by id.
    pub(crate) players: Vec<(PlayerId, u32)>,
    /// Whether every cell's players are written in full (a keyframe was asked for).
    pub keyframe: bool,
}

impl ViewTick {
    /// The bytes of a piece.
    pub(crate) fn bytes(&self, p: Piece) -> &[u8] {
        &self.bytes[p.start as usize..p.end as usize]
    }

    /// The cell of a player after the tick, if it is in the room.
    pub fn cell_of(&self, id: PlayerId) -> Option<u32> {
        self.players.binary_search_by_key(&id, |&(p, _)| p).ok().map(|i| self.players[i].1)
    }

    /// Whether cell `c`'s players are written in full (a client starting to see it can be
    /// sent them).
    pub fn has_full(&self, c: u32) -> bool {
        self.cells.get(c as usize).is_some_and(|cell| cell.full)
    }

    /// Bytes encoded this tick, all pieces together.
    pub fn encoded_bytes(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn cell(&self, c: u32) -> &CellTick {
        &self.cells[c as usize]
    }

    pub(crate) fn enter_of(&self, c: u32) -> &[u32] {
        &self.enter[self.cell(c).enter.range()]
    }

    pub(crate) fn exit_of(&self, c: u32) -> &[u32] {
        &self.exit[self.cell(c).exit.range()]
    }

    pub(crate) fn events_of(&self, c: u32) -> &[u32] {
        &self.event_refs[self.cell(c).events.range()]
    }

    pub(crate) fn left_of(&self, c: u32) -> &[u32] {
        &self.left_refs[self.cell(c).left.range()]
    }
}

/// One player as the snapshot saw it this tick.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    /// Its id.
    pub id: PlayerId,
    /// Its name.
    pub name: &'a str,
    /// Its position now (subunits).
    pub pos: (i32, i32),
    /// Its hit points now.
    pub hp: i32,
    /// Its scoreboard now.
    pub score: Score,
    /// Its cell before the tick (`None`: clients were never sent it).
    pub from: Option<u32>,
    /// Its cell now.
    pub to: u32,
    /// What changed since clients were last sent it (no field set: nothing).
    pub change: Change,
}

/// Builds [`ViewTick`]s, keeping its scratch lists from tick to tick.
#[derive(Debug, Default)]
pub struct ViewBuilder {
    by_cell: Vec<u32>,
    starts: Vec<u32>,
    stay: Vec<u32>,
    last_len: usize,
    full: Vec<bool>,
    ids: Vec<bool>,
    refs: Vec<(u32, u32)>,
    left_refs: Vec<(u32, u32)>,
    enters: Vec<(u32, u32)>,
    exits: Vec<(u32, u32)>,
    gone: Vec<(u32, PlayerId)>,
}

/// What else a tick's view needs besides its players.
#[derive(Debug, Clone, Copy)]
pub struct TickFacts<'a> {
    /// This tick's events, in order.
    pub events: &'a [Event],
    /// Players that left the game this tick, with the cell clients last knew them in.
    pub removed: &'a [(PlayerId, u32)],
    /// Cells of players welcomed this tick (their welcome holds their view).
    pub welcomed: &'a [u32],
    /// Whether a keyframe was asked for (every cell in full).
    pub keyframe: bool,
}

impl ViewBuilder {
    /// Encodes one tick: `seen` holds every player in the room, in any order.
    pub fn build(&mut self, grid: Grid, seen: &[Seen<'_>], facts: TickFacts<'_>) -> ViewTick {
        let n = grid.len();
        let mut players: Vec<(PlayerId, u32)> = seen.iter().map(|s| (s.id, s.to)).collect();
        if !players.is_sorted_by_key(|&(id, _)| id) {
            players.sort_unstable_by_key(|&(id, _)| id);
        }
        let mut vt = ViewTick {
            grid,
            bytes: Vec::new(),
            cells: vec![CellTick::default(); n],
            movers: Vec::new(),
            enter: Vec::new(),
            exit: Vec::new(),
            events: Vec::new(),
            event_refs: Vec::new(),
            left_refs: Vec::new(),
            kills: Vec::new(),
            players,
            keyframe: facts.keyframe,
        };
        let mut out = Sink::with_capacity(self.last_len + self.last_len / 8 + 64);
        self.mark(grid, seen, facts);
        self.bucket(n, seen);

        // Per cell: the stayers' run, and their full state and ids where marked.
        for c in 0..n {
            let range = self.starts[c] as usize..self.starts[c + 1] as usize;
            self.stay.clear();
            self.stay.extend(self.by_cell[range].iter().copied().filter(|&i| {
                let s = &seen[i as usize];
                s.from == Some(s.to)
            }));
            let cell = &mut vt.cells[c];
            cell.full = self.full[c] || self.stay.is_empty();
            cell.ids = self.ids[c] || self.stay.is_empty();
            if self.stay.is_empty() {
                continue;
            }
            if !self.stay.is_sorted_by_key(|&i| seen[i as usize].id) {
                self.stay.sort_unstable_by_key(|&i| seen[i as usize].id);
            }
            let start = out.len();
            let (mut prev, mut ints) = (0, 0);
            for &i in &self.stay {
                let s = &seen[i as usize];
                let k = sink_change(&mut out, prev, &s.change);
                if k > 0 {
                    prev = s.id;
                    ints += k;
                }
            }
            cell.changes = piece(start, out.len(), ints as usize);
            if cell.full {
                let start = out.len();
                for &i in &self.stay {
                    let s = &seen[i as usize];
                    sink_entity(&mut out, s.id, s.name, s.pos, s.hp, s.score);
                }
                cell.stayers = piece(start, out.len(), self.stay.len());
            }
            if cell.ids {
                let start = out.len();
                for &i in &self.stay {
                    out.uint(u64::from(seen[i as usize].id));
                }
                cell.stayer_ids = piece(start, out.len(), self.stay.len());
            }
        }

        // Movers and joiners, listed once, referenced from the cells they left and entered.
        let (enters, exits) = (&mut self.enters, &mut self.exits);
        enters.clear();
        exits.clear();
        for s in seen.iter().filter(|s| s.from != Some(s.to)) {
            let start = out.len();
            sink_entity(&mut out, s.id, s.name, s.pos, s.hp, s.score);
            let i = vt.movers.len() as u32;
            vt.movers.push(Mover {
                id: s.id,
                from: s.from,
                to: s.to,
                change: s.change,
                entity: piece(start, out.len(), 1),
            });
            enters.push((s.to, i));
            if let Some(from) = s.from {
                exits.push((from, i));
            }
        }
        enters.sort_unstable();
        exits.sort_unstable();
        vt.enter = spans(&mut vt.cells, enters, |c| &mut c.enter);
        vt.exit = spans(&mut vt.cells, exits, |c| &mut c.exit);

        // Players gone from the game, by the cell their holders saw them in.
        let gone = &mut self.gone;
        gone.clear();
        gone.extend(
            facts.removed.iter().map(|&(id, c)| (c, id)).filter(|&(c, _)| (c as usize) < n),
        );
        gone.sort_unstable();
        for group in gone.chunk_by(|a, b| a.0 == b.0) {
            let cell = &mut vt.cells[group[0].0 as usize];
            let start = out.len();
            for &(_, id) in group {
                out.uint(u64::from(id));
            }
            cell.gone = piece(start, out.len(), group.len());
        }

        self.events(&mut vt, &mut out, facts);
        self.last_len = out.len();
        vt.bytes = out.into_vec();
        vt
    }

    /// Which cells need their stayers in full (some client starts to see them, or gets a
    /// welcome or keyframe) and by id (some client stops seeing them).
    fn mark(&mut self, grid: Grid, seen: &[Seen<'_>], facts: TickFacts<'_>) {
        let n = grid.len();
        self.full.clear();
        self.full.resize(n, facts.keyframe);
        self.ids.clear();
        self.ids.resize(n, false);
        for s in seen {
            let Some(from) = s.from.filter(|&f| f != s.to) else { continue };
            for c in grid.view(s.to).filter(|&c| !grid.sees(from, c)) {
                self.full[c as usize] = true;
            }
            for c in grid.view(from).filter(|&c| !grid.sees(s.to, c)) {
                self.ids[c as usize] = true;
            }
        }
        for &w in facts.welcomed {
            for c in grid.view(w) {
                self.full[c as usize] = true;
            }
        }
    }

    /// Sorts the players by cell (a counting sort: stable, so each cell keeps `seen`'s order).
    fn bucket(&mut self, n: usize, seen: &[Seen<'_>]) {
        self.starts.clear();
        self.starts.resize(n + 1, 0);
        for s in seen {
            self.starts[s.to as usize + 1] += 1;
        }
        for c in 0..n {
            self.starts[c + 1] += self.starts[c];
        }
        let mut next = self.starts.clone();
        self.by_cell.clear();
        self.by_cell.resize(seen.len(), 0);
        for (i, s) in seen.iter().enumerate() {
            let at = &mut next[s.to as usize];
            self.by_cell[*at as usize] = i as u32;
            *at += 1;
        }
    }

    /// Writes the tick's events, each once, and refers each cell to those naming a player in
    /// it; kills to everyone, a `left` to the cell its holders saw the player in.
    fn events(&mut self, vt: &mut ViewTick, out: &mut Sink, facts: TickFacts<'_>) {
        self.refs.clear();
        self.left_refs.clear();
        for e in facts.events {
            let k = vt.events.len() as u32;
            let cells = match *e {
                Event::Killed { .. } => {
                    vt.kills.push(k);
                    [None, None]
                }
                Event::Left { id } => {
                    // Only for a player clients were sent (one that joined and left in one tick
                    // was never in anyone's view).
                    let Some(&(_, c)) = facts.removed.iter().find(|&&(p, _)| p == id) else {
                        continue;
                    };
                    self.left_refs.push((c, k));
                    [None, None]
                }
                Event::Joined { id } | Event::Respawned { id } => [vt.cell_of(id), None],
                Event::Attacked { attacker, target, .. } => {
                    [vt.cell_of(attacker), vt.cell_of(target)]
                }
            };
            let start = out.len();
            let ints = sink_event(out, e);
            vt.events.push(piece(start, out.len(), ints as usize));
            match cells {
                [Some(a), Some(b)] if a != b => self.refs.extend([(a, k), (b, k)]),
                [Some(a), _] | [None, Some(a)] => self.refs.push((a, k)),
                [None, None] => {}
            }
        }
        self.refs.sort_unstable();
        self.left_refs.sort_unstable();
        let n = vt.cells.len() as u32;
        self.refs.retain(|&(c, _)| c < n);
        self.left_refs.retain(|&(c, _)| c < n);
        vt.event_refs = spans(&mut vt.cells, &self.refs, |c| &mut c.events);
        vt.left_refs = spans(&mut vt.cells, &self.left_refs, |c| &mut c.left);
    }
}

fn piece(start: usize, end: usize, count: usize) -> Piece {
    Piece { start: start as u32, end: end as u32, count: count as u32 }
}

/// Lays `pairs` (cell, index), sorted by cell, out as one list of indices, each cell's span
/// set through `span`.
fn spans(
    cells: &mut [CellTick],
    pairs: &[(u32, u32)],
    span: impl Fn(&mut CellTick) -> &mut Span,
) -> Vec<u32> {
    let mut out = Vec::with_capacity(pairs.len());
    for group in pairs.chunk_by(|a, b| a.0 == b.0) {
        let start = out.len() as u32;
        out.extend(group.iter().map(|&(_, i)| i));
        if let Some(cell) = cells.get_mut(group[0].0 as usize) {
            *span(cell) = Span { start, end: out.len() as u32 };
        }
    }
    out
}
