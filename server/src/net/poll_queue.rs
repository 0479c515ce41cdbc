//! A long-polling session's outgoing side: the messages the fan-out (and the session's own
//! pongs) send it wait here until a `GET` takes them all as one batch. It is the session's
//! [`Outlet`], as a WebSocket's sender is the socket's.
//!
//! The queue holds little: at most [`MAX_QUEUED`] messages or [`MAX_QUEUED_BYTES`]. A frame
//! that does not fit means the poller is late (it has not polled for half a second at
//! 30 Hz): what waits is dropped and the frame is refused as [`Delivery::Full`], so the
//! fan-out sends this client a keyframe next, exactly as for a WebSocket whose socket is full.
//! A poller coming back late thus reads fresh state, never a backlog. Only the fan-out's
//! messages may drop the queue (it then owes a keyframe); a pong that does not fit is dropped
//! alone.
//!
//! One `GET` waits at a time: a newer one supersedes it ([`PollQueue::begin_poll`]), and the
//! older answers at once with an empty batch, as Engine.IO does.

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::Bytes;
use skirmish_shared::batch;
use tokio::sync::Notify;

use super::outbox::{Close, Delivery, Outlet};

/// Messages a session holds at most before it counts as late.
pub const MAX_QUEUED: usize = 16;
/// Bytes a session holds at most before it counts as late.
pub const MAX_QUEUED_BYTES: usize = 256 * 1024;

#[derive(Debug, Default)]
struct State {
    /// Each message as its client header and its (shared) body.
    messages: VecDeque<(Bytes, Bytes)>,
    bytes: usize,
    /// The session is over: the close the poller is told.
    close: Option<Close>,
    /// A `GET` has taken the close.
    close_taken: bool,
    /// The newest `GET`'s number: only it may take messages.
    poll: u64,
}

/// What a `GET` gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A batch to send (empty if superseded or timed out).
    Batch(Bytes),
    /// The session ended and its close was already delivered: `410`.
    Gone(Close),
}

/// One polling session's queue of outgoing messages.
#[derive(Debug, Default)]
pub struct PollQueue {
    state: Mutex<State>,
    /// Wakes waiting `GET`s: a message came, the session closed, or a newer `GET` came.
    changed: Notify,
}

impl PollQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, state: &mut State, head: &[u8], body: &Bytes) {
        state.bytes += head.len() + body.len();
        state.messages.push_back((Bytes::copy_from_slice(head), body.clone()));
        self.changed.notify_waiters();
    }

    /// A new `GET` begins: its number, for [`wait`](Self::wait). A `GET` waiting before it
    /// answers now, empty.
    pub fn begin_poll(&self) -> u64 {
        let mut state = self.state();
        state.poll += 1;
        self.changed.notify_waiters();
        state.poll
    }

    /// The session is over: waiting (and later) `GET`s get what is queued and this close.
    /// The first close wins.
    pub fn close(&self, close: Close) {
        let mut state = self.state();
        if state.close.is_none() {
            state.close = Some(close);
        }
        // Frames still queued are stale for a client that comes back (it resumes and gets a
        // keyframe) and would only be held, up to a minute, for a poller that may never come.
        state.messages = VecDeque::new();
        state.bytes = 0;
        self.changed.notify_waiters();
    }

    /// The close the session ended with, once it has.
    pub fn ended_with(&self) -> Option<Close> {
        self.state().close.clone()
    }

    /// Whether the close was delivered to a `GET`.
    pub fn close_delivered(&self) -> bool {
        self.state().close_taken
    }

    /// What `GET` number `poll` answers now, if it has something to answer.
    fn answer(&self, poll: u64) -> Option<Answer> {
        let mut state = self.state();
        if state.poll != poll {
            return Some(Answer::Batch(Bytes::new()));
        }
        if state.close_taken {
            let close = state
                .close
                .clone()
                .unwrap_or_else(|| Close::new(super::outbox::CloseCode::Normal, ""));
            return Some(Answer::Gone(close));
        }
        if state.messages.is_empty() && state.close.is_none() {
            return None;
        }
        let mut out = Vec::with_capacity(state.bytes + 4 * state.messages.len() + 8);
        for (head, body) in state.messages.drain(..) {
            batch::push_message_parts(&mut out, &[&head, &body]);
        }
        state.messages = VecDeque::new();
        state.bytes = 0;
        if let Some(close) = &state.close {
            batch::push_close(&mut out, close.code.as_u16(), &close.reason);
            state.close_taken = true;
        }
        Some(Answer::Batch(out.into()))
    }

    /// Waits, for `GET` number `poll`, until messages are queued, the session closes, a newer
    /// `GET` comes, or `deadline` passes (then the batch is empty).
    pub async fn wait(&self, poll: u64, deadline: tokio::time::Instant) -> Answer {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(answer) = self.answer(poll) {
                return answer;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return self.answer(poll).unwrap_or(Answer::Batch(Bytes::new()));
            }
        }
    }
}

impl Outlet for PollQueue {
    fn message(&self, head: &[u8], body: &Bytes) -> Delivery {
        let mut state = self.state();
        if state.close.is_some() {
            return Delivery::Gone;
        }
        let len = head.len() + body.len();
        // Late: what waits is stale; the fan-out sends a keyframe next. One message alone
        // always fits (a big room's welcome or keyframe may be larger than the byte limit).
        let over = state.messages.len() >= MAX_QUEUED || state.bytes + len > MAX_QUEUED_BYTES;
        if over && !state.messages.is_empty() {
            state.messages = VecDeque::new();
            state.bytes = 0;
            return Delivery::Full;
        }
        self.push(&mut state, head, body);
        Delivery::Queued
    }

    fn reply(&self, msg: &Bytes) -> Delivery {
        let mut state = self.state();
        if state.close.is_some() {
            return Delivery::Gone;
        }
        let over = state.messages.len() >= MAX_QUEUED || state.bytes + msg.len() > MAX_QUEUED_BYTES;
        if over && !state.messages.is_empty() {
            return Delivery::Full;
        }
        self.push(&mut state, &[], msg);
        Delivery::Queued
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::outbox::CloseCode;
    use skirmish_shared::batch::{Record, records};

    fn messages(answer: &Answer) -> Vec<Vec<u8>> {
        let Answer::Batch(body) = answer else { panic!("expected a batch, got {answer:?}") };
        records(body)
            .map(|r| match r.expect("valid batch") {
                Record::Message(m) => m.to_vec(),
                Record::Close { code, .. } => code.to_be_bytes().to_vec(),
            })
            .collect()
    }

    fn soon() -> tokio::time::Instant {
        tokio::time::Instant::now() + std::time::Duration::from_secs(5)
    }

    #[tokio::test]
    async fn a_get_takes_everything_queued_in_order() {
        let q = PollQueue::new();
        assert_eq!(q.message(b"h1", &Bytes::from_static(b"b")), Delivery::Queued);
        assert_eq!(q.reply(&Bytes::from_static(b"pong")), Delivery::Queued);
        let poll = q.begin_poll();
        let got = q.wait(poll, soon()).await;
        assert_eq!(messages(&got), vec![b"h1b".to_vec(), b"pong".to_vec()]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_get_with_nothing_to_say_answers_empty_at_its_deadline() {
        let q = PollQueue::new();
        let poll = q.begin_poll();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(25);
        assert_eq!(q.wait(poll, deadline).await, Answer::Batch(Bytes::new()));
        assert_eq!(tokio::time::Instant::now(), deadline);
    }

    #[tokio::test]
    async fn a_newer_get_answers_the_older_one_empty() {
        let q = std::sync::Arc::new(PollQueue::new());
        let first = q.begin_poll();
        let older = tokio::spawn({
            let q = q.clone();
            async move { q.wait(first, soon()).await }
        });
        tokio::task::yield_now().await;
        let second = q.begin_poll();
        let older = tokio::time::timeout(std::time::Duration::from_secs(5), older)
            .await
            .expect("the older GET answers at once")
            .expect("no panic");
        assert_eq!(older, Answer::Batch(Bytes::new()));
        q.message(b"", &Bytes::from_static(b"x"));
        assert_eq!(messages(&q.wait(second, soon()).await), vec![b"x".to_vec()]);
    }

    #[tokio::test]
    async fn a_late_poller_loses_the_stale_frames_and_the_fan_out_hears_it() {
        let q = PollQueue::new();
        for i in 0..MAX_QUEUED {
            assert_eq!(q.message(&[i as u8], &Bytes::from_static(b"f")), Delivery::Queued);
        }
        assert_eq!(q.reply(&Bytes::from_static(b"pong")), Delivery::Full, "a pong drops alone");
        assert_eq!(q.message(b"k", &Bytes::from_static(b"f")), Delivery::Full);
        assert_eq!(q.message(b"K", &Bytes::from_static(b"kf")), Delivery::Queued, "the keyframe");
        let poll = q.begin_poll();
        assert_eq!(messages(&q.wait(poll, soon()).await), vec![b"Kkf".to_vec()]);
    }

    #[tokio::test]
    async fn a_message_larger_than_the_byte_limit_goes_alone() {
        let q = PollQueue::new();
        let big = Bytes::from(vec![1u8; MAX_QUEUED_BYTES + 1]);
        assert_eq!(q.message(b"w", &big), Delivery::Queued, "a big room's welcome");
        assert_eq!(q.message(b"f", &Bytes::from_static(b"x")), Delivery::Full, "then full");
        assert_eq!(q.message(b"k", &big), Delivery::Queued, "the keyframe, alone, fits");
        let poll = q.begin_poll();
        let got = messages(&q.wait(poll, soon()).await);
        assert_eq!((got.len(), got[0][0]), (1, b'k'), "only the keyframe");
    }

    #[tokio::test]
    async fn the_close_replaces_what_is_queued_once_then_the_session_is_gone() {
        let q = PollQueue::new();
        q.message(b"", &Bytes::from_static(b"stale"));
        q.close(Close::new(CloseCode::SessionTakenOver, "taken"));
        assert_eq!(q.message(b"", &Bytes::from_static(b"x")), Delivery::Gone);
        let poll = q.begin_poll();
        let got = q.wait(poll, soon()).await;
        assert_eq!(messages(&got), vec![4002u16.to_be_bytes().to_vec()], "the close alone");
        assert!(q.close_delivered());
        let again = q.begin_poll();
        assert!(
            matches!(q.wait(again, soon()).await, Answer::Gone(c) if c.code == CloseCode::SessionTakenOver)
        );
    }
}
