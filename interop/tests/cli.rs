//! The `plainkafka` command-line tool, run as a real process against Apache Kafka 4.x.

mod common;

use common::scenarios::new_topic;
use common::{init_logging, kafka, produce, unique_topic, Broker, TestMsg};
use std::process::{Command, Output};

fn plainkafka(b: &Broker, args: &[&str]) -> Output {
    plainkafka_with_input(b, args, "")
}

fn plainkafka_with_input(b: &Broker, args: &[&str], input: &str) -> Output {
    common::bounded::output_within(
        Command::new(common::cli_bin()).env_remove("KAFKA_BROKERS").args(["-b", &b.bootstrap]).args(args),
        input.as_bytes(),
        common::bounded::CHILD_LIMIT,
    )
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn broker() -> Broker {
    init_logging();
    kafka("4.4.0")
}

#[test]
fn consume_commits_what_it_printed_and_offsets_reports_it() {
    let b = broker();
    let topic = new_topic(&b, "cli", 1);
    let msgs = (0..10).map(|i| TestMsg {
        key: Some(format!("k{i}").into_bytes()),
        headers: vec![("h".into(), Some(b"v".to_vec()))],
        timestamp: Some(1_700_000_000_000 + i),
        ..TestMsg::value(0, format!("v{i}"))
    });
    produce(&b.bootstrap, &topic, msgs, false);
    let group = unique_topic("cli-group");

    let out =
        plainkafka(&b, &["consume", &topic, "-g", &group, "-c", "4", "-f", "%t %p:%o %k=%s %T [%h]\\n", "--explain"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0], format!("{topic} 0:0 k0=v0 1700000000000 [h=v]"));
    assert_eq!(lines[3], format!("{topic} 0:3 k3=v3 1700000000003 [h=v]"));
    let err = text(&out.stderr);
    assert!(err.contains("partition 0: start at 0 (no committed offset → auto_offset_reset=earliest"), "{err}");
    assert!(err.contains("4 messages"), "{err}");

    let out = plainkafka(&b, &["offsets", &topic, "-g", &group]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "PARTITION EARLIEST LATEST COMMITTED LAG\n0 0 10 4 6\n");

    // Resumes from the commit and stops when idle; --no-commit leaves the commit alone.
    let out = plainkafka(&b, &["consume", &topic, "-g", &group, "--idle-timeout-ms", "1000", "--no-commit"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "v4\nv5\nv6\nv7\nv8\nv9\n");
    let out = plainkafka(&b, &["offsets", &topic, "-g", &group]);
    assert_eq!(text(&out.stdout), "PARTITION EARLIEST LATEST COMMITTED LAG\n0 0 10 4 6\n");

    let out = plainkafka(&b, &["consume", &topic, "-g", &group, "--idle-timeout-ms", "1000"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 6);
    let out = plainkafka(&b, &["offsets", &topic]);
    assert_eq!(text(&out.stdout), "PARTITION EARLIEST LATEST COMMITTED LAG\n0 0 10 - -\n");
    let out = plainkafka(&b, &["offsets", &topic, "-g", &group]);
    assert_eq!(text(&out.stdout), "PARTITION EARLIEST LATEST COMMITTED LAG\n0 0 10 10 0\n");

    // LATEST on a new group prints nothing old.
    let out = plainkafka(
        &b,
        &[
            "consume",
            &topic,
            "-g",
            &unique_topic("g"),
            "--offset-reset",
            "latest",
            "--idle-timeout-ms",
            "500",
            "--explain",
        ],
    );
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).contains("partition 0: start at 10"), "{}", text(&out.stderr));
}

#[test]
fn errors_are_one_line_and_exit_1() {
    let b = Broker { bootstrap: "127.0.0.1:1".into(), ..broker() };
    let out = plainkafka(&b, &["offsets", "nothing"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("plainkafka: no bootstrap broker reachable (tried 127.0.0.1:1)"), "{err}");
}

#[test]
fn every_command_shows_an_example_in_help() {
    let b = broker();
    for cmd in ["consume", "offsets", "produce", "groups", "group"] {
        let out = plainkafka(&b, &[cmd, "--help"]);
        assert!(out.status.success());
        assert!(text(&out.stdout).contains("Example:"), "{cmd}");
    }
}

#[test]
fn produce_writes_one_message_per_line_with_keys_headers_and_codec() {
    let b = broker();
    let topic = new_topic(&b, "cli-produce", 3);
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let input = "u1:first\nno delimiter here\nu2:a:b\n";
        let out = plainkafka_with_input(
            &b,
            &["produce", &topic, "-p", "1", "-K", ":", "-z", codec, "-H", "src=cli", "--acks", "1"],
            input,
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stderr), "3 messages\n");
    }
    let out = plainkafka(&b, &["consume", &topic, "-p", "1", "-c", "15", "-f", "%k|%s|%h\\n"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 15);
    for chunk in lines.chunks(3) {
        assert_eq!(chunk, ["u1|first|src=cli", "|no delimiter here|src=cli", "u2|a:b|src=cli"]);
    }
    let out = plainkafka_with_input(&b, &["produce", &topic, "-H", "novalue"], "x\n");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr).lines().count(), 1, "{}", text(&out.stderr));
}

/// `consume --balanced` joins the group, reads and commits; `groups` lists the group; `group`
/// shows its members with their partitions while one runs, and commits and lag after.
#[test]
fn balanced_consume_then_groups_and_group_describe_it() {
    let b = broker();
    let topic = new_topic(&b, "cli-balanced", 2);
    produce(&b.bootstrap, &topic, (0..10).map(|i| TestMsg::value(i % 2, format!("b{i}"))), false);
    let group = unique_topic("cli-balanced-group");

    let out = plainkafka(&b, &["consume", &topic, "-g", &group, "--balanced", "-c", "6", "--explain"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 6);
    let err = text(&out.stderr);
    assert!(err.contains(&format!("{topic} partition 0: start at 0")), "{err}");

    let out = plainkafka(&b, &["groups"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = text(&out.stdout);
    assert!(listed.lines().any(|l| l.starts_with(&format!("{group} Empty consumer"))), "{listed}");

    let out = plainkafka(&b, &["group", &group]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let described = text(&out.stdout);
    assert!(described.starts_with(&format!("group {group} state Empty protocol - members 0")), "{described}");
    // Six of ten read and committed, so four left to read across the two partitions.
    let lag: i64 = described
        .lines()
        .filter(|l| l.starts_with(&topic))
        .map(|l| l.split_whitespace().nth(4).expect("lag column").parse::<i64>().expect("lag"))
        .sum();
    assert_eq!(lag, 4, "{described}");

    // With a member running, the group is Stable and the member owns both partitions.
    let m = common::groups::member(&b, &group, &topic, plainkafka::Assignor::Range);
    common::wait_until("the member to be assigned", std::time::Duration::from_secs(60), || {
        m.view().partitions.len() == 2
    });
    let out = plainkafka(&b, &["group", &group]);
    let described = text(&out.stdout);
    assert!(described.starts_with(&format!("group {group} state Stable protocol range members 1")), "{described}");
    assert!(described.contains(&format!("assigned {topic}/0,{topic}/1")), "{described}");
    m.leave();
}
