//! Behaviour every broker must show plainkafka the same way. Each function takes a running
//! broker and asserts; the test binaries call them per broker.

use super::*;
use plainkafka::{KafkaClient, Message, OffsetReset, OffsetSpec, SimpleConsumer, StartRule, Topic};
use std::collections::BTreeSet;

pub fn client(b: &Broker) -> KafkaClient {
    KafkaClient::builder(&b.bootstrap).request_timeout(Duration::from_secs(20)).build().expect("connect")
}

/// A client for in-process mocks, where faults are injected: short timeouts and backoff, so
/// that recovering from them is quick.
pub fn fast_client(b: &Broker) -> KafkaClient {
    KafkaClient::builder(&b.bootstrap)
        .request_timeout(Duration::from_secs(5))
        .retry_backoff(Duration::from_millis(20))
        .build()
        .expect("connect")
}

/// Partitions a fresh test topic gets on this broker.
pub fn partitions_for(b: &Broker) -> i32 {
    match b.kind {
        Kind::Kafka | Kind::Mock => 1,
        // Auto-created on first use, with 4 partitions.
        Kind::Tansu | Kind::RdkafkaMock => 4,
    }
}

/// A new topic with `partitions`, ready for use.
pub fn new_topic(b: &Broker, prefix: &str, partitions: i32) -> String {
    let name = unique_topic(prefix);
    create_topic(b, &name, partitions);
    name
}

/// Loads a topic; on tansu the first produce creates it, so produce before calling this there.
pub fn topic(b: &Broker, name: &str) -> Topic {
    client(b).topic(name).expect("topic")
}

/// Reads until `n` messages arrived, failing after `timeout` or on any error.
pub fn read_n(c: &mut SimpleConsumer, n: usize, timeout: Duration) -> Vec<Message> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        assert!(Instant::now() < deadline, "read {} of {n} messages before the deadline", out.len());
        match c.consume() {
            Ok(Some(m)) => out.push(m),
            Ok(None) => {}
            Err(e) => panic!("consume failed: {e}"),
        }
    }
    out
}

/// Polls until every partition's start offset is resolved; returns what was read meanwhile.
pub fn until_resolved(c: &mut SimpleConsumer) -> Vec<Message> {
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.start_decisions().values().any(Option::is_none) {
        assert!(Instant::now() < deadline, "start offsets not resolved in time");
        if let Some(m) = c.consume().expect("consume") {
            got.push(m);
        }
    }
    got
}

/// Reads whatever arrives until the consumer's timeout passes with nothing new.
pub fn drain(c: &mut SimpleConsumer) -> Vec<Message> {
    c.iter().map(|m| m.expect("consume")).collect()
}

fn values(ms: &[Message]) -> BTreeSet<String> {
    ms.iter().map(|m| String::from_utf8_lossy(m.value().unwrap_or_default()).into_owned()).collect()
}

fn names(prefix: &str, r: std::ops::Range<usize>) -> BTreeSet<String> {
    r.map(|i| format!("{prefix}-{i}")).collect()
}

const SHORT: Option<Duration> = Some(Duration::from_millis(300));

/// ../shared/pykafka-usage-guide.rst, "Setting the initial offset": the three consumers.
pub fn guide_three_consumers(b: &Broker) {
    let parts = partitions_for(b);
    let name = new_topic(b, "guide", parts);
    produce_numbered(b, &name, parts, "old", 0..10, true);
    let t = topic(b, &name);
    let group = unique_topic("mygroup");
    let hw = t.latest_available_offsets().expect("latest");

    // consumer: new group, LATEST → starts at the end; reads only what comes after.
    let mut c1 = t
        .simple_consumer()
        .consumer_group(&group)
        .auto_offset_reset(OffsetReset::Latest)
        .consumer_timeout(SHORT)
        .build()
        .expect("c1");
    assert!(until_resolved(&mut c1).is_empty(), "LATEST must not read old messages");
    for (p, d) in c1.start_decisions() {
        let d = d.expect("resolved");
        assert_eq!(d.rule, StartRule::NoCommittedOffset, "partition {p}");
        assert_eq!(d.offset, hw[&p], "partition {p} starts at the high watermark");
    }
    produce_numbered(b, &name, parts, "new", 0..5, true);
    let got = read_n(&mut c1, 5, Duration::from_secs(30));
    assert_eq!(values(&got), names("new", 0..5));
    c1.commit_offsets().expect("commit");
    drop(c1);

    // consumer_2: same group → resumes from the committed offsets, rereads nothing.
    let mut c2 = t.simple_consumer().consumer_group(&group).consumer_timeout(SHORT).build().expect("c2");
    assert!(until_resolved(&mut c2).is_empty(), "resuming must not reread");
    let committed = c2.fetch_offsets().expect("fetch offsets");
    for (p, d) in c2.start_decisions() {
        let d = d.expect("resolved");
        assert_eq!(d.rule, StartRule::Committed, "partition {p}");
        assert_eq!(Some(d.offset), committed[&p], "partition {p}");
        assert_eq!(d.offset, hw[&p] + got.iter().filter(|m| m.partition() == p).count() as i64);
    }
    produce_numbered(b, &name, parts, "more", 0..3, true);
    assert_eq!(values(&read_n(&mut c2, 3, Duration::from_secs(30))), names("more", 0..3));
    assert!(drain(&mut c2).is_empty());
    c2.commit_offsets().expect("commit");
    drop(c2);

    // consumer_3: EARLIEST with reset_offset_on_start → everything from the start.
    let mut c3 = t
        .simple_consumer()
        .consumer_group(&group)
        .auto_offset_reset(OffsetReset::Earliest)
        .reset_offset_on_start(true)
        .consumer_timeout(SHORT)
        .build()
        .expect("c3");
    let all = read_n(&mut c3, 18, Duration::from_secs(30));
    for (p, d) in c3.start_decisions() {
        let d = d.expect("resolved");
        assert_eq!((d.rule, d.offset), (StartRule::ResetOnStart, 0), "partition {p}");
    }
    let mut want = names("old", 0..10);
    want.extend(names("new", 0..5));
    want.extend(names("more", 0..3));
    assert_eq!(values(&all), want);
    assert!(drain(&mut c3).is_empty());
}

/// Every start rule, commits, held offsets and resets, on one partition.
pub fn start_rules(b: &Broker) {
    let parts = partitions_for(b);
    let name = new_topic(b, "rules", parts);
    // Everything on partition 0; the other partitions (tansu) stay empty.
    produce(&b.bootstrap, &name, (0..10).map(|i| TestMsg::value(0, format!("m-{i}"))), b.kind == Kind::Tansu);
    let t = topic(b, &name);
    let on = |c: plainkafka::SimpleConsumerBuilder| c.partitions(&[0]).consumer_timeout(SHORT);

    // No group, EARLIEST: the whole log, by the documented rule.
    let mut c = on(t.simple_consumer()).build().expect("build");
    assert_eq!(drain(&mut c).len(), 10);
    let d = c.start_decisions()[&0].expect("resolved");
    assert_eq!((d.rule, d.offset, d.log_start, d.high_watermark), (StartRule::NoGroup, 0, 0, 10));
    assert!(c.commit_offsets().is_err(), "commit without a group is a configuration error");

    // No group, LATEST: nothing old.
    let mut c = on(t.simple_consumer()).auto_offset_reset(OffsetReset::Latest).build().expect("build");
    assert!(drain(&mut c).is_empty());
    assert_eq!(c.start_decisions()[&0].expect("resolved").offset, 10);

    // A group that consumed three messages commits last consumed + 1.
    let group = unique_topic("g");
    let mut c = on(t.simple_consumer()).consumer_group(&group).build().expect("build");
    let got = read_n(&mut c, 3, Duration::from_secs(30));
    assert_eq!(got.iter().map(Message::offset).collect::<Vec<_>>(), vec![0, 1, 2]);
    assert_eq!(c.held_offsets()[&0], Some(3));
    c.commit_offsets().expect("commit");
    assert_eq!(c.fetch_offsets().expect("fetch")[&0], Some(3));
    drop(c);

    // The same group resumes at 3, whatever auto_offset_reset says.
    let mut c =
        on(t.simple_consumer()).consumer_group(&group).auto_offset_reset(OffsetReset::Latest).build().expect("build");
    let rest = drain(&mut c);
    assert_eq!(rest.first().map(Message::offset), Some(3));
    assert_eq!(rest.len(), 7);
    let d = c.start_decisions()[&0].expect("resolved");
    assert_eq!((d.rule, d.committed, d.offset), (StartRule::Committed, Some(3), 3));

    // reset_offsets: exact offset (the next to read), earliest, latest, by timestamp; none commits.
    c.reset_offsets(&[(0, OffsetSpec::Offset(5))]).expect("reset");
    assert_eq!(read_n(&mut c, 1, Duration::from_secs(30))[0].offset(), 5);
    c.reset_offsets(&[(0, OffsetSpec::Earliest)]).expect("reset");
    assert_eq!(read_n(&mut c, 1, Duration::from_secs(30))[0].offset(), 0);
    c.reset_offsets(&[(0, OffsetSpec::Latest)]).expect("reset");
    assert!(drain(&mut c).is_empty());
    if matches!(b.kind, Kind::Kafka | Kind::Mock) {
        // Only Kafka (and plainkafka's mock) looks offsets up by timestamp: librdkafka's mock answers -1 and tansu 0 to
        // every such query (both seen here).
        c.reset_offsets(&[(0, OffsetSpec::Timestamp(0))]).expect("reset");
        assert_eq!(read_n(&mut c, 1, Duration::from_secs(30))[0].offset(), 0);
    }
    assert_eq!(c.fetch_offsets().expect("fetch")[&0], Some(3), "a reset commits nothing by itself");
    drop(c);

    // reset_offset_on_start ignores the commit.
    let mut c = on(t.simple_consumer()).consumer_group(&group).reset_offset_on_start(true).build().expect("build");
    assert_eq!(drain(&mut c).len(), 10);
    assert_eq!(c.start_decisions()[&0].expect("resolved").rule, StartRule::ResetOnStart);

    // Nothing consumed → a commit writes nothing.
    let fresh = unique_topic("g");
    let mut c = on(t.simple_consumer()).consumer_group(&fresh).build().expect("build");
    c.commit_offsets().expect("commit");
    assert_eq!(c.fetch_offsets().expect("fetch")[&0], None);
}

/// 100,000 messages written by librdkafka come back complete and in order.
pub fn round_trip_100k(b: &Broker) {
    let name = new_topic(b, "bulk", partitions_for(b));
    let n = 100_000;
    produce(&b.bootstrap, &name, (0..n).map(|i| TestMsg::value(0, format!("{i:08}"))), false);
    let t = topic(b, &name);
    let mut c =
        t.simple_consumer().partitions(&[0]).consumer_timeout(Some(Duration::from_secs(2))).build().expect("build");
    let got = read_n(&mut c, n, Duration::from_secs(120));
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m.value(), Some(format!("{i:08}").as_bytes()), "message {i}");
    }
    let mut offsets: Vec<i64> = got.iter().map(Message::offset).collect();
    offsets.dedup();
    assert_eq!(offsets.len(), n, "no duplicates");
    assert!(drain(&mut c).is_empty(), "nothing beyond what was written");
}

/// Keys, values (null and empty too), headers and timestamps written by librdkafka come back
/// exactly.
pub fn rdkafka_data_exact(b: &Broker) {
    let name = new_topic(b, "exact", partitions_for(b));
    let msgs = vec![
        TestMsg {
            partition: 0,
            key: Some(b"k1".to_vec()),
            value: Some(b"v1".to_vec()),
            headers: vec![("h".into(), Some(b"x".to_vec()))],
            timestamp: Some(1_600_000_000_000),
        },
        TestMsg { partition: 0, key: None, value: None, headers: vec![], timestamp: Some(1_600_000_000_001) },
        TestMsg {
            partition: 0,
            key: Some(vec![]),
            value: Some(vec![]),
            headers: vec![("a".into(), None), ("b".into(), Some(vec![0, 255]))],
            timestamp: Some(1_600_000_000_002),
        },
        TestMsg {
            partition: 0,
            key: Some(vec![0xff; 3]),
            value: Some(vec![7; 100_000]),
            headers: vec![],
            timestamp: Some(1_600_000_000_003),
        },
    ];
    produce(&b.bootstrap, &name, msgs.clone(), false);
    let t = topic(b, &name);
    let mut c = t.simple_consumer().partitions(&[0]).consumer_timeout(SHORT).build().expect("build");
    let got = read_n(&mut c, msgs.len(), Duration::from_secs(30));
    for (m, want) in got.iter().zip(&msgs) {
        assert_eq!(m.key(), want.key.as_deref());
        assert_eq!(m.value(), want.value.as_deref());
        let headers: Vec<(String, Option<Vec<u8>>)> =
            m.headers().iter().map(|h| (h.key.clone(), h.value.clone())).collect();
        assert_eq!(headers, want.headers);
        assert_eq!(m.timestamp().map(|t| t.millis), want.timestamp);
        assert_eq!(m.topic(), name);
    }
}

/// Topic helpers: earliest, latest, and offsets for a timestamp.
pub fn topic_offsets(b: &Broker) {
    let name = new_topic(b, "offsets", partitions_for(b));
    let msgs = (0..5)
        .map(|i| TestMsg { timestamp: Some(1_700_000_000_000 + i * 1000), ..TestMsg::value(0, format!("t-{i}")) });
    produce(&b.bootstrap, &name, msgs, b.kind == Kind::Tansu);
    let t = topic(b, &name);
    assert_eq!(t.earliest_available_offsets().expect("earliest")[&0], 0);
    assert_eq!(t.latest_available_offsets().expect("latest")[&0], 5);
    let at = t.offsets_for_timestamp(1_700_000_002_000).expect("by time")[&0];
    let after = t.offsets_for_timestamp(1_800_000_000_000).expect("by time")[&0];
    match b.kind {
        // Neither implements lookups by timestamp (both seen here; Kafka answers the same
        // request correctly): tansu answers offset 0, librdkafka's mock -1, to every query.
        Kind::Tansu => return assert_eq!((at, after), (Some(0), Some(0))),
        Kind::RdkafkaMock => return assert_eq!((at, after), (None, None)),
        Kind::Kafka | Kind::Mock => {}
    }
    assert_eq!(at, Some(2));
    assert_eq!(after, None);
}

/// A stop handle ends a consumer blocked waiting for messages.
pub fn stop_handle_unblocks(b: &Broker) {
    let name = new_topic(b, "stop", partitions_for(b));
    produce_numbered(b, &name, 1, "s", 0..3, false);
    let t = topic(b, &name);
    let mut c = t.simple_consumer().partitions(&[0]).build().expect("build");
    assert_eq!(read_n(&mut c, 3, Duration::from_secs(30)).len(), 3);
    let h = c.stop_handle();
    let stopper = std::thread::spawn(move || {
        // Let the consumer block first; the assertion holds either way.
        std::thread::sleep(Duration::from_millis(300));
        let at = Instant::now();
        h.stop();
        at
    });
    let r = c.consume();
    let returned = Instant::now();
    let stopped_at = stopper.join().expect("stopper");
    assert!(r.expect("consume").is_none());
    // Without a wake-up the consumer would wait for a message forever (no consumer_timeout);
    // 2 s leaves room for a loaded machine's scheduling.
    let lag = returned.saturating_duration_since(stopped_at);
    assert!(lag < Duration::from_secs(2), "consume returned {lag:?} after stop");
    assert!(c.iter().next().is_none(), "a stopped consumer stays stopped");
}

/// Batches far larger than the per-partition fetch size, in two partitions fetched together, are
/// read exactly. (Kafka, tansu and librdkafka's mock all return whole batches here, KIP-74; the
/// consumer's fetch-size growth for brokers that cut batches is checked in its unit tests.)
pub fn batches_larger_than_the_fetch_size(b: &Broker) {
    let name = new_topic(b, "large", partitions_for(b).max(2));
    let value = |p: i32, i: usize| vec![b'a' + (i % 26) as u8 + p as u8; 50_000];
    produce(
        &b.bootstrap,
        &name,
        (0..20).map(|i| TestMsg { value: Some(value((i % 2) as i32, i)), ..TestMsg::value((i % 2) as i32, "") }),
        true,
    );
    let t = topic(b, &name);
    let mut c = t
        .simple_consumer()
        .fetch_message_max_bytes(1000)
        .consumer_timeout(Some(Duration::from_millis(500)))
        .build()
        .expect("build");
    let got = read_n(&mut c, 20, Duration::from_secs(60));
    for m in &got {
        let i = m.offset() as usize * 2 + m.partition() as usize;
        assert_eq!(m.value(), Some(&value(m.partition(), i)[..]), "{}/{}", m.partition(), m.offset());
    }
    assert!(drain(&mut c).is_empty());
}

/// What librdkafka writes with each codec (keys, values, headers, timestamps), plainkafka reads
/// exactly.
pub fn compressed_data_from_rdkafka(b: &Broker) {
    for codec in ["gzip", "snappy", "lz4", "zstd"] {
        let name = new_topic(b, codec, partitions_for(b));
        let msgs: Vec<TestMsg> = (0..500)
            .map(|i| TestMsg {
                key: Some(format!("key-{i}").into_bytes()),
                headers: vec![("codec".into(), Some(codec.as_bytes().to_vec()))],
                timestamp: Some(1_650_000_000_000 + i),
                ..TestMsg::value(0, format!("{codec} value {i} {}", "x".repeat(i as usize % 50)))
            })
            .collect();
        super::produce_with(&b.bootstrap, &name, msgs.clone(), false, &[("compression.codec", codec)]);
        let t = topic(b, &name);
        let mut c = t.simple_consumer().partitions(&[0]).consumer_timeout(SHORT).build().expect("build");
        let got = read_n(&mut c, msgs.len(), Duration::from_secs(30));
        for (m, want) in got.iter().zip(&msgs) {
            assert_eq!((m.key(), m.value()), (want.key.as_deref(), want.value.as_deref()), "{codec}");
            assert_eq!(m.headers()[0].value.as_deref(), Some(codec.as_bytes()));
            assert_eq!(m.timestamp().map(|t| t.millis), want.timestamp);
        }
        assert_eq!(got.last().map(Message::offset), Some(msgs.len() as i64 - 1), "{codec}");
        assert!(drain(&mut c).is_empty());
    }
}

const CODECS: [plainkafka::Compression; 5] = [
    plainkafka::Compression::None,
    plainkafka::Compression::Gzip,
    plainkafka::Compression::Snappy,
    plainkafka::Compression::Lz4,
    plainkafka::Compression::Zstd,
];

/// The messages the producer scenarios write: keys, values, headers, timestamps.
pub fn producer_records(tag: &str, n: usize) -> Vec<plainkafka::ProducerRecord> {
    (0..n)
        .map(|i| {
            plainkafka::ProducerRecord::new(format!("{tag} value {i} {}", "v".repeat(i % 30)))
                .key(format!("key-{i}"))
                .header("tag", tag)
                .timestamp(1_660_000_000_000 + i as i64)
                .partition(0)
        })
        .collect()
}

/// A message as librdkafka read it: key, value, headers, timestamp.
pub type Read = (Vec<u8>, Vec<u8>, Vec<(String, Vec<u8>)>, i64);

/// Reads partition 0 of `topic` with librdkafka.
pub fn rdkafka_read(b: &Broker, topic: &str, n: usize) -> Vec<Read> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Headers;
    use rdkafka::Message as _;
    let c: BaseConsumer = rdkafka::config::ClientConfig::new()
        .set("bootstrap.servers", &b.bootstrap)
        .set("group.id", unique_topic("rdkafka-reader"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, rdkafka::Offset::Beginning).expect("partition");
    c.assign(&tpl).expect("assign");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut out = Vec::new();
    while out.len() < n {
        assert!(Instant::now() < deadline, "rdkafka read {} of {n}", out.len());
        if let Some(m) = c.poll(Duration::from_millis(200)) {
            let m = m.expect("rdkafka message");
            let headers = m
                .headers()
                .map(|h| h.iter().map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec())).collect())
                .unwrap_or_default();
            out.push((
                m.key().unwrap_or_default().to_vec(),
                m.payload().unwrap_or_default().to_vec(),
                headers,
                m.timestamp().to_millis().unwrap_or(-1),
            ));
        }
    }
    out
}

/// plainkafka's producer with every codec: each message is reported acknowledged at
/// consecutive offsets, and both plainkafka and librdkafka read back exactly what was written.
pub fn producer_round_trip_every_codec(b: &Broker) {
    for codec in CODECS {
        let name = new_topic(b, &format!("produce-{codec:?}").to_lowercase(), partitions_for(b));
        // Topics that tansu and the mock create on first use exist once metadata is asked for.
        let t = topic(b, &name);
        let mut p =
            t.producer().compression(codec).delivery_reports(true).min_queued_messages(300).build().expect("producer");
        let recs = producer_records(&format!("{codec:?}"), 1000);
        for r in &recs {
            p.produce(r.clone()).expect("produce");
        }
        p.flush(Duration::from_secs(60)).expect("flush");
        let mut offsets = Vec::new();
        while let Some(r) = p.get_delivery_report(None) {
            let d = r.result.expect("delivered");
            assert_eq!(d.partition, 0);
            offsets.push(d.offset.expect("acks=1 reports offsets"));
        }
        offsets.sort_unstable();
        assert_eq!(offsets, (0..1000).collect::<Vec<i64>>(), "{codec:?}");
        p.close(Duration::from_secs(10)).expect("close");

        let mut c = t.simple_consumer().partitions(&[0]).consumer_timeout(SHORT).build().expect("build");
        let got = read_n(&mut c, recs.len(), Duration::from_secs(30));
        for (m, r) in got.iter().zip(&recs) {
            assert_eq!((m.key(), m.value()), (r.key.as_deref(), r.value.as_deref()), "{codec:?}");
            assert_eq!(m.timestamp().map(|t| t.millis), r.timestamp);
            assert_eq!(m.headers()[0].value.as_deref(), Some(format!("{codec:?}").as_bytes()));
        }
        let theirs = rdkafka_read(b, &name, recs.len());
        for (m, r) in theirs.iter().zip(&recs) {
            assert_eq!(Some(&m.0), r.key.as_ref(), "{codec:?}: librdkafka reads our key");
            assert_eq!(Some(&m.1), r.value.as_ref());
            assert_eq!(m.2, vec![("tag".to_string(), format!("{codec:?}").into_bytes())]);
            assert_eq!(Some(m.3), r.timestamp);
        }
    }
}

/// `send` waits and returns the partition and offset; `sync_producer` makes `produce` wait.
pub fn sync_send_returns_offsets(b: &Broker) {
    let name = new_topic(b, "sync", partitions_for(b));
    let t = topic(b, &name);
    let p = t.producer().build().expect("producer");
    for i in 0..5 {
        let d = p.send(plainkafka::ProducerRecord::new(format!("s{i}")).partition(0)).expect("send");
        assert_eq!((d.partition, d.offset), (0, Some(i)));
    }
    let s = t.sync_producer().build().expect("producer");
    s.produce(plainkafka::ProducerRecord::new("after").partition(0)).expect("produce");
    assert_eq!(t.latest_available_offsets().expect("latest")[&0], 6, "written before produce returned");
}
