//! A member's transitions, with no sockets, threads or clock of their own: what a failed join
//! attempt leads to ([`JoinRetries`]) and what a heartbeat's outcome leads to
//! ([`HeartbeatTracker`]). `membership.rs` does the talking and follows these decisions; the
//! unit tests below walk each path.
//!
//! ```text
//!   join ──error──▶ RetryNow / Rejoin / RejoinAsNew (the coordinator answered: join again;
//!                   MEMBER_ID_REQUIRED, REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION,
//!                   UNKNOWN_MEMBER_ID) ──▶ join at once; twice in a row: after the first
//!                   backoff. Never counted against rebalance_max_retries: a rebalance is the
//!                   protocol at work, not a failure.
//!        ──error──▶ FindCoordinator / Backoff ──▶ join after a backoff (doubling, capped at
//!                   a second), up to rebalance_max_retries, or until stopped (the caller first
//!                   forgets the member id or the coordinator, as the action says)
//!        ──error──▶ Fatal ──▶ give up
//!   stable ──heartbeat──▶ ok | Rejoin | RejoinAsNew | FindCoordinator | Fatal
//!          ──no heartbeat through for a session timeout──▶ rejoin
//! ```

use super::actions::Action;
use crate::retry::{self, Backoff};
use std::time::{Duration, Instant};

/// The next step after a failed join attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinStep {
    /// Join again at once.
    Now,
    /// Join again after this pause.
    After(Duration),
    /// Give up: the error goes to the application.
    GiveUp,
}

/// Counts a join's failed attempts and decides each next step. It outlives a single call of
/// `consume`: a join still failing when the call's timeout passes goes on, with the same count
/// and backoff, in the next call.
#[derive(Debug)]
pub(crate) struct JoinRetries {
    max_retries: u32,
    backoff: Backoff,
    failures: u32,
    /// The last attempt was retried at once: a coordinator that keeps asking gets a pause,
    /// not a tight loop.
    retried_now: bool,
    /// No attempt before this instant (the backoff after the last failure).
    not_before: Option<Instant>,
}

impl JoinRetries {
    /// Up to `max_retries` retries after failures, pausing from `base` (doubling, capped at
    /// [`retry::REQUEST_MAX`]).
    pub fn new(max_retries: u32, base: Duration) -> JoinRetries {
        JoinRetries {
            max_retries,
            backoff: Backoff::new(base, retry::REQUEST_MAX),
            failures: 0,
            retried_now: false,
            not_before: None,
        }
    }

    /// The step after an attempt at `now` that failed with an error calling for `action`;
    /// `stopped` when the consumer is stopping.
    pub fn on_error(&mut self, action: Action, stopped: bool, now: Instant) -> JoinStep {
        if action == Action::Fatal || stopped {
            self.succeeded();
            return JoinStep::GiveUp;
        }
        let answered = matches!(action, Action::RetryNow | Action::Rejoin | Action::RejoinAsNew);
        let step = if answered && !self.retried_now {
            self.retried_now = true;
            JoinStep::Now
        } else if answered {
            self.retried_now = false;
            JoinStep::After(self.backoff.delay(0))
        } else {
            self.retried_now = false;
            self.failures += 1;
            if self.failures > self.max_retries {
                self.succeeded();
                return JoinStep::GiveUp;
            }
            JoinStep::After(self.backoff.delay(self.failures - 1))
        };
        self.not_before = match step {
            JoinStep::After(wait) => Some(now + wait),
            _ => None,
        };
        step
    }

    /// When the next attempt may go (`None`: now).
    pub fn not_before(&self) -> Option<Instant> {
        self.not_before
    }

    /// Starts afresh: the join succeeded, or gave up.
    pub fn succeeded(&mut self) {
        self.failures = 0;
        self.retried_now = false;
        self.not_before = None;
    }
}

/// What the heartbeat thread does after a heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BeatStep {
    /// Nothing: keep heartbeating.
    Continue,
    /// Ask the consumer to rejoin; under a fresh member id when `new_id`.
    Rejoin { new_id: bool },
    /// Forget the cached coordinator and keep heartbeating (to the new one).
    FindCoordinator,
    /// An error the member can't recover from: hand it to the application.
    Fatal,
}

/// Tracks when a heartbeat last got through, to notice a session lost to silence.
#[derive(Debug)]
pub(crate) struct HeartbeatTracker {
    session_timeout: Duration,
    last_ok: Instant,
}

impl HeartbeatTracker {
    pub fn new(session_timeout: Duration, now: Instant) -> HeartbeatTracker {
        HeartbeatTracker { session_timeout, last_ok: now }
    }

    /// The member is not stable (joining, or paused): the session clock starts again when it
    /// is.
    pub fn reset(&mut self, now: Instant) {
        self.last_ok = now;
    }

    /// The steps after a heartbeat at `now` that succeeded (`None`) or failed with an error
    /// calling for `action`. A member that got no heartbeat through for a whole session
    /// timeout has been removed from the group: its partitions are someone else's by now, so
    /// it rejoins whatever the error.
    pub fn on_beat(&mut self, failed: Option<Action>, now: Instant) -> Vec<BeatStep> {
        let Some(action) = failed else {
            self.last_ok = now;
            return vec![BeatStep::Continue];
        };
        let mut steps = vec![match action {
            Action::Rejoin | Action::RetryNow => BeatStep::Rejoin { new_id: false },
            Action::RejoinAsNew => BeatStep::Rejoin { new_id: true },
            Action::FindCoordinator => BeatStep::FindCoordinator,
            Action::Backoff => BeatStep::Continue,
            Action::Fatal => BeatStep::Fatal,
        }];
        if now.saturating_duration_since(self.last_ok) >= self.session_timeout {
            steps.push(BeatStep::Rejoin { new_id: false });
        }
        steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_coordinators_join_again_answers_go_at_once_but_not_twice_in_a_row_and_never_count() {
        let t0 = Instant::now();
        let mut r = JoinRetries::new(0, Duration::from_millis(10));
        for a in [Action::RetryNow, Action::Rejoin, Action::RejoinAsNew] {
            assert_eq!(r.on_error(a, false, t0), JoinStep::Now, "{a:?}");
            assert_eq!(r.not_before(), None);
            // Asked again straight away: a pause, still no failure counted (the limit is 0).
            let JoinStep::After(wait) = r.on_error(a, false, t0) else { panic!("{a:?}: expected a pause") };
            assert!(wait <= Duration::from_millis(10));
            assert_eq!(r.not_before(), Some(t0 + wait));
        }
        // A REBALANCE_IN_PROGRESS after an unreachable coordinator is again worth going at once.
        let mut r = JoinRetries::new(5, Duration::from_millis(10));
        r.on_error(Action::FindCoordinator, false, t0);
        assert_eq!(r.on_error(Action::Rejoin, false, t0), JoinStep::Now);
    }

    #[test]
    fn failures_back_off_longer_up_to_a_second_then_give_up_after_the_limit() {
        let t0 = Instant::now();
        let mut r = JoinRetries::new(6, Duration::from_millis(100));
        let mut waits = Vec::new();
        for _ in 0..6 {
            match r.on_error(Action::FindCoordinator, false, t0) {
                JoinStep::After(wait) => waits.push(wait),
                other => panic!("expected a pause, got {other:?}"),
            }
        }
        for (i, w) in waits.iter().enumerate() {
            let full = Duration::from_millis(100 << i).min(Duration::from_secs(1));
            assert!(*w <= full && *w >= full * 8 / 10, "attempt {i}: {w:?}");
        }
        assert_eq!(r.on_error(Action::Backoff, false, t0), JoinStep::GiveUp);
        assert_eq!(r.not_before(), None, "giving up starts afresh");
        assert!(matches!(r.on_error(Action::Backoff, false, t0), JoinStep::After(_)));
    }

    #[test]
    fn fatal_errors_and_a_stopping_member_give_up_instead_of_retrying() {
        let t0 = Instant::now();
        let mut r = JoinRetries::new(5, Duration::from_millis(1));
        assert_eq!(r.on_error(Action::Fatal, false, t0), JoinStep::GiveUp);
        assert_eq!(r.on_error(Action::Rejoin, true, t0), JoinStep::GiveUp);
        assert_eq!(r.on_error(Action::RetryNow, true, t0), JoinStep::GiveUp);
    }

    #[test]
    fn heartbeat_outcomes_and_a_session_lost_to_silence() {
        let t0 = Instant::now();
        let session = Duration::from_secs(10);
        let mut h = HeartbeatTracker::new(session, t0);
        assert_eq!(h.on_beat(None, t0), vec![BeatStep::Continue]);
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(h.on_beat(Some(Action::Rejoin), t1), vec![BeatStep::Rejoin { new_id: false }]);
        assert_eq!(h.on_beat(Some(Action::RejoinAsNew), t1), vec![BeatStep::Rejoin { new_id: true }]);
        assert_eq!(h.on_beat(Some(Action::FindCoordinator), t1), vec![BeatStep::FindCoordinator]);
        assert_eq!(h.on_beat(Some(Action::Fatal), t1), vec![BeatStep::Fatal]);
        assert_eq!(h.on_beat(Some(Action::Backoff), t1), vec![BeatStep::Continue]);
        // Coordinator unreachable for a whole session: rejoin as well.
        let late = t0 + session;
        assert_eq!(
            h.on_beat(Some(Action::FindCoordinator), late),
            vec![BeatStep::FindCoordinator, BeatStep::Rejoin { new_id: false }]
        );
        // A success restarts the session clock; so does a pause (not stable).
        h.on_beat(None, late);
        assert_eq!(h.on_beat(Some(Action::Backoff), late + Duration::from_secs(1)), vec![BeatStep::Continue]);
        h.reset(late + session * 3);
        assert_eq!(h.on_beat(Some(Action::Backoff), late + session * 3), vec![BeatStep::Continue]);
    }
}
