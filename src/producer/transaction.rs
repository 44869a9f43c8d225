//! The blocking transaction helper: a closure's messages, and the offsets of what a consumer
//! handed it, committed as one unit or not at all.
//!
//! It exists for the traps of doing this by hand: committing the offset of the last message
//! instead of the next one, forgetting to abort when processing fails or panics, and (the one
//! most often missed) going on after an abort from where the consumer stood, which skips the
//! aborted inputs for good. This is the only place the producer meets a consumer.

use super::handle::Producer;
use super::record::{Delivery, ProducerRecord};
use crate::consumer::BalancedConsumer;
use crate::error::{Error, Result};
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// An open transaction, handed to the closure of [`Producer::transact`] and
/// [`Producer::transact_from`]: what is produced through it commits or aborts with it.
#[derive(Debug)]
pub struct Transaction<'a> {
    producer: &'a Producer,
}

impl Transaction<'_> {
    /// Queues a message in the transaction ([`Producer::produce`]).
    pub fn produce(&self, rec: ProducerRecord) -> Result<()> {
        self.producer.produce(rec)
    }

    /// Writes a message in the transaction and waits for its acknowledgement
    /// ([`Producer::send`]). It stays invisible to read_committed consumers until the
    /// transaction commits.
    pub fn send(&self, rec: ProducerRecord) -> Result<Delivery> {
        self.producer.send(rec)
    }
}

impl Producer {
    /// Runs `f` in a transaction (the producer needs a transactional id): begins it, commits it
    /// when `f` returns `Ok`, and aborts it when `f` returns an error or panics (the panic then
    /// goes on). `timeout` bounds the commit's and the abort's wait for messages still being
    /// sent.
    ///
    /// The steps of the commit retry what may pass (a coordinator loading or moving, the
    /// previous transaction still completing) with backoff; `f` is never run twice. When the
    /// commit fails the transaction is aborted and the error returned: calling `transact`
    /// again is the retry. After [`crate::ErrorCode::PRODUCER_FENCED`] (a newer producer took
    /// the transactional id) every call fails: this process is a zombie and should stop.
    pub fn transact<T>(&self, timeout: Duration, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        self.run_transaction(None, timeout, |txn, _| f(txn))
    }

    /// Consume → transform → produce, exactly once: runs `f`, which reads from `consumer` and
    /// produces through the transaction, then commits in the same transaction the offsets of
    /// everything `consumer` handed out since its last commit (the *next* offsets, as Kafka
    /// wants them), as this group member's generation, so a member a rebalance replaced cannot
    /// commit (KIP-447).
    ///
    /// When the transaction aborts (`f` fails or panics, the commit fails, or a rebalance took
    /// away partitions whose messages `f` read), `consumer` goes back to its last committed
    /// offsets: the next transaction reads the same messages again instead of skipping them.
    ///
    /// The consumer needs `auto_commit_enable(false)`: its offsets move only with transactions.
    /// Its messages are whatever its isolation level lets through; read_committed (the
    /// default) keeps other transactions' aborted output out of the input.
    ///
    /// ```no_run
    /// use plainkafka::{KafkaClient, ProducerRecord};
    /// use std::time::Duration;
    ///
    /// fn main() -> plainkafka::Result<()> {
    ///     let client = KafkaClient::new("127.0.0.1:9092")?;
    ///     let mut input = client
    ///         .balanced_consumer("uppercase", &["words"])
    ///         .auto_commit_enable(false)
    ///         .consumer_timeout(Some(Duration::from_secs(1)))
    ///         .build()?;
    ///     let output = client.topic("shouts")?.producer().transactional_id("uppercase-1").build()?;
    ///     loop {
    ///         let n = output.transact_from(&mut input, Duration::from_secs(30), |txn, input| {
    ///             let mut n = 0;
    ///             for msg in input.iter().take(500) {
    ///                 let msg = msg?;
    ///                 let upper = msg.value().unwrap_or_default().to_ascii_uppercase();
    ///                 txn.produce(ProducerRecord::new(upper))?;
    ///                 n += 1;
    ///             }
    ///             Ok(n)
    ///         })?;
    ///         if n == 0 {
    ///             break;
    ///         }
    ///     }
    ///     Ok(())
    /// }
    /// ```
    pub fn transact_from<T>(
        &self,
        consumer: &mut BalancedConsumer,
        timeout: Duration,
        f: impl FnOnce(&Transaction<'_>, &mut BalancedConsumer) -> Result<T>,
    ) -> Result<T> {
        consumer.txn_begin()?;
        self.run_transaction(Some(consumer), timeout, |txn, c| match c {
            Some(c) => f(txn, c),
            None => unreachable!("a consumer was given"),
        })
    }

    fn run_transaction<T>(
        &self,
        mut input: Option<&mut BalancedConsumer>,
        timeout: Duration,
        f: impl FnOnce(&Transaction<'_>, Option<&mut BalancedConsumer>) -> Result<T>,
    ) -> Result<T> {
        self.begin_transaction()?;
        let txn = Transaction { producer: self };
        // The closure's borrows are given back whatever happens in it, and nothing it could
        // leave half-changed is used after a panic except to abort and rewind.
        let ran = panic::catch_unwind(AssertUnwindSafe(|| f(&txn, input.as_deref_mut())));
        let deadline = Instant::now() + timeout;
        let failed = match ran {
            Ok(Ok(v)) => match self.commit_with(input.as_deref_mut(), timeout) {
                Ok(()) => return Ok(v),
                Err(e) => e,
            },
            Ok(Err(e)) => e,
            Err(panicked) => {
                self.abandon(input, deadline, &Error::Stopped);
                panic::resume_unwind(panicked)
            }
        };
        self.abandon(input, deadline, &failed);
        Err(failed)
    }

    /// The commit: the consumer's offsets into the transaction, then EndTxn.
    fn commit_with(&self, input: Option<&mut BalancedConsumer>, timeout: Duration) -> Result<()> {
        let Some(consumer) = input else { return self.commit_transaction(timeout) };
        let todo = consumer.txn_offsets()?;
        if !todo.offsets.is_empty() {
            let group = todo.group.as_ref().ok_or_else(|| {
                Error::Config(format!("{}: the consumer handed out messages without a group membership", self.topic()))
            })?;
            let offsets: Vec<(&str, i32, i64)> = todo.offsets.iter().map(|(t, p, o)| (t.as_str(), *p, *o)).collect();
            self.send_offsets_to_transaction(&offsets, group)?;
        }
        self.commit_transaction(timeout)?;
        consumer.txn_committed(&todo.slots);
        Ok(())
    }

    /// Aborts the open transaction (if the failure left one) and rewinds the consumer.
    fn abandon(&self, input: Option<&mut BalancedConsumer>, deadline: Instant, cause: &Error) {
        if self.transaction_open() {
            let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
            if let Err(e) = self.abort_transaction(left) {
                log::error!("{}: aborting the transaction after \"{cause}\" failed: {e}", self.topic());
            }
        }
        if let Some(consumer) = input {
            consumer.txn_aborted(cause);
        }
    }
}
