//! Statistics snapshots and their periodic callback, on plainkafka's MockCluster: what the
//! producer sent, where each partition of a consumer stands, a group member's rebalances, and
//! the brokers' traffic.
#![cfg(feature = "mock")]

#[allow(dead_code)]
#[path = "support/bounded.rs"]
mod bounded;

use plainkafka::mock::MockCluster;
use plainkafka::stats::{ConsumerStats, ProducerStats};
use plainkafka::{KafkaClient, OffsetReset, ProducerRecord};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn record(p: i32, i: usize) -> ProducerRecord {
    let mut r = ProducerRecord::new(format!("value {i}")).key(format!("k{i}"));
    r.partition = Some(p);
    r
}

#[test]
fn snapshots_say_what_was_sent_where_each_partition_stands_and_how_brokers_answered() {
    bounded::watch_this_test();
    let mock = MockCluster::builder().brokers(2).build().expect("mock");
    mock.create_topic("st", 2);
    let client = KafkaClient::new(&mock.bootstrap()).expect("client");
    let topic = client.topic("st").expect("topic");

    // The producer's callback gets snapshots while it produces.
    let seen: Arc<Mutex<Vec<ProducerStats>>> = Arc::default();
    let sink = Arc::clone(&seen);
    let producer = topic
        .producer()
        .statistics_interval(Duration::from_millis(1))
        .on_statistics(move |s| sink.lock().unwrap().push(s.clone()))
        .build()
        .expect("producer");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut sent = 0;
    while seen.lock().unwrap().is_empty() || sent < 10 {
        assert!(Instant::now() < deadline, "no statistics reached the callback");
        producer.send(record(0, sent)).expect("send");
        sent += 1;
    }
    producer.flush(Duration::from_secs(10)).expect("flush");
    let p = producer.stats();
    assert_eq!((p.records, p.failed, p.queued_messages, p.batch_retries), (sent as u64, 0, 0, 0), "{p:?}");
    assert!(p.batches >= 1 && p.batches <= sent as u64, "{p:?}");
    assert!(p.average_fill > 0.0 && p.average_fill <= 1.0, "{p:?}");
    let leader = p.brokers.iter().find(|b| b.requests > 1).expect("the leader was written to");
    assert!(leader.node.is_some() && leader.bytes_sent > 0 && leader.bytes_received > 0, "{leader:?}");
    let rtt = leader.rtt.expect("round trips were timed");
    assert!(rtt.samples >= 1 && rtt.p50 <= rtt.p99 && rtt.p99 <= rtt.max, "{rtt:?}");
    assert!(p.to_json().starts_with("{\"type\":\"producer\","));

    // A consumer that read everything: at the end of partition 0, and of the empty partition 1.
    let snaps: Arc<Mutex<Vec<ConsumerStats>>> = Arc::default();
    let sink = Arc::clone(&snaps);
    let mut consumer = topic
        .simple_consumer()
        .consumer_group("st-group")
        .auto_offset_reset(OffsetReset::Earliest)
        .consumer_timeout(Some(Duration::from_millis(50)))
        .statistics_interval(Duration::from_millis(1))
        .on_statistics(move |s| sink.lock().unwrap().push(s.clone()))
        .build()
        .expect("consumer");
    let mut read = 0;
    while read < sent {
        assert!(Instant::now() < deadline, "read {read} of {sent}");
        read += consumer.consume().expect("consume").is_some() as usize;
    }
    consumer.commit_offsets().expect("commit");
    let at_end = |s: &ConsumerStats| s.partitions.iter().all(|p| p.at_end());
    while !at_end(&consumer.stats()) {
        assert!(Instant::now() < deadline, "never at the end: {:?}", consumer.stats());
        assert!(consumer.consume().expect("consume").is_none());
    }
    let c = consumer.stats();
    assert_eq!(c.messages, sent as u64);
    let p0 = &c.partitions[0];
    let end = Some(sent as i64);
    assert_eq!((p0.position, p0.committed, p0.high_watermark, p0.lag), (end, end, end, Some(0)), "{p0:?}");
    let p1 = &c.partitions[1];
    assert_eq!((p1.position, p1.high_watermark, p1.lag, p1.committed), (Some(0), Some(0), Some(0), None), "{p1:?}");
    assert!(!snaps.lock().unwrap().is_empty(), "the consumer's callback ran inside consume");

    // A group member counts its rebalance.
    let mut member = client
        .balanced_consumer("st-members", &["st"])
        .consumer_timeout(Some(Duration::from_millis(50)))
        .build()
        .expect("member");
    while member.consume().expect("consume").is_none() {
        assert!(Instant::now() < deadline, "the member never read");
    }
    let m = member.stats();
    assert_eq!(m.rebalances.count, 1, "{m:?}");
    assert!(m.rebalances.last.is_some_and(|d| d <= m.rebalances.total));
    assert_eq!(m.messages, 1);
    assert_eq!(m.partitions.len(), 2, "both partitions are this lone member's");
}

#[test]
fn an_interval_without_a_callback_is_a_configuration_error() {
    bounded::watch_this_test();
    let mock = MockCluster::new().expect("mock");
    mock.create_topic("none", 1);
    let topic = KafkaClient::new(&mock.bootstrap()).expect("client").topic("none").expect("topic");
    let e = topic.simple_consumer().set("statistics.interval.ms", "100").unwrap().build().unwrap_err();
    assert!(e.to_string().contains("no on_statistics callback"), "{e}");
    let e = topic.producer().statistics_interval(Duration::from_secs(1)).build().unwrap_err();
    assert!(e.to_string().contains("no on_statistics callback"), "{e}");
}
