//! The `plainkafka` command-line tool against a cluster it runs itself (`plainkafka mock`):
//! topics are created, written, read by a group, inspected, reset and deleted, each through
//! the real binary, with text and JSON output.
#![cfg(feature = "cli")]

#[allow(dead_code)]
#[path = "support/bounded.rs"]
mod bounded;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

struct Mock(Child);

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        bounded::untrack(self.0.id());
    }
}

fn bin() -> Command {
    bounded::watch_this_test();
    let mut c = Command::new(env!("CARGO_BIN_EXE_plainkafka"));
    c.env_remove("KAFKA_BROKERS");
    c
}

/// Starts `plainkafka mock` and returns it with the bootstrap address it printed.
fn start_mock(args: &[&str]) -> (Mock, String) {
    let mut child = bin().arg("mock").args(args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("mock");
    bounded::track(child.id());
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("bootstrap line");
    (Mock(child), line.trim().to_string())
}

fn run(bootstrap: &str, args: &[&str], input: &str) -> Output {
    bounded::output_within(bin().args(["-b", bootstrap]).args(args), input.as_bytes(), bounded::CHILD_LIMIT)
}

fn ok(bootstrap: &str, args: &[&str], input: &str) -> String {
    let out = run(bootstrap, args, input);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_ops_commands_against_plainkafka_mock() {
    let (_mock, b) = start_mock(&["--brokers", "2", "--partitions", "3"]);
    assert_eq!(b.split(',').count(), 2, "{b}");

    ok(&b, &["create-topic", "orders", "--partitions", "2"], "");
    let again = run(&b, &["create-topic", "orders", "--partitions", "2"], "");
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("TOPIC_ALREADY_EXISTS"));
    assert_eq!(ok(&b, &["topics", "-o", "json"], ""), "[{\"topic\":\"orders\",\"partitions\":2}]\n");

    let lines: String = (0..10).map(|i| format!("k{}:v{i}\n", i % 2)).collect();
    ok(&b, &["produce", "orders", "-K", ":", "-p", "0"], &lines);
    let described = ok(&b, &["describe", "orders"], "");
    let rows: Vec<&str> = described.lines().collect();
    assert_eq!(rows[0], "PARTITION LEADER REPLICAS ISR EARLIEST LATEST");
    assert!(rows[1].starts_with("0 ") && rows[1].ends_with(" 0 10"), "{described}");
    assert!(rows[2].ends_with(" 0 0"), "{described}");

    // A group reads six; lag shows the rest; a topic it never read counts whole.
    assert_eq!(ok(&b, &["consume", "orders", "-g", "billing", "-c", "6", "-p", "0"], "").lines().count(), 6);
    let lag = ok(&b, &["lag", "-g", "billing", "orders"], "");
    assert_eq!(
        lag,
        "PARTITION COMMITTED LATEST LAG\n0 6 10 4\n1 - 0 -\ntotal lag 4 (to the high watermark; 1 partition with nothing committed not counted)\n"
    );
    let json = ok(&b, &["lag", "-g", "billing", "orders", "-o", "json"], "");
    assert!(
        json.contains("\"total_lag\":4") && json.contains("{\"partition\":0,\"committed\":6,\"latest\":10,\"lag\":4}"),
        "{json}"
    );

    // reset-offsets: a dry run commits nothing; then back to the start of partition 0.
    let dry = ok(&b, &["reset-offsets", "orders", "-g", "billing", "--to", "earliest", "-p", "0", "--dry-run"], "");
    assert_eq!(dry, "PARTITION OLD NEW\n0 6 0\ndry run: nothing committed\n");
    assert!(ok(&b, &["lag", "-g", "billing", "orders"], "").contains("0 6 10 4"));
    // Past the log's end: the end, said on stderr.
    let past = run(&b, &["reset-offsets", "orders", "-g", "billing", "--to", "99", "-p", "0"], "");
    assert!(past.status.success());
    assert_eq!(String::from_utf8_lossy(&past.stdout), "PARTITION OLD NEW\n0 6 10\n");
    assert!(String::from_utf8_lossy(&past.stderr).contains("99 is outside the log (0..10); 10 instead"));
    ok(&b, &["reset-offsets", "orders", "-g", "billing", "--to", "3", "-p", "0"], "");
    let again = ok(&b, &["consume", "orders", "-g", "billing", "-p", "0", "-c", "1", "-f", "%o %k=%s\\n"], "");
    assert_eq!(again, "3 k1=v3\n", "the reset offset is the next one read");

    let groups = ok(&b, &["groups", "-o", "json"], "");
    assert_eq!(groups, "[{\"group\":\"billing\",\"state\":\"Empty\",\"protocol_type\":\"\",\"type\":\"classic\"}]\n");
    let group = ok(&b, &["group", "billing"], "");
    assert!(group.starts_with("group billing state Empty protocol - members 0\n"), "{group}");
    assert!(group.contains("orders 0 4 10 6 -"), "{group}");

    // Errors say their code once; counts agree in number; a zero idle timeout is refused.
    let again = run(&b, &["create-topic", "orders", "--partitions", "2"], "");
    let err = String::from_utf8_lossy(&again.stderr);
    assert_eq!(err.matches("TOPIC_ALREADY_EXISTS").count(), 1, "{err}");
    assert!(err.contains("Topic 'orders' already exists."), "{err}");
    let one = run(&b, &["consume", "orders", "-p", "0", "-c", "1"], "");
    assert_eq!(String::from_utf8_lossy(&one.stderr), "1 message\n");
    let zero = run(&b, &["consume", "orders", "--idle-timeout-ms", "0"], "");
    assert_eq!(zero.status.code(), Some(2), "a usage error");
    ok(&b, &["delete-topic", "orders"], "");
    assert_eq!(ok(&b, &["topics"], ""), "TOPIC PARTITIONS\n");
}

#[test]
fn every_command_shows_an_example_in_help() {
    for cmd in [
        "consume",
        "produce",
        "offsets",
        "lag",
        "reset-offsets",
        "groups",
        "group",
        "topics",
        "describe",
        "create-topic",
        "delete-topic",
        "mock",
    ] {
        let out = bounded::output_within(bin().args([cmd, "--help"]), b"", bounded::CHILD_LIMIT);
        assert!(out.status.success(), "{cmd}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Example:"), "{cmd}");
    }
}

/// `-X` and `-F` carry librdkafka's property names to every command: against `plainkafka
/// mock` with SASL over TLS, a produce and a consume go through, and a wrong password fails
/// with the broker's message and without the password on screen.
#[test]
fn security_properties_from_flags_and_a_file() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-sec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    let ca_arg = ca.to_str().unwrap();
    let (_mock, b) = start_mock(&["--sasl-user", "alice:cli-test-password", "--tls-ca-out", ca_arg]);
    let props = dir.join("client.properties");
    std::fs::write(
        &props,
        format!(
            "# as for kcat -F\nsecurity.protocol=SASL_SSL\nssl.ca.location={ca_arg}\nsasl.mechanisms=SCRAM-SHA-512\n\
             sasl.username=alice\n"
        ),
    )
    .unwrap();
    let file = props.to_str().unwrap();
    let password = "sasl.password=cli-test-password";
    ok(&b, &["-F", file, "-X", password, "produce", "secure", "-p", "0"], "one\ntwo\n");
    let read = ok(&b, &["consume", "secure", "-c", "2", "-F", file, "-X", password], "");
    assert_eq!(read, "one\ntwo\n");

    let wrong = run(&b, &["-F", file, "-X", "sasl.password=not-the-password", "topics"], "");
    assert_eq!(wrong.status.code(), Some(1));
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(err.contains("SCRAM-SHA-512 authentication") && err.contains("failed"), "{err}");
    assert!(!err.contains("not-the-password"), "{err}");

    let bad = run(&b, &["-X", "sasl.passwd=x", "topics"], "");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown property"), "{bad:?}");
}

/// `plainkafka mock --tls-client-ca` requires client certificates: the CLI without one is told
/// so; with one (`ssl.certificate.location`, `ssl.key.location`) it is served.
#[test]
fn a_mock_that_requires_client_certificates() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-mtls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = plainkafka::mock::CertificateAuthority::generate("client CA").unwrap();
    let client = ca.issue(&["cli-client"]).unwrap();
    let write = |name: &str, pem: &str| {
        let p = dir.join(name);
        std::fs::write(&p, pem).unwrap();
        p.to_str().unwrap().to_string()
    };
    let (client_ca, cert, key) = (
        write("client-ca.pem", &ca.ca_pem()),
        write("client.crt", &client.cert_pem),
        write("client.key", &client.key_pem),
    );
    let server_ca = dir.join("server-ca.pem").to_str().unwrap().to_string();
    let (_mock, b) = start_mock(&["--tls-ca-out", &server_ca, "--tls-client-ca", &client_ca]);
    let tls = format!("ssl.ca.location={server_ca}");
    let refused = run(&b, &["-X", &tls, "topics"], "");
    assert_eq!(refused.status.code(), Some(1));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("client certificate"), "{err}");
    let with_cert = [
        "-X".to_string(),
        tls.clone(),
        "-X".into(),
        format!("ssl.certificate.location={cert}"),
        "-X".into(),
        format!("ssl.key.location={key}"),
        "create-topic".into(),
        "mtls".into(),
        "--partitions".into(),
        "1".into(),
    ];
    let args: Vec<&str> = with_cert.iter().map(String::as_str).collect();
    ok(&b, &args, "");
}

/// Only `produce` may create a topic: reading commands name the missing topic in one line and
/// exit 1 (they used to create it, and `consume` of a missing topic with `-c` hung).
#[test]
fn reading_commands_never_create_topics() {
    let (_mock, b) = start_mock(&["--brokers", "1"]);
    for args in [
        &["consume", "ghost", "-c", "1"][..],
        &["consume", "ghost", "-g", "g", "--balanced", "-c", "1"],
        &["consume", "ghost", "-g", "g", "--share", "-c", "1"],
        &["describe", "ghost"],
        &["offsets", "ghost"],
        &["lag", "-g", "g", "ghost"],
        &["reset-offsets", "ghost", "-g", "g", "--to", "earliest"],
    ] {
        let out = run(&b, args, "");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("ghost") && err.trim().lines().count() == 1, "{args:?}: {err}");
    }
    assert_eq!(ok(&b, &["topics"], ""), "TOPIC PARTITIONS\n", "nothing was created");
    ok(&b, &["produce", "ghost", "-p", "0"], "boo\n");
    assert_eq!(ok(&b, &["consume", "ghost", "-c", "1"], ""), "boo\n");
    // A share group set to read from the start (its default is the end) reads it as a queue,
    // and is listed and described as one.
    let set = ok(&b, &["configs", "group", "q", "--set", "share.auto.offset.reset=earliest"], "");
    assert!(set.lines().any(|l| l == "share.auto.offset.reset earliest set"), "{set}");
    assert_eq!(ok(&b, &["consume", "ghost", "-g", "q", "--share", "-c", "1"], ""), "boo\n");
    let groups = ok(&b, &["groups"], "");
    assert!(groups.lines().any(|l| l.starts_with("q ") && l.ends_with(" share share")), "{groups}");
    let group = ok(&b, &["group", "q"], "");
    assert!(group.starts_with("group q state Empty protocol simple members 0"), "the member left: {group}");
    let out = run(&b, &["configs", "group", "q", "--set", "share.auto.offset.reset=sometimes"], "");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("IncrementalAlterConfigs") && err.contains("share.auto.offset.reset"), "{err}");
    // A reading command may still ask for it, by property.
    ok(&b, &["-X", "allow.auto.create.topics=true", "describe", "phantom"], "");
    // A broker named without a port is asked on 9092 (where nothing usually listens: then the
    // error names the address; a broker there would answer instead).
    let out = bounded::output_within(
        bin().args(["-b", "127.0.0.1", "-X", "socket.connection.setup.timeout.ms=2000", "topics"]),
        b"",
        bounded::CHILD_LIMIT,
    );
    assert!(out.status.success() || String::from_utf8_lossy(&out.stderr).contains("127.0.0.1:9092"), "{out:?}");
}

/// Reads `child`'s stdout lines as they come, on a thread.
fn lines_of(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The group's committed offset of partition 0 (`-` when none), from `offsets`.
fn committed(b: &str, topic: &str, group: &str) -> String {
    let rows = ok(b, &["offsets", topic, "-g", group], "");
    rows.lines().nth(1).and_then(|l| l.split_whitespace().nth(3)).expect("a row").to_string()
}

/// SIGINT or SIGTERM during `consume -g` stops it cleanly: exit 0, everything printed is
/// committed, and a group member leaves its group (it used to exit 130/143 with nothing
/// committed).
#[test]
fn a_signal_ends_consume_with_a_commit_of_what_was_printed() {
    let (_mock, b) = start_mock(&["--brokers", "1"]);
    let lines: String = (0..100).map(|i| format!("m{i}\n")).collect();
    ok(&b, &["produce", "signals", "-p", "0"], &lines);
    for (signal, group, balanced) in [("INT", "sig-int", false), ("TERM", "sig-term", true)] {
        let mut args = vec!["-b", &b, "consume", "signals", "-g", group];
        if balanced {
            args.push("--balanced");
        }
        let mut child = bin().args(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("consume");
        bounded::track(child.id());
        let rx = lines_of(&mut child);
        let got: Vec<String> = (0..100).map(|_| rx.recv_timeout(Duration::from_secs(30)).expect("a line")).collect();
        assert_eq!(got.len(), 100);
        let sent = Command::new("kill").args([format!("-{signal}"), child.id().to_string()]).status().expect("kill");
        assert!(sent.success());
        let (out, killed) = bounded::wait_output_within(child, Duration::from_secs(30));
        assert!(!killed, "SIG{signal}: still running 30 s later");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "SIG{signal}: {err}");
        assert_eq!(committed(&b, "signals", group), "100", "SIG{signal}");
        if balanced {
            let g = ok(&b, &["group", group], "");
            assert!(g.contains("members 0"), "the member left: {g}");
        }
    }
}

/// `consume -g … | head -1`: the reader closing the pipe ends consume quietly (exit 0, no
/// "Broken pipe"), and the commit covers only lines that reached the pipe, not everything
/// consumed.
#[test]
fn a_closed_pipe_ends_consume_quietly_committing_what_was_written() {
    let (_mock, b) = start_mock(&["--brokers", "1"]);
    // 200 lines of 2 kB: more than a pipe holds, so writing blocks until the reader goes.
    let lines: String = (0..200).map(|i| format!("{i:04}{}\n", "x".repeat(2000))).collect();
    ok(&b, &["produce", "piped", "-p", "0"], &lines);
    let mut child = bin()
        .args(["-b", &b, "consume", "piped", "-g", "piped"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("consume");
    bounded::track(child.id());
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    reader.read_line(&mut first).expect("a line");
    assert!(first.starts_with("0000"));
    drop(reader);
    let (out, killed) = bounded::wait_output_within(child, Duration::from_secs(30));
    assert!(!killed, "still running 30 s after its reader left");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("Broken pipe"), "{err}");
    let c: i64 = committed(&b, "piped", "piped").parse().expect("an offset was committed");
    assert!((1..200).contains(&c), "committed {c}: only what reached the pipe");
}

/// librdkafka's property names reach the builders that take them: `message.max.bytes` lets
/// `produce` write a 2 MB line (refused without it), consumer names and `group.id` shape
/// `consume`, and a name that doesn't apply, or that nobody knows, is a clear error.
#[test]
fn librdkafka_properties_reach_the_producer_and_the_consumer() {
    let (_mock, b) = start_mock(&["--partitions", "1"]);
    let big = "x".repeat(2_000_000) + "\n";
    let refused = run(&b, &["produce", "big", "-X", "acks=1"], &big);
    assert_eq!(refused.status.code(), Some(1), "a 2 MB message is over the default request size");
    let producer =
        ["-X", "message.max.bytes=3000000", "-X", "acks=1", "-X", "linger.ms=0", "-X", "compression.codec=zstd"];
    ok(&b, &[&["produce", "big"][..], &producer].concat(), &big);

    let consumer = ["-X", "group.id=g1", "-X", "max.partition.fetch.bytes=4000000", "-X", "fetch.wait.max.ms=50"];
    let read = ok(&b, &[&["consume", "big", "-c", "1"][..], &consumer].concat(), "");
    assert_eq!(read, big);
    assert!(ok(&b, &["lag", "-g", "g1", "big"], "").contains("\n0 1 1 0\n"), "group.id is the group committed to");
    let group = ["-X", "partition.assignment.strategy=roundrobin,range", "-X", "session.timeout.ms=6000"];
    let member = [&["consume", "big", "-g", "g2", "--balanced", "-c", "1"][..], &consumer[2..], &group].concat();
    assert_eq!(ok(&b, &member, ""), big, "a group member takes the group's properties");

    let err = |args: &[&str]| {
        let out = run(&b, args, "");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert_eq!(
        err(&["consume", "big", "-c", "1", "-X", "acks=1"]),
        "plainkafka: -X acks: a producer property; `consume` does not take it\n"
    );
    assert!(err(&["consume", "big", "-g", "g", "-X", "session.timeout.ms=6000"]).contains("a group member's property"));
    let txn = run(&b, &["produce", "big", "-X", "transactional.id=t"], "x\n");
    assert!(txn.status.success(), "the mock runs transactions: {txn:?}");
    assert_eq!(String::from_utf8_lossy(&txn.stderr), "1 message\n");
    let unknown = err(&["topics", "-X", "foo=1"]);
    assert!(unknown.contains("unknown property \"foo\"; known: bootstrap.servers,"), "{unknown}");
    assert!(unknown.contains("linger.ms") && unknown.contains("isolation.level"), "{unknown}");

    let list = ok(&b, &["-X", "list"], "");
    assert!(list.lines().any(|l| l.starts_with("acks ") && l.contains("producer")), "{list}");
    let debug = run(&b, &["-X", "debug=all", "topics"], "");
    assert!(debug.status.success());
    assert!(
        String::from_utf8_lossy(&debug.stderr).contains(" DEBUG plainkafka"),
        "debug=all turns on plainkafka's logs"
    );
}

/// kcat's habits: `-o` specs (beginning, end, stored, N, -N, s@, e@), `-e` to exit at the end
/// of every partition, `-J` envelopes, `-b` after the command, and `-X statistics.interval.ms`
/// printing the consumer's statistics as JSON lines on stderr.
#[test]
fn kcat_offsets_exit_at_end_and_json_envelopes() {
    let (_mock, b) = start_mock(&["--partitions", "2"]);
    let batch = |from: usize| (from..from + 5).map(|i| format!("k{i}:v{i}\n")).collect::<String>();
    ok(&b, &["produce", "kc", "-K", ":", "-p", "0"], &batch(0));
    ok(&b, &["produce", "kc", "-K", ":", "-p", "1"], &batch(5));
    let consume = |args: &[&str]| ok(&b, &[&["consume", "kc", "-e", "-f", "%p:%o:%s\n"][..], args].concat(), "");
    let sorted = |s: String| {
        let mut l: Vec<String> = s.lines().map(String::from).collect();
        l.sort();
        l
    };

    // Without -e this would wait for more forever.
    assert_eq!(consume(&[]).lines().count(), 10);
    assert_eq!(sorted(consume(&["-o", "-2"])), ["0:3:v3", "0:4:v4", "1:3:v8", "1:4:v9"]);
    assert_eq!(consume(&["-o", "3", "-p", "0"]), "0:3:v3\n0:4:v4\n");
    assert_eq!(consume(&["-o", "end"]), "");
    assert_eq!(consume(&["-o", "beginning", "-g", "kg"]).lines().count(), 10);
    assert_eq!(consume(&["-o", "stored", "-g", "kg"]), "", "the group committed everything it printed");
    let err = run(&b, &["consume", "kc", "-e", "-o", "stored"], "");
    assert!(String::from_utf8_lossy(&err.stderr).contains("-o stored needs a group"), "{err:?}");

    // s@ and e@ split the log at a time between two batches.
    let json = ok(&b, &["consume", "kc", "-e", "-J", "-p", "0", "-o", "4"], "");
    assert!(json.starts_with("{\"topic\":\"kc\",\"partition\":0,\"offset\":4,\"tstype\":\"create\",\"ts\":"), "{json}");
    assert!(json.ends_with(",\"broker\":-1,\"key\":\"k4\",\"payload\":\"v4\"}\n"), "{json}");
    let ts: i64 = json.split("\"ts\":").nth(1).and_then(|r| r.split(',').next()).unwrap().parse().unwrap();
    let now_ms = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    while now_ms() <= ts {
        std::thread::yield_now(); // the next batch must carry a later millisecond
    }
    ok(&b, &["produce", "kc", "-K", ":", "-p", "0", "-H", "h=1"], &batch(10));
    let split = format!("{}", ts + 1);
    let after = consume(&["-p", "0", "-o", &format!("s@{split}")]);
    assert_eq!(
        after.lines().map(|l| l.rsplit(':').next().unwrap()).collect::<Vec<_>>(),
        ["v10", "v11", "v12", "v13", "v14"]
    );
    let before = consume(&["-p", "0", "-o", &format!("e@{split}")]);
    assert_eq!(before.lines().count(), 5, "e@ stops before the later batch: {before}");
    let with_headers = ok(&b, &["consume", "kc", "-e", "-J", "-p", "0", "-o", "-1"], "");
    assert!(with_headers.contains(",\"headers\":{\"h\":\"1\"},\"key\":\"k14\""), "{with_headers}");

    // -b after the command; statistics on stderr.
    let out = bounded::output_within(
        bin().args(["consume", "kc", "-e", "-b", &b, "-X", "statistics.interval.ms=1"]),
        b"",
        bounded::CHILD_LIMIT,
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 15);
    let err = String::from_utf8_lossy(&out.stderr);
    let stats = err.lines().rfind(|l| l.starts_with("{\"type\":\"consumer\"")).expect("a statistics line");
    assert!(
        stats.contains("\"partition\":0,\"position\":10,") && stats.contains("\"high_watermark\":10,\"lag\":0"),
        "{stats}"
    );
    assert!(stats.contains("\"requests\":") && stats.contains("\"rtt_us\":{\"samples\":"), "{stats}");
}

/// SIGTERM during `produce` delivers what was read before exiting (the messages here would
/// otherwise wait a minute in the queue, and die with the process).
#[test]
fn a_signal_ends_produce_after_delivering_what_was_read() {
    let (_mock, b) = start_mock(&["--partitions", "1"]);
    let props = ["-X", "linger.ms=60000", "-X", "statistics.interval.ms=1"];
    let mut child = bin()
        .args([&["-b", &b, "produce", "held"][..], &props].concat())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("produce");
    bounded::track(child.id());
    let mut stdin = child.stdin.take().expect("stdin");
    let err = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Statistics print as each line is produced: wait until one shows a message held in the
    // queue, then signal.
    let mut seen = Vec::new();
    'lines: for i in 0..200 {
        use std::io::Write;
        writeln!(stdin, "m{i}").expect("write");
        stdin.flush().expect("flush");
        while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            let held = line.contains("\"queued_messages\":") && !line.contains("\"queued_messages\":0,");
            seen.push(line);
            if held {
                break 'lines;
            }
        }
    }
    assert!(seen.iter().any(|l| !l.contains("\"queued_messages\":0,")), "no message was ever queued: {seen:?}");
    let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(sent.success());
    let (out, killed) = bounded::wait_output_within(child, Duration::from_secs(30));
    assert!(!killed, "still running 30 s after SIGTERM");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let last: String = rx.try_iter().last().unwrap_or_default();
    let n: usize = last.split(' ').next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("a count: {last:?}"));
    assert!(last.ends_with("stopped by a signal"), "{last}");
    assert!(n >= 1);
    let read = ok(&b, &["consume", "held", "-e"], "");
    assert_eq!(read.lines().count(), n, "every message counted was delivered: {read}");
}

/// `perf produce|consume`: every message written and read, a summary on stdout, a progress
/// line each second on stderr, and a rate limit the run never beats.
#[test]
fn perf_writes_and_reads_a_load_and_keeps_to_its_rate() {
    let (_mock, b) = start_mock(&["--partitions", "3"]);
    let summary = ok(&b, &["perf", "produce", "load", "--count", "2000", "--size", "64"], "");
    assert!(summary.starts_with("2000 messages in ") && summary.contains(" msgs/s, "), "{summary}");
    assert!(summary.contains("latency p50 "), "{summary}");
    let latest: i64 = ok(&b, &["offsets", "load"], "")
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(2).unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(latest, 2000, "every message was written");
    let read = ok(&b, &["perf", "consume", "load", "--count", "2000", "-g", "perf"], "");
    assert!(read.starts_with("2000 messages in "), "{read}");
    let short = run(&b, &["perf", "consume", "load", "--count", "5000", "--idle-timeout-ms", "300"], "");
    assert_eq!(short.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&short.stderr).contains("only 2000 messages arrived"), "{short:?}");

    let paced = run(&b, &["perf", "produce", "paced", "--count", "1500", "--rate", "1000"], "");
    assert!(paced.status.success(), "{paced:?}");
    let out = String::from_utf8_lossy(&paced.stdout);
    let secs: f64 = out.split(" in ").nth(1).and_then(|r| r.split(' ').next()).unwrap().parse().unwrap();
    assert!(secs >= 1.49, "1500 messages at 1000/s can't take {secs} s: {out}");
    let progress = String::from_utf8_lossy(&paced.stderr);
    assert!(progress.lines().any(|l| l.contains(" s: ") && l.contains(" msgs/s")), "a progress line: {progress}");
}

/// A program in the main package's `examples/`, which `cargo test` builds.
fn example(name: &str) -> Command {
    bounded::watch_this_test();
    let path = std::path::Path::new(env!("CARGO_BIN_EXE_plainkafka"))
        .parent()
        .expect("target dir")
        .join("examples")
        .join(name);
    assert!(path.exists(), "{} is built by `cargo test --all-features`", path.display());
    Command::new(path)
}

/// The README's consumer-protocol example, with no arguments: a second member takes half the
/// partitions from the first on a MockCluster, and every record is read once.
#[test]
fn consumer_protocol_example_hands_partitions_over() {
    let out = bounded::output_within(&mut example("consumer_protocol"), b"", bounded::CHILD_LIMIT);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("first now reads partitions [0, 1, 2, 3]"), "{stdout}");
    assert!(stdout.contains("second now reads partitions [") && stdout.contains("80 distinct of 80"), "{stdout}");
}

/// The README's share group example, with no arguments: two workers on a MockCluster finish
/// ten jobs, each once, the retried ones at their third delivery (it exits 1 otherwise).
#[test]
fn share_queue_example_finishes_every_job_once() {
    let out = bounded::output_within(&mut example("share_queue"), b"", bounded::CHILD_LIMIT);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("10 jobs finished, each once: true"), "{stdout}");
    assert!(stdout.contains("retried jobs finished at deliveries [3, 3, 3]"), "{stdout}");
}
