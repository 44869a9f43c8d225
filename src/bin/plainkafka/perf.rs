//! `perf produce|consume`: a load tool in the spirit of Kafka's perf-test tools. Each second a
//! progress line goes to stderr (that second's messages/s, MB/s and latency percentiles); the
//! summary of the whole run goes to stdout.

use crate::props::Conn;
use crate::AnyResult;
use plainkafka::stats::{Histogram, Latency};
use plainkafka::{OffsetReset, ProducerRecord};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Counts of a run, and of its current one-second window.
struct Meter {
    start: Instant,
    messages: AtomicU64,
    bytes: AtomicU64,
    whole: Histogram,
    window: Mutex<(Instant, u64, u64, Histogram)>,
}

impl Meter {
    fn new() -> Meter {
        let now = Instant::now();
        Meter {
            start: now,
            messages: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            whole: Histogram::new(),
            window: Mutex::new((now, 0, 0, Histogram::new())),
        }
    }

    fn record(&self, bytes: usize, latency: Duration) {
        self.messages.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        self.whole.record(latency);
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        w.1 += 1;
        w.2 += bytes as u64;
        w.3.record(latency);
    }

    /// Prints the window's line once it is a second old, and starts the next.
    fn tick(&self) {
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        let span = w.0.elapsed();
        if span < Duration::from_secs(1) {
            return;
        }
        let line = rates(w.1, w.2, span, w.3.latency());
        eprintln!("{:>4.0} s: {line}", self.start.elapsed().as_secs_f64());
        *w = (Instant::now(), 0, 0, Histogram::new());
    }

    fn summary(&self) -> String {
        let n = self.messages.load(Ordering::Relaxed);
        let span = self.start.elapsed();
        format!(
            "{} in {:.2} s: {}",
            crate::format::count(n, "message"),
            span.as_secs_f64(),
            rates(n, self.bytes.load(Ordering::Relaxed), span, self.whole.latency())
        )
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn rates(n: u64, bytes: u64, span: Duration, latency: Option<Latency>) -> String {
    let secs = span.as_secs_f64().max(1e-9);
    let mut s = format!("{:.0} msgs/s, {:.2} MB/s", n as f64 / secs, bytes as f64 / secs / 1e6);
    if let Some(l) = latency {
        s += &format!(", latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms", ms(l.p50), ms(l.p99), ms(l.max));
    }
    s
}

/// `perf produce`'s settings.
pub(crate) struct ProduceLoad {
    pub count: u64,
    pub size: usize,
    /// Messages per second at most.
    pub rate: Option<u64>,
    pub props: Vec<(String, String)>,
}

/// Writes `count` messages of `size` bytes, paced to `rate`. Latency is from `produce` to the
/// acknowledgement: each value starts with the nanoseconds since the run began.
pub(crate) fn produce(conn: &Conn, topic: &str, o: ProduceLoad) -> AnyResult<()> {
    let topic = conn.producing_client()?.topic(topic)?;
    let mut b = topic.producer().delivery_reports(true);
    for (k, v) in &o.props {
        b = b.set(k, v)?;
    }
    let p = b.build()?;
    let meter = Meter::new();
    let failed = AtomicU64::new(0);
    let first_error = Mutex::new(None);
    let produced = AtomicBool::new(false);
    let template = vec![b'x'; o.size.max(8)];
    std::thread::scope(|s| -> AnyResult<()> {
        // Reports are taken on their own thread: unread ones count against the queue's bound,
        // so a `produce` blocked on a full queue must not be the one to take them.
        s.spawn(|| loop {
            match p.get_delivery_report(Some(Duration::from_millis(100))) {
                Some(r) => {
                    let sent = r
                        .record
                        .value
                        .as_deref()
                        .and_then(|v| v.get(..8))
                        .map_or(0, |b| u64::from_be_bytes(b.try_into().expect("8 bytes")));
                    let latency = meter.start.elapsed().saturating_sub(Duration::from_nanos(sent));
                    match r.result {
                        Ok(_) => meter.record(template.len(), latency),
                        Err(e) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            first_error.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e);
                        }
                    }
                }
                None if produced.load(Ordering::Acquire)
                    && meter.messages.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) >= o.count =>
                {
                    break
                }
                None => {}
            }
            meter.tick();
        });
        let result = (|| -> AnyResult<()> {
            for i in 0..o.count {
                if let Some(rate) = o.rate {
                    let due = meter.start + Duration::from_secs_f64(i as f64 / rate as f64);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                }
                let mut value = template.clone();
                let now = u64::try_from(meter.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
                value[..8].copy_from_slice(&now.to_be_bytes());
                p.produce(ProducerRecord::new(value))?;
            }
            // Every report arrives once the flush is done; a failure was reported too.
            let _ = p.flush(Duration::from_secs(150));
            Ok(())
        })();
        produced.store(true, Ordering::Release);
        if result.is_err() {
            // The reports of messages never produced won't come: stop waiting for them.
            failed.store(o.count, Ordering::Relaxed);
        }
        result
    })?;
    println!("{}", meter.summary());
    match first_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some(e) => {
            Err(format!("{} failed; the first: {e}", crate::format::count(failed.into_inner(), "message")).into())
        }
        None => Ok(()),
    }
}

/// `perf consume`'s settings.
pub(crate) struct ConsumeLoad {
    pub count: u64,
    pub group: Option<String>,
    /// How long to wait for the next message before ending early.
    pub idle: Duration,
    pub props: Vec<(String, String)>,
}

/// Reads `count` messages from the start of the log (or the group's commits). Latency is end to
/// end: from each message's create time to its arrival here.
pub(crate) fn consume(conn: &Conn, topic: &str, o: ConsumeLoad) -> AnyResult<()> {
    let client = conn.client()?;
    let mut b = client.topic(topic)?.simple_consumer().auto_offset_reset(OffsetReset::Earliest);
    if let Some(g) = &o.group {
        b = b.consumer_group(g);
    }
    b = b.consumer_timeout(Some(Duration::from_millis(100)));
    for (k, v) in &o.props {
        b = b.set(k, v)?;
    }
    let mut c = b.build()?;
    let meter = Meter::new();
    let mut last = Instant::now();
    while meter.messages.load(Ordering::Relaxed) < o.count {
        match c.consume()? {
            Some(m) => {
                let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
                let created = m.timestamp().map_or(now_ms, |t| t.millis);
                let latency = Duration::from_millis(u64::try_from(now_ms - created).unwrap_or(0));
                meter.record(m.value().map_or(0, <[u8]>::len), latency);
                last = Instant::now();
            }
            None if last.elapsed() >= o.idle => break,
            None => {}
        }
        meter.tick();
    }
    if o.group.is_some() {
        c.commit_offsets()?;
    }
    println!("{}", meter.summary());
    let n = meter.messages.load(Ordering::Relaxed);
    if n < o.count {
        return Err(format!(
            "only {} arrived before {} ms without one",
            crate::format::count(n, "message"),
            o.idle.as_millis()
        )
        .into());
    }
    Ok(())
}
