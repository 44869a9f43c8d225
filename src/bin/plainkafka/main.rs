//! `plainkafka`: produce, consume, inspect and administer a Kafka cluster from the command line,
//! or run a local in-process one (`plainkafka mock`).
//!
//! ```text
//! plainkafka [-b BROKERS] consume TOPIC [-g GROUP [--balanced [--assignor NAME]...
//!            [--session-timeout-ms MS]]] [--offset-reset earliest|latest]
//!            [--reset-offset-on-start] [-p PARTITION]... [-c COUNT] [--idle-timeout-ms MS]
//!            [-f FORMAT] [--no-commit] [--explain]
//! plainkafka [-b BROKERS] offsets TOPIC [-g GROUP]
//! plainkafka [-b BROKERS] groups [-o json]
//! plainkafka [-b BROKERS] group GROUP [-o json]
//! plainkafka [-b BROKERS] topics [-o json]
//! plainkafka [-b BROKERS] describe TOPIC [-o json]
//! plainkafka [-b BROKERS] create-topic TOPIC --partitions N [--replication-factor R]
//! plainkafka [-b BROKERS] delete-topic TOPIC
//! plainkafka [-b BROKERS] lag -g GROUP TOPIC [-o json]
//! plainkafka [-b BROKERS] reset-offsets TOPIC -g GROUP --to earliest|latest|OFFSET|@MILLIS
//!            [-p PARTITION]... [--dry-run]
//! plainkafka mock [--brokers N] [--port P] [--partitions N] [--sasl-user USER:PASSWORD]...
//!                 [--tls-ca-out FILE [--tls-client-ca FILE]]
//! plainkafka [-b BROKERS] produce TOPIC [-p PARTITION] [-k KEY] [-K DELIM]
//!            [-z none|gzip|snappy|lz4|zstd] [--acks 0|1|all] [-H name=value]...
//! ```
//!
//! BROKERS defaults to `$KAFKA_BROKERS`, then `127.0.0.1:9092`. Every command also takes
//! `-X name=value` (repeatable) and `-F FILE` (one `name=value` per line) with librdkafka's
//! property names, as kcat does: `security.protocol`, `ssl.ca.location`, `sasl.mechanisms`,
//! `sasl.username`, `sasl.password` and the rest of [`plainkafka::KafkaClientBuilder::set`].
//! Any error prints one line on stderr and exits 1.

mod consume;
mod format;
mod ops;
mod perf;
mod produce;
mod props;

use clap::{Parser, Subcommand, ValueEnum};
use consume::{consume, ConsumeOpts};
use format::parse_format;
use plainkafka::{Assignor, OffsetReset};
use produce::{produce, ProduceOpts};
use props::{Conn, Uses};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "plainkafka", version, about = "A synchronous Kafka client: produce, consume, inspect offsets.")]
struct Cli {
    /// Bootstrap brokers, host[:port][,host[:port]...] (port 9092 when left out; before or
    /// after the command).
    #[arg(
        id = "bootstrap",
        short = 'b',
        long = "bootstrap-server",
        env = "KAFKA_BROKERS",
        default_value = "127.0.0.1:9092",
        global = true
    )]
    brokers: String,
    /// A property, name=value, with librdkafka's names: the client's (security.protocol,
    /// sasl.username, client.id, ...), the consumer's for consume (fetch.wait.max.ms,
    /// session.timeout.ms, ...), the producer's for produce (acks, linger.ms,
    /// message.max.bytes, ...), debug. Repeatable; after -F. `-X list` lists them all.
    #[arg(short = 'X', value_name = "NAME=VALUE", global = true)]
    properties: Vec<String>,
    /// A file of client properties, one name=value per line (# comments).
    #[arg(short = 'F', value_name = "FILE", global = true)]
    config_file: Option<std::path::PathBuf>,
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
enum ShareAck {
    Accept,
    Release,
    Reject,
}

#[derive(Clone, Copy, ValueEnum)]
enum AssignorArg {
    Range,
    Roundrobin,
    CooperativeSticky,
}

/// Output of the listing commands.
/// What `configs` shows.
#[derive(Clone, Copy, ValueEnum)]
enum ConfigKind {
    Topic,
    Broker,
    Group,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    /// Space-separated columns under a header line.
    Text,
    /// One JSON document.
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Reset {
    Earliest,
    Latest,
}

/// What `perf` does.
#[derive(Subcommand)]
enum PerfLoad {
    /// Write COUNT messages of SIZE bytes (latency: produce to acknowledgement).
    Produce {
        /// The topic.
        topic: String,
        /// Messages to write.
        #[arg(long, default_value = "1000000")]
        count: u64,
        /// Bytes per message (at least 8: each starts with its send time).
        #[arg(long, default_value = "100")]
        size: usize,
        /// At most this many messages per second.
        #[arg(long)]
        rate: Option<u64>,
    },
    /// Read COUNT messages from the start of the log (latency: create time to arrival).
    Consume {
        /// The topic.
        topic: String,
        /// Messages to read.
        #[arg(long, default_value = "1000000")]
        count: u64,
        /// Read as this group (from its commits; commits at the end).
        #[arg(short = 'g', long)]
        group: Option<String>,
        /// End early after this long without a message.
        #[arg(long, default_value = "10000")]
        idle_timeout_ms: u64,
    },
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
        /// Where to start, as kcat: beginning, end, stored, N (an offset), -N (N before the
        /// end), s@MILLIS (the first message at or after that time); e@MILLIS stops each
        /// partition at that time (repeatable: a start and an e@).
        #[arg(short = 'o', long = "offset", value_name = "SPEC", allow_hyphen_values = true)]
        offsets: Vec<String>,
        /// Exit once every partition's end is reached (kcat's -e).
        #[arg(short = 'e', long)]
        exit_at_end: bool,
        /// Print each message as kcat's JSON envelope (topic, partition, offset, tstype, ts,
        /// broker, headers, key, payload) instead of --format.
        #[arg(short = 'J', long)]
        json: bool,
        /// Join the group and read the partitions it assigns (PyKafka's BalancedConsumer);
        /// commits as it goes. Output is flushed per message, so nothing committed is unprinted.
        #[arg(long, requires = "group", conflicts_with = "partitions")]
        balanced: bool,
        /// Read as a member of share group -g (KIP-932, Kafka 4.2+): a queue, each message
        /// acquired for this member and acknowledged once printed (accept, unless
        /// --share-ack says otherwise).
        #[arg(long, requires = "group", conflicts_with_all = ["partitions", "balanced"])]
        share: bool,
        /// How a share group member acknowledges what it printed: accept, release (delivered
        /// again) or reject (archived), for trying redelivery.
        #[arg(long, value_enum, requires = "share", default_value = "accept")]
        share_ack: ShareAck,
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
        /// Exit when no message arrived for this long, counted from when the consumer is
        /// ready (joined, every start offset known; at most 30 s after start). At least 1.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
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
        /// Compression codec (default: the library's, lz4; a batch it doesn't shrink goes
        /// uncompressed).
        #[arg(short = 'z', long, value_enum)]
        compression: Option<Codec>,
        /// Acknowledgements to wait for.
        #[arg(long, value_enum, default_value = "all")]
        acks: AcksArg,
        /// A header for every message, name=value (repeatable).
        #[arg(short = 'H', long = "header")]
        headers: Vec<String>,
    },
    /// One line per partition: PARTITION EARLIEST LATEST COMMITTED LAG. LATEST is the high
    /// watermark, and LAG counts to it (as Kafka's consumer-groups tool); a read_committed
    /// consumer stops earlier, at the last stable offset, while a transaction is open.
    #[command(after_help = "Example:\n  plainkafka -b 127.0.0.1:9092 offsets orders -g billing")]
    Offsets {
        /// The topic.
        topic: String,
        /// Consumer group whose committed offsets and lag to show.
        #[arg(short = 'g', long)]
        group: Option<String>,
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Output,
    },
    /// A group's lag on a topic (PyKafka's print_consumer_lag), to the high watermark:
    /// PARTITION COMMITTED LATEST LAG,
    /// then the total.
    #[command(after_help = "Example:\n  plainkafka -b 127.0.0.1:9092 lag -g billing orders")]
    Lag {
        /// The topic.
        topic: String,
        /// The consumer group.
        #[arg(short = 'g', long)]
        group: String,
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Output,
    },
    /// Commit new next offsets for a group (PyKafka's reset_offsets). The group must have no
    /// running members. Prints PARTITION OLD NEW.
    #[command(
        after_help = "Example:\n  plainkafka -b 127.0.0.1:9092 reset-offsets orders -g billing --to @1700000000000 -p 0 -p 1 --dry-run"
    )]
    ResetOffsets {
        /// The topic.
        topic: String,
        /// The consumer group.
        #[arg(short = 'g', long)]
        group: String,
        /// earliest, latest, an offset (the next one read), or @MILLIS (the first message at or
        /// after that time; the end of the log where there is none).
        #[arg(long)]
        to: String,
        /// Only this partition (repeatable; default all).
        #[arg(short = 'p', long = "partition")]
        partitions: Vec<i32>,
        /// Show the new offsets without committing them.
        #[arg(long)]
        dry_run: bool,
    },
    /// One line per group: GROUP STATE PROTOCOL_TYPE TYPE (classic, consumer or share).
    #[command(after_help = "Example:\n  plainkafka -b 127.0.0.1:9092 groups -o json")]
    Groups {
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Output,
    },
    /// A group's state and members, then one line per committed partition:
    /// TOPIC PARTITION COMMITTED LATEST LAG MEMBER.
    #[command(after_help = "Example:\n  plainkafka -b 127.0.0.1:9092 group billing")]
    Group {
        /// The group.
        group: String,
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Output,
    },
    /// One line per topic: TOPIC PARTITIONS.
    #[command(after_help = "Example:\n  plainkafka -b 127.0.0.1:9092 topics")]
    Topics {
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Output,
    },
    /// A topic's partitions: PARTITION LEADER REPLICAS ISR EARLIEST LATEST.
    #[command(after_help = "Example:\n  plainkafka -b 127.0.0.1:9092 describe orders -o json")]
    Describe {
        /// The topic.
        topic: String,
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Output,
    },
    /// Create a topic.
    #[command(after_help = "Example:\n  plainkafka -b 127.0.0.1:9092 create-topic orders --partitions 6")]
    CreateTopic {
        /// The topic.
        topic: String,
        /// Partitions.
        #[arg(long)]
        partitions: i32,
        /// Replicas per partition (-1: the broker's default).
        #[arg(long, default_value = "-1")]
        replication_factor: i16,
    },
    /// Delete a topic.
    #[command(after_help = "Example:\n  plainkafka -b 127.0.0.1:9092 delete-topic orders")]
    DeleteTopic {
        /// The topic.
        topic: String,
    },
    /// A topic's, broker's or group's settings, after applying --set and --delete:
    /// NAME VALUE SOURCE (set or default).
    #[command(
        after_help = "Example:\n  plainkafka -b 127.0.0.1:9092 configs group workers --set share.auto.offset.reset=earliest"
    )]
    Configs {
        /// What the settings belong to.
        #[arg(value_enum)]
        kind: ConfigKind,
        /// The topic, broker id or group.
        name: String,
        /// Set NAME=VALUE (repeatable).
        #[arg(long = "set")]
        set: Vec<String>,
        /// Delete NAME: back to its default (repeatable).
        #[arg(long = "delete")]
        delete: Vec<String>,
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Output,
    },
    /// Load test: write or read many messages, with a progress line each second (msgs/s, MB/s,
    /// latency p50/p99) on stderr and a summary on stdout.
    #[command(
        after_help = "Example:\n  plainkafka -b 127.0.0.1:9092 perf produce load --count 1000000 --size 100 --rate 200000\n  \
                      plainkafka -b 127.0.0.1:9092 perf consume load --count 1000000"
    )]
    Perf {
        #[command(subcommand)]
        load: PerfLoad,
    },
    /// Run an in-process Kafka cluster in the foreground (no JVM, no Docker): prints its
    /// bootstrap address on the first line; Ctrl-C stops it.
    #[command(after_help = "Example:\n  plainkafka mock --brokers 3 --port 9092 --partitions 4\n  \
                      plainkafka mock --sasl-user alice:secret --tls-ca-out /tmp/mock-ca.pem")]
    Mock {
        /// Brokers.
        #[arg(long, default_value = "1")]
        brokers: usize,
        /// First port (brokers listen on PORT, PORT+1, ...); default: ports the system picks.
        #[arg(long)]
        port: Option<u16>,
        /// Partitions of topics created on first use.
        #[arg(long, default_value = "1")]
        partitions: i32,
        /// Require SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and accept this user (repeatable).
        #[arg(long = "sasl-user", value_name = "USER:PASSWORD")]
        sasl_users: Vec<String>,
        /// Serve TLS with a certificate for localhost and 127.0.0.1 from a CA made at start, and
        /// write that CA's certificate here (for ssl.ca.location).
        #[arg(long, value_name = "FILE")]
        tls_ca_out: Option<std::path::PathBuf>,
        /// With --tls-ca-out: require client certificates signed by the CA in this PEM file.
        #[arg(long, value_name = "FILE", requires = "tls_ca_out")]
        tls_client_ca: Option<std::path::PathBuf>,
    },
}

fn main() -> ExitCode {
    // kcat's `-X list`, before the command line is checked for a command.
    if std::env::args().skip(1).collect::<Vec<_>>().windows(2).any(|w| w[0] == "-X" && w[1] == "list") {
        print!("{}", props::list());
        return ExitCode::SUCCESS;
    }
    let cli = Cli::parse();
    let conn = match Conn::new(&cli.brokers, cli.config_file.as_deref(), &cli.properties) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("plainkafka: {e}");
            return ExitCode::FAILURE;
        }
    };
    // RUST_LOG wins over -X debug, which wins over the default.
    let filter = conn.log_filter().unwrap_or("warn");
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(filter)).init();
    match run(cli.command, &conn) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("plainkafka: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command, conn: &Conn) -> AnyResult<()> {
    let name = command_name(&command);
    let uses = match &command {
        Command::Consume { group, balanced, .. } => Uses::Consumer { group: group.is_some() && *balanced },
        Command::Produce { .. } | Command::Perf { load: PerfLoad::Produce { .. } } => Uses::Producer,
        Command::Perf { load: PerfLoad::Consume { .. } } => Uses::Consumer { group: false },
        _ => Uses::Client,
    };
    let mut props = conn.for_command(name, uses)?;
    match command {
        Command::Consume {
            topic,
            group,
            balanced,
            share,
            share_ack,
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
            offsets,
            exit_at_end,
            json,
        } => {
            // librdkafka's group.id is -g.
            let mut group = group;
            if let Some(at) = props.iter().position(|(k, _)| k == "group.id") {
                let (_, g) = props.remove(at);
                if group.as_ref().is_some_and(|given| *given != g) {
                    return Err(format!("-g {} and -X group.id={g} disagree", group.unwrap_or_default()).into());
                }
                group = Some(g);
            }
            let assignors = assignors
                .into_iter()
                .map(|a| match a {
                    AssignorArg::Range => Assignor::Range,
                    AssignorArg::Roundrobin => Assignor::RoundRobin,
                    AssignorArg::CooperativeSticky => Assignor::CooperativeSticky,
                })
                .collect();
            let opts = ConsumeOpts {
                offsets: consume::OffsetArgs::parse(&offsets)?,
                exit_at_end,
                json,
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
                props,
                share: share.then_some(match share_ack {
                    ShareAck::Accept => plainkafka::Acknowledge::Accept,
                    ShareAck::Release => plainkafka::Acknowledge::Release,
                    ShareAck::Reject => plainkafka::Acknowledge::Reject,
                }),
            };
            consume(conn, &topic, opts)
        }
        Command::Offsets { topic, group, output } => ops::offsets(conn, &topic, group.as_deref(), output),
        Command::Lag { topic, group, output } => ops::lag(conn, &topic, &group, output),
        Command::ResetOffsets { topic, group, to, partitions, dry_run } => {
            ops::reset_offsets(conn, &topic, &group, &to, &partitions, dry_run)
        }
        Command::Groups { output } => ops::groups(conn, output),
        Command::Group { group, output } => ops::describe_group(conn, &group, output),
        Command::Topics { output } => ops::topics(conn, output),
        Command::Describe { topic, output } => ops::describe_topic(conn, &topic, output),
        Command::CreateTopic { topic, partitions, replication_factor } => {
            ops::create_topic(conn, &topic, partitions, replication_factor)
        }
        Command::DeleteTopic { topic } => ops::delete_topic(conn, &topic),
        Command::Configs { kind, name, set, delete, output } => {
            let resource = match kind {
                ConfigKind::Topic => plainkafka::ConfigResource::Topic(name),
                ConfigKind::Broker => plainkafka::ConfigResource::Broker(
                    name.parse().map_err(|_| format!("broker {name}: a broker id is a number"))?,
                ),
                ConfigKind::Group => plainkafka::ConfigResource::Group(name),
            };
            ops::configs(conn, &resource, &set, &delete, output)
        }
        Command::Perf { load: PerfLoad::Produce { topic, count, size, rate } } => {
            perf::produce(conn, &topic, perf::ProduceLoad { count, size, rate, props })
        }
        Command::Perf { load: PerfLoad::Consume { topic, count, group, idle_timeout_ms } } => {
            let idle = Duration::from_millis(idle_timeout_ms);
            perf::consume(conn, &topic, perf::ConsumeLoad { count, group, idle, props })
        }
        Command::Mock { brokers, port, partitions, sasl_users, tls_ca_out, tls_client_ca } => {
            let tls = tls_ca_out.as_deref().map(|ca_out| (ca_out, tls_client_ca.as_deref()));
            ops::mock(brokers, port, partitions, &sasl_users, tls)
        }
        Command::Produce { topic, partition, key, key_delimiter, compression, acks, headers } => {
            let opts = ProduceOpts { partition, key, key_delimiter, compression, acks, headers, props };
            produce(conn, &topic, opts)
        }
    }
}

/// The command's name as typed.
fn command_name(c: &Command) -> &'static str {
    match c {
        Command::Consume { .. } => "consume",
        Command::Produce { .. } => "produce",
        Command::Offsets { .. } => "offsets",
        Command::Lag { .. } => "lag",
        Command::ResetOffsets { .. } => "reset-offsets",
        Command::Groups { .. } => "groups",
        Command::Group { .. } => "group",
        Command::Topics { .. } => "topics",
        Command::Describe { .. } => "describe",
        Command::CreateTopic { .. } => "create-topic",
        Command::DeleteTopic { .. } => "delete-topic",
        Command::Configs { .. } => "configs",
        Command::Mock { .. } => "mock",
        Command::Perf { load: PerfLoad::Produce { .. } } => "perf produce",
        Command::Perf { load: PerfLoad::Consume { .. } } => "perf consume",
    }
}

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;
