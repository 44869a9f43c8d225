//! One partition's read position as a state machine with no sockets, threads or clock of its
//! own: the fetcher asks each partition what it [needs](Part::need) and feeds back what
//! happened (`on_start`, `on_data`, `on_out_of_range`, `on_failure`); `now` is always passed
//! in. The unit tests below walk every transition.
//!
//! ```text
//!   Unresolved ──(start rules: OffsetFetch + ListOffsets)──▶ At(offset) ──fetch──▶ At(next)
//!                                                            │   ▲
//!                          OFFSET_OUT_OF_RANGE, reset on ────┘   │ (auto_offset_reset)
//!                          fetch ──▶ OutOfRange ─────────────────┘
//!   At ──(bad data, a batch over the size limit, out of range with
//!         reset_offset_on_fetch off, a non-retriable error)──▶ Failed
//!   any ──reset_offsets──▶ At(new offset)     (epoch bumped: in-flight results are dropped)
//! ```
//!
//! Every request is planned under a [`Ticket`] (the epoch and offset it was planned at); an
//! answer whose ticket no longer matches (a reset happened meanwhile) is ignored.

use crate::error::{Error, Retry};
use crate::offsets::StartDecision;
use crate::protocol::codec::{DecodeError, DecodeErrorKind};
use crate::protocol::records::{Record, RecordsError, RecordsErrorKind, RecordsSummary};
use crate::retry::Backoff;
use std::collections::VecDeque;
use std::time::Instant;

/// Where a partition reads next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Position {
    /// The start rules have not run yet.
    Unresolved,
    /// The position fell out of range; `auto_offset_reset` must be looked up.
    OutOfRange,
    /// The next offset to fetch.
    At(i64),
    /// Stopped after an error the application must see; waits for `reset_offsets`.
    Failed,
}

/// What a partition asks of its fetcher now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Nothing: failed, or its queue is full.
    Nothing,
    /// Nothing before this instant (backing off after an error).
    WaitUntil(Instant),
    /// Its start offset (or, after OFFSET_OUT_OF_RANGE, its reset offset) must be looked up.
    Resolve { out_of_range: bool },
    /// A fetch from `offset` of at most `max_bytes`.
    Fetch { offset: i64, max_bytes: usize },
}

/// Identifies the state a request was planned in, so its answer applies only to that state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    pub epoch: u64,
    /// The offset fetched from (for fetches).
    pub offset: i64,
}

/// Limits from the consumer's configuration that the machine applies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// How many messages a partition's queue may hold before fetching pauses.
    pub queued_max_messages: usize,
    /// How many bytes of messages a partition's queue may hold before fetching pauses.
    pub queued_max_bytes: usize,
    /// How many bytes all partitions' queues may hold before fetching pauses for all.
    pub queued_max_bytes_total: usize,
    /// The most one Fetch answer may carry.
    pub fetch_max_bytes: usize,
    /// The most the per-partition fetch size may grow to for one large batch.
    pub fetch_size_limit: usize,
    /// On OFFSET_OUT_OF_RANGE: reset (true) or fail the partition (false).
    pub reset_on_fetch: bool,
}

/// What an answer did, for the fetcher to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Applied {
    /// The application has something new to see: messages or an error.
    pub wake_application: bool,
    /// The answer was stale (the partition was reset since) and was ignored.
    pub stale: bool,
}

/// One partition's state.
#[derive(Debug)]
pub(crate) struct Part {
    pub partition: i32,
    pub position: Position,
    /// Bumped by every reset, so that results of requests sent before it are dropped.
    pub epoch: u64,
    pub queue: VecDeque<Record>,
    /// The memory `queue` holds, about: keys, values and a record's own size each. Zero once
    /// the application takes the queue.
    pub queued_bytes: usize,
    pub error: Option<Error>,
    pub decision: Option<StartDecision>,
    pub high_watermark: i64,
    pub fetch_size: usize,
    /// Don't fetch or resolve before this (after a retriable error).
    pub retry_at: Option<Instant>,
    pub failures: u32,
    /// The leader epoch of the last record queued, -1 if unknown: sent with each Fetch so the
    /// leader can say when its log diverged from what was read (KIP-320).
    pub last_epoch: i32,
}

/// About how much memory a queued record holds: its key and value (they share the fetch
/// buffer, which lives as long as any of its records) and the record itself.
pub(crate) fn footprint(r: &Record) -> usize {
    let len = |range: Option<(u32, u32)>| range.map_or(0, |(a, b)| b.saturating_sub(a) as usize);
    len(r.key) + len(r.value) + std::mem::size_of::<Record>()
}

/// The next per-partition fetch size when a fetch brought only part of a batch of `needed`
/// bytes: at least double, at least `needed`, at most `limit`; `None` once `limit` is reached.
/// (Brokers that honour KIP-74 return whole batches; this covers those that cut them.)
fn grow_fetch_size(current: usize, needed: usize, limit: usize) -> Option<usize> {
    (current < limit).then(|| needed.max(current.saturating_mul(2)).min(limit))
}

impl Part {
    pub fn new(partition: i32, fetch_size: usize) -> Part {
        Part {
            partition,
            position: Position::Unresolved,
            epoch: 0,
            queue: VecDeque::new(),
            queued_bytes: 0,
            error: None,
            decision: None,
            high_watermark: -1,
            fetch_size,
            retry_at: None,
            failures: 0,
            last_epoch: -1,
        }
    }

    /// What this partition needs at `now`.
    pub fn need(&self, now: Instant, limits: &Limits) -> Need {
        if let Some(at) = self.retry_at.filter(|at| *at > now) {
            if self.position != Position::Failed {
                return Need::WaitUntil(at);
            }
        }
        match self.position {
            Position::Unresolved => Need::Resolve { out_of_range: false },
            Position::OutOfRange => Need::Resolve { out_of_range: true },
            Position::At(offset)
                if self.queue.len() < limits.queued_max_messages && self.queued_bytes < limits.queued_max_bytes =>
            {
                Need::Fetch { offset, max_bytes: self.fetch_size }
            }
            Position::At(_) | Position::Failed => Need::Nothing,
        }
    }

    /// The ticket for a request planned now at `offset`.
    pub fn ticket(&self, offset: i64) -> Ticket {
        Ticket { epoch: self.epoch, offset }
    }

    fn current(&self, t: Ticket) -> bool {
        self.epoch == t.epoch
    }

    /// The start (or reset) offset was decided.
    pub fn on_start(&mut self, t: Ticket, decision: StartDecision, high_watermark: i64) -> Applied {
        if !self.current(t) {
            return Applied { stale: true, ..Applied::default() };
        }
        // A reset after OFFSET_OUT_OF_RANGE may land below records still queued (the log was
        // cut back, or `latest` is now lower): those would be handed out twice, or be records
        // the log no longer holds. Found by the property test below.
        self.queue.retain(|r| r.offset < decision.offset);
        self.queued_bytes = self.queue.iter().map(footprint).sum();
        self.position = Position::At(decision.offset);
        self.last_epoch = -1;
        self.decision = Some(decision);
        self.high_watermark = high_watermark;
        self.succeeded();
        Applied { wake_application: true, stale: false }
    }

    /// A fetch answered with data: `records` decoded from it (those at or past the fetch
    /// offset) and the decoder's verdict.
    pub fn on_data(
        &mut self,
        t: Ticket,
        high_watermark: i64,
        records: Vec<Record>,
        decoded: Result<RecordsSummary, RecordsError>,
        limits: &Limits,
        topic: &str,
    ) -> Applied {
        if !self.current(t) || self.position != Position::At(t.offset) {
            return Applied { stale: true, ..Applied::default() };
        }
        self.high_watermark = high_watermark;
        self.succeeded();
        let delivered = records.last().map(|r| r.offset + 1);
        let had_records = !records.is_empty();
        if let Some(last) = records.last() {
            self.last_epoch = last.leader_epoch;
        }
        self.queued_bytes += records.iter().map(footprint).sum::<usize>();
        if self.queue.capacity() == 0 {
            // A queue without a buffer (the application took it): the decoded vector becomes
            // the queue, no second buffer grown record by record. A buffer handed back (one
            // partition: see the engine) is filled instead.
            self.queue = records.into();
        } else {
            self.queue.extend(records);
        }
        match decoded {
            Ok(summary) => {
                let next = match (summary.next_offset, delivered) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
                if let Some(next) = next {
                    if next > t.offset || had_records {
                        // Never backwards, whatever the batch claims.
                        self.position = Position::At(next.max(t.offset));
                    } else {
                        // Whole batches that end at or before the fetch offset: fetching again
                        // would bring the same, in a loop that reads nothing. Kafka never
                        // answers so; a broker that does gets a clear error.
                        let why = format!("the batches end at offset {next}, not past the fetch offset {}", t.offset);
                        let kind = DecodeErrorKind::Invalid(why);
                        let source = RecordsError {
                            offset: t.offset,
                            kind: RecordsErrorKind::Malformed(DecodeError { what: "fetched batches", at: 0, kind }),
                        };
                        log::error!("{topic}/{}: {source}", self.partition);
                        self.fail(Error::Records { topic: topic.to_string(), partition: self.partition, source });
                    }
                } else if let Some(need) = summary.first_batch_size {
                    match grow_fetch_size(self.fetch_size, need, limits.fetch_size_limit) {
                        Some(grown) => {
                            log::info!(
                                "{topic}/{}: batch at {} needs {need} bytes; fetch size {} -> {grown}",
                                self.partition,
                                t.offset,
                                self.fetch_size
                            );
                            self.fetch_size = grown;
                        }
                        None => self.fail(Error::RecordTooLarge {
                            topic: topic.to_string(),
                            partition: self.partition,
                            offset: t.offset,
                            size: need,
                            max: limits.fetch_size_limit,
                        }),
                    }
                }
            }
            Err(e) => {
                log::error!("{topic}/{}: {e}", self.partition);
                self.fail(Error::Records { topic: topic.to_string(), partition: self.partition, source: e });
            }
        }
        Applied { wake_application: had_records || self.error.is_some(), stale: false }
    }

    /// The leader's log diverged from what was read: the last fetched epoch ends at
    /// `end_offset` there (KIP-320). Past the position, nothing was lost: go on from
    /// `end_offset` with that epoch. Below it, the log was cut back: records queued past
    /// `end_offset` are dropped, and the position moves back to it (with a warning, as the
    /// Java client does with a reset policy), or the partition fails with
    /// [`Error::LogTruncated`] when `reset_offset_on_fetch` is off.
    pub fn on_diverged(&mut self, t: Ticket, epoch: i32, end_offset: i64, limits: &Limits, topic: &str) -> Applied {
        if !self.current(t) || self.position != Position::At(t.offset) {
            return Applied { stale: true, ..Applied::default() };
        }
        self.succeeded();
        self.last_epoch = epoch;
        if end_offset >= t.offset || end_offset < 0 {
            return Applied::default();
        }
        if !limits.reset_on_fetch {
            self.fail(Error::LogTruncated {
                topic: topic.to_string(),
                partition: self.partition,
                offset: t.offset,
                end_offset,
            });
            return Applied { wake_application: true, stale: false };
        }
        let before = self.queue.len();
        self.queue.retain(|r| r.offset < end_offset);
        self.queued_bytes = self.queue.iter().map(footprint).sum();
        log::warn!(
            "{topic}/{}: the leader's log was cut back to offset {end_offset} (epoch {epoch} ends there), below the \
             position {}; going on from {end_offset} ({} queued records past it dropped; any already handed out are gone \
             from the log)",
            self.partition,
            t.offset,
            before - self.queue.len()
        );
        self.position = Position::At(end_offset);
        Applied::default()
    }

    /// The fetch offset is outside the log.
    pub fn on_out_of_range(&mut self, t: Ticket, limits: &Limits, topic: &str) -> Applied {
        if !self.current(t) {
            return Applied { stale: true, ..Applied::default() };
        }
        if limits.reset_on_fetch {
            log::warn!("{topic}/{}: offset {} is out of range; applying auto_offset_reset", self.partition, t.offset);
            self.position = Position::OutOfRange;
        } else {
            self.fail(Error::OffsetOutOfRange {
                topic: topic.to_string(),
                partition: self.partition,
                offset: t.offset,
            });
        }
        Applied { wake_application: true, stale: false }
    }

    /// A request for this partition failed with `e`: back off if it may pass, otherwise fail
    /// the partition so the application sees the error.
    pub fn on_failure(&mut self, t: Ticket, e: &Error, backoff: &Backoff, now: Instant) -> Applied {
        // A Fetch for an offset the partition has moved past failed late (its broker hung
        // while another thread fetched from the new leader): nothing to back off from.
        let moved_on = matches!(self.position, Position::At(o) if t.offset >= 0 && o != t.offset);
        if !self.current(t) || moved_on {
            return Applied { stale: true, ..Applied::default() };
        }
        if e.retry() == Retry::Never {
            self.fail(e.clone());
            return Applied { wake_application: true, stale: false };
        }
        self.retry_at = Some(now + backoff.delay(self.failures));
        self.failures = self.failures.saturating_add(1);
        Applied::default()
    }

    fn fail(&mut self, e: Error) {
        self.position = Position::Failed;
        self.error = Some(e);
    }

    /// Clears the backoff after a success.
    fn succeeded(&mut self) {
        self.failures = 0;
        self.retry_at = None;
    }

    /// Moves to `offset` (`reset_offsets`, or a kept partition carried into a new engine),
    /// dropping everything queued or in flight.
    pub fn jump(&mut self, offset: i64, decision: StartDecision) {
        self.position = Position::At(offset);
        self.last_epoch = -1;
        self.decision = Some(decision);
        self.epoch += 1;
        self.queue.clear();
        self.queued_bytes = 0;
        self.error = None;
        self.succeeded();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offsets::{decide_start, LogBounds, OffsetReset};
    use crate::protocol::error_code::ErrorCode;
    use crate::protocol::records::TimestampType;
    use crate::protocol::ApiKey;
    use std::sync::Arc;
    use std::time::Duration;

    const LIMITS: Limits = Limits {
        queued_max_messages: 3,
        queued_max_bytes: 1 << 20,
        queued_max_bytes_total: 1 << 30,
        fetch_max_bytes: 1 << 20,
        fetch_size_limit: 10_000,
        reset_on_fetch: true,
    };

    fn decision(offset: i64) -> StartDecision {
        let bounds = LogBounds { log_start: 0, high_watermark: 100 };
        let mut d = decide_start(None, bounds, OffsetReset::Earliest, false, false);
        d.offset = offset;
        d
    }

    fn record(offset: i64) -> Record {
        Record {
            offset,
            timestamp: 0,
            timestamp_type: TimestampType::CreateTime,
            key: None,
            value: None,
            headers: Vec::new(),
            leader_epoch: -1,
            buf: Arc::new(Vec::new()),
        }
    }

    fn summary(next: Option<i64>, partial: Option<usize>) -> Result<RecordsSummary, RecordsError> {
        Ok(RecordsSummary { next_offset: next, first_batch_size: partial })
    }

    fn broker(code: ErrorCode) -> Error {
        Error::broker(ApiKey::Fetch, code, crate::error::Context::partition("t", 0), None)
    }

    fn started(at: i64) -> Part {
        let mut p = Part::new(0, 1000);
        let t = p.ticket(-1);
        p.on_start(t, decision(at), 100);
        p
    }

    #[test]
    fn resolves_first_then_fetches_from_the_decided_offset() {
        let now = Instant::now();
        let mut p = Part::new(0, 1000);
        assert_eq!(p.need(now, &LIMITS), Need::Resolve { out_of_range: false });
        let t = p.ticket(-1);
        assert!(p.on_start(t, decision(42), 100).wake_application);
        assert_eq!(p.need(now, &LIMITS), Need::Fetch { offset: 42, max_bytes: 1000 });
        assert_eq!(p.high_watermark, 100);
        assert_eq!(p.decision.map(|d| d.offset), Some(42));
    }

    #[test]
    fn data_advances_past_the_last_batch_and_queues_records() {
        let mut p = started(10);
        let t = p.ticket(10);
        let a = p.on_data(t, 20, vec![record(10), record(11)], summary(Some(15), None), &LIMITS, "t");
        assert!(a.wake_application);
        // next_offset covers control batches past the last record.
        assert_eq!(p.position, Position::At(15));
        assert_eq!(p.queue.len(), 2);
        assert_eq!(p.high_watermark, 20);
        // An empty answer wakes no one and stays put.
        let t = p.ticket(15);
        let a = p.on_data(t, 20, vec![], summary(None, None), &LIMITS, "t");
        assert!(!a.wake_application);
        assert_eq!(p.position, Position::At(15));
        // Batches that end before the fetch offset make no progress: an error, not a loop.
        let a = p.on_data(p.ticket(15), 20, vec![], summary(Some(15), None), &LIMITS, "t");
        assert!(a.wake_application && !a.stale);
        assert_eq!(p.position, Position::Failed);
        assert!(matches!(&p.error, Some(Error::Records { source, .. }) if source.offset == 15), "{:?}", p.error);
        assert_eq!(p.need(Instant::now(), &LIMITS), Need::Nothing, "not fetched again");
    }

    #[test]
    fn a_late_failure_of_a_fetch_the_partition_moved_past_is_ignored() {
        let now = Instant::now();
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let mut p = started(10);
        // Two Fetches at 10: one to a broker that hangs, one (another thread) to the new leader.
        let hung = p.ticket(10);
        p.on_data(p.ticket(10), 20, vec![record(10)], summary(Some(11), None), &LIMITS, "t");
        let timed_out = Error::Timeout { broker: "b".into(), api: Some(ApiKey::Fetch), after: Duration::from_secs(5) };
        assert!(p.on_failure(hung, &timed_out, &backoff, now).stale);
        assert_eq!(p.need(now, &LIMITS), Need::Fetch { offset: 11, max_bytes: 1000 }, "no backoff");
        // A failure of the current Fetch still backs off.
        assert!(!p.on_failure(p.ticket(11), &timed_out, &backoff, now).stale);
        assert!(matches!(p.need(now, &LIMITS), Need::WaitUntil(_)));
    }

    #[test]
    fn a_divergence_past_the_position_goes_on_and_one_below_moves_back_or_fails() {
        let mut p = started(10);
        p.on_data(p.ticket(10), 20, vec![record(10), record(11)], summary(Some(12), None), &LIMITS, "t");
        // The last fetched epoch ends past the position: nothing was lost.
        assert!(!p.on_diverged(p.ticket(12), 2, 30, &LIMITS, "t").wake_application);
        assert_eq!((p.position, p.last_epoch), (Position::At(12), 2));
        // It ends below: the queued record past it goes, the position moves back.
        p.on_diverged(p.ticket(12), 2, 11, &LIMITS, "t");
        assert_eq!(p.position, Position::At(11));
        assert_eq!(p.queue.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![10]);
        // With reset_offset_on_fetch off, the application hears of it instead.
        let strict = Limits { reset_on_fetch: false, ..LIMITS };
        let a = p.on_diverged(p.ticket(11), 2, 5, &strict, "t");
        assert!(a.wake_application);
        assert!(matches!(p.error, Some(Error::LogTruncated { offset: 11, end_offset: 5, .. })), "{:?}", p.error);
        // An answer to an older fetch is stale.
        assert!(p.on_diverged(p.ticket(12), 2, 5, &LIMITS, "t").stale);
    }

    #[test]
    fn a_full_queue_pauses_fetching() {
        let now = Instant::now();
        let mut p = started(0);
        let recs = (0..3).map(record).collect();
        p.on_data(p.ticket(0), 3, recs, summary(Some(3), None), &LIMITS, "t");
        assert_eq!(p.need(now, &LIMITS), Need::Nothing);
        p.queue.pop_front();
        assert_eq!(p.need(now, &LIMITS), Need::Fetch { offset: 3, max_bytes: 1000 });
        // Bytes pause it too: one record is enough to fill a tiny byte budget.
        let tiny = Limits { queued_max_bytes: 10, ..LIMITS };
        let mut p = started(0);
        p.on_data(p.ticket(0), 1, vec![record(0)], summary(Some(1), None), &tiny, "t");
        assert!(p.queued_bytes >= std::mem::size_of::<Record>());
        assert_eq!(p.need(now, &tiny), Need::Nothing);
        // Taking the queue (as the application does) frees the budget.
        p.queue.clear();
        p.queued_bytes = 0;
        assert_eq!(p.need(now, &tiny), Need::Fetch { offset: 1, max_bytes: 1000 });
    }

    #[test]
    fn a_partial_batch_grows_the_fetch_size_then_fails_at_the_limit() {
        let now = Instant::now();
        let mut p = started(0);
        p.on_data(p.ticket(0), 5, vec![], summary(None, Some(4000)), &LIMITS, "t");
        assert_eq!(p.need(now, &LIMITS), Need::Fetch { offset: 0, max_bytes: 4000 });
        p.on_data(p.ticket(0), 5, vec![], summary(None, Some(50_000)), &LIMITS, "t");
        assert_eq!(p.fetch_size, 10_000);
        let a = p.on_data(p.ticket(0), 5, vec![], summary(None, Some(50_000)), &LIMITS, "t");
        assert!(a.wake_application);
        assert_eq!(p.position, Position::Failed);
        assert!(matches!(p.error, Some(Error::RecordTooLarge { size: 50_000, max: 10_000, .. })));
        assert_eq!(p.need(now, &LIMITS), Need::Nothing);
    }

    #[test]
    fn bad_data_fails_the_partition_after_queueing_what_was_good() {
        let mut p = started(0);
        let bad = Err(RecordsError { offset: 1, kind: RecordsErrorKind::CrcMismatch { stored: 1, computed: 2 } });
        let a = p.on_data(p.ticket(0), 5, vec![record(0)], bad, &LIMITS, "t");
        assert!(a.wake_application);
        assert_eq!(p.queue.len(), 1, "records before the bad batch are still delivered");
        assert_eq!(p.position, Position::Failed);
        assert!(matches!(p.error, Some(Error::Records { partition: 0, .. })));
    }

    #[test]
    fn out_of_range_resets_or_fails_as_configured() {
        let now = Instant::now();
        let mut p = started(7);
        p.on_out_of_range(p.ticket(7), &LIMITS, "t");
        assert_eq!(p.need(now, &LIMITS), Need::Resolve { out_of_range: true });
        let strict = Limits { reset_on_fetch: false, ..LIMITS };
        let mut p = started(7);
        let a = p.on_out_of_range(p.ticket(7), &strict, "t");
        assert!(a.wake_application);
        assert!(matches!(p.error, Some(Error::OffsetOutOfRange { offset: 7, .. })));
        assert_eq!(p.need(now, &strict), Need::Nothing);
    }

    #[test]
    fn retriable_failures_back_off_longer_each_time_and_success_clears_it() {
        let now = Instant::now();
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let mut p = started(0);
        let mut waits = Vec::new();
        for _ in 0..4 {
            p.on_failure(p.ticket(0), &broker(ErrorCode::NOT_LEADER_OR_FOLLOWER), &backoff, now);
            match p.need(now, &LIMITS) {
                Need::WaitUntil(at) => waits.push(at - now),
                other => panic!("expected a wait, got {other:?}"),
            }
        }
        // 100, 200, 400, 800 ms, each with up to 20% jitter off.
        for (i, w) in waits.iter().enumerate() {
            let full = Duration::from_millis(100 << i);
            assert!(*w <= full && *w >= full * 8 / 10, "wait {i}: {w:?}");
        }
        assert_eq!(p.position, Position::At(0), "a retriable error keeps the position");
        // Once the wait is over it fetches again; a success resets the backoff.
        let later = now + Duration::from_secs(1);
        assert_eq!(p.need(later, &LIMITS), Need::Fetch { offset: 0, max_bytes: 1000 });
        p.on_data(p.ticket(0), 1, vec![], summary(None, None), &LIMITS, "t");
        assert_eq!((p.failures, p.retry_at), (0, None));
    }

    /// Records queued before an out-of-range reset that lands below them are not handed out
    /// again: the reset position's records come from the log.
    #[test]
    fn a_reset_below_queued_records_drops_them() {
        let mut p = started(0);
        let recs = vec![record(0), record(1), record(2)];
        p.on_data(p.ticket(0), 3, recs, summary(Some(3), None), &LIMITS, "t");
        p.on_out_of_range(p.ticket(3), &LIMITS, "t");
        assert_eq!(p.position, Position::OutOfRange);
        p.on_start(p.ticket(-1), decision(1), 1);
        assert_eq!(p.queue.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![0]);
        assert_eq!(p.queued_bytes, footprint(&p.queue[0]));
        assert_eq!(p.position, Position::At(1));
    }

    #[test]
    fn a_fatal_error_reaches_the_application() {
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let mut p = started(0);
        let a = p.on_failure(p.ticket(0), &broker(ErrorCode::TOPIC_AUTHORIZATION_FAILED), &backoff, Instant::now());
        assert!(a.wake_application);
        assert_eq!(p.position, Position::Failed);
        assert_eq!(p.error.as_ref().and_then(Error::code), Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED));
    }

    #[test]
    fn answers_planned_before_a_reset_are_ignored() {
        let now = Instant::now();
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let mut p = started(0);
        let old = p.ticket(0);
        p.queue.push_back(record(0));
        p.jump(50, decision(50));
        assert!(p.queue.is_empty(), "a jump drops what was queued");
        assert!(p.on_data(old, 9, vec![record(0)], summary(Some(1), None), &LIMITS, "t").stale);
        assert!(p.on_out_of_range(old, &LIMITS, "t").stale);
        assert!(p.on_failure(old, &broker(ErrorCode::TOPIC_AUTHORIZATION_FAILED), &backoff, now).stale);
        assert!(p.on_start(old, decision(3), 9).stale);
        assert_eq!(p.need(now, &LIMITS), Need::Fetch { offset: 50, max_bytes: 1000 });
        assert!(p.queue.is_empty());
        // A fetch answered for an offset the partition has moved past is stale too.
        assert!(p.on_data(p.ticket(40), 9, vec![record(40)], summary(Some(41), None), &LIMITS, "t").stale);
    }

    #[test]
    fn fetch_size_grows_to_the_batch_then_stops_at_the_limit() {
        // (current, needed, limit) -> next
        let table = [
            (1000, 50_000, 1 << 20, Some(50_000)), // straight to what the batch needs
            (1000, 1500, 1 << 20, Some(2000)),     // at least double, to avoid creeping
            (1000, 50_000, 10_000, Some(10_000)),  // capped at the limit...
            (10_000, 50_000, 10_000, None),        // ...and past it the batch can't be read
            (usize::MAX / 2 + 1, usize::MAX, usize::MAX, Some(usize::MAX)),
        ];
        for (current, needed, limit, next) in table {
            assert_eq!(grow_fetch_size(current, needed, limit), next, "{current} {needed} {limit}");
        }
    }
}

/// Feeds `records` (the records section of a Fetch answer, as a broker might send it) to a
/// partition fetching from `fetch_offset`, as the fetcher would, and checks what must hold for
/// any input: no panic, the position never moves backwards, and an answer either advances the
/// position, fails the partition with an error, or leaves it to fetch again (an empty or
/// partial answer). With `fix_checksums`, the CRC of every v2 batch is made right first, so
/// that mutated headers reach the decoder's checks instead of stopping at the checksum.
///
/// For the fuzz targets (feature `unstable`) and the unit tests below.
#[cfg(any(test, feature = "unstable"))]
pub fn check_fetch_answer(records: &[u8], fetch_offset: i64, fix_checksums: bool) -> Result<(), String> {
    use crate::protocol::records;
    use std::sync::Arc;
    let mut data = records.to_vec();
    if fix_checksums {
        fix_v2_checksums(&mut data);
    }
    let fetch_offset = fetch_offset.clamp(0, i64::MAX - 1);
    let limits = Limits {
        queued_max_messages: 1 << 20,
        queued_max_bytes: 1 << 30,
        queued_max_bytes_total: 1 << 30,
        fetch_max_bytes: 1 << 30,
        fetch_size_limit: 1 << 26,
        reset_on_fetch: true,
    };
    let mut p = Part::new(0, 1 << 20);
    p.position = Position::At(fetch_offset);
    let t = p.ticket(fetch_offset);
    let buf = Arc::new(data);
    let mut recs = Vec::new();
    let decoded = records::decode(&buf, fetch_offset, &mut recs);
    if let Some(r) = recs.iter().find(|r| r.offset < fetch_offset) {
        return Err(format!("a record at {} below the fetch offset {fetch_offset}", r.offset));
    }
    let n = recs.len();
    p.on_data(t, 0, recs, decoded, &limits, "fuzz");
    match p.position {
        Position::At(o) if o < fetch_offset => Err(format!("moved back from {fetch_offset} to {o}")),
        Position::At(o) if o == fetch_offset && n > 0 => Err("records delivered, position unchanged".into()),
        Position::Failed if p.error.is_none() => Err("failed without an error".into()),
        _ => Ok(()),
    }
}

/// Recomputes the CRC-32C of every complete v2 batch in `data`.
/// One event a partition's machine may see, as the fetcher and the application cause them.
#[cfg(any(test, feature = "unstable"))]
#[derive(Debug, Clone)]
pub(crate) enum Event {
    /// The start (or reset) offset was decided.
    Start { offset: i64, high_watermark: i64 },
    /// A fetch answered: `count` records in one batch at the fetch offset + `shift` (0..=5
    /// records; the shift may put them below the offset), or a corrupt batch.
    Data { shift: i8, count: u8, corrupt: bool },
    /// OFFSET_OUT_OF_RANGE.
    OutOfRange,
    /// A request failed, retriably or not.
    Failure { fatal: bool },
    /// The leader's log diverged: the last fetched epoch ends at the fetch offset + `shift`.
    Diverged { epoch: i32, shift: i64 },
    /// `reset_offsets`, or a partition carried into a new engine.
    Jump { offset: i64 },
    /// The application takes the queue (and an error), as the engine does.
    Take,
}

/// Reads a script of events from bytes (for the fuzz target): each event is a tag byte and
/// its arguments; `stale` events (the tag's high bit) come with a ticket from before the last
/// reset, as answers to requests that were in flight.
#[cfg(any(test, feature = "unstable"))]
fn parse_events(bytes: &[u8]) -> Vec<(Event, bool)> {
    let mut d = crate::protocol::codec::Decoder::new(bytes);
    let mut out = Vec::new();
    while let Ok(tag) = d.i8() {
        let tag = tag as u8;
        let event = match tag & 0x07 {
            0 => d.i64().and_then(|o| Ok(Event::Start { offset: o, high_watermark: d.i64()? })),
            1 => d.i8().and_then(|s| Ok(Event::Data { shift: s, count: d.i8()? as u8 % 6, corrupt: tag & 0x10 != 0 })),
            2 => Ok(Event::OutOfRange),
            3 => Ok(Event::Failure { fatal: tag & 0x10 != 0 }),
            4 => d.i32().and_then(|e| Ok(Event::Diverged { epoch: e, shift: d.i64()? })),
            5 => d.i64().map(|o| Event::Jump { offset: o }),
            _ => Ok(Event::Take),
        };
        let Ok(event) = event else { break };
        out.push((event, tag & 0x80 != 0));
    }
    out
}

/// Drives one partition's machine through `bytes` read as a script of events (each a tag
/// byte, its low 3 bits the event: 0 start at an offset, 1 fetched data, 2 out of range, 3 a
/// failure, 4 a diverged log, 5 a reset, else the application taking the queue; its high bit
/// a stale ticket; then the event's arguments), with the tickets the fetcher would hold, and
/// checks after every step what must
/// hold whatever happens: queued offsets strictly rise and lie below the position, the byte
/// count matches the queue, a partition that fails has an error for the application, data never
/// moves the position back, and a stale answer changes nothing.
///
/// For the fuzz targets (feature `unstable`) and the property tests below.
#[cfg(any(test, feature = "unstable"))]
pub fn check_position_machine(bytes: &[u8]) -> Result<(), String> {
    run_events(&parse_events(bytes))
}

#[cfg(any(test, feature = "unstable"))]
pub(crate) fn run_events(events: &[(Event, bool)]) -> Result<(), String> {
    use crate::protocol::codec::Encoder;
    use crate::protocol::records::{self, encode_batch_v2, BatchSpec, RecordSpec};
    use std::sync::Arc;
    let limits = Limits {
        queued_max_messages: 8,
        queued_max_bytes: 1 << 20,
        queued_max_bytes_total: 1 << 20,
        fetch_max_bytes: 1 << 20,
        fetch_size_limit: 1 << 16,
        reset_on_fetch: true,
    };
    let backoff = Backoff::new(std::time::Duration::from_millis(1), std::time::Duration::from_millis(8));
    let decision = |offset: i64| {
        let bounds = crate::offsets::LogBounds { log_start: 0, high_watermark: offset };
        let mut d = crate::offsets::decide_start(None, bounds, crate::offsets::OffsetReset::Earliest, false, false);
        d.offset = offset;
        d
    };
    let mut p = Part::new(0, 1 << 12);
    for (step, (event, stale)) in events.iter().enumerate() {
        let fetch_offset = match p.position {
            Position::At(o) => o,
            _ => -1,
        };
        let mut ticket = p.ticket(fetch_offset);
        if *stale {
            // Planned before the last reset (or at an offset since left behind).
            ticket = Ticket { epoch: ticket.epoch.wrapping_sub(1), offset: ticket.offset };
        }
        let before = (p.position, p.queue.len(), p.error.is_some(), p.epoch);
        let applied = match event.clone() {
            Event::Start { offset, high_watermark } => {
                if !matches!(p.position, Position::Unresolved | Position::OutOfRange) && !stale {
                    continue; // the fetcher resolves only partitions that need it
                }
                Some(p.on_start(ticket, decision(offset.max(0)), high_watermark))
            }
            Event::Data { shift, count, corrupt } => {
                if fetch_offset < 0 {
                    continue;
                }
                let base = fetch_offset.saturating_add(i64::from(shift)).clamp(0, i64::MAX - 16);
                let recs: Vec<RecordSpec<'_>> = (0..count)
                    .map(|i| RecordSpec { key: None, value: Some(b"v"), headers: vec![], timestamp: i64::from(i) })
                    .collect();
                let mut e = Encoder::new();
                let mut bytes = Vec::new();
                if !recs.is_empty() {
                    encode_batch_v2(&mut e, BatchSpec { base_offset: base, ..BatchSpec::default() }, &recs)
                        .map_err(|e| e.to_string())?;
                    bytes = e.into_inner();
                    if corrupt {
                        let last = bytes.len() - 1;
                        bytes[last] ^= 0x55;
                    }
                }
                let buf = Arc::new(bytes);
                let mut out = Vec::new();
                let decoded = records::decode(&buf, fetch_offset, &mut out);
                Some(p.on_data(ticket, fetch_offset.saturating_add(8), out, decoded, &limits, "t"))
            }
            Event::OutOfRange => (fetch_offset >= 0).then(|| p.on_out_of_range(ticket, &limits, "t")),
            Event::Failure { fatal } => {
                let code = if fatal {
                    crate::protocol::error_code::ErrorCode::TOPIC_AUTHORIZATION_FAILED
                } else {
                    crate::protocol::error_code::ErrorCode::NOT_LEADER_OR_FOLLOWER
                };
                let e = Error::broker(crate::protocol::ApiKey::Fetch, code, crate::error::Context::default(), None);
                Some(p.on_failure(ticket, &e, &backoff, Instant::now()))
            }
            Event::Diverged { epoch, shift } => (fetch_offset >= 0)
                .then(|| p.on_diverged(ticket, epoch, fetch_offset.saturating_add(shift), &limits, "t")),
            Event::Jump { offset } => {
                if *stale {
                    continue;
                }
                p.jump(offset.max(0), decision(offset.max(0)));
                None
            }
            Event::Take => {
                if *stale {
                    continue;
                }
                p.queue.clear();
                p.queued_bytes = 0;
                p.error = None;
                None
            }
        };
        let at = |what: &str| format!("step {step} ({event:?}, stale {stale}): {what}");
        if let Some(a) = applied {
            if *stale && !a.stale {
                return Err(at("an answer to a stale ticket was applied"));
            }
            if a.stale && (p.position, p.queue.len(), p.error.is_some(), p.epoch) != before {
                return Err(at("a stale answer changed the state"));
            }
        }
        if !p.queue.iter().zip(p.queue.iter().skip(1)).all(|(a, b)| a.offset < b.offset) {
            return Err(at("queued offsets do not rise"));
        }
        if p.queued_bytes != p.queue.iter().map(footprint).sum::<usize>() {
            return Err(at("the queued byte count is off"));
        }
        if let Position::At(o) = p.position {
            if p.queue.back().is_some_and(|r| r.offset >= o) {
                return Err(at("a queued record lies at or past the position"));
            }
        }
        if before.0 != Position::Failed && p.position == Position::Failed && p.error.is_none() {
            return Err(at("failed without an error for the application"));
        }
        if let (Event::Data { .. }, Position::At(was), Position::At(now)) = (event, before.0, p.position) {
            if now < was {
                return Err(at(&format!("data moved the position back from {was} to {now}")));
            }
        }
    }
    Ok(())
}

#[cfg(any(test, feature = "unstable"))]
fn fix_v2_checksums(data: &mut [u8]) {
    let mut pos = 0usize;
    while data.len().saturating_sub(pos) >= 21 {
        let size = i32::from_be_bytes([data[pos + 8], data[pos + 9], data[pos + 10], data[pos + 11]]);
        let Some(end) = usize::try_from(size).ok().and_then(|s| (pos + 12).checked_add(s)) else { return };
        if size < 9 || end > data.len() {
            return;
        }
        if data[pos + 16] == 2 {
            let crc = crc32c::crc32c(&data[pos + 21..end]);
            data[pos + 17..pos + 21].copy_from_slice(&crc.to_be_bytes());
        }
        pos = end;
    }
}

#[cfg(test)]
mod fetch_answer_tests {
    use super::check_fetch_answer;
    use crate::protocol::codec::Encoder;
    use crate::protocol::records::{encode_batch_v2, BatchSpec, RecordSpec};

    fn valid(base: i64, n: usize) -> Vec<u8> {
        let recs: Vec<RecordSpec<'_>> = (0..n)
            .map(|i| RecordSpec {
                key: Some(b"k"),
                value: Some(b"value"),
                headers: vec![],
                timestamp: 1_000 + i as i64,
            })
            .collect();
        let mut e = Encoder::new();
        encode_batch_v2(&mut e, BatchSpec { base_offset: base, ..BatchSpec::default() }, &recs).unwrap();
        e.into_inner()
    }

    #[test]
    fn mutated_batch_headers_with_good_checksums_never_break_the_partition_machine() {
        // xorshift64*: deterministic, no extra crate.
        let mut s = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            s.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        let boundary = [0, 1, -1, i64::MAX, i64::MIN, i64::from(i32::MAX), i64::from(i32::MIN), 5, 100];
        // (field offset, width) in a v2 batch: base offset, length, last offset delta, base and
        // max timestamp, record count, and the first record's first bytes.
        let fields = [(0usize, 8usize), (8, 4), (23, 4), (27, 8), (35, 8), (57, 4), (61, 4), (63, 2)];
        for round in 0..4000 {
            let mut data = valid(10, 1 + (next() % 4) as usize);
            if round % 3 == 0 {
                data.extend(valid(14, 2));
            }
            for _ in 0..1 + next() % 3 {
                let (at, width) = fields[(next() % fields.len() as u64) as usize];
                let v =
                    if next() % 2 == 0 { boundary[(next() % boundary.len() as u64) as usize] } else { next() as i64 };
                let bytes = v.to_be_bytes();
                if at + width <= data.len() {
                    data[at..at + width].copy_from_slice(&bytes[8 - width..]);
                }
            }
            let fetch_offset = [0, 10, 12, 14, 16, i64::MAX - 1][(next() % 6) as usize];
            if let Err(e) = check_fetch_answer(&data, fetch_offset, true) {
                panic!("round {round}, fetch offset {fetch_offset}: {e}");
            }
        }
        // And untouched batches are read as they should be.
        check_fetch_answer(&valid(10, 3), 11, false).unwrap();
    }
}

#[cfg(test)]
mod machine_props {
    use super::{check_position_machine, run_events, Event};
    use proptest::prelude::*;

    fn event() -> impl Strategy<Value = Event> {
        // Offsets near each other (and a few far ones), so that shifts and jumps interact.
        let offset = prop_oneof![0i64..40, Just(0i64), Just(i64::MAX - 1), Just(-1i64)];
        prop_oneof![
            1 => (offset.clone(), 0i64..60).prop_map(|(offset, high_watermark)| Event::Start { offset, high_watermark }),
            3 => (-4i8..4, 0u8..6, proptest::bool::weighted(0.1))
                .prop_map(|(shift, count, corrupt)| Event::Data { shift, count, corrupt }),
            1 => Just(Event::OutOfRange),
            1 => proptest::bool::weighted(0.2).prop_map(|fatal| Event::Failure { fatal }),
            1 => (0i32..5, -6i64..6).prop_map(|(epoch, shift)| Event::Diverged { epoch, shift }),
            1 => offset.prop_map(|offset| Event::Jump { offset }),
            2 => Just(Event::Take),
        ]
    }

    proptest! {
        /// Any sequence of events, answers to stale tickets among them, keeps the machine's
        /// invariants (see `check_position_machine`).
        #[test]
        fn any_event_sequence_keeps_the_invariants(
            events in proptest::collection::vec((event(), proptest::bool::weighted(0.15)), 0..60)
        ) {
            if let Err(e) = run_events(&events) {
                return Err(TestCaseError::fail(e));
            }
        }

        /// The fuzz target's byte form: any bytes parse into a script that keeps them too.
        #[test]
        fn any_bytes_as_a_script_keep_the_invariants(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Err(e) = check_position_machine(&bytes) {
                return Err(TestCaseError::fail(e));
            }
        }
    }
}
