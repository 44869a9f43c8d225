//! Consumer-group behaviour every broker must show: members split a topic, a member that
//! leaves hands its partitions over at once, a member that dies loses them after its session
//! timeout, and across all of it nothing is lost and only the dead member's uncommitted
//! messages are read twice.

use super::scenarios::client;
use super::*;
use plainkafka::{Assignor, BalancedConsumer};
use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::process::Stdio;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::JoinHandle;

/// Partitions for group tests: Kafka takes any count; tansu and the librdkafka mock create
/// topics with 4.
pub fn group_partitions(b: &Broker) -> i32 {
    match b.kind {
        Kind::Kafka | Kind::Mock => 6,
        Kind::Tansu | Kind::RdkafkaMock => 4,
    }
}

/// Session timeout for group tests. Kafka's broker accepts 6 s at least. The librdkafka mock
/// holds a rejoining member for session timeout − 1 s, so the clean-leave handover there can't
/// be told apart from an expiry by its timing; a longer session keeps the two apart elsewhere.
pub fn session(b: &Broker) -> Duration {
    match b.kind {
        Kind::Kafka | Kind::Tansu => Duration::from_secs(6),
        Kind::RdkafkaMock | Kind::Mock => Duration::from_secs(4),
    }
}

/// A member's view, shared with the test thread.
#[derive(Debug, Default, Clone)]
pub struct View {
    pub generation: i32,
    pub partitions: Vec<i32>,
}

/// A BalancedConsumer in a thread, recording what it reads.
pub struct Member {
    pub view: Arc<Mutex<View>>,
    pub seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Member {
    pub fn view(&self) -> View {
        self.view.lock().unwrap().clone()
    }

    /// Stops the member (committing and leaving the group) and waits for it.
    pub fn leave(mut self) {
        self.stop.store(true, Ordering::Release);
        self.thread.take().expect("running").join().expect("member thread");
    }

    /// Leaves, and returns everything the member read up to then (its last commit included).
    pub fn leave_with_reads(self) -> Vec<String> {
        let seen = Arc::clone(&self.seen);
        self.leave();
        let read = seen.lock().unwrap().clone();
        read
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn member(b: &Broker, group: &str, topic: &str, assignor: Assignor) -> Member {
    let consumer = client(b)
        .balanced_consumer(group, &[topic])
        .assignors(&[assignor])
        .session_timeout(session(b))
        .heartbeat_interval(Duration::from_millis(300))
        .rebalance_timeout(Duration::from_secs(20))
        .rebalance_backoff(Duration::from_millis(200))
        .auto_commit_interval(Duration::from_millis(300))
        .consumer_timeout(Some(Duration::from_millis(100)))
        .build()
        .expect("build member");
    spawn_member(consumer, topic.to_string())
}

pub fn spawn_member(mut c: BalancedConsumer, topic: String) -> Member {
    let view = Arc::new(Mutex::new(View::default()));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let (v, s, st) = (Arc::clone(&view), Arc::clone(&seen), Arc::clone(&stop));
    let thread = std::thread::spawn(move || {
        while !st.load(Ordering::Acquire) {
            match c.consume() {
                Ok(Some(m)) => s.lock().unwrap().push(String::from_utf8_lossy(m.value().unwrap_or_default()).into()),
                Ok(None) => {}
                Err(e) => panic!("member failed: {e}"),
            }
            let generation = c.member_id().map_or(-1, |(_, g)| g);
            let partitions = c.assignment().get(&topic).cloned().unwrap_or_default();
            *v.lock().unwrap() = View { generation, partitions };
        }
        // Dropping the consumer commits and leaves the group.
    });
    Member { view, seen, stop, thread: Some(thread) }
}

/// The `plainkafka` CLI as a group member in its own process, so that it can be killed.
pub struct CliMember {
    child: std::process::Child,
    pub lines: Arc<Mutex<Vec<String>>>,
    reader: Option<JoinHandle<()>>,
}

pub fn cli_member(b: &Broker, group: &str, topic: &str, assignor: Assignor) -> CliMember {
    let session_ms = session(b).as_millis().to_string();
    let mut child = Command::new(super::cli_bin())
        .env_remove("KAFKA_BROKERS")
        .args(["-b", &b.bootstrap, "consume", topic, "-g", group, "--balanced", "--assignor", assignor.name()])
        .args(["--session-timeout-ms", &session_ms, "-f", "%s\\n"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run plainkafka");
    super::bounded::track(child.id());
    let out = child.stdout.take().expect("stdout");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let l = Arc::clone(&lines);
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(|l| l.ok()) {
            l.lock().unwrap().push(line);
        }
    });
    CliMember { child, lines, reader: Some(reader) }
}

impl CliMember {
    /// SIGKILL: no commit, no LeaveGroup.
    pub fn kill(mut self) -> Vec<String> {
        self.child.kill().expect("kill");
        let _ = self.child.wait();
        super::bounded::untrack(self.child.id());
        self.reader.take().expect("reader").join().expect("reader thread");
        std::mem::take(&mut *self.lines.lock().unwrap())
    }
}

impl Drop for CliMember {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        super::bounded::untrack(self.child.id());
    }
}

fn all_seen(parts: &[&Arc<Mutex<Vec<String>>>]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for p in parts {
        for v in p.lock().unwrap().iter() {
            *counts.entry(v.clone()).or_insert(0) += 1;
        }
    }
    counts
}

/// Three members split the topic (one of them the CLI in its own process); then the CLI
/// member is killed and its partitions move after the session timeout; then a member leaves
/// cleanly and its partitions move at once. Numbered messages are written in every phase.
pub fn group_split_kill_and_leave(b: &Broker, assignor: Assignor) {
    let parts = group_partitions(b);
    let topic = scenarios::new_topic(b, "group", parts);
    let group = unique_topic("members");
    let mut produced = 0usize;
    let mut produce_more = |n: usize| {
        produce_numbered(b, &topic, parts, "n", produced..produced + n, true);
        produced += n;
        produced
    };
    produce_more(200);

    let k = cli_member(b, &group, &topic, assignor);
    let a = member(b, &group, &topic, assignor);
    let m_b = member(b, &group, &topic, assignor);
    let all: BTreeSet<i32> = (0..parts).collect();
    // Three-way split: A and B in the same generation, disjoint, and leaving K its share.
    let third = (parts / 3) as usize;
    let three_way = || {
        let (va, vb) = (a.view(), m_b.view());
        let both: BTreeSet<i32> = va.partitions.iter().chain(&vb.partitions).copied().collect();
        va.generation == vb.generation
            && va.generation >= 0
            && va.partitions.len() >= third
            && vb.partitions.len() >= third
            && both.len() == va.partitions.len() + vb.partitions.len()
            && both.len() <= parts as usize - third
    };
    wait_until("three members to share the partitions", Duration::from_secs(90), three_way);
    let total = produce_more(200);
    let k_lines = Arc::clone(&k.lines);
    wait_until("everything written so far to be read", Duration::from_secs(60), || {
        all_seen(&[&a.seen, &m_b.seen, &k_lines]).len() >= total
    });
    // Everyone commits on its interval: wait until the group's commits reach the end of every
    // partition. From here on, the killed member can only replay what it reads next.
    let t = scenarios::topic(b, &topic);
    let latest = t.latest_available_offsets().expect("latest");
    wait_until("the group to commit everything read", Duration::from_secs(60), || {
        let committed = t.committed_offsets(&group).expect("committed");
        latest.iter().all(|(p, hi)| committed.get(p).copied().flatten() == Some(*hi))
    });
    let k_committed = k_lines.lock().unwrap().len();
    let total = produce_more(200);
    wait_until("the next messages to be read", Duration::from_secs(60), || {
        all_seen(&[&a.seen, &m_b.seen, &k_lines]).len() >= total
    });

    // Kill the CLI member while it holds partitions: A and B get them once its session expires.
    wait_until("the killed member to hold partitions", Duration::from_secs(90), three_way);
    let killed_at = Instant::now();
    let k_seen = k.kill();
    let total = produce_more(200);
    wait_until("A and B to take over the killed member's partitions", Duration::from_secs(90), || {
        let (va, vb) = (a.view(), m_b.view());
        let both: BTreeSet<i32> = va.partitions.iter().chain(&vb.partitions).copied().collect();
        va.generation == vb.generation && both == all && !va.partitions.is_empty() && !vb.partitions.is_empty()
    });
    let took = killed_at.elapsed();
    // (librdkafka's mock holds every rejoin for session timeout − 1 s, which blurs timings.)
    if b.kind != Kind::RdkafkaMock {
        assert!(took >= session(b) / 2, "partitions moved after {took:?}, before the session could expire");
    }

    // B leaves cleanly: A gets everything without waiting for a session timeout.
    let b_seen = Arc::clone(&m_b.seen);
    let left_at = Instant::now();
    m_b.leave();
    wait_until("A to own every partition", Duration::from_secs(60), || a.view().partitions.len() == parts as usize);
    let handover = left_at.elapsed();
    if b.kind != Kind::RdkafkaMock {
        assert!(handover < session(b), "a clean leave took {handover:?}, as long as a session expiry");
    }
    let total = produce_more(200).max(total);
    let k_seen = Arc::new(Mutex::new(k_seen));
    let a_seen = Arc::clone(&a.seen);
    wait_until("every message to be read", Duration::from_secs(60), || {
        all_seen(&[&a_seen, &b_seen, &k_seen]).len() >= total
    });
    a.leave();

    // Nothing lost. A message read twice must have been read by the killed member, whose last
    // commits died with it; members that handed partitions over properly replay nothing.
    let expected: BTreeSet<String> = (0..total).map(|i| format!("n-{i}")).collect();
    let counts = all_seen(&[&a_seen, &b_seen, &k_seen]);
    let read: BTreeSet<String> = counts.keys().cloned().collect();
    assert_eq!(read, expected, "every message read, none invented");
    let by_k: BTreeSet<String> = k_seen.lock().unwrap().iter().cloned().collect();
    let k_uncommitted: BTreeSet<String> = k_seen.lock().unwrap()[k_committed..].iter().cloned().collect();
    let twice: Vec<&String> = counts.iter().filter(|(_, &n)| n > 1).map(|(v, _)| v).collect();
    if b.kind != Kind::RdkafkaMock {
        for v in &twice {
            assert!(
                k_uncommitted.contains(*v),
                "{v} was read twice, but not in the killed member's uncommitted window"
            );
        }
    }
    let ab = all_seen(&[&a_seen, &b_seen]);
    // (The librdkafka mock refuses the commit made before a handover, see
    // group_reset_on_start_applies_to_the_first_assignment_only.)
    if b.kind != Kind::RdkafkaMock {
        assert!(ab.values().all(|&n| n == 1), "A and B together read something twice");
    }
    eprintln!(
        "{assignor} on {}: {total} messages, {} read twice (the killed member read {} in all, {} after its \
         last commit); kill handover {took:?}, clean-leave handover {handover:?}",
        b.version,
        twice.len(),
        by_k.len(),
        k_uncommitted.len()
    );
}

fn values_of(msgs: &[plainkafka::Message]) -> Vec<String> {
    msgs.iter().map(|m| String::from_utf8_lossy(m.value().unwrap_or_default()).into_owned()).collect()
}

/// `reset_offset_on_start` applies to a member's first assignment only (as in PyKafka): after a
/// rebalance its partitions resume from the group's commits.
pub fn group_reset_on_start_applies_to_the_first_assignment_only(b: &Broker) {
    use plainkafka::{OffsetReset, StartRule};
    let parts = group_partitions(b);
    let topic = scenarios::new_topic(b, "gstart", parts);
    let group = unique_topic("gstart");
    let per = parts as usize;
    produce_numbered(b, &topic, parts, "old", 0..10 * per, true);
    let t = scenarios::topic(b, &topic);
    let mut c = t
        .simple_consumer()
        .consumer_group(&group)
        .consumer_timeout(Some(Duration::from_millis(300)))
        .build()
        .expect("simple consumer");
    scenarios::read_n(&mut c, 10 * per, Duration::from_secs(30));
    c.commit_offsets().expect("commit");
    drop(c);
    produce_numbered(b, &topic, parts, "new", 0..5 * per, true);

    let mut a = client(b)
        .balanced_consumer(&group, &[&topic])
        .reset_offset_on_start(true)
        .auto_offset_reset(OffsetReset::Earliest)
        .session_timeout(session(b))
        .heartbeat_interval(Duration::from_millis(300))
        .rebalance_timeout(Duration::from_secs(20))
        .consumer_timeout(Some(Duration::from_millis(100)))
        .build()
        .expect("member");
    let mut first = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while first.len() < 15 * per {
        assert!(Instant::now() < deadline, "read {} of {}", first.len(), 15 * per);
        first.extend(a.consume().expect("consume"));
    }
    assert_eq!(values_of(&first).iter().filter(|v| v.starts_with("old-")).count(), 10 * per, "reset to earliest");
    let first_decisions = a.start_decisions();
    for (tp, d) in &first_decisions {
        assert_eq!(d.map(|d| d.rule), Some(StartRule::ResetOnStart), "{tp:?}");
    }
    a.commit_offsets().expect("commit");

    // A second member joins; A's next assignment resumes from the commits.
    let other = member(b, &group, &topic, Assignor::Range);
    produce_numbered(b, &topic, parts, "later", 0..5 * per, true);
    let mut after = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        assert!(Instant::now() < deadline, "the group did not read everything after the rebalance");
        after.extend(a.consume().expect("consume"));
        let shared = a.assignment().get(&topic).is_some_and(|p| p.len() < per) && !other.view().partitions.is_empty();
        let read = after.len() + other.seen.lock().unwrap().len();
        let resolved = a.start_decisions().values().all(Option::is_some);
        if shared && resolved && read >= 5 * per {
            break;
        }
    }
    for (tp, d) in a.start_decisions() {
        // A partition A got back in the very next generation goes on where it was (its first
        // decision, carried); any other starts from the commit. None is reset again.
        let d = d.expect("resolved");
        let carried = first_decisions.get(&tp).copied().flatten() == Some(d);
        assert!(d.rule == StartRule::Committed || carried, "{tp:?} after the rebalance: {d:?}");
    }
    let mut later = values_of(&after);
    later.extend(other.seen.lock().unwrap().iter().cloned());
    later.sort();
    if b.kind == Kind::RdkafkaMock {
        // The mock refuses commits once a rebalance has begun (REBALANCE_IN_PROGRESS in its
        // JOINING state; Kafka accepts them until the rebalance completes), so the commit made
        // before giving partitions up fails there and their new owner replays a little.
        later.dedup();
    }
    let mut expected: Vec<String> = (0..5 * per).map(|i| format!("later-{i}")).collect();
    expected.sort();
    assert_eq!(later, expected, "after the rebalance, each new message once and nothing older");
}

/// A stop handle ends a member blocked waiting for messages, and the member leaves the group.
pub fn group_stop_handle_unblocks(b: &Broker) {
    let parts = group_partitions(b);
    let topic = scenarios::new_topic(b, "gstop", parts);
    produce_numbered(b, &topic, parts, "s", 0..parts as usize, true);
    let group = unique_topic("gstop");
    let (assigned_tx, assigned_rx) = std::sync::mpsc::channel();
    let mut c = client(b)
        .balanced_consumer(&group, &[&topic])
        .session_timeout(session(b))
        .heartbeat_interval(Duration::from_millis(300))
        .on_assigned(move |p| {
            let _ = assigned_tx.send(p.len());
        })
        .build()
        .expect("member");
    let h = c.stop_handle();
    let stopper = std::thread::spawn(move || {
        let n = assigned_rx.recv().expect("assigned");
        h.stop();
        (n, Instant::now())
    });
    let mut read = 0;
    while c.consume().expect("consume").is_some() {
        read += 1;
    }
    let returned = Instant::now();
    let (assigned, stopped_at) = stopper.join().expect("stopper");
    assert_eq!(assigned, parts as usize, "the only member gets every partition");
    assert!(read <= parts as usize);
    let lag = returned.saturating_duration_since(stopped_at);
    assert!(lag < Duration::from_secs(2), "consume returned {lag:?} after stop");
    let left = Instant::now();
    drop(c);
    assert!(left.elapsed() < Duration::from_secs(10), "stop and leave took {:?}", left.elapsed());
}

/// A librdkafka group member in a thread of its own, reading `topic` from the beginning with
/// `props` on top; what it reads is in `seen`.
pub struct RdkafkaMember {
    pub seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

pub fn rdkafka_member(b: &Broker, group: &str, topic: &str, props: &[(&str, &str)]) -> RdkafkaMember {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::Message as _;
    let mut cfg = rdkafka::ClientConfig::new();
    cfg.set("bootstrap.servers", &b.bootstrap)
        .set("group.id", group)
        .set("client.id", "rdkafka-member")
        .set("auto.offset.reset", "earliest")
        .set("auto.commit.interval.ms", "200");
    for (k, v) in props {
        cfg.set(*k, *v);
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let (s, st, topic) = (Arc::clone(&seen), Arc::clone(&stop), topic.to_string());
    let thread = std::thread::spawn(move || {
        let c: BaseConsumer = cfg.create().expect("rdkafka consumer");
        c.subscribe(&[&topic]).expect("subscribe");
        while !st.load(Ordering::Acquire) {
            if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
                s.lock().unwrap().push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
            }
        }
        c.unsubscribe();
    });
    RdkafkaMember { seen, stop, thread: Some(thread) }
}

impl RdkafkaMember {
    /// Unsubscribes (leaving the group) and waits for the thread.
    pub fn leave(mut self) {
        self.stop.store(true, Ordering::Release);
        self.thread.take().expect("running").join().expect("rdkafka member");
    }
}

/// Kafka's console consumer (the Java client) as a group member reading `topic` from the
/// beginning, with `props` as consumer properties; the lines starting with `prefix` are in
/// `seen` (Kafka 4's tools also log to stdout).
pub struct JavaMember {
    pub seen: Arc<Mutex<Vec<String>>>,
    child: std::process::Child,
    reader: Option<JoinHandle<()>>,
}

pub fn java_member(b: &Broker, group: &str, topic: &str, prefix: &str, props: &[&str]) -> JavaMember {
    let mut cmd = Command::new("java");
    cmd.args([
        "-Xmx256m",
        "-cp",
        &super::kafka_classpath(&b.version),
        "org.apache.kafka.tools.consumer.ConsoleConsumer",
    ])
    .args(["--bootstrap-server", &b.bootstrap, "--topic", topic, "--group", group, "--from-beginning"])
    .args(["--consumer-property", "client.id=java-member", "--timeout-ms", "120000"]);
    for p in props {
        cmd.args(["--consumer-property", p]);
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("java console consumer");
    super::bounded::track(child.id());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let out = child.stdout.take().expect("stdout");
    let (s, prefix) = (Arc::clone(&seen), prefix.to_string());
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(|l| l.ok()) {
            if line.starts_with(&prefix) {
                s.lock().unwrap().push(line);
            } else {
                eprintln!("java: {line}");
            }
        }
    });
    JavaMember { seen, child, reader: Some(reader) }
}

impl Drop for JavaMember {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        super::bounded::untrack(self.child.id());
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}
