//! Against plainkafka's own MockCluster (3 brokers, in process): the scenarios every broker
//! runs, the group scenarios, and a test per fault hook in which plainkafka recovers.

#[macro_use]
mod common;

use common::scenarios::{self, read_n};
use common::{groups, init_logging, share, transactions, Broker, Kind};
use plainkafka::mock::{Control, MockCluster};
use plainkafka::ApiKey;
use plainkafka::ErrorCode;
use plainkafka::ProducerRecord;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn mock() -> (MockCluster, Broker) {
    init_logging();
    let m = MockCluster::builder().brokers(3).build().expect("mock cluster");
    let b = Broker { kind: Kind::Mock, version: "plainkafka mock".into(), bootstrap: m.bootstrap() };
    (m, b)
}

every_broker_scenario!(let (_m, b) = mock(); b);
group_scenarios!(let (_m, b) = mock(); b);
transaction_scenarios!(let (_m, b) = mock(); b);
share_scenarios!(let (_m, b) = mock(); b);

use common::scenarios::fast_client as client;

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
fn control_hooks_see_each_request_and_decide_its_fate() {
    let (m, b) = mock();
    m.create_topic("hooked", 1);
    write(&b, "hooked", "h", 10);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let watch = m.control(None, move |r| {
        log.lock().unwrap().push((r.broker, r.api, r.version));
        Control::Pass
    });
    // One ListOffsets loses its connection; every Fetch is slowed; the first Fetch is refused
    // as out of range, which this consumer must report rather than reset.
    let close = m.control_times(Some(ApiKey::ListOffsets), 1, |_| Control::Close);
    let slow = m.control(Some(ApiKey::Fetch), |_| Control::Delay(Duration::from_millis(5)));
    m.control_times(Some(ApiKey::Fetch), 1, |_| Control::Fail(ErrorCode::OFFSET_OUT_OF_RANGE));
    let mut c = client(&b)
        .topic("hooked")
        .expect("topic")
        .simple_consumer()
        .partitions(&[0])
        .reset_offset_on_fetch(false)
        .consumer_timeout(Some(Duration::from_secs(30)))
        .build()
        .expect("consumer");
    let first = c.consume();
    assert!(matches!(first, Err(plainkafka::Error::OffsetOutOfRange { partition: 0, offset: 0, .. })), "{first:?}");
    c.reset_offsets(&[(0, plainkafka::OffsetSpec::Earliest)]).expect("reset");
    let got = read_n(&mut c, 10, Duration::from_secs(30));
    assert_eq!(got.iter().map(|m| m.offset()).collect::<Vec<_>>(), (0..10).collect::<Vec<i64>>());
    let list_offsets = seen.lock().unwrap().iter().filter(|(_, api, _)| *api == ApiKey::ListOffsets).count();
    // Earliest and latest for the start, again for the reset, plus the one whose connection
    // closed and was retried.
    assert!(list_offsets >= 5, "ListOffsets seen {list_offsets} times");
    assert!(seen.lock().unwrap().iter().all(|(broker, _, _)| (1..=3).contains(broker)));
    assert!(!m.remove_control(close), "a hook is gone once used up");
    assert!(m.remove_control(slow));
    assert!(m.remove_control(watch));
    // (The consumer's fetcher may still be inside a Fetch that met the hook before it went.)
    let produces = || seen.lock().unwrap().iter().filter(|(_, api, _)| *api == ApiKey::Produce).count();
    let before = produces();
    write(&b, "hooked", "after", 1);
    assert_eq!(produces(), before, "a removed hook sees nothing");
}

#[test]
fn dropping_the_cluster_closes_every_connection_and_waits_for_its_thread() {
    use std::io::Read;
    init_logging();
    let m = MockCluster::builder().brokers(2).build().expect("mock cluster");
    let addrs: Vec<String> = m.bootstrap().split(',').map(str::to_string).collect();
    let mut idle: Vec<std::net::TcpStream> =
        (0..3).map(|i| std::net::TcpStream::connect(&addrs[i % 2]).expect("connect")).collect();
    common::wait_until("three connections served", Duration::from_secs(10), || m.connections_open() == 3);
    let start = Instant::now();
    drop(m);
    assert!(start.elapsed() < Duration::from_secs(5), "drop took {:?}", start.elapsed());
    for s in &mut idle {
        s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        let mut buf = [0u8; 1];
        assert_eq!(s.read(&mut buf).expect("closed, not timed out"), 0, "the broker closed the connection");
    }
}

#[test]
fn settings_that_would_overflow_are_clear_errors() {
    let (m, b) = mock();
    m.create_topic("limits", 1);
    let t = client(&b).topic("limits").expect("topic");
    let small = t.producer().max_request_size(100).build();
    assert!(matches!(&small, Err(plainkafka::Error::Config(m)) if m.contains("max_request_size")), "{small:?}");
    // Retrying forever is a choice, not an overflow: send still waits for its answer.
    let p = t.producer().max_retries(u32::MAX).build().expect("producer");
    assert_eq!(p.send(ProducerRecord::new("x").partition(0)).expect("send").offset, Some(0));
    let wrap = MockCluster::builder().brokers(3).port(65535).build();
    assert!(matches!(&wrap, Err(plainkafka::Error::Config(m)) if m.contains("65535")), "{:?}", wrap.err());
    let life = plainkafka::KafkaClient::builder(&b.bootstrap)
        .set("sasl.oauthbearer.config", &format!("principal=a lifeSeconds={}", u64::MAX));
    assert!(matches!(life, Err(plainkafka::Error::Config(_))));
    // A CreateTopics asking for a billion partitions is refused, not allocated (the fuzzer's
    // first find: 11 GB).
    let huge = client(&b).create_topic("huge", 1 << 30, -1);
    assert!(matches!(&huge, Err(e) if e.code() == Some(ErrorCode::INVALID_PARTITIONS)), "{huge:?}");
    let tiny = MockCluster::builder().max_request_size(4).build();
    assert!(matches!(&tiny, Err(plainkafka::Error::Config(m)) if m.contains("max_request_size")), "{:?}", tiny.err());
}

/// A request past the mock's `max_request_size` closes the connection at its size prefix;
/// smaller ones are served.
#[test]
fn the_mock_closes_a_connection_whose_request_is_too_large() {
    use std::io::{Read, Write};
    init_logging();
    let m = MockCluster::builder().max_request_size(64 * 1024).build().expect("mock");
    let addr = m.bootstrap();
    let mut s = std::net::TcpStream::connect(&addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&(1i32 << 30).to_be_bytes()).unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(s.read(&mut buf).expect("closed, not timed out"), 0);
    let b = Broker { kind: Kind::Mock, version: "plainkafka mock".into(), bootstrap: addr };
    let t = client(&b).topic("big").expect("topic");
    // The closed connection is retried like any other, until the delivery timeout.
    // Uncompressed, so the big record's request is as big as the record.
    let p = t
        .producer()
        .compression(plainkafka::Compression::None)
        .delivery_timeout(Duration::from_secs(3))
        .build()
        .expect("producer");
    p.send(ProducerRecord::new("x".repeat(1000)).partition(0)).expect("a small request is served");
    let big = p.send(ProducerRecord::new("x".repeat(100 * 1024)).partition(0));
    assert!(big.is_err(), "{big:?}");
}

/// A round of many partitions' batches goes in requests within `max_request_size` (the mock
/// closes a connection whose request is larger, so one request per round would never be
/// delivered), spread over several connections to each broker; every partition's messages
/// arrive, each once and in order.
#[test]
fn a_round_goes_in_requests_within_the_size_limit_over_several_connections() {
    init_logging();
    let m = MockCluster::builder().brokers(2).max_request_size(64 * 1024).build().expect("mock");
    let b = Broker { kind: Kind::Mock, version: "plainkafka mock".into(), bootstrap: m.bootstrap() };
    m.create_topic("rounds", 12);
    let t = client(&b).topic("rounds").expect("topic");
    let p = t
        .producer()
        .max_request_size(60_000)
        // Uncompressed: the sizes on the wire are the records' own.
        .compression(plainkafka::Compression::None)
        .connections_per_broker(3)
        // Long enough for every partition's batch to be ready in the same round.
        .linger(Duration::from_millis(200))
        .delivery_timeout(Duration::from_secs(30))
        .build()
        .expect("producer");
    // 50 KB a partition: one batch each, none complete before the linger ends.
    let (partitions, per_partition) = (12, 50);
    for i in 0..per_partition {
        for part in 0..partitions {
            let value = format!("{part:02}-{i:04}-{}", "x".repeat(1000));
            p.produce(ProducerRecord::new(value).partition(part)).expect("queued");
        }
    }
    p.flush(Duration::from_secs(60)).expect("every message delivered");
    // One request per broker would have been refused (connection closed) and retried.
    assert_eq!(p.stats().batch_retries, 0, "no request past the size limit");
    let mut c = t.simple_consumer().consumer_timeout(Some(Duration::from_millis(200))).build().expect("consumer");
    let got = read_n(&mut c, (partitions * per_partition) as usize, Duration::from_secs(60));
    for part in 0..partitions {
        let values: Vec<String> = got
            .iter()
            .filter(|m| m.partition() == part)
            .map(|m| String::from_utf8_lossy(&m.value().expect("value")[..7]).into_owned())
            .collect();
        let want: Vec<String> = (0..per_partition).map(|i| format!("{part:02}-{i:04}")).collect();
        assert_eq!(values, want, "partition {part}: each message once, in order");
    }
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
    // (9 is no broker: the coordinator is unavailable until it moves again.)
    for broker in [1, 2, 9, 3, 1] {
        m.move_coordinator("moving", broker);
        let want = member.seen.lock().unwrap().len() + 5;
        write(&b, "coord", &format!("to-{broker}"), 5);
        common::wait_until("messages after the move", Duration::from_secs(30), || {
            member.seen.lock().unwrap().len() >= want
        });
    }
    let t = client(&b).topic("coord").expect("topic");
    common::wait_until("commits after the moves", Duration::from_secs(30), || {
        t.committed_offsets("moving").is_ok_and(|c| c[&0] == Some(25))
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

fn guide_values(r: std::ops::Range<usize>) -> Vec<String> {
    r.map(|i| format!("message {i}")).collect()
}

/// The guide's three consumers, with librdkafka as producer and consumers, against the mock:
/// a new group at `latest` reads only what comes after it and commits; the same group resumes
/// from the commit; a consumer told to ignore commits reads from the earliest offset.
#[test]
fn librdkafka_runs_the_guide_against_the_mock() {
    use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
    use rdkafka::{Message as _, Offset, TopicPartitionList};
    let (m, b) = mock();
    m.create_topic("guide-rd", 1);
    let send = |r: std::ops::Range<usize>| {
        common::produce(
            &b.bootstrap,
            "guide-rd",
            guide_values(r).into_iter().map(|v| common::TestMsg::value(0, v)),
            false,
        )
    };
    let consumer = |reset: &str, group: &str| -> BaseConsumer {
        rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &b.bootstrap)
            .set("group.id", group)
            .set("auto.offset.reset", reset)
            .set("enable.auto.commit", "false")
            .create()
            .expect("rdkafka consumer")
    };
    let read = |c: &BaseConsumer, n: usize| -> Vec<String> {
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while out.len() < n {
            assert!(Instant::now() < deadline, "read {out:?}, wanted {n}");
            if let Some(r) = c.poll(Duration::from_millis(100)) {
                let msg = r.expect("message");
                out.push(String::from_utf8_lossy(msg.payload().unwrap_or_default()).into_owned());
            }
        }
        out
    };
    send(0..5);
    // 1: latest on a new group. Once the mock has answered its ListOffsets(latest), its
    // position is 5 whatever is written next.
    let c1 = consumer("latest", "guide-group");
    c1.subscribe(&["guide-rd"]).expect("subscribe");
    let looked_up = m.requests_served(ApiKey::ListOffsets);
    let deadline = Instant::now() + Duration::from_secs(30);
    while m.requests_served(ApiKey::ListOffsets) == looked_up {
        assert!(Instant::now() < deadline, "consumer 1 never looked its start up");
        assert!(c1.poll(Duration::from_millis(50)).is_none(), "nothing old is read");
    }
    send(5..8);
    assert_eq!(read(&c1, 3), guide_values(5..8));
    c1.commit_consumer_state(CommitMode::Sync).expect("commit");
    drop(c1);
    // 2: the same group resumes from the commit.
    send(8..10);
    let c2 = consumer("latest", "guide-group");
    c2.subscribe(&["guide-rd"]).expect("subscribe");
    assert_eq!(read(&c2, 2), guide_values(8..10));
    drop(c2);
    // 3: earliest, ignoring the commit (reset_offset_on_start): everything.
    let c3 = consumer("earliest", "guide-group");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("guide-rd", 0, Offset::Beginning).expect("tpl");
    c3.assign(&tpl).expect("assign");
    assert_eq!(read(&c3, 10), guide_values(0..10));
    // And plainkafka sees the group's commit where librdkafka left it.
    let t = client(&b).topic("guide-rd").expect("topic");
    assert_eq!(t.committed_offsets("guide-group").expect("committed")[&0], Some(8));
}

/// The same with Kafka's own console producer and console consumer (the Java client).
#[test]
fn java_console_clients_run_the_guide_against_the_mock() {
    use std::io::BufRead;
    let version = "4.4.0";
    common::kafka_jars(version);
    let (m, b) = mock();
    m.create_topic("guide-java", 1);
    let java = |class: &str| {
        let mut c = std::process::Command::new("java");
        c.args(["-Xmx256m", "-cp", &common::kafka_classpath(version), class]);
        c
    };
    let send = |r: std::ops::Range<usize>| {
        let lines: String = guide_values(r).into_iter().map(|v| v + "\n").collect();
        common::kafka_tool(
            version,
            "org.apache.kafka.tools.ConsoleProducer",
            &["--bootstrap-server", &b.bootstrap, "--topic", "guide-java"],
            Some(&lines),
        );
    };
    // A console consumer in the background, its messages collected as they arrive.
    let spawn = |extra: &[&str]| {
        let mut child = java("org.apache.kafka.tools.consumer.ConsoleConsumer")
            .args(["--bootstrap-server", &b.bootstrap, "--topic", "guide-java", "--timeout-ms", "60000"])
            .args(["--consumer-property", "auto.commit.interval.ms=100"])
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("console consumer");
        common::bounded::track(child.id());
        let out = child.stdout.take().expect("stdout");
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let s = std::sync::Arc::clone(&seen);
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(|l| l.ok()) {
                if line.starts_with("message ") {
                    s.lock().unwrap().push(line);
                }
            }
        });
        (child, seen)
    };
    // SIGTERM: the console consumer's shutdown hook commits and leaves the group.
    let stop = |mut child: std::process::Child| {
        let _ = std::process::Command::new("kill").arg(child.id().to_string()).status();
        let _ = child.wait();
    };
    let t = client(&b).topic("guide-java").expect("topic");
    let committed = |want: i64| {
        common::wait_until(&format!("the group to commit {want}"), Duration::from_secs(60), || {
            t.committed_offsets("guide-java-group").is_ok_and(|c| c[&0] == Some(want))
        })
    };
    send(0..5);
    // 1: latest on a new group: once the mock answered its ListOffsets(latest), it reads from 5.
    let looked_up = m.requests_served(ApiKey::ListOffsets);
    let (c1, seen1) = spawn(&["--group", "guide-java-group", "--consumer-property", "auto.offset.reset=latest"]);
    common::wait_until("consumer 1 to look its start up", Duration::from_secs(60), || {
        m.requests_served(ApiKey::ListOffsets) > looked_up
    });
    send(5..8);
    common::wait_until("consumer 1 to read three", Duration::from_secs(60), || seen1.lock().unwrap().len() == 3);
    committed(8);
    stop(c1);
    assert_eq!(*seen1.lock().unwrap(), guide_values(5..8));
    // 2: the same group resumes from the commit.
    send(8..10);
    let (c2, seen2) = spawn(&["--group", "guide-java-group"]);
    common::wait_until("consumer 2 to read two", Duration::from_secs(60), || seen2.lock().unwrap().len() == 2);
    committed(10);
    stop(c2);
    assert_eq!(*seen2.lock().unwrap(), guide_values(8..10));
    // 3: from the beginning, ignoring commits (no group).
    let (c3, seen3) = spawn(&["--from-beginning"]);
    common::wait_until("consumer 3 to read everything", Duration::from_secs(60), || seen3.lock().unwrap().len() == 10);
    stop(c3);
    assert_eq!(*seen3.lock().unwrap(), guide_values(0..10));
}

#[test]
fn an_idempotent_producer_goes_on_after_a_batch_fails_for_good() {
    init_logging();
    let (m, b) = mock();
    m.create_topic("bump", 1);
    let t = client(&b).topic("bump").expect("topic");
    let p = t.producer().delivery_timeout(Duration::from_secs(1)).build().expect("producer");
    assert_eq!(p.send(ProducerRecord::new("a").partition(0)).expect("first").offset, Some(0));
    // Refused for good: its sequence numbers are spent, and the broker expects them next.
    m.fail_next(ApiKey::Produce, ErrorCode::INVALID_RECORD, 1);
    let refused = p.send(ProducerRecord::new("b").partition(0));
    assert_eq!(refused.err().as_ref().and_then(plainkafka::Error::code), Some(ErrorCode::INVALID_RECORD));
    // Retried until the delivery timeout, then failed with the last error.
    let busy = m.control(Some(ApiKey::Produce), |_| Control::Fail(ErrorCode::NOT_LEADER_OR_FOLLOWER));
    let started = Instant::now();
    let late = p.send(ProducerRecord::new("c").partition(0));
    assert_eq!(late.err().as_ref().and_then(plainkafka::Error::code), Some(ErrorCode::NOT_LEADER_OR_FOLLOWER));
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(500) && took < Duration::from_secs(10), "gave up after {took:?}");
    m.remove_control(busy);
    // Without an epoch bump this would be OUT_OF_ORDER_SEQUENCE_NUMBER for good.
    assert_eq!(p.send(ProducerRecord::new("d").partition(0)).expect("after the bump").offset, Some(1));
    let mut c = reader(&b, "bump");
    let got = read_n(&mut c, 2, Duration::from_secs(30));
    let values: Vec<&[u8]> = got.iter().map(|m| m.value().unwrap_or_default()).collect();
    assert_eq!(values, [b"a".as_slice(), b"d".as_slice()]);
}

#[test]
fn a_full_queue_blocks_produce_until_there_is_room() {
    let (m, b) = mock();
    m.create_topic("full", 1);
    let t = client(&b).topic("full").expect("topic");
    // Every response held back, so the queue stays full for a while.
    m.delay(1, Duration::from_millis(300));
    m.delay(2, Duration::from_millis(300));
    m.delay(3, Duration::from_millis(300));
    let p = t.producer().max_queued_messages(10).min_queued_messages(10).build().expect("producer");
    for i in 0..100 {
        p.produce(ProducerRecord::new(format!("{i}")).partition(0)).expect("blocks rather than fails");
    }
    p.flush(Duration::from_secs(60)).expect("flush");
    let tight = t
        .producer()
        .max_queued_messages(1)
        .block_on_queue_full(false)
        .linger(Duration::from_secs(5))
        .build()
        .expect("producer");
    tight.produce(ProducerRecord::new("x").partition(0)).expect("room for one");
    let full = tight.produce(ProducerRecord::new("y").partition(0));
    assert!(matches!(full, Err(plainkafka::Error::QueueFull { queued: 1, .. })), "{full:?}");
}

#[test]
fn a_lost_produce_response_stores_each_record_once_with_idempotence_and_twice_without() {
    let (m, b) = mock();
    for (topic, idempotent, expected) in [("lost-idem", true, 3), ("lost-plain", false, 4)] {
        m.create_topic(topic, 1);
        let t = client(&b).topic(topic).expect("topic");
        let p = t.producer().enable_idempotence(idempotent).build().expect("producer");
        p.send(ProducerRecord::new("a").partition(0)).expect("a");
        // Written, but the answer never comes: the producer can only retry.
        m.drop_next_response(ApiKey::Produce);
        p.send(ProducerRecord::new("b").partition(0)).expect("b, retried");
        p.send(ProducerRecord::new("c").partition(0)).expect("c");
        let mut c = reader(&b, topic);
        let got = scenarios::drain(&mut c);
        let values: Vec<String> =
            got.iter().map(|m| String::from_utf8_lossy(m.value().unwrap_or_default()).into()).collect();
        assert_eq!(values.len(), expected, "{topic}: {values:?}");
        if idempotent {
            assert_eq!(values, ["a", "b", "c"]);
        }
    }
}

#[test]
fn brokers_that_accept_and_never_answer_fail_within_the_connection_budget() {
    // Three listeners that take connections and say nothing (a hung or half-started broker).
    let listeners: Vec<std::net::TcpListener> =
        (0..3).map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind")).collect();
    let addrs: Vec<String> = listeners.iter().map(|l| l.local_addr().expect("addr").to_string()).collect();
    let started = Instant::now();
    let r = plainkafka::KafkaClient::builder(&addrs.join(","))
        .connect_timeout(Duration::from_secs(2))
        .request_timeout(Duration::from_secs(30))
        .build();
    let took = started.elapsed();
    assert!(matches!(&r, Err(plainkafka::Error::NoBrokerReachable { tried, .. }) if tried.len() == 3), "{:?}", r.err());
    // Asked one after another, that was 3 × the 30 s request timeout; now the 2 s setup budget
    // and a second's stagger between addresses.
    assert!(took < Duration::from_secs(15), "gave up after {took:?}");
    drop(listeners);
}

#[test]
fn closing_a_group_member_whose_brokers_hang_is_bounded_by_the_request_timeout() {
    let (m, b) = mock();
    m.create_topic("hang", 2);
    write(&b, "hang", "a", 10);
    let request_timeout = Duration::from_secs(4);
    let mut c = plainkafka::KafkaClient::builder(&b.bootstrap)
        .request_timeout(request_timeout)
        .build()
        .expect("client")
        .balanced_consumer("hangers", &["hang"])
        .auto_offset_reset(plainkafka::OffsetReset::Earliest)
        .consumer_timeout(Some(Duration::from_millis(200)))
        .build()
        .expect("member");
    let mut got = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while got < 10 {
        assert!(Instant::now() < deadline, "read {got} of 10");
        got += usize::from(c.consume().expect("consume").is_some());
    }
    // Every broker now takes requests and never answers.
    m.control(None, |_| Control::Ignore);
    let started = Instant::now();
    drop(c);
    let took = started.elapsed();
    // The commit waits out one request timeout (no retry starts after that), the leave is
    // skipped, and the threads get one more: before, retries and refreshes made it minutes.
    assert!(took < request_timeout * 3, "dropping took {took:?}");
}

#[test]
fn closing_fails_every_pending_record_explicitly_and_writes_nothing_after() {
    let (m, b) = mock();
    m.create_topic("closing", 2);
    let t = client(&b).topic("closing").expect("topic");
    let p = t.producer().delivery_reports(true).ack_timeout(Duration::from_secs(1)).build().expect("producer");
    // The leaders take Produce requests and never answer.
    let written = Arc::new(Mutex::new(0usize));
    let count = Arc::clone(&written);
    m.control(Some(ApiKey::Produce), move |_| {
        *count.lock().unwrap() += 1;
        Control::Ignore
    });
    for i in 0..20 {
        p.produce(ProducerRecord::new(format!("{i}")).partition(i % 2)).expect("produce");
    }
    let mut p = p;
    let closed = p.close(Duration::from_millis(500));
    assert!(closed.is_err(), "messages were left undelivered: close says so");
    let at_close = *written.lock().unwrap();
    // Every record gets a failure report: queued ones at once, the in-flight ones when their
    // requests time out.
    let mut failed = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while failed < 20 {
        assert!(Instant::now() < deadline, "{failed} of 20 reported");
        if let Some(r) = p.get_delivery_report(Some(Duration::from_millis(100))) {
            assert!(r.result.is_err(), "nothing was acknowledged");
            failed += 1;
        }
    }
    assert_eq!(*written.lock().unwrap(), at_close, "no Produce written after close returned");
}

#[test]
fn delivery_reports_not_taken_hold_the_queue_instead_of_growing_without_bound() {
    let (m, b) = mock();
    m.create_topic("reports", 1);
    let t = client(&b).topic("reports").expect("topic");
    let p = t
        .producer()
        .delivery_reports(true)
        .max_queued_messages(5)
        .pending_timeout(Duration::from_millis(300))
        .build()
        .expect("producer");
    for i in 0..5 {
        p.produce(ProducerRecord::new(format!("{i}")).partition(0)).expect("room");
    }
    p.flush(Duration::from_secs(30)).expect("flush");
    // All five delivered, none of their reports taken: no room for a sixth.
    let full = p.produce(ProducerRecord::new("5").partition(0));
    assert!(matches!(full, Err(plainkafka::Error::QueueFull { queued: 5, .. })), "{full:?}");
    let r = p.get_delivery_report(None).expect("a report");
    assert_eq!(r.record.value.as_deref(), Some(b"0".as_slice()));
    p.produce(ProducerRecord::new("5").partition(0)).expect("room again once one was taken");
}

#[test]
fn a_consumer_dropped_by_a_panic_commits_nothing_and_a_plain_drop_commits() {
    let (m, b) = mock();
    m.create_topic("panics", 1);
    write(&b, "panics", "a", 3);
    let t = client(&b).topic("panics").expect("topic");
    let consumer = |group: &str| {
        t.simple_consumer()
            .consumer_group(group)
            .auto_commit_enable(true)
            .auto_commit_interval(Duration::from_secs(3600))
            .auto_offset_reset(plainkafka::OffsetReset::Earliest)
            .consumer_timeout(Some(Duration::from_secs(10)))
            .build()
            .expect("consumer")
    };
    // Processing the first message panics, with the consumer alive in that frame.
    let mut c = consumer("panicky");
    let outcome = std::thread::spawn(move || {
        let m = c.consume().expect("consume").expect("a message");
        if m.offset() == 0 {
            panic!("processing failed");
        }
    })
    .join();
    assert!(outcome.is_err(), "the thread panicked");
    assert_eq!(t.committed_offsets("panicky").expect("committed")[&0], None, "nothing committed past it");
    // The same without a panic: dropping commits what was consumed.
    let mut c = consumer("calm");
    c.consume().expect("consume").expect("a message");
    drop(c);
    assert_eq!(t.committed_offsets("calm").expect("committed")[&0], Some(1));
}

/// `queued_max_bytes_total` bounds what all partitions together hold: once reached, no Fetch
/// is sent (not even the long polls an idle consumer sends) until the application takes
/// messages; then everything is read, in order.
#[test]
fn the_consumer_wide_byte_bound_stops_fetching_until_messages_are_taken() {
    let (m, b) = mock();
    m.create_topic("bounded", 6);
    let t = client(&b).topic("bounded").expect("topic");
    // Uncompressed: the fetched bytes are the records' own.
    let p = t.producer().compression(plainkafka::Compression::None).build().expect("producer");
    let value = "x".repeat(1000);
    for i in 0..1200 {
        p.send(ProducerRecord::new(format!("{i:04}{value}")).partition(i % 6)).expect("send");
    }
    let mut c = t
        .simple_consumer()
        .fetch_message_max_bytes(16 * 1024)
        .queued_max_bytes_total(64 * 1024)
        .consumer_timeout(Some(Duration::from_secs(10)))
        .build()
        .expect("consumer");
    let index = |msg: &plainkafka::Message| -> usize {
        let i: usize = std::str::from_utf8(&msg.value().unwrap()[..4]).unwrap().parse().unwrap();
        assert_eq!(i % 6, msg.partition() as usize);
        i
    };
    let mut seen = vec![Vec::new(); 6];
    let first = c.consume().expect("consume").expect("a message");
    seen[first.partition() as usize].push(index(&first));
    // The queues fill within a few rounds; from then on the fetchers must stay quiet. Without
    // the bound they would go on reading (each partition holds 200 KB, under its own 16 MiB)
    // and then long-poll every fetch_wait_max.
    let settled = |d: Duration| {
        let before = m.requests_served(ApiKey::Fetch);
        std::thread::sleep(d);
        m.requests_served(ApiKey::Fetch) == before
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !settled(Duration::from_millis(500)) {
        assert!(Instant::now() < deadline, "the fetchers never stopped");
    }
    assert!(m.requests_served(ApiKey::Fetch) < 30, "{} fetches", m.requests_served(ApiKey::Fetch));
    for _ in 1..1200 {
        let msg = c.consume().expect("consume").expect("every message arrives once there is room");
        seen[msg.partition() as usize].push(index(&msg));
    }
    for (part, got) in seen.iter().enumerate() {
        assert_eq!(got.len(), 200, "partition {part}");
        assert!(got.windows(2).all(|w| w[0] < w[1]), "partition {part} in order");
    }
}

/// With auto-commit off: `on_assigned` and `on_revoked` name exactly the partitions gained and
/// given up, and a `commit_offsets` after a rebalance commits the partitions kept, never those
/// given up (their new owner may be past them: a stale commit would move it back).
#[test]
fn a_member_commits_only_what_it_still_owns_after_a_rebalance() {
    let (m, b) = mock();
    m.create_topic("revoked", 4);
    let t = client(&b).topic("revoked").expect("topic");
    let p = t.producer().build().expect("producer");
    for i in 0..40 {
        p.send(ProducerRecord::new(format!("v{i}")).partition(i % 4)).expect("send");
    }
    type Calls = Arc<Mutex<Vec<Vec<(String, i32)>>>>;
    let (assigned, revoked): (Calls, Calls) = Default::default();
    let (on_a, on_r) = (Arc::clone(&assigned), Arc::clone(&revoked));
    let member = || {
        t.balanced_consumer("revokers")
            .auto_commit_enable(false)
            .session_timeout(Duration::from_secs(6))
            .heartbeat_interval(Duration::from_millis(200))
            .consumer_timeout(Some(Duration::from_millis(200)))
    };
    let mut a = member()
        .on_assigned(move |p| on_a.lock().unwrap().push(p.to_vec()))
        .on_revoked(move |p| on_r.lock().unwrap().push(p.to_vec()))
        .build()
        .expect("member a");
    let mut read = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while read < 40 {
        assert!(Instant::now() < deadline, "a read {read} of 40");
        read += usize::from(a.consume().expect("consume").is_some());
    }
    let all: Vec<(String, i32)> = (0..4).map(|p| ("revoked".to_string(), p)).collect();
    assert_eq!(*assigned.lock().unwrap(), vec![all.clone()]);
    assert!(revoked.lock().unwrap().is_empty());

    // B joins; A's consume takes part in the rebalance and gives two partitions up.
    let stop_b = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = Arc::clone(&stop_b);
    let mut b_member = member().build().expect("member b");
    let b_thread = std::thread::spawn(move || {
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            let _ = b_member.consume();
        }
        b_member.assignment().clone()
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while a.assignment().get("revoked").map_or(4, Vec::len) != 2 {
        assert!(Instant::now() < deadline, "a still holds {:?}", a.assignment());
        let _ = a.consume().expect("consume");
    }
    let kept: Vec<i32> = a.assignment()["revoked"].clone();
    let gone: Vec<(String, i32)> = all.iter().filter(|(_, p)| !kept.contains(p)).cloned().collect();
    // Eager (range) rebalance: everything is given up first, then the kept half comes back.
    assert_eq!(revoked.lock().unwrap()[0], all);
    let regained: Vec<(String, i32)> = kept.iter().map(|p| ("revoked".to_string(), *p)).collect();
    assert_eq!(assigned.lock().unwrap()[1], regained);

    // The kept partitions go on where they were: nothing of them is read again.
    let again = a.consume().expect("consume");
    assert!(again.is_none(), "re-read {:?}", again.map(|m| (m.partition(), m.offset())));
    a.commit_offsets().expect("commit");
    let committed = t.committed_offsets("revokers").expect("committed");
    for p in &kept {
        assert_eq!(committed[p], Some(10), "partition {p} was kept: {committed:?}");
    }
    for (_, p) in &gone {
        assert_eq!(committed[p], None, "partition {p} was given up: {committed:?}");
    }
    stop_b.store(true, std::sync::atomic::Ordering::SeqCst);
    let b_has = b_thread.join().expect("b");
    assert_eq!(b_has.get("revoked").map(Vec::len), Some(2));
}

/// A broker that cuts answers mid-batch (`cut_batches`): the consumer sees a partial batch,
/// doubles its fetch size until the batch fits, and reads it; past
/// `fetch_message_max_bytes_limit` the partition fails with `RecordTooLarge` instead of looping.
#[test]
fn the_fetch_size_grows_past_a_cut_batch_up_to_its_limit() {
    init_logging();
    let m = MockCluster::builder().cut_batches(true).build().expect("mock");
    let b = Broker { kind: Kind::Mock, version: "plainkafka mock".into(), bootstrap: m.bootstrap() };
    let t = client(&b).topic("cut").expect("topic");
    // Uncompressed, so the big record's batch is as big as the record.
    let p = t.producer().compression(plainkafka::Compression::None).build().expect("producer");
    p.send(ProducerRecord::new("small").partition(0)).expect("send");
    p.send(ProducerRecord::new("x".repeat(60_000)).partition(0)).expect("send");
    p.send(ProducerRecord::new("after").partition(0)).expect("send");
    let consumer = |limit: usize| {
        t.simple_consumer()
            .fetch_message_max_bytes(4096)
            .fetch_message_max_bytes_limit(limit)
            .consumer_timeout(Some(Duration::from_secs(10)))
            .build()
            .expect("consumer")
    };
    let before = m.requests_served(ApiKey::Fetch);
    let mut c = consumer(1 << 20);
    let sizes: Vec<usize> =
        (0..3).map(|_| c.consume().expect("consume").expect("a message").value().unwrap().len()).collect();
    assert_eq!(sizes, vec![5, 60_000, 5]);
    // Whole batches would take three fetches; a cut one takes a fourth: the answer holding
    // only the big batch's first 4 KiB, whose header tells the size to grow to.
    assert!(m.requests_served(ApiKey::Fetch) - before >= 4, "{} fetches", m.requests_served(ApiKey::Fetch) - before);
    drop(c);
    let mut small = consumer(16 * 1024);
    assert_eq!(small.consume().expect("consume").expect("the first").value().unwrap().len(), 5);
    let e = small.consume().expect_err("the batch can't fit");
    assert!(matches!(e, plainkafka::Error::RecordTooLarge { .. }), "{e:?}");
}

/// A v2 record batch laid out by hand, checksum right: `records` is the records section as
/// given, `count` whatever the test claims.
fn crafted_batch(base: i64, length: Option<i32>, last_delta: i32, base_ts: i64, count: i32, records: &[u8]) -> Vec<u8> {
    use plainkafka::protocol::codec::Encoder;
    let mut tail = Encoder::new(); // attributes .. records: what the CRC covers
    tail.i16(0);
    tail.i32(last_delta);
    tail.i64(base_ts);
    tail.i64(base_ts);
    tail.i64(-1);
    tail.i16(-1);
    tail.i32(-1);
    tail.i32(count);
    tail.raw(records);
    let tail = tail.into_inner();
    let mut b = Encoder::new();
    b.i64(base);
    b.i32(length.unwrap_or(9 + tail.len() as i32));
    b.i32(0);
    b.i8(2);
    b.u32(crc32c::crc32c(&tail));
    b.raw(&tail);
    b.into_inner()
}

/// One record: `declared` overrides its length prefix, `headers` its header count.
fn crafted_record(ts_delta: i64, offset_delta: i32, declared: Option<i32>, headers: i32) -> Vec<u8> {
    use plainkafka::protocol::codec::Encoder;
    let mut body = Encoder::new();
    body.i8(0); // attributes
    body.varlong(ts_delta);
    body.varint(offset_delta);
    body.varint(-1); // no key
    body.varint(1);
    body.raw(b"v");
    body.varint(headers);
    let body = body.into_inner();
    let mut r = Encoder::new();
    r.varint(declared.unwrap_or(body.len() as i32));
    r.raw(&body);
    r.into_inner()
}

/// The nine crafted batches of the hardening issue, each served by the mock to the CLI reading
/// one partition: every one must end the CLI with an error naming the partition, not a busy
/// loop that delivers nothing (five of them did, until the idle timeout) nor a crash.
#[test]
fn the_cli_reports_crafted_batches_instead_of_looping() {
    let (m, b) = mock();
    let rec = crafted_record(0, 0, None, 0);
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("base offset i64::MAX", crafted_batch(i64::MAX, None, 0, 0, 1, &rec), false),
        ("a delta past i64::MAX", crafted_batch(i64::MAX - 1, None, 5, 0, 1, &rec), false),
        (
            "base timestamp i64::MAX plus a delta",
            crafted_batch(0, None, 0, i64::MAX, 1, &crafted_record(1, 0, None, 0)),
            false,
        ),
        ("last offset delta -1, no records", crafted_batch(0, None, -1, 0, 0, &[]), false),
        ("a batch below the fetch offset", crafted_batch(0, None, 0, 0, 1, &rec), true),
        ("a billion records claimed", crafted_batch(0, None, 0, 0, 1_000_000_000, &rec), false),
        ("a million headers", crafted_batch(0, None, 0, 0, 1, &crafted_record(0, 0, None, 1_000_000)), false),
        ("a 2^31-byte batch", crafted_batch(0, Some(i32::MAX), 0, 0, 1, &rec), false),
        (
            "a record longer than its batch",
            crafted_batch(0, None, 0, 0, 1, &crafted_record(0, 0, Some(1000), 0)),
            false,
        ),
    ];
    let t = client(&b);
    for (i, (what, bytes, past_data)) in cases.into_iter().enumerate() {
        let topic = format!("crafted-{i}");
        m.create_topic(&topic, 1);
        if past_data {
            write(&b, &topic, "real", 5);
        }
        let _ = t.topic(&topic).expect("topic");
        m.serve_records(&topic, 0, Some(bytes));
        let started = Instant::now();
        let mut args = vec!["-b", &b.bootstrap, "consume", &topic, "-p", "0", "--idle-timeout-ms", "3000"];
        if past_data {
            args.extend(["--offset-reset", "latest"]);
        }
        let out = common::bounded::output_within(
            std::process::Command::new(common::cli_bin()).env_remove("KAFKA_BROKERS").args(&args),
            b"",
            common::bounded::CHILD_LIMIT,
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {err}");
        assert!(err.contains(&format!("{topic}/0")) || err.contains(&topic), "{what}: {err}");
        assert!(out.stdout.is_empty(), "{what}: printed {:?}", String::from_utf8_lossy(&out.stdout));
        eprintln!("{what}: exit 1 after {:?}: {}", started.elapsed(), err.lines().last().unwrap_or(""));
    }
}

/// The decoder's memory caps are the consumer's settings: a batch past them fails its
/// partition with a clear error; the defaults read the same batch.
#[test]
fn decode_limits_are_consumer_settings() {
    let (m, b) = mock();
    m.create_topic("limits-decode", 1);
    let t = client(&b).topic("limits-decode").expect("topic");
    let p = t.producer().compression(plainkafka::Compression::Gzip).build().expect("producer");
    let rec = ProducerRecord::new("x".repeat(10_000)).partition(0).header("a", "1").header("b", "2").header("c", "3");
    p.send(rec).expect("send");
    let consumer = |f: fn(plainkafka::SimpleConsumerBuilder) -> plainkafka::SimpleConsumerBuilder| {
        f(t.simple_consumer().consumer_timeout(Some(Duration::from_secs(10)))).build().expect("consumer")
    };
    let e = consumer(|c| c.max_headers_per_batch(2)).consume().expect_err("three headers");
    assert!(e.to_string().contains("headers"), "{e}");
    let e = consumer(|c| c.max_batch_decompressed_bytes(1000)).consume().expect_err("10 kB decompressed");
    assert!(e.to_string().contains("more than 1000 bytes"), "{e}");
    let ok = consumer(|c| c).consume().expect("consume").expect("the record");
    assert_eq!(ok.headers().len(), 3);
}

/// `commit_offsets_at` commits the offsets given, never past what was consumed.
#[test]
fn chosen_commits_stay_within_what_was_consumed() {
    let (m, b) = mock();
    m.create_topic("chosen", 2);
    write(&b, "chosen", "c", 5);
    let t = client(&b).topic("chosen").expect("topic");
    let mut c = t
        .simple_consumer()
        .consumer_group("chosen")
        .partitions(&[0, 1])
        .consumer_timeout(Some(Duration::from_secs(10)))
        .build()
        .expect("consumer");
    for _ in 0..3 {
        c.consume().expect("consume").expect("a message");
    }
    let past = c.commit_offsets_at(&[(0, 4)]).expect_err("offset 3 was not given out");
    assert!(matches!(past, plainkafka::Error::Config(_)), "{past:?}");
    let none = c.commit_offsets_at(&[(1, 0)]).expect_err("nothing consumed from partition 1");
    assert!(matches!(none, plainkafka::Error::Config(_)), "{none:?}");
    assert_eq!(t.committed_offsets("chosen").expect("committed")[&0], None, "a refusal commits nothing");
    c.commit_offsets_at(&[(0, 2)]).expect("within what was consumed");
    assert_eq!(t.committed_offsets("chosen").expect("committed")[&0], Some(2));
    c.commit_offsets().expect("the rest");
    assert_eq!(t.committed_offsets("chosen").expect("committed")[&0], Some(3));
}

/// A broker that doesn't offer ConsumerGroupHeartbeat (a mock restricted like Kafka 3.x): a
/// member asked to use the consumer protocol (KIP-848) says so instead of hanging.
#[test]
fn the_consumer_protocol_is_refused_clearly_where_not_offered() {
    let (m, b) = mock();
    m.restrict_versions(ApiKey::ConsumerGroupHeartbeat, 1, 0);
    m.create_topic("kip848", 2);
    let mut c = client(&b)
        .balanced_consumer("g848", &["kip848"])
        .group_protocol(plainkafka::group::GroupProtocol::Consumer)
        .consumer_timeout(Some(Duration::from_secs(5)))
        .build()
        .expect("member");
    let err = c.consume().expect_err("no consumer protocol on the mock");
    assert!(err.to_string().contains("ConsumerGroupHeartbeat"), "{err}");
}

/// The consumer group protocol (KIP-848) on the mock: two plainkafka members and a librdkafka
/// one with `group.protocol=consumer` join one after the other while messages arrive; the
/// coordinator spreads the 6 partitions over them, `groups` reports a consumer-protocol group,
/// a member that leaves hands its partitions over, and nothing is lost.
#[test]
fn consumer_protocol_members_share_a_topic_and_hand_over_on_leave() {
    use common::groups::{rdkafka_member, spawn_member};
    use common::wait_until;
    use std::collections::BTreeSet;
    let (m, b) = mock();
    m.create_topic("k848", 6);
    let member = || {
        client(&b)
            .balanced_consumer("g848", &["k848"])
            .group_protocol(plainkafka::group::GroupProtocol::Consumer)
            .auto_commit_interval(Duration::from_millis(200))
            .consumer_timeout(Some(Duration::from_millis(100)))
            .build()
            .expect("member")
    };
    let p = client(&b).topic("k848").expect("topic").producer().build().expect("producer");
    let mut written = 0;
    let mut write = |n: usize| {
        for i in written..written + n {
            p.produce(ProducerRecord::new(format!("k848-{i}")).partition((i % 6) as i32)).expect("produce");
        }
        p.flush(Duration::from_secs(30)).expect("flush");
        written += n;
    };
    let first = spawn_member(member(), "k848".into());
    write(120);
    wait_until("the first member to own all six partitions", Duration::from_secs(30), || {
        first.view().partitions.len() == 6
    });
    let second = spawn_member(member(), "k848".into());
    write(120);
    let rd = rdkafka_member(&b, "g848", "k848", &[("group.protocol", "consumer")]);
    write(120);
    wait_until("three members with two partitions each", Duration::from_secs(60), || {
        first.view().partitions.len() == 2 && second.view().partitions.len() == 2
    });
    let groups = client(&b).list_groups().expect("groups");
    let g = groups.iter().find(|g| g.group == "g848").expect("listed");
    assert_eq!((g.group_type.as_deref(), g.state.as_deref()), (Some("consumer"), Some("Stable")));
    // ConsumerGroupDescribe: the three members, each with its two partitions.
    let d = client(&b).describe_group("g848").expect("describe");
    assert_eq!((d.protocol_type.as_str(), d.protocol.as_str(), d.members.len()), ("consumer", "uniform", 3), "{d:?}");
    assert!(d.members.iter().all(|m| m.assignment.values().map(Vec::len).sum::<usize>() == 2), "{d:?}");
    let mut seen = first.leave_with_reads();
    write(120);
    wait_until("the two left to take the first one's partitions", Duration::from_secs(60), || {
        second.view().partitions.len() == 3
    });
    let all = |seen: &Vec<String>| {
        let mut v = seen.clone();
        v.extend(second.seen.lock().unwrap().iter().cloned());
        v.extend(rd.seen.lock().unwrap().iter().cloned());
        v.into_iter().collect::<BTreeSet<_>>()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while all(&seen).len() < 480 {
        if Instant::now() > deadline {
            let got = all(&seen);
            let missing: Vec<usize> = (0..480).filter(|i| !got.contains(&format!("k848-{i}"))).collect();
            let by_partition: std::collections::BTreeMap<usize, usize> =
                missing.iter().fold(Default::default(), |mut m, i| {
                    *m.entry(i % 6).or_default() += 1;
                    m
                });
            panic!(
                "missing {} by partition {by_partition:?}; second owns {:?}, rd read {}",
                missing.len(),
                second.view().partitions,
                rd.seen.lock().unwrap().len()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    seen.extend(second.leave_with_reads());
    rd.leave();
}
