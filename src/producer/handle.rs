//! The producer as the application sees it.

use super::accumulator::{Headers, Incoming, ProducerIds, Reply, State};
use super::config::ProducerConfig;
use super::record::{BorrowedRecord, Delivery, DeliveryReport, ProducerRecord};
use super::sender::{self, Shared};
use crate::client::{txn, TopicRef};
use crate::error::{Error, Result};
use crate::protocol::error_code::ErrorCode;
use crate::stats::{Periodic, ProducerStats};
use crate::workers::Workers;
use std::collections::BTreeSet;
use std::sync::atomic::AtomicUsize;
use std::sync::mpsc::{channel, sync_channel, Receiver};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long dropping a producer waits for its messages before giving up on them.
const DROP_TIMEOUT: Duration = Duration::from_secs(30);

/// Writes messages to a topic (PyKafka's Producer). Create one with [`crate::Topic::producer`].
///
/// `produce` queues a message and returns; a sender thread batches per partition (by
/// `min_queued_messages`, `max_request_size` and `linger`) and writes one Produce request per
/// broker. [`Producer::send`] waits for the acknowledgement and returns where the message went.
/// Within a partition, messages are written in the order produced: one batch per partition is
/// in flight, and a retried batch keeps its place.
///
/// Nothing is dropped silently: each failure reaches `send`'s caller, the delivery reports, or
/// (with neither) the next [`Producer::flush`] or [`Producer::close`]. Dropping the producer
/// flushes for up to 30 s.
#[derive(Debug)]
pub struct Producer {
    shared: Arc<Shared>,
    workers: Workers,
    reports: Option<Mutex<Receiver<DeliveryReport>>>,
    partitions: i32,
    counter: AtomicUsize,
    closed: bool,
    /// `None` without a statistics callback and interval.
    statistics: Option<Mutex<Periodic<ProducerStats>>>,
    /// With a transactional id: the transaction's state.
    txn: Option<Mutex<Txn>>,
}

/// A transactional producer's state.
#[derive(Debug)]
struct Txn {
    id: String,
    open: bool,
    /// Partitions added to the open transaction.
    added: BTreeSet<i32>,
    /// Offsets were added to the open transaction.
    offsets: bool,
    /// Fenced by a newer producer with the same id, or refused for good: every later call
    /// gets this.
    fatal: Option<Error>,
    /// Transaction version 2 (KIP-890): partitions and offsets join the transaction with the
    /// requests that write them, and every EndTxn hands out the next epoch.
    v2: bool,
}

/// Errors after which a transactional producer can do nothing more, as the Java client decides:
/// fenced by a newer producer with the same id, refused the id or the cluster, speaking what
/// the broker can't, or out of step with the coordinator. Every other error (a message
/// refused, TRANSACTION_ABORTABLE, a topic not authorized, a rebalance) is abortable: abort,
/// and the next transaction can succeed.
fn is_fatal(e: &Error) -> bool {
    matches!(
        e,
        Error::Broker {
            code: ErrorCode::PRODUCER_FENCED
                | ErrorCode::INVALID_PRODUCER_EPOCH
                | ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
                | ErrorCode::CLUSTER_AUTHORIZATION_FAILED
                | ErrorCode::UNSUPPORTED_VERSION
                | ErrorCode::UNSUPPORTED_FOR_MESSAGE_FORMAT
                | ErrorCode::INVALID_TXN_STATE,
            ..
        }
    )
}

impl Producer {
    pub(crate) fn start(topic: TopicRef, cfg: ProducerConfig) -> Result<Producer> {
        let client = Arc::clone(&topic.client);
        let transactional = cfg.transactional_id.clone();
        let mut transaction_v2 = false;
        let producer = match (&transactional, cfg.enable_idempotence) {
            (Some(id), _) => {
                let (id_, epoch) = txn::init(&client, id, cfg.transaction_timeout)?;
                transaction_v2 = txn::version_2(&client, id)?;
                let v = if transaction_v2 { 2 } else { 1 };
                log::info!(
                    "{}: transactional id {id:?} has producer id {id_} epoch {epoch}, transaction version {v}",
                    topic.name
                );
                ProducerIds { id: id_, epoch }
            }
            (None, idempotence) => match idempotence {
                Some(false) => ProducerIds::NONE,
                Some(true) => sender::new_ids(&topic.client, &topic.name)?,
                // On by default, as in the Java client since 3.0, where the brokers can do it.
                None => match sender::new_ids(&topic.client, &topic.name) {
                    Ok(ids) => ids,
                    Err(e) if e.is_retriable() => return Err(e),
                    Err(e) => {
                        log::warn!("{}: writing without idempotence, which the cluster refused: {e}", topic.name);
                        ProducerIds::NONE
                    }
                },
            },
        };
        let partitions = topic.partitions.len();
        let (reports_tx, reports) = if cfg.delivery_reports {
            let (tx, rx) = channel();
            (Some(tx), Some(Mutex::new(rx)))
        } else {
            (None, None)
        };
        let mut state = State::new(partitions, reports_tx);
        state.producer = producer;
        let shared = Arc::new(Shared {
            topic: Arc::clone(&topic.name),
            cfg,
            client,
            state: Mutex::new(state),
            work: Condvar::new(),
            progress: Condvar::new(),
            transaction_v2,
        });
        let owners: Arc<Vec<i32>> = Arc::new(shared.client.brokers().keys().copied().collect());
        let mut workers = Workers::new();
        for &broker in owners.iter() {
            let role = sender::Role { broker, owners: Arc::clone(&owners) };
            let s = Arc::clone(&shared);
            let on_panic = {
                let s = Arc::clone(&shared);
                move |e| s.fail_all(e)
            };
            if let Err(e) =
                workers.spawn(format!("plainkafka-produce-{broker}"), move || sender::run(s, role), on_panic)
            {
                // Stop the ones already running before reporting.
                shared.lock().closing = true;
                shared.work.notify_all();
                return Err(e);
            }
        }
        let statistics =
            Periodic::new(shared.cfg.statistics_interval, shared.cfg.on_statistics.clone()).map(Mutex::new);
        Ok(Producer {
            shared,
            workers,
            reports,
            partitions: partitions as i32,
            counter: AtomicUsize::new(0),
            closed: false,
            statistics,
            txn: transactional.map(|id| {
                Mutex::new(Txn {
                    id,
                    open: false,
                    added: BTreeSet::new(),
                    offsets: false,
                    fatal: None,
                    v2: transaction_v2,
                })
            }),
        })
    }

    /// A snapshot of this producer's figures: its queue, the batches sent and how full they
    /// were, retries and failures, the brokers' traffic (see [`crate::stats`]).
    pub fn stats(&self) -> ProducerStats {
        let (queued_messages, queued_bytes, t) = {
            let st = self.shared.lock();
            (st.outstanding, st.outstanding_bytes, st.totals)
        };
        let (brokers, retries) = self.shared.client.broker_stats();
        let capacity = t.batches.saturating_mul(self.shared.batch_budget() as u64);
        ProducerStats {
            time_ms: crate::stats::now_ms(),
            queued_messages,
            queued_bytes,
            batches: t.batches,
            records: t.records,
            batch_bytes: t.batch_bytes,
            average_fill: if capacity == 0 { 0.0 } else { (t.batch_bytes as f64 / capacity as f64).min(1.0) },
            batch_retries: t.batch_retries,
            failed: t.failed,
            brokers,
            retries,
        }
    }

    /// Calls the statistics callback when its interval has passed.
    fn report_statistics(&self) {
        // Without statistics, no lock and no clock per message.
        let Some(periodic) = &self.statistics else { return };
        let mut p = periodic.lock().unwrap_or_else(|e| e.into_inner());
        if p.due() {
            p.fire(&self.stats());
        }
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.shared.topic
    }

    /// Queues a message (or, with `sync(true)`, writes it and waits). Blocks while the queue is
    /// full (`max_queued_messages`, `max_queued_bytes`), for up to `pending_timeout` (with
    /// `block_on_queue_full`). The record is encoded into its partition's open batch at once.
    pub fn produce(&self, rec: ProducerRecord) -> Result<()> {
        self.produce_incoming(
            Incoming::new(rec.key.as_deref(), rec.value.as_deref(), Headers::Owned(&rec.headers), rec.timestamp),
            rec.partition,
        )
    }

    /// [`Producer::produce`] for a borrowed record: its bytes are copied into the batch, so a
    /// caller that fills one buffer again and again allocates nothing per message.
    pub fn produce_borrowed(&self, rec: BorrowedRecord<'_>) -> Result<()> {
        let incoming = Incoming::new(rec.key, rec.value, Headers::Borrowed(rec.headers), rec.timestamp);
        self.produce_incoming(incoming, rec.partition)
    }

    fn produce_incoming(&self, rec: Incoming<'_>, partition: Option<i32>) -> Result<()> {
        self.report_statistics();
        if self.shared.cfg.sync {
            return self.send_incoming(rec, partition).map(drop);
        }
        self.enqueue(rec, partition, None)
    }

    /// Writes a message and waits for its acknowledgement: the partition and offset it got.
    pub fn send(&self, rec: ProducerRecord) -> Result<Delivery> {
        self.report_statistics();
        self.send_incoming(
            Incoming::new(rec.key.as_deref(), rec.value.as_deref(), Headers::Owned(&rec.headers), rec.timestamp),
            rec.partition,
        )
    }

    fn send_incoming(&self, rec: Incoming<'_>, partition: Option<i32>) -> Result<Delivery> {
        let (tx, rx) = sync_channel(1);
        self.enqueue(rec, partition, Some(tx))?;
        let cfg = &self.shared.cfg;
        // The delivery timeout bounds retries; a request under way when it passes still runs to
        // its own end.
        let last_try =
            cfg.ack_timeout + self.shared.client.connection_config().request_timeout + Duration::from_secs(5);
        let limit = cfg.linger.saturating_add(cfg.delivery_timeout).saturating_add(last_try);
        // A closed channel means the sender thread died with the batch: say why.
        let timed_out =
            || Error::DeliveryTimeout { topic: self.shared.topic.to_string(), outstanding: 1, after: limit };
        rx.recv_timeout(limit).map_err(|_| self.shared.lock().dead.clone().unwrap_or_else(timed_out))?
    }

    fn enqueue(&self, rec: Incoming<'_>, partition: Option<i32>, reply: Option<Reply>) -> Result<()> {
        let topic = &*self.shared.topic;
        let cfg = &self.shared.cfg;
        if self.closed {
            return Err(Error::Stopped);
        }
        let p = match partition {
            Some(p) => p,
            None => cfg.partitioner.partition(rec.key, self.partitions, &self.counter),
        };
        if !(0..self.partitions).contains(&p) {
            return Err(Error::UnknownTopicOrPartition { topic: topic.to_string(), partition: Some(p) });
        }
        let size = rec.size;
        if size > self.shared.batch_budget() {
            return Err(Error::MessageTooLarge { topic: topic.to_string(), size, max: self.shared.batch_budget() });
        }
        self.join_transaction(p)?;
        let mut st = self.shared.lock();
        let mut deadline = None;
        while st.is_full(size, cfg.max_queued_messages, cfg.max_queued_bytes) {
            let deadline = *deadline.get_or_insert_with(|| Instant::now() + cfg.pending_timeout);
            let left = deadline.saturating_duration_since(Instant::now());
            if !cfg.block_on_queue_full || left.is_zero() {
                return Err(Error::QueueFull {
                    topic: topic.to_string(),
                    queued: st.outstanding + st.unread_reports,
                    bytes: st.outstanding_bytes + st.unread_report_bytes,
                    waited: cfg.pending_timeout,
                });
            }
            st = self.shared.progress.wait_timeout(st, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        if let Some(e) = &st.dead {
            return Err(e.clone());
        }
        if st.closing {
            return Err(Error::Stopped);
        }
        let wake = st.accept(p as usize, &rec, reply, Instant::now, &self.shared.rules());
        drop(st);
        if wake {
            // Any sender may own the partition.
            self.shared.work.notify_all();
        }
        Ok(())
    }

    /// With a transactional id: checks a transaction is open and adds partition `p` to it on
    /// its first message.
    fn join_transaction(&self, p: i32) -> Result<()> {
        let Some(txn) = &self.txn else { return Ok(()) };
        let mut t = txn.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = &t.fatal {
            return Err(e.clone());
        }
        if !t.open {
            return Err(Error::Config(format!(
                "{}: no transaction is open (call begin_transaction before producing)",
                self.shared.topic
            )));
        }
        if self.shared.lock().bump_needed {
            return Err(self.must_abort());
        }
        if !t.added.contains(&p) && !t.v2 {
            let ids = self.shared.lock().producer;
            let added = txn::add_partitions(&self.shared.client, &t.id, (ids.id, ids.epoch), &self.shared.topic, &[p]);
            if let Err(e) = added {
                if is_fatal(&e) {
                    t.fatal = Some(e.clone());
                }
                return Err(e);
            }
        }
        t.added.insert(p);
        Ok(())
    }

    /// The error for a transaction in which a message failed for good.
    fn must_abort(&self) -> Error {
        Error::Config(format!("{}: a message of the transaction failed; abort the transaction", self.shared.topic))
    }

    /// The transaction state, for the transaction calls: open (`want_open`) or not, and not
    /// failed for good.
    fn txn(&self, want_open: bool) -> Result<std::sync::MutexGuard<'_, Txn>> {
        let txn = self
            .txn
            .as_ref()
            .ok_or_else(|| Error::Config(format!("{}: this producer has no transactional id", self.shared.topic)))?;
        let t = txn.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = &t.fatal {
            return Err(e.clone());
        }
        if t.open != want_open {
            let why = if want_open { "no transaction is open" } else { "a transaction is already open" };
            return Err(Error::Config(format!("{}: {why}", self.shared.topic)));
        }
        Ok(t)
    }

    /// Starts a transaction (needs a transactional id): what is produced from now until
    /// [`Producer::commit_transaction`] or [`Producer::abort_transaction`] is written as one
    /// unit.
    pub fn begin_transaction(&self) -> Result<()> {
        let mut t = self.txn(false)?;
        t.open = true;
        t.added.clear();
        t.offsets = false;
        Ok(())
    }

    /// Sends everything produced in the transaction, waiting up to `timeout`, then commits it:
    /// read_committed consumers see it all from now on. If a message failed, the error is
    /// returned and the transaction stays open: abort it. Fenced (a newer producer took the
    /// transactional id), the producer can do nothing more.
    pub fn commit_transaction(&self, timeout: Duration) -> Result<()> {
        let mut t = self.txn(true)?;
        self.flush(timeout)?;
        if self.shared.lock().bump_needed {
            return Err(self.must_abort());
        }
        self.end_transaction(&mut t, true)
    }

    /// Commits a consumer group's offsets as part of the open transaction: they take effect if
    /// and only if the transaction commits, which is what makes consume → transform → produce
    /// exactly once. `offsets` are (topic, partition, next offset to read): one past the last
    /// message processed. With a group member's [`crate::group::ConsumerGroupMetadata`] the
    /// coordinator refuses the commit once a rebalance replaced the member.
    pub fn send_offsets_to_transaction(
        &self,
        offsets: &[(&str, i32, i64)],
        group: &crate::group::ConsumerGroupMetadata,
    ) -> Result<()> {
        let mut t = self.txn(true)?;
        let ids = self.shared.lock().producer;
        let client = &self.shared.client;
        let added = if t.v2 { Ok(()) } else { txn::add_offsets(client, &t.id, (ids.id, ids.epoch), &group.group) };
        let sent = added.and_then(|()| {
            let member = group.member.as_ref();
            txn::commit_offsets(client, &t.id, (ids.id, ids.epoch), &group.group, member, offsets, t.v2)
        });
        if let Err(e) = &sent {
            if is_fatal(e) {
                t.fatal = Some(e.clone());
            }
        }
        // The transaction now holds offsets: EndTxn is needed even with no message written.
        t.offsets = true;
        sent
    }

    /// Aborts the transaction: messages not yet sent fail with [`Error::TransactionAborted`]
    /// and are never written, those already written are never read by read_committed
    /// consumers. Waits up to `timeout` for requests in flight.
    pub fn abort_transaction(&self, timeout: Duration) -> Result<()> {
        let mut t = self.txn(true)?;
        let aborted = Error::TransactionAborted { transactional_id: t.id.clone() };
        self.shared.lock().abort_pending(&aborted);
        self.shared.progress.notify_all();
        // What is in flight settles (written or failed) before the coordinator is told. The
        // application asked for the abort: its messages' failures are not the flush's error.
        let _ = self.flush(timeout);
        {
            let mut st = self.shared.lock();
            if matches!(st.first_error, Some(Error::TransactionAborted { .. })) {
                st.first_error = None;
                st.failed = 0;
            }
        }
        self.end_transaction(&mut t, false)?;
        // A batch that failed for good left a gap in the sequence numbers: the coordinator
        // gives the next epoch, with which every partition starts again at 0 (version 2's
        // EndTxn already did).
        if self.shared.lock().bump_needed {
            match txn::init(&self.shared.client, &t.id, self.shared.cfg.transaction_timeout) {
                Ok((id, epoch)) => self.shared.lock().restart_ids(ProducerIds { id, epoch }),
                Err(e) => {
                    if is_fatal(&e) {
                        t.fatal = Some(e.clone());
                    }
                    return Err(e);
                }
            }
            self.shared.work.notify_all();
        }
        Ok(())
    }

    /// Whether a transaction is open.
    pub(crate) fn transaction_open(&self) -> bool {
        self.txn.as_ref().is_some_and(|t| t.lock().unwrap_or_else(|e| e.into_inner()).open)
    }

    /// EndTxn for the open transaction (when it wrote anything), then closed either way; a
    /// fatal refusal sticks. Under version 2 the answer's epoch is the next transaction's, and
    /// every partition's sequence numbers start again at 0.
    fn end_transaction(&self, t: &mut Txn, commit: bool) -> Result<()> {
        if !t.added.is_empty() || t.offsets {
            let ids = self.shared.lock().producer;
            match txn::end(&self.shared.client, &t.id, (ids.id, ids.epoch), commit, t.v2) {
                Ok(Some((id, epoch))) if t.v2 => {
                    self.shared.lock().restart_ids(ProducerIds { id, epoch });
                    self.shared.work.notify_all();
                }
                Ok(_) => {}
                Err(e) => {
                    if is_fatal(&e) {
                        t.fatal = Some(e.clone());
                        t.open = false;
                    }
                    return Err(e);
                }
            }
        }
        t.open = false;
        t.added.clear();
        t.offsets = false;
        Ok(())
    }

    /// The next delivery report (with `delivery_reports(true)`): waits up to `timeout` (`None`:
    /// don't wait). `None` if there is none yet, or reports are off.
    pub fn get_delivery_report(&self, timeout: Option<Duration>) -> Option<DeliveryReport> {
        let rx = self.reports.as_ref()?.lock().unwrap_or_else(|e| e.into_inner());
        let report = match timeout {
            None => rx.try_recv().ok(),
            Some(t) => rx.recv_timeout(t).ok(),
        }?;
        drop(rx);
        // Room in the queue for whoever waits in `produce`.
        self.shared.lock().report_taken(report.record.size_estimate());
        self.shared.progress.notify_all();
        Some(report)
    }

    /// The delivery reports ready now, as an iterator (with `delivery_reports(true)`).
    pub fn delivery_reports(&self) -> impl Iterator<Item = DeliveryReport> + '_ {
        std::iter::from_fn(move || self.get_delivery_report(None))
    }

    /// Sends everything queued now and waits up to `timeout` for it to finish. Returns the first
    /// failure since the last flush when delivery reports are off.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        self.report_statistics();
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        st.flushing += 1;
        self.shared.work.notify_all();
        while st.outstanding > 0 {
            if st.bump_needed && self.txn.is_some() {
                // A message of the transaction failed for good: what is queued waits for an abort,
                // so waiting here would only run out the timeout.
                st.flushing -= 1;
                return Err(st.first_error.take().unwrap_or_else(|| self.must_abort()));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                st.flushing -= 1;
                return Err(Error::DeliveryTimeout {
                    topic: self.shared.topic.to_string(),
                    outstanding: st.outstanding,
                    after: timeout,
                });
            }
            st = self.shared.progress.wait_timeout(st, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        st.flushing -= 1;
        match st.first_error.take() {
            Some(e) => {
                let n = std::mem::take(&mut st.failed);
                log::error!("{}: {n} messages failed since the last flush; the first: {e}", self.shared.topic);
                Err(e)
            }
            None => Ok(()),
        }
    }

    /// Flushes for up to `timeout`, then stops the senders. Messages still queued or waiting
    /// to retry then fail with [`Error::Stopped`] (reported as such); batches in flight get
    /// until their requests end (at least a second), and no request is written after that.
    /// Calling it again does nothing.
    pub fn close(&mut self, timeout: Duration) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        let deadline = Instant::now() + timeout;
        let flushed = self.flush(timeout);
        self.closed = true;
        // What the flush could not finish fails now rather than vanishing; no sender takes a
        // batch from here on.
        let in_flight = self.shared.lock().close(&Error::Stopped);
        self.shared.progress.notify_all();
        self.shared.work.notify_all();
        // Batches in flight settle when their requests end: wait for that, at least a moment
        // even when the flush used the whole timeout.
        let deadline = deadline.max(Instant::now() + Duration::from_secs(1));
        self.workers.join_by(deadline, &format!("{} senders", self.shared.topic));
        let unsettled = self.shared.lock().outstanding;
        if unsettled > 0 {
            // Their outcomes still reach `send` or the delivery reports when the requests end;
            // nothing new is written.
            log::error!(
                "{}: closed with {unsettled} of {in_flight} messages still in flight; their outcomes come when their requests end",
                self.shared.topic
            );
            return flushed.and(Err(Error::DeliveryTimeout {
                topic: self.shared.topic.to_string(),
                outstanding: unsettled,
                after: timeout,
            }));
        }
        flushed
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        if let Err(e) = self.close(DROP_TIMEOUT) {
            log::error!("{}: closing on drop: {e}", self.shared.topic);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Context;
    use crate::protocol::ApiKey;

    #[test]
    fn fencing_and_refusals_are_fatal_and_the_rest_abortable() {
        let e = |code| Error::broker(ApiKey::EndTxn, code, Context::broker(1), None);
        for code in
            [ErrorCode::PRODUCER_FENCED, ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED, ErrorCode::INVALID_TXN_STATE]
        {
            assert!(is_fatal(&e(code)), "{code:?}");
        }
        for code in [
            ErrorCode::TRANSACTION_ABORTABLE,
            ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
            ErrorCode::TOPIC_AUTHORIZATION_FAILED,
            ErrorCode::CONCURRENT_TRANSACTIONS,
        ] {
            assert!(!is_fatal(&e(code)), "{code:?}");
        }
        assert!(!is_fatal(&Error::Rebalanced { group: "g".into() }));
    }

    #[test]
    fn a_producer_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Producer>();
    }
}
