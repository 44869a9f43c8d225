//! A member's transitions, with no sockets, threads or clock of their own: what a failed join
//! attempt leads to ([`JoinRetries`]) and what a heartbeat's outcome leads to
//! ([`HeartbeatTracker`]). `membership.rs` does the talking and follows these decisions; the
//! unit tests below walk each path.
//!
//! ```text
//!   join ──error──▶ RetryNow (MEMBER_ID_REQUIRED, once in a row) ──▶ join at once
//!        ──error──▶ RejoinAsNew / FindCoordinator / Rejoin / Backoff ──▶ join after a backoff,
//!                   up to rebalance_max_retries, or until stopped (the caller first forgets
//!                   the member id or the coordinator, as the action says)
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

/// Counts a join's failed attempts and decides each next step.
#[derive(Debug)]
pub(crate) struct JoinRetries {
    max_retries: u32,
    backoff: Backoff,
    failures: u32,
    /// The last attempt was retried at once (MEMBER_ID_REQUIRED): a broker that keeps asking
    /// gets the usual backoff and retry limit, not a tight loop.
    retried_now: bool,
}

impl JoinRetries {
    /// Up to `max_retries` retries, pausing from `base` (doubling, capped at
    /// [`retry::REJOIN_MAX`]).
    pub fn new(max_retries: u32, base: Duration) -> JoinRetries {
        JoinRetries { max_retries, backoff: Backoff::new(base, retry::REJOIN_MAX), failures: 0, retried_now: false }
    }

    /// The step after an attempt that failed with an error calling for `action`; `stopped`
    /// when the consumer is stopping.
    pub fn on_error(&mut self, action: Action, stopped: bool) -> JoinStep {
        let again_at_once = action == Action::RetryNow && !self.retried_now;
        self.retried_now = action == Action::RetryNow;
        if action == Action::Fatal {
            return JoinStep::GiveUp;
        }
        if again_at_once && !stopped {
            return JoinStep::Now;
        }
        self.failures += 1;
        if self.failures > self.max_retries || stopped {
            return JoinStep::GiveUp;
        }
        JoinStep::After(self.backoff.delay(self.failures - 1))
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
    fn member_id_required_is_retried_at_once_but_only_once_in_a_row() {
        let mut r = JoinRetries::new(3, Duration::from_millis(10));
        assert_eq!(r.on_error(Action::RetryNow, false), JoinStep::Now);
        // Asked again straight away: now it waits like any other failure.
        assert!(matches!(r.on_error(Action::RetryNow, false), JoinStep::After(_)));
        // After another kind of failure, MEMBER_ID_REQUIRED is again worth an immediate retry.
        r.on_error(Action::Rejoin, false);
        assert_eq!(r.on_error(Action::RetryNow, false), JoinStep::Now);
    }

    #[test]
    fn failures_back_off_longer_then_give_up_after_the_limit() {
        let mut r = JoinRetries::new(3, Duration::from_millis(100));
        let mut waits = Vec::new();
        for _ in 0..3 {
            match r.on_error(Action::Backoff, false) {
                JoinStep::After(wait) => waits.push(wait),
                other => panic!("expected a pause, got {other:?}"),
            }
        }
        for (i, w) in waits.iter().enumerate() {
            let full = Duration::from_millis(100 << i);
            assert!(*w <= full && *w >= full * 8 / 10, "attempt {i}: {w:?}");
        }
        assert_eq!(r.on_error(Action::Backoff, false), JoinStep::GiveUp);
    }

    #[test]
    fn every_action_but_fatal_is_retried() {
        let step = |a| JoinRetries::new(5, Duration::from_millis(1)).on_error(a, false);
        for a in [Action::RejoinAsNew, Action::FindCoordinator, Action::Rejoin, Action::Backoff] {
            assert!(matches!(step(a), JoinStep::After(_)), "{a:?}");
        }
        assert_eq!(step(Action::Fatal), JoinStep::GiveUp);
    }

    #[test]
    fn a_stopping_member_gives_up_instead_of_retrying() {
        let mut r = JoinRetries::new(5, Duration::from_millis(1));
        assert_eq!(r.on_error(Action::Rejoin, true), JoinStep::GiveUp);
        assert_eq!(JoinRetries::new(5, Duration::from_millis(1)).on_error(Action::RetryNow, true), JoinStep::GiveUp);
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
