//! The producer's settings, with PyKafka's names. Defaults follow PyKafka unless noted; where
//! they decide whether a message survives a broker failure (acknowledgements, idempotence,
//! retries, the delivery timeout, blocking on a full queue) they follow the Java client.

use super::partitioner::Partitioner;
use crate::client::TopicRef;
use crate::error::{Error, Result};
use crate::protocol::records::Compression;
use crate::stats::{Callback, ProducerStats};
use std::time::Duration;

/// The most batches of a partition an idempotent producer may have out: the broker remembers
/// the last five per producer to spot a retried duplicate.
const IDEMPOTENT_MAX_IN_FLIGHT: usize = 5;

/// The producer's codec unless told otherwise: lz4, when the build has it.
///
/// On one partition the broker, not the client, bounds how fast records go in: measured on
/// this project's benchmark, its CPU time for taking in and writing uncompressed batches was
/// about the wall time, whichever client sent them, and with lz4 a tenth of it. The bytes on
/// the wire and on disk shrink with the data. lz4 is the cheapest codec to write and to read,
/// and every Kafka since 0.11 (the
/// first with RecordBatch v2, this client's floor) and every mainstream client reads it.
/// Batches it doesn't shrink go uncompressed. [`ProducerBuilder::compression`] and
/// `compression.type` choose another, `none` included.
#[cfg(feature = "lz4")]
pub const DEFAULT_COMPRESSION: Compression = Compression::Lz4;
/// The producer's codec unless told otherwise: none, as this build has no lz4.
#[cfg(not(feature = "lz4"))]
pub const DEFAULT_COMPRESSION: Compression = Compression::None;

/// Acknowledgements the producer waits for (PyKafka's `required_acks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Acks {
    /// Don't wait: the broker sends no answer, offsets are unknown, errors go unseen.
    None,
    /// The leader wrote it (PyKafka's default; lost if the leader dies before a follower
    /// copied it).
    Leader,
    /// Every in-sync replica wrote it (needed by idempotence; the default).
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
    pub retry_backoff_max: Duration,
    pub delivery_timeout: Duration,
    pub max_queued_bytes: usize,
    pub required_acks: Acks,
    pub ack_timeout: Duration,
    pub max_queued_messages: usize,
    pub min_queued_messages: usize,
    pub linger: Duration,
    pub block_on_queue_full: bool,
    pub max_request_size: usize,
    /// Connections each sender keeps to its broker; a partition's batches take one of them.
    pub connections_per_broker: usize,
    /// The most batches of a partition out at once.
    pub max_in_flight: usize,
    /// The most record bytes a batch carries; `None`: as many as a request takes.
    pub batch_size: Option<usize>,
    pub sync: bool,
    pub delivery_reports: bool,
    pub pending_timeout: Duration,
    /// `None`: on where the cluster allows it.
    pub enable_idempotence: Option<bool>,
    pub statistics_interval: Duration,
    pub on_statistics: Option<Callback<ProducerStats>>,
    /// Transactions (KIP-98) under this id; `None`: no transactions.
    pub transactional_id: Option<String>,
    pub transaction_timeout: Duration,
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
                compression: DEFAULT_COMPRESSION,
                max_retries: u32::MAX,
                retry_backoff: Duration::from_millis(100),
                retry_backoff_max: Duration::from_secs(1),
                delivery_timeout: Duration::from_secs(120),
                max_queued_bytes: 32 << 20,
                required_acks: Acks::All,
                ack_timeout: Duration::from_secs(10),
                max_queued_messages: 100_000,
                min_queued_messages: 70_000,
                linger: Duration::from_millis(5),
                block_on_queue_full: true,
                max_request_size: 1_000_012,
                connections_per_broker: 2,
                max_in_flight: IDEMPOTENT_MAX_IN_FLIGHT,
                batch_size: None,
                sync: false,
                delivery_reports: false,
                pending_timeout: Duration::from_secs(60),
                enable_idempotence: None,
                statistics_interval: Duration::ZERO,
                on_statistics: None,
                transactional_id: None,
                transaction_timeout: Duration::from_secs(60),
            },
        }
    }

    /// How messages without an explicit partition are placed (`partitioner`). Default
    /// [`Partitioner::Default`]: murmur2 of the key like the Java client, round-robin without one.
    pub fn partitioner(mut self, p: Partitioner) -> Self {
        self.cfg.partitioner = p;
        self
    }

    /// Codec for each batch (`compression`). Default lz4 ([`DEFAULT_COMPRESSION`]); none in a
    /// build without the `lz4` feature. A batch the codec doesn't make smaller goes
    /// uncompressed. zstd needs Kafka 2.1+ (Produce v7).
    pub fn compression(mut self, c: Compression) -> Self {
        self.cfg.compression = c;
        self
    }

    /// Retries of a batch that failed with a retriable error (`max_retries`). Default
    /// unlimited, as the Java client's `retries`: [`ProducerBuilder::delivery_timeout`] bounds
    /// them instead (PyKafka's 3 retries in 700 ms give up long before a new leader is
    /// elected).
    pub fn max_retries(mut self, n: u32) -> Self {
        self.cfg.max_retries = n;
        self
    }

    /// First pause before a retry; it doubles per attempt (`retry_backoff_ms`). Default 100 ms.
    pub fn retry_backoff(mut self, d: Duration) -> Self {
        self.cfg.retry_backoff = d;
        self
    }

    /// The longest pause between retries (`retry.backoff.max.ms`, not in PyKafka). Default 1 s.
    pub fn retry_backoff_max(mut self, d: Duration) -> Self {
        self.cfg.retry_backoff_max = d;
        self
    }

    /// The longest a message may take from `produce` to its outcome, retries included
    /// (`delivery.timeout.ms`, not in PyKafka). A batch is retried — with backoff, and with
    /// fresh metadata after a leader moved or a broker went away — until it is written, fails
    /// with an error no retry can fix, or this passes; then each of its messages fails with
    /// the last error. Default 120 s, as the Java client.
    pub fn delivery_timeout(mut self, d: Duration) -> Self {
        self.cfg.delivery_timeout = d;
        self
    }

    /// Acknowledgements to wait for (`required_acks`). Default [`Acks::All`], as the Java client
    /// since 3.0 (PyKafka's is the leader's only).
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

    /// Estimated bytes of the messages queued (including in flight) before `produce` blocks or
    /// fails (`buffer.memory`, not in PyKafka). Default 32 MiB. A single message larger than
    /// this is still taken when the queue is empty.
    pub fn max_queued_bytes(mut self, bytes: usize) -> Self {
        self.cfg.max_queued_bytes = bytes;
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

    /// Connections to each broker that batches are written over at once (not in PyKafka nor
    /// librdkafka; property `connections.per.broker`). Default 2. A broker handles one
    /// connection's requests one at a time, so with one connection a broker appends the
    /// partitions it leads one after another; with more, requests (each up to
    /// `max_request_size`) for the partitions on different connections are appended in
    /// parallel. A partition's batches always take the same connection, so its order holds.
    /// 1 to 16.
    pub fn connections_per_broker(mut self, n: usize) -> Self {
        self.cfg.connections_per_broker = n;
        self
    }

    /// The most batches of one partition sent and not yet answered
    /// (`max.in.flight.requests.per.connection`). Default 5, as the Java client's. With more than
    /// one, the broker has a partition's next batch at hand while it appends (and, with
    /// acks=all, replicates) the one before. They travel on one connection, so the broker
    /// appends them in order; after a failure the partition's batches go again in order, one at
    /// a time. An idempotent producer keeps the order through retries too (the broker refuses
    /// a batch whose predecessor is missing), and so allows at most 5, the batches a broker
    /// remembers per producer; without idempotence, a batch retried after a later one was
    /// written lands after it: set 1 to keep the order then.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.cfg.max_in_flight = n;
        self
    }

    /// The most record bytes (estimated) in one batch (`batch.size`, not in PyKafka). Default:
    /// as many as `max_request_size` allows, as librdkafka's 1 MB; the Java client's is 16 KiB.
    /// A single larger message still goes, alone.
    pub fn batch_size(mut self, bytes: usize) -> Self {
        self.cfg.batch_size = Some(bytes);
        self
    }

    /// Sets a property by its librdkafka name ([`crate::properties`]): `acks`
    /// (`request.required.acks`), `request.timeout.ms`, `linger.ms` (`queue.buffering.max.ms`),
    /// `batch.size`, `batch.num.messages`, `compression.type` (`compression.codec`),
    /// `enable.idempotence`, `message.max.bytes`, `connections.per.broker`,
    /// `max.in.flight.requests.per.connection` (`max.in.flight`), `delivery.timeout.ms`
    /// (`message.timeout.ms`), `queue.buffering.max.messages`, `queue.buffering.max.kbytes`,
    /// `retries` (`message.send.max.retries`), `retry.backoff.ms`, `retry.backoff.max.ms`,
    /// `partitioner`, `statistics.interval.ms`, `transactional.id`, `transaction.timeout.ms`.
    /// Another builder's property is an error that names it.
    pub fn set(mut self, name: &str, value: &str) -> Result<Self> {
        use crate::properties::{boolean, millis, misplaced, number, Target};
        let v = value.trim();
        let c = &mut self.cfg;
        match name.trim() {
            "acks" | "request.required.acks" => {
                c.required_acks = match v {
                    "0" => Acks::None,
                    "1" => Acks::Leader,
                    "all" | "-1" => Acks::All,
                    other => return Err(Error::Config(format!("{name} {other:?}: expected 0, 1, all or -1"))),
                }
            }
            "request.timeout.ms" => c.ack_timeout = millis(name, v)?,
            "linger.ms" | "queue.buffering.max.ms" => c.linger = millis(name, v)?,
            "batch.size" => c.batch_size = Some(number(name, v)?),
            "batch.num.messages" => c.min_queued_messages = number(name, v)?,
            "compression.type" | "compression.codec" => {
                c.compression = match v {
                    "none" => Compression::None,
                    "gzip" => Compression::Gzip,
                    "snappy" => Compression::Snappy,
                    "lz4" => Compression::Lz4,
                    "zstd" => Compression::Zstd,
                    other => {
                        return Err(Error::Config(format!(
                            "{name} {other:?}: expected none, gzip, snappy, lz4 or zstd"
                        )))
                    }
                }
            }
            "enable.idempotence" => c.enable_idempotence = Some(boolean(name, v)?),
            "message.max.bytes" => c.max_request_size = number(name, v)?,
            "connections.per.broker" => c.connections_per_broker = number(name, v)?,
            "max.in.flight.requests.per.connection" | "max.in.flight" => c.max_in_flight = number(name, v)?,
            "delivery.timeout.ms" | "message.timeout.ms" => c.delivery_timeout = millis(name, v)?,
            "queue.buffering.max.messages" => c.max_queued_messages = number(name, v)?,
            "queue.buffering.max.kbytes" => {
                c.max_queued_bytes = number::<usize>(name, v)?
                    .checked_mul(1024)
                    .ok_or_else(|| Error::Config(format!("{name} {v:?} is too large")))?
            }
            "retries" | "message.send.max.retries" => c.max_retries = number(name, v)?,
            "retry.backoff.ms" => c.retry_backoff = millis(name, v)?,
            "retry.backoff.max.ms" => c.retry_backoff_max = millis(name, v)?,
            "statistics.interval.ms" => c.statistics_interval = millis(name, v)?,
            "partitioner" => {
                c.partitioner = match v {
                    "murmur2_random" => Partitioner::Default,
                    // Keyless messages all go to one partition in librdkafka's murmur2; here they
                    // take turns, as with murmur2_random: the keyed ones land the same.
                    "murmur2" => Partitioner::Default,
                    "random" | "roundrobin" => Partitioner::RoundRobin,
                    "consistent_random" | "consistent" | "crc32" => Partitioner::Hashing,
                    other => {
                        return Err(Error::Config(format!(
                            "{name} {other:?}: expected murmur2_random, murmur2, consistent_random, random or crc32"
                        )))
                    }
                }
            }
            "transactional.id" => c.transactional_id = Some(v.to_string()).filter(|id| !id.is_empty()),
            "transaction.timeout.ms" => c.transaction_timeout = millis(name, v)?,
            other => return Err(misplaced(other, Target::Producer)),
        }
        Ok(self)
    }

    /// Make `produce` wait for each message's acknowledgement and return its error (`sync`;
    /// PyKafka's `get_sync_producer`). Default false. [`crate::Producer::send`] always waits.
    pub fn sync(mut self, on: bool) -> Self {
        self.cfg.sync = on;
        self
    }

    /// Keep a report per message for [`crate::Producer::get_delivery_report`]
    /// (`delivery_reports`). Default false: failures are then returned by `flush` and `close`.
    /// A report holds its whole record until taken, so reports not yet taken count against
    /// `max_queued_messages` and `max_queued_bytes`: an application that never takes them
    /// makes `produce` block (and then fail with [`Error::QueueFull`]) rather than grow without
    /// bound.
    pub fn delivery_reports(mut self, on: bool) -> Self {
        self.cfg.delivery_reports = on;
        self
    }

    /// How long `produce` blocks on a full queue before failing (`pending_timeout_ms`; the Java
    /// client's `max.block.ms`). Default 60 s, as Java (PyKafka's is 5 s).
    pub fn pending_timeout(mut self, d: Duration) -> Self {
        self.cfg.pending_timeout = d;
        self
    }

    /// Idempotent writes (KIP-98; not in PyKafka): a producer id and per-partition sequence
    /// numbers let the broker drop duplicates of retried batches, so each message is written
    /// once and in order. Needs `required_acks(Acks::All)`.
    ///
    /// Default: on, as in the Java client since 3.0, unless `required_acks` is not
    /// [`Acks::All`] or the cluster refuses producer ids (then a warning is logged and writes
    /// go without). `true` makes such a refusal an error at `build`.
    ///
    /// When a batch fails for good (its delivery timeout passed, say), its partition's sequence
    /// numbers have a gap the broker would refuse; the producer then bumps its epoch (KIP-360)
    /// once nothing is in flight, and later batches go through.
    pub fn enable_idempotence(mut self, on: bool) -> Self {
        self.cfg.enable_idempotence = Some(on);
        self
    }

    /// Write in transactions under this id (`transactional.id`, KIP-98): messages go only
    /// between [`crate::Producer::begin_transaction`] and
    /// [`crate::Producer::commit_transaction`] (or `abort_transaction`), and read_committed
    /// consumers see them only once committed. Starting the producer fences every older
    /// producer with the same id and aborts a transaction it left open. Needs
    /// `required_acks(Acks::All)`; idempotence comes with it.
    pub fn transactional_id(mut self, id: &str) -> Self {
        self.cfg.transactional_id = Some(id.to_string());
        self
    }

    /// How long the coordinator lets a transaction stay open before aborting it
    /// (`transaction.timeout.ms`). Default 60 s, as the Java client; the broker caps it
    /// (`transaction.max.timeout.ms`, 15 min by default).
    pub fn transaction_timeout(mut self, d: Duration) -> Self {
        self.cfg.transaction_timeout = d;
        self
    }

    /// How often [`Self::on_statistics`] is given a snapshot (`statistics.interval.ms`).
    /// Default zero: never. The callback runs inside `produce`, `send`, `flush` and `close`, on
    /// the application's thread, once the interval has passed (see [`crate::stats`]).
    pub fn statistics_interval(mut self, d: Duration) -> Self {
        self.cfg.statistics_interval = d;
        self
    }

    /// The callback that gets a [`ProducerStats`] every [`Self::statistics_interval`]
    /// (librdkafka's `stats_cb`).
    pub fn on_statistics(mut self, f: impl FnMut(&ProducerStats) + Send + 'static) -> Self {
        self.cfg.on_statistics = Some(Callback::new(f));
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
        if !(1..=16).contains(&c.connections_per_broker) {
            return Err(Error::Config(format!(
                "connections_per_broker {} is out of range: 1 to 16",
                c.connections_per_broker
            )));
        }
        if c.ack_timeout > Duration::from_millis(i32::MAX as u64) {
            return Err(Error::Config("ack_timeout is too long".into()));
        }
        if matches!(c.compression, Compression::Unknown(_)) {
            return Err(Error::Config(format!("{:?} is not a codec", c.compression)));
        }
        if !c.statistics_interval.is_zero() && c.on_statistics.is_none() {
            return Err(Error::Config("statistics_interval is set but no on_statistics callback takes them".into()));
        }
        if c.delivery_timeout.is_zero() {
            return Err(Error::Config("delivery_timeout must be longer than zero".into()));
        }
        if c.transactional_id.is_some() {
            if c.required_acks != Acks::All || c.enable_idempotence == Some(false) {
                return Err(Error::Config(
                    "a transactional producer needs required_acks(Acks::All) and idempotence".into(),
                ));
            }
            c.enable_idempotence = Some(true);
        }
        match c.enable_idempotence {
            Some(true) if c.required_acks != Acks::All => {
                return Err(Error::Config("enable_idempotence needs required_acks(Acks::All)".into()));
            }
            None if c.required_acks != Acks::All => c.enable_idempotence = Some(false),
            _ => {}
        }
        let (most, why) = match c.enable_idempotence {
            Some(false) => (1_000_000, ""),
            _ => (IDEMPOTENT_MAX_IN_FLIGHT, " with idempotence (the batches a broker remembers per producer)"),
        };
        if !(1..=most).contains(&c.max_in_flight) {
            return Err(Error::Config(format!("max_in_flight {} is out of range: 1 to {most}{why}", c.max_in_flight)));
        }
        crate::Producer::start(self.topic, self.cfg)
    }
}
