//! Keeps a slow reader's stream fresh. A client that says which tick it has received (an
//! input's `seen`) lets the fan-out see frames that left the server but that the client has
//! not read yet, wherever they wait: in our queue, in either kernel, or on the network. What
//! the server alone can measure (its queue and unsent bytes) misses the client's own receive
//! buffer, which the kernel grows to megabytes for a reader that reads, only slowly.
//!
//! The fan-out asks a [`Pacer`] before each frame. Frames in flight (`lag`: the last tick
//! sent minus the last tick the client saw) are compared with the lowest lag of its recent
//! reports (its round trip, in ticks) plus a slack that grows with how much its lag varies
//! (network jitter). Beyond that for a round trip (at least [`MIN_PERSIST`] ticks), the client
//! is reading slower than the stream: frames are held until it reports having read everything
//! sent, then it gets a keyframe. A stall on the path (nothing crosses for a moment, then all
//! at once) raises the lag just as a slow reader does, but a round trip ends it; holding for
//! it would freeze the client for a round trip more. A reader at
//! half the rate thus reads recent state, never an ever older backlog. A client that never
//! reports, or stops reporting, is left to the byte and queue limits.

use super::outbox::Report;

/// The least slack over the lag floor, in ticks.
const MIN_SLACK: u64 = 6;
/// The least number of ticks the lag must stay over its limit before a hold (the round trip,
/// when longer).
const MIN_PERSIST: u64 = 2;
/// The most slack over the lag floor, in ticks, however jittery the client.
const MAX_SLACK: u64 = 14;
/// Reports per half of the floor's window (the floor is the least lag of the last 32 to 64
/// reports: one to two seconds at one input per tick).
const FLOOR_HALF: u32 = 32;
/// A held client that has not reported for this many ticks is sent a keyframe anyway (its
/// silence says nothing about its reading; the queue and byte limits take over).
const QUIET_TICKS: u64 = 15;
/// Lag falls above this many ticks count as this many (one burst does not set the slack for
/// long).
const MAX_STEP: u64 = 8;

/// What the fan-out does with this tick for one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Send as usual.
    Send,
    /// Send nothing: the client has not read what it was sent.
    Hold,
    /// The client has caught up (or gone quiet while held): send a keyframe.
    Resume,
}

/// One client's pacing state, owned by its fan-out subscriber.
#[derive(Debug, Clone, Default)]
pub struct Pacer {
    /// The count of the last report read.
    count: u16,
    /// The tick at which the last new report was read.
    last_report: u64,
    /// The lag of the previous report; `None` after a hold (a keyframe resets the lag, a
    /// fall that is not jitter).
    prev_lag: Option<u64>,
    /// Mean variation of the lag between reports, in sixteenths of a tick.
    jitter16: u64,
    /// Least lag of the current and the previous half window.
    floor_now: u64,
    floor_prev: u64,
    in_half: u32,
    /// While holding: the last tick sent before the hold.
    held_at: Option<u64>,
    /// Whether any lag was observed yet.
    seeded: bool,
    /// The tick of the first report in the current run of reports over the limit.
    over_since: Option<u64>,
    /// After a hold (or an idle gap): the tick the client must have seen, and the tick the
    /// stream resumed at. Reports from before the client had it say nothing of its reading
    /// (they show the hold or the gap itself), so they are not judged — for one round trip and
    /// its slack.
    resumed_at: Option<(u64, u64)>,
    /// The last tick sent when the previous report was judged: a report made while nothing new
    /// was sent (an idle room) shows no round trip and must not lower the floor.
    judged_at_sent: u64,
    /// The last tick sent as of the previous call (one call a tick), and whether a tick went
    /// by with nothing sent since the stream last moved.
    prev_sent: u64,
    idle: bool,
}

impl Pacer {
    /// Decides for tick `now`, given the client's latest report and the last tick sent to it.
    pub fn pace(&mut self, report: Report, now: u64, last_sent: u64) -> Pace {
        // Frames again after ticks with none (an idle room): `last_sent - seen` counts the
        // idle ticks as in flight until the client has a new frame, so its reports are not
        // judged until then.
        if last_sent == self.prev_sent {
            self.idle = true;
        } else {
            if self.idle && self.held_at.is_none() {
                let from = self.prev_sent + 1;
                let need = self.resumed_at.map_or(from, |(at, _)| at.max(from));
                self.resumed_at = Some((need, now));
            }
            self.idle = false;
            self.prev_sent = last_sent;
        }
        let fresh = report.count != self.count && report.seen != 0;
        if !fresh {
            return match self.held_at {
                Some(_) if now.saturating_sub(self.last_report) > QUIET_TICKS => {
                    self.held_at = None;
                    self.prev_lag = None;
                    self.resumed_at = Some((now, now));
                    Pace::Resume
                }
                Some(_) => Pace::Hold,
                None => Pace::Send,
            };
        }
        self.count = report.count;
        self.last_report = now;
        // A client claiming more than it was sent is as fresh as can be, no fresher.
        let seen = report.seen.min(last_sent);
        if let Some(at) = self.held_at {
            if seen >= at {
                self.held_at = None;
                self.prev_lag = None;
                self.resumed_at = Some((now, now));
                return Pace::Resume;
            }
            return Pace::Hold;
        }
        if let Some((at, since)) = self.resumed_at {
            // For one round trip and its slack: a client reading slowly gets no more.
            if seen < at && now.saturating_sub(since) <= self.floor() + self.slack() {
                return Pace::Send;
            }
            self.resumed_at = None;
        }
        let lag = last_sent - seen;
        if last_sent == self.judged_at_sent {
            return Pace::Send; // nothing new in flight: nothing to learn
        }
        self.judged_at_sent = last_sent;
        self.observe(lag);
        if lag <= self.floor() + self.slack() {
            self.over_since = None;
            return Pace::Send;
        }
        let since = *self.over_since.get_or_insert(now);
        if now - since < self.floor().max(MIN_PERSIST) {
            return Pace::Send;
        }
        self.over_since = None;
        self.held_at = Some(last_sent);
        Pace::Hold
    }

    /// The least lag of the recent reports, in ticks.
    fn floor(&self) -> u64 {
        self.floor_now.min(self.floor_prev)
    }

    /// How far above the floor the lag may go, in ticks.
    fn slack(&self) -> u64 {
        // Twice the mean variation, rounded up.
        (MIN_SLACK + (2 * self.jitter16).div_ceil(16)).min(MAX_SLACK)
    }

    fn observe(&mut self, lag: u64) {
        if !self.seeded {
            // The first report: nothing to compare with yet.
            self.seeded = true;
            self.floor_now = lag;
            self.floor_prev = lag;
        }
        // Jitter moves the lag both ways; a client reading slower than the stream only makes
        // it grow. So the variation is measured on the falls alone (doubled: for jitter the
        // falls are half of all the change), and a slow reader's steady growth is not
        // mistaken for jitter that would widen its slack.
        let fall = self.prev_lag.unwrap_or(lag).saturating_sub(lag).min(MAX_STEP);
        self.prev_lag = Some(lag);
        // Exponential mean, weight 1/8.
        self.jitter16 = (self.jitter16 * 7 + 2 * fall * 16) / 8;
        if self.in_half == 0 {
            self.floor_prev = self.floor_now;
            self.floor_now = lag;
        } else {
            self.floor_now = self.floor_now.min(lag);
        }
        self.in_half = (self.in_half + 1) % FLOOR_HALF;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds reports of a client that receives each frame `delay` ticks after it is sent,
    /// one report per tick, frames sent every tick; returns the paces.
    fn steady(p: &mut Pacer, from: u64, ticks: u64, delay: impl Fn(u64) -> u64) -> Vec<Pace> {
        let mut count = p.count;
        (from..from + ticks)
            .map(|now| {
                count = count.wrapping_add(1);
                let last_sent = now - 1;
                let seen = last_sent.saturating_sub(delay(now)).max(1);
                p.pace(Report { count, seen }, now, last_sent)
            })
            .collect()
    }

    #[test]
    fn a_client_keeping_up_is_never_held_whatever_its_round_trip() {
        for rtt in [0, 3, 10, 30] {
            let mut p = Pacer::default();
            let paces = steady(&mut p, 100, 300, |_| rtt);
            assert!(paces.iter().all(|&x| x == Pace::Send), "rtt {rtt}: {paces:?}");
            assert_eq!(p.floor(), rtt);
        }
    }

    #[test]
    fn jitter_of_several_ticks_widens_the_slack_instead_of_holding() {
        let mut p = Pacer::default();
        // Round trip 6 ticks ± 3 (100 ms ± 30 ms each way is about that), a fixed pattern.
        let pattern = [6, 9, 3, 8, 4, 7, 5, 9, 3, 6];
        let paces = steady(&mut p, 100, 600, |now| pattern[(now % 10) as usize]);
        assert!(paces.iter().all(|&x| x == Pace::Send), "{paces:?}");
        assert!(p.slack() > MIN_SLACK, "slack {}", p.slack());
    }

    #[test]
    fn a_reader_at_half_rate_is_held_then_resumes_with_a_keyframe() {
        let mut p = Pacer::default();
        let (mut sent, mut read, mut count) = (0u64, 0u64, 0u16);
        let (mut holds, mut resumes, mut worst) = (0, 0, 0);
        let mut queue = std::collections::VecDeque::new();
        for now in 1..=600u64 {
            // The client reads one frame every other tick and reports it.
            if now % 2 == 0
                && let Some(t) = queue.pop_front()
            {
                read = t;
                count = count.wrapping_add(1);
                worst = worst.max(if now > 300 { now - t } else { 0 });
            }
            let report = Report { count, seen: read };
            match p.pace(report, now, sent) {
                Pace::Send => {}
                Pace::Hold => {
                    holds += 1;
                    continue;
                }
                Pace::Resume => {
                    resumes += 1;
                    queue.clear(); // a keyframe replaces what it would have read
                }
            }
            queue.push_back(now);
            sent = now;
        }
        assert!(resumes > 10, "resumes {resumes}, holds {holds}");
        assert!(worst <= 2 * (1 + MIN_SLACK + 1) + 3, "stalest frame read: {worst} ticks");
    }

    #[test]
    fn a_held_client_that_goes_quiet_gets_a_keyframe_anyway() {
        let mut p = Pacer::default();
        steady(&mut p, 100, 50, |_| 1);
        // Reports far behind: held once they have been over the limit for MIN_PERSIST ticks
        // (the round trip here is a tick).
        for now in 150..150 + MIN_PERSIST {
            let report = Report { count: p.count.wrapping_add(1), seen: 100 };
            assert_eq!(p.pace(report, now, now - 1), Pace::Send, "tick {now}");
        }
        let at = 150 + MIN_PERSIST;
        assert_eq!(
            p.pace(Report { count: p.count.wrapping_add(1), seen: 100 }, at, at - 1),
            Pace::Hold
        );
        let count = p.count;
        for now in at + 1..=at + QUIET_TICKS {
            assert_eq!(p.pace(Report { count, seen: 100 }, now, at - 1), Pace::Hold);
        }
        assert_eq!(p.pace(Report { count, seen: 100 }, at + 1 + QUIET_TICKS, at - 1), Pace::Resume);
        assert!(p.held_at.is_none());
    }

    /// A client keeping up at a 6-tick round trip, in a room that was idle (reports with
    /// nothing in flight) before the frames began: never held, and after a hold its reports
    /// from before the keyframe don't hold it again.
    #[test]
    fn idle_reports_and_reports_from_before_a_keyframe_are_not_judged() {
        let mut p = Pacer::default();
        // Idle: the last frame went at tick 99; the client has it; reports keep coming.
        let mut count = 0u16;
        for now in 100..160 {
            count = count.wrapping_add(1);
            assert_eq!(p.pace(Report { count, seen: 99 }, now, 99), Pace::Send);
        }
        // Frames every tick from 160 on (tick 160's call still sees 99 as the last sent), read
        // 6 ticks after they are sent.
        for now in 160..400u64 {
            count = count.wrapping_add(1);
            let last_sent = if now == 160 { 99 } else { now - 1 };
            let seen = if now < 167 { 99 } else { last_sent - 6 };
            assert_eq!(p.pace(Report { count, seen }, now, last_sent), Pace::Send, "tick {now}");
        }
        // A hold (say a burst of bigger lag), then the keyframe at the resume tick: the next
        // round trip's reports still show the old lag, and do not hold it again.
        p.held_at = Some(399);
        count = count.wrapping_add(1);
        assert_eq!(p.pace(Report { count, seen: 399 }, 400, 399), Pace::Resume);
        for now in 401..407u64 {
            count = count.wrapping_add(1);
            let pace = p.pace(Report { count, seen: 393 + (now - 401) }, now, now - 1);
            assert_eq!(pace, Pace::Send, "tick {now}: a report from before the keyframe arrived");
        }
    }

    #[test]
    fn a_stopped_reader_that_keeps_reporting_stays_held() {
        let mut p = Pacer::default();
        steady(&mut p, 100, 50, |_| 1);
        let (mut count, mut sent) = (p.count, 149);
        let paces: Vec<_> = (150..400)
            .map(|now| {
                count = count.wrapping_add(1);
                let pace = p.pace(Report { count, seen: 148 }, now, sent);
                if pace != Pace::Hold {
                    sent = now;
                }
                pace
            })
            .collect();
        let first_hold = paces.iter().position(|&x| x == Pace::Hold).expect("held at all");
        assert!(first_hold <= (MIN_SLACK + 4) as usize, "held after {first_hold} ticks: {paces:?}");
        assert!(paces[first_hold..].iter().all(|&x| x == Pace::Hold), "{paces:?}");
    }

    /// A client on a link of `base` ± `spread` ms each way (uniform, never reordering), one
    /// input a tick at its own phase, for `secs` seconds; every second, halfway through, the
    /// path stalls for `stall` ms (nothing crosses either way, then everything at once: a
    /// busy proxy, a radio waking up). Returns how many keyframes the pacer sent (holds ended).
    fn stalling_link(seed: u64, secs: u64, (base, spread): (f64, f64), stall: f64) -> u32 {
        const T: f64 = 1000.0 / 30.0;
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut delay = |at: f64| {
            let due = at + base + (rng.f64() * 2.0 - 1.0) * spread;
            let start = (due / 1000.0).floor() * 1000.0 + 500.0;
            if (start..start + stall).contains(&due) { start + stall } else { due }
        };
        let mut p = Pacer::default();
        // Frames as they reach the client (ms, tick), reports as they reach the server.
        let (mut down, mut up) = (Vec::<(f64, u64)>::new(), Vec::<(f64, Report)>::new());
        let (mut last_down, mut last_up) = (0.0f64, 0.0f64);
        let (mut next_input, mut count, mut seen) = (T * 0.37 * (seed % 3) as f64, 0u16, 0);
        let (mut read, mut judged) = (0, 0);
        let (mut report, mut sent, mut resumes) = (Report { count: 0, seen: 0 }, 0, 0);
        for now in 1..=secs * 30 {
            let t = now as f64 * T;
            while next_input < t {
                while read < down.len() && down[read].0 <= next_input {
                    seen = down[read].1;
                    read += 1;
                }
                count = count.wrapping_add(1);
                last_up = last_up.max(delay(next_input));
                up.push((last_up, Report { count, seen }));
                next_input += T;
            }
            while judged < up.len() && up[judged].0 <= t {
                report = up[judged].1;
                judged += 1;
            }
            match p.pace(report, now, sent) {
                Pace::Hold => continue,
                Pace::Resume => resumes += 1,
                Pace::Send => {}
            }
            sent = now;
            last_down = last_down.max(delay(t));
            down.push((last_down, now));
        }
        resumes
    }

    /// The play-feel test's link (100 ± 30 ms each way) and two nearer ones: a stall of up to
    /// 200 ms is a spike in the lag that a round trip ends, not a slow reader, and holding
    /// for it would freeze the client a round trip longer. (Without the rule that the lag
    /// must stay over its limit for a round trip, 135, 66 and 20 of these 200 runs at 200 ms
    /// were held.)
    #[test]
    fn a_link_that_stalls_for_up_to_200_ms_is_never_held() {
        for link in [(100.0, 30.0), (40.0, 20.0), (5.0, 3.0)] {
            for stall in [0.0, 100.0, 200.0] {
                for seed in 0..200 {
                    let resumes = stalling_link(seed, 10, link, stall);
                    assert_eq!(resumes, 0, "link {link:?}, stall {stall} ms, seed {seed}");
                }
            }
        }
    }
}
