//! Shared test support: real brokers started once per test binary, an independent producer
//! (librdkafka through the rdkafka crate) to write test data, and waiting helpers.
#![allow(dead_code)] // each test binary uses a different part of this module

#[path = "../../../tests/support/bounded.rs"]
pub mod bounded;
pub mod cluster;
pub mod groups;
pub mod scenarios;
pub mod security;
pub mod share;
pub mod transactions;

/// One `#[test]` per named scenario in [`scenarios`], each running `let $pat = $setup;` and then
/// the scenario against `$broker`. The invoking module must have `scenarios` in scope.
#[allow(unused_macros)] // not every test binary runs scenarios
macro_rules! scenario_tests {
    (let $pat:pat = $setup:expr; $broker:ident; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let $pat = $setup;
                scenarios::$name(&$broker);
            }
        )*
    };
}

/// The scenarios every broker runs.
#[allow(unused_macros)]
macro_rules! every_broker_scenario {
    (let $pat:pat = $setup:expr; $broker:ident) => {
        scenario_tests!(let $pat = $setup; $broker;
            guide_three_consumers,
            start_rules,
            round_trip_100k,
            rdkafka_data_exact,
            topic_offsets,
            stop_handle_unblocks,
            batches_larger_than_the_fetch_size,
            compressed_data_from_rdkafka,
            producer_round_trip_every_codec,
            sync_send_returns_offsets,
        );
    };
}

/// The exactly-once scenarios in [`transactions`]. The invoking module must have
/// `transactions` in scope.
#[allow(unused_macros)]
macro_rules! transaction_scenarios {
    (let $pat:pat = $setup:expr; $broker:ident) => {
        transaction_scenarios!(let $pat = $setup; $broker;
            consume_transform_produce_commits_offsets_in_the_transaction,
            transact_from_rewinds_after_an_abort_or_a_panic,
            exactly_once_loop_killed_and_restarted_outputs_each_input_once,
            killed_transactional_cli_leaves_nothing_visible,
            read_committed_skips_what_librdkafka_transactions_aborted,
        );
    };
    (let $pat:pat = $setup:expr; $broker:ident; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let $pat = $setup;
                transactions::$name(&$broker);
            }
        )*
    };
}

/// One `#[test]` per share group scenario in [`share`], each on `$setup`. The invoking module
/// must have `share` in scope.
#[allow(unused_macros)]
macro_rules! share_scenarios {
    (let $pat:pat = $setup:expr; $broker:ident) => {
        share_scenarios!(let $pat = $setup; $broker;
            share_group_released_records_come_back_until_the_delivery_limit,
            share_group_member_killed_holding_records_loses_them_to_another_after_the_lock,
            share_group_renewed_records_stay_with_their_member_past_the_lock,
        );
    };
    (let $pat:pat = $setup:expr; $broker:ident; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let $pat = $setup;
                share::$name(&$broker);
            }
        )*
    };
}

/// One `#[test]` per check of the security matrix in [`security`], each on `$setup` (anything
/// that derefs to a `SecureCluster`).
#[allow(unused_macros)]
macro_rules! security_matrix {
    ($setup:expr) => {
        security_matrix!($setup;
            every_protocol_and_mechanism_round_trips,
            a_wrong_password_fails_fast,
            an_unknown_ca_fails_fast,
            a_certificate_for_another_name_fails_unless_verification_is_off,
            mixing_up_tls_and_plaintext_fails_fast,
            a_mechanism_not_offered_is_named_with_the_offered_ones,
        );
    };
    ($setup:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let cluster = $setup;
                common::security::$name(&cluster);
            }
        )*
    };
}

/// The consumer-group scenarios. The invoking module must have `groups` in scope. The
/// split-kill-leave scenario runs once per assignor and needs the CLI (a member in its own
/// process, to kill).
#[allow(unused_macros)]
macro_rules! group_scenarios {
    (let $pat:pat = $setup:expr; $broker:ident) => {
        #[test]
        fn group_split_kill_and_leave_range() {
            let $pat = $setup;
            groups::group_split_kill_and_leave(&$broker, plainkafka::Assignor::Range);
        }

        #[test]
        fn group_split_kill_and_leave_roundrobin() {
            let $pat = $setup;
            groups::group_split_kill_and_leave(&$broker, plainkafka::Assignor::RoundRobin);
        }

        #[test]
        fn group_split_kill_and_leave_cooperative_sticky() {
            let $pat = $setup;
            groups::group_split_kill_and_leave(&$broker, plainkafka::Assignor::CooperativeSticky);
        }

        #[test]
        fn group_reset_on_start_applies_to_the_first_assignment_only() {
            let $pat = $setup;
            groups::group_reset_on_start_applies_to_the_first_assignment_only(&$broker);
        }

        #[test]
        fn group_stop_handle_unblocks() {
            let $pat = $setup;
            groups::group_stop_handle_unblocks(&$broker);
        }
    };
}

use rdkafka::config::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;
use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Which implementation a broker is: tests adapt to known quirks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Kafka,
    Tansu,
    RdkafkaMock,
    /// plainkafka's own MockCluster.
    Mock,
}

/// A running broker.
#[derive(Debug, Clone)]
pub struct Broker {
    pub kind: Kind,
    pub version: String,
    pub bootstrap: String,
}

/// The repository's root: the start scripts, the Kafka jars and the brokers' logs live under it.
pub fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// Where scripts/kafka/start.sh runs Kafka `version` listening on `port`: its `pid` file and
/// its log dir (`data/TOPIC-PARTITION/`).
pub fn run_dir(version: &str, port: u16) -> PathBuf {
    root().join(format!("target/kafka/run-{version}-{port}"))
}

/// The `plainkafka` CLI built by the main package. `cargo test --workspace` builds it before any
/// test runs (the main package's own CLI tests need it); a binary of another package's isn't
/// handed to this one by cargo, so it is looked up beside this test binary's directory.
pub fn cli_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test binary path");
        // target/<profile>/deps/<test> → target/<profile>/plainkafka
        let bin = exe.parent().and_then(|deps| deps.parent()).expect("target dir").join("plainkafka");
        assert!(
            bin.exists(),
            "{} is missing: run these tests with `cargo test --workspace --all-features`, which builds it",
            bin.display()
        );
        bin
    })
    .clone()
}

pub fn init_logging() {
    let _ = env_logger::builder().is_test(true).try_init();
    bounded::watch_this_test();
}

/// A loopback port with the next one free too (Kafka's controller listens on port + 1).
pub fn free_port_pair() -> u16 {
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        if port < 65000 && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

fn run_start_script(args: &[&str]) -> Result<(), String> {
    // Jar downloads on a cold cache take a while; a start that hangs past this fails.
    let out =
        bounded::output_within(Command::new("bash").args(args).current_dir(root()), b"", Duration::from_secs(600));
    if out.status.success() {
        return Ok(());
    }
    Err(format!("{args:?} failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// An Apache Kafka broker of `version`, started on first use and stopped when this test binary
/// exits. A failed start is remembered: every test that needs the broker fails with its log.
pub fn kafka(version: &str) -> Broker {
    bounded::watch_this_test();
    static STARTED: OnceLock<Mutex<HashMap<String, Result<Broker, String>>>> = OnceLock::new();
    let mut map = STARTED.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    map.entry(version.to_string())
        .or_insert_with(|| {
            let port = free_port_pair();
            let pid = std::process::id().to_string();
            run_start_script(&["scripts/kafka/start.sh", version, &port.to_string(), &pid])?;
            Ok(Broker { kind: Kind::Kafka, version: version.to_string(), bootstrap: format!("127.0.0.1:{port}") })
        })
        .clone()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A tansu broker, started on first use and stopped when this test binary exits.
pub fn tansu() -> Broker {
    bounded::watch_this_test();
    static STARTED: OnceLock<Result<Broker, String>> = OnceLock::new();
    STARTED
        .get_or_init(|| {
            let port = free_port_pair();
            let pid = std::process::id().to_string();
            run_start_script(&["scripts/tansu/start.sh", &port.to_string(), &pid])?;
            Ok(Broker { kind: Kind::Tansu, version: "0.6.0".into(), bootstrap: format!("127.0.0.1:{port}") })
        })
        .clone()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A topic name no other test uses.
pub fn unique_topic(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// Fetches a Kafka version's jars (once) without starting a broker, for its client tools.
pub fn kafka_jars(version: &str) {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| run_start_script(&["scripts/kafka/start.sh", version, "fetch"])).clone().expect("kafka jars");
}

/// Classpath of a Kafka version's jars (for its own tools).
pub fn kafka_classpath(version: &str) -> String {
    format!("{}/target/kafka/{version}/libs/*", root().display())
}

/// Runs one of Kafka's own tools (a main class) and returns its stdout; a failure fails the
/// test.
pub fn kafka_tool(version: &str, class: &str, args: &[&str], stdin: Option<&str>) -> String {
    try_kafka_tool(version, class, args, stdin).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs one of Kafka's own tools; `Err` with its stderr when it exits unsuccessfully.
pub fn try_kafka_tool(version: &str, class: &str, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
    use std::io::Write;
    let mut cmd = Command::new("java");
    cmd.args(["-Xmx256m", "-cp", &kafka_classpath(version), class]).args(args);
    cmd.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn java");
    if let Some(input) = stdin {
        child.stdin.as_mut().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    }
    drop(child.stdin.take());
    // A tool waiting for data that never comes must not hang the test run.
    let (out, killed) = bounded::wait_output_within(child, Duration::from_secs(120));
    if killed {
        return Err(format!("{class} {args:?} was still running after 120 s and was killed"));
    }
    if !out.status.success() {
        return Err(format!("{class} {args:?} failed ({}):\n{}", out.status, String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Creates a topic. Kafka: with its own TopicCommand; the librdkafka mock: through its API;
/// tansu: by producing (it creates every topic with 4 partitions), so `partitions` must be 4.
pub fn create_topic(broker: &Broker, topic: &str, partitions: i32) {
    match broker.kind {
        Kind::Kafka => {
            kafka_tool(
                &broker.version,
                "org.apache.kafka.tools.TopicCommand",
                &[
                    "--bootstrap-server",
                    &broker.bootstrap,
                    "--create",
                    "--topic",
                    topic,
                    "--partitions",
                    &partitions.to_string(),
                    "--replication-factor",
                    "1",
                ],
                None,
            );
        }
        // Both create a topic on first use, with 4 partitions.
        Kind::Tansu | Kind::RdkafkaMock => assert_eq!(partitions, 4, "auto-created topics have 4 partitions"),
        // CreateTopics, through plainkafka's client.
        Kind::Mock => plainkafka::KafkaClient::new(&broker.bootstrap)
            .and_then(|c| c.create_topic(topic, partitions, 1))
            .expect("create topic"),
    }
}

/// A message for the rdkafka producer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestMsg {
    pub partition: i32,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub timestamp: Option<i64>,
}

impl TestMsg {
    pub fn value(partition: i32, v: impl Into<Vec<u8>>) -> TestMsg {
        TestMsg { partition, key: None, value: Some(v.into()), headers: vec![], timestamp: None }
    }
}

struct Counting {
    failed: AtomicUsize,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for Counting {}
impl ProducerContext for Counting {
    type DeliveryOpaque = ();
    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = r {
            self.failed.fetch_add(1, Ordering::Relaxed);
            self.first_error.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(|| e.to_string());
        }
    }
}

/// Writes `msgs` with librdkafka and waits until every one is acknowledged. With
/// `one_per_batch`, each message goes in its own batch (tansu's ListOffsets(latest) is only
/// right for single-record batches).
pub fn produce(bootstrap: &str, topic: &str, msgs: impl IntoIterator<Item = TestMsg>, one_per_batch: bool) {
    produce_with(bootstrap, topic, msgs, one_per_batch, &[]);
}

/// [`produce`] with extra librdkafka settings, such as `compression.codec`.
pub fn produce_with(
    bootstrap: &str,
    topic: &str,
    msgs: impl IntoIterator<Item = TestMsg>,
    one_per_batch: bool,
    settings: &[(&str, &str)],
) {
    let ctx = Counting { failed: AtomicUsize::new(0), first_error: Mutex::new(None) };
    let mut cfg = ClientConfig::new();
    for (k, v) in settings {
        cfg.set(*k, *v);
    }
    cfg.set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "60000")
        .set("queue.buffering.max.messages", "1000000");
    if one_per_batch {
        cfg.set("batch.num.messages", "1").set("max.in.flight", "1");
    }
    let producer: BaseProducer<Counting> = cfg.create_with_context(ctx).expect("producer");
    let mut sent = 0usize;
    for m in msgs {
        let mut headers = OwnedHeaders::new();
        for (k, v) in &m.headers {
            headers = headers.insert(Header { key: k, value: v.as_deref() });
        }
        let mut rec: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic).partition(m.partition).headers(headers);
        if let Some(k) = &m.key {
            rec = rec.key(k.as_slice());
        }
        if let Some(v) = &m.value {
            rec = rec.payload(v.as_slice());
        }
        if let Some(ts) = m.timestamp {
            rec = rec.timestamp(ts);
        }
        let mut rec = rec;
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((e, back)) => {
                    assert!(
                        matches!(
                            e,
                            rdkafka::error::KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull)
                        ),
                        "{e}"
                    );
                    producer.poll(Duration::from_millis(10));
                    rec = back;
                }
            }
        }
        sent += 1;
        if one_per_batch && sent.is_multiple_of(100) {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(120)).expect("flush");
    let ctx = producer.context();
    assert_eq!(
        ctx.failed.load(Ordering::Relaxed),
        0,
        "rdkafka failed to deliver: {:?}",
        ctx.first_error.lock().unwrap_or_else(|e| e.into_inner())
    );
}

/// Produces `n` values `"{prefix}-{i}"` spread over `partitions` round-robin.
/// With `exact_watermark`, tansu gets one record per batch so its high watermark is right.
pub fn produce_numbered(
    broker: &Broker,
    topic: &str,
    partitions: i32,
    prefix: &str,
    range: std::ops::Range<usize>,
    exact_watermark: bool,
) {
    let msgs = range.map(|i| TestMsg::value((i % partitions as usize) as i32, format!("{prefix}-{i}")));
    produce(&broker.bootstrap, topic, msgs, exact_watermark && broker.kind == Kind::Tansu);
}

/// Waits until `f` holds, polling; fails the test after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
