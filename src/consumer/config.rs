//! The consumer's settings, with PyKafka's names and defaults.

use crate::client::TopicRef;
use crate::error::{Error, Result};
use crate::offsets::{IsolationLevel, OffsetReset};
use crate::protocol::records::DecodeLimits;
use crate::stats::{Callback, ConsumerStats};
use std::time::Duration;

/// Settings every consumer takes.
#[derive(Debug, Clone)]
pub(crate) struct ConsumerConfig {
    pub consumer_group: Option<String>,
    pub partitions: Option<Vec<i32>>,
    pub fetch_message_max_bytes: usize,
    pub fetch_message_max_bytes_limit: usize,
    /// `None`: one per broker.
    pub num_consumer_fetchers: Option<usize>,
    pub auto_commit_enable: bool,
    pub auto_commit_interval: Duration,
    pub queued_max_messages: usize,
    pub queued_max_bytes: usize,
    /// Bytes queued across all partitions before fetching pauses for all of them.
    pub queued_max_bytes_total: usize,
    /// The most one Fetch answer may carry (the request's `max_bytes`).
    pub fetch_max_bytes: usize,
    /// What decoding a fetched batch may allocate.
    pub decode_limits: DecodeLimits,
    pub fetch_min_bytes: usize,
    pub fetch_wait_max: Duration,
    pub offsets_channel_backoff: Duration,
    pub offsets_commit_max_retries: u32,
    pub auto_offset_reset: OffsetReset,
    pub consumer_timeout: Option<Duration>,
    pub reset_offset_on_start: bool,
    pub reset_offset_on_fetch: bool,
    pub statistics_interval: Duration,
    pub on_statistics: Option<Callback<ConsumerStats>>,
    pub isolation_level: IsolationLevel,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            consumer_group: None,
            partitions: None,
            fetch_message_max_bytes: 1024 * 1024,
            fetch_message_max_bytes_limit: 64 * 1024 * 1024,
            num_consumer_fetchers: None,
            auto_commit_enable: false,
            auto_commit_interval: Duration::from_secs(60),
            queued_max_messages: 2000,
            queued_max_bytes: 16 * 1024 * 1024,
            queued_max_bytes_total: 64 * 1024 * 1024,
            fetch_max_bytes: 50 * 1024 * 1024,
            decode_limits: DecodeLimits::default(),
            fetch_min_bytes: 1,
            fetch_wait_max: Duration::from_millis(100),
            offsets_channel_backoff: Duration::from_millis(1000),
            offsets_commit_max_retries: 5,
            auto_offset_reset: OffsetReset::Earliest,
            consumer_timeout: None,
            reset_offset_on_start: false,
            reset_offset_on_fetch: true,
            statistics_interval: Duration::ZERO,
            on_statistics: None,
            isolation_level: IsolationLevel::default(),
        }
    }
}

impl ConsumerConfig {
    /// Takes a consumer property by its librdkafka name ([`crate::properties`]); `false` for a
    /// name that isn't one (the builder decides what that means).
    pub fn set(&mut self, name: &str, value: &str) -> Result<bool> {
        use crate::properties::{boolean, millis, number};
        match name.trim() {
            "fetch.wait.max.ms" => self.fetch_wait_max = millis(name, value)?,
            "fetch.min.bytes" => self.fetch_min_bytes = number(name, value)?,
            "fetch.max.bytes" => self.fetch_max_bytes = number(name, value)?,
            // librdkafka's high-level consumer applies it to the one consumer queue, whatever
            // the number of partitions: the consumer-wide bound here.
            "queued.max.messages.kbytes" => {
                self.queued_max_bytes_total = number::<usize>(name, value)?
                    .checked_mul(1024)
                    .ok_or_else(|| Error::Config(format!("{name} {value:?} is too large")))?
            }
            "max.partition.fetch.bytes" | "fetch.message.max.bytes" => {
                self.fetch_message_max_bytes = number(name, value)?;
                // A larger first fetch than the growth limit raises the limit with it.
                self.fetch_message_max_bytes_limit =
                    self.fetch_message_max_bytes_limit.max(self.fetch_message_max_bytes);
            }
            "auto.offset.reset" => {
                self.auto_offset_reset = match value.trim() {
                    "earliest" | "smallest" | "beginning" => OffsetReset::Earliest,
                    "latest" | "largest" | "end" => OffsetReset::Latest,
                    other => {
                        return Err(Error::Config(format!(
                            "{name} {other:?}: expected earliest (smallest, beginning) or latest (largest, end); \
                             for an error instead of a reset, use reset_offset_on_fetch(false)"
                        )))
                    }
                }
            }
            "enable.auto.commit" => self.auto_commit_enable = boolean(name, value)?,
            "statistics.interval.ms" => self.statistics_interval = millis(name, value)?,
            "auto.commit.interval.ms" => self.auto_commit_interval = millis(name, value)?,
            "isolation.level" => {
                self.isolation_level = match value.trim() {
                    "read_committed" => IsolationLevel::ReadCommitted,
                    "read_uncommitted" => IsolationLevel::ReadUncommitted,
                    other => {
                        return Err(Error::Config(format!(
                            "{name} {other:?}: expected read_committed or read_uncommitted"
                        )))
                    }
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Checks the settings every consumer shares.
    pub fn validate(&self) -> Result<()> {
        let c = self;
        if c.num_consumer_fetchers == Some(0) {
            return Err(Error::Config("num_consumer_fetchers must be at least 1".into()));
        }
        if c.queued_max_messages == 0 || c.queued_max_bytes == 0 || c.queued_max_bytes_total == 0 {
            return Err(Error::Config(
                "queued_max_messages, queued_max_bytes and queued_max_bytes_total must be at least 1".into(),
            ));
        }
        if c.decode_limits.max_decompressed == 0 {
            return Err(Error::Config("max_batch_decompressed_bytes must be at least 1".into()));
        }
        if c.fetch_max_bytes == 0 || c.fetch_max_bytes > i32::MAX as usize {
            return Err(Error::Config(format!("fetch_max_bytes {} is out of range", c.fetch_max_bytes)));
        }
        if c.fetch_message_max_bytes == 0 || c.fetch_message_max_bytes > i32::MAX as usize {
            return Err(Error::Config(format!(
                "fetch_message_max_bytes {} is out of range",
                c.fetch_message_max_bytes
            )));
        }
        if c.fetch_message_max_bytes_limit < c.fetch_message_max_bytes
            || c.fetch_message_max_bytes_limit > i32::MAX as usize
        {
            return Err(Error::Config("fetch_message_max_bytes_limit must be at least fetch_message_max_bytes".into()));
        }
        if c.fetch_wait_max > Duration::from_millis(i32::MAX as u64) || c.fetch_min_bytes > i32::MAX as usize {
            return Err(Error::Config("fetch_wait_max or fetch_min_bytes out of range".into()));
        }
        if !c.statistics_interval.is_zero() && c.on_statistics.is_none() {
            return Err(Error::Config("statistics_interval is set but no on_statistics callback takes them".into()));
        }
        if c.auto_commit_enable && c.consumer_group.is_none() {
            return Err(Error::Config("auto_commit_enable needs a consumer_group".into()));
        }
        Ok(())
    }
}

/// The setters every consumer builder shares, with PyKafka's names. Expanded inside each
/// builder's `impl` (the builders differ in what they read: chosen partitions or a group's
/// assignment), each of which has a `cfg: ConsumerConfig` field.
macro_rules! consumer_setters {
    () => {
        /// Bytes fetched per partition per request (`fetch_message_max_bytes`). Default 1 MiB. A
        /// batch larger than this makes the fetch size grow, up to
        /// `fetch_message_max_bytes_limit`.
        pub fn fetch_message_max_bytes(mut self, bytes: usize) -> Self {
            self.cfg.fetch_message_max_bytes = bytes;
            self
        }

        /// The most the per-partition fetch size may grow to when a single batch does not fit
        /// (plainkafka's own). Default 64 MiB; past it, the partition yields
        /// [`Error::RecordTooLarge`].
        pub fn fetch_message_max_bytes_limit(mut self, bytes: usize) -> Self {
            self.cfg.fetch_message_max_bytes_limit = bytes;
            self
        }

        /// Number of fetcher threads (`num_consumer_fetchers`). Default: one per broker known
        /// when the consumer starts (PyKafka's is 1). Brokers are divided between them; each
        /// thread sends its Fetch requests to all its brokers before reading the answers. With
        /// fewer threads than brokers, a broker that hangs (accepts requests, never answers)
        /// holds up the other brokers of its thread for up to the request timeout.
        pub fn num_consumer_fetchers(mut self, n: usize) -> Self {
            self.cfg.num_consumer_fetchers = Some(n);
            self
        }

        /// Commit consumed offsets periodically from `consume`, on stop and, in a group, before
        /// giving partitions up (`auto_commit_enable`). Default false for a SimpleConsumer, true
        /// for a BalancedConsumer (PyKafka's defaults). Needs a consumer group.
        pub fn auto_commit_enable(mut self, on: bool) -> Self {
            self.cfg.auto_commit_enable = on;
            self
        }

        /// Time between automatic commits (`auto_commit_interval_ms`). Default 60 s.
        pub fn auto_commit_interval(mut self, d: Duration) -> Self {
            self.cfg.auto_commit_interval = d;
            self
        }

        /// Messages buffered per partition before fetching pauses (`queued_max_messages`).
        /// Default 2000.
        pub fn queued_max_messages(mut self, n: usize) -> Self {
            self.cfg.queued_max_messages = n;
            self
        }

        /// Bytes of messages buffered per partition before fetching pauses (librdkafka's
        /// `queued.max.messages.kbytes`, per partition); one fetch answer may go past it.
        /// Default 16 MiB. With `queued_max_messages`, whichever comes first pauses fetching.
        pub fn queued_max_bytes(mut self, bytes: usize) -> Self {
            self.cfg.queued_max_bytes = bytes;
            self
        }

        /// Bytes of messages buffered across all partitions before fetching pauses for every
        /// partition (librdkafka's `queued.max.messages.kbytes` for a whole consumer). Default
        /// 64 MiB. Each Fetch asks for no more than the room left, but a broker always sends
        /// at least one batch, and one answer per broker may be in flight, so the queues may go
        /// past it by about that much. The batch the application is reading (one partition's
        /// queue, taken whole) comes on top.
        pub fn queued_max_bytes_total(mut self, bytes: usize) -> Self {
            self.cfg.queued_max_bytes_total = bytes;
            self
        }

        /// The most one Fetch answer may carry, across its partitions (the Java client's
        /// `fetch.max.bytes`). Default 50 MiB. A broker sends the first batch whole even when
        /// it is larger.
        pub fn fetch_max_bytes(mut self, bytes: usize) -> Self {
            self.cfg.fetch_max_bytes = bytes;
            self
        }

        /// The most one compressed batch may decompress to; a batch past it fails its partition
        /// with a decompression error (`TooLarge`) instead of taking the memory. Default 256 MiB.
        pub fn max_batch_decompressed_bytes(mut self, bytes: usize) -> Self {
            self.cfg.decode_limits.max_decompressed = bytes;
            self
        }

        /// The most headers one batch may carry (each takes about 50 bytes decoded, from as
        /// little as 2 on the wire); more fail the partition with a malformed-batch error.
        /// Default 1,048,576 (about 50 MiB).
        pub fn max_headers_per_batch(mut self, n: usize) -> Self {
            self.cfg.decode_limits.max_headers = n;
            self
        }

        /// Bytes the broker should gather before answering a fetch (`fetch_min_bytes`). Default 1.
        pub fn fetch_min_bytes(mut self, bytes: usize) -> Self {
            self.cfg.fetch_min_bytes = bytes;
            self
        }

        /// How long the broker may wait for `fetch_min_bytes` (`fetch_wait_max_ms`). Default 100 ms.
        pub fn fetch_wait_max(mut self, d: Duration) -> Self {
            self.cfg.fetch_wait_max = d;
            self
        }

        /// Pause before retrying a failed offset request (`offsets_channel_backoff_ms`); it doubles
        /// per attempt. Default 1 s.
        pub fn offsets_channel_backoff(mut self, d: Duration) -> Self {
            self.cfg.offsets_channel_backoff = d;
            self
        }

        /// Attempts for an offset commit or fetch before it fails (`offsets_commit_max_retries`).
        /// Default 5.
        pub fn offsets_commit_max_retries(mut self, n: u32) -> Self {
            self.cfg.offsets_commit_max_retries = n;
            self
        }

        /// Where to start without a usable committed offset, and after the position falls out of
        /// range (`auto_offset_reset`). Default [`OffsetReset::Earliest`].
        pub fn auto_offset_reset(mut self, reset: OffsetReset) -> Self {
            self.cfg.auto_offset_reset = reset;
            self
        }

        /// Ignore committed offsets and start at `auto_offset_reset` (`reset_offset_on_start`).
        /// Default false.
        pub fn reset_offset_on_start(mut self, on: bool) -> Self {
            self.cfg.reset_offset_on_start = on;
            self
        }

        /// How long `consume` waits for a message before returning `None` and ending `iter`
        /// (`consumer_timeout_ms`). Default `None`: wait until a message arrives or the consumer
        /// is stopped.
        pub fn consumer_timeout(mut self, d: Option<Duration>) -> Self {
            self.cfg.consumer_timeout = d;
            self
        }

        /// On OFFSET_OUT_OF_RANGE, move to `auto_offset_reset` and go on (`reset_offset_on_fetch`).
        /// Default true. When false, the partition yields [`Error::OffsetOutOfRange`] once and
        /// pauses until `reset_offsets`.
        pub fn reset_offset_on_fetch(mut self, on: bool) -> Self {
            self.cfg.reset_offset_on_fetch = on;
            self
        }

        /// Which records of transactional producers to read (`isolation.level`). Default
        /// [`crate::IsolationLevel::ReadCommitted`], as librdkafka: aborted transactions are
        /// skipped and reading stops at the last stable offset. (PyKafka predates
        /// transactions; the Java client defaults to read_uncommitted.)
        pub fn isolation_level(mut self, level: crate::IsolationLevel) -> Self {
            self.cfg.isolation_level = level;
            self
        }

        /// How often [`Self::on_statistics`] is given a snapshot (`statistics.interval.ms`).
        /// Default zero: never. The callback runs inside `consume`, on the application's
        /// thread, once the interval has passed (see [`crate::stats`]).
        pub fn statistics_interval(mut self, d: Duration) -> Self {
            self.cfg.statistics_interval = d;
            self
        }

        /// The callback that gets a [`crate::stats::ConsumerStats`] every
        /// [`Self::statistics_interval`] (librdkafka's `stats_cb`).
        pub fn on_statistics(mut self, f: impl FnMut(&crate::stats::ConsumerStats) + Send + 'static) -> Self {
            self.cfg.on_statistics = Some(crate::stats::Callback::new(f));
            self
        }
    };
}
pub(crate) use consumer_setters;

/// Builds a [`crate::SimpleConsumer`]; get one from [`crate::Topic::simple_consumer`]. Every setter
/// names the PyKafka parameter it mirrors and its default.
#[derive(Debug, Clone)]
pub struct SimpleConsumerBuilder {
    pub(crate) topic: TopicRef,
    pub(crate) cfg: ConsumerConfig,
}

impl SimpleConsumerBuilder {
    pub(crate) fn new(topic: TopicRef) -> Self {
        SimpleConsumerBuilder { topic, cfg: ConsumerConfig::default() }
    }

    /// The group whose committed offsets are read and written (`consumer_group`). Default none:
    /// no offsets are read or committed.
    pub fn consumer_group(mut self, group: &str) -> Self {
        self.cfg.consumer_group = Some(group.to_string());
        self
    }

    /// Read only these partitions (`partitions`). Default: every partition of the topic.
    pub fn partitions(mut self, partitions: &[i32]) -> Self {
        self.cfg.partitions = Some(partitions.to_vec());
        self
    }

    consumer_setters!();

    /// Sets a property by its librdkafka name ([`crate::properties`]): `group.id` (the
    /// `consumer_group`), `fetch.wait.max.ms`, `fetch.min.bytes`, `fetch.max.bytes`,
    /// `max.partition.fetch.bytes`, `queued.max.messages.kbytes`, `auto.offset.reset`, `enable.auto.commit`,
    /// `auto.commit.interval.ms`, `isolation.level`. Another builder's property is an error
    /// that names it.
    pub fn set(mut self, name: &str, value: &str) -> Result<Self> {
        if name.trim() == "group.id" {
            return Ok(self.consumer_group(value.trim()));
        }
        if !self.cfg.set(name, value)? {
            return Err(crate::properties::misplaced(name, crate::properties::Target::Consumer));
        }
        Ok(self)
    }

    /// Validates the settings and creates the consumer. No offsets are looked up and no
    /// threads start until the first `consume` (or `iter().next()`).
    pub fn build(self) -> Result<crate::SimpleConsumer> {
        self.cfg.validate()?;
        let c = &self.cfg;
        if let Some(parts) = &c.partitions {
            for p in parts {
                if !self.topic.partitions.iter().any(|q| q.partition == *p) {
                    return Err(Error::UnknownTopicOrPartition {
                        topic: self.topic.name.to_string(),
                        partition: Some(*p),
                    });
                }
            }
        }
        Ok(crate::SimpleConsumer::new(self.topic, self.cfg))
    }
}
