//! Against Apache Kafka itself: the newest 4.x and a 3.9.x, single-node KRaft brokers started
//! by scripts/kafka/start.sh (once for this test binary), and Kafka's own tools as the Java
//! client to interoperate with.

#[macro_use]
mod common;

// The newest 4.x and a 3.9.x.

macro_rules! kafka_suite {
    ($modname:ident, $version:expr) => {
        mod $modname {
            use super::common::{init_logging, kafka, scenarios, Broker};

            fn broker() -> Broker {
                init_logging();
                kafka($version)
            }

            every_broker_scenario!(let b = broker(); b);

            #[test]
            fn console_producer_data_read_exactly() {
                super::console_producer_data_read_exactly(&broker());
            }

            #[test]
            fn console_producer_compressed_data_read_exactly() {
                super::console_producer_compressed_data_read_exactly(&broker());
            }

            #[test]
            fn consumer_groups_tool_reports_our_commits() {
                super::consumer_groups_tool_reports_our_commits(&broker());
            }
        }
    };
}

kafka_suite!(kafka_4, "4.4.0");
kafka_suite!(kafka_3_9, "3.9.1");

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
