//! The producer's settings, with PyKafka's names; defaults follow PyKafka unless noted.

use super::partitioner::Partitioner;
use crate::client::TopicRef;
use crate::error::{Error, Result};
use crate::protocol::records::Compression;
use std::time::Duration;

/// Acknowledgements the producer waits for (PyKafka's `required_acks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Acks {
    /// Don't wait: the broker sends no answer, offsets are unknown, errors go unseen.
    None,
    /// The leader wrote it (PyKafka's default).
    Leader,
    /// Every in-sync replica wrote it (needed by idempotence).
    All,
}

impl Acks {
    pub(crate) fn wire(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ProducerConfig {
    pub partitioner: Partitioner,
    pub compression: Compression,
    pub max_retries: u32,
    pub retry_backoff: Duration,
    pub required_acks: Acks,
    pub ack_timeout: Duration,
    pub max_queued_messages: usize,
    pub min_queued_messages: usize,
    pub linger: Duration,
    pub block_on_queue_full: bool,
    pub max_request_size: usize,
    pub sync: bool,
    pub delivery_reports: bool,
    pub pending_timeout: Duration,
    pub enable_idempotence: bool,
}

/// Builds a [`crate::Producer`]; get one from [`crate::Topic::producer`]. Every setter names the PyKafka
/// parameter it mirrors and its default.
#[derive(Debug, Clone)]
pub struct ProducerBuilder {
    pub(crate) topic: TopicRef,
    pub(crate) cfg: ProducerConfig,
}

impl ProducerBuilder {
    pub(crate) fn new(topic: TopicRef) -> Self {
        ProducerBuilder {
            topic,
            cfg: ProducerConfig {
                partitioner: Partitioner::Default,
                compression: Compression::None,
                max_retries: 3,
                retry_backoff: Duration::from_millis(100),
                required_acks: Acks::Leader,
                ack_timeout: Duration::from_secs(10),
                max_queued_messages: 100_000,
                min_queued_messages: 70_000,
                linger: Duration::from_millis(5),
                block_on_queue_full: true,
                max_request_size: 1_000_012,
                sync: false,
                delivery_reports: false,
                pending_timeout: Duration::from_secs(5),
                enable_idempotence: false,
            },
        }
    }

    /// How messages without an explicit partition are placed (`partitioner`). Default
    /// [`Partitioner::Default`]: murmur2 of the key like the Java client, round-robin without one.
    pub fn partitioner(mut self, p: Partitioner) -> Self {
        self.cfg.partitioner = p;
        self
    }

    /// Codec for each batch (`compression`). Default none. zstd needs Kafka 2.1+ (Produce v7).
    pub fn compression(mut self, c: Compression) -> Self {
        self.cfg.compression = c;
        self
    }

    /// Retries of a batch that failed with a retriable error (`max_retries`). Default 3.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.cfg.max_retries = n;
        self
    }

    /// First pause before a retry; it doubles per attempt (`retry_backoff_ms`). Default 100 ms.
    pub fn retry_backoff(mut self, d: Duration) -> Self {
        self.cfg.retry_backoff = d;
        self
    }

    /// Acknowledgements to wait for (`required_acks`). Default [`Acks::Leader`].
    pub fn required_acks(mut self, a: Acks) -> Self {
        self.cfg.required_acks = a;
        self
    }

    /// How long the broker may wait for the acknowledgements (`ack_timeout_ms`). Default 10 s.
    pub fn ack_timeout(mut self, d: Duration) -> Self {
        self.cfg.ack_timeout = d;
        self
    }

    /// Messages queued (including in flight) before `produce` blocks or fails
    /// (`max_queued_messages`). Default 100,000.
    pub fn max_queued_messages(mut self, n: usize) -> Self {
        self.cfg.max_queued_messages = n;
        self
    }

    /// Messages per partition that make a batch ready without waiting for `linger`
    /// (`min_queued_messages`). Default 70,000 (batches are also cut at `max_request_size`).
    pub fn min_queued_messages(mut self, n: usize) -> Self {
        self.cfg.min_queued_messages = n;
        self
    }

    /// How long a message may wait for its batch to fill (`linger_ms`). Default 5 ms (PyKafka's
    /// is 5 s, which holds every message of a slow stream for seconds).
    pub fn linger(mut self, d: Duration) -> Self {
        self.cfg.linger = d;
        self
    }

    /// When the queue is full, block `produce` for up to `pending_timeout` rather than fail at
    /// once (`block_on_queue_full`). Default true.
    pub fn block_on_queue_full(mut self, on: bool) -> Self {
        self.cfg.block_on_queue_full = on;
        self
    }

    /// The largest Produce request, and so the largest batch and message
    /// (`max_request_size`). Default 1,000,012 bytes.
    pub fn max_request_size(mut self, bytes: usize) -> Self {
        self.cfg.max_request_size = bytes;
        self
    }

    /// Make `produce` wait for each message's acknowledgement and return its error (`sync`;
    /// PyKafka's `get_sync_producer`). Default false. [`crate::Producer::send`] always waits.
    pub fn sync(mut self, on: bool) -> Self {
        self.cfg.sync = on;
        self
    }

    /// Keep a report per message for [`crate::Producer::get_delivery_report`]
    /// (`delivery_reports`). Default false: failures are then returned by `flush` and `close`.
    pub fn delivery_reports(mut self, on: bool) -> Self {
        self.cfg.delivery_reports = on;
        self
    }

    /// How long `produce` blocks on a full queue before failing (`pending_timeout_ms`). Default
    /// 5 s.
    pub fn pending_timeout(mut self, d: Duration) -> Self {
        self.cfg.pending_timeout = d;
        self
    }

    /// Idempotent writes (KIP-98; not in PyKafka): a producer id and per-partition sequence
    /// numbers let the broker drop duplicates of retried batches, so each message is written
    /// once. Implies `required_acks(Acks::All)`. Default false.
    pub fn enable_idempotence(mut self, on: bool) -> Self {
        self.cfg.enable_idempotence = on;
        self
    }

    /// Validates the settings and starts the producer's sender thread.
    pub fn build(mut self) -> Result<crate::Producer> {
        let c = &mut self.cfg;
        if c.max_queued_messages == 0 || c.min_queued_messages == 0 {
            return Err(Error::Config("max_queued_messages and min_queued_messages must be at least 1".into()));
        }
        // Room for a batch's and a request's overhead plus at least a small record.
        let least = super::sender::BATCH_OVERHEAD + 64;
        if c.max_request_size < least || c.max_request_size > i32::MAX as usize {
            return Err(Error::Config(format!(
                "max_request_size {} is out of range: {least} to {} bytes",
                c.max_request_size,
                i32::MAX
            )));
        }
        if c.ack_timeout > Duration::from_millis(i32::MAX as u64) {
            return Err(Error::Config("ack_timeout is too long".into()));
        }
        if matches!(c.compression, Compression::Unknown(_)) {
            return Err(Error::Config(format!("{:?} is not a codec", c.compression)));
        }
        if c.enable_idempotence {
            if c.required_acks == Acks::None {
                return Err(Error::Config("enable_idempotence needs required_acks(Acks::All)".into()));
            }
            c.required_acks = Acks::All;
        }
        crate::Producer::start(self.topic, self.cfg)
    }
}
