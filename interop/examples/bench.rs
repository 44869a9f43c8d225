//! The benchmark clients; `scripts/bench.sh` runs them next to Kafka's own perf tools and
//! prints the comparison.
//!
//! ```text
//! bench produce            BROKERS TOPIC COUNT SIZE   # fill one partition (librdkafka)
//! bench plainkafka         BROKERS TOPIC COUNT        # read COUNT messages from offset 0
//! bench rdkafka            BROKERS TOPIC COUNT        # the same with rdkafka's BaseConsumer
//! bench produce-plainkafka BROKERS TOPIC COUNT SIZE   # write COUNT x SIZE B, acks=1, linger 5 ms
//! bench produce-rdkafka    BROKERS TOPIC COUNT SIZE   # the same with rdkafka's producer
//! bench decode             COUNT SIZE                 # decode-only, from memory, vs memcpy
//! ```
//!
//! `$BENCH_PROPS` (`name=value;name=value`, librdkafka's property names) is given to every
//! client alike: the TLS runs set `security.protocol` and `ssl.ca.location` through it.
//! `$BENCH_CODEC` (`none` or `lz4`) is both producers' codec.
//!
//! Each mode but `produce` prints `messages=N bytes=B seconds=S`: from the first request to the
//! last message read or acknowledged, without process start-up. CPU and memory are measured by
//! the caller.

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message as _, Offset, TopicPartitionList};
use std::time::{Duration, Instant};

/// The properties of `$BENCH_PROPS`.
fn props() -> Vec<(String, String)> {
    let raw = std::env::var("BENCH_PROPS").unwrap_or_default();
    raw.split(';')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').expect("BENCH_PROPS: name=value;...");
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect()
}

fn client(brokers: &str) -> plainkafka::KafkaClient {
    let mut b = plainkafka::KafkaClient::builder(brokers);
    for (k, v) in props() {
        b = b.set(&k, &v).expect("property");
    }
    b.build().expect("client")
}

fn rd_config(brokers: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers);
    for (k, v) in props() {
        c.set(k, v);
    }
    c
}

fn produce(brokers: &str, topic: &str, count: usize, size: usize) {
    let p: BaseProducer = rd_config(brokers)
        .set("linger.ms", "20")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "2000000")
        .create()
        .expect("producer");
    send_all(&p, topic, count, size);
}

/// Writes `count` × `size` B to partition 0 with librdkafka and waits for every acknowledgement,
/// serving callbacks while its queue is full.
fn send_all(p: &BaseProducer, topic: &str, count: usize, size: usize) {
    let value = vec![b'x'; size];
    for _ in 0..count {
        let mut rec = BaseRecord::<(), [u8]>::to(topic).partition(0).payload(&value);
        loop {
            match p.send(rec) {
                Ok(()) => break,
                Err((_, back)) => {
                    p.poll(Duration::from_millis(1));
                    rec = back;
                }
            }
        }
        p.poll(Duration::ZERO);
    }
    p.flush(Duration::from_secs(120)).expect("flush");
}

fn report(count: usize, bytes: usize, start: Instant) {
    println!("messages={count} bytes={bytes} seconds={:.3}", start.elapsed().as_secs_f64());
}

fn plainkafka(brokers: &str, topic: &str, count: usize) {
    let topic = client(brokers).topic(topic).expect("topic");
    let mut c = topic.simple_consumer().partitions(&[0]).build().expect("consumer");
    let start = Instant::now();
    let (mut n, mut bytes) = (0, 0);
    while n < count {
        let m = c.consume().expect("consume").expect("message");
        bytes += m.value().map_or(0, <[u8]>::len);
        n += 1;
    }
    report(n, bytes, start);
}

fn rdkafka(brokers: &str, topic: &str, count: usize) {
    let c: BaseConsumer = rd_config(brokers)
        .set("group.id", "consume-bench")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning).expect("partition");
    c.assign(&tpl).expect("assign");
    let start = Instant::now();
    let (mut n, mut bytes) = (0, 0);
    while n < count {
        if let Some(m) = c.poll(Duration::from_secs(10)) {
            let m = m.expect("message");
            bytes += m.payload().map_or(0, <[u8]>::len);
            n += 1;
        }
    }
    report(n, bytes, start);
}

/// Batch size shared by the producers: 1 MB, acks=1, linger 5 ms, and one codec.
const BATCH_BYTES: usize = 1_000_000;

/// The producers' codec: `$BENCH_CODEC`, `none` (the default) or `lz4`, set for both clients
/// (plainkafka's default codec is lz4, librdkafka's none: like is measured with like).
fn codec() -> (plainkafka::Compression, &'static str) {
    match std::env::var("BENCH_CODEC").as_deref() {
        Ok("lz4") => (plainkafka::Compression::Lz4, "lz4"),
        Ok("none") | Err(_) => (plainkafka::Compression::None, "none"),
        Ok(other) => panic!("BENCH_CODEC {other:?}: none or lz4"),
    }
}

fn produce_plainkafka(brokers: &str, topic: &str, count: usize, size: usize) {
    let t = client(brokers).topic(topic).expect("topic");
    let mut p = t
        .producer()
        .required_acks(plainkafka::Acks::Leader)
        .compression(codec().0)
        .linger(Duration::from_millis(5))
        .max_request_size(BATCH_BYTES + 1024)
        .min_queued_messages(count)
        .max_queued_messages(200_000)
        .build()
        .expect("producer");
    let value = vec![b'x'; size];
    let start = Instant::now();
    for _ in 0..count {
        let rec = plainkafka::BorrowedRecord { partition: Some(0), ..plainkafka::BorrowedRecord::new(&value) };
        p.produce_borrowed(rec).expect("produce");
    }
    p.close(Duration::from_secs(120)).expect("every message acknowledged");
    report(count, count * size, start);
}

fn produce_rdkafka(brokers: &str, topic: &str, count: usize, size: usize) {
    let p: BaseProducer = rd_config(brokers)
        .set("acks", "1")
        .set("compression.codec", codec().1)
        .set("linger.ms", "5")
        .set("batch.size", BATCH_BYTES.to_string())
        .set("queue.buffering.max.messages", "200000")
        .create()
        .expect("producer");
    let start = Instant::now();
    send_all(&p, topic, count, size);
    report(count, count * size, start);
}

/// Decode-only: `count` records (7-byte keys, `size`-byte values) in ~1 MB v2 batches, one
/// per buffer as a Fetch answer carries them, decoded by the consumer's decoder (checksums
/// checked) from memory, many passes; then the same bytes copied with memcpy, the ceiling, in
/// the same run. Prints GB/s of record batches for both (one core: one thread).
fn decode(count: usize, size: usize) {
    use plainkafka::protocol::codec::Encoder;
    use plainkafka::protocol::records::{self, BatchBuilder, BatchSpec};
    use std::sync::Arc;
    let value = vec![b'x'; size];
    let mut buffers: Vec<Arc<Vec<u8>>> = Vec::new();
    let mut base = 0i64;
    let mut left = count;
    while left > 0 {
        let mut b = BatchBuilder::default();
        while left > 0 && b.len() + size + 32 < BATCH_BYTES {
            let key = format!("k{:06}", (count - left) % 100_000);
            b.push(1_700_000_000_000, Some(key.as_bytes()), Some(&value), std::iter::empty()).expect("push");
            left -= 1;
        }
        let mut e = Encoder::new();
        b.write(&mut e, BatchSpec { base_offset: base, ..BatchSpec::default() }).expect("batch");
        base += b.count() as i64;
        buffers.push(Arc::new(e.into_inner()));
    }
    let total: usize = buffers.iter().map(|b| b.len()).sum();
    let passes = 20;
    let mut out = Vec::with_capacity(BATCH_BYTES / size + 1);
    let mut decoded = 0usize;
    let start = Instant::now();
    for _ in 0..passes {
        for buf in &buffers {
            out.clear();
            let first = records::decode(buf, 0, &mut out).expect("decode");
            assert!(first.next_offset.is_some());
            decoded += out.len();
        }
    }
    let decode_s = start.elapsed().as_secs_f64();
    assert_eq!(decoded, count * passes, "every record decoded");
    let mut dst = vec![0u8; BATCH_BYTES + 4096];
    let start = Instant::now();
    for _ in 0..passes {
        for buf in &buffers {
            dst[..buf.len()].copy_from_slice(buf);
            std::hint::black_box(&mut dst);
        }
    }
    let copy_s = start.elapsed().as_secs_f64();
    let gbps = |s: f64| (total * passes) as f64 / s / 1e9;
    println!(
        "records={count} bytes={total} passes={passes} decode_gbps={:.2} memcpy_gbps={:.2} decode_ns_per_record={:.1}",
        gbps(decode_s),
        gbps(copy_s),
        decode_s * 1e9 / (count * passes) as f64
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("decode") {
        let count = args.get(2).and_then(|c| c.parse().ok()).unwrap_or(1_000_000);
        let size = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(100);
        return decode(count, size);
    }
    let usage = "usage: bench produce|plainkafka|rdkafka|produce-plainkafka|produce-rdkafka BROKERS TOPIC COUNT [SIZE]";
    let (mode, brokers, topic) = match args.get(1..4) {
        Some([m, b, t]) => (m.as_str(), b.as_str(), t.as_str()),
        _ => panic!("{usage}"),
    };
    let count: usize = args.get(4).and_then(|c| c.parse().ok()).expect(usage);
    let size = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(100);
    match mode {
        "produce" => produce(brokers, topic, count, size),
        "produce-plainkafka" => produce_plainkafka(brokers, topic, count, size),
        "produce-rdkafka" => produce_rdkafka(brokers, topic, count, size),
        "plainkafka" => plainkafka(brokers, topic, count),
        "rdkafka" => rdkafka(brokers, topic, count),
        _ => panic!("{usage}"),
    }
}
