//! Statistics: what librdkafka users watch in production, as typed snapshots.
//!
//! [`crate::SimpleConsumer::stats`], [`crate::BalancedConsumer::stats`] and
//! [`crate::Producer::stats`] take a snapshot at any time; `statistics_interval` with
//! `on_statistics` on their builders (or the property `statistics.interval.ms`) delivers one
//! periodically to a callback. As in librdkafka, the callback runs on the application's thread,
//! inside the consumer's `consume` or the producer's `produce`, `flush` and `close`, once the
//! interval has passed: nothing calls it while the application calls none of them.
//!
//! Broker figures belong to the [`crate::KafkaClient`] (every consumer and producer made from
//! one client shares its connections, so they count together). `to_json` renders a snapshot as
//! one JSON object, the CLI's `-X statistics.interval.ms=N` output.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Round-trip time percentiles, from a histogram (each figure within 1/8 of the true value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Latency {
    /// How many round trips were measured.
    pub samples: u64,
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// The longest.
    pub max: Duration,
}

/// One broker's traffic, since the client was made.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BrokerStats {
    /// The broker's id, when the metadata names the address (bootstrap addresses may not).
    pub node: Option<i32>,
    /// host:port.
    pub address: String,
    /// Requests written.
    pub requests: u64,
    /// Requests that failed on the connection: I/O errors, timeouts, undecodable answers (not
    /// the error codes inside well-formed answers).
    pub errors: u64,
    /// Bytes written, frames included.
    pub bytes_sent: u64,
    /// Bytes of the response frames read.
    pub bytes_received: u64,
    /// Time from writing a request to reading its answer (a Fetch's includes the broker's wait
    /// for data); `None` before any answer.
    pub rtt: Option<Latency>,
}

/// One partition as a consumer holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionStats {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The next offset to hand to the application; `None` until the start offset is known.
    pub position: Option<i64>,
    /// The last offset this consumer committed (the next one to read); `None` if it committed
    /// none.
    pub committed: Option<i64>,
    /// The end the last fetch answer reported; `None` before one. For a read_committed
    /// consumer this is the last stable offset (where the oldest open transaction begins),
    /// which is what it can read to.
    pub high_watermark: Option<i64>,
    /// `high_watermark - position`: messages not yet handed out; `None` while either is unknown.
    pub lag: Option<i64>,
    /// Messages fetched and not yet handed out.
    pub queued_messages: usize,
    /// Their size, about (keys, values and bookkeeping).
    pub queued_bytes: usize,
    /// Paused on an error (see `reset_offset_on_fetch`).
    pub paused: bool,
}

impl PartitionStats {
    /// Whether everything the last fetch answer reported was handed out: the end of the
    /// partition, as kcat's `-e` means it.
    pub fn at_end(&self) -> bool {
        matches!((self.position, self.high_watermark), (Some(p), Some(h)) if p >= h) && self.queued_messages == 0
    }
}

/// A group member's rebalances: from the moment it (re)joins to the moment it has its
/// assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RebalanceStats {
    /// Assignments received (the first join counts).
    pub count: u64,
    /// How long the last one took.
    pub last: Option<Duration>,
    /// How long they took together.
    pub total: Duration,
}

/// A consumer's snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerStats {
    /// When it was taken, in ms since the Unix epoch.
    pub time_ms: i64,
    /// Messages handed to the application.
    pub messages: u64,
    /// Every partition read, in order.
    pub partitions: Vec<PartitionStats>,
    /// Every broker the client talked to, by address.
    pub brokers: Vec<BrokerStats>,
    /// Requests the client retried after a retriable error (metadata, offsets, commits, group
    /// calls; a fetch is retried by its partition's own backoff, not counted here).
    pub retries: u64,
    /// Group rebalances (all zero for a [`crate::SimpleConsumer`]).
    pub rebalances: RebalanceStats,
}

/// A producer's snapshot.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ProducerStats {
    /// When it was taken, in ms since the Unix epoch.
    pub time_ms: i64,
    /// Messages queued or in flight.
    pub queued_messages: usize,
    /// Their estimated bytes.
    pub queued_bytes: usize,
    /// Batches sent (each attempt of a retried batch counts once).
    pub batches: u64,
    /// Messages in those batches.
    pub records: u64,
    /// Their estimated record bytes.
    pub batch_bytes: u64,
    /// How full batches were on average: record bytes over the batch size limit, 0 to 1.
    pub average_fill: f64,
    /// Batch attempts that failed and were retried.
    pub batch_retries: u64,
    /// Messages that failed for good (reported to the application).
    pub failed: u64,
    /// Every broker the client talked to, by address.
    pub brokers: Vec<BrokerStats>,
    /// Requests the client layer retried (metadata and producer ids).
    pub retries: u64,
}

/// Log-linear buckets: 8 per power of two of microseconds, up to 2^40 µs (12 days).
const SUB: usize = 8;
const BUCKETS: usize = 41 * SUB;

/// A histogram of durations that threads record into without a lock (8 buckets per power of
/// two of microseconds: each percentile within 1/8 of the true value). The brokers' round
/// trips are measured with it; the CLI's `perf` measures latencies with it too.
#[derive(Debug)]
pub struct Histogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    max_us: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            max_us: AtomicU64::new(0),
        }
    }
}

/// The bucket of `us` microseconds: below 8 one each, then 8 per power of two.
fn bucket(us: u64) -> usize {
    if us < SUB as u64 {
        return us as usize;
    }
    let log = 63 - us.leading_zeros() as usize; // ≥ 3
    let sub = ((us >> (log - 3)) & 7) as usize;
    ((log - 2) * SUB + sub).min(BUCKETS - 1)
}

/// The highest value bucket `b` holds.
fn bucket_top(b: usize) -> u64 {
    if b < SUB {
        return b as u64;
    }
    let log = b / SUB + 2;
    let sub = (b % SUB) as u64;
    ((8 + sub + 1) << (log - 3)) - 1
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Histogram {
        Histogram::default()
    }

    /// Counts one duration.
    pub fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.buckets[bucket(us)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    /// The percentiles of what was recorded; `None` before anything was.
    pub fn latency(&self) -> Option<Latency> {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let samples: u64 = counts.iter().sum();
        if samples == 0 {
            return None;
        }
        let max = self.max_us.load(Ordering::Relaxed);
        let at = |q: f64| {
            let rank = ((samples as f64 * q).ceil() as u64).clamp(1, samples);
            let mut seen = 0;
            for (b, n) in counts.iter().enumerate() {
                seen += n;
                if seen >= rank {
                    return Duration::from_micros(bucket_top(b).min(max));
                }
            }
            Duration::from_micros(max)
        };
        Some(Latency { samples, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: Duration::from_micros(max) })
    }
}

/// One broker address's counters, shared by every connection to it.
#[derive(Debug, Default)]
pub(crate) struct BrokerMeter {
    requests: AtomicU64,
    errors: AtomicU64,
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
    rtt: Histogram,
}

impl BrokerMeter {
    pub fn sent(&self, bytes: usize) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bytes_sent.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub fn answered(&self, bytes: usize, since: Instant) {
        self.bytes_received.fetch_add(bytes as u64, Ordering::Relaxed);
        self.rtt.record(since.elapsed());
    }

    pub fn failed(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// A client's meters: one per broker address, and its retries.
#[derive(Debug, Default, Clone)]
pub(crate) struct Meters {
    inner: Arc<MetersInner>,
}

#[derive(Debug, Default)]
struct MetersInner {
    by_addr: Mutex<BTreeMap<String, Arc<BrokerMeter>>>,
    retries: AtomicU64,
}

impl Meters {
    /// The meter of `addr`, made on first use.
    pub fn broker(&self, addr: &str) -> Arc<BrokerMeter> {
        let mut m = self.inner.by_addr.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(m.entry(addr.to_string()).or_default())
    }

    pub fn retried(&self) {
        self.inner.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub fn retries(&self) -> u64 {
        self.inner.retries.load(Ordering::Relaxed)
    }

    /// Every broker's figures; `ids` names the addresses the metadata knows.
    pub fn brokers(&self, ids: &BTreeMap<i32, String>) -> Vec<BrokerStats> {
        let m = self.inner.by_addr.lock().unwrap_or_else(|e| e.into_inner());
        m.iter()
            .map(|(addr, b)| BrokerStats {
                node: ids.iter().find(|(_, a)| *a == addr).map(|(id, _)| *id),
                address: addr.clone(),
                requests: b.requests.load(Ordering::Relaxed),
                errors: b.errors.load(Ordering::Relaxed),
                bytes_sent: b.bytes_sent.load(Ordering::Relaxed),
                bytes_received: b.bytes_received.load(Ordering::Relaxed),
                rtt: b.rtt.latency(),
            })
            .collect()
    }
}

/// Now, in ms since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// An application's statistics callback: shareable, so the builders that hold it stay `Clone`.
pub(crate) struct Callback<S>(Arc<Mutex<StatsFn<S>>>);

type StatsFn<S> = dyn FnMut(&S) + Send;

impl<S> Callback<S> {
    pub fn new(f: impl FnMut(&S) + Send + 'static) -> Callback<S> {
        Callback(Arc::new(Mutex::new(f)))
    }
}

impl<S> Clone for Callback<S> {
    fn clone(&self) -> Self {
        Callback(Arc::clone(&self.0))
    }
}

impl<S> std::fmt::Debug for Callback<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Callback")
    }
}

/// When a periodic callback is next due, and the callback.
#[derive(Debug)]
pub(crate) struct Periodic<S> {
    interval: Duration,
    next: Instant,
    callback: Callback<S>,
}

impl<S> Periodic<S> {
    /// `None` unless both an interval above zero and a callback are given.
    pub fn new(interval: Duration, callback: Option<Callback<S>>) -> Option<Periodic<S>> {
        let callback = callback.filter(|_| !interval.is_zero())?;
        Some(Periodic { interval, next: Instant::now() + interval, callback })
    }

    pub fn due(&self) -> bool {
        Instant::now() >= self.next
    }

    /// When it is next due.
    pub fn next(&self) -> Instant {
        self.next
    }

    /// Calls the callback, and counts the next interval from now: a long pause gives one call,
    /// not a burst.
    pub fn fire(&mut self, snapshot: &S) {
        self.next = Instant::now() + self.interval;
        let mut f = self.callback.0.lock().unwrap_or_else(|e| e.into_inner());
        f(snapshot);
    }
}

/// A small JSON writer: objects of numbers, strings, nulls and nested values.
struct Json(String);

impl Json {
    fn key(&mut self, k: &str) {
        if !self.0.ends_with('{') && !self.0.ends_with('[') {
            self.0.push(',');
        }
        let _ = write!(self.0, "\"{k}\":");
    }

    fn num(&mut self, k: &str, v: impl std::fmt::Display) {
        self.key(k);
        let _ = write!(self.0, "{v}");
    }

    fn opt(&mut self, k: &str, v: Option<impl std::fmt::Display>) {
        self.key(k);
        match v {
            Some(v) => {
                let _ = write!(self.0, "{v}");
            }
            None => self.0.push_str("null"),
        }
    }

    fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        self.0.push('"');
        for c in v.chars() {
            match c {
                '"' => self.0.push_str("\\\""),
                '\\' => self.0.push_str("\\\\"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(self.0, "\\u{:04x}", c as u32);
                }
                c => self.0.push(c),
            }
        }
        self.0.push('"');
    }

    fn list<T>(&mut self, k: &str, items: &[T], each: impl Fn(&mut Json, &T)) {
        self.key(k);
        self.0.push('[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.0.push(',');
            }
            self.0.push('{');
            each(self, item);
            self.0.push('}');
        }
        self.0.push(']');
    }

    fn object(&mut self, k: &str, each: impl FnOnce(&mut Json)) {
        self.key(k);
        self.0.push('{');
        each(self);
        self.0.push('}');
    }

    fn brokers(&mut self, brokers: &[BrokerStats]) {
        self.list("brokers", brokers, |j, b| {
            j.opt("node", b.node);
            j.str("address", &b.address);
            j.num("requests", b.requests);
            j.num("errors", b.errors);
            j.num("bytes_sent", b.bytes_sent);
            j.num("bytes_received", b.bytes_received);
            match b.rtt {
                Some(l) => j.object("rtt_us", |j| {
                    j.num("samples", l.samples);
                    j.num("p50", l.p50.as_micros());
                    j.num("p90", l.p90.as_micros());
                    j.num("p99", l.p99.as_micros());
                    j.num("max", l.max.as_micros());
                }),
                None => j.opt("rtt_us", None::<u8>),
            }
        });
    }
}

impl ConsumerStats {
    /// One JSON object; durations in ms (`rtt_us` in µs), unknown values `null`.
    pub fn to_json(&self) -> String {
        let mut j = Json(String::from("{"));
        j.str("type", "consumer");
        j.num("time_ms", self.time_ms);
        j.num("messages", self.messages);
        j.num("retries", self.retries);
        let r = self.rebalances;
        j.object("rebalances", |j| {
            j.num("count", r.count);
            j.opt("last_ms", r.last.map(|d| d.as_millis()));
            j.num("total_ms", r.total.as_millis());
        });
        j.list("partitions", &self.partitions, |j, p| {
            j.str("topic", &p.topic);
            j.num("partition", p.partition);
            j.opt("position", p.position);
            j.opt("committed", p.committed);
            j.opt("high_watermark", p.high_watermark);
            j.opt("lag", p.lag);
            j.num("queued_messages", p.queued_messages);
            j.num("queued_bytes", p.queued_bytes);
            j.num("paused", p.paused);
        });
        j.brokers(&self.brokers);
        j.0.push('}');
        j.0
    }
}

impl ProducerStats {
    /// One JSON object; `rtt_us` in µs, unknown values `null`.
    pub fn to_json(&self) -> String {
        let mut j = Json(String::from("{"));
        j.str("type", "producer");
        j.num("time_ms", self.time_ms);
        j.num("queued_messages", self.queued_messages);
        j.num("queued_bytes", self.queued_bytes);
        j.num("batches", self.batches);
        j.num("records", self.records);
        j.num("batch_bytes", self.batch_bytes);
        j.num("average_fill", format!("{:.3}", self.average_fill));
        j.num("batch_retries", self.batch_retries);
        j.num("failed", self.failed);
        j.num("retries", self.retries);
        j.brokers(&self.brokers);
        j.0.push('}');
        j.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_hold_what_they_say_and_grow_in_eighths() {
        for us in (0..5000u64).chain([1 << 20, (1 << 20) + 12345, u64::MAX / 2, u64::MAX]) {
            let b = bucket(us);
            assert!(us <= bucket_top(b) || b == BUCKETS - 1, "{us} in bucket {b} (top {})", bucket_top(b));
            if b > 0 && b < BUCKETS - 1 {
                assert!(us > bucket_top(b - 1), "{us} belongs above bucket {}", b - 1);
            }
            if us >= 8 && b < BUCKETS - 1 {
                assert!((bucket_top(b) - us) * 8 <= us, "{us}: bucket top {} is within 1/8", bucket_top(b));
            }
        }
    }

    #[test]
    fn percentiles_come_from_the_recorded_times() {
        let h = Histogram::default();
        assert_eq!(h.latency(), None);
        for ms in 1..=100u64 {
            h.record(Duration::from_millis(ms));
        }
        let l = h.latency().unwrap();
        assert_eq!(l.samples, 100);
        assert_eq!(l.max, Duration::from_millis(100));
        let near = |d: Duration, ms: u64| {
            let us = d.as_micros() as u64;
            us >= ms * 1000 && us <= ms * 1000 + ms * 1000 / 8
        };
        assert!(near(l.p50, 50) && near(l.p90, 90) && near(l.p99, 99), "{l:?}");
    }

    #[test]
    fn json_names_every_field_and_escapes_strings() {
        let s = ConsumerStats {
            time_ms: 7,
            messages: 3,
            partitions: vec![PartitionStats {
                topic: "a\"b".into(),
                partition: 0,
                position: Some(3),
                committed: None,
                high_watermark: Some(5),
                lag: Some(2),
                queued_messages: 2,
                queued_bytes: 100,
                paused: false,
            }],
            brokers: vec![BrokerStats {
                node: Some(1),
                address: "h:9092".into(),
                requests: 4,
                errors: 0,
                bytes_sent: 10,
                bytes_received: 20,
                rtt: None,
            }],
            retries: 0,
            rebalances: RebalanceStats::default(),
        };
        assert_eq!(
            s.to_json(),
            "{\"type\":\"consumer\",\"time_ms\":7,\"messages\":3,\"retries\":0,\
             \"rebalances\":{\"count\":0,\"last_ms\":null,\"total_ms\":0},\
             \"partitions\":[{\"topic\":\"a\\\"b\",\"partition\":0,\"position\":3,\"committed\":null,\
             \"high_watermark\":5,\"lag\":2,\"queued_messages\":2,\"queued_bytes\":100,\"paused\":false}],\
             \"brokers\":[{\"node\":1,\"address\":\"h:9092\",\"requests\":4,\"errors\":0,\"bytes_sent\":10,\
             \"bytes_received\":20,\"rtt_us\":null}]}"
        );
        assert!(s.partitions[0].lag == Some(2) && !s.partitions[0].at_end());
    }

    #[test]
    fn a_periodic_callback_needs_an_interval_and_waits_for_it() {
        let calls = Arc::new(AtomicU64::new(0));
        let c = Arc::clone(&calls);
        let cb = Callback::new(move |v: &u64| {
            c.fetch_add(*v, Ordering::Relaxed);
        });
        assert!(Periodic::new(Duration::ZERO, Some(cb.clone())).is_none(), "interval 0 is off");
        assert!(Periodic::<u64>::new(Duration::from_secs(1), None).is_none(), "no callback, nothing to call");
        let mut p = Periodic::new(Duration::from_secs(3600), Some(cb)).unwrap();
        assert!(!p.due());
        p.next = Instant::now();
        assert!(p.due());
        p.fire(&2);
        assert_eq!(calls.load(Ordering::Relaxed), 2);
        assert!(!p.due(), "the next one is an interval away");
    }
}
