//! Exactly-once scenarios: transactions, the group offsets inside them, and processes killed in
//! the middle of one. Each takes a running broker; the test binaries call them per broker
//! through `transaction_scenarios!`.

use super::scenarios::{drain, new_topic, topic};
use super::*;
use plainkafka::{BalancedConsumer, IsolationLevel, ProducerRecord, Topic};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Stdio};

/// A program of the main package's: `cargo test --workspace` builds its examples next to its
/// CLI.
pub fn example_bin(name: &str) -> PathBuf {
    let bin = cli_bin().parent().expect("target dir").join("examples").join(name);
    assert!(bin.exists(), "{} is missing: run these tests with `cargo test --workspace --all-features`", bin.display());
    bin
}

/// The values a read_committed reader of `t` finds, sorted.
fn committed_values(t: &Topic) -> Vec<String> {
    let mut c = t
        .simple_consumer()
        .isolation_level(IsolationLevel::ReadCommitted)
        .consumer_timeout(Some(Duration::from_millis(500)))
        .build()
        .expect("reader");
    let mut v: Vec<String> =
        drain(&mut c).iter().map(|m| String::from_utf8_lossy(m.value().unwrap_or_default()).into_owned()).collect();
    v.sort();
    v
}

/// The sum of `group`'s committed offsets on `t`.
fn committed_total(t: &Topic, group: &str) -> i64 {
    t.committed_offsets(group).expect("committed").values().map(|o| o.unwrap_or(0)).sum()
}

fn sorted(prefix: &str, n: usize) -> Vec<String> {
    let mut v: Vec<String> = (0..n).map(|i| format!("{prefix}-{i}")).collect();
    v.sort();
    v
}

fn write_inputs(t: &Topic, from: usize, n: usize) {
    let p = t.producer().build().expect("producer");
    for i in from..from + n {
        p.produce(ProducerRecord::new(format!("in-{i}")).key(format!("k{i}"))).expect("produce");
    }
    p.flush(Duration::from_secs(60)).expect("flush");
}

/// Consume → transform → produce with the group's offsets in the producer's transaction: a
/// committed round moves the group's offsets with the output; an aborted round moves neither,
/// so a new member reprocesses exactly those inputs and the output ends with each input once.
pub fn consume_transform_produce_commits_offsets_in_the_transaction(b: &Broker) {
    let input = new_topic(b, "ctp-in", 2);
    let output = new_topic(b, "ctp-out", 2);
    let tin = topic(b, &input);
    let tout = topic(b, &output);
    let t = Duration::from_secs(60);
    let group = format!("{input}-group");
    let member = || txn_member(b, &group, &input);
    let producer = tout.producer().transactional_id(&format!("{output}-txn")).build().expect("producer");
    // One round: read `n` inputs, write their transforms and the inputs' next offsets in one
    // transaction, then commit or abort it.
    let round = |c: &mut plainkafka::BalancedConsumer, n: usize, commit: bool| {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let mut next: BTreeMap<(String, i32), i64> = BTreeMap::new();
        producer.begin_transaction().expect("begin");
        let mut read = 0;
        while read < n {
            assert!(std::time::Instant::now() < deadline, "read {read} of {n}");
            if let Some(m) = c.consume().expect("consume") {
                let v = String::from_utf8_lossy(m.value().unwrap_or_default()).replace("in-", "out-");
                producer.produce(ProducerRecord::new(v).key(m.key().unwrap_or_default().to_vec())).expect("produce");
                next.insert((m.topic().to_string(), m.partition()), m.offset() + 1);
                read += 1;
            }
        }
        let offsets: Vec<(&str, i32, i64)> = next.iter().map(|((t, p), o)| (t.as_str(), *p, *o)).collect();
        let meta = c.group_metadata().expect("joined");
        producer.send_offsets_to_transaction(&offsets, &meta).expect("offsets in the transaction");
        if commit {
            producer.commit_transaction(t).expect("commit");
        } else {
            producer.abort_transaction(t).expect("abort");
        }
    };
    write_inputs(&tin, 0, 20);
    let mut c = member();
    round(&mut c, 20, true);
    assert_eq!(committed_total(&tin, &group), 20, "the group's offsets moved with the transaction");
    assert_eq!(committed_values(&tout), sorted("out", 20));

    write_inputs(&tin, 20, 10);
    round(&mut c, 10, false);
    assert_eq!(committed_total(&tin, &group), 20, "an aborted transaction commits no offsets");
    assert_eq!(committed_values(&tout), sorted("out", 20), "nor any output");
    drop(c);

    // A new member starts at the committed offsets: exactly the 10 aborted inputs again.
    let mut c = member();
    round(&mut c, 10, true);
    assert_eq!(committed_total(&tin, &group), 30);
    assert_eq!(committed_values(&tout), sorted("out", 30), "each input once in the output");
}

/// A group member for `input` whose offsets only transactions commit.
fn txn_member(b: &Broker, group: &str, input: &str) -> BalancedConsumer {
    plainkafka::KafkaClient::new(&b.bootstrap)
        .expect("client")
        .balanced_consumer(group, &[input])
        .auto_commit_enable(false)
        .consumer_timeout(Some(Duration::from_millis(300)))
        .build()
        .expect("member")
}

/// `Producer::transact_from`: a transaction whose closure fails, or panics, or whose inputs a
/// rebalance took away, is aborted and the consumer goes back to its last commit, so the next
/// transaction reads those inputs again; in the end every input is in the output once and the
/// group's offsets are at the end. An auto-committing consumer is refused.
pub fn transact_from_rewinds_after_an_abort_or_a_panic(b: &Broker) {
    let input = new_topic(b, "txh-in", 2);
    let output = new_topic(b, "txh-out", 2);
    let (tin, tout) = (topic(b, &input), topic(b, &output));
    write_inputs(&tin, 0, 120);
    let group = format!("{input}-group");
    let producer = tout.producer().transactional_id(&format!("{output}-txn")).build().expect("producer");
    let t = Duration::from_secs(60);

    let auto = plainkafka::KafkaClient::new(&b.bootstrap).expect("client").balanced_consumer(&group, &[&input]).build();
    let refused = producer.transact_from(&mut auto.expect("member"), t, |_, _| Ok(()));
    assert!(
        matches!(&refused, Err(plainkafka::Error::Config(m)) if m.contains("auto_commit_enable(false)")),
        "{refused:?}"
    );

    let mut c = txn_member(b, &group, &input);
    // Reads `n` inputs (however long joining takes) and writes their transforms.
    let transform = |txn: &plainkafka::Transaction<'_>, c: &mut BalancedConsumer, n: usize| {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut written = Vec::new();
        while written.len() < n {
            assert!(Instant::now() < deadline, "read {} of {n}", written.len());
            if let Some(m) = c.consume()? {
                let v = String::from_utf8_lossy(m.value().unwrap_or_default()).replace("in-", "out-");
                txn.produce(ProducerRecord::new(v.as_str()))?;
                written.push(v);
            }
        }
        Ok(written)
    };
    let mut first = producer.transact_from(&mut c, t, |txn, c| transform(txn, c, 30)).expect("first");
    first.sort();
    assert_eq!(committed_total(&tin, &group), 30, "the offsets moved with the transaction");

    let failed = producer.transact_from(&mut c, t, |txn, c| {
        transform(txn, c, 20)?;
        Err::<(), _>(plainkafka::Error::Config("the transform failed".into()))
    });
    assert!(matches!(&failed, Err(plainkafka::Error::Config(m)) if m == "the transform failed"), "{failed:?}");
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        producer.transact_from(&mut c, t, |txn, c| -> plainkafka::Result<()> {
            transform(txn, c, 20)?;
            panic!("the transform panicked")
        })
    }));
    assert!(panicked.is_err(), "the panic goes on to the caller");
    assert_eq!(committed_total(&tin, &group), 30, "neither aborted transaction committed offsets");
    assert_eq!(committed_values(&tout), first, "nor any output");

    // The same member, rewound: the next transactions read the aborted inputs again.
    let mut total = 30;
    while total < 120 {
        total += producer.transact_from(&mut c, t, |txn, c| transform(txn, c, 30)).expect("again").len();
    }
    assert_eq!(committed_total(&tin, &group), 120);
    assert_eq!(committed_values(&tout), sorted("out", 120), "each input once in the output");

    // Nothing more to read: an empty transaction commits nothing and changes nothing.
    let none = producer.transact_from(&mut c, t, |_, c| Ok(c.iter().count())).expect("an empty transaction");
    assert_eq!(none, 0);
    assert_eq!(committed_total(&tin, &group), 120);
}

/// A child process, killed (SIGKILL) when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        bounded::untrack(self.0.id());
    }
}

/// The exactly-once example (consume → transform → produce in transactions) is killed with
/// SIGKILL in the middle of its work five times and restarted each time with the same
/// transactional id; a last run finishes the input. A read_committed reader then finds every
/// input exactly once in the output, and the group's offsets at the end of the input.
pub fn exactly_once_loop_killed_and_restarted_outputs_each_input_once(b: &Broker) {
    const INPUTS: usize = 3000;
    const KILLS: usize = 5;
    let input = new_topic(b, "eos-in", 3);
    let output = new_topic(b, "eos-out", 3);
    let (tin, tout) = (topic(b, &input), topic(b, &output));
    write_inputs(&tin, 0, INPUTS);
    let group = format!("{input}-group");
    let txn_id = format!("{output}-txn");
    let run = |idle: Option<&str>| {
        let mut cmd = Command::new(example_bin("exactly_once"));
        cmd.args([&b.bootstrap, &input, &output, &group, &txn_id]).args(idle).stdout(Stdio::piped());
        let child = cmd.spawn().expect("start the example");
        bounded::track(child.id());
        child
    };
    for kill in 0..KILLS {
        let mut p = Killed(run(None));
        let mut lines = BufReader::new(p.0.stdout.take().expect("stdout")).lines();
        // Two transactions committed, so the third is under way: kill it there.
        for _ in 0..2 {
            let line = lines.next().unwrap_or_else(|| panic!("run {kill} ended early")).expect("read");
            assert!(line.starts_with("committed "), "{line}");
        }
        drop(p);
    }
    // The last killed run may have sent its transaction's offsets: until the broker aborts
    // that transaction (its timeout, 60 s), OffsetFetch answers UNSTABLE_OFFSET_COMMIT.
    wait_until("the killed run's pending offsets to settle", Duration::from_secs(120), || {
        match tin.committed_offsets(&group) {
            Ok(_) => true,
            Err(e) if e.code() == Some(plainkafka::ErrorCode::UNSTABLE_OFFSET_COMMIT) => false,
            Err(e) => panic!("committed offsets: {e}"),
        }
    });
    let after_kills = committed_total(&tin, &group);
    assert!((1..INPUTS as i64).contains(&after_kills), "after the kills: {after_kills}");
    let last = run(Some("3"));
    let (out, killed) = bounded::wait_output_within(last, bounded::CHILD_LIMIT);
    assert!(!killed && out.status.success(), "the last run: {out:?}");

    let got = committed_values(&tout);
    let mut seen = BTreeMap::new();
    for v in &got {
        *seen.entry(v.as_str()).or_insert(0) += 1;
    }
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    eprintln!(
        "exactly-once loop: {INPUTS} inputs, {KILLS} kills, {} outputs, {} distinct, {duplicates} duplicates",
        got.len(),
        seen.len()
    );
    assert_eq!(got, sorted("IN", INPUTS), "each input exactly once");
    assert_eq!(committed_total(&tin, &group), INPUTS as i64);
}

/// `plainkafka produce -X transactional.id=…` killed (SIGKILL) with its messages written but
/// not committed leaves nothing a read_committed reader sees: on partition 0 a new producer
/// with the same id fences it (its transaction is aborted at once); on partition 1, with
/// `transaction.timeout.ms=2000`, the coordinator aborts it when the timeout passes.
pub fn killed_transactional_cli_leaves_nothing_visible(b: &Broker) {
    let name = new_topic(b, "txkill", 2);
    let t = topic(b, &name);
    let start = |partition: &str, props: &[&str]| {
        let mut cmd = Command::new(cli_bin());
        cmd.env_remove("KAFKA_BROKERS").args(["-b", &b.bootstrap, "produce", &name, "-p", partition]);
        for p in props {
            cmd.args(["-X", p]);
        }
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::null()).spawn().expect("start the CLI");
        bounded::track(child.id());
        let mut stdin = child.stdin.take().expect("stdin");
        for i in 0..100 {
            writeln!(stdin, "uncommitted-{partition}-{i}").expect("write");
        }
        stdin.flush().expect("flush");
        // Kept open: the transaction stays open until the process dies.
        (Killed(child), stdin)
    };
    let high = |p: i32| t.latest_available_offsets().expect("high watermarks")[&p];
    let stable = |p: i32| t.last_stable_offsets().expect("last stable offsets")[&p];

    let fenced_id = format!("{name}-fenced");
    let fenced = start("0", &[&format!("transactional.id={fenced_id}")]);
    let timed_out = start("1", &[&format!("transactional.id={name}-timed-out"), "transaction.timeout.ms=2000"]);
    wait_until("the 200 transactional messages written", Duration::from_secs(60), || high(0) == 100 && high(1) == 100);
    assert_eq!((stable(0), stable(1)), (0, 0), "two transactions open");
    drop(fenced);
    drop(timed_out);
    assert_eq!(stable(0), 0, "the killed producer's transaction stays open until fenced");

    let heir = t.producer().transactional_id(&fenced_id).build().expect("a new producer with the same id");
    // Fencing aborted it: its abort marker ends it.
    wait_until("partition 0's transaction aborted", Duration::from_secs(30), || stable(0) == 101);
    wait_until("partition 1's transaction timed out", Duration::from_secs(90), || stable(1) == 101);
    assert_eq!(committed_values(&t), Vec::<String>::new(), "nothing of the killed transactions is visible");

    heir.transact(Duration::from_secs(30), |txn| {
        for i in 0..10 {
            txn.produce(ProducerRecord::new(format!("heir-{i}")).partition(0))?;
        }
        Ok(())
    })
    .expect("the heir's transaction");
    assert_eq!(committed_values(&t), sorted("heir", 10), "only the heir's committed messages");
}

/// A transactional librdkafka producer commits 100 records, aborts 100 and commits 100:
/// read_committed (the default) reads the 200 committed ones in order, read_uncommitted all
/// 300, neither any control record; the CLI does the same. A transaction left open holds a
/// read_committed consumer at the last stable offset until it commits.
pub fn read_committed_skips_what_librdkafka_transactions_aborted(b: &Broker) {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    use std::time::Instant;
    let name = new_topic(b, "txn", 1);
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &b.bootstrap)
        .set("transactional.id", format!("{name}-txn"))
        .create()
        .expect("transactional producer");
    let t = Duration::from_secs(60);
    producer.init_transactions(t).expect("init transactions");
    let send = |prefix: &str, n: usize| {
        for i in 0..n {
            let v = format!("{prefix}-{i}");
            producer.send(BaseRecord::<str, str>::to(&name).payload(&v)).expect("send");
        }
        producer.flush(t).expect("flush");
    };
    for (prefix, commit) in [("c1", true), ("aborted", false), ("c2", true)] {
        producer.begin_transaction().expect("begin");
        send(prefix, 100);
        if commit {
            producer.commit_transaction(t).expect("commit");
        } else {
            producer.abort_transaction(t).expect("abort");
        }
    }
    let expected = |prefixes: &[&str]| -> Vec<String> {
        prefixes.iter().flat_map(|p| (0..100).map(move |i| format!("{p}-{i}"))).collect()
    };
    let values = |ms: Vec<plainkafka::Message>| -> Vec<String> {
        ms.iter().map(|m| String::from_utf8_lossy(m.value().unwrap_or_default()).into_owned()).collect()
    };
    let t_ = topic(b, &name);
    let reader = |level| {
        t_.simple_consumer()
            .isolation_level(level)
            .consumer_timeout(Some(Duration::from_millis(500)))
            .build()
            .expect("consumer")
    };
    let mut committed = reader(plainkafka::IsolationLevel::ReadCommitted);
    assert_eq!(values(drain(&mut committed)), expected(&["c1", "c2"]));
    let mut everything = reader(plainkafka::IsolationLevel::ReadUncommitted);
    assert_eq!(values(drain(&mut everything)), expected(&["c1", "aborted", "c2"]), "no control record is delivered");

    let cli = |extra: &[&str]| {
        let out = bounded::output_within(
            Command::new(cli_bin()).args([&["-b", &b.bootstrap, "consume", &name, "-e"][..], extra].concat()),
            b"",
            bounded::CHILD_LIMIT,
        );
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect::<Vec<_>>()
    };
    assert_eq!(cli(&[]), expected(&["c1", "c2"]), "the CLI reads committed records by default");
    assert_eq!(cli(&["-X", "isolation.level=read_uncommitted"]).len(), 300);

    // An open transaction: the last stable offset stays where it began (three markers after the
    // 300 records: 303), the high watermark moves past it, and nothing in it is read yet.
    producer.begin_transaction().expect("begin");
    send("open", 10);
    assert_eq!(t_.last_stable_offsets().expect("lso")[&0], 303);
    assert_eq!(t_.latest_available_offsets().expect("hwm")[&0], 313);
    assert!(committed.consume().expect("consume").is_none(), "nothing past the last stable offset");
    assert_eq!(committed.stats().partitions[0].high_watermark, Some(303));
    producer.commit_transaction(t).expect("commit");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut open = Vec::new();
    while open.len() < 10 {
        assert!(Instant::now() < deadline, "the committed transaction never arrived: {open:?}");
        if let Some(m) = committed.consume().expect("consume") {
            open.push(String::from_utf8_lossy(m.value().unwrap_or_default()).into_owned());
        }
    }
    assert_eq!(open, (0..10).map(|i| format!("open-{i}")).collect::<Vec<_>>());
}
