//! Against librdkafka's mock cluster (3 brokers, in process): what a real broker can't be made
//! to do on cue. Faults are injected through rdkafka's MockCluster API; librdkafka's producer
//! writes the data.

#[macro_use]
mod common;

use common::groups;
use common::scenarios::{self, drain, read_n, until_resolved};
use common::{init_logging, produce, Broker, Kind, TestMsg};
use plainkafka::{Error, OffsetReset, OffsetSpec, StartRule};
use rdkafka::mocking::MockCluster;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use std::time::Duration;

fn mock() -> (MockCluster<'static, rdkafka::producer::DefaultProducerContext>, Broker) {
    init_logging();
    let m = MockCluster::new(3).expect("mock cluster");
    let b = Broker { kind: Kind::RdkafkaMock, version: "librdkafka 2.12".into(), bootstrap: m.bootstrap_servers() };
    (m, b)
}

use common::scenarios::fast_client as client;

const SHORT: Option<Duration> = Some(Duration::from_millis(300));

// The mock must outlive the scenario: `_m` keeps it until the test ends.
every_broker_scenario!(let (_m, b) = mock(); b);
group_scenarios!(let (_m, b) = group_mock(); b);

/// The mock for group tests. Its handlers for the flexible versions of JoinGroup (v6),
/// SyncGroup (v4) and LeaveGroup (v3+, a members array) read arrays with the old encoding and
/// drop the connection; librdkafka's own consumer never sends those versions. So the mock
/// advertises only what it parses; real brokers get the newest versions.
fn group_mock() -> (MockCluster<'static, rdkafka::producer::DefaultProducerContext>, Broker) {
    let (m, b) = mock();
    for (api, max) in [(RDKafkaApiKey::JoinGroup, 5), (RDKafkaApiKey::SyncGroup, 3), (RDKafkaApiKey::LeaveGroup, 2)] {
        m.apiversion(api, Some(0), Some(max)).expect("restrict");
    }
    (m, b)
}

/// The committed offset fell out of the log (the mock keeps ~5 MiB per partition): the
/// consumer starts at the commit, gets OFFSET_OUT_OF_RANGE and applies auto_offset_reset.
#[test]
fn committed_offset_out_of_range_applies_auto_offset_reset() {
    let (m, b) = mock();
    m.create_topic("oor", 1, 1).expect("topic");
    produce(&b.bootstrap, "oor", (0..10).map(|i| TestMsg::value(0, format!("m-{i}"))), false);
    let t = client(&b).topic("oor").expect("topic");
    let mut c = t.simple_consumer().consumer_group("g").build().expect("build");
    read_n(&mut c, 5, Duration::from_secs(30));
    c.commit_offsets().expect("commit");
    drop(c);

    // ~8 MiB more: the mock drops the oldest segments and moves the log start past 5.
    let big = vec![b'x'; 64 * 1024];
    produce(&b.bootstrap, "oor", (0..128).map(|_| TestMsg::value(0, big.clone())), false);
    let log_start = t.earliest_available_offsets().expect("earliest")[&0];
    assert!(log_start > 5, "log start {log_start} must have moved past the commit");

    // reset_offset_on_fetch off: the error is yielded once and the partition pauses.
    let mut c = t
        .simple_consumer()
        .consumer_group("g")
        .reset_offset_on_fetch(false)
        .consumer_timeout(SHORT)
        .build()
        .expect("build");
    let first = c.consume();
    assert!(matches!(first, Err(Error::OffsetOutOfRange { partition: 0, offset: 5, .. })), "{first:?}");
    assert!(c.is_paused(0));
    assert!(drain(&mut c).is_empty(), "a paused partition yields nothing more");
    c.reset_offsets(&[(0, OffsetSpec::Earliest)]).expect("reset");
    assert_eq!(read_n(&mut c, 1, Duration::from_secs(30))[0].offset(), log_start);
    drop(c);

    // reset_offset_on_fetch on (the default): auto_offset_reset applies, logged and recorded.
    let mut c = t
        .simple_consumer()
        .consumer_group("g")
        .auto_offset_reset(OffsetReset::Earliest)
        .consumer_timeout(SHORT)
        .build()
        .expect("build");
    let got = read_n(&mut c, 1, Duration::from_secs(30));
    assert_eq!(got[0].offset(), log_start);
    let d = c.start_decisions()[&0].expect("resolved");
    assert_eq!((d.rule, d.offset), (StartRule::OutOfRange, log_start));
}

/// The leader moves while consuming: every message arrives once, in order.
#[test]
fn leader_moves_mid_consume() {
    let (m, b) = mock();
    m.create_topic("moving", 1, 3).expect("topic");
    m.partition_leader("moving", 0, Some(1)).expect("leader");
    produce(&b.bootstrap, "moving", (0..1000).map(|i| TestMsg::value(0, format!("{i}"))), false);
    let t = client(&b).topic("moving").expect("topic");
    let mut c = t.simple_consumer().consumer_timeout(SHORT).build().expect("build");
    let mut got = read_n(&mut c, 500, Duration::from_secs(30));
    m.partition_leader("moving", 0, Some(2)).expect("move leader");
    produce(&b.bootstrap, "moving", (1000..2000).map(|i| TestMsg::value(0, format!("{i}"))), false);
    m.partition_leader("moving", 0, Some(3)).expect("move leader");
    got.extend(read_n(&mut c, 1500, Duration::from_secs(60)));
    assert!(drain(&mut c).is_empty());
    let offsets: Vec<i64> = got.iter().map(|m| m.offset()).collect();
    assert_eq!(offsets, (0..2000).collect::<Vec<i64>>());
}

/// The leader's broker goes down and comes back: consumption resumes where it stopped.
#[test]
fn broker_down_then_up() {
    let (m, b) = mock();
    m.create_topic("flaky", 1, 1).expect("topic");
    m.partition_leader("flaky", 0, Some(2)).expect("leader");
    // One message per batch: a fetch returns whole batches, and one batch of 1000 would arrive
    // in the first fetch whatever its size limit.
    produce(&b.bootstrap, "flaky", (0..1000).map(|i| TestMsg::value(0, format!("{i}"))), true);
    let t = client(&b).topic("flaky").expect("topic");
    // Small fetches and a small queue, so that most of the log is still on the broker when it
    // goes down.
    let mut c = t
        .simple_consumer()
        .fetch_message_max_bytes(2048)
        .queued_max_messages(20)
        .consumer_timeout(SHORT)
        .build()
        .expect("build");
    let mut got = read_n(&mut c, 300, Duration::from_secs(30));
    m.broker_down(2).expect("down");
    // Whatever was queued before the broker went away still arrives; then nothing.
    got.extend(drain(&mut c));
    assert!(got.len() < 1000, "the broker went down before everything was fetched");
    m.broker_up(2).expect("up");
    let rest = 1000 - got.len();
    got.extend(read_n(&mut c, rest, Duration::from_secs(60)));
    let offsets: Vec<i64> = got.iter().map(|m| m.offset()).collect();
    assert_eq!(offsets, (0..1000).collect::<Vec<i64>>());
}

/// Retriable errors on every API the consumer uses are retried; the result is exact.
#[test]
fn retriable_errors_on_every_api_are_retried() {
    let (m, b) = mock();
    m.create_topic("errs", 1, 1).expect("topic");
    produce(&b.bootstrap, "errs", (0..100).map(|i| TestMsg::value(0, format!("{i}"))), false);
    let t = client(&b).topic("errs").expect("topic");
    m.request_errors(
        RDKafkaApiKey::Metadata,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT],
    );
    m.request_errors(
        RDKafkaApiKey::OffsetFetch,
        &[
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
        ],
    );
    m.request_errors(
        RDKafkaApiKey::ListOffsets,
        &[
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
        ],
    );
    m.request_errors(
        RDKafkaApiKey::Fetch,
        &[
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
        ],
    );
    let mut c = t.simple_consumer().consumer_group("g").consumer_timeout(SHORT).build().expect("build");
    let got = read_n(&mut c, 100, Duration::from_secs(60));
    assert_eq!(got.iter().map(|m| m.offset()).collect::<Vec<_>>(), (0..100).collect::<Vec<i64>>());
    m.request_errors(
        RDKafkaApiKey::OffsetCommit,
        &[
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        ],
    );
    c.commit_offsets().expect("commit retried through the errors");
    m.request_errors(RDKafkaApiKey::OffsetFetch, &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE]);
    assert_eq!(c.fetch_offsets().expect("fetch")[&0], Some(100));
}

/// A non-retriable error reaches the application with its context, once.
#[test]
fn non_retriable_fetch_error_is_reported_with_context() {
    let (m, b) = mock();
    m.create_topic("denied", 1, 1).expect("topic");
    produce(&b.bootstrap, "denied", (0..10).map(|i| TestMsg::value(0, format!("{i}"))), false);
    let t = client(&b).topic("denied").expect("topic");
    let mut c = t.simple_consumer().consumer_timeout(SHORT).build().expect("build");
    until_resolved(&mut c);
    drop(c);
    m.request_errors(RDKafkaApiKey::Fetch, &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED]);
    let mut c = t.simple_consumer().consumer_timeout(SHORT).build().expect("build");
    let e = c.consume().expect_err("authorization failure");
    let text = e.to_string();
    assert!(
        text.contains("TOPIC_AUTHORIZATION_FAILED") && text.contains("denied/0") && text.contains("Fetch"),
        "{text}"
    );
    assert!(c.is_paused(0));
}

/// APIs restricted to what Kafka 4.0 still accepts (KIP-896 minimums).
#[test]
fn kafka_4_minimum_versions() {
    let (m, b) = mock();
    for (api, min) in [
        (RDKafkaApiKey::Produce, 3),
        (RDKafkaApiKey::Fetch, 4),
        (RDKafkaApiKey::ListOffsets, 1),
        (RDKafkaApiKey::OffsetCommit, 2),
        (RDKafkaApiKey::OffsetFetch, 1),
    ] {
        // Raise the floor, keep the mock's own ceiling.
        let max = match api {
            RDKafkaApiKey::Produce => 10,
            RDKafkaApiKey::Fetch => 16,
            RDKafkaApiKey::ListOffsets => 7,
            RDKafkaApiKey::OffsetCommit => 9,
            _ => 6,
        };
        m.apiversion(api, Some(min), Some(max)).expect("restrict");
    }
    scenarios::guide_three_consumers(&b);
    scenarios::rdkafka_data_exact(&b);
}

/// APIs restricted to Kafka 1.0's maximum versions. Produce is left alone: librdkafka's own
/// producer fails against its mock with Produce capped at v5 ("Read underflow", seen here), and
/// the data here is written by librdkafka.
#[test]
fn kafka_1_0_maximum_versions() {
    let (m, b) = mock();
    for (api, max) in [
        (RDKafkaApiKey::Fetch, 6),
        (RDKafkaApiKey::ListOffsets, 2),
        (RDKafkaApiKey::Metadata, 5),
        (RDKafkaApiKey::OffsetCommit, 3),
        (RDKafkaApiKey::OffsetFetch, 3),
        (RDKafkaApiKey::FindCoordinator, 1),
        (RDKafkaApiKey::ApiVersion, 1),
    ] {
        m.apiversion(api, Some(0), Some(max)).expect("restrict");
    }
    scenarios::guide_three_consumers(&b);
    scenarios::rdkafka_data_exact(&b);
}

/// Partitions led by three brokers, read by one fetcher thread and by several: everything
/// arrives once, in order per partition.
#[test]
fn fetchers_across_brokers() {
    let (m, b) = mock();
    m.create_topic("spread", 6, 3).expect("topic");
    for p in 0..6 {
        m.partition_leader("spread", p, Some(p % 3 + 1)).expect("leader");
    }
    produce(&b.bootstrap, "spread", (0..3000).map(|i| TestMsg::value(i % 6, format!("{i}"))), false);
    let t = client(&b).topic("spread").expect("topic");
    for fetchers in [1, 2, 3] {
        let mut c = t.simple_consumer().num_consumer_fetchers(fetchers).consumer_timeout(SHORT).build().expect("build");
        let got = read_n(&mut c, 3000, Duration::from_secs(60));
        assert!(drain(&mut c).is_empty());
        for p in 0..6 {
            let offsets: Vec<i64> = got.iter().filter(|m| m.partition() == p).map(|m| m.offset()).collect();
            assert_eq!(offsets, (0..500).collect::<Vec<i64>>(), "partition {p} with {fetchers} fetchers");
        }
    }
}

/// Auto-commit commits while consuming (once the interval passes) and when the consumer stops.
#[test]
fn auto_commit_commits_periodically_and_on_stop() {
    let (m, b) = mock();
    m.create_topic("auto", 1, 1).expect("topic");
    produce(&b.bootstrap, "auto", (0..100).map(|i| TestMsg::value(0, format!("{i}"))), false);
    let t = client(&b).topic("auto").expect("topic");
    let mut c = t
        .simple_consumer()
        .consumer_group("auto-g")
        .auto_commit_enable(true)
        .auto_commit_interval(Duration::from_millis(200))
        .consumer_timeout(SHORT)
        .build()
        .expect("build");
    let mut consumed = read_n(&mut c, 40, Duration::from_secs(30)).len() as i64;
    // A consume after the interval commits what was consumed before it.
    common::wait_until("an auto-commit", Duration::from_secs(10), || {
        if c.consume().expect("consume").is_some() {
            consumed += 1;
        }
        t.committed_offsets("auto-g").expect("committed")[&0].is_some()
    });
    let first = t.committed_offsets("auto-g").expect("committed")[&0].expect("committed");
    assert!((40..=consumed).contains(&first), "committed {first} after consuming {consumed}");
    read_n(&mut c, (100 - consumed) as usize, Duration::from_secs(30));
    drop(c);
    assert_eq!(t.committed_offsets("auto-g").expect("committed")[&0], Some(100), "committed on stop");
}

/// A broker whose Fetch range doesn't meet ours: a clear error naming the API and both ranges.
#[test]
fn no_common_fetch_version_is_a_clear_error() {
    let (m, b) = mock();
    m.create_topic("old", 1, 1).expect("topic");
    produce(&b.bootstrap, "old", (0..3).map(|i| TestMsg::value(0, format!("{i}"))), false);
    m.apiversion(RDKafkaApiKey::Fetch, Some(0), Some(3)).expect("restrict");
    let t = client(&b).topic("old").expect("topic");
    let mut c = t.simple_consumer().consumer_timeout(SHORT).build().expect("build");
    let e = c.consume().expect_err("no common Fetch version");
    assert!(matches!(e, Error::NoCommonVersion { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("Fetch v0–v3") && text.contains("plainkafka speaks v4–v17"), "{text}");
    assert!(c.is_paused(0));
}

/// An idempotent producer while the leader moves and Produce fails with retriable errors:
/// every message is acknowledged, and the partition holds each exactly once, in order.
#[test]
fn idempotent_producer_through_leader_moves_and_errors() {
    use plainkafka::ProducerRecord;
    let (m, b) = mock();
    m.create_topic("faulty", 1, 3).expect("topic");
    m.partition_leader("faulty", 0, Some(1)).expect("leader");
    let t = client(&b).topic("faulty").expect("topic");
    let p = t
        .producer()
        .enable_idempotence(true)
        .delivery_reports(true)
        .max_retries(30)
        .retry_backoff(Duration::from_millis(20))
        .min_queued_messages(100)
        .build()
        .expect("producer");
    let errors = [
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
    ];
    for i in 0..3000 {
        if i == 1000 {
            m.request_errors(RDKafkaApiKey::Produce, &errors);
            m.partition_leader("faulty", 0, Some(2)).expect("move leader");
        }
        if i == 2000 {
            m.partition_leader("faulty", 0, Some(3)).expect("move leader");
            m.request_errors(RDKafkaApiKey::Produce, &errors);
        }
        p.produce(ProducerRecord::new(format!("{i}"))).expect("produce");
    }
    p.flush(Duration::from_secs(60)).expect("flush");
    let mut acked = 0;
    while let Some(r) = p.get_delivery_report(None) {
        r.result.expect("every message acknowledged");
        acked += 1;
    }
    assert_eq!(acked, 3000);
    drop(p);
    let mut c = t.simple_consumer().consumer_timeout(SHORT).build().expect("build");
    let got = read_n(&mut c, 3000, Duration::from_secs(60));
    assert!(drain(&mut c).is_empty(), "nothing written twice");
    let values: Vec<String> =
        got.iter().map(|m| String::from_utf8_lossy(m.value().unwrap_or_default()).into_owned()).collect();
    assert_eq!(values, (0..3000).map(|i| i.to_string()).collect::<Vec<_>>(), "each once, in order");
}

/// A non-retriable Produce error reaches `send` and the delivery reports with its context.
#[test]
fn producer_reports_non_retriable_errors() {
    use plainkafka::ProducerRecord;
    let (m, b) = mock();
    m.create_topic("rejects", 1, 1).expect("topic");
    let t = client(&b).topic("rejects").expect("topic");
    let p = t.producer().delivery_reports(true).build().expect("producer");
    m.request_errors(RDKafkaApiKey::Produce, &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE]);
    let e = p.send(ProducerRecord::new("x")).expect_err("rejected");
    let text = e.to_string();
    assert!(text.contains("MESSAGE_TOO_LARGE") && text.contains("rejects/0") && text.contains("Produce"), "{text}");
    // The next one goes through.
    assert_eq!(p.send(ProducerRecord::new("y")).expect("send").offset, Some(0));
}

/// Partitions led by three brokers, one sender thread each: every keyed message lands where
/// murmur2 puts it, each once, in order per partition.
#[test]
fn producer_across_brokers() {
    use plainkafka::producer::partitioner::murmur2_partition;
    use plainkafka::ProducerRecord;
    let (m, b) = mock();
    m.create_topic("fanout", 6, 3).expect("topic");
    for p in 0..6 {
        m.partition_leader("fanout", p, Some(p % 3 + 1)).expect("leader");
    }
    let t = client(&b).topic("fanout").expect("topic");
    let mut p = t.producer().delivery_reports(true).build().expect("producer");
    for i in 0..6000 {
        p.produce(ProducerRecord::new(format!("{i}")).key(format!("k{}", i % 600))).expect("produce");
    }
    p.close(Duration::from_secs(60)).expect("close");
    let mut reports = 0;
    for r in p.delivery_reports() {
        let d = r.result.expect("acknowledged");
        assert_eq!(d.partition, murmur2_partition(r.record.key.as_deref().expect("key"), 6));
        reports += 1;
    }
    assert_eq!(reports, 6000);
    let mut c = t.simple_consumer().consumer_timeout(SHORT).build().expect("build");
    let got = read_n(&mut c, 6000, Duration::from_secs(60));
    assert!(drain(&mut c).is_empty());
    for part in 0..6 {
        let vals: Vec<i64> = got
            .iter()
            .filter(|m| m.partition() == part)
            .map(|m| String::from_utf8_lossy(m.value().unwrap_or_default()).parse().expect("number"))
            .collect();
        assert!(vals.windows(2).all(|w| w[0] < w[1]), "partition {part} in produce order");
    }
}

/// A group member rides out what a coordinator can throw at it: errors on join and sync, a
/// rebalance announced by heartbeat, a commit fenced by a newer generation, and the coordinator
/// moving to another broker. None of it reaches the application; every message is read once
/// and the group's commits end at the end of the log.
#[test]
fn group_member_recovers_from_coordinator_faults() {
    use rdkafka::mocking::MockCoordinator;
    use RDKafkaRespErr::*;
    let (m, b) = group_mock();
    m.create_topic("gfaults", 2, 1).expect("topic");
    let group = "faulty-group";
    m.coordinator(MockCoordinator::Group(group.into()), 1).expect("coordinator");
    m.request_errors(RDKafkaApiKey::FindCoordinator, &[RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE]);
    m.request_errors(
        RDKafkaApiKey::JoinGroup,
        &[RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, RD_KAFKA_RESP_ERR_NOT_COORDINATOR],
    );
    m.request_errors(RDKafkaApiKey::SyncGroup, &[RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS]);
    produce(&b.bootstrap, "gfaults", (0..100).map(|i| TestMsg::value(i % 2, format!("f-{i}"))), false);
    let one = groups::member(&b, group, "gfaults", plainkafka::Assignor::Range);
    let read = |n: usize| {
        common::wait_until(&format!("{n} messages read"), Duration::from_secs(60), || {
            one.seen.lock().unwrap().len() >= n
        })
    };
    read(100);
    let first = one.view().generation;

    // The coordinator announces a rebalance: the member rejoins and reads on.
    m.request_errors(RDKafkaApiKey::Heartbeat, &[RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS]);
    common::wait_until("a rejoin", Duration::from_secs(30), || one.view().generation > first);
    // A commit refused as from an old generation: a rejoin, not an error.
    let second = one.view().generation;
    m.request_errors(RDKafkaApiKey::OffsetCommit, &[RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION]);
    produce(&b.bootstrap, "gfaults", (100..200).map(|i| TestMsg::value(i % 2, format!("f-{i}"))), false);
    read(200);
    common::wait_until("a rejoin after the fenced commit", Duration::from_secs(30), || one.view().generation > second);
    // The coordinator moves: heartbeats get NOT_COORDINATOR and the member finds the new one.
    m.coordinator(MockCoordinator::Group(group.into()), 2).expect("move coordinator");
    produce(&b.bootstrap, "gfaults", (200..300).map(|i| TestMsg::value(i % 2, format!("f-{i}"))), false);
    read(300);
    let t = client(&b).topic("gfaults").expect("topic");
    common::wait_until("commits to reach the end", Duration::from_secs(30), || {
        t.committed_offsets(group).is_ok_and(|c| c.values().all(|o| *o == Some(150)))
    });
    let seen = one.seen.lock().unwrap().clone();
    let distinct: std::collections::BTreeSet<&String> = seen.iter().collect();
    assert_eq!(distinct.len(), 300);
    assert_eq!(seen.len(), 300, "nothing read twice: commits before each rejoin kept the place");
    one.leave();
}
