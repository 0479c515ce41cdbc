//! The open WebSocket sessions, by their closers: shutdown closes them all (1001) through
//! here, rather than every connection waiting on the shutdown signal itself (a wait of its
//! own in every idle connection's task, ~150 bytes each); and the heartbeat clock beats them
//! through here, rather than every connection keeping a timer of its own (112 bytes each):
//! each connection asks for a beat when its next ping or join timeout is due, and checks them
//! on it.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use super::outbox::{Close, CloseCode, Closer};
use crate::link::ConnId;

/// The closers of the sessions open now; once shutdown began, every session is closed as it
/// opens.
#[derive(Debug, Default)]
pub struct OpenSessions {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    closers: HashMap<ConnId, Closer>,
    stopping: bool,
}

/// A session's place in [`OpenSessions`]; given up when dropped.
#[derive(Debug)]
pub struct Entered<'a> {
    sessions: &'a OpenSessions,
    conn: ConnId,
}

/// The heartbeat clock's time at `at`: milliseconds from the clock's first reading, counted
/// from 1 (an earlier `at` reads 1).
pub fn clock_ms(at: tokio::time::Instant) -> u64 {
    static EPOCH: OnceLock<tokio::time::Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(tokio::time::Instant::now);
    let ms = u64::try_from(at.saturating_duration_since(epoch).as_millis()).unwrap_or(u64::MAX);
    ms.saturating_add(1)
}

/// The close every connection gets at shutdown (WebSocket sessions here, polling sessions and
/// joins refused while stopping too).
pub fn shutting_down() -> Close {
    Close::new(CloseCode::GoingAway, "server shutting down")
}

impl OpenSessions {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts connection `conn` open until the guard drops; closed at once if the server is
    /// already shutting down.
    pub fn enter(&self, conn: ConnId, closer: &Closer) -> Entered<'_> {
        let mut state = self.state();
        if state.stopping {
            closer.close(shutting_down());
        } else {
            state.closers.insert(conn, closer.clone());
        }
        Entered { sessions: self, conn }
    }

    /// Closes every open session, and from now on every session as it opens.
    pub fn close_all(&self) {
        let closers = {
            let mut state = self.state();
            state.stopping = true;
            std::mem::take(&mut state.closers)
        };
        for closer in closers.into_values() {
            closer.close(shutting_down());
        }
    }

    /// One beat of the heartbeat clock: wakes the open sessions whose asked-for beat is due.
    pub fn beat_due(&self) {
        let now = clock_ms(tokio::time::Instant::now());
        for closer in self.state().closers.values() {
            closer.beat_if_due(now);
        }
    }

    /// Sessions open now.
    pub fn len(&self) -> usize {
        self.state().closers.len()
    }

    /// Whether no session is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        self.sessions.state().closers.remove(&self.conn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_due_beat_reaches_an_open_session_and_no_ended_one() {
        use super::super::outbox::Signal;
        let sessions = OpenSessions::default();
        let (a, a_watch) = Closer::new();
        let (b, b_watch) = Closer::new();
        let _entered_a = sessions.enter(1, &a);
        drop(sessions.enter(2, &b));
        let now = clock_ms(tokio::time::Instant::now());
        a_watch.beat_at(now);
        b_watch.beat_at(now);
        sessions.beat_due();
        assert_eq!(a_watch.signal().await, Signal::Beat);
        let b_signal = std::pin::pin!(b_watch.signal());
        let waker = futures_util::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(b_signal.poll(&mut cx).is_pending(), "an ended session is not beaten");
    }

    #[test]
    fn shutdown_closes_the_open_sessions_and_every_later_one() {
        let sessions = OpenSessions::default();
        let (a, a_watch) = Closer::new();
        let (b, b_watch) = Closer::new();
        let entered_a = sessions.enter(1, &a);
        {
            let _entered_b = sessions.enter(2, &b);
            assert_eq!(sessions.len(), 2);
        }
        assert_eq!(sessions.len(), 1, "a session that ended is forgotten");
        assert!(b_watch.get().is_none(), "an ended session is not closed by anyone");
        sessions.close_all();
        assert_eq!(a_watch.get(), Some(shutting_down()));
        drop(entered_a);
        let (c, c_watch) = Closer::new();
        let _entered_c = sessions.enter(3, &c);
        assert_eq!(c_watch.get(), Some(shutting_down()), "opened during shutdown");
        assert!(sessions.is_empty());
    }
}
