//! `consume`: print messages, from chosen partitions or as a group member.

use crate::format::{write_message, Piece};
use crate::props::Conn;
use crate::AnyResult;
use plainkafka::{Assignor, BalancedConsumer, Message, OffsetReset, SimpleConsumer, StartDecision};
use std::collections::BTreeSet;
use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

pub(crate) struct ConsumeOpts {
    pub group: Option<String>,
    /// With --balanced: the assignors and the session timeout.
    pub balanced: Option<(Vec<Assignor>, Duration)>,
    pub reset: OffsetReset,
    pub reset_offset_on_start: bool,
    pub partitions: Vec<i32>,
    pub count: Option<u64>,
    pub idle: Option<Duration>,
    pub format: Vec<Piece>,
    pub commit: bool,
    pub explain: bool,
}

/// How often the loop wakes to flush output and check the idle timeout.
const TICK: Duration = Duration::from_millis(100);
/// How long the idle timeout waits for the consumer to be ready (joined, every partition's
/// start offset known) before it counts anyway, so that an unreachable cluster still ends.
const READY_GRACE: Duration = Duration::from_secs(30);

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

    /// Joined (for a group member) and every partition's start offset known: from here on,
    /// no message means nothing to read.
    fn ready(&self) -> bool {
        let joined = match self {
            Consumer::Simple(_) => true,
            Consumer::Balanced(c) => c.member_id().is_some(),
        };
        joined && self.start_decisions().iter().all(|(_, _, d)| d.is_some())
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

pub(crate) fn consume(conn: &Conn, topic: &str, o: ConsumeOpts) -> AnyResult<()> {
    let client = conn.client()?;
    // A group member of a topic that doesn't exist would wait for partitions forever.
    client.topic(topic)?;
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
    // The idle clock starts once the consumer is ready, not at process start: joining and
    // looking offsets up may take longer than the timeout on a busy machine.
    let started = Instant::now();
    let mut last_message: Option<Instant> = None;
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
                last_message = Some(Instant::now());
                if interactive {
                    out.flush()?;
                }
            }
            Ok(None) => {
                out.flush()?;
                if last_message.is_none() && (c.ready() || started.elapsed() >= READY_GRACE) {
                    last_message = Some(Instant::now());
                }
                if o.idle.is_some_and(|d| last_message.is_some_and(|t| t.elapsed() >= d)) {
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
    eprintln!("{}", crate::format::count(printed, "message"));
    result.map_err(Into::into)
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
