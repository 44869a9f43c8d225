//! Apache Kafka killed (SIGKILL) and restarted under a running producer. A broker of its own,
//! in a test binary of its own, so no other test sees it go down.

mod common;

use common::scenarios::{drain, read_n};
use common::{init_logging, root, run_dir};
use plainkafka::{KafkaClient, ProducerRecord};
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

const VERSION: &str = "4.4.0";

fn start(port: u16, mode: &str) {
    let pid = std::process::id().to_string();
    let out = common::bounded::output_within(
        Command::new("bash")
            .args(["scripts/kafka/start.sh", VERSION, &port.to_string(), &pid, mode])
            .current_dir(root()),
        b"",
        Duration::from_secs(600),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn kill(port: u16) {
    let pid = std::fs::read_to_string(run_dir(VERSION, port).join("pid")).expect("pid file");
    let st = Command::new("kill").args(["-9", pid.trim()]).status().expect("kill");
    assert!(st.success());
}

#[test]
fn producer_resumes_after_the_broker_restarts_and_loses_nothing_acknowledged() {
    init_logging();
    let port = common::free_port_pair();
    start(port, "fresh");
    let bootstrap = format!("127.0.0.1:{port}");
    let client = KafkaClient::builder(&bootstrap).request_timeout(Duration::from_secs(5)).build().expect("client");
    let t = client.topic("restart").expect("topic");
    let mut p = t
        .producer()
        .enable_idempotence(true)
        .delivery_reports(true)
        .max_retries(200)
        .retry_backoff(Duration::from_millis(100))
        .ack_timeout(Duration::from_secs(5))
        .min_queued_messages(200)
        .build()
        .expect("producer");
    for i in 0..5000 {
        p.produce(ProducerRecord::new(format!("{i}"))).expect("produce");
    }
    p.flush(Duration::from_secs(60)).expect("before the crash");
    kill(port);
    // Written while the broker is down: queued and retried until it is back.
    for i in 5000..10_000 {
        p.produce(ProducerRecord::new(format!("{i}"))).expect("produce");
    }
    start(port, "restart");
    p.flush(Duration::from_secs(120)).expect("after the restart");
    let mut acked = BTreeSet::new();
    while let Some(r) = p.get_delivery_report(None) {
        if r.result.is_ok() {
            acked.insert(String::from_utf8(r.record.value.expect("value")).expect("utf8"));
        }
    }
    assert_eq!(acked.len(), 10_000, "every message acknowledged in the end");
    p.close(Duration::from_secs(10)).expect("close");

    let mut c = t.simple_consumer().consumer_timeout(Some(Duration::from_secs(2))).build().expect("consumer");
    let got = read_n(&mut c, 10_000, Duration::from_secs(60));
    let extra = drain(&mut c);
    let read: BTreeSet<String> =
        got.iter().chain(&extra).map(|m| String::from_utf8_lossy(m.value().unwrap_or_default()).into_owned()).collect();
    let lost: Vec<&String> = acked.difference(&read).collect();
    assert!(lost.is_empty(), "{} acknowledged messages lost, e.g. {:?}", lost.len(), &lost[..lost.len().min(5)]);
    assert!(extra.is_empty(), "{} duplicates despite idempotence", extra.len());
}
