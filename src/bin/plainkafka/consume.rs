//! `consume`: print messages, from chosen partitions or as a group member.

use crate::format::{write_json_envelope, write_message, Piece};
use crate::props::Conn;
use crate::AnyResult;
use plainkafka::stats::ConsumerStats;
use plainkafka::{
    Acknowledge, Assignor, BalancedConsumer, Message, OffsetReset, OffsetSpec, ShareConsumer, SimpleConsumer,
    StartDecision,
};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) struct ConsumeOpts {
    pub group: Option<String>,
    /// kcat's `-o`: where to start, and a time to stop at.
    pub offsets: OffsetArgs,
    /// kcat's `-e`: exit once every partition's end is reached.
    pub exit_at_end: bool,
    /// kcat's `-J`: one JSON envelope per message instead of `format`.
    pub json: bool,
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
    /// Consumer (and, with --balanced, group) properties (-X), applied over the flags.
    pub props: Vec<(String, String)>,
    /// With --share: read as a member of this share group, acknowledging each message printed
    /// this way.
    pub share: Option<Acknowledge>,
}

/// Where kcat's `-o` starts a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartAt {
    Beginning,
    End,
    /// The group's committed offset (the default with -g).
    Stored,
    /// This offset.
    Offset(i64),
    /// This many messages before the end.
    FromEnd(i64),
    /// The first message at or after this time (ms).
    Time(i64),
}

/// Every `-o` given: a start, and (`e@`) a time to stop at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct OffsetArgs {
    pub start: Option<StartAt>,
    /// Stop each partition at its first message at or after this time (ms), which is not
    /// printed.
    pub end_time: Option<i64>,
}

impl OffsetArgs {
    /// kcat's specs: beginning, end, stored, N, -N, s@MILLIS, e@MILLIS.
    pub(crate) fn parse(specs: &[String]) -> Result<OffsetArgs, String> {
        let mut o = OffsetArgs::default();
        for spec in specs {
            let millis = |v: &str| v.parse::<i64>().ok().filter(|t| *t >= 0);
            let start = match spec.as_str() {
                "beginning" => StartAt::Beginning,
                "end" => StartAt::End,
                "stored" => StartAt::Stored,
                s if s.starts_with("e@") => {
                    o.end_time = Some(millis(&s[2..]).ok_or_else(|| format!("-o {s}: expected e@MILLIS"))?);
                    continue;
                }
                s if s.starts_with("s@") => {
                    StartAt::Time(millis(&s[2..]).ok_or_else(|| format!("-o {s}: expected s@MILLIS"))?)
                }
                s => match s.parse::<i64>() {
                    Ok(n) if n >= 0 => StartAt::Offset(n),
                    Ok(n) if n > i64::MIN => StartAt::FromEnd(-n),
                    _ => {
                        return Err(format!(
                            "-o {s}: expected beginning, end, stored, an offset N, -N (N before the end), \
                             s@MILLIS or e@MILLIS"
                        ))
                    }
                },
            };
            if o.start.replace(start).is_some() {
                return Err(
                    "-o: one start only (beginning, end, stored, N, -N or s@MILLIS); e@MILLIS may join it".into()
                );
            }
        }
        Ok(o)
    }
}

/// How often the loop wakes to flush output and check the idle timeout.
const TICK: Duration = Duration::from_millis(100);
/// The same for a partition reader (no group membership to keep up) with an end to stop at
/// (`-e`, `-o e@`): whether every partition is there is checked when the loop wakes without a
/// message, and with TICK that added 0.1 s to each run (a third of reading 1,000,000 records).
const END_TICK: Duration = Duration::from_millis(5);
/// How long the idle timeout waits for the consumer to be ready (joined, every partition's
/// start offset known) before it counts anyway, so that an unreachable cluster still ends.
const READY_GRACE: Duration = Duration::from_secs(30);

/// The consumers behind one loop.
enum Consumer {
    Simple(Box<SimpleConsumer>),
    Balanced(Box<BalancedConsumer>),
    /// A share group member, and how it acknowledges what was printed.
    Share(Box<ShareConsumer>, Acknowledge),
}

impl Consumer {
    fn consume(&mut self) -> plainkafka::Result<Option<Message>> {
        match self {
            Consumer::Simple(c) => c.consume(),
            Consumer::Balanced(c) => c.consume(),
            Consumer::Share(c, _) => c.consume(),
        }
    }

    /// `m` reached the output: a share group member acknowledges it now (what was handed out
    /// and not printed goes back to the group when the consumer closes).
    fn printed(&mut self, m: &Message) -> plainkafka::Result<()> {
        match self {
            Consumer::Share(c, how) => c.acknowledge(m, *how),
            _ => Ok(()),
        }
    }

    fn commit_offsets(&mut self) -> plainkafka::Result<()> {
        match self {
            Consumer::Simple(c) => c.commit_offsets(),
            Consumer::Balanced(c) => c.commit_offsets(),
            // Acknowledgements are a share group's commits: sent when it closes.
            Consumer::Share(..) => Ok(()),
        }
    }

    /// Commits these (topic, partition, next offset) only.
    fn commit_offsets_at(&mut self, offsets: &[(String, i32, i64)]) -> plainkafka::Result<()> {
        match self {
            Consumer::Simple(c) => c.commit_offsets_at(&offsets.iter().map(|(_, p, o)| (*p, *o)).collect::<Vec<_>>()),
            Consumer::Balanced(c) => {
                c.commit_offsets_at(&offsets.iter().map(|(t, p, o)| (t.as_str(), *p, *o)).collect::<Vec<_>>())
            }
            Consumer::Share(..) => Ok(()),
        }
    }

    fn stop_handle(&self) -> plainkafka::StopHandle {
        match self {
            Consumer::Simple(c) => c.stop_handle(),
            Consumer::Balanced(c) => c.stop_handle(),
            Consumer::Share(c, _) => c.stop_handle(),
        }
    }

    /// Joined (for a group member) and every partition's start offset known: from here on,
    /// no message means nothing to read.
    fn ready(&self) -> bool {
        let joined = match self {
            Consumer::Simple(_) => true,
            Consumer::Balanced(c) => c.member_id().is_some(),
            Consumer::Share(c, _) => !c.assignment().is_empty(),
        };
        joined && self.start_decisions().iter().all(|(_, _, d)| d.is_some())
    }

    /// A share group member has none: a queue has no position of its own.
    fn stats(&self) -> Option<ConsumerStats> {
        match self {
            Consumer::Simple(c) => Some(c.stats()),
            Consumer::Balanced(c) => Some(c.stats()),
            Consumer::Share(..) => None,
        }
    }

    /// Every partition read is at its end (kcat's `-e`), or `done` (past `e@`). Never for a
    /// share group member.
    fn all_at_end(&self, done: &BTreeSet<i32>) -> bool {
        self.ready()
            && self.stats().is_some_and(|s| s.partitions.iter().all(|p| p.at_end() || done.contains(&p.partition)))
    }

    fn start_decisions(&self) -> Vec<(String, i32, Option<StartDecision>)> {
        match self {
            Consumer::Simple(c) => {
                c.start_decisions().into_iter().map(|(p, d)| (c.topic().to_string(), p, d)).collect()
            }
            Consumer::Balanced(c) => c.start_decisions().into_iter().map(|((t, p), d)| (t, p, d)).collect(),
            Consumer::Share(..) => Vec::new(),
        }
    }
}

pub(crate) fn consume(conn: &Conn, topic: &str, o: ConsumeOpts) -> AnyResult<()> {
    let client = conn.client()?;
    // Looked up first for both kinds: a group member of a topic that doesn't exist would wait
    // for partitions forever.
    let found = client.topic(topic)?;
    let (mut reset, mut reset_on_start) = (o.reset, o.reset_offset_on_start);
    match o.offsets.start {
        Some(StartAt::Beginning) => (reset, reset_on_start) = (OffsetReset::Earliest, true),
        Some(StartAt::End) => (reset, reset_on_start) = (OffsetReset::Latest, true),
        Some(StartAt::Stored) if o.group.is_none() => return Err("-o stored needs a group (-g)".into()),
        Some(StartAt::Stored) => reset_on_start = false,
        _ => {}
    }
    let mut c = match (&o.group, &o.balanced) {
        (Some(g), _) if o.share.is_some() => {
            if o.offsets.start.is_some() || o.offsets.end_time.is_some() || o.exit_at_end {
                return Err("a share group member (--share) reads where its group is: no -o, no -e".into());
            }
            if let Some((k, _)) = o.props.first() {
                return Err(format!("-X {k}: a share group member (--share) takes no properties yet").into());
            }
            let how = o.share.unwrap_or(Acknowledge::Accept);
            let share = client
                .share_consumer(g, &[topic])
                .explicit_acknowledgement(true)
                .consumer_timeout(Some(TICK))
                .build()?;
            Consumer::Share(Box::new(share), how)
        }
        (Some(g), Some((assignors, session))) => {
            if matches!(o.offsets.start, Some(StartAt::Offset(_) | StartAt::FromEnd(_) | StartAt::Time(_)))
                || o.offsets.end_time.is_some()
            {
                return Err("a group member (--balanced) starts at beginning, end or stored only, as kcat's -G".into());
            }
            let mut b = client
                .balanced_consumer(g, &[topic])
                .auto_offset_reset(reset)
                .reset_offset_on_start(reset_on_start)
                .consumer_timeout(Some(TICK))
                .auto_commit_enable(o.commit)
                .auto_commit_interval(Duration::from_secs(1))
                .session_timeout(*session)
                .heartbeat_interval((*session / 10).min(Duration::from_secs(3)));
            if !assignors.is_empty() {
                b = b.assignors(assignors);
            }
            for (k, v) in &o.props {
                b = b.set(k, v)?;
            }
            b = b.on_statistics(|s| eprintln!("{}", s.to_json()));
            Consumer::Balanced(Box::new(b.build()?))
        }
        _ => {
            let tick = if o.exit_at_end || o.offsets.end_time.is_some() { END_TICK } else { TICK };
            let mut b = found
                .simple_consumer()
                .auto_offset_reset(reset)
                .reset_offset_on_start(reset_on_start)
                .consumer_timeout(Some(tick));
            if let Some(g) = &o.group {
                b = b.consumer_group(g);
            }
            if !o.partitions.is_empty() {
                b = b.partitions(&o.partitions);
            }
            for (k, v) in &o.props {
                b = b.set(k, v)?;
            }
            b = b.on_statistics(|s| eprintln!("{}", s.to_json()));
            let mut c = b.build()?;
            // The log's bounds are looked up once, for every partition, and only for -N.
            let bounds = match o.offsets.start {
                Some(StartAt::FromEnd(_)) => {
                    Some((found.earliest_available_offsets()?, found.latest_available_offsets()?))
                }
                _ => None,
            };
            let specs: Vec<(i32, OffsetSpec)> = c
                .partitions()
                .into_iter()
                .filter_map(|p| {
                    let spec = match o.offsets.start {
                        Some(StartAt::Offset(n)) => OffsetSpec::Offset(n),
                        Some(StartAt::Time(t)) => OffsetSpec::Timestamp(t),
                        Some(StartAt::FromEnd(n)) => {
                            let (start, end) = bounds.as_ref()?;
                            let (start, end) = (start.get(&p).copied().unwrap_or(0), end.get(&p).copied().unwrap_or(0));
                            OffsetSpec::Offset(end.saturating_sub(n).max(start))
                        }
                        _ => return None,
                    };
                    Some((p, spec))
                })
                .collect();
            if !specs.is_empty() {
                c.reset_offsets(&specs)?;
            }
            Consumer::Simple(Box::new(c))
        }
    };
    // A group member commits as it goes, and a share group member acknowledges each message
    // printed: what was printed must be out before.
    let flush_each = o.balanced.is_some() || o.share.is_some();
    let stdout = io::stdout();
    let interactive = stdout.is_terminal() || flush_each;
    let mut out = Tracked::new(stdout.lock(), topic);
    let signalled = on_signal_stop(c.stop_handle());
    let mut printed = 0u64;
    let mut explained = BTreeSet::new();
    // Partitions past `-o e@`: their later messages are not printed.
    let mut past_end_time = BTreeSet::new();
    // The idle clock starts once the consumer is ready, not at process start: joining and
    // looking offsets up may take longer than the timeout on a busy machine. It starts at the
    // first empty poll after a message (at most one tick late), not at each message: a clock
    // read per message cost an eighth of the CPU.
    let started = Instant::now();
    let mut quiet_since: Option<Instant> = None;
    let stop_at_end = |c: &Consumer, done: &BTreeSet<i32>| {
        (o.exit_at_end && c.all_at_end(done))
            || (o.offsets.end_time.is_some() && c.ready() && {
                let parts = c.stats().map(|s| s.partitions).unwrap_or_default();
                !parts.is_empty() && parts.iter().all(|p| done.contains(&p.partition))
            })
    };
    let result = loop {
        if o.count.is_some_and(|n| printed >= n) || signalled.load(Ordering::Acquire) || out.closed {
            break Ok(());
        }
        let next = c.consume();
        if o.explain {
            explain(&c, &mut explained);
        }
        match next {
            Ok(Some(m)) => {
                if past_end_time.contains(&m.partition()) {
                    continue;
                }
                if let (Some(end), Some(ts)) = (o.offsets.end_time, m.timestamp()) {
                    if ts.millis >= end {
                        past_end_time.insert(m.partition());
                        if stop_at_end(&c, &past_end_time) {
                            break Ok(());
                        }
                        continue;
                    }
                }
                if o.json {
                    write_json_envelope(&mut out.buf, &m)?;
                } else {
                    write_message(&mut out.buf, &o.format, &m)?;
                }
                out.add(&m);
                printed += 1;
                quiet_since = None;
                if interactive || out.buf.len() >= 1 << 16 {
                    out.flush()?;
                }
                if !out.closed {
                    c.printed(&m)?;
                }
            }
            Ok(None) => {
                out.flush()?;
                if stop_at_end(&c, &past_end_time) {
                    break Ok(());
                }
                if quiet_since.is_none() && (printed > 0 || c.ready() || started.elapsed() >= READY_GRACE) {
                    quiet_since = Some(Instant::now());
                }
                if o.idle.is_some_and(|d| quiet_since.is_some_and(|t| t.elapsed() >= d)) {
                    break Ok(());
                }
            }
            Err(e) => break Err(e),
        }
    };
    out.flush()?;
    if o.group.is_some() && o.commit {
        if out.closed || !past_end_time.is_empty() {
            // The reader went away (`| head -1`), or messages past `-o e@` were read and not
            // printed: commit what reached the output, not what was handed to the consumer.
            let at = out.written_next();
            if !at.is_empty() {
                c.commit_offsets_at(&at).map_err(|e| format!("the final commit failed: {e}"))?;
            }
        } else {
            c.commit_offsets().map_err(|e| format!("the final commit failed: {e}"))?;
        }
    }
    drop(c);
    if !out.closed {
        eprintln!("{}", crate::format::count(printed, "message"));
    }
    result.map_err(Into::into)
}

/// Standard output with a record of which messages' lines reached the OS: after a broken pipe,
/// only those may be committed. `consume` reads one topic, so messages are kept by partition.
struct Tracked<W: Write> {
    w: W,
    topic: String,
    /// Lines not yet written.
    buf: Vec<u8>,
    /// The messages whose lines are in `buf`: (partition, offset, where its line ends).
    lines: Vec<(i32, i64, usize)>,
    /// Per partition: one past the last message whose line was written whole.
    written_next: BTreeMap<i32, i64>,
    /// The reader closed the pipe: nothing more is written.
    closed: bool,
}

impl<W: Write> Tracked<W> {
    fn new(w: W, topic: &str) -> Self {
        Tracked {
            w,
            topic: topic.to_string(),
            buf: Vec::with_capacity(1 << 16),
            lines: Vec::new(),
            written_next: BTreeMap::new(),
            closed: false,
        }
    }

    /// `m`'s line was just added to `buf`.
    fn add(&mut self, m: &Message) {
        self.lines.push((m.partition(), m.offset(), self.buf.len()));
    }

    /// Writes `buf` out. A broken pipe is not an error: it ends the output, and `closed` says
    /// so; the lines written whole before it count as written.
    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let mut done = 0;
        let outcome = loop {
            if done == self.buf.len() {
                break self.w.flush();
            }
            match self.w.write(&self.buf[done..]) {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        for (partition, offset, end) in self.lines.drain(..) {
            if end <= done {
                self.written_next.insert(partition, offset + 1);
            }
        }
        self.buf.clear();
        match outcome {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }

    /// (topic, partition, next offset) for every partition a line was written whole from.
    fn written_next(&self) -> Vec<(String, i32, i64)> {
        self.written_next.iter().map(|(p, next)| (self.topic.clone(), *p, *next)).collect()
    }
}

/// SIGINT or SIGTERM stops the consumer: the loop ends, what was printed is committed and the
/// member leaves its group. A second one ends the process at once. Returns the flag the loop
/// watches.
fn on_signal_stop(stop: plainkafka::StopHandle) -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&flag);
    let set = ctrlc::set_handler(move || {
        if seen.swap(true, Ordering::AcqRel) {
            std::process::exit(130);
        }
        stop.stop();
    });
    if let Err(e) = set {
        log::warn!("no signal handler ({e}): Ctrl-C will end the process without a commit");
    }
    flag
}

fn explain(c: &Consumer, done: &mut BTreeSet<(String, i32, i64)>) {
    for (t, p, d) in c.start_decisions() {
        if let Some(d) = d {
            // A group member may be assigned a partition again later: explain each start.
            if done.insert((t.clone(), p, d.offset)) {
                match c {
                    Consumer::Simple(_) => eprintln!("partition {p}: start at {} ({d})", d.offset),
                    Consumer::Balanced(_) | Consumer::Share(..) => {
                        eprintln!("{t} partition {p}: start at {} ({d})", d.offset)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(specs: &[&str]) -> Result<OffsetArgs, String> {
        OffsetArgs::parse(&specs.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn offset_specs_as_kcat_takes_them() {
        let start = |s: &str| parse(&[s]).unwrap().start.unwrap();
        assert_eq!(start("beginning"), StartAt::Beginning);
        assert_eq!(start("end"), StartAt::End);
        assert_eq!(start("stored"), StartAt::Stored);
        assert_eq!(start("42"), StartAt::Offset(42));
        assert_eq!(start("-10"), StartAt::FromEnd(10));
        assert_eq!(start("s@1700000000000"), StartAt::Time(1_700_000_000_000));
        let both = parse(&["s@5", "e@9"]).unwrap();
        assert_eq!((both.start, both.end_time), (Some(StartAt::Time(5)), Some(9)));
        assert_eq!(parse(&["e@9"]).unwrap().start, None);
        for bad in ["begin", "s@", "e@x", "s@-1", "-9223372036854775808", "1.5"] {
            assert!(parse(&[bad]).is_err(), "{bad}");
        }
        assert!(parse(&["end", "5"]).unwrap_err().contains("one start only"));
    }
}
