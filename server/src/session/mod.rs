//! The session core: the one owner of which connection plays which player in a room.
//!
//! A [`Sessions`] table holds every player of one room by its resume token, the connection
//! bound to it (if any), its seat (the player's fixed index on the room's input board) and,
//! while it waits to be resumed, the tick it expires at. Every change of a binding — a new
//! player, a resume, a takeover by a newer connection, a lost connection, the end of a grace
//! window — goes through one method here, which keeps these invariants (checked by
//! [`Sessions::check`] in the tests):
//! - a connection is bound to at most one player, and a player to at most one connection;
//! - `by_conn` and each session's `conn` say the same thing;
//! - a player waiting to be resumed has an expiry tick and an entry in the expiry queue;
//! - every seat is either free or held by exactly one player; players never exceed seats;
//! - `waiting` counts the players with no connection.
//!
//! Players waiting to be resumed hold their seats, but only up to a share of the room: when
//! the room is full and more than [`Sessions::waiting_share`] of its seats are held by
//! waiting players, a new player takes the seat of the one that has waited longest
//! ([`Sessions::evict_waiting`]). So clients that connect, drop and join again can't lock a
//! room with players nobody will ever resume.
//!
//! The table knows nothing of sockets or of the world: the caller (the room's simulation)
//! spawns and despawns entities and publishes inputs routes; the entity handle is generic so
//! these rules are unit-tested on their own.

use std::collections::{HashMap, VecDeque};

use skirmish_shared::{PlayerId, ResumeToken};

use crate::link::ConnId;

/// One player of the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session<E> {
    /// The player's id.
    pub player: PlayerId,
    /// The player's entity in the world.
    pub entity: E,
    /// The player's seat: its index on the input board, held from join to removal.
    pub seat: u32,
    /// The connection playing it, while there is one.
    pub conn: Option<ConnId>,
    /// While no connection plays it: the tick at which it leaves for good.
    pub expires_at: Option<u64>,
}

/// Why a connection can't be bound to a player.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The connection already plays a player.
    #[error("already joined")]
    AlreadyJoined,
    /// Every seat is held (connected players and players waiting to be resumed).
    #[error("room full")]
    Full,
}

/// What [`Sessions::resume`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resumed<E> {
    /// The player now bound to the connection.
    pub session: Session<E>,
    /// The connection that played it until now and must be closed (taken over).
    pub taken_over: Option<ConnId>,
}

/// What [`Sessions::detach`] did with a lost connection's player.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detached<E> {
    /// The player waits to be resumed until the tick given.
    Waiting {
        /// The player.
        session: Session<E>,
        /// The tick it expires at.
        until: u64,
    },
    /// No grace window: the player is gone (the caller despawns it).
    Removed {
        /// The player that left.
        session: Session<E>,
        /// Its token.
        token: ResumeToken,
    },
}

/// Every player of one room and the connections bound to them.
#[derive(Debug)]
pub struct Sessions<E> {
    by_token: HashMap<ResumeToken, Session<E>>,
    by_conn: HashMap<ConnId, ResumeToken>,
    /// `(expiry tick, token)` of players waiting to be resumed, oldest first; entries whose
    /// player was resumed (or detached again later) are skipped when they come up.
    expiring: VecDeque<(u64, ResumeToken)>,
    /// Seats no player holds, lowest last (handed out lowest first).
    free_seats: Vec<u32>,
    seats: u32,
    /// Players with no connection.
    waiting: usize,
}

impl<E: Copy> Sessions<E> {
    /// A table with `seats` seats, all free.
    pub fn new(seats: usize) -> Self {
        let seats = u32::try_from(seats).unwrap_or(u32::MAX);
        Self {
            by_token: HashMap::new(),
            by_conn: HashMap::new(),
            expiring: VecDeque::new(),
            free_seats: (0..seats).rev().collect(),
            seats,
            waiting: 0,
        }
    }

    /// Players waiting to be resumed.
    pub fn waiting(&self) -> usize {
        self.waiting
    }

    /// Seats that waiting players may hold before a new player may take one: a quarter of
    /// the room (at least one).
    pub fn waiting_share(&self) -> usize {
        (self.seats as usize / 4).max(1)
    }

    /// Waiting players beyond the share: seats a new player could take in a full room.
    pub fn evictable(&self) -> usize {
        self.waiting.saturating_sub(self.waiting_share())
    }

    /// In a full room with more waiting players than their share, removes the one that has
    /// waited longest (the caller despawns it) so a new player can have its seat.
    pub fn evict_waiting(&mut self) -> Option<(ResumeToken, Session<E>)> {
        if !self.free_seats.is_empty() || self.evictable() == 0 {
            return None;
        }
        while let Some((at, token)) = self.expiring.pop_front() {
            let still_waiting = self.by_token.get(&token).is_some_and(|s| s.expires_at == Some(at));
            if still_waiting {
                let session = self.remove(&token)?;
                return Some((token, session));
            }
        }
        None
    }

    /// Players in the room, connected or waiting to be resumed.
    pub fn len(&self) -> usize {
        self.by_token.len()
    }

    /// Whether the room has no player.
    pub fn is_empty(&self) -> bool {
        self.by_token.is_empty()
    }

    /// The player `conn` plays, if any.
    pub fn by_conn(&self, conn: ConnId) -> Option<&Session<E>> {
        self.by_conn.get(&conn).and_then(|t| self.by_token.get(t))
    }

    /// The player of `token`, if it is in the room.
    pub fn by_token(&self, token: &ResumeToken) -> Option<&Session<E>> {
        self.by_token.get(token)
    }

    /// Whether `conn` already plays a player (a second join is refused).
    pub fn is_bound(&self, conn: ConnId) -> bool {
        self.by_conn.contains_key(&conn)
    }

    /// Takes a seat for a new player of `conn`; the caller spawns it and then calls
    /// [`bind_new`](Self::bind_new) with the seat.
    pub fn reserve_seat(&mut self, conn: ConnId) -> Result<u32, Refusal> {
        if self.is_bound(conn) {
            return Err(Refusal::AlreadyJoined);
        }
        self.free_seats.pop().ok_or(Refusal::Full)
    }

    /// Gives back a seat from [`reserve_seat`](Self::reserve_seat) that was not used.
    pub fn unreserve_seat(&mut self, seat: u32) {
        debug_assert!(!self.free_seats.contains(&seat));
        self.free_seats.push(seat);
    }

    /// Records a new player on `seat`, played by `conn`, resumable with `token`.
    pub fn bind_new(
        &mut self,
        conn: ConnId,
        token: ResumeToken,
        player: PlayerId,
        entity: E,
        seat: u32,
    ) -> Session<E> {
        let session = Session { player, entity, seat, conn: Some(conn), expires_at: None };
        self.by_token.insert(token, session);
        self.by_conn.insert(conn, token);
        session
    }

    /// Binds `conn` to the player of `token`, if that player is still in the room. One
    /// token, one live connection: a connection still playing it is taken over (returned
    /// for the caller to close).
    pub fn resume(&mut self, conn: ConnId, token: &ResumeToken) -> Option<Resumed<E>> {
        if self.is_bound(conn) {
            return None;
        }
        let session = self.by_token.get_mut(token)?;
        let taken_over = session.conn.replace(conn);
        if taken_over.is_none() {
            self.waiting -= 1;
        }
        session.expires_at = None;
        let session = *session;
        if let Some(old) = taken_over {
            self.by_conn.remove(&old);
        }
        self.by_conn.insert(conn, *token);
        Some(Resumed { session, taken_over })
    }

    /// `conn` is gone. Its player waits `grace` ticks from `now` to be resumed; with no grace
    /// it is removed at once. `None` if the connection played no player (never joined, was
    /// refused, or was taken over).
    pub fn detach(&mut self, conn: ConnId, now: u64, grace: u64) -> Option<Detached<E>> {
        let token = self.by_conn.remove(&conn)?;
        if grace == 0 {
            let session = self.remove(&token)?;
            return Some(Detached::Removed { session, token });
        }
        let until = now.saturating_add(grace);
        let session = self.by_token.get_mut(&token)?;
        session.conn = None;
        session.expires_at = Some(until);
        let session = *session;
        self.waiting += 1;
        self.expiring.push_back((until, token));
        Some(Detached::Waiting { session, until })
    }

    /// Removes the players whose grace window ended at or before `now`, calling `gone` for
    /// each (the caller despawns it).
    pub fn expire(&mut self, now: u64, mut gone: impl FnMut(ResumeToken, Session<E>)) {
        while let Some(&(at, token)) = self.expiring.front() {
            if at > now {
                break;
            }
            self.expiring.pop_front();
            let still_waiting = self.by_token.get(&token).is_some_and(|s| s.expires_at == Some(at));
            if still_waiting && let Some(session) = self.remove(&token) {
                gone(token, session);
            }
        }
    }

    /// Takes a player out of the table for good and frees its seat.
    fn remove(&mut self, token: &ResumeToken) -> Option<Session<E>> {
        let session = self.by_token.remove(token)?;
        match session.conn {
            Some(conn) => {
                self.by_conn.remove(&conn);
            }
            None => self.waiting -= 1,
        }
        self.free_seats.push(session.seat);
        Some(session)
    }

    /// Asserts every invariant of the table (see the module docs); for tests.
    pub fn check(&self) {
        for (conn, token) in &self.by_conn {
            let s = self.by_token.get(token);
            assert!(
                s.is_some_and(|s| s.conn == Some(*conn)),
                "conn {conn} maps to a token whose session does not name it"
            );
        }
        for (token, s) in &self.by_token {
            match s.conn {
                Some(c) => {
                    assert_eq!(self.by_conn.get(&c), Some(token), "session's conn not indexed");
                    assert_eq!(s.expires_at, None, "a connected player has an expiry");
                }
                None => {
                    let at = s.expires_at.expect("a waiting player has an expiry");
                    assert!(self.expiring.contains(&(at, *token)), "waiting player not queued");
                }
            }
        }
        let waiting = self.by_token.values().filter(|s| s.conn.is_none()).count();
        assert_eq!(self.waiting, waiting, "the waiting count is right");
        let mut seats: Vec<u32> =
            self.by_token.values().map(|s| s.seat).chain(self.free_seats.iter().copied()).collect();
        seats.sort_unstable();
        let all: Vec<u32> = (0..self.seats).collect();
        assert_eq!(seats, all, "every seat is free or held by exactly one player");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(n: u8) -> ResumeToken {
        [n; 16]
    }

    /// A new player for `conn` with token `t`, as the sim makes one (entity = player id).
    fn join(s: &mut Sessions<u32>, conn: ConnId, t: u8, player: PlayerId) -> Session<u32> {
        let seat = s.reserve_seat(conn).expect("a free seat");
        s.bind_new(conn, token(t), player, player, seat)
    }

    #[test]
    fn join_binds_one_connection_to_one_player() {
        let mut s = Sessions::new(2);
        let a = join(&mut s, 1, 1, 10);
        assert_eq!(a.conn, Some(1));
        assert_eq!(s.by_conn(1).map(|x| x.player), Some(10));
        assert_eq!(s.reserve_seat(1), Err(Refusal::AlreadyJoined));
        join(&mut s, 2, 2, 20);
        assert_eq!(s.reserve_seat(3), Err(Refusal::Full), "two seats, two players");
        s.check();
    }

    #[test]
    fn a_lost_connection_waits_then_expires_and_frees_its_seat() {
        let mut s = Sessions::new(1);
        let a = join(&mut s, 1, 1, 10);
        let Some(Detached::Waiting { until, .. }) = s.detach(1, 100, 30) else {
            panic!("expected the player to wait")
        };
        assert_eq!(until, 130);
        assert!(!s.is_bound(1));
        assert_eq!(s.reserve_seat(2), Err(Refusal::Full), "a waiting player holds its seat");
        s.check();
        let mut gone = Vec::new();
        s.expire(129, |t, x| gone.push((t, x.player)));
        assert!(gone.is_empty(), "not before its tick");
        s.expire(130, |t, x| gone.push((t, x.player)));
        assert_eq!(gone, vec![(token(1), 10)]);
        assert!(s.is_empty());
        assert_eq!(s.reserve_seat(2), Ok(a.seat), "the seat is free again");
        s.unreserve_seat(a.seat);
        s.check();
    }

    #[test]
    fn resume_within_the_window_keeps_the_player_and_its_seat() {
        let mut s = Sessions::new(4);
        let a = join(&mut s, 1, 1, 10);
        s.detach(1, 100, 30);
        let r = s.resume(2, &token(1)).expect("player still there");
        assert_eq!(r.taken_over, None);
        assert_eq!((r.session.player, r.session.seat, r.session.conn), (10, a.seat, Some(2)));
        assert_eq!(r.session.expires_at, None);
        s.check();
        // Its old expiry passes without effect.
        s.expire(200, |_, _| panic!("a resumed player must not expire"));
        assert_eq!(s.len(), 1);
        s.check();
    }

    #[test]
    fn resume_of_a_live_session_takes_it_over() {
        let mut s = Sessions::new(4);
        join(&mut s, 1, 1, 10);
        let r = s.resume(2, &token(1)).expect("player there");
        assert_eq!(r.taken_over, Some(1));
        assert!(!s.is_bound(1), "the old connection plays nothing any more");
        assert_eq!(s.detach(1, 5, 30), None, "its later leave changes nothing");
        assert_eq!(s.by_conn(2).map(|x| x.player), Some(10));
        s.check();
    }

    #[test]
    fn unknown_tokens_and_bound_connections_do_not_resume() {
        let mut s = Sessions::new(4);
        join(&mut s, 1, 1, 10);
        assert_eq!(s.resume(2, &token(9)), None);
        join(&mut s, 2, 2, 20);
        assert_eq!(s.resume(2, &token(1)), None, "a connection already playing can't resume");
        s.check();
    }

    #[test]
    fn no_grace_removes_at_once() {
        let mut s = Sessions::new(1);
        join(&mut s, 1, 1, 10);
        let d = s.detach(1, 7, 0);
        assert!(matches!(d, Some(Detached::Removed { token: t, .. }) if t == token(1)));
        assert!(s.is_empty());
        s.check();
    }

    #[test]
    fn detached_twice_expires_at_the_later_tick_only() {
        let mut s = Sessions::new(2);
        join(&mut s, 1, 1, 10);
        s.detach(1, 100, 30);
        s.resume(2, &token(1)).expect("resumed");
        s.detach(2, 120, 30);
        let mut gone = 0;
        s.expire(130, |_, _| gone += 1);
        assert_eq!(gone, 0, "the first window's end no longer applies");
        s.expire(150, |_, _| gone += 1);
        assert_eq!(gone, 1);
        s.check();
    }

    #[test]
    fn waiting_players_hold_at_most_their_share_of_a_full_room() {
        let mut s = Sessions::new(4); // share: 1 seat
        for (conn, t) in [(1, 1), (2, 2), (3, 3), (4, 4)] {
            join(&mut s, conn, t, u32::from(t));
        }
        assert_eq!(s.evict_waiting(), None, "nobody waits");
        s.detach(1, 10, 100);
        assert_eq!(s.evict_waiting(), None, "one waiting player is within the share");
        s.detach(2, 20, 100);
        s.detach(3, 30, 100);
        assert_eq!(s.waiting(), 3);
        assert_eq!(s.evictable(), 2);
        s.check();
        let (token, gone) = s.evict_waiting().expect("over the share: the longest waiting goes");
        assert_eq!((token, gone.player), (super::tests::token(1), 1));
        assert_eq!(s.evict_waiting(), None, "a seat is free now");
        let seat = s.reserve_seat(9).expect("the freed seat");
        s.bind_new(9, super::tests::token(9), 9, 9, seat);
        let (_, gone) = s.evict_waiting().expect("full again, still one over the share");
        assert_eq!(gone.player, 2);
        s.check();
        // Its old expiry is skipped when it comes up.
        s.expire(1000, |_, x| assert_eq!(x.player, 3));
        s.check();
    }

    #[test]
    fn unreserved_seats_come_back() {
        let mut s: Sessions<u32> = Sessions::new(1);
        let seat = s.reserve_seat(1).expect("free");
        s.unreserve_seat(seat);
        assert_eq!(s.reserve_seat(2), Ok(seat));
    }
}
