//! The queue between `produce` and the sender thread: per-partition messages in order, a batch
//! per partition at most in flight, and the counts `produce`, `flush` and `close` wait on.

use super::record::{Delivery, DeliveryReport, ProducerRecord};
use crate::error::Error;
use std::collections::VecDeque;
use std::sync::mpsc::{Sender, SyncSender};
use std::time::Instant;

/// A message waiting to be written.
#[derive(Debug)]
pub(crate) struct Pending {
    pub rec: ProducerRecord,
    /// Where `send` waits for the outcome.
    pub reply: Option<SyncSender<Result<Delivery, Error>>>,
    pub enqueued: Instant,
}

/// A batch taken from a partition's queue; kept whole across retries so that its sequence
/// numbers and its place in the partition don't change.
#[derive(Debug)]
pub(crate) struct Batch {
    pub partition: i32,
    pub msgs: Vec<Pending>,
    pub attempts: u32,
    pub base_sequence: i32,
}

#[derive(Debug, Default)]
pub(crate) struct PartQueue {
    pub queue: VecDeque<Pending>,
    /// A batch that failed and waits for its retry; it goes before anything queued.
    pub retry: Option<Batch>,
    pub retry_at: Option<Instant>,
    pub next_sequence: i32,
    /// Queued messages whose producer waits in `send`: the batch goes without lingering.
    pub waiting: usize,
    /// A batch of this partition is being sent: no other may go until it settles, whichever
    /// sender thread owns the partition by then.
    pub in_flight: bool,
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
        }
    }

    /// Hands each message of a finished batch its outcome.
    pub fn finish(&mut self, batch: Batch, outcome: impl Fn(usize) -> Result<Delivery, Error>) {
        if let Some(q) = usize::try_from(batch.partition).ok().and_then(|p| self.parts.get_mut(p)) {
            q.in_flight = false;
        }
        let n = batch.msgs.len();
        for (i, p) in batch.msgs.into_iter().enumerate() {
            let result = outcome(i);
            if let Err(e) = &result {
                self.failed += 1;
                if self.reports.is_none() && p.reply.is_none() && self.first_error.is_none() {
                    self.first_error = Some(e.clone());
                }
            }
            if let Some(reply) = p.reply {
                // The waiter may have given up; the outcome then goes nowhere, as it asked.
                let _ = reply.send(result);
            } else if let Some(r) = &self.reports {
                let _ = r.send(DeliveryReport { record: p.rec, result });
            }
        }
        self.outstanding -= n;
    }
}
