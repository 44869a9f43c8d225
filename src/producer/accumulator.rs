//! The accumulator between `produce` and the sender threads, with no sockets, threads or clock
//! of its own (`now` is passed in): per-partition messages in order, the batching decision
//! ([`PartQueue::take`]: linger, size, flush), sequence numbers, up to `max_in_flight` batches
//! per partition in flight on one connection, retries at the front of their partition in their
//! order ([`State::on_failure`]), and
//! the counts `produce`, `flush` and `close` wait on, and the idempotent producer's epoch bump
//! after a batch fails for good (KIP-360). The unit tests below walk each rule.

use super::record::{Delivery, DeliveryReport, ProducerRecord};
use crate::error::{Error, Retry};
use crate::protocol::error_code::ErrorCode;
use crate::protocol::records::BatchBuilder;
use crate::retry::Backoff;
use std::collections::VecDeque;
use std::sync::mpsc::{Sender, SyncSender};
use std::time::{Duration, Instant};

/// Where `send` waits for the outcome of its message.
pub(crate) type Reply = SyncSender<Result<Delivery, Error>>;

/// A record as `produce` hands it over, borrowed: it is encoded into its partition's open
/// batch at once, so a queued message is bytes in a batch, not an allocation of its own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Incoming<'a> {
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: Headers<'a>,
    /// Create time, ms since the epoch.
    pub timestamp: i64,
    /// The most bytes it takes in a batch, computed once for the size checks and batching.
    pub size: usize,
}

/// A record's headers, as a [`ProducerRecord`] owns them or as a borrowed record lends them.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Headers<'a> {
    Owned(&'a [(String, Option<Vec<u8>>)]),
    Borrowed(&'a [(&'a str, Option<&'a [u8]>)]),
}

/// The headers one by one, without collecting them.
#[derive(Debug, Clone)]
pub(crate) struct HeaderIter<'a> {
    headers: Headers<'a>,
    at: usize,
}

impl<'a> Iterator for HeaderIter<'a> {
    type Item = (&'a str, Option<&'a [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        let item = match self.headers {
            Headers::Owned(h) => h.get(self.at).map(|(k, v)| (k.as_str(), v.as_deref())),
            Headers::Borrowed(h) => h.get(self.at).copied(),
        };
        self.at += 1;
        item
    }
}

impl<'a> Incoming<'a> {
    /// A record with these fields, created now unless `timestamp` says when.
    pub fn new(
        key: Option<&'a [u8]>,
        value: Option<&'a [u8]>,
        headers: Headers<'a>,
        timestamp: Option<i64>,
    ) -> Incoming<'a> {
        let size = BatchBuilder::size_bound(key, value, HeaderIter { headers, at: 0 });
        let timestamp = timestamp.unwrap_or_else(crate::stats::now_ms);
        Incoming { key, value, headers, timestamp, size }
    }

    fn headers(&self) -> HeaderIter<'a> {
        HeaderIter { headers: self.headers, at: 0 }
    }
}

/// Spent batch buffers kept for the next batches, so a steady stream allocates none.
const SPARE_BUFFERS: usize = 4;

/// A partition's batch: records encoded as they were queued, kept whole across retries so
/// that its sequence numbers and its place in the partition don't change.
#[derive(Debug)]
pub(crate) struct Batch {
    pub partition: i32,
    pub records: BatchBuilder,
    /// Waiters in `send`, by the index of their record in the batch.
    pub replies: Vec<(usize, Reply)>,
    /// When its first record was queued: linger and the delivery timeout count from then.
    pub enqueued: Instant,
    pub attempts: u32,
    pub base_sequence: i32,
    /// Its place among the batches its partition handed out (set when first taken): retries
    /// line up in this order.
    pub order: u64,
    /// The producer id and epoch it is written with (-1 without idempotence), set each time it
    /// is handed to a sender: a retry after an epoch bump goes with the new epoch.
    pub producer: ProducerIds,
}

impl Batch {
    /// Messages in the batch.
    pub fn len(&self) -> usize {
        self.records.count()
    }
}

/// An idempotent producer's id and epoch; both -1 without idempotence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProducerIds {
    pub id: i64,
    pub epoch: i16,
}

impl ProducerIds {
    /// A producer without idempotence.
    pub const NONE: ProducerIds = ProducerIds { id: -1, epoch: -1 };

    fn idempotent(self) -> bool {
        self.id >= 0
    }
}

/// How long and how often a failed batch is retried.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryRules {
    pub max_retries: u32,
    pub backoff: Backoff,
    /// The longest a message may take from `produce` to its outcome (`delivery.timeout.ms`):
    /// a batch is not retried past its oldest message's deadline.
    pub delivery_timeout: Duration,
}

/// The connection a partition's batches in flight travel on: the sender thread (by the broker
/// it serves) and the leader it writes to. A broker appends one connection's requests in the
/// order they were written, so while batches are out, more go only the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Route {
    pub sender: i32,
    pub leader: Option<i32>,
}

#[derive(Debug, Default)]
pub(crate) struct PartQueue {
    /// Batches in the order they were opened; the last one takes new records while they fit.
    pub queue: VecDeque<Batch>,
    /// Batches that failed and wait to go again, in the order they were first taken; they go
    /// before anything queued, one at a time.
    pub retry: VecDeque<Batch>,
    pub retry_at: Option<Instant>,
    pub next_sequence: i32,
    /// Queued messages whose producer waits in `send`: the batch goes without lingering.
    pub waiting: usize,
    /// Batches of this partition being sent, all on `route`.
    pub in_flight: usize,
    pub route: Route,
    /// Batches handed out so far: the next one's `order`.
    pub taken: u64,
    /// The earliest batch, of those out together, that failed: the broker refuses the later
    /// ones with OUT_OF_ORDER_SEQUENCE_NUMBER (a gap before them), which is then no fault of
    /// theirs. Cleared once none of them is out.
    pub failed_from: Option<u64>,
}

/// When a partition's queued messages make a batch, and how big it may be.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchRules {
    /// How long the first queued message may wait for company.
    pub linger: Duration,
    /// A batch goes at once when it holds this many messages, and holds at most this many.
    pub min_queued_messages: usize,
    /// The most record bytes a batch may carry; a single larger message still goes alone
    /// (its size was checked when it was queued).
    pub budget: usize,
    /// The most batches of a partition out at once (`max.in.flight`).
    pub max_in_flight: usize,
}

/// What a partition has for its sender.
#[derive(Debug)]
pub(crate) enum Ready {
    /// This batch, now marked in flight.
    Batch(Batch),
    /// Nothing before this instant (lingering, or backing off before a retry).
    WaitUntil(Instant),
    /// Nothing: empty, as many batches in flight as allowed, batches in flight another way,
    /// or retries waiting for those in flight.
    Nothing,
}

/// Sequence numbers wrap to 0 after i32::MAX (KIP-98).
fn next_sequence(from: i32, count: usize) -> i32 {
    ((i64::from(from) + count as i64) % (i64::from(i32::MAX) + 1)) as i32
}

impl PartQueue {
    /// Encodes a message into this partition's (`partition`) open batch, opening one (with a
    /// buffer from `spare`) when there is none or the message doesn't fit. Returns whether a
    /// sender should be woken (the partition was idle, someone waits in `send`, or a batch is
    /// complete) and the bytes the message took. `now` is read only when a batch opens: the
    /// clock is the costliest step of queueing a small message into an open batch.
    pub fn push(
        &mut self,
        partition: i32,
        rec: &Incoming<'_>,
        reply: Option<Reply>,
        now: impl FnOnce() -> Instant,
        rules: &BatchRules,
        spare: &mut Vec<Vec<u8>>,
    ) -> (bool, usize) {
        let fits = |b: &Batch| b.len() < rules.min_queued_messages && b.records.len() + rec.size <= rules.budget;
        let mut wake = self.queue.is_empty() || reply.is_some();
        let mut pushed = None;
        if let Some(b) = self.queue.back_mut().filter(|b| fits(b)) {
            // Refused only when its timestamp is too far from the batch's first: then it opens
            // a batch of its own.
            pushed = b.records.push(rec.timestamp, rec.key, rec.value, rec.headers()).ok();
        }
        let took = match pushed {
            Some(took) => took,
            None => {
                // The batch before is complete: ready to go.
                wake |= !self.queue.is_empty();
                let mut records = BatchBuilder::with_buffer(spare.pop().unwrap_or_default());
                // The first record of a batch has no delta to overflow.
                let took = records.push(rec.timestamp, rec.key, rec.value, rec.headers()).unwrap_or(0);
                self.queue.push_back(Batch {
                    partition,
                    records,
                    replies: Vec::new(),
                    enqueued: now(),
                    attempts: 0,
                    base_sequence: 0,
                    order: 0,
                    producer: ProducerIds::NONE,
                });
                took
            }
        };
        if let Some(b) = self.queue.back_mut() {
            if let Some(reply) = reply {
                b.replies.push((b.len() - 1, reply));
                self.waiting += 1;
            }
            wake |= b.len() >= rules.min_queued_messages;
        }
        (wake, took)
    }

    /// The batch this partition has for its sender at `now`, to go by `route`: a retry when
    /// nothing is in flight and its backoff is over (retries go one at a time, so that the
    /// broker sees them in order), else the oldest batch once due — lingered long enough,
    /// complete, someone waiting in `send`, or `urgent` (flush, close) — while fewer than
    /// `max_in_flight` are out, all by the same route.
    pub fn take(&mut self, now: Instant, urgent: bool, rules: &BatchRules, route: Route) -> Ready {
        if self.in_flight > 0 && self.route != route {
            return Ready::Nothing;
        }
        if !self.retry.is_empty() {
            if self.in_flight > 0 {
                return Ready::Nothing;
            }
            if let Some(at) = self.retry_at.filter(|at| *at > now) {
                return Ready::WaitUntil(at);
            }
            let Some(b) = self.retry.pop_front() else { return Ready::Nothing };
            self.retry_at = None;
            self.in_flight = 1;
            self.route = route;
            return Ready::Batch(b);
        }
        if self.in_flight >= rules.max_in_flight.max(1) {
            return Ready::Nothing;
        }
        let Some(front) = self.queue.front() else { return Ready::Nothing };
        let complete = self.queue.len() > 1 || front.len() >= rules.min_queued_messages;
        let due = front.enqueued + rules.linger;
        if !(urgent || self.waiting > 0 || complete || due <= now) {
            return Ready::WaitUntil(due);
        }
        let Some(mut b) = self.queue.pop_front() else { return Ready::Nothing };
        self.waiting -= b.replies.len();
        b.base_sequence = self.next_sequence;
        self.next_sequence = next_sequence(self.next_sequence, b.len());
        b.order = self.taken;
        self.taken += 1;
        self.in_flight += 1;
        self.route = route;
        Ready::Batch(b)
    }

    /// One of this partition's batches is back from its sender.
    fn returned(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.in_flight == 0 {
            self.failed_from = None;
        }
    }
}

/// How a failed batch was settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settled {
    /// Back at the front of its partition, to go again after this pause.
    Retrying(Duration),
    /// Failed for good: each message has its error.
    Failed,
}

#[derive(Debug)]
pub(crate) struct State {
    pub parts: Vec<PartQueue>,
    /// Messages accepted and not yet finished (queued, waiting to retry, or in flight).
    pub outstanding: usize,
    /// Threads inside `flush`: batches are sent without waiting for `linger`.
    pub flushing: usize,
    pub closing: bool,
    /// With delivery reports off: the first failure since the last `flush`, and how many.
    pub first_error: Option<Error>,
    pub failed: u64,
    pub reports: Option<Sender<DeliveryReport>>,
    /// A sender thread died: the error every later call gets.
    pub dead: Option<Error>,
    /// The encoded bytes of the messages counted in `outstanding` (`buffer.memory`).
    pub outstanding_bytes: usize,
    /// Buffers of settled batches, for the next ones (at most [`SPARE_BUFFERS`]).
    pub spare: Vec<Vec<u8>>,
    /// Delivery reports sent and not yet taken by the application, and their records'
    /// estimated bytes: they hold whole records, so they count against the queue's bounds.
    pub unread_reports: usize,
    pub unread_report_bytes: usize,
    /// The id and epoch batches are written with.
    pub producer: ProducerIds,
    /// An idempotent batch failed for good, so its partition's sequence numbers have a gap the
    /// broker would refuse: no batch goes until the epoch is bumped, once nothing is in flight.
    pub bump_needed: bool,
    /// Counts since the producer started, for its statistics.
    pub totals: Totals,
}

/// What a producer has done since it started (see [`crate::stats::ProducerStats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    /// Batches handed to a sender, retries included, their messages and encoded bytes.
    pub batches: u64,
    pub records: u64,
    pub batch_bytes: u64,
    pub batch_retries: u64,
    /// Messages failed for good.
    pub failed: u64,
}

impl State {
    pub fn new(partitions: usize, reports: Option<Sender<DeliveryReport>>) -> State {
        State {
            parts: (0..partitions).map(|_| PartQueue::default()).collect(),
            outstanding: 0,
            flushing: 0,
            closing: false,
            first_error: None,
            failed: 0,
            reports,
            dead: None,
            outstanding_bytes: 0,
            spare: Vec::new(),
            unread_reports: 0,
            unread_report_bytes: 0,
            producer: ProducerIds::NONE,
            bump_needed: false,
            totals: Totals::default(),
        }
    }

    /// Whether a message of `size` bytes must wait: the queue, with the reports the
    /// application has not taken yet, is at `max_messages` or would pass `max_bytes` (a message
    /// larger than that still goes when nothing else is held).
    pub fn is_full(&self, size: usize, max_messages: usize, max_bytes: usize) -> bool {
        let held = self.outstanding + self.unread_reports;
        let bytes = self.outstanding_bytes + self.unread_report_bytes;
        held >= max_messages || (held > 0 && bytes + size > max_bytes)
    }

    /// The application took a delivery report of `size` bytes.
    pub fn report_taken(&mut self, size: usize) {
        self.unread_reports = self.unread_reports.saturating_sub(1);
        self.unread_report_bytes = self.unread_report_bytes.saturating_sub(size);
    }

    /// Queues a message accepted by `produce` in `partition`; returns whether a sender should
    /// be woken.
    pub fn accept(
        &mut self,
        partition: usize,
        rec: &Incoming<'_>,
        reply: Option<Reply>,
        now: impl FnOnce() -> Instant,
        rules: &BatchRules,
    ) -> bool {
        let (wake, took) = self.parts[partition].push(partition as i32, rec, reply, now, rules, &mut self.spare);
        self.outstanding += 1;
        self.outstanding_bytes += took;
        wake
    }

    /// The next batch of `partition` for its sender (by `route`), with the ids to write it
    /// with; nothing while an epoch bump is due.
    pub fn take(&mut self, partition: usize, now: Instant, urgent: bool, rules: &BatchRules, route: Route) -> Ready {
        if self.bump_needed {
            return Ready::Nothing;
        }
        let producer = self.producer;
        match self.parts[partition].take(now, urgent, rules, route) {
            Ready::Batch(mut b) => {
                b.producer = producer;
                self.totals.batches += 1;
                self.totals.records += b.len() as u64;
                self.totals.batch_bytes += b.records.len() as u64;
                Ready::Batch(b)
            }
            other => other,
        }
    }

    /// Bumps the epoch when one is due and no batch is in flight (KIP-360: an idempotent
    /// producer bumps its own epoch; the broker then takes sequence 0 of the new epoch on
    /// every partition). Every partition's sequence numbers start again at 0, a batch
    /// waiting to retry first. Returns false when the epoch is exhausted: the caller must get a
    /// new producer id and call [`State::restart_ids`].
    pub fn bump_epoch(&mut self) -> bool {
        if !self.bump_needed || self.parts.iter().any(|q| q.in_flight > 0) {
            return true;
        }
        if self.producer.epoch == i16::MAX {
            return false;
        }
        let ids = ProducerIds { epoch: self.producer.epoch + 1, ..self.producer };
        self.restart_ids(ids);
        true
    }

    /// Writes from now on with `ids`, every partition's sequence numbers from 0, the batches
    /// waiting to retry first.
    pub fn restart_ids(&mut self, ids: ProducerIds) {
        log::debug!("producer id {} now writes with epoch {}", ids.id, ids.epoch);
        self.producer = ids;
        self.bump_needed = false;
        for q in &mut self.parts {
            let mut sequence = 0;
            for b in &mut q.retry {
                b.base_sequence = sequence;
                sequence = next_sequence(sequence, b.len());
            }
            q.next_sequence = sequence;
        }
    }

    /// Settles a batch that failed with `e`: retried after a backoff while `e` may pass, fewer
    /// than `max_retries` retries were made, the retry would start before the delivery
    /// timeout of its oldest message and the producer is not closing; else failed. An
    /// idempotent batch refused as out of order because one before it, out at the same time,
    /// failed goes again after that one without counting an attempt. An idempotent batch
    /// failed for good leaves a gap in its partition's sequence numbers, so it makes an epoch
    /// bump due.
    pub fn on_failure(&mut self, mut batch: Batch, e: &Error, rules: &RetryRules, now: Instant) -> Settled {
        let Some(q) = usize::try_from(batch.partition).ok().and_then(|p| self.parts.get_mut(p)) else {
            self.settle(batch, |_| Err(e.clone()));
            return Settled::Failed;
        };
        let behind_a_failure = batch.producer.idempotent()
            && e.code() == Some(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
            && q.failed_from.is_some_and(|f| f < batch.order);
        let wait = if behind_a_failure { Duration::ZERO } else { rules.backoff.delay(batch.attempts) };
        let deadline = batch.enqueued + rules.delivery_timeout;
        // Once closing, nothing is retried: the producer is about to stop its senders.
        let in_time = now + wait < deadline && !self.closing;
        let may_pass = behind_a_failure || (e.retry() != Retry::Never && batch.attempts < rules.max_retries);
        q.failed_from = Some(q.failed_from.map_or(batch.order, |f| f.min(batch.order)));
        q.returned();
        if may_pass && in_time {
            if !behind_a_failure {
                batch.attempts += 1;
                q.retry_at = Some(q.retry_at.map_or(now + wait, |at| at.max(now + wait)));
            }
            let at = q.retry.iter().position(|r| r.order > batch.order).unwrap_or(q.retry.len());
            q.retry.insert(at, batch);
            self.totals.batch_retries += 1;
            return Settled::Retrying(wait);
        }
        if batch.producer.idempotent() {
            self.bump_needed = true;
        }
        self.settle(batch, |_| Err(e.clone()));
        Settled::Failed
    }

    /// A sender thread died with `e`: every message still queued or waiting to retry fails
    /// with it, the batches that thread had in flight are counted as failed (their waiters in
    /// `send` hear of it as their channel closes), and nothing more is accepted.
    pub fn fail_all(&mut self, e: Error) {
        self.fail_pending(&e);
        for q in &mut self.parts {
            q.in_flight = 0;
            q.failed_from = None;
        }
        if self.outstanding > 0 {
            log::error!("{} messages in flight were lost with the sender thread: {e}", self.outstanding);
            self.failed += self.outstanding as u64;
            self.totals.failed += self.outstanding as u64;
            self.outstanding = 0;
            self.outstanding_bytes = 0;
        }
        self.first_error.get_or_insert_with(|| e.clone());
        self.dead = Some(e);
    }

    /// The producer closes: every message queued or waiting to retry fails with `e` now,
    /// and no batch is taken or retried from here on. Returns how many messages are still in
    /// flight; each gets its outcome when its request ends.
    pub fn close(&mut self, e: &Error) -> usize {
        self.closing = true;
        self.fail_pending(e);
        self.outstanding
    }

    /// A transaction is aborted: every message queued or waiting to retry fails with `e`
    /// (none of them is sent); batches in flight end as their requests do.
    pub fn abort_pending(&mut self, e: &Error) {
        self.fail_pending(e);
    }

    /// Fails every message queued or waiting to retry with `e`.
    fn fail_pending(&mut self, e: &Error) {
        let mut batches = Vec::new();
        for q in &mut self.parts {
            q.retry_at = None;
            q.waiting = 0;
            batches.extend(q.retry.drain(..));
            batches.extend(q.queue.drain(..));
        }
        for b in batches {
            self.settle(b, |_| Err(e.clone()));
        }
    }

    /// Hands each message of a batch back from its sender its outcome; its partition may send
    /// the next.
    pub fn finish(&mut self, batch: Batch, outcome: impl Fn(usize) -> Result<Delivery, Error>) {
        if let Some(q) = usize::try_from(batch.partition).ok().and_then(|p| self.parts.get_mut(p)) {
            q.returned();
        }
        self.settle(batch, outcome);
    }

    /// Hands each message of `batch` its outcome: to its waiter in `send`, else to the
    /// delivery reports (the record read back from the batch), else (a failure) to the next
    /// `flush`.
    fn settle(&mut self, batch: Batch, outcome: impl Fn(usize) -> Result<Delivery, Error>) {
        let Batch { partition, records, replies, .. } = batch;
        let n = records.count();
        let mut replies = replies.into_iter().peekable();
        let mut read_back = self.reports.as_ref().map(|_| records.records());
        for i in 0..n {
            let result = outcome(i);
            let reply = replies.next_if(|(at, _)| *at == i).map(|(_, r)| r);
            let rec = read_back.as_mut().and_then(Iterator::next);
            if let Err(e) = &result {
                self.failed += 1;
                self.totals.failed += 1;
                if self.reports.is_none() && reply.is_none() && self.first_error.is_none() {
                    self.first_error = Some(e.clone());
                }
            }
            if let Some(reply) = reply {
                // The waiter may have given up; the outcome then goes nowhere, as it asked.
                let _ = reply.send(result);
            } else if let (Some(r), Some(rec)) = (&self.reports, rec) {
                let record = ProducerRecord {
                    value: rec.value.map(<[u8]>::to_vec),
                    key: rec.key.map(<[u8]>::to_vec),
                    headers: rec.headers.into_iter().map(|h| (h.key, h.value)).collect(),
                    timestamp: Some(rec.timestamp),
                    partition: (partition >= 0).then_some(partition),
                };
                let size = record.size_estimate();
                if r.send(DeliveryReport { record, result }).is_ok() {
                    self.unread_reports += 1;
                    self.unread_report_bytes += size;
                }
            }
        }
        drop(read_back);
        self.outstanding -= n;
        self.outstanding_bytes = self.outstanding_bytes.saturating_sub(records.len());
        if self.spare.len() < SPARE_BUFFERS {
            self.spare.push(records.into_buffer());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::error_code::ErrorCode;
    use crate::protocol::ApiKey;
    use std::sync::mpsc::sync_channel;

    const RULES: BatchRules =
        BatchRules { linger: Duration::from_millis(5), min_queued_messages: 3, budget: 100, max_in_flight: 1 };
    const R: Route = Route { sender: 1, leader: Some(1) };

    fn retries(max_retries: u32) -> RetryRules {
        RetryRules {
            max_retries,
            backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(1)),
            delivery_timeout: Duration::from_secs(120),
        }
    }

    /// A state of `partitions` with `n` messages queued on each, written with `ids`.
    fn queued(partitions: usize, n: usize, at: Instant, ids: ProducerIds) -> State {
        let mut st = State::new(partitions, None);
        st.producer = ids;
        for p in 0..partitions {
            for _ in 0..n {
                st.accept(p, &rec(1), None, || at, &RULES);
            }
        }
        st
    }

    const VALUE: [u8; 600] = [b'x'; 600];

    /// A record with a value of `len` bytes.
    fn rec(len: usize) -> Incoming<'static> {
        Incoming::new(None, Some(&VALUE[..len]), Headers::Borrowed(&[]), Some(0))
    }

    /// Queues a record of `len` bytes in partition 0's queue `q`; whether a sender is woken.
    fn push(q: &mut PartQueue, len: usize, at: Instant) -> bool {
        q.push(0, &rec(len), None, || at, &RULES, &mut Vec::new()).0
    }

    fn batch(r: Ready) -> Batch {
        match r {
            Ready::Batch(b) => b,
            other => panic!("expected a batch, got {other:?}"),
        }
    }

    fn err(code: ErrorCode) -> Error {
        Error::broker(ApiKey::Produce, code, crate::error::Context::partition("t", 0), None)
    }

    #[test]
    fn a_lone_message_lingers_then_goes() {
        let t0 = Instant::now();
        let mut q = PartQueue::default();
        assert!(push(&mut q, 1, t0), "the first message wakes a sender");
        assert!(!push(&mut q, 1, t0), "the second lingers with it");
        match q.take(t0, false, &RULES, R) {
            Ready::WaitUntil(at) => assert_eq!(at, t0 + RULES.linger),
            other => panic!("expected to linger, got {other:?}"),
        }
        let b = batch(q.take(t0 + RULES.linger, false, &RULES, R));
        assert_eq!((b.partition, b.len(), b.base_sequence), (0, 2, 0));
        assert!(matches!(q.take(t0 + RULES.linger, true, &RULES, R), Ready::Nothing), "one batch in flight");
    }

    #[test]
    fn enough_messages_a_flush_or_a_waiting_send_go_at_once() {
        let t0 = Instant::now();
        let mut q = PartQueue::default();
        for _ in 0..3 {
            push(&mut q, 1, t0);
        }
        assert_eq!(batch(q.take(t0, false, &RULES, R)).len(), 3);

        let mut q = PartQueue::default();
        push(&mut q, 1, t0);
        assert_eq!(batch(q.take(t0, true, &RULES, R)).len(), 1, "urgent (flush, close)");

        let mut q = PartQueue::default();
        let (tx, _rx) = sync_channel(1);
        assert!(q.push(0, &rec(1), Some(tx), || t0, &RULES, &mut Vec::new()).0, "a send() wakes a sender");
        let b = batch(q.take(t0, false, &RULES, R));
        assert_eq!((b.len(), q.waiting), (1, 0));
    }

    #[test]
    fn batches_respect_the_budget_and_the_count_but_always_take_one() {
        let t0 = Instant::now();
        let mut q = PartQueue::default();
        // Each takes at most 64 bytes (21 for the length, attributes and deltas, 43 for the
        // fields), so two exceed the budget of 100.
        push(&mut q, 40, t0);
        push(&mut q, 40, t0);
        assert_eq!(batch(q.take(t0, true, &RULES, R)).len(), 1);
        q.in_flight = 0;
        let mut q2 = PartQueue::default();
        push(&mut q2, 500, t0);
        assert_eq!(batch(q2.take(t0, true, &RULES, R)).len(), 1, "an oversized message still goes");
        let mut q3 = PartQueue::default();
        for _ in 0..5 {
            push(&mut q3, 1, t0);
        }
        assert_eq!(batch(q3.take(t0, true, &RULES, R)).len(), 3, "at most min_queued_messages");
    }

    #[test]
    fn sequence_numbers_follow_on_and_wrap() {
        let t0 = Instant::now();
        let mut q = PartQueue { next_sequence: i32::MAX - 1, ..PartQueue::default() };
        for _ in 0..3 {
            push(&mut q, 1, t0);
        }
        let b = batch(q.take(t0, true, &RULES, R));
        assert_eq!((b.base_sequence, q.next_sequence), (i32::MAX - 1, 1));
        assert_eq!(next_sequence(5, 10), 15);
    }

    #[test]
    fn a_failed_batch_retries_first_with_the_same_sequence_then_fails_for_good() {
        let t0 = Instant::now();
        let mut st = queued(1, 2, t0, ProducerIds::NONE);
        let first = batch(st.take(0, t0, true, &RULES, R));
        st.accept(0, &rec(1), None, || t0, &RULES);
        let retriable = err(ErrorCode::NOT_LEADER_OR_FOLLOWER);
        let Settled::Retrying(wait) = st.on_failure(first, &retriable, &retries(1), t0) else {
            panic!("a retriable error with retries left is retried");
        };
        assert!(wait <= Duration::from_millis(100));
        assert!(matches!(st.parts[0].take(t0, true, &RULES, R), Ready::WaitUntil(_)), "backing off");
        let again = batch(st.parts[0].take(t0 + wait, true, &RULES, R));
        assert_eq!((again.len(), again.base_sequence, again.attempts), (2, 0, 1), "the same batch goes first");
        // Out of retries: every message fails and stops counting as outstanding.
        assert_eq!(st.on_failure(again, &retriable, &retries(1), t0), Settled::Failed);
        assert_eq!((st.outstanding, st.failed), (1, 2));
        assert_eq!(st.first_error.as_ref().and_then(Error::code), Some(ErrorCode::NOT_LEADER_OR_FOLLOWER));
        // The message queued behind it goes next, with the following sequence number.
        assert_eq!(batch(st.parts[0].take(t0, true, &RULES, R)).base_sequence, 2);
    }

    const PIPELINE: BatchRules = BatchRules { max_in_flight: 3, ..RULES };

    #[test]
    fn up_to_max_in_flight_batches_go_by_one_route() {
        let t0 = Instant::now();
        let mut st = queued(1, 12, t0, ProducerIds { id: 7, epoch: 0 });
        let out: Vec<Batch> = (0..3).map(|_| batch(st.take(0, t0, false, &PIPELINE, R))).collect();
        let seen: Vec<(u64, i32)> = out.iter().map(|b| (b.order, b.base_sequence)).collect();
        assert_eq!(seen, vec![(0, 0), (1, 3), (2, 6)]);
        assert!(matches!(st.take(0, t0, false, &PIPELINE, R), Ready::Nothing), "three out: the limit");
        let mut out = out.into_iter();
        st.finish(out.next().unwrap(), |_| Ok(Delivery { partition: 0, offset: None }));
        let other = Route { sender: 2, leader: Some(2) };
        assert!(matches!(st.take(0, t0, false, &PIPELINE, other), Ready::Nothing), "another connection waits");
        assert_eq!(batch(st.take(0, t0, false, &PIPELINE, R)).base_sequence, 9);
        assert_eq!(st.parts[0].in_flight, 3);
    }

    #[test]
    fn after_a_failure_the_batches_out_behind_it_go_again_in_order_one_at_a_time() {
        let t0 = Instant::now();
        let mut st = queued(1, 12, t0, ProducerIds { id: 7, epoch: 0 });
        let [b0, b1, b2] = [0, 1, 2].map(|_| batch(st.take(0, t0, false, &PIPELINE, R)));
        let Settled::Retrying(wait) = st.on_failure(b0, &err(ErrorCode::NOT_LEADER_OR_FOLLOWER), &retries(5), t0)
        else {
            panic!("retriable");
        };
        assert!(wait > Duration::ZERO);
        assert!(matches!(st.take(0, t0 + wait, false, &PIPELINE, R), Ready::Nothing), "two still out");
        // The broker refuses the two behind the missing batch; that is not their fault.
        let gap = err(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
        assert_eq!(st.on_failure(b2, &gap, &retries(0), t0), Settled::Retrying(Duration::ZERO), "out of turn");
        assert_eq!(st.on_failure(b1, &gap, &retries(0), t0), Settled::Retrying(Duration::ZERO));
        assert!(matches!(st.take(0, t0, false, &PIPELINE, R), Ready::WaitUntil(_)), "the first one's backoff");
        let again = batch(st.take(0, t0 + wait, false, &PIPELINE, R));
        assert_eq!((again.order, again.base_sequence, again.attempts), (0, 0, 1));
        assert!(matches!(st.take(0, t0 + wait, false, &PIPELINE, R), Ready::Nothing), "retries go one at a time");
        st.finish(again, |_| Ok(Delivery { partition: 0, offset: None }));
        let again = batch(st.take(0, t0 + wait, false, &PIPELINE, R));
        assert_eq!((again.order, again.base_sequence, again.attempts), (1, 3, 0));
        st.finish(again, |_| Ok(Delivery { partition: 0, offset: None }));
        let last = batch(st.take(0, t0 + wait, false, &PIPELINE, R));
        assert_eq!((last.order, last.base_sequence), (2, 6));
        // The retries are through: fresh batches follow it at once.
        assert_eq!(batch(st.take(0, t0 + wait, false, &PIPELINE, R)).base_sequence, 9);
        assert_eq!(st.totals.batch_retries, 3);
        assert!(!st.bump_needed);
        // Refused as out of order with nothing failed before it: the broker lost track; that
        // batch fails for good and the epoch is bumped.
        assert_eq!(st.on_failure(last, &gap, &retries(5), t0), Settled::Failed);
        assert!(st.bump_needed);
    }

    #[test]
    fn a_settled_batch_hands_its_buffer_to_the_next_one() {
        let t0 = Instant::now();
        let mut st = queued(1, 3, t0, ProducerIds::NONE);
        let first = batch(st.take(0, t0, true, &RULES, R));
        let bytes = first.records.len();
        assert_eq!(st.outstanding_bytes, bytes, "the queue counts encoded bytes");
        st.finish(first, |_| Ok(Delivery { partition: 0, offset: Some(0) }));
        assert_eq!((st.outstanding, st.outstanding_bytes, st.spare.len()), (0, 0, 1));
        let capacity = st.spare[0].capacity();
        st.accept(0, &rec(1), None, || t0, &RULES);
        assert!(st.spare.is_empty(), "the next batch took the spare buffer");
        let next = batch(st.take(0, t0, true, &RULES, R));
        assert!(next.records.into_buffer().capacity() >= capacity);
    }

    #[test]
    fn delivery_reports_give_back_the_record_as_produced() {
        let t0 = Instant::now();
        let (tx, rx) = std::sync::mpsc::channel();
        let mut st = State::new(2, Some(tx));
        let headers: [(&str, Option<&[u8]>); 2] = [("h", Some(b"1")), ("none", None)];
        let one = Incoming::new(Some(b"k"), None, Headers::Borrowed(&headers), Some(77));
        st.accept(1, &one, None, || t0, &RULES);
        st.accept(1, &rec(2), None, || t0, &RULES);
        let b = batch(st.take(1, t0, true, &RULES, R));
        st.finish(b, |i| Ok(Delivery { partition: 1, offset: Some(10 + i as i64) }));
        let reports: Vec<DeliveryReport> = rx.try_iter().collect();
        assert_eq!(reports.len(), 2);
        let want = ProducerRecord {
            value: None,
            key: Some(b"k".to_vec()),
            headers: vec![("h".into(), Some(b"1".to_vec())), ("none".into(), None)],
            timestamp: Some(77),
            partition: Some(1),
        };
        assert_eq!(reports[0].record, want);
        assert_eq!(reports[1].record.value.as_deref(), Some(&b"xx"[..]));
        assert_eq!(reports[1].result.as_ref().ok().and_then(|d| d.offset), Some(11));
        assert_eq!((st.unread_reports, st.outstanding), (2, 0));
    }

    #[test]
    fn a_dead_sender_fails_everything_and_counts_what_it_took_with_it() {
        let t0 = Instant::now();
        let mut st = State::new(2, None);
        for p in 0..2 {
            for _ in 0..2 {
                st.accept(p, &rec(1), None, || t0, &RULES);
            }
        }
        let (tx, rx) = sync_channel(1);
        st.accept(1, &rec(1), Some(tx), || t0, &RULES);
        // Partition 0's batch is in flight on the thread that dies.
        let _lost = batch(st.parts[0].take(t0, true, &RULES, R));
        let died = Error::BackgroundThread { thread: "s".into(), message: "boom".into() };
        st.fail_all(died);
        assert_eq!(st.outstanding, 0, "flush has nothing left to wait for");
        assert_eq!(st.failed, 5);
        assert!(matches!(rx.try_recv(), Ok(Err(Error::BackgroundThread { .. }))), "a waiting send hears why");
        assert!(matches!(st.dead, Some(Error::BackgroundThread { .. })));
        assert!(st.parts.iter().all(|q| q.queue.is_empty() && q.in_flight == 0));
        assert!(st.first_error.is_some());
    }

    #[test]
    fn a_fatal_error_fails_at_once_and_reaches_send() {
        let t0 = Instant::now();
        let mut st = State::new(1, None);
        let (tx, rx) = sync_channel(1);
        st.accept(0, &rec(1), Some(tx), || t0, &RULES);
        let b = batch(st.take(0, t0, false, &RULES, R));
        let fatal = err(ErrorCode::TOPIC_AUTHORIZATION_FAILED);
        assert_eq!(st.on_failure(b, &fatal, &retries(10), t0), Settled::Failed);
        let got = rx.try_recv().expect("the waiting send() hears the outcome");
        assert_eq!(got.err().as_ref().and_then(Error::code), Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED));
        assert!(st.first_error.is_none(), "an error handed to send() is not reported again by flush");
        assert_eq!(st.parts[0].in_flight, 0);
    }

    #[test]
    fn retries_stop_at_the_delivery_timeout_of_the_oldest_message() {
        let t0 = Instant::now();
        let mut st = queued(1, 1, t0, ProducerIds::NONE);
        let rules = retries(u32::MAX);
        let down = Error::io("b:9092", None, std::io::ErrorKind::ConnectionRefused.into());
        // Unlimited retries, each with a backoff of at most a second, up to two minutes.
        let mut now = t0;
        let mut tries = 0;
        loop {
            let b = batch(st.take(0, now, true, &RULES, R));
            match st.on_failure(b, &down, &rules, now) {
                Settled::Retrying(wait) => {
                    assert!(wait <= Duration::from_secs(1), "{wait:?}");
                    now += wait;
                    tries += 1;
                }
                Settled::Failed => break,
            }
        }
        assert!(now - t0 <= rules.delivery_timeout, "no retry starts past the timeout");
        assert!(now - t0 >= rules.delivery_timeout - Duration::from_secs(1), "retried until about then");
        assert!(tries > 100, "{tries} retries in two minutes");
        assert_eq!((st.outstanding, st.outstanding_bytes, st.failed), (0, 0, 1));
        assert!(!st.bump_needed, "no epoch to bump without idempotence");
    }

    #[test]
    fn a_batch_failed_for_good_bumps_the_epoch_once_nothing_is_in_flight() {
        let t0 = Instant::now();
        let ids = ProducerIds { id: 7, epoch: 3 };
        let mut st = queued(2, 2, t0, ids);
        let p0 = batch(st.take(0, t0, true, &RULES, R));
        let p1 = batch(st.take(1, t0, true, &RULES, R));
        assert_eq!((p0.producer, p0.base_sequence, p1.base_sequence), (ids, 0, 0));
        // Partition 1's batch fails and waits to retry (sequence 0..1); more is queued there.
        let retriable = err(ErrorCode::NOT_LEADER_OR_FOLLOWER);
        assert!(matches!(st.on_failure(p1, &retriable, &retries(5), t0), Settled::Retrying(_)));
        st.accept(0, &rec(1), None, || t0, &RULES);
        // Partition 0's fails for good: its next sequence (2) would leave a gap at 0..1.
        let fatal = err(ErrorCode::MESSAGE_TOO_LARGE);
        assert_eq!(st.on_failure(p0, &fatal, &retries(5), t0), Settled::Failed);
        assert!(st.bump_needed);
        assert!(matches!(st.take(0, t0 + Duration::from_secs(9), true, &RULES, R), Ready::Nothing), "held");
        assert!(st.bump_epoch());
        assert!(!st.bump_needed);
        // The retry goes first, renumbered from 0 with the new epoch; then partition 0 from 0.
        let later = t0 + Duration::from_secs(9);
        let again = batch(st.take(1, later, true, &RULES, R));
        assert_eq!((again.producer, again.base_sequence, again.len()), (ProducerIds { id: 7, epoch: 4 }, 0, 2));
        let next = batch(st.take(0, later, true, &RULES, R));
        assert_eq!((next.producer.epoch, next.base_sequence), (4, 0));
    }

    #[test]
    fn a_bump_waits_for_batches_in_flight_and_an_exhausted_epoch_asks_for_a_new_id() {
        let t0 = Instant::now();
        let mut st = queued(2, 1, t0, ProducerIds { id: 1, epoch: i16::MAX });
        let p0 = batch(st.take(0, t0, true, &RULES, R));
        let p1 = batch(st.take(1, t0, true, &RULES, R));
        st.on_failure(p0, &err(ErrorCode::MESSAGE_TOO_LARGE), &retries(0), t0);
        assert!(st.bump_epoch() && st.bump_needed, "partition 1 is still in flight");
        st.finish(p1, |_| Ok(Delivery { partition: 1, offset: Some(0) }));
        assert!(!st.bump_epoch(), "no epoch left: a new id is needed");
        st.restart_ids(ProducerIds { id: 2, epoch: 0 });
        assert_eq!((st.producer, st.bump_needed), (ProducerIds { id: 2, epoch: 0 }, false));
    }

    #[test]
    fn closing_fails_what_is_queued_or_retrying_and_retries_nothing_more() {
        let t0 = Instant::now();
        let mut st = queued(3, 2, t0, ProducerIds::NONE);
        let in_flight = batch(st.take(0, t0, true, &RULES, R));
        let retrying = batch(st.take(1, t0, true, &RULES, R));
        let slow = err(ErrorCode::REQUEST_TIMED_OUT);
        assert!(matches!(st.on_failure(retrying, &slow, &retries(5), t0), Settled::Retrying(_)));
        // Partition 0's 2 are in flight; partition 1's 2 wait to retry; partition 2's 2 queued.
        assert_eq!(st.close(&Error::Stopped), 2, "what is left in flight");
        assert_eq!((st.outstanding, st.failed), (2, 4));
        assert!(matches!(st.take(1, t0 + Duration::from_secs(9), true, &RULES, R), Ready::Nothing));
        // The batch in flight fails: closing, it is not retried.
        assert_eq!(st.on_failure(in_flight, &slow, &retries(5), t0), Settled::Failed);
        assert_eq!((st.outstanding, st.outstanding_bytes, st.failed), (0, 0, 6));
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::protocol::error_code::ErrorCode;
    use crate::protocol::ApiKey;
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use std::sync::mpsc::channel;

    const PARTS: usize = 3;
    const RULES: BatchRules =
        BatchRules { linger: Duration::from_millis(5), min_queued_messages: 4, budget: 120, max_in_flight: 3 };
    const R: Route = Route { sender: 1, leader: Some(1) };

    #[derive(Debug, Clone)]
    enum Op {
        Accept { partition: usize, len: usize },
        Take { partition: usize, urgent: bool, advance_ms: u64 },
        Succeed { pick: usize },
        Fail { pick: usize, retriable: bool },
        Bump,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..PARTS, 1usize..60).prop_map(|(partition, len)| Op::Accept { partition, len }),
            3 => (0..PARTS, any::<bool>(), 0u64..300)
                .prop_map(|(partition, urgent, advance_ms)| Op::Take { partition, urgent, advance_ms }),
            2 => any::<usize>().prop_map(|pick| Op::Succeed { pick }),
            1 => (any::<usize>(), proptest::bool::weighted(0.7)).prop_map(|(pick, retriable)| Op::Fail { pick, retriable }),
            1 => Just(Op::Bump),
        ]
    }

    fn id_of(value: Option<&[u8]>) -> u64 {
        std::str::from_utf8(&value.expect("value")[..8]).expect("ascii").parse().expect("id")
    }

    /// Runs `ops` against an idempotent producer's state, then closes it and settles what is in
    /// flight, checking at each step: at most `max_in_flight` batches of a partition out; a
    /// partition's batches go in the order its messages came, retries one at a time before
    /// anything newer with the same messages and sequence numbers; fresh batches continue the
    /// partition's sequence; the counts match what is held; and in the end every message has
    /// exactly one outcome, with a partition's successes in the order they were produced.
    ///
    /// The harness answers as a broker does: a partition's batches in the order they went (one
    /// connection), and once one of them failed, the later ones out with it are refused as out
    /// of order. Returns how many epoch bumps happened.
    fn run(ops: &[Op]) -> Result<usize, String> {
        let (tx, rx) = channel();
        let mut st = State::new(PARTS, Some(tx));
        st.producer = ProducerIds { id: 7, epoch: 0 };
        let rules = RetryRules {
            max_retries: 3,
            backoff: Backoff::new(Duration::from_millis(10), Duration::from_millis(40)),
            delivery_timeout: Duration::from_secs(3600),
        };
        let start = Instant::now();
        let mut now = start;
        let mut next_id = 0u64;
        let mut sizes: BTreeMap<u64, usize> = BTreeMap::new();
        // Per partition: ids accepted and not yet in a batch, and the next sequence expected.
        let mut unsent: Vec<VecDeque<u64>> = vec![VecDeque::new(); PARTS];
        let mut next_seq = [0i32; PARTS];
        // Per partition: batches out, oldest first; whether one of them failed (the broker
        // refuses those after it); failed batches (ids, base sequence) until they go again.
        let mut out: Vec<VecDeque<Batch>> = (0..PARTS).map(|_| VecDeque::new()).collect();
        let mut gap = [false; PARTS];
        let mut retrying: Vec<VecDeque<(Vec<u64>, i32)>> = vec![VecDeque::new(); PARTS];
        let ids = |b: &Batch| b.records.records().map(|r| id_of(r.value)).collect::<Vec<u64>>();
        let mut bumps = 0;
        for (step, op) in ops.iter().enumerate() {
            let at = |what: String| format!("step {step} ({op:?}): {what}");
            match op.clone() {
                Op::Accept { partition, len } => {
                    let value = format!("{next_id:08}{}", "x".repeat(len)).into_bytes();
                    let rec = Incoming::new(None, Some(&value), Headers::Borrowed(&[]), Some(0));
                    let before = st.outstanding_bytes;
                    st.accept(partition, &rec, None, || now, &RULES);
                    sizes.insert(next_id, st.outstanding_bytes - before);
                    unsent[partition].push_back(next_id);
                    next_id += 1;
                }
                Op::Take { partition, urgent, advance_ms } => {
                    now += Duration::from_millis(advance_ms);
                    let before = out[partition].len();
                    match st.take(partition, now, urgent, &RULES, R) {
                        Ready::Batch(b) => {
                            if before >= RULES.max_in_flight {
                                return Err(at(format!("a batch went with {before} out")));
                            }
                            let got = ids(&b);
                            if let Some((same, seq)) = retrying[partition].pop_front() {
                                if before > 0 {
                                    return Err(at("a retry went with batches out".into()));
                                }
                                if got != same || b.base_sequence != seq {
                                    return Err(at(format!("retry {got:?}@{} is not {same:?}@{seq}", b.base_sequence)));
                                }
                            } else {
                                let expected: Vec<u64> = unsent[partition].iter().take(got.len()).copied().collect();
                                if got != expected || got.is_empty() {
                                    return Err(at(format!("batch {got:?} is not the oldest unsent {expected:?}")));
                                }
                                if b.base_sequence != next_seq[partition] {
                                    return Err(at(format!(
                                        "base sequence {} is not {}",
                                        b.base_sequence, next_seq[partition]
                                    )));
                                }
                                unsent[partition].drain(..got.len());
                                next_seq[partition] = next_sequence(b.base_sequence, got.len());
                            }
                            out[partition].push_back(b);
                        }
                        Ready::WaitUntil(t) if t <= now => return Err(at("told to wait until a time passed".into())),
                        _ => {}
                    }
                }
                Op::Succeed { pick } | Op::Fail { pick, .. } if out.iter().any(|o| !o.is_empty()) => {
                    let busy: Vec<usize> = (0..PARTS).filter(|p| !out[*p].is_empty()).collect();
                    let p = busy[pick % busy.len()];
                    let Some(b) = out[p].pop_front() else { continue };
                    let code = match op {
                        _ if gap[p] => Some(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER),
                        Op::Fail { retriable: true, .. } => Some(ErrorCode::NOT_LEADER_OR_FOLLOWER),
                        Op::Fail { .. } => Some(ErrorCode::INVALID_RECORD),
                        _ => None,
                    };
                    match code {
                        None => st.finish(b, |i| Ok(Delivery { partition: p as i32, offset: Some(i as i64) })),
                        Some(code) => {
                            gap[p] = true;
                            let (got, seq) = (ids(&b), b.base_sequence);
                            let e = Error::broker(
                                ApiKey::Produce,
                                code,
                                crate::error::Context::partition("t", p as i32),
                                None,
                            );
                            let settled = st.on_failure(b, &e, &rules, now);
                            if code == ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER && settled == Settled::Failed {
                                return Err(at("a batch refused for the gap before it failed for good".into()));
                            }
                            if settled != Settled::Failed {
                                let r = &mut retrying[p];
                                let at = r.iter().position(|(ids, _)| ids[0] > got[0]).unwrap_or(r.len());
                                r.insert(at, (got, seq));
                            }
                        }
                    }
                    if out[p].is_empty() {
                        gap[p] = false;
                    }
                }
                Op::Bump => {
                    let epoch = st.producer.epoch;
                    if st.bump_epoch() && st.producer.epoch != epoch {
                        bumps += 1;
                        // Sequences restart at 0, the retries waiting taking the first numbers.
                        for (p, n) in next_seq.iter_mut().enumerate() {
                            *n = 0;
                            for (ids, seq) in &mut retrying[p] {
                                *seq = *n;
                                *n = next_sequence(*n, ids.len());
                            }
                        }
                    }
                }
                Op::Succeed { .. } | Op::Fail { .. } => {}
            }
            for (p, q) in st.parts.iter().enumerate() {
                if q.in_flight != out[p].len() {
                    return Err(at(format!(
                        "partition {p}: {} in flight but {} in the harness",
                        q.in_flight,
                        out[p].len()
                    )));
                }
            }
            let held: Vec<u64> = out
                .iter()
                .flatten()
                .flat_map(&ids)
                .chain(retrying.iter().flatten().flat_map(|r| r.0.clone()))
                .chain(unsent.iter().flatten().copied())
                .collect();
            if st.outstanding != held.len() {
                return Err(at(format!("outstanding {} but {} held", st.outstanding, held.len())));
            }
            let bytes: usize = held.iter().map(|i| sizes[i]).sum();
            if st.outstanding_bytes != bytes {
                return Err(at(format!("outstanding bytes {} but {bytes} held", st.outstanding_bytes)));
            }
        }
        let still_out = st.close(&Error::Stopped);
        if still_out != out.iter().flatten().map(Batch::len).sum::<usize>() {
            return Err(format!("close: {still_out} still out"));
        }
        for b in out.iter_mut().flat_map(|o| o.drain(..)) {
            let partition = b.partition;
            st.finish(b, |i| Ok(Delivery { partition, offset: Some(i as i64) }));
        }
        drop(st);
        let mut outcomes: BTreeMap<u64, usize> = BTreeMap::new();
        let mut delivered: Vec<Vec<u64>> = vec![Vec::new(); PARTS];
        for r in rx.iter() {
            let id = id_of(r.record.value.as_deref());
            *outcomes.entry(id).or_default() += 1;
            if let Ok(d) = &r.result {
                delivered[d.partition as usize].push(id);
            }
        }
        if outcomes.len() as u64 != next_id || outcomes.values().any(|n| *n != 1) {
            return Err(format!("{} messages, outcomes {outcomes:?}", next_id));
        }
        for (p, ids) in delivered.iter().enumerate() {
            if !ids.windows(2).all(|w| w[0] < w[1]) {
                return Err(format!("partition {p} delivered out of order: {ids:?}"));
            }
        }
        Ok(bumps)
    }

    proptest! {
        #[test]
        fn any_sequence_of_sends_and_answers_keeps_order_and_counts(ops in proptest::collection::vec(op(), 0..80)) {
            if let Err(e) = run(&ops) {
                return Err(TestCaseError::fail(e));
            }
        }
    }

    /// Batches out together behind a failed one: the harness refuses them as out of order, and
    /// they go again after it, in order.
    #[test]
    fn the_sequences_reach_refusals_behind_a_failure() {
        let mut ops: Vec<Op> = (0..12).map(|_| Op::Accept { partition: 0, len: 1 }).collect();
        ops.extend((0..3).map(|_| Op::Take { partition: 0, urgent: false, advance_ms: 0 }));
        ops.extend([Op::Fail { pick: 0, retriable: true }, Op::Succeed { pick: 0 }, Op::Succeed { pick: 0 }]);
        for _ in 0..3 {
            ops.extend([Op::Take { partition: 0, urgent: false, advance_ms: 50 }, Op::Succeed { pick: 0 }]);
        }
        assert_eq!(run(&ops), Ok(0));
    }

    /// The generated sequences reach the epoch bump (so the property covers it): a batch
    /// failing for good, then a bump with a retry waiting on another partition.
    #[test]
    fn the_sequences_reach_an_epoch_bump() {
        let ops = [
            Op::Accept { partition: 0, len: 1 },
            Op::Accept { partition: 1, len: 1 },
            Op::Take { partition: 0, urgent: true, advance_ms: 0 },
            Op::Take { partition: 1, urgent: true, advance_ms: 0 },
            Op::Fail { pick: 0, retriable: false },
            Op::Fail { pick: 0, retriable: true },
            Op::Bump,
            Op::Accept { partition: 0, len: 1 },
            Op::Take { partition: 0, urgent: true, advance_ms: 50 },
            Op::Take { partition: 1, urgent: true, advance_ms: 50 },
            Op::Succeed { pick: 0 },
            Op::Succeed { pick: 0 },
            // The retry took sequence 0 of the new epoch; what follows it takes 1.
            Op::Accept { partition: 1, len: 1 },
            Op::Take { partition: 1, urgent: true, advance_ms: 0 },
            Op::Succeed { pick: 0 },
        ];
        assert_eq!(run(&ops), Ok(1));
    }
}
