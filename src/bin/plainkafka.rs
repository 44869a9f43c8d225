//! `plainkafka`: consume a topic and inspect offsets from the command line.
//!
//! ```text
//! plainkafka [-b BROKERS] consume TOPIC [-g GROUP [--balanced [--assignor NAME]...
//!            [--session-timeout-ms MS]]] [--offset-reset earliest|latest]
//!            [--reset-offset-on-start] [-p PARTITION]... [-c COUNT] [--idle-timeout-ms MS]
//!            [-f FORMAT] [--no-commit] [--explain]
//! plainkafka [-b BROKERS] offsets TOPIC [-g GROUP]
//! plainkafka [-b BROKERS] groups
//! plainkafka [-b BROKERS] group GROUP
//! plainkafka [-b BROKERS] produce TOPIC [-p PARTITION] [-k KEY] [-K DELIM]
//!            [-z none|gzip|snappy|lz4|zstd] [--acks 0|1|all] [-H name=value]...
//! ```
//!
//! BROKERS defaults to `$KAFKA_BROKERS`, then `127.0.0.1:9092`. Any error prints one line on
//! stderr and exits 1.

use clap::{Parser, Subcommand, ValueEnum};
use plainkafka::{
    Acks, Assignor, BalancedConsumer, Compression, KafkaClient, Message, OffsetReset, ProducerRecord, SimpleConsumer,
    StartDecision,
};
use std::collections::BTreeSet;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(name = "plainkafka", version, about = "A synchronous Kafka client: produce, consume, inspect offsets.")]
struct Cli {
    /// Bootstrap brokers, host:port[,host:port...].
    #[arg(short = 'b', long, env = "KAFKA_BROKERS", default_value = "127.0.0.1:9092", global = true)]
    brokers: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Codec {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

#[derive(Clone, Copy, ValueEnum)]
enum AcksArg {
    #[value(name = "0")]
    Zero,
    #[value(name = "1")]
    One,
    All,
}

#[derive(Clone, Copy, ValueEnum)]
enum AssignorArg {
    Range,
    Roundrobin,
    CooperativeSticky,
}

#[derive(Clone, Copy, ValueEnum)]
enum Reset {
    Earliest,
    Latest,
}

#[derive(Subcommand)]
enum Command {
    /// Print messages, one per line (kcat-style format).
    #[command(
        after_help = "Example:\n  plainkafka -b 127.0.0.1:9092 consume orders -g billing -c 10 -f '%p:%o %k=%s\\n'\n  \
                      plainkafka -b 127.0.0.1:9092 consume orders -g billing --balanced --assignor cooperative-sticky"
    )]
    Consume {
        /// The topic.
        topic: String,
        /// Consumer group: start from its committed offsets and commit what was printed.
        #[arg(short = 'g', long)]
        group: Option<String>,
        /// Join the group and read the partitions it assigns (PyKafka's BalancedConsumer);
        /// commits as it goes. Output is flushed per message, so nothing committed is unprinted.
        #[arg(long, requires = "group", conflicts_with = "partitions")]
        balanced: bool,
        /// Assignor to offer, in order of preference (repeatable; with --balanced).
        #[arg(long = "assignor", value_enum, requires = "balanced")]
        assignors: Vec<AssignorArg>,
        /// Session timeout (with --balanced): a member silent this long loses its partitions.
        #[arg(long, default_value = "10000", requires = "balanced")]
        session_timeout_ms: u64,
        /// Where to start without a committed offset (PyKafka's auto_offset_reset).
        #[arg(long, value_enum, default_value = "earliest")]
        offset_reset: Reset,
        /// Ignore committed offsets and start at --offset-reset.
        #[arg(long)]
        reset_offset_on_start: bool,
        /// Read only this partition (repeatable).
        #[arg(short = 'p', long = "partition")]
        partitions: Vec<i32>,
        /// Exit after this many messages.
        #[arg(short = 'c', long)]
        count: Option<u64>,
        /// Exit when no message arrived for this long.
        #[arg(long)]
        idle_timeout_ms: Option<u64>,
        /// Output format: %t topic, %p partition, %o offset, %k key, %s value, %T timestamp (ms),
        /// %h headers (k=v,...), %% a percent sign; \n and \t escapes.
        #[arg(short = 'f', long, default_value = "%s\\n")]
        format: String,
        /// Don't commit on exit.
        #[arg(long)]
        no_commit: bool,
        /// Print each partition's start offset and the rule that chose it to stderr.
        #[arg(long)]
        explain: bool,
    },
    /// Write one message per line of standard input.
    #[command(
        after_help = "Example:\n  printf 'u1:hello\\nu2:world\\n' | plainkafka -b 127.0.0.1:9092 produce greetings -K : -z zstd"
    )]
    Produce {
        /// The topic.
        topic: String,
        /// Write every message to this partition (default: by key, else round-robin).
        #[arg(short = 'p', long)]
        partition: Option<i32>,
        /// The key of every message.
        #[arg(short = 'k', long, conflicts_with = "key_delimiter")]
        key: Option<String>,
        /// Split each line at the first DELIM: key before it, value after.
        #[arg(short = 'K', long = "key-delimiter")]
        key_delimiter: Option<String>,
        /// Compression codec.
        #[arg(short = 'z', long, value_enum, default_value = "none")]
        compression: Codec,
        /// Acknowledgements to wait for.
        #[arg(long, value_enum, default_value = "all")]
        acks: AcksArg,
        /// A header for every message, name=value (repeatable).
        #[arg(short = 'H', long = "header")]
        headers: Vec<String>,
    },
    /// One line per partition: PARTITION EARLIEST LATEST COMMITTED LAG.
    #[command(after_help = "Example:\n  plainkafka -b 127.0.0.1:9092 offsets orders -g billing")]
    Offsets {
        /// The topic.
        topic: String,
        /// Consumer group whose committed offsets and lag to show.
        #[arg(short = 'g', long)]
        group: Option<String>,
    },
    /// One line per group: GROUP STATE PROTOCOL_TYPE.
    #[command(after_help = "Example:\n  plainkafka -b 127.0.0.1:9092 groups")]
    Groups,
    /// A group's state and members, then one line per committed partition:
    /// TOPIC PARTITION COMMITTED LATEST LAG MEMBER.
    #[command(after_help = "Example:\n  plainkafka -b 127.0.0.1:9092 group billing")]
    Group {
        /// The group.
        group: String,
    },
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Consume {
            topic,
            group,
            balanced,
            assignors,
            session_timeout_ms,
            offset_reset,
            reset_offset_on_start,
            partitions,
            count,
            idle_timeout_ms,
            format,
            no_commit,
            explain,
        } => {
            let assignors = assignors
                .into_iter()
                .map(|a| match a {
                    AssignorArg::Range => Assignor::Range,
                    AssignorArg::Roundrobin => Assignor::RoundRobin,
                    AssignorArg::CooperativeSticky => Assignor::CooperativeSticky,
                })
                .collect();
            let opts = ConsumeOpts {
                group,
                balanced: balanced.then_some((assignors, Duration::from_millis(session_timeout_ms))),
                reset: match offset_reset {
                    Reset::Earliest => OffsetReset::Earliest,
                    Reset::Latest => OffsetReset::Latest,
                },
                reset_offset_on_start,
                partitions,
                count,
                idle: idle_timeout_ms.map(Duration::from_millis),
                format: parse_format(&format),
                commit: !no_commit,
                explain,
            };
            consume(&cli.brokers, &topic, opts)
        }
        Command::Offsets { topic, group } => offsets(&cli.brokers, &topic, group.as_deref()),
        Command::Groups => groups(&cli.brokers),
        Command::Group { group } => describe_group(&cli.brokers, &group),
        Command::Produce { topic, partition, key, key_delimiter, compression, acks, headers } => {
            let opts = ProduceOpts { partition, key, key_delimiter, compression, acks, headers };
            produce(&cli.brokers, &topic, opts)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("plainkafka: {e}");
            ExitCode::FAILURE
        }
    }
}

struct ConsumeOpts {
    group: Option<String>,
    /// With --balanced: the assignors and the session timeout.
    balanced: Option<(Vec<Assignor>, Duration)>,
    reset: OffsetReset,
    reset_offset_on_start: bool,
    partitions: Vec<i32>,
    count: Option<u64>,
    idle: Option<Duration>,
    format: Vec<Piece>,
    commit: bool,
    explain: bool,
}

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

/// How often the loop wakes to flush output and check the idle timeout.
const TICK: Duration = Duration::from_millis(100);

/// The two consumers behind one loop.
enum Consumer {
    Simple(Box<SimpleConsumer>),
    Balanced(Box<BalancedConsumer>),
}

impl Consumer {
    fn consume(&mut self) -> plainkafka::Result<Option<Message>> {
        match self {
            Consumer::Simple(c) => c.consume(),
            Consumer::Balanced(c) => c.consume(),
        }
    }

    fn commit_offsets(&mut self) -> plainkafka::Result<()> {
        match self {
            Consumer::Simple(c) => c.commit_offsets(),
            Consumer::Balanced(c) => c.commit_offsets(),
        }
    }

    fn start_decisions(&self) -> Vec<(String, i32, Option<StartDecision>)> {
        match self {
            Consumer::Simple(c) => {
                c.start_decisions().into_iter().map(|(p, d)| (c.topic().to_string(), p, d)).collect()
            }
            Consumer::Balanced(c) => c.start_decisions().into_iter().map(|((t, p), d)| (t, p, d)).collect(),
        }
    }
}

fn consume(brokers: &str, topic: &str, o: ConsumeOpts) -> AnyResult<()> {
    let client = KafkaClient::new(brokers)?;
    let mut c = match (&o.group, &o.balanced) {
        (Some(g), Some((assignors, session))) => {
            let mut b = client
                .balanced_consumer(g, &[topic])
                .auto_offset_reset(o.reset)
                .reset_offset_on_start(o.reset_offset_on_start)
                .consumer_timeout(Some(TICK))
                .auto_commit_enable(o.commit)
                .auto_commit_interval(Duration::from_secs(1))
                .session_timeout(*session)
                .heartbeat_interval((*session / 10).min(Duration::from_secs(3)));
            if !assignors.is_empty() {
                b = b.assignors(assignors);
            }
            Consumer::Balanced(Box::new(b.build()?))
        }
        _ => {
            let mut b = client
                .topic(topic)?
                .simple_consumer()
                .auto_offset_reset(o.reset)
                .reset_offset_on_start(o.reset_offset_on_start)
                .consumer_timeout(Some(TICK));
            if let Some(g) = &o.group {
                b = b.consumer_group(g);
            }
            if !o.partitions.is_empty() {
                b = b.partitions(&o.partitions);
            }
            Consumer::Simple(Box::new(b.build()?))
        }
    };
    // A group member commits as it goes, so what it printed must be out before each commit.
    let flush_each = o.balanced.is_some();
    let stdout = io::stdout();
    let interactive = stdout.is_terminal() || flush_each;
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut printed = 0u64;
    let mut explained = BTreeSet::new();
    let mut last_message = Instant::now();
    let result = loop {
        if o.count.is_some_and(|n| printed >= n) {
            break Ok(());
        }
        let next = c.consume();
        if o.explain {
            explain(&c, &mut explained);
        }
        match next {
            Ok(Some(m)) => {
                write_message(&mut out, &o.format, &m)?;
                printed += 1;
                last_message = Instant::now();
                if interactive {
                    out.flush()?;
                }
            }
            Ok(None) => {
                out.flush()?;
                if o.idle.is_some_and(|d| last_message.elapsed() >= d) {
                    break Ok(());
                }
            }
            Err(e) => break Err(e),
        }
    };
    out.flush()?;
    if o.group.is_some() && o.commit {
        c.commit_offsets()?;
    }
    drop(c);
    eprintln!("{printed} messages");
    result.map_err(Into::into)
}

struct ProduceOpts {
    partition: Option<i32>,
    key: Option<String>,
    key_delimiter: Option<String>,
    compression: Codec,
    acks: AcksArg,
    headers: Vec<String>,
}

fn produce(brokers: &str, topic: &str, o: ProduceOpts) -> AnyResult<()> {
    use io::BufRead;
    let mut headers = Vec::new();
    for h in &o.headers {
        let (name, value) = h.split_once('=').ok_or_else(|| format!("header {h:?} is not name=value"))?;
        headers.push((name.to_string(), Some(value.as_bytes().to_vec())));
    }
    let topic = KafkaClient::new(brokers)?.topic(topic)?;
    let mut p = topic
        .producer()
        .compression(match o.compression {
            Codec::None => Compression::None,
            Codec::Gzip => Compression::Gzip,
            Codec::Snappy => Compression::Snappy,
            Codec::Lz4 => Compression::Lz4,
            Codec::Zstd => Compression::Zstd,
        })
        .required_acks(match o.acks {
            AcksArg::Zero => Acks::None,
            AcksArg::One => Acks::Leader,
            AcksArg::All => Acks::All,
        })
        .build()?;
    let mut count = 0u64;
    for line in io::stdin().lock().split(b'\n') {
        let mut line = line?;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let (key, value) = match &o.key_delimiter {
            Some(d) => match find(&line, d.as_bytes()) {
                Some(at) => (Some(line[..at].to_vec()), line[at + d.len()..].to_vec()),
                None => (None, line),
            },
            None => (o.key.as_ref().map(|k| k.as_bytes().to_vec()), line),
        };
        let rec = ProducerRecord {
            value: Some(value),
            key,
            headers: headers.clone(),
            timestamp: None,
            partition: o.partition,
        };
        p.produce(rec)?;
        count += 1;
    }
    p.close(Duration::from_secs(60))?;
    eprintln!("{count} messages");
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn explain(c: &Consumer, done: &mut BTreeSet<(String, i32, i64)>) {
    for (t, p, d) in c.start_decisions() {
        if let Some(d) = d {
            // A group member may be assigned a partition again later: explain each start.
            if done.insert((t.clone(), p, d.offset)) {
                match c {
                    Consumer::Simple(_) => eprintln!("partition {p}: start at {} ({d})", d.offset),
                    Consumer::Balanced(_) => eprintln!("{t} partition {p}: start at {} ({d})", d.offset),
                }
            }
        }
    }
}

fn groups(brokers: &str) -> AnyResult<()> {
    let client = KafkaClient::new(brokers)?;
    let mut out = io::stdout().lock();
    writeln!(out, "GROUP STATE PROTOCOL_TYPE")?;
    for g in client.list_groups()? {
        let kind = if g.protocol_type.is_empty() { "-" } else { &g.protocol_type };
        writeln!(out, "{} {} {kind}", g.group, g.state.as_deref().unwrap_or("-"))?;
    }
    Ok(())
}

fn describe_group(brokers: &str, group: &str) -> AnyResult<()> {
    let client = KafkaClient::new(brokers)?;
    let d = client.describe_group(group)?;
    let committed = client.group_offsets(group)?;
    let mut out = io::stdout().lock();
    let protocol = if d.protocol.is_empty() { "-" } else { &d.protocol };
    writeln!(out, "group {} state {} protocol {protocol} members {}", d.group, d.state, d.members.len())?;
    let mut owner = std::collections::BTreeMap::new();
    for m in &d.members {
        let parts: Vec<String> =
            m.assignment.iter().flat_map(|(t, ps)| ps.iter().map(move |p| format!("{t}/{p}"))).collect();
        writeln!(
            out,
            "member {} client {} host {} assigned {}",
            m.member_id,
            m.client_id,
            m.client_host,
            parts.join(",")
        )?;
        for (t, ps) in &m.assignment {
            for p in ps {
                owner.insert((t.clone(), *p), m.member_id.clone());
            }
        }
    }
    writeln!(out, "TOPIC PARTITION COMMITTED LATEST LAG MEMBER")?;
    let mut topics: BTreeSet<&str> = committed.keys().map(|(t, _)| t.as_str()).collect();
    topics.extend(owner.keys().map(|(t, _)| t.as_str()));
    for topic in topics {
        let latest = client.topic(topic)?.latest_available_offsets()?;
        for (p, hi) in latest {
            let key = (topic.to_string(), p);
            let member = owner.get(&key).map_or("-", String::as_str);
            let (c, lag) = match committed.get(&key) {
                Some(c) => (c.to_string(), (hi - c).max(0).to_string()),
                None => ("-".into(), "-".into()),
            };
            writeln!(out, "{topic} {p} {c} {hi} {lag} {member}")?;
        }
    }
    Ok(())
}

fn offsets(brokers: &str, topic: &str, group: Option<&str>) -> AnyResult<()> {
    let topic = KafkaClient::new(brokers)?.topic(topic)?;
    let earliest = topic.earliest_available_offsets()?;
    let latest = topic.latest_available_offsets()?;
    let committed = match group {
        Some(g) => topic.committed_offsets(g)?,
        None => Default::default(),
    };
    let mut out = io::stdout().lock();
    writeln!(out, "PARTITION EARLIEST LATEST COMMITTED LAG")?;
    for (p, lo) in &earliest {
        let hi = latest.get(p).copied().unwrap_or(-1);
        let (c, lag) = match committed.get(p).copied().flatten() {
            Some(c) => (c.to_string(), (hi - c).max(0).to_string()),
            None => ("-".into(), "-".into()),
        };
        writeln!(out, "{p} {lo} {hi} {c} {lag}")?;
    }
    Ok(())
}

/// A piece of the output format.
#[derive(Debug, PartialEq, Eq)]
enum Piece {
    Text(Vec<u8>),
    Topic,
    Partition,
    Offset,
    Key,
    Value,
    Timestamp,
    Headers,
}

fn parse_format(f: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut text = Vec::new();
    let mut chars = f.chars();
    while let Some(ch) = chars.next() {
        let piece = match ch {
            '%' => match chars.next() {
                Some('t') => Piece::Topic,
                Some('p') => Piece::Partition,
                Some('o') => Piece::Offset,
                Some('k') => Piece::Key,
                Some('s') => Piece::Value,
                Some('T') => Piece::Timestamp,
                Some('h') => Piece::Headers,
                Some(other) => {
                    if other != '%' {
                        text.push(b'%');
                    }
                    push_char(&mut text, other);
                    continue;
                }
                None => {
                    text.push(b'%');
                    continue;
                }
            },
            '\\' => {
                match chars.next() {
                    Some('n') => text.push(b'\n'),
                    Some('t') => text.push(b'\t'),
                    Some('\\') => text.push(b'\\'),
                    Some(other) => {
                        text.push(b'\\');
                        push_char(&mut text, other);
                    }
                    None => text.push(b'\\'),
                }
                continue;
            }
            other => {
                push_char(&mut text, other);
                continue;
            }
        };
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
        }
        pieces.push(piece);
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    pieces
}

fn push_char(buf: &mut Vec<u8>, c: char) {
    let mut tmp = [0u8; 4];
    buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
}

fn write_message(out: &mut impl Write, format: &[Piece], m: &Message) -> io::Result<()> {
    for piece in format {
        match piece {
            Piece::Text(t) => out.write_all(t)?,
            Piece::Topic => out.write_all(m.topic().as_bytes())?,
            Piece::Partition => write!(out, "{}", m.partition())?,
            Piece::Offset => write!(out, "{}", m.offset())?,
            Piece::Key => out.write_all(m.key().unwrap_or_default())?,
            Piece::Value => out.write_all(m.value().unwrap_or_default())?,
            Piece::Timestamp => write!(out, "{}", m.timestamp().map_or(-1, |t| t.millis))?,
            Piece::Headers => {
                for (i, h) in m.headers().iter().enumerate() {
                    if i > 0 {
                        out.write_all(b",")?;
                    }
                    out.write_all(h.key.as_bytes())?;
                    out.write_all(b"=")?;
                    out.write_all(h.value.as_deref().unwrap_or_default())?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_like_kcat() {
        assert_eq!(parse_format("%s\\n"), vec![Piece::Value, Piece::Text(b"\n".to_vec())]);
        assert_eq!(
            parse_format("%t/%p@%o\\t%k=%s %T [%h] 100%% %x"),
            vec![
                Piece::Topic,
                Piece::Text(b"/".to_vec()),
                Piece::Partition,
                Piece::Text(b"@".to_vec()),
                Piece::Offset,
                Piece::Text(b"\t".to_vec()),
                Piece::Key,
                Piece::Text(b"=".to_vec()),
                Piece::Value,
                Piece::Text(b" ".to_vec()),
                Piece::Timestamp,
                Piece::Text(b" [".to_vec()),
                Piece::Headers,
                Piece::Text(b"] 100% %x".to_vec()),
            ]
        );
    }
}
