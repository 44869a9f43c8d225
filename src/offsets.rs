//! Where a partition starts reading: PyKafka's `auto_offset_reset` / `reset_offset_on_start`
//! rules as a pure function, so they can be checked as a table without a broker.
//!
//! The rules (PyKafka's usage guide, "Setting the initial offset"):
//!
//! 1. `reset_offset_on_start = true`: start at `auto_offset_reset`.
//! 2. Otherwise, a consumer group with a committed offset `C` for the partition starts at `C`.
//!    Kafka stores the *next* offset to read, so the guide's "last committed offset 4 →
//!    consumption starts at 5" is this same rule: the consumer that read offset 4 committed 5.
//! 3. Otherwise (no group, or nothing committed): start at `auto_offset_reset`. PyKafka's own
//!    code reads a group-less consumer from offset 0; plainkafka follows the documented rule.
//!
//! Later, if the position falls outside the log while fetching (retention deleted it, the log
//! was truncated), the partition restarts at `auto_offset_reset` ([`StartRule::OutOfRange`]).

use std::fmt;

/// Where to start when no committed offset applies (PyKafka's `auto_offset_reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OffsetReset {
    /// The oldest offset still in the log (PyKafka's `OffsetType.EARLIEST`, its default).
    #[default]
    Earliest,
    /// The next offset to be written: only new messages (PyKafka's `OffsetType.LATEST`).
    Latest,
}

/// A position to move a partition to, for [`crate::SimpleConsumer::reset_offsets`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OffsetSpec {
    /// The oldest offset still in the log.
    Earliest,
    /// The next offset to be written.
    Latest,
    /// The first offset whose timestamp is at or after this many ms since the epoch (the log
    /// end if there is none).
    Timestamp(i64),
    /// This exact offset: the next one to read. (PyKafka's `reset_offsets` takes the *last
    /// consumed* offset and reads from N+1; plainkafka takes the next offset, so `Offset(5)`
    /// reads offset 5 first.)
    Offset(i64),
}

impl From<OffsetReset> for OffsetSpec {
    fn from(r: OffsetReset) -> OffsetSpec {
        match r {
            OffsetReset::Earliest => OffsetSpec::Earliest,
            OffsetReset::Latest => OffsetSpec::Latest,
        }
    }
}

/// Which rule chose a partition's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartRule {
    /// `reset_offset_on_start` was set: `auto_offset_reset` applied.
    ResetOnStart,
    /// The group's committed offset.
    Committed,
    /// The group had nothing committed for the partition: `auto_offset_reset` applied.
    NoCommittedOffset,
    /// The consumer has no group: `auto_offset_reset` applied.
    NoGroup,
    /// The position fell outside the log while fetching: `auto_offset_reset` applied.
    OutOfRange,
    /// The application called `reset_offsets`.
    Reset(OffsetSpec),
}

/// Why a partition starts where it does. Logged at info and exposed by the consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartDecision {
    /// The rule that applied.
    pub rule: StartRule,
    /// The `auto_offset_reset` in force.
    pub reset: OffsetReset,
    /// The committed offset seen, if a group was asked.
    pub committed: Option<i64>,
    /// The log start offset when the decision was made.
    pub log_start: i64,
    /// The high watermark (next offset to be written) when the decision was made.
    pub high_watermark: i64,
    /// The offset chosen: the next to read.
    pub offset: i64,
}

/// The start of a partition's log and its high watermark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogBounds {
    /// The oldest offset still in the log.
    pub log_start: i64,
    /// The next offset to be written; for a read_committed consumer, the last stable offset
    /// (where the oldest transaction still open begins): the end it can read to.
    pub high_watermark: i64,
}

/// Which records a consumer sees of transactional producers' (KIP-98).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum IsolationLevel {
    /// Every record, those of aborted transactions too; reads up to the high watermark.
    ReadUncommitted,
    /// Committed records only: aborted transactions are skipped, and reading stops at the last
    /// stable offset (a transaction still open holds back what follows it). The default, as in
    /// librdkafka: an aborted record was never meant to be read.
    #[default]
    ReadCommitted,
}

impl IsolationLevel {
    /// The wire value (Fetch and ListOffsets).
    pub(crate) fn wire(self) -> i8 {
        match self {
            IsolationLevel::ReadUncommitted => 0,
            IsolationLevel::ReadCommitted => 1,
        }
    }
}

impl LogBounds {
    fn at(self, reset: OffsetReset) -> i64 {
        match reset {
            OffsetReset::Earliest => self.log_start,
            OffsetReset::Latest => self.high_watermark,
        }
    }
}

/// Applies the start-offset rules. `committed` is `None` both when there is no group and when
/// the group has nothing committed; `has_group` tells them apart for the record.
pub fn decide_start(
    committed: Option<i64>,
    bounds: LogBounds,
    reset: OffsetReset,
    reset_offset_on_start: bool,
    has_group: bool,
) -> StartDecision {
    let (rule, offset) = if reset_offset_on_start {
        (StartRule::ResetOnStart, bounds.at(reset))
    } else if let Some(c) = committed.filter(|_| has_group) {
        (StartRule::Committed, c)
    } else if has_group {
        (StartRule::NoCommittedOffset, bounds.at(reset))
    } else {
        (StartRule::NoGroup, bounds.at(reset))
    };
    StartDecision { rule, reset, committed, log_start: bounds.log_start, high_watermark: bounds.high_watermark, offset }
}

/// The decision after the position fell out of range while fetching.
pub fn decide_out_of_range(bounds: LogBounds, reset: OffsetReset) -> StartDecision {
    StartDecision {
        rule: StartRule::OutOfRange,
        reset,
        committed: None,
        log_start: bounds.log_start,
        high_watermark: bounds.high_watermark,
        offset: bounds.at(reset),
    }
}

impl fmt::Display for StartRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartRule::ResetOnStart => write!(f, "reset_offset_on_start"),
            StartRule::Committed => write!(f, "committed offset"),
            StartRule::NoCommittedOffset => write!(f, "no committed offset"),
            StartRule::NoGroup => write!(f, "no consumer group"),
            StartRule::OutOfRange => write!(f, "offset out of range"),
            StartRule::Reset(spec) => write!(f, "reset to {spec:?}"),
        }
    }
}

impl fmt::Display for StartDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reset = match self.reset {
            OffsetReset::Earliest => "earliest",
            OffsetReset::Latest => "latest",
        };
        match self.rule {
            StartRule::Committed => write!(f, "committed offset {}", self.offset)?,
            StartRule::Reset(_) => write!(f, "{}", self.rule)?,
            _ => write!(f, "{} → auto_offset_reset={reset}", self.rule)?,
        }
        write!(f, "; log {}..{}", self.log_start, self.high_watermark)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OffsetReset::*;
    use StartRule::*;

    const B: LogBounds = LogBounds { log_start: 10, high_watermark: 50 };

    #[test]
    fn the_rules_as_a_table() {
        // (committed, reset, reset_on_start, has_group) -> (rule, offset)
        type Row = (Option<i64>, OffsetReset, bool, bool, StartRule, i64);
        let table: &[Row] = &[
            // New group: auto_offset_reset, whatever reset_offset_on_start says.
            (None, Earliest, false, true, NoCommittedOffset, 10),
            (None, Latest, false, true, NoCommittedOffset, 50),
            (None, Earliest, true, true, ResetOnStart, 10),
            (None, Latest, true, true, ResetOnStart, 50),
            // Existing group: the committed offset, unless reset_offset_on_start.
            (Some(20), Earliest, false, true, Committed, 20),
            (Some(20), Latest, false, true, Committed, 20),
            (Some(20), Earliest, true, true, ResetOnStart, 10),
            (Some(20), Latest, true, true, ResetOnStart, 50),
            // A committed offset outside the log is still where we start: the fetch's
            // OFFSET_OUT_OF_RANGE applies auto_offset_reset then.
            (Some(5), Latest, false, true, Committed, 5),
            // No group: auto_offset_reset (the guide's rule, not PyKafka's offset 0).
            (None, Earliest, false, false, NoGroup, 10),
            (None, Latest, false, false, NoGroup, 50),
            (None, Latest, true, false, ResetOnStart, 50),
        ];
        for &(committed, reset, on_start, group, rule, offset) in table {
            let d = decide_start(committed, B, reset, on_start, group);
            assert_eq!((d.rule, d.offset), (rule, offset), "{committed:?} {reset:?} {on_start} {group}");
            assert_eq!((d.log_start, d.high_watermark, d.committed), (10, 50, committed));
        }
    }

    #[test]
    fn the_guides_example_counts_in_messages() {
        // "if the last committed offset was 4, consumption starts at 5": the consumer that read
        // offset 4 committed 5 (next to read), and resuming starts there.
        let last_consumed = 4;
        let committed = last_consumed + 1;
        let d = decide_start(Some(committed), LogBounds { log_start: 0, high_watermark: 9 }, Earliest, false, true);
        assert_eq!(d.offset, 5);
    }

    #[test]
    fn out_of_range_applies_the_reset() {
        assert_eq!(decide_out_of_range(B, Earliest).offset, 10);
        assert_eq!(decide_out_of_range(B, Latest).offset, 50);
        assert_eq!(decide_out_of_range(B, Latest).rule, OutOfRange);
    }

    #[test]
    fn decisions_explain_themselves() {
        let d = decide_start(None, B, Latest, false, true);
        assert_eq!(d.to_string(), "no committed offset → auto_offset_reset=latest; log 10..50");
        let d = decide_start(Some(20), B, Latest, false, true);
        assert_eq!(d.to_string(), "committed offset 20; log 10..50");
    }
}
