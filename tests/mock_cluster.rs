//! Against plainkafka's own MockCluster (3 brokers, in process): the scenarios every broker
//! runs, the group scenarios, and a test per fault hook in which plainkafka recovers.

#[macro_use]
mod common;

use common::scenarios::{self, read_n};
use common::{groups, init_logging, Broker, Kind};
use plainkafka::mock::MockCluster;
use plainkafka::protocol::error_code::ErrorCode;
use plainkafka::protocol::ApiKey;
use plainkafka::{KafkaClient, ProducerRecord};
use std::time::{Duration, Instant};

fn mock() -> (MockCluster, Broker) {
    init_logging();
    let m = MockCluster::builder().brokers(3).build().expect("mock cluster");
    let b = Broker { kind: Kind::Mock, version: "plainkafka mock".into(), bootstrap: m.bootstrap() };
    (m, b)
}

every_broker_scenario!(let (_m, b) = mock(); b);
group_scenarios!(let (_m, b) = mock(); b);

fn client(b: &Broker) -> KafkaClient {
    KafkaClient::builder(&b.bootstrap)
        .request_timeout(Duration::from_secs(5))
        .retry_backoff(Duration::from_millis(20))
        .build()
        .expect("connect")
}

/// Writes `n` values "{tag}-{i}" to partition 0 of `topic` with plainkafka's producer.
fn write(b: &Broker, topic: &str, tag: &str, n: usize) {
    let t = client(b).topic(topic).expect("topic");
    let p = t.producer().build().expect("producer");
    for i in 0..n {
        p.send(ProducerRecord::new(format!("{tag}-{i}")).partition(0)).expect("send");
    }
}

fn reader(b: &Broker, topic: &str) -> plainkafka::SimpleConsumer {
    client(b)
        .topic(topic)
        .expect("topic")
        .simple_consumer()
        .partitions(&[0])
        .consumer_timeout(Some(Duration::from_millis(200)))
        .build()
        .expect("consumer")
}

#[test]
fn fault_errors_on_every_api_are_retried() {
    let (m, b) = mock();
    m.create_topic("errs", 1);
    for (api, code) in [
        (ApiKey::Metadata, ErrorCode::LEADER_NOT_AVAILABLE),
        (ApiKey::Produce, ErrorCode::NOT_LEADER_OR_FOLLOWER),
        (ApiKey::ListOffsets, ErrorCode::REQUEST_TIMED_OUT),
        (ApiKey::Fetch, ErrorCode::NOT_LEADER_OR_FOLLOWER),
        (ApiKey::FindCoordinator, ErrorCode::COORDINATOR_NOT_AVAILABLE),
        (ApiKey::OffsetFetch, ErrorCode::COORDINATOR_LOAD_IN_PROGRESS),
    ] {
        m.fail_next(api, code, 2);
    }
    write(&b, "errs", "e", 20);
    let t = client(&b).topic("errs").expect("topic");
    let mut c =
        t.simple_consumer().consumer_group("g").consumer_timeout(Some(Duration::from_millis(200))).build().expect("c");
    let got = read_n(&mut c, 20, Duration::from_secs(30));
    assert_eq!(got.iter().map(|m| m.offset()).collect::<Vec<_>>(), (0..20).collect::<Vec<i64>>());
    m.fail_next(ApiKey::OffsetCommit, ErrorCode::NOT_COORDINATOR, 2);
    c.commit_offsets().expect("commit retried through the errors");
    assert_eq!(c.fetch_offsets().expect("fetch")[&0], Some(20));
}

#[test]
fn fault_delayed_responses_only_slow_things_down() {
    let (m, b) = mock();
    m.create_topic("slow", 1);
    write(&b, "slow", "s", 10);
    let leader = client(&b).topic("slow").expect("t").partitions()[0].leader.expect("leader");
    m.delay(leader, Duration::from_millis(300));
    let mut c = reader(&b, "slow");
    let start = Instant::now();
    assert_eq!(read_n(&mut c, 10, Duration::from_secs(30)).len(), 10);
    assert!(start.elapsed() >= Duration::from_millis(300), "the delay applied");
    m.delay(leader, Duration::ZERO);
}

#[test]
fn fault_a_connection_dropped_mid_response_is_reopened() {
    let (m, b) = mock();
    m.create_topic("cut", 1);
    write(&b, "cut", "c", 10);
    let mut c = reader(&b, "cut");
    m.drop_next_response(ApiKey::Fetch);
    m.drop_next_response(ApiKey::ListOffsets);
    let got = read_n(&mut c, 10, Duration::from_secs(30));
    assert_eq!(got.iter().map(|m| m.offset()).collect::<Vec<_>>(), (0..10).collect::<Vec<i64>>());
}

#[test]
fn fault_broker_down_then_up_and_a_leader_move() {
    let (m, b) = mock();
    m.create_topic("moves", 1);
    write(&b, "moves", "a", 10);
    let mut c = reader(&b, "moves");
    assert_eq!(read_n(&mut c, 10, Duration::from_secs(30)).len(), 10);
    let leader = client(&b).topic("moves").expect("t").partitions()[0].leader.expect("leader");
    // The leader goes down; the partition moves to another broker; the consumer follows.
    m.broker_down(leader);
    let other = if leader == 1 { 2 } else { 1 };
    assert!(m.move_leader("moves", 0, other));
    let p = client(&b).topic("moves").expect("t").producer().build().expect("producer");
    for i in 0..10 {
        p.send(ProducerRecord::new(format!("b-{i}")).partition(0)).expect("send to the new leader");
    }
    let got = read_n(&mut c, 10, Duration::from_secs(30));
    assert_eq!(got.first().map(|m| m.offset()), Some(10));
    m.broker_up(leader);
    m.move_leader("moves", 0, leader);
    p.send(ProducerRecord::new("c").partition(0)).expect("send after the leader came back");
    assert_eq!(read_n(&mut c, 1, Duration::from_secs(30))[0].offset(), 20);
}

#[test]
fn fault_coordinator_moves_and_the_group_follows() {
    let (m, b) = mock();
    m.create_topic("coord", 2);
    let member = groups::member(&b, "moving", "coord", plainkafka::Assignor::Range);
    common::wait_until("the member to be assigned", Duration::from_secs(30), || member.view().partitions.len() == 2);
    for broker in [1, 2, 3, 1] {
        m.move_coordinator("moving", broker);
        let want = member.seen.lock().unwrap().len() + 5;
        write(&b, "coord", &format!("to-{broker}"), 5);
        common::wait_until("messages after the move", Duration::from_secs(30), || {
            member.seen.lock().unwrap().len() >= want
        });
    }
    let t = client(&b).topic("coord").expect("topic");
    common::wait_until("commits after the moves", Duration::from_secs(30), || {
        t.committed_offsets("moving").is_ok_and(|c| c[&0] == Some(20))
    });
    member.leave();
}

#[test]
fn fault_restricted_versions_are_negotiated_down() {
    let (m, b) = mock();
    m.restrict_versions(ApiKey::Fetch, 4, 4);
    m.restrict_versions(ApiKey::Metadata, 1, 1);
    m.restrict_versions(ApiKey::Produce, 3, 3);
    m.create_topic("old", 1);
    write(&b, "old", "o", 5);
    let mut c = reader(&b, "old");
    assert_eq!(read_n(&mut c, 5, Duration::from_secs(30)).len(), 5);
    // A version range we don't speak at all is a clear error.
    m.restrict_versions(ApiKey::Fetch, 0, 3);
    let mut c = reader(&b, "old");
    let e = c.consume().expect_err("no common Fetch version");
    assert!(e.to_string().contains("Fetch"), "{e}");
}

#[test]
fn retention_moves_the_log_start_and_the_consumer_resets() {
    init_logging();
    let m = MockCluster::builder().retention_bytes(Some(4096)).build().expect("mock");
    let b = Broker { kind: Kind::Mock, version: "plainkafka mock".into(), bootstrap: m.bootstrap() };
    m.create_topic("short", 1);
    write(&b, "short", "r", 200);
    let t = client(&b).topic("short").expect("topic");
    let start = t.earliest_available_offsets().expect("earliest")[&0];
    assert!(start > 0, "old batches were dropped");
    let mut c = t
        .simple_consumer()
        .partitions(&[0])
        .reset_offset_on_start(true)
        .consumer_timeout(Some(Duration::from_millis(200)))
        .build()
        .expect("c");
    let got = scenarios::drain(&mut c);
    assert_eq!(got.first().map(|m| m.offset()), Some(start));
    assert_eq!(got.last().map(|m| m.offset()), Some(199));
}
