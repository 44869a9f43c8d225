//! Retry decisions, as pure functions: how long to back off before attempt `n`. Every retry
//! loop in the crate uses [`Backoff`], with one of the caps below.

use std::time::Duration;

/// The cap for retried requests (metadata, offsets, commits, fetches, produces), as the Java
/// client's `retry.backoff.max.ms`: a retry loop checks at least once a second whether a new
/// leader was elected, so a failover costs the election and not a backoff on top.
pub const REQUEST_MAX: Duration = Duration::from_secs(1);
/// The cap while waiting for a new topic's leaders: they come within a second or two.
pub const TOPIC_READY_MAX: Duration = Duration::from_secs(1);

/// An exponential backoff policy: `base` doubling per attempt up to `max`, with jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first pause.
    pub base: Duration,
    /// The longest pause.
    pub max: Duration,
}

impl Backoff {
    /// A policy from `base` up to `max`.
    pub const fn new(base: Duration, max: Duration) -> Backoff {
        Backoff { base, max }
    }

    /// The pause before retry number `attempt` (0 for the first retry), jittered.
    pub fn delay(&self, attempt: u32) -> Duration {
        backoff(self.base, self.max, attempt, seed())
    }
}

/// Exponential backoff from `base`, doubling per attempt, capped at `max`, with up to 20%
/// jitter taken from `seed` so that several clients don't retry in lock-step.
pub fn backoff(base: Duration, max: Duration, attempt: u32, seed: u64) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.min(16));
    let capped = exp.min(max);
    // A cheap, deterministic jitter: tests pass the seed, callers pass something varying.
    let jitter_pct = (seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 59) as u32 % 21; // 0..=20
    capped - capped * jitter_pct / 100
}

/// A seed for [`backoff`] that differs between calls.
pub fn seed() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_and_caps_with_bounded_jitter() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        for seed in 0..50 {
            let b0 = backoff(base, max, 0, seed);
            assert!(b0 <= base && b0 >= base * 80 / 100, "{b0:?}");
            let b2 = backoff(base, max, 2, seed);
            assert!(b2 <= base * 4 && b2 >= base * 4 * 80 / 100, "{b2:?}");
            let b9 = backoff(base, max, 9, seed);
            assert!(b9 <= max && b9 >= max * 80 / 100, "{b9:?}");
        }
        assert_eq!(backoff(base, max, 40, 1), backoff(base, max, 16, 1), "huge attempt counts don't overflow");
    }
}
