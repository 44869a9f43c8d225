//! The fault matrix on a real 3-node Kafka cluster (KRaft, replication factor 3,
//! min.insync.replicas 2): under each fault, an idempotent `acks=all` producer loses nothing,
//! duplicates nothing and keeps each partition's order; a SimpleConsumer reads every message
//! once, in order; a BalancedConsumer group of two reads every message (a rebalance may repeat
//! some, never skip one). Each test prints how long the producer and the readers stalled.
//!
//! The faults run one at a time (they share the cluster), each from a whole cluster: every
//! node up and every replica in sync.

mod common;

use common::cluster::{Cluster, JavaPeer};
use common::{init_logging, unique_topic, wait_until};
use plainkafka::{KafkaClient, OffsetReset, Producer, ProducerRecord};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const PARTITIONS: i32 = 3;
/// Messages per second the producer writes, spread over the partitions.
const RATE: u64 = 600;
/// How long the producer writes: the fault comes after `FAULT_AT`.
const PRODUCE_FOR: Duration = Duration::from_secs(16);
const FAULT_AT: Duration = Duration::from_secs(3);
/// What the clients use: short enough that a hung broker is noticed within a test.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Connection setup: a restarting broker accepts connections seconds before it answers.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// One fault at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn client(bootstrap: &str) -> KafkaClient {
    KafkaClient::builder(bootstrap)
        .request_timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .retry_backoff(Duration::from_millis(100))
        .build()
        .expect("client")
}

/// When each message (by partition, in order) was seen, for the stall measure.
type Seen = Arc<Mutex<BTreeMap<i32, Vec<(u64, Instant)>>>>;

/// The longest any message waited: from `since[value]` to when it was first seen.
fn longest_wait(seen: &BTreeMap<i32, Vec<(u64, Instant)>>, since: &[Instant]) -> Duration {
    let mut first: BTreeMap<u64, Instant> = BTreeMap::new();
    for (v, at) in seen.values().flatten() {
        first.entry(*v).and_modify(|f| *f = (*f).min(*at)).or_insert(*at);
    }
    first.iter().map(|(v, at)| at.saturating_duration_since(since[*v as usize])).max().unwrap_or_default()
}

fn parse(value: Option<&[u8]>) -> u64 {
    std::str::from_utf8(value.expect("value")).expect("utf8").parse().expect("number")
}

/// A reader thread: a SimpleConsumer, or a BalancedConsumer member.
struct Reader {
    seen: Seen,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Reader {
    fn simple(bootstrap: &str, topic: &str) -> Reader {
        let c = client(bootstrap);
        let t = c.topic(topic).expect("topic");
        let consumer = t
            .simple_consumer()
            .auto_offset_reset(OffsetReset::Earliest)
            .consumer_timeout(Some(Duration::from_millis(200)))
            .build()
            .expect("simple consumer");
        let mut consumer = consumer;
        Reader::spawn("simple consumer", move || consumer.consume())
    }

    fn member(bootstrap: &str, topic: &str, group: &str) -> Reader {
        let consumer = client(bootstrap)
            .balanced_consumer(group, &[topic])
            .session_timeout(Duration::from_secs(10))
            .heartbeat_interval(Duration::from_millis(500))
            .rebalance_timeout(Duration::from_secs(20))
            .rebalance_max_retries(u32::MAX)
            .auto_offset_reset(OffsetReset::Earliest)
            .auto_commit_interval(Duration::from_millis(500))
            .consumer_timeout(Some(Duration::from_millis(200)))
            .build()
            .expect("member");
        let mut consumer = consumer;
        Reader::spawn("group member", move || consumer.consume())
    }

    /// Calls `consume` until stopped, recording each message; any error fails the test.
    fn spawn(
        what: &'static str,
        mut consume: impl FnMut() -> plainkafka::Result<Option<plainkafka::Message>> + Send + 'static,
    ) -> Reader {
        let stop = Arc::new(AtomicBool::new(false));
        let seen: Seen = Arc::default();
        let (stopped, log) = (Arc::clone(&stop), Arc::clone(&seen));
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::Acquire) {
                match consume() {
                    Ok(Some(m)) => record(&log, m.partition(), parse(m.value())),
                    Ok(None) => {}
                    Err(e) => panic!("{what}: {e}"),
                }
            }
        });
        Reader { seen, stop, thread: Some(thread) }
    }

    fn values(&self) -> BTreeSet<u64> {
        self.seen.lock().unwrap().values().flatten().map(|(v, _)| *v).collect()
    }

    /// Stops the thread; a panic in it fails the test here.
    fn finish(mut self) -> BTreeMap<i32, Vec<(u64, Instant)>> {
        self.stop.store(true, Ordering::Release);
        if let Err(e) = self.thread.take().expect("running").join() {
            std::panic::resume_unwind(e);
        }
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn record(seen: &Seen, partition: i32, v: u64) {
    seen.lock().unwrap().entry(partition).or_default().push((v, Instant::now()));
}

/// What the producer side of a run saw.
struct Produced {
    /// Acknowledged values by partition, in acknowledgement order, with when.
    acked: BTreeMap<i32, Vec<(u64, Instant)>>,
    failed: Vec<String>,
    total: u64,
    /// When each message was handed to `produce`, by value.
    sent_at: Vec<Instant>,
}

/// Writes numbered messages round-robin over the partitions at `RATE` for `PRODUCE_FOR`, then
/// flushes; delivery reports say when each was acknowledged.
fn produce(producer: Arc<Producer>) -> Produced {
    let flushed = Arc::new(AtomicBool::new(false));
    let reports = {
        let (p, flushed) = (Arc::clone(&producer), Arc::clone(&flushed));
        std::thread::spawn(move || {
            let mut acked: BTreeMap<i32, Vec<(u64, Instant)>> = BTreeMap::new();
            let mut failed = Vec::new();
            loop {
                // Every report is sent before the flush returns: once it has, what is left is
                // in the channel.
                let done = flushed.load(Ordering::Acquire);
                let Some(r) = p.get_delivery_report(Some(Duration::from_millis(50))) else {
                    if done {
                        break;
                    }
                    continue;
                };
                let v = parse(r.record.value.as_deref());
                match r.result {
                    Ok(d) => acked.entry(d.partition).or_default().push((v, Instant::now())),
                    Err(e) => failed.push(format!("{v}: {e}")),
                }
            }
            (acked, failed)
        })
    };
    let start = Instant::now();
    let mut n = 0u64;
    let mut sent_at = Vec::new();
    while start.elapsed() < PRODUCE_FOR {
        let due = start + Duration::from_micros(n * 1_000_000 / RATE);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let p = (n % PARTITIONS as u64) as i32;
        sent_at.push(Instant::now());
        producer.produce(ProducerRecord::new(n.to_string()).partition(p)).expect("produce");
        n += 1;
    }
    producer.flush(Duration::from_secs(150)).expect("flush");
    flushed.store(true, Ordering::Release);
    let (acked, failed) = reports.join().expect("report thread");
    Produced { acked, failed, total: n, sent_at }
}

/// What a fault does, given the cluster, the topic and the group; it must leave every node
/// running when it returns.
type Fault = fn(&Cluster, &str, &str);

/// The coordinator of `group`: the leader of its `__consumer_offsets` partition (Java's
/// `abs(hashCode) % partitions`; start.sh gives the topic 4 partitions).
fn coordinator(cluster: &Cluster, group: &str) -> i32 {
    let h = group.encode_utf16().fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c as i16)));
    let partition = (h & 0x7fff_ffff) % 4;
    cluster.leader("__consumer_offsets", partition).expect("coordinator")
}

/// Runs the readers and the producer, throws `fault` in after `FAULT_AT`, and checks the
/// promises. `bootstrap_node` limits the clients' bootstrap list to one node.
fn run(name: &str, fault: Fault, bootstrap_node: Option<i32>) {
    init_logging();
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cluster = Cluster::get();
    let topic = unique_topic(name);
    let group = format!("{topic}-group");
    cluster.client().create_topic(&topic, PARTITIONS, 3).expect("create topic");
    cluster.wait_in_sync(&topic, Duration::from_secs(60));
    let bootstrap = match bootstrap_node {
        Some(id) => format!("127.0.0.1:{}", cluster.node(id).port),
        None => cluster.bootstrap(),
    };

    // The Java client, on a topic of its own, under the same fault.
    let java_topic = format!("{topic}-java");
    cluster.client().create_topic(&java_topic, PARTITIONS, 3).expect("create topic");
    cluster.wait_in_sync(&java_topic, Duration::from_secs(60));
    let java =
        JavaPeer::start(&bootstrap, &java_topic, PARTITIONS, RATE, (PRODUCE_FOR + Duration::from_secs(4)).as_secs());

    let simple = Reader::simple(&bootstrap, &topic);
    let members = [Reader::member(&bootstrap, &topic, &group), Reader::member(&bootstrap, &topic, &group)];
    let producer = Arc::new(
        client(&bootstrap)
            .topic(&topic)
            .expect("topic")
            .producer()
            .delivery_reports(true)
            .linger(Duration::from_millis(5))
            .build()
            .expect("producer"),
    );
    let writer = std::thread::spawn(move || produce(producer));
    std::thread::sleep(FAULT_AT);
    let fault_at = Instant::now();
    fault(cluster, &topic, &group);
    let fault_took = fault_at.elapsed();
    let produced = writer.join().expect("producer thread");

    assert!(
        produced.failed.is_empty(),
        "{} of {} failed, e.g. {:?}",
        produced.failed.len(),
        produced.total,
        &produced.failed[..produced.failed.len().min(3)]
    );
    let all: BTreeSet<u64> = (0..produced.total).collect();
    let acked: BTreeSet<u64> = produced.acked.values().flatten().map(|(v, _)| *v).collect();
    assert_eq!(acked.len() as u64, produced.total, "every message acknowledged once");

    wait_until("the readers have everything", Duration::from_secs(120), || {
        simple.values().len() == all.len() && members.iter().flat_map(Reader::values).collect::<BTreeSet<_>>() == all
    });
    let simple_seen = simple.finish();
    let group_seen: Vec<_> = members.into_iter().map(Reader::finish).collect();

    // The log: each partition holds its messages once, in the order produced.
    for (p, got) in &simple_seen {
        let values: Vec<u64> = got.iter().map(|(v, _)| *v).collect();
        let want: Vec<u64> = (0..produced.total).filter(|v| (v % PARTITIONS as u64) as i32 == *p).collect();
        assert_eq!(values.len(), want.len(), "partition {p}: read once each (no duplicates, no gaps)");
        assert!(values == want, "partition {p}: out of order or duplicated");
    }
    let mut group_all = BTreeMap::new();
    for seen in &group_seen {
        for (p, v) in seen {
            group_all.entry(*p).or_insert_with(Vec::new).extend(v.iter().copied());
        }
    }
    // Stalls: the longest a message waited for its acknowledgement after `produce`, and to be
    // read after its acknowledgement.
    let mut acked_at = produced.sent_at.clone();
    for (v, at) in produced.acked.values().flatten() {
        acked_at[*v as usize] = *at;
    }
    let java = java.finish(Duration::from_secs(240));
    assert_eq!((java.failed, java.unread), (0, 0), "the Java client lost messages: {java:?}");
    // The README's failover table takes these rows.
    println!(
        "\n| {name} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |   (fault took {:.1} s; {} + {} messages)",
        longest_wait(&produced.acked, &produced.sent_at).as_secs_f64(),
        java.producer.as_secs_f64(),
        longest_wait(&simple_seen, &acked_at).as_secs_f64(),
        longest_wait(&group_all, &acked_at).as_secs_f64(),
        java.consumer.as_secs_f64(),
        fault_took.as_secs_f64(),
        produced.total,
        java.total,
    );
    cluster.wait_in_sync(&topic, Duration::from_secs(120));
    cluster.wait_in_sync(&java_topic, Duration::from_secs(120));
}

/// SIGKILL of `id`, a pause, then a restart from its log dir.
fn kill_and_restart(cluster: &Cluster, id: i32) {
    cluster.signal(id, "KILL");
    cluster.wait_exit(id, Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(4));
    cluster.restart(id);
}

#[test]
fn sigkill_of_a_partition_leader() {
    run(
        "kill-leader",
        |c, topic, _| {
            let leader = c.leader(topic, 0).expect("leader");
            kill_and_restart(c, leader);
        },
        None,
    );
}

#[test]
fn sigkill_of_the_group_coordinator() {
    run("kill-coordinator", |c, _, group| kill_and_restart(c, coordinator(c, group)), None);
}

#[test]
fn sigkill_of_the_only_bootstrap_broker() {
    run("kill-bootstrap", |c, _, _| kill_and_restart(c, 1), Some(1));
}

#[test]
fn sigstop_of_a_partition_leader_past_the_request_timeout() {
    run(
        "stop-leader",
        |c, topic, _| {
            let leader = c.leader(topic, 0).expect("leader");
            c.signal(leader, "STOP");
            std::thread::sleep(REQUEST_TIMEOUT + Duration::from_secs(3));
            c.signal(leader, "CONT");
        },
        None,
    );
}

#[test]
fn sigterm_of_a_partition_leader() {
    run(
        "term-leader",
        |c, topic, _| {
            let leader = c.leader(topic, 0).expect("leader");
            c.signal(leader, "TERM");
            c.wait_exit(leader, Duration::from_secs(60));
            c.restart(leader);
        },
        None,
    );
}

#[test]
fn leader_moved_by_reassignment_and_preferred_election() {
    run(
        "move-leader",
        |c, topic, _| {
            let leader = c.leader(topic, 0).expect("leader");
            let next = c.nodes.iter().map(|n| n.id).find(|id| *id != leader).expect("another node");
            let mut replicas: Vec<i32> = vec![next];
            replicas.extend(c.nodes.iter().map(|n| n.id).filter(|id| *id != next));
            let plan = format!(
                r#"{{"version":1,"partitions":[{{"topic":"{topic}","partition":0,"replicas":{replicas:?}}}]}}"#
            );
            let file = std::env::temp_dir().join(format!("{topic}-reassign.json"));
            std::fs::write(&file, plan).expect("plan");
            let file = file.display().to_string();
            c.tool(
                "org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
                &["--execute", "--reassignment-json-file", &file],
            );
            wait_until("the reassignment completes", Duration::from_secs(30), || {
                c.tool(
                    "org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
                    &["--verify", "--reassignment-json-file", &file],
                )
                .contains("is completed")
            });
            c.tool(
                "org.apache.kafka.tools.LeaderElectionCommand",
                &["--election-type", "PREFERRED", "--topic", topic, "--partition", "0"],
            );
            wait_until("the leader moved", Duration::from_secs(30), || c.leader(topic, 0) == Some(next));
        },
        None,
    );
}

/// Reads from a fresh SimpleConsumer until `n` values arrived (or `timeout`), returning them.
fn read_values(c: &mut plainkafka::SimpleConsumer, n: usize, timeout: Duration) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < n && Instant::now() < deadline {
        if let Some(m) = c.consume().expect("consume") {
            out.push(String::from_utf8_lossy(m.value().unwrap_or_default()).into_owned());
        }
    }
    out
}

/// KIP-320 on a real log cut back: a partition on two replicas, A leading; B dies and leaves
/// the in-sync set; A takes more writes, which a consumer reads; A dies, B comes back and is
/// made leader by an unclean election, with a shorter log, and takes new writes at those
/// offsets. The consumer, past B's log end, is told where the logs diverge and reads B's new
/// records from there: without that it would see OFFSET_OUT_OF_RANGE and start over from the
/// beginning (or skip to the end).
#[test]
fn a_consumer_follows_a_log_cut_back_by_an_unclean_election() {
    init_logging();
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cluster = Cluster::get();
    let topic = unique_topic("truncated");
    let (a, b) = (1, 2);
    cluster.tool(
        "org.apache.kafka.tools.TopicCommand",
        &[
            "--create",
            "--topic",
            &topic,
            "--replica-assignment",
            &format!("{a}:{b}"),
            "--config",
            "min.insync.replicas=1",
        ],
    );
    wait_until("both replicas in sync", Duration::from_secs(60), || {
        cluster.client().topic(&topic).map(|t| t.partitions()[0].isr.len() == 2).unwrap_or(false)
    });
    let write = |values: &[&str]| {
        let p = client(&cluster.bootstrap())
            .topic(&topic)
            .expect("topic")
            .producer()
            .required_acks(plainkafka::Acks::Leader)
            .build()
            .expect("producer");
        for v in values {
            p.send(ProducerRecord::new(*v).partition(0)).expect("send");
        }
    };
    write(&["a0", "a1"]);
    let mut c = client(&cluster.bootstrap())
        .topic(&topic)
        .expect("topic")
        .simple_consumer()
        .auto_offset_reset(OffsetReset::Earliest)
        .consumer_timeout(Some(Duration::from_millis(200)))
        .build()
        .expect("consumer");
    assert_eq!(read_values(&mut c, 2, Duration::from_secs(30)), ["a0", "a1"]);

    // B goes; once it is out of the in-sync set, A alone takes (and acknowledges) more.
    cluster.signal(b, "KILL");
    cluster.wait_exit(b, Duration::from_secs(10));
    wait_until("B out of the in-sync replicas", Duration::from_secs(60), || {
        cluster.client().topic(&topic).map(|t| t.partitions()[0].isr == vec![a]).unwrap_or(false)
    });
    write(&["a2", "a3", "a4"]);
    assert_eq!(read_values(&mut c, 3, Duration::from_secs(30)), ["a2", "a3", "a4"]);

    // A goes; B comes back with offsets 0..2 only and is made leader anyway.
    cluster.signal(a, "KILL");
    cluster.wait_exit(a, Duration::from_secs(10));
    cluster.restart(b);
    wait_until("an unclean election makes B the leader", Duration::from_secs(90), || {
        // Refused until B has registered again; asked again until it takes.
        let _ = cluster.try_tool(
            "org.apache.kafka.tools.LeaderElectionCommand",
            &["--election-type", "UNCLEAN", "--topic", &topic, "--partition", "0"],
        );
        cluster.leader(&topic, 0) == Some(b)
    });
    write(&["b2", "b3", "b4", "b5"]);
    // The consumer was at offset 5; B's log holds a0 a1 b2 b3 b4 b5 (offsets 0–5).
    let after = read_values(&mut c, 4, Duration::from_secs(60));
    cluster.restart(a);
    cluster.wait_in_sync(&topic, Duration::from_secs(120));
    assert_eq!(after, ["b2", "b3", "b4", "b5"], "read from where the logs diverge, nothing twice, nothing skipped");
}
