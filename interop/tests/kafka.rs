//! Against Apache Kafka itself: the newest 4.x and a 3.9.x, single-node KRaft brokers started
//! by scripts/kafka/start.sh (once for this test binary), and Kafka's own tools as the Java
//! client to interoperate with.

#[macro_use]
mod common;

// The newest 4.x and a 3.9.x.

macro_rules! kafka_suite {
    ($modname:ident, $version:expr) => {
        mod $modname {
            use super::common::{groups, init_logging, kafka, scenarios, transactions, Broker};

            fn broker() -> Broker {
                init_logging();
                kafka($version)
            }

            every_broker_scenario!(let b = broker(); b);
            group_scenarios!(let b = broker(); b);

            #[test]
            fn console_producer_data_read_exactly() {
                super::console_producer_data_read_exactly(&broker());
            }

            #[test]
            fn console_producer_compressed_data_read_exactly() {
                super::console_producer_compressed_data_read_exactly(&broker());
            }

            #[test]
            fn the_default_codec_compresses_only_what_it_shrinks() {
                super::the_default_codec_compresses_only_what_it_shrinks(&broker());
            }

            #[test]
            fn java_console_consumer_reads_what_plainkafka_writes() {
                super::java_console_consumer_reads_what_plainkafka_writes(&broker());
            }

            #[test]
            fn plainkafka_transactions_read_by_java_and_plainkafka_and_a_zombie_is_fenced() {
                super::plainkafka_transactions_read_by_java_and_plainkafka_and_a_zombie_is_fenced(&broker());
            }

            transaction_scenarios!(let b = broker(); b);

            #[test]
            fn consumer_protocol_group_of_plainkafka_librdkafka_and_java() {
                super::consumer_protocol_group_of_plainkafka_librdkafka_and_java(&broker());
            }

            #[test]
            fn transactions_bump_the_epoch_each_time_on_kafka_4_only() {
                super::transactions_bump_the_epoch_each_time_on_kafka_4_only(&broker());
            }

            #[test]
            fn fetch_sessions_name_only_what_changed() {
                super::fetch_sessions_name_only_what_changed(&broker());
            }

            #[test]
            fn murmur2_partitions_agree_with_java_and_librdkafka() {
                super::murmur2_partitions_agree_with_java_and_librdkafka(&broker());
            }

            #[test]
            fn consumer_groups_tool_reports_our_commits() {
                super::consumer_groups_tool_reports_our_commits(&broker());
            }

            #[test]
            fn static_member_restarts_without_a_rebalance_and_a_duplicate_is_fenced() {
                super::static_member_restarts_without_a_rebalance_and_a_duplicate_is_fenced(&broker());
            }

            #[test]
            fn one_group_of_plainkafka_java_and_librdkafka_members_range() {
                super::one_group_of_plainkafka_java_and_librdkafka_members(&broker(), plainkafka::Assignor::Range);
            }

            #[test]
            fn one_group_of_plainkafka_java_and_librdkafka_members_cooperative_sticky() {
                super::one_group_of_plainkafka_java_and_librdkafka_members(
                    &broker(),
                    plainkafka::Assignor::CooperativeSticky,
                );
            }
        }
    };
}

kafka_suite!(kafka_4, "4.4.0");
kafka_suite!(kafka_3_9, "3.9.1");

/// A regex subscription and static membership under the consumer protocol (Kafka 4).
#[test]
fn kafka_4_consumer_protocol_regex_subscription_and_static_member() {
    common::init_logging();
    consumer_protocol_regex_subscription_and_static_member(&common::kafka("4.4.0"));
}

/// Share groups (KIP-932) are GA from Kafka 4.2.
#[test]
fn kafka_4_share_group_members_and_java_read_a_topic_as_a_queue() {
    common::init_logging();
    share_group_members_and_java_read_a_topic_as_a_queue(&common::kafka("4.4.0"));
}

/// The share group scenarios every broker with share groups runs.
mod kafka_4_share {
    use super::common::{init_logging, kafka, share, Broker};

    fn broker() -> Broker {
        init_logging();
        kafka("4.4.0")
    }

    share_scenarios!(let b = broker(); b);
}

/// Upgrading a classic group to the consumer protocol needs Kafka 4.
#[test]
fn kafka_4_classic_group_upgraded_member_by_member_to_the_consumer_protocol() {
    common::init_logging();
    classic_group_upgraded_member_by_member_to_the_consumer_protocol(&common::kafka("4.4.0"));
}

use common::bounded;
use common::scenarios::{drain, new_topic, read_n, topic};
use common::{kafka_tool, produce, unique_topic, Broker, TestMsg};
use std::time::Duration;

/// What Kafka's console producer (the Java client) writes, plainkafka reads exactly.
fn console_producer_data_read_exactly(b: &Broker) {
    let name = new_topic(b, "console", 1);
    let lines: Vec<String> = (0..200).map(|i| format!("key-{i}\tvalue {i} with spaces, ünïcode")).collect();
    // The console producer moved from core to the tools module in Kafka 4.
    let class = if b.version.starts_with("3.") {
        "kafka.tools.ConsoleProducer"
    } else {
        "org.apache.kafka.tools.ConsoleProducer"
    };
    kafka_tool(
        &b.version,
        class,
        &["--bootstrap-server", &b.bootstrap, "--topic", &name, "--property", "parse.key=true"],
        Some(&(lines.join("\n") + "\n")),
    );
    let t = topic(b, &name);
    let mut c = t.simple_consumer().consumer_timeout(Some(Duration::from_millis(500))).build().expect("build");
    let got = read_n(&mut c, lines.len(), Duration::from_secs(30));
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m.offset(), i as i64);
        assert_eq!(m.key(), Some(format!("key-{i}").as_bytes()));
        assert_eq!(m.value(), Some(format!("value {i} with spaces, ünïcode").as_bytes()));
    }
    assert!(drain(&mut c).is_empty());
}

/// Kafka's consumer-groups tool shows the offsets plainkafka committed.
fn consumer_groups_tool_reports_our_commits(b: &Broker) {
    let name = new_topic(b, "groups", 1);
    produce(&b.bootstrap, &name, (0..20).map(|i| TestMsg::value(0, format!("g-{i}"))), false);
    let t = topic(b, &name);
    let group = unique_topic("tool-group");
    let mut c = t.simple_consumer().consumer_group(&group).build().expect("build");
    read_n(&mut c, 12, Duration::from_secs(30));
    c.commit_offsets().expect("commit");
    drop(c);
    let out = kafka_tool(
        &b.version,
        "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
        &["--bootstrap-server", &b.bootstrap, "--describe", "--group", &group],
        None,
    );
    // GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG ...
    let row: Vec<&str> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.len() >= 6 && f[1] == name)
        .unwrap_or_else(|| panic!("no row for {name} in:\n{out}"));
    assert_eq!((row[2], row[3], row[4], row[5]), ("0", "12", "20", "8"), "{out}");
}

/// What Kafka's console producer writes with each codec, plainkafka reads exactly.
fn console_producer_compressed_data_read_exactly(b: &Broker) {
    let class = if b.version.starts_with("3.") {
        "kafka.tools.ConsoleProducer"
    } else {
        "org.apache.kafka.tools.ConsoleProducer"
    };
    for codec in ["gzip", "snappy", "lz4", "zstd"] {
        let name = new_topic(b, &format!("console-{codec}"), 1);
        let lines: Vec<String> = (0..300).map(|i| format!("{codec} line {i} {}", "y".repeat(i % 40))).collect();
        kafka_tool(
            &b.version,
            class,
            &["--bootstrap-server", &b.bootstrap, "--topic", &name, "--compression-codec", codec],
            Some(&(lines.join("\n") + "\n")),
        );
        let t = topic(b, &name);
        let mut c = t.simple_consumer().consumer_timeout(Some(Duration::from_millis(500))).build().expect("build");
        let got = read_n(&mut c, lines.len(), Duration::from_secs(30));
        for (m, want) in got.iter().zip(&lines) {
            assert_eq!(m.value(), Some(want.as_bytes()), "{codec}");
        }
        assert!(drain(&mut c).is_empty());
    }
}

/// A producer with default settings writes lz4: the broker stores a batch that lz4 shrinks as
/// lz4 (Kafka's DumpLogSegments reads the log), and one it cannot shrink (random bytes)
/// uncompressed; both read back exactly.
fn the_default_codec_compresses_only_what_it_shrinks(b: &Broker) {
    use plainkafka::ProducerRecord;
    let name = new_topic(b, "default-codec", 1);
    let t = topic(b, &name);
    let mut values: Vec<Vec<u8>> = (0..200).map(|i| format!("{i:04} {}", "x".repeat(200)).into_bytes()).collect();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let random: Vec<Vec<u8>> = (0..50)
        .map(|_| {
            (0..1000)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect()
        })
        .collect();
    // Batches close at flush and close only, so each group is one batch whatever the timing.
    let mut p = t.producer().linger(Duration::from_secs(60)).build().expect("producer");
    for v in &values {
        p.produce(ProducerRecord::new(v.clone())).expect("produce");
    }
    p.flush(Duration::from_secs(30)).expect("flush");
    for v in &random {
        p.produce(ProducerRecord::new(v.clone())).expect("produce");
    }
    p.close(Duration::from_secs(30)).expect("close");
    values.extend(random);

    let port: u16 = b.bootstrap.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port");
    let log = common::run_dir(&b.version, port).join(format!("data/{name}-0/00000000000000000000.log"));
    let log = log.to_str().expect("a UTF-8 path");
    let class = if b.version.starts_with("3.") {
        "kafka.tools.DumpLogSegments"
    } else {
        "org.apache.kafka.tools.DumpLogSegments"
    };
    let dump = kafka_tool(&b.version, class, &["--files", log], None);
    let codecs: Vec<&str> = dump
        .lines()
        .filter_map(|l| l.split("compresscodec: ").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect();
    assert_eq!(codecs, ["lz4", "none"], "{dump}");

    let mut c = t.simple_consumer().consumer_timeout(Some(Duration::from_millis(500))).build().expect("build");
    let got = read_n(&mut c, values.len(), Duration::from_secs(30));
    let got: Vec<&[u8]> = got.iter().map(|m| m.value().expect("value")).collect();
    assert_eq!(got, values.iter().map(Vec::as_slice).collect::<Vec<_>>());
}

/// What plainkafka's producer writes with each codec, Kafka's console consumer (the Java client)
/// prints exactly: keys, values, headers, timestamps.
fn java_console_consumer_reads_what_plainkafka_writes(b: &Broker) {
    use plainkafka::{Compression, ProducerRecord};
    let class = "org.apache.kafka.tools.consumer.ConsoleConsumer";
    for codec in [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
        let name = new_topic(b, &format!("to-java-{codec:?}").to_lowercase(), 1);
        let t = topic(b, &name);
        let mut p = t.producer().compression(codec).build().expect("producer");
        for i in 0..100 {
            let r = ProducerRecord::new(format!("value {i}"))
                .key(format!("k{i}"))
                .header("h", format!("x{i}"))
                .timestamp(1_700_000_000_000 + i);
            p.produce(r).expect("produce");
        }
        p.close(Duration::from_secs(30)).expect("close");
        let out = kafka_tool(
            &b.version,
            class,
            &[
                "--bootstrap-server",
                &b.bootstrap,
                "--topic",
                &name,
                "--from-beginning",
                "--max-messages",
                "100",
                "--property",
                "print.key=true",
                "--property",
                "print.headers=true",
                "--property",
                "print.timestamp=true",
            ],
            None,
        );
        let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("CreateTime:")).collect();
        assert_eq!(lines.len(), 100, "{codec:?}: {out}");
        for (i, l) in lines.iter().enumerate() {
            assert_eq!(
                *l,
                format!("CreateTime:{}\th:x{i}\tk{i}\tvalue {i}", 1_700_000_000_000 + i as i64),
                "{codec:?}"
            );
        }
    }
}

/// Incremental fetch sessions (KIP-227): once a consumer of 200 partitions has read them, its
/// idle fetches name none of them (a full Fetch spends at least 33 bytes on each: over 6,600),
/// and records that arrive later for partitions the session holds, unnamed, are still read.
fn fetch_sessions_name_only_what_changed(b: &Broker) {
    let name = new_topic(b, "sessions", 200);
    produce(&b.bootstrap, &name, (0..200).map(|p| TestMsg::value(p, format!("a{p}"))), false);
    let t = topic(b, &name);
    let mut c = t
        .simple_consumer()
        .fetch_wait_max(Duration::from_millis(20))
        .consumer_timeout(Some(Duration::from_millis(100)))
        .build()
        .expect("build");
    assert_eq!(read_n(&mut c, 200, Duration::from_secs(60)).len(), 200);
    let sent = |c: &plainkafka::SimpleConsumer| {
        c.stats().brokers.iter().fold((0, 0), |(n, bytes), b| (n + b.requests, bytes + b.bytes_sent))
    };
    let before = sent(&c);
    common::wait_until("twenty idle fetches", Duration::from_secs(60), || {
        assert!(c.consume().expect("consume").is_none(), "nothing more was written");
        sent(&c).0 >= before.0 + 20
    });
    let after = sent(&c);
    let per_request = (after.1 - before.1) / (after.0 - before.0);
    assert!(per_request < 400, "{per_request} bytes per idle fetch");
    // New records for every partition: each is answered within the session.
    produce(&b.bootstrap, &name, (0..200).map(|p| TestMsg::value(p, format!("b{p}"))), false);
    let mut late: Vec<(i32, Vec<u8>)> = read_n(&mut c, 200, Duration::from_secs(60))
        .iter()
        .map(|m| (m.partition(), m.value().unwrap_or_default().to_vec()))
        .collect();
    late.sort();
    assert_eq!(late, (0..200).map(|p| (p, format!("b{p}").into_bytes())).collect::<Vec<_>>());
}

/// For 1,000 keys, plainkafka's default partitioner picks the partition the Java client's
/// default partitioner and librdkafka's `murmur2_random` pick.
fn murmur2_partitions_agree_with_java_and_librdkafka(b: &Broker) {
    use plainkafka::producer::partitioner::murmur2_partition;
    let keys: Vec<String> = (0..1000).map(|i| format!("user-{i}-{}", i * 7919)).collect();
    let check = |name: &str, who: &str| {
        let t = topic(b, name);
        let mut c = t.simple_consumer().consumer_timeout(Some(Duration::from_millis(500))).build().expect("build");
        let got = read_n(&mut c, keys.len(), Duration::from_secs(60));
        for m in &got {
            let key = m.key().expect("keyed");
            assert_eq!(
                m.partition(),
                murmur2_partition(key, 6),
                "{who} put {} elsewhere",
                String::from_utf8_lossy(key)
            );
        }
    };
    // The Java client.
    let java = new_topic(b, "murmur-java", 6);
    let class = if b.version.starts_with("3.") {
        "kafka.tools.ConsoleProducer"
    } else {
        "org.apache.kafka.tools.ConsoleProducer"
    };
    let input: String = keys.iter().map(|k| format!("{k}\tv\n")).collect();
    kafka_tool(
        &b.version,
        class,
        &["--bootstrap-server", &b.bootstrap, "--topic", &java, "--property", "parse.key=true"],
        Some(&input),
    );
    check(&java, "the Java client");
    // librdkafka.
    let rd = new_topic(b, "murmur-rdkafka", 6);
    let msgs =
        keys.iter().map(|k| TestMsg { partition: -1, key: Some(k.clone().into_bytes()), ..TestMsg::value(-1, "v") });
    common::produce_with(&b.bootstrap, &rd, msgs, false, &[("partitioner", "murmur2_random")]);
    check(&rd, "librdkafka");
    // plainkafka itself.
    let ours = new_topic(b, "murmur-plainkafka", 6);
    let t = topic(b, &ours);
    let mut p = t.producer().build().expect("producer");
    for k in &keys {
        p.produce(plainkafka::ProducerRecord::new("v").key(k.as_str())).expect("produce");
    }
    p.close(Duration::from_secs(30)).expect("close");
    check(&ours, "plainkafka");
}

/// One consumer group with three kinds of member: plainkafka, Kafka's console consumer (the Java
/// client) and librdkafka, all offering `assignor` (with cooperative-sticky, whoever leads
/// withholds moving partitions for a round and the others must revoke and rejoin). They split
/// six partitions two each, read everything between them exactly once, and Kafka's
/// consumer-groups tool and plainkafka's describe_group both see the three members.
fn one_group_of_plainkafka_java_and_librdkafka_members(b: &Broker, assignor: plainkafka::Assignor) {
    use common::groups::{java_member, member, rdkafka_member, Member};
    use common::wait_until;

    let name = new_topic(b, "mixed", 6);
    let group = unique_topic("mixed-group");
    let java_assignor = match assignor {
        plainkafka::Assignor::Range => "org.apache.kafka.clients.consumer.RangeAssignor",
        plainkafka::Assignor::RoundRobin => "org.apache.kafka.clients.consumer.RoundRobinAssignor",
        plainkafka::Assignor::CooperativeSticky => "org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
        other => panic!("no Java assignor for {other:?}"),
    };
    let client = common::scenarios::client(b);

    let java = java_member(b, &group, &name, "mixed-", &[&format!("partition.assignment.strategy={java_assignor}")]);
    let rd = rdkafka_member(b, &group, &name, &[("partition.assignment.strategy", assignor.name())]);
    let ours: Member = member(b, &group, &name, assignor);

    // With cooperative-sticky a Stable group can still be between its two rounds (a partition
    // withheld while its old owner revokes it): wait for the final split, two each.
    wait_until("three members in a stable group, two partitions each", Duration::from_secs(120), || {
        client.describe_group(&group).is_ok_and(|d| {
            d.state == "Stable"
                && d.members.len() == 3
                && d.members.iter().all(|m| m.assignment.get(&name).map(Vec::len) == Some(2))
        })
    });
    let d = client.describe_group(&group).expect("describe");
    assert_eq!(d.protocol, assignor.name());
    let mut clients: Vec<&str> = d.members.iter().map(|m| m.client_id.as_str()).collect();
    clients.sort_unstable();
    assert_eq!(clients, ["java-member", "plainkafka", "rdkafka-member"]);

    let msgs = (0..600).map(|i| TestMsg::value(i % 6, format!("mixed-{i}")));
    produce(&b.bootstrap, &name, msgs, false);
    let all = || {
        let mut v: Vec<String> = java.seen.lock().unwrap().clone();
        v.extend(rd.seen.lock().unwrap().iter().cloned());
        v.extend(ours.seen.lock().unwrap().iter().cloned());
        v
    };
    wait_until("the group to read all 600 messages", Duration::from_secs(60), || {
        all().iter().collect::<std::collections::BTreeSet<_>>().len() == 600
    });
    let read = all();
    assert_eq!(read.len(), 600, "a stable group reads each message once");
    for (who, n) in [
        ("java", java.seen.lock().unwrap().len()),
        ("rdkafka", rd.seen.lock().unwrap().len()),
        ("plainkafka", ours.seen.lock().unwrap().len()),
    ] {
        assert_eq!(n, 200, "{who} read its two partitions' share");
    }

    // Kafka's own tool sees the three members, two partitions each.
    let out = kafka_tool(
        &b.version,
        "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
        &["--bootstrap-server", &b.bootstrap, "--describe", "--group", &group, "--members"],
        None,
    );
    let member_lines: Vec<&str> = out.lines().filter(|l| l.starts_with(&group)).collect();
    assert_eq!(member_lines.len(), 3, "{out}");
    for l in &member_lines {
        let cols: Vec<&str> = l.split_whitespace().collect();
        assert_eq!(cols.last(), Some(&"2"), "two partitions per member: {out}");
    }
    assert!(out.contains("plainkafka") && out.contains("java-member") && out.contains("rdkafka-member"), "{out}");

    ours.leave();
    rd.leave();
    drop(java);
}

/// Static membership (KIP-345): a member with a group_instance_id stops without leaving, and a
/// new process with the same id gets the same partitions back without a rebalance (the other
/// member's generation doesn't move). A second live process with the same id fences the first,
/// which reports FENCED_INSTANCE_ID instead of fighting over the id.
fn static_member_restarts_without_a_rebalance_and_a_duplicate_is_fenced(b: &Broker) {
    use common::groups::spawn_member;
    use common::wait_until;
    use plainkafka::ErrorCode;

    let name = new_topic(b, "static", 6);
    let group = unique_topic("static-group");
    let client = common::scenarios::client(b);
    let build = |instance: &str| {
        client
            .balanced_consumer(&group, &[&name])
            .group_instance_id(instance)
            .session_timeout(Duration::from_secs(20))
            .heartbeat_interval(Duration::from_millis(300))
            .rebalance_timeout(Duration::from_secs(20))
            .consumer_timeout(Some(Duration::from_millis(100)))
            .build()
            .expect("member")
    };
    let a = spawn_member(build("a"), name.clone());
    let other = spawn_member(build("b"), name.clone());
    wait_until("two static members to split the topic", Duration::from_secs(60), || {
        let (va, vb) = (a.view(), other.view());
        va.generation == vb.generation && va.partitions.len() == 3 && vb.partitions.len() == 3
    });
    let (before, generation) = (a.view().partitions, other.view().generation);
    a.leave(); // a static member doesn't send LeaveGroup
    let again = spawn_member(build("a"), name.clone());
    wait_until("the restarted member to get its partitions back", Duration::from_secs(30), || {
        again.view().partitions == before
    });
    assert_eq!(other.view().generation, generation, "no rebalance for a static member's restart");

    // A second live process with the same instance id: the coordinator fences the older one.
    let mut older = build("c");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while older.member_id().is_none() {
        assert!(std::time::Instant::now() < deadline, "the member did not join");
        older.consume().expect("consume");
    }
    let newest = spawn_member(build("c"), name.clone());
    let fenced = loop {
        assert!(std::time::Instant::now() < deadline, "the older duplicate was not fenced");
        if let Err(e) = older.consume() {
            break e;
        }
    };
    assert_eq!(fenced.code(), Some(ErrorCode::FENCED_INSTANCE_ID), "{fenced}");
    assert!(older.consume().expect("stopped").is_none(), "a fenced member stops instead of rejoining");
    drop((again, newest, other));
}

/// plainkafka's transactional producer: commit 50, abort 50, commit 50 over two partitions.
/// read_committed readers (Kafka's console consumer and plainkafka's) see the 100 committed,
/// read_uncommitted all 150. A second producer with the same transactional id fences the first:
/// the first's open transaction is aborted and its next call fails for good. The CLI writes all
/// of its input as one transaction.
fn plainkafka_transactions_read_by_java_and_plainkafka_and_a_zombie_is_fenced(b: &Broker) {
    use plainkafka::{ErrorCode, IsolationLevel, ProducerRecord};
    let name = new_topic(b, "ptxn", 2);
    let t_ = topic(b, &name);
    let t = Duration::from_secs(60);
    let txn_id = format!("{name}-id");
    let producer = t_.producer().transactional_id(&txn_id).build().expect("transactional producer");
    let refused = producer.produce(ProducerRecord::new("outside")).unwrap_err();
    assert!(refused.to_string().contains("no transaction is open"), "{refused}");
    for (prefix, commit) in [("c1", true), ("ab", false), ("c2", true)] {
        producer.begin_transaction().expect("begin");
        for i in 0..50 {
            producer.produce(ProducerRecord::new(format!("{prefix}-{i}")).key(format!("k{i}"))).expect("produce");
        }
        if commit {
            producer.commit_transaction(t).expect("commit");
        } else {
            producer.flush(t).expect("flush: the aborted records are written, then aborted");
            producer.abort_transaction(t).expect("abort");
        }
    }
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let expected =
        |prefixes: &[&str]| sorted(prefixes.iter().flat_map(|p| (0..50).map(move |i| format!("{p}-{i}"))).collect());
    let read = |level| {
        let mut c = t_
            .simple_consumer()
            .isolation_level(level)
            .consumer_timeout(Some(Duration::from_millis(500)))
            .build()
            .expect("consumer");
        sorted(
            drain(&mut c).iter().map(|m| String::from_utf8_lossy(m.value().unwrap_or_default()).into_owned()).collect(),
        )
    };
    assert_eq!(read(IsolationLevel::ReadCommitted), expected(&["c1", "c2"]));
    assert_eq!(read(IsolationLevel::ReadUncommitted), expected(&["c1", "ab", "c2"]));
    let java = kafka_tool(
        &b.version,
        "org.apache.kafka.tools.consumer.ConsoleConsumer",
        &[
            "--bootstrap-server",
            &b.bootstrap,
            "--topic",
            &name,
            "--from-beginning",
            "--isolation-level",
            "read_committed",
            "--max-messages",
            "100",
            "--timeout-ms",
            "30000",
        ],
        None,
    );
    assert_eq!(sorted(java.lines().map(String::from).collect()), expected(&["c1", "c2"]), "Kafka's console consumer");

    // A zombie: the first producer has a transaction open when a second one with its id starts.
    producer.begin_transaction().expect("begin");
    producer.produce(ProducerRecord::new("zombie").key("k0")).expect("produce");
    producer.flush(t).expect("flush");
    let successor = t_.producer().transactional_id(&txn_id).build().expect("successor");
    let fenced = producer.commit_transaction(t).unwrap_err();
    assert!(
        matches!(
            fenced,
            plainkafka::Error::Broker { code: ErrorCode::PRODUCER_FENCED | ErrorCode::INVALID_PRODUCER_EPOCH, .. }
        ),
        "{fenced}"
    );
    assert!(producer.begin_transaction().is_err(), "fenced for good");
    successor.begin_transaction().expect("begin");
    successor.produce(ProducerRecord::new("successor").key("k0")).expect("produce");
    successor.commit_transaction(t).expect("commit");
    let after = read(IsolationLevel::ReadCommitted);
    assert!(after.contains(&"successor".to_string()) && !after.contains(&"zombie".to_string()), "{after:?}");

    // The CLI: standard input as one transaction.
    let lines: String = (0..10).map(|i| format!("cli-{i}\n")).collect();
    let out = bounded::output_within(
        std::process::Command::new(common::cli_bin()).args([
            "-b",
            &b.bootstrap,
            "produce",
            &name,
            "-X",
            &format!("transactional.id={name}-cli"),
        ]),
        lines.as_bytes(),
        bounded::CHILD_LIMIT,
    );
    assert!(out.status.success(), "{out:?}");
    let committed = read(IsolationLevel::ReadCommitted);
    assert_eq!(committed.iter().filter(|v| v.starts_with("cli-")).count(), 10);

    // A message the broker refuses (over its 1 MB limit) fails the transaction: commit says
    // so at once, abort works, and the next transaction goes through (a new epoch from the
    // coordinator resets the sequence numbers). Uncompressed, so the batch is as big as the message.
    let big = t_
        .producer()
        .transactional_id(&format!("{name}-big"))
        .max_request_size(3_000_000)
        .compression(plainkafka::Compression::None)
        .build()
        .expect("producer");
    big.begin_transaction().expect("begin");
    let mut huge = ProducerRecord::new(vec![b'x'; 2_000_000]);
    huge.partition = Some(0);
    big.produce(huge).expect("queued");
    let e = big.commit_transaction(t).unwrap_err();
    assert!(e.to_string().contains("TOO_LARGE"), "{e}");
    big.abort_transaction(t).expect("abort");
    big.begin_transaction().expect("begin again");
    let mut after = ProducerRecord::new("after-abort");
    after.partition = Some(0);
    big.produce(after).expect("produce");
    big.commit_transaction(t).expect("commit after the abort");
    let values = read(IsolationLevel::ReadCommitted);
    assert!(values.contains(&"after-abort".to_string()) && values.iter().all(|v| v.len() < 1000));
}

/// Transaction version 2 (KIP-890) where the broker runs it: Kafka 4's coordinator bumps the
/// producer epoch at every EndTxn (v5), so after a commit, an abort and a commit the epoch
/// Kafka's own transactions tool reports is 3; Kafka 3.9 runs version 1 and it stays 0.
fn transactions_bump_the_epoch_each_time_on_kafka_4_only(b: &Broker) {
    use plainkafka::ProducerRecord;
    let name = new_topic(b, "txv", 1);
    let id = format!("{name}-id");
    let producer = topic(b, &name).producer().transactional_id(&id).build().expect("producer");
    for commit in [true, false, true] {
        let ended = producer.transact(Duration::from_secs(30), |txn| {
            txn.produce(ProducerRecord::new("v"))?;
            if commit {
                Ok(())
            } else {
                Err(plainkafka::Error::Config("abort this one".into()))
            }
        });
        assert_eq!(ended.is_ok(), commit, "{ended:?}");
    }
    let out = kafka_tool(
        &b.version,
        "org.apache.kafka.tools.TransactionsCommand",
        &["--bootstrap-server", &b.bootstrap, "describe", "--transactional-id", &id],
        None,
    );
    let mut lines = out.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().expect("header").split_whitespace().collect();
    let row: Vec<&str> = lines.next().expect("row").split_whitespace().collect();
    let column = header.iter().position(|h| *h == "ProducerEpoch").expect("ProducerEpoch column");
    let expected = if b.version.starts_with("4.") { "3" } else { "0" };
    assert_eq!(row[column], expected, "{out}");
    // The epochs move on, and so does the output: both commits are there, the abort is not.
    let mut c =
        topic(b, &name).simple_consumer().consumer_timeout(Some(Duration::from_millis(500))).build().expect("c");
    assert_eq!(drain(&mut c).len(), 2);
}

/// The consumer group protocol (KIP-848) on Kafka 4: two plainkafka members, a librdkafka
/// member and Kafka's console consumer, all with `group.protocol=consumer`, join one group one
/// after the other while messages arrive; the coordinator splits the 6 partitions among them,
/// Kafka's tools report a consumer-protocol group, and no message is lost. Kafka 3.9 doesn't
/// offer the protocol: the member says so.
fn consumer_protocol_group_of_plainkafka_librdkafka_and_java(b: &Broker) {
    use common::groups::{java_member, rdkafka_member, spawn_member, Member};
    use common::wait_until;
    use plainkafka::group::GroupProtocol;
    use std::collections::BTreeSet;

    let name = new_topic(b, "kip848", 6);
    let group = unique_topic("kip848-group");
    let member = || {
        common::scenarios::client(b)
            .balanced_consumer(&group, &[&name])
            .group_protocol(GroupProtocol::Consumer)
            .auto_commit_interval(Duration::from_millis(300))
            .consumer_timeout(Some(Duration::from_millis(100)))
            .build()
            .expect("member")
    };
    if !b.version.starts_with("4.") {
        let mut m = member();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let err = loop {
            assert!(std::time::Instant::now() < deadline, "Kafka 3.9 has no consumer protocol by default");
            if let Err(e) = m.consume() {
                break e;
            }
        };
        assert!(err.to_string().contains("ConsumerGroupHeartbeat") && err.to_string().contains("classic"), "{err}");
        return;
    }
    let mut written = 0;
    let mut write = |n: usize| {
        let msgs = (written..written + n).map(|i| TestMsg::value((i % 6) as i32, format!("kip848-{i}")));
        produce(&b.bootstrap, &name, msgs, false);
        written += n;
    };

    let first: Member = spawn_member(member(), name.clone());
    write(300);
    wait_until("the first member to own all six partitions", Duration::from_secs(60), || {
        first.view().partitions.len() == 6
    });
    let second: Member = spawn_member(member(), name.clone());
    write(300);

    let rd = rdkafka_member(b, &group, &name, &[("group.protocol", "consumer")]);
    write(300);

    let java = java_member(b, &group, &name, "kip848-", &["group.protocol=consumer"]);
    write(300);

    let all = || {
        let mut v: Vec<String> = java.seen.lock().unwrap().clone();
        v.extend(rd.seen.lock().unwrap().iter().cloned());
        v.extend(first.seen.lock().unwrap().iter().cloned());
        v.extend(second.seen.lock().unwrap().iter().cloned());
        v
    };
    wait_until("the group to read all 1200 messages", Duration::from_secs(120), || {
        all().iter().collect::<BTreeSet<_>>().len() == 1200
    });
    // The coordinator splits the partitions among the four: every member gets some.
    let describe = || {
        kafka_tool(
            &b.version,
            "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
            &["--bootstrap-server", &b.bootstrap, "--describe", "--group", &group, "--members"],
            None,
        )
    };
    wait_until("four members sharing the six partitions", Duration::from_secs(120), || {
        let out = describe();
        let counts: Vec<usize> = out
            .lines()
            .filter(|l| l.starts_with(&group))
            .filter_map(|l| l.split_whitespace().last()?.parse().ok())
            .collect();
        counts.len() == 4 && counts.iter().sum::<usize>() == 6 && counts.iter().all(|&n| n >= 1)
    });
    let (a, b2) = (first.view().partitions.len(), second.view().partitions.len());
    assert!(a >= 1 && b2 >= 1 && a + b2 <= 4, "plainkafka's members own {a} and {b2}");
    let listed = kafka_tool(
        &b.version,
        "org.apache.kafka.tools.GroupsCommand",
        &["--bootstrap-server", &b.bootstrap, "--list"],
        None,
    );
    let line = listed.lines().find(|l| l.starts_with(&group)).unwrap_or_else(|| panic!("{listed}"));
    assert!(
        line.to_ascii_lowercase().contains("consumer") && !line.to_ascii_lowercase().contains("classic"),
        "{listed}"
    );
    // And plainkafka's `groups` (ListGroups v5) says the same.
    let out = bounded::output_within(
        std::process::Command::new(common::cli_bin()).args(["-b", &b.bootstrap, "groups"]),
        b"",
        bounded::CHILD_LIMIT,
    );
    let ours = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(ours.lines().any(|l| l.starts_with(&group) && l.ends_with(" consumer consumer")), "{ours}");
    // `group` describes it with ConsumerGroupDescribe (DescribeGroups knows classic groups only).
    let out = bounded::output_within(
        std::process::Command::new(common::cli_bin()).args(["-b", &b.bootstrap, "group", &group]),
        b"",
        bounded::CHILD_LIMIT,
    );
    let described = String::from_utf8_lossy(&out.stdout).into_owned();
    let first_line = described.lines().next().unwrap_or_default();
    assert!(first_line.ends_with("protocol uniform members 4"), "{described}");
    assert_eq!(described.lines().filter(|l| l.starts_with("member ")).count(), 4, "{described}");

    first.leave();
    second.leave();
    rd.leave();
    drop(java);
}

/// Kafka 4 upgrades a classic group online: two plainkafka members of a classic group are
/// replaced one at a time by members speaking the consumer protocol (KIP-848), messages
/// arriving throughout; the group reads every message, ends as a consumer-protocol group, and
/// the last member resumes from what the classic members committed.
fn classic_group_upgraded_member_by_member_to_the_consumer_protocol(b: &Broker) {
    use common::groups::{spawn_member, Member};
    use common::wait_until;
    use plainkafka::group::GroupProtocol;
    use std::collections::BTreeSet;
    let name = new_topic(b, "upgrade", 4);
    let group = unique_topic("upgrade-group");
    let member = |protocol| -> Member {
        let c = common::scenarios::client(b)
            .balanced_consumer(&group, &[&name])
            .group_protocol(protocol)
            .session_timeout(Duration::from_secs(10))
            .heartbeat_interval(Duration::from_millis(300))
            .auto_commit_interval(Duration::from_millis(300))
            .consumer_timeout(Some(Duration::from_millis(100)))
            .build()
            .expect("member");
        spawn_member(c, name.clone())
    };
    let mut written = 0;
    let mut write = |n: usize| {
        let msgs = (written..written + n).map(|i| TestMsg::value((i % 4) as i32, format!("upgrade-{i}")));
        produce(&b.bootstrap, &name, msgs, false);
        written += n;
    };
    let mut seen: Vec<String> = Vec::new();
    let classic_a = member(GroupProtocol::Classic);
    let classic_b = member(GroupProtocol::Classic);
    write(200);
    wait_until("the classic members to share the partitions", Duration::from_secs(60), || {
        classic_a.view().partitions.len() == 2 && classic_b.view().partitions.len() == 2
    });
    // One member at a time moves to the consumer protocol, as a rolling upgrade would.
    // What it read up to its last commit counts: collected once it has stopped.
    seen.extend(classic_b.leave_with_reads());
    let new_b = member(GroupProtocol::Consumer);
    write(200);
    wait_until("the mixed group to share the partitions", Duration::from_secs(60), || {
        new_b.view().partitions.len() == 2 && classic_a.view().partitions.len() == 2
    });
    seen.extend(classic_a.leave_with_reads());
    let new_a = member(GroupProtocol::Consumer);
    write(200);
    let all = |seen: &Vec<String>| {
        let mut v = seen.clone();
        v.extend(new_a.seen.lock().unwrap().iter().cloned());
        v.extend(new_b.seen.lock().unwrap().iter().cloned());
        v.into_iter().collect::<BTreeSet<_>>()
    };
    wait_until("the upgraded group to read all 600 messages", Duration::from_secs(120), || all(&seen).len() == 600);
    wait_until("the two new members to share the partitions", Duration::from_secs(60), || {
        new_a.view().partitions.len() == 2 && new_b.view().partitions.len() == 2
    });
    let listed = kafka_tool(
        &b.version,
        "org.apache.kafka.tools.GroupsCommand",
        &["--bootstrap-server", &b.bootstrap, "--list"],
        None,
    );
    let line = listed.lines().find(|l| l.starts_with(&group)).unwrap_or_else(|| panic!("{listed}"));
    assert!(line.contains("Consumer"), "the group is a consumer-protocol group now: {listed}");
    // Handing over through commits, not from the start: far fewer reads than three passes.
    let reads = seen.len() + new_a.seen.lock().unwrap().len() + new_b.seen.lock().unwrap().len();
    assert!(reads < 1000, "{reads} reads of 600 messages");
    new_a.leave();
    new_b.leave();
}

/// Under the consumer protocol, a member subscribed by regex reads every partition of the two
/// matching topics and nothing of a third; as a static member it leaves to come back (epoch
/// -2), and its successor with the same instance id gets the same partitions and resumes from
/// the commits: it reads exactly the messages written since.
fn consumer_protocol_regex_subscription_and_static_member(b: &Broker) {
    use plainkafka::group::GroupProtocol;
    use std::collections::BTreeSet;
    let prefix = unique_topic("rx");
    let (a, bb) = (format!("{prefix}-a"), format!("{prefix}-b"));
    for t in [&a, &bb] {
        common::create_topic(b, t, 2);
    }
    let other = new_topic(b, "rxother", 2);
    let write = |tag: &str| {
        for t in [&a, &bb, &other] {
            produce(
                &b.bootstrap,
                t,
                (0..2).flat_map(|p| (0..5).map(move |i| TestMsg::value(p, format!("{t}-{tag}-{p}-{i}")))),
                false,
            );
        }
    };
    write("first");
    let group = unique_topic("rx-group");
    let member = || {
        common::scenarios::client(b)
            .balanced_consumer(&group, &[])
            .group_protocol(GroupProtocol::Consumer)
            .subscribe_regex(&format!("{prefix}-.*"))
            .group_instance_id("rx-static-1")
            .auto_commit_interval(Duration::from_millis(200))
            .consumer_timeout(Some(Duration::from_millis(200)))
            .build()
            .expect("member")
    };
    let read = |c: &mut plainkafka::BalancedConsumer, n: usize| {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let mut got = BTreeSet::new();
        while got.len() < n {
            assert!(std::time::Instant::now() < deadline, "read {} of {n}: {got:?}", got.len());
            if let Some(m) = c.consume().expect("consume") {
                got.insert(String::from_utf8_lossy(m.value().unwrap_or_default()).into_owned());
            }
        }
        got
    };
    let mut c = member();
    let first = read(&mut c, 20);
    assert!(first.iter().all(|v| v.starts_with(&a) || v.starts_with(&bb)), "{first:?}");
    let mut owned: Vec<(String, i32)> =
        c.assignment().iter().flat_map(|(t, ps)| ps.iter().map(move |p| (t.clone(), *p))).collect();
    owned.sort();
    assert_eq!(owned, [(a.clone(), 0), (a.clone(), 1), (bb.clone(), 0), (bb.clone(), 1)]);
    assert!(c.consume().expect("consume").is_none(), "nothing of {other}");
    drop(c); // commits, and leaves to come back
    write("second");
    let mut c = member();
    let second = read(&mut c, 20);
    assert!(second.iter().all(|v| v.contains("-second-")), "resumed from the commits: {second:?}");
    assert_eq!(c.assignment().values().map(Vec::len).sum::<usize>(), 4);
}

/// Share groups (KIP-932): two plainkafka members and Kafka's console share consumer read one
/// topic as a queue. Every record is read, and, acknowledged (accepted) as it is, by exactly
/// one of them.
fn share_group_members_and_java_read_a_topic_as_a_queue(b: &Broker) {
    use std::collections::BTreeMap;
    use std::io::BufRead;
    use std::sync::{Arc, Mutex};
    let name = new_topic(b, "share", 3);
    let group = unique_topic("share-group");
    common::share::share_group_from_the_start(b, &group, &[]);
    let msgs = (0..300).map(|i| TestMsg::value(i % 3, format!("share-{i}")));
    produce(&b.bootstrap, &name, msgs, false);

    // No consumer timeout: each member blocks in `consume` until its stop handle ends it.
    let member = |who: &'static str, seen: Arc<Mutex<Vec<(String, &'static str)>>>| {
        let mut c = common::scenarios::client(b).share_consumer(&group, &[&name]).build().expect("share consumer");
        let stop = c.stop_handle();
        let thread = std::thread::spawn(move || {
            while let Some(m) = c.consume().expect("consume") {
                seen.lock().unwrap().push((String::from_utf8_lossy(m.value().unwrap_or_default()).into_owned(), who));
            }
        });
        (thread, stop)
    };
    let seen = Arc::new(Mutex::new(Vec::new()));
    let a = member("plainkafka-a", Arc::clone(&seen));
    let bm = member("plainkafka-b", Arc::clone(&seen));
    let mut java = std::process::Command::new("java")
        .args([
            "-Xmx256m",
            "-cp",
            &common::kafka_classpath(&b.version),
            "org.apache.kafka.tools.consumer.ConsoleShareConsumer",
        ])
        .args(["--bootstrap-server", &b.bootstrap, "--topic", &name, "--group", &group, "--timeout-ms", "120000"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("java share consumer");
    bounded::track(java.id());
    let out = java.stdout.take().expect("stdout");
    let js = Arc::clone(&seen);
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(|l| l.ok()) {
            if line.starts_with("share-") {
                js.lock().unwrap().push((line, "java"));
            }
        }
    });
    common::wait_until("the share group to read all 300 records", Duration::from_secs(120), || {
        seen.lock().unwrap().iter().map(|(v, _)| v.clone()).collect::<std::collections::BTreeSet<_>>().len() == 300
    });
    for (thread, stop) in [a, bm] {
        stop.stop();
        thread.join().expect("member");
    }
    let _ = java.kill();
    let _ = java.wait();
    bounded::untrack(java.id());
    reader.join().expect("java reader");
    let seen = seen.lock().unwrap().clone();
    let mut per: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, who) in &seen {
        *per.entry(who).or_default() += 1;
    }
    eprintln!("share group: {} reads of 300 records: {per:?}", seen.len());
    assert_eq!(seen.len(), 300, "an accepted record is never delivered again: {per:?}");
}
