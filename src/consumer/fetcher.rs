//! A fetcher thread: resolves start offsets for its partitions, then long-polls their leaders.
//! Partitions are named by their slot in [`Shared::keys`], so no lookup by name is needed.
//!
//! Thread `i` of `n` serves the partitions whose leader is the `i`-th broker (modulo `n`) of
//! those known when the consumer started; a broker that joined later goes by its id, and a
//! leaderless partition by its partition id (that thread refreshes the metadata). By default
//! there is one thread per broker, so a broker that hangs holds up only its own partitions:
//! once their leadership moves, another thread serves them. Each round a thread writes one
//! Fetch per broker it serves, covering all that broker's partitions with room in their queues,
//! and only then reads the answers. Each thread owns its connections: a Fetch waiting out
//! `fetch_wait_max` never holds up anyone else's request.
//!
//! The thread talks to the cluster only through [`FetchIo`] — [`ClusterIo`] in production, a
//! scripted fake in the unit tests below, which run the whole loop without a socket.

use super::position::{Applied, Limits, Need, Part, Ticket};
use super::state::Shared;
use crate::client::fetch::{
    self, FetchOutcome, FetchParams, FetchSession, PartitionFetch, PartitionOutcome, PendingFetch,
};
use crate::client::offsets as broker_offsets;
use crate::client::pool::Dedicated;
use crate::client::Client;
use crate::error::{Error, Result, Retry};
use crate::offsets::{decide_out_of_range, decide_start, IsolationLevel, LogBounds};
use crate::protocol::records::{self, AbortedTransactions, Record};
use crate::retry::{self, Backoff};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a fetcher thread asks of the cluster.
pub(crate) trait FetchIo {
    /// A Fetch written, its answer still to be read.
    type Pending;
    /// The cached leaders of `keys`.
    fn leaders(&self, keys: &[(Arc<str>, i32)]) -> Vec<Option<i32>>;
    /// Refreshes the metadata of `topics`.
    fn refresh_metadata(&mut self, topics: &[&str]) -> Result<()>;
    /// `group`'s committed offsets for `partitions` of `topic` (one attempt).
    fn committed(&mut self, group: &str, topic: &str, partitions: &[i32]) -> Result<BTreeMap<i32, Option<i64>>>;
    /// The log bounds of `partitions` of `topic` (one attempt).
    fn bounds(&mut self, topic: &str, partitions: &[i32]) -> Result<BTreeMap<i32, LogBounds>>;
    /// Writes a Fetch to `broker`.
    fn send(&mut self, broker: i32, params: &FetchParams, parts: &[PartitionFetch<'_>]) -> Result<Self::Pending>;
    /// Reads the answer to a Fetch written by `send`.
    fn read(&mut self, pending: Self::Pending) -> Result<Vec<PartitionOutcome>>;
}

/// [`FetchIo`] over the client layer, with the thread's own connections.
#[derive(Debug)]
pub(crate) struct ClusterIo {
    client: Arc<Client>,
    conns: Dedicated,
    isolation: IsolationLevel,
    /// The incremental fetch session with each broker this thread fetches from.
    sessions: HashMap<i32, FetchSession>,
}

impl ClusterIo {
    pub fn new(client: Arc<Client>, isolation: IsolationLevel) -> ClusterIo {
        ClusterIo { client, conns: Dedicated::default(), isolation, sessions: HashMap::new() }
    }
}

impl FetchIo for ClusterIo {
    type Pending = (PendingFetch, Instant);

    fn leaders(&self, keys: &[(Arc<str>, i32)]) -> Vec<Option<i32>> {
        self.client.leaders_of(keys)
    }

    fn refresh_metadata(&mut self, topics: &[&str]) -> Result<()> {
        self.client.refresh_metadata(topics)
    }

    fn committed(&mut self, group: &str, topic: &str, partitions: &[i32]) -> Result<BTreeMap<i32, Option<i64>>> {
        broker_offsets::fetch_committed(&self.client, group, topic, partitions, 1)
    }

    fn bounds(&mut self, topic: &str, partitions: &[i32]) -> Result<BTreeMap<i32, LogBounds>> {
        broker_offsets::log_bounds(&self.client, topic, partitions, self.isolation, 1)
    }

    fn send(&mut self, broker: i32, params: &FetchParams, parts: &[PartitionFetch<'_>]) -> Result<Self::Pending> {
        let deadline = Instant::now() + params.wait + self.client.connection_config().request_timeout;
        let session = self.sessions.entry(broker).or_default();
        let pending = fetch::send(&mut self.conns, &self.client, (broker, session), params, parts, deadline)?;
        Ok((pending, deadline))
    }

    fn read(&mut self, (pending, deadline): Self::Pending) -> Result<Vec<PartitionOutcome>> {
        let session = self.sessions.entry(pending.broker()).or_default();
        fetch::read(&mut self.conns, &self.client, pending, deadline, session)
    }
}

/// How long an idle fetcher sleeps before looking for work again, when nothing wakes it.
const IDLE_WAIT: Duration = Duration::from_millis(100);

/// Runs fetcher `me` until the consumer stops.
pub(crate) fn run(shared: Arc<Shared>, client: Arc<Client>, me: Threads) {
    let backoff = client.backoff(retry::REQUEST_MAX);
    let isolation = shared.cfg.isolation_level;
    let mut f = Fetcher::new(shared, ClusterIo::new(client, isolation), backoff, me);
    while !f.shared.is_stopped() {
        f.step();
    }
}

#[derive(Debug, Clone, Copy)]
struct Planned {
    slot: usize,
    ticket: Ticket,
    size: usize,
    /// The leader epoch of the last record read (KIP-320), -1 if unknown.
    last_epoch: i32,
}

#[derive(Debug, Default)]
struct Plan {
    /// (slot, ticket, after OFFSET_OUT_OF_RANGE)
    resolve: Vec<(usize, Ticket, bool)>,
    fetch: BTreeMap<i32, Vec<Planned>>,
    /// The most each Fetch answer should carry: `fetch_max_bytes`, or less when the queues of
    /// all partitions and the Fetches in flight are near `queued_max_bytes_total` (the room
    /// left is shared between the brokers fetched).
    fetch_max_bytes: usize,
    leaderless: bool,
    next_wake: Option<Instant>,
}

/// A fetcher thread's place among its consumer's: thread `idx` of `n`, and the brokers known
/// when the consumer started (sorted), which the threads divide between them.
#[derive(Debug, Clone)]
pub(crate) struct Threads {
    pub idx: usize,
    pub n: usize,
    pub brokers: Arc<Vec<i32>>,
}

impl Threads {
    /// Which thread serves a partition: the one of its leader's place among the known brokers
    /// (modulo `n`), so that each broker is fetched from by one thread; a broker that joined
    /// later goes by its id, and a leaderless partition by its own id.
    fn owner(&self, leader: Option<i32>, partition: i32) -> usize {
        let n = self.n.max(1);
        match leader {
            Some(l) => match self.brokers.iter().position(|b| *b == l) {
                Some(i) => i % n,
                None => l.rem_euclid(n as i32) as usize,
            },
            None => partition.rem_euclid(n as i32) as usize,
        }
    }
}

/// How much memory the fetched bytes take once queued: the room in the queues (counted in
/// [`super::position::footprint`]) and the Fetches' byte limits (counted on the wire) are
/// converted with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Expansion {
    /// Queued bytes per 100 bytes fetched, as the last answers had it (small records take
    /// more: each decoded record is a struct beside its bytes).
    pct: usize,
}

impl Expansion {
    /// Before any answer: a record of ~80 bytes.
    const FIRST: Expansion = Expansion { pct: 200 };

    /// Learns from an answer of `wire` bytes that took `queued` bytes, a quarter weight each.
    fn learn(&mut self, wire: usize, queued: usize) {
        if let Some(seen) = queued.saturating_mul(100).checked_div(wire) {
            self.pct = (self.pct * 3 + seen.clamp(100, 2000)) / 4;
        }
    }

    fn to_wire(self, queued: usize) -> usize {
        queued.saturating_mul(100) / self.pct
    }

    fn to_queued(self, wire: usize) -> usize {
        wire.saturating_mul(self.pct) / 100
    }
}

/// The work of fetcher `me` at `now`: what each of its partitions needs, fetches grouped by
/// leader, and whether a leader is missing. `fetching`: what the Fetches in flight may queue.
fn plan_for(
    parts: &[Part],
    leaders: &[Option<i32>],
    me: &Threads,
    now: Instant,
    limits: &Limits,
    fetching: usize,
    expansion: Expansion,
) -> Plan {
    // The consumer-wide bound: with the queues and the Fetches in flight at it, nothing is
    // fetched until the application takes some; otherwise the answers are asked to fit,
    // together, in the room left.
    let queued: usize = parts.iter().map(|p| p.queued_bytes).sum();
    let room = limits.queued_max_bytes_total.saturating_sub(queued.saturating_add(fetching));
    let mut plan = Plan::default();
    for (slot, (p, &leader)) in parts.iter().zip(leaders).enumerate() {
        if me.owner(leader, p.partition) != me.idx {
            continue;
        }
        let need = p.need(now, limits);
        match (need, leader) {
            (Need::Nothing, _) => {}
            (Need::Fetch { .. }, _) if room == 0 => {}
            (Need::WaitUntil(at), _) => plan.next_wake = Some(plan.next_wake.map_or(at, |w| w.min(at))),
            (_, None) => plan.leaderless = true,
            (Need::Resolve { out_of_range }, Some(_)) => plan.resolve.push((slot, p.ticket(-1), out_of_range)),
            (Need::Fetch { offset, max_bytes }, Some(leader)) => {
                let planned = Planned { slot, ticket: p.ticket(offset), size: max_bytes, last_epoch: p.last_epoch };
                plan.fetch.entry(leader).or_default().push(planned)
            }
        }
    }
    plan.fetch_max_bytes = limits.fetch_max_bytes.min(expansion.to_wire(room / plan.fetch.len().max(1))).max(1);
    plan
}

struct Fetcher<I: FetchIo> {
    shared: Arc<Shared>,
    io: I,
    me: Threads,
    limits: Limits,
    backoff: Backoff,
    refresh: bool,
    refresh_failures: u32,
    expansion: Expansion,
}

impl<I: FetchIo> Fetcher<I> {
    fn new(shared: Arc<Shared>, io: I, backoff: Backoff, me: Threads) -> Fetcher<I> {
        let cfg = &shared.cfg;
        let limits = Limits {
            queued_max_messages: cfg.queued_max_messages,
            queued_max_bytes: cfg.queued_max_bytes,
            queued_max_bytes_total: cfg.queued_max_bytes_total,
            fetch_max_bytes: cfg.fetch_max_bytes,
            fetch_size_limit: cfg.fetch_message_max_bytes_limit,
            reset_on_fetch: cfg.reset_offset_on_fetch,
        };
        Fetcher { shared, io, me, limits, backoff, refresh: false, refresh_failures: 0, expansion: Expansion::FIRST }
    }

    fn step(&mut self) {
        if self.refresh {
            self.refresh_metadata();
            return;
        }
        let plan = self.plan();
        if plan.leaderless {
            self.refresh = true;
        }
        if !plan.resolve.is_empty() {
            self.resolve(&plan.resolve);
        }
        if !plan.fetch.is_empty() {
            self.fetch(plan.fetch, plan.fetch_max_bytes);
        } else if plan.resolve.is_empty() && !self.refresh {
            let wait = plan.next_wake.map_or(IDLE_WAIT, |t| t.saturating_duration_since(Instant::now()).min(IDLE_WAIT));
            self.shared.wait_for_work(wait);
        }
    }

    fn refresh_metadata(&mut self) {
        let wait = self.backoff.delay(self.refresh_failures);
        // Waits out the backoff, but wakes at once on stop.
        self.shared.wait_for_work(wait);
        if self.shared.is_stopped() {
            return;
        }
        let topics: Vec<&str> = self.shared.topics.iter().map(|t| &**t).collect();
        match self.io.refresh_metadata(&topics) {
            Ok(()) => {
                self.refresh = false;
                self.refresh_failures = 0;
            }
            Err(e) => {
                self.refresh_failures = self.refresh_failures.saturating_add(1);
                log::warn!("{}: metadata refresh failed: {e}", self.shared.topics_label());
            }
        }
    }

    /// Asks each partition this thread serves what it needs.
    fn plan(&self) -> Plan {
        let leaders = self.io.leaders(&self.shared.keys);
        let parts = self.shared.lock();
        let fetching = self.shared.fetching.load(Ordering::Acquire);
        plan_for(&parts, &leaders, &self.me, Instant::now(), &self.limits, fetching, self.expansion)
    }

    /// Feeds an answer to partition `slot`'s machine, waking the application when it has
    /// something new.
    fn apply_to(&self, slot: usize, f: impl FnOnce(&mut Part) -> Applied) {
        let woke = self.shared.lock().get_mut(slot).map(f).is_some_and(|a| a.wake_application);
        if woke {
            self.shared.data_ready.notify_all();
        }
    }

    /// A failure that concerns every partition in `list`. Metadata is refreshed first when the
    /// error says leaders may have moved.
    fn fail(&mut self, list: &[(usize, Ticket)], e: &Error) {
        match e.retry() {
            Retry::Never => log::error!("{e}"),
            how => {
                log::debug!("{e} ({how:?})");
                self.refresh |= how != Retry::Backoff;
            }
        }
        let now = Instant::now();
        for &(slot, ticket) in list {
            self.apply_to(slot, |p| p.on_failure(ticket, e, &self.backoff, now));
        }
    }

    /// Runs the start-offset rules (or the out-of-range reset) for `list`, one topic at a time.
    fn resolve(&mut self, list: &[(usize, Ticket, bool)]) {
        let shared = Arc::clone(&self.shared);
        for topic in &shared.topics {
            let of_topic: Vec<(usize, Ticket, bool)> =
                list.iter().copied().filter(|r| shared.keys[r.0].0 == *topic).collect();
            if !of_topic.is_empty() {
                self.resolve_topic(topic, &of_topic);
            }
        }
    }

    fn resolve_topic(&mut self, topic: &str, list: &[(usize, Ticket, bool)]) {
        let shared = Arc::clone(&self.shared);
        let cfg = &shared.cfg;
        let partition_of = |slot: usize| shared.keys[slot].1;
        let ids: Vec<i32> = list.iter().map(|r| partition_of(r.0)).collect();
        let ask_group: Vec<i32> =
            list.iter().filter(|r| !r.2 && !cfg.reset_offset_on_start).map(|r| partition_of(r.0)).collect();
        // One attempt each: a failure goes to the partitions' machines, which back off and ask
        // again, so this thread never sleeps inside a retry while other partitions wait.
        let result = (|| {
            let committed = match &cfg.consumer_group {
                Some(g) if !ask_group.is_empty() => self.io.committed(g, topic, &ask_group)?,
                _ => BTreeMap::new(),
            };
            let bounds = self.io.bounds(topic, &ids)?;
            Ok::<_, Error>((committed, bounds))
        })();
        let (committed, bounds_of) = match result {
            Ok(r) => r,
            Err(e) => {
                let keys: Vec<(usize, Ticket)> = list.iter().map(|r| (r.0, r.1)).collect();
                return self.fail(&keys, &e);
            }
        };
        for &(slot, ticket, out_of_range) in list {
            let partition = partition_of(slot);
            let Some(&bounds) = bounds_of.get(&partition) else { continue };
            let d = if out_of_range {
                decide_out_of_range(bounds, cfg.auto_offset_reset)
            } else {
                let c = committed.get(&partition).copied().flatten();
                decide_start(c, bounds, cfg.auto_offset_reset, cfg.reset_offset_on_start, cfg.consumer_group.is_some())
            };
            log::info!("{topic}/{partition}: start at {} ({d})", d.offset);
            self.apply_to(slot, |p| p.on_start(ticket, d, bounds.high_watermark));
        }
    }

    fn fetch(&mut self, plan: BTreeMap<i32, Vec<Planned>>, max_bytes: usize) {
        let cfg = &self.shared.cfg;
        let params = FetchParams {
            wait: cfg.fetch_wait_max,
            min_bytes: cfg.fetch_min_bytes,
            max_bytes,
            read_committed: cfg.isolation_level == IsolationLevel::ReadCommitted,
        };
        let mut inflight = Vec::new();
        for (leader, planned) in plan {
            let keys: Vec<(usize, Ticket)> = planned.iter().map(|p| (p.slot, p.ticket)).collect();
            let wanted: Vec<PartitionFetch<'_>> = planned
                .iter()
                .map(|p| {
                    let (topic, partition) = &self.shared.keys[p.slot];
                    PartitionFetch {
                        topic,
                        partition: *partition,
                        offset: p.ticket.offset,
                        max_bytes: p.size,
                        last_fetched_epoch: p.last_epoch,
                    }
                })
                .collect();
            match self.io.send(leader, &params, &wanted) {
                Ok(pending) => {
                    let reserved = self.expansion.to_queued(max_bytes);
                    self.shared.fetching.fetch_add(reserved, Ordering::AcqRel);
                    inflight.push((pending, planned, keys, reserved))
                }
                Err(e) => self.fail(&keys, &e),
            }
        }
        for (pending, planned, keys, reserved) in inflight {
            let outcomes = match self.io.read(pending) {
                Ok(r) => r,
                Err(e) => {
                    self.release(reserved);
                    self.fail(&keys, &e);
                    continue;
                }
            };
            for (topic, partition, outcome) in outcomes {
                let matching = planned.iter().find(|p| {
                    let (t, q) = &self.shared.keys[p.slot];
                    *q == partition && **t == *topic
                });
                if let Some(p) = matching {
                    self.apply(*p, outcome);
                }
            }
            // Queued now (or nothing came): what it holds counts in the queues instead.
            self.release(reserved);
        }
    }

    /// Gives back a Fetch's share of the room, and wakes the fetchers that waited for it.
    fn release(&self, bytes: usize) {
        self.shared.fetching.fetch_sub(bytes, Ordering::AcqRel);
        self.shared.work_ready.notify_all();
    }

    /// Applies one partition's fetch result.
    fn apply(&mut self, planned: Planned, outcome: FetchOutcome) {
        let slot = planned.slot;
        let ticket = planned.ticket;
        let topic = Arc::clone(&self.shared.keys[slot].0);
        match outcome {
            FetchOutcome::Data { high_watermark, last_stable_offset, aborted, records } => {
                // Decode before taking the lock: the application keeps consuming meanwhile.
                let mut recs: Vec<Record> = Vec::new();
                let committed = self.shared.cfg.isolation_level == IsolationLevel::ReadCommitted;
                let mut aborted = committed.then(|| AbortedTransactions::new(aborted));
                let limits = self.shared.cfg.decode_limits;
                let decoded = records::decode_filtered(&records, ticket.offset, limits, aborted.as_mut(), &mut recs);
                self.expansion.learn(records.len(), recs.iter().map(super::position::footprint).sum());
                // The end this consumer reads to: the last stable offset under read_committed
                // (a broker that doesn't say gives -1; its high watermark stands in).
                let end = if committed && last_stable_offset >= 0 { last_stable_offset } else { high_watermark };
                self.apply_to(slot, |p| p.on_data(ticket, end, recs, decoded, &self.limits, &topic));
            }
            FetchOutcome::OutOfRange => self.apply_to(slot, |p| p.on_out_of_range(ticket, &self.limits, &topic)),
            FetchOutcome::Diverged { epoch, end_offset } => {
                self.apply_to(slot, |p| p.on_diverged(ticket, epoch, end_offset, &self.limits, &topic))
            }
            FetchOutcome::Failed(e) => self.fail(&[(slot, ticket)], &e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::ConsumerConfig;
    use super::super::position::Position;
    use super::*;
    use crate::error::Context;
    use crate::offsets::{decide_start, OffsetReset};
    use crate::protocol::codec::Encoder;
    use crate::protocol::error_code::ErrorCode;
    use crate::protocol::records::{encode_batch_v2, BatchSpec, Compression, RecordSpec};
    use crate::protocol::ApiKey;
    use std::collections::VecDeque;
    use std::time::Duration;

    /// A one-partition cluster in memory: a log of values from `log_start`, a leader, scripted
    /// failures, and a record of every call.
    struct Fake {
        log_start: i64,
        values: Vec<String>,
        leader: Option<i32>,
        fetch_failures: VecDeque<ErrorCode>,
        bounds_failures: usize,
        fetched: Vec<(i32, i64)>,
        refreshes: usize,
        /// The leader epoch the batches carry.
        epoch: i32,
        /// The leader's log diverged: (epoch, where it now ends), told to a fetch past it.
        diverged: Option<(i32, i64)>,
    }

    impl Fake {
        fn new(n: usize) -> Fake {
            Fake {
                log_start: 0,
                values: (0..n).map(|i| format!("v{i}")).collect(),
                leader: Some(1),
                fetch_failures: VecDeque::new(),
                bounds_failures: 0,
                fetched: Vec::new(),
                refreshes: 0,
                epoch: 0,
                diverged: None,
            }
        }

        fn end(&self) -> i64 {
            self.log_start + self.values.len() as i64
        }

        /// One RecordBatch v2 holding the log from `from` to its end.
        fn batch_from(&self, from: i64) -> Vec<u8> {
            let skip = (from - self.log_start) as usize;
            let recs: Vec<RecordSpec<'_>> = self.values[skip..]
                .iter()
                .map(|v| RecordSpec { key: None, value: Some(v.as_bytes()), headers: Vec::new(), timestamp: 0 })
                .collect();
            if recs.is_empty() {
                return Vec::new();
            }
            let spec = BatchSpec {
                base_offset: from,
                compression: Compression::None,
                producer_id: -1,
                producer_epoch: -1,
                ..BatchSpec::default()
            };
            let mut e = Encoder::new();
            encode_batch_v2(&mut e, spec, &recs).expect("encodes");
            let mut batch = e.into_inner();
            // The partition leader epoch (bytes 12..16) lies outside the checksum, as the
            // broker sets it.
            batch[12..16].copy_from_slice(&self.epoch.to_be_bytes());
            batch
        }
    }

    impl FetchIo for Fake {
        type Pending = Vec<(String, i32, i64, i32)>;

        fn leaders(&self, keys: &[(Arc<str>, i32)]) -> Vec<Option<i32>> {
            keys.iter().map(|_| self.leader).collect()
        }

        fn refresh_metadata(&mut self, _: &[&str]) -> Result<()> {
            self.refreshes += 1;
            self.leader = Some(2);
            Ok(())
        }

        fn committed(&mut self, _: &str, _: &str, partitions: &[i32]) -> Result<BTreeMap<i32, Option<i64>>> {
            Ok(partitions.iter().map(|p| (*p, None)).collect())
        }

        fn bounds(&mut self, topic: &str, partitions: &[i32]) -> Result<BTreeMap<i32, LogBounds>> {
            if self.bounds_failures > 0 {
                self.bounds_failures -= 1;
                let c = Context::partition(topic, partitions[0]);
                return Err(Error::broker(ApiKey::ListOffsets, ErrorCode::LEADER_NOT_AVAILABLE, c, None));
            }
            let b = LogBounds { log_start: self.log_start, high_watermark: self.end() };
            Ok(partitions.iter().map(|p| (*p, b)).collect())
        }

        fn send(&mut self, broker: i32, _: &FetchParams, parts: &[PartitionFetch<'_>]) -> Result<Self::Pending> {
            self.fetched.extend(parts.iter().map(|p| (broker, p.offset)));
            Ok(parts.iter().map(|p| (p.topic.to_string(), p.partition, p.offset, p.last_fetched_epoch)).collect())
        }

        fn read(&mut self, pending: Self::Pending) -> Result<Vec<PartitionOutcome>> {
            Ok(pending
                .into_iter()
                .map(|(topic, partition, offset, last_epoch)| {
                    let diverged = self.diverged.filter(|(e, end)| *e == last_epoch && *end < offset);
                    let outcome = if let Some((epoch, end_offset)) = diverged {
                        FetchOutcome::Diverged { epoch, end_offset }
                    } else if let Some(code) = self.fetch_failures.pop_front() {
                        let c = Context::partition(&topic, partition);
                        FetchOutcome::Failed(Error::broker(ApiKey::Fetch, code, c, None))
                    } else if offset < self.log_start || offset > self.end() {
                        FetchOutcome::OutOfRange
                    } else {
                        FetchOutcome::Data {
                            high_watermark: self.end(),
                            last_stable_offset: self.end(),
                            aborted: Vec::new(),
                            records: self.batch_from(offset).into(),
                        }
                    };
                    (topic, partition, outcome)
                })
                .collect())
        }
    }

    fn fetcher(fake: Fake) -> Fetcher<Fake> {
        let shared = Arc::new(Shared::new(ConsumerConfig::default(), vec![(Arc::from("t"), 0)]));
        Fetcher::new(shared, fake, Backoff::new(Duration::from_millis(1), Duration::from_millis(2)), thread(0, 1))
    }

    fn queued(f: &Fetcher<Fake>) -> Vec<i64> {
        f.shared.lock()[0].queue.iter().map(|r| r.offset).collect()
    }

    /// Steps until `done`, at most 50 times (each step waits at most its backoff or 100 ms).
    fn step_until(f: &mut Fetcher<Fake>, done: impl Fn(&Fetcher<Fake>) -> bool) {
        for _ in 0..50 {
            if done(f) {
                return;
            }
            f.step();
        }
        assert!(done(f), "condition not reached in 50 steps");
    }

    #[test]
    fn a_fetcher_that_panics_is_reported_to_the_application() {
        // Wired as Engine::start wires a fetcher: its panic goes to Shared::die.
        let shared = Arc::new(Shared::new(ConsumerConfig::default(), vec![(Arc::from("t"), 0)]));
        let dead = Arc::clone(&shared);
        let mut w = crate::workers::Workers::new();
        w.spawn("fetch-test".into(), || panic!("a bug"), move |e| dead.die(e)).expect("spawn");
        w.join_by(Instant::now() + Duration::from_secs(10), "test");
        assert!(shared.is_stopped(), "the other fetchers stop");
        let e = shared.take_death();
        assert!(
            matches!(&e, Some(Error::BackgroundThread { thread, message }) if thread == "fetch-test" && message == "a bug")
        );
        assert!(shared.take_death().is_none(), "told once");
    }

    #[test]
    fn the_loop_resolves_then_fetches_from_the_leader_in_order() {
        let mut f = fetcher(Fake::new(5));
        f.step();
        assert_eq!(f.shared.lock()[0].position, Position::At(0), "earliest: resolved to 0");
        f.step();
        assert_eq!(queued(&f), vec![0, 1, 2, 3, 4]);
        assert_eq!(f.io.fetched, vec![(1, 0)]);
        f.io.values.push("v5".into());
        f.step();
        assert_eq!(f.io.fetched.last(), Some(&(1, 5)), "the next fetch starts after the last batch");
        assert_eq!(queued(&f), vec![0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn a_log_cut_back_under_a_new_leader_is_detected_and_read_from_where_it_diverged() {
        let mut f = fetcher(Fake::new(5));
        f.io.epoch = 3;
        f.step();
        f.step();
        assert_eq!(queued(&f), vec![0, 1, 2, 3, 4]);
        assert_eq!(f.shared.lock()[0].last_epoch, 3, "the epoch of the last record read");
        // A new leader (epoch 4) lacked offsets 3 and 4 and wrote others there.
        f.io.values.truncate(3);
        f.io.values.extend(["w3", "w4", "w5"].map(String::from));
        f.io.epoch = 4;
        f.io.diverged = Some((3, 3));
        f.step();
        assert_eq!(queued(&f), vec![0, 1, 2], "the records past the divergence are dropped");
        assert_eq!(f.shared.lock()[0].position, Position::At(3));
        f.step();
        let values: Vec<String> = f.shared.lock()[0]
            .queue
            .iter()
            .map(|r| String::from_utf8_lossy(r.value().unwrap_or_default()).into_owned())
            .collect();
        assert_eq!(values, ["v0", "v1", "v2", "w3", "w4", "w5"]);
        assert_eq!(f.shared.lock()[0].last_epoch, 4);
    }

    #[test]
    fn out_of_range_resets_and_a_moved_leader_is_found() {
        let mut f = fetcher(Fake::new(5));
        f.step();
        // Retention moved the log start past the position: the partition resets to earliest.
        f.io.log_start = 3;
        f.io.values.drain(..3);
        f.step();
        step_until(&mut f, |f| !queued(f).is_empty());
        assert_eq!(queued(&f), vec![3, 4]);
        assert_eq!(f.io.fetched.iter().map(|x| x.1).collect::<Vec<_>>(), vec![0, 3]);
        // The leader moved: the fetcher refreshes metadata, then fetches from the new leader.
        f.io.fetch_failures.push_back(ErrorCode::NOT_LEADER_OR_FOLLOWER);
        f.io.values.push("v5".into());
        step_until(&mut f, |f| queued(f).len() == 3);
        assert_eq!(f.io.refreshes, 1);
        assert_eq!(f.io.fetched.last(), Some(&(2, 5)));
    }

    #[test]
    fn a_failed_start_lookup_is_retried_by_the_machine_and_a_fatal_fetch_error_surfaces() {
        let mut fake = Fake::new(2);
        fake.bounds_failures = 2;
        let mut f = fetcher(fake);
        step_until(&mut f, |f| queued(f).len() == 2);
        assert_eq!(f.io.bounds_failures, 0);
        f.io.fetch_failures.push_back(ErrorCode::TOPIC_AUTHORIZATION_FAILED);
        step_until(&mut f, |f| f.shared.lock()[0].error.is_some());
        let e = f.shared.lock()[0].error.clone();
        assert_eq!(e.as_ref().and_then(Error::code), Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED));
        let fetches = f.io.fetched.len();
        f.step();
        assert_eq!(f.io.fetched.len(), fetches, "a failed partition is not fetched again");
    }

    const LIMITS: Limits = Limits {
        queued_max_messages: 10,
        queued_max_bytes: 1 << 20,
        queued_max_bytes_total: 1 << 21,
        fetch_max_bytes: 1 << 20,
        fetch_size_limit: 1 << 20,
        reset_on_fetch: true,
    };

    fn at(partition: i32, offset: i64) -> Part {
        let mut p = Part::new(partition, 1000);
        let bounds = LogBounds { log_start: 0, high_watermark: 100 };
        let mut d = decide_start(None, bounds, OffsetReset::Earliest, false, false);
        d.offset = offset;
        let t = p.ticket(-1);
        p.on_start(t, d, 100);
        p
    }

    #[test]
    fn each_broker_is_fetched_by_one_thread_in_one_request() {
        let now = Instant::now();
        let parts = vec![at(0, 5), at(1, 6), at(2, 7), at(3, 8), Part::new(4, 1000)];
        let leaders = [Some(1), Some(2), Some(1), Some(3), Some(1)];
        let t0 = plan_for(&parts, &leaders, &thread(0, 2), now, &LIMITS, 0, Expansion { pct: 100 });
        // Thread 0 of 2 serves the first and third brokers, 1 and 3: one Fetch each; partition
        // 4 must resolve first.
        assert_eq!(t0.fetch.keys().copied().collect::<Vec<_>>(), vec![1, 3]);
        let to_1: Vec<(usize, i64)> = t0.fetch[&1].iter().map(|p| (p.slot, p.ticket.offset)).collect();
        assert_eq!(to_1, vec![(0, 5), (2, 7)]);
        assert_eq!(t0.resolve.iter().map(|r| r.0).collect::<Vec<_>>(), vec![4]);
        let t1 = plan_for(&parts, &leaders, &thread(1, 2), now, &LIMITS, 0, Expansion { pct: 100 });
        assert_eq!(t1.fetch.keys().copied().collect::<Vec<_>>(), vec![2]);
        assert!(t1.resolve.is_empty() && !t0.leaderless && !t1.leaderless);
    }

    /// Queues that together reach `queued_max_bytes_total` stop every fetch, though each
    /// partition is under its own bound; below it, an answer is asked to fit the room left.
    #[test]
    fn the_consumer_wide_byte_bound_pauses_all_fetches() {
        let now = Instant::now();
        let mut parts = vec![at(0, 5), at(1, 6), at(2, 7), Part::new(3, 1000)];
        let leaders = [Some(1), Some(1), Some(2), Some(1)];
        let plan = plan_for(&parts, &leaders, &thread(0, 1), now, &LIMITS, 0, Expansion { pct: 100 });
        assert_eq!((plan.fetch.len(), plan.fetch_max_bytes), (2, LIMITS.fetch_max_bytes));
        for p in &mut parts[..3] {
            p.queued_bytes = (LIMITS.queued_max_bytes_total / 3) - 1000;
        }
        let plan = plan_for(&parts, &leaders, &thread(0, 1), now, &LIMITS, 0, Expansion { pct: 100 });
        // The room left, shared by the two brokers fetched.
        let room = LIMITS.queued_max_bytes_total - 3 * ((LIMITS.queued_max_bytes_total / 3) - 1000);
        assert_eq!(plan.fetch_max_bytes, room / 2);
        // Fetches in flight (another thread's) take their share of it first.
        let plan = plan_for(&parts, &leaders, &thread(0, 1), now, &LIMITS, room - 1000, Expansion { pct: 100 });
        assert_eq!(plan.fetch_max_bytes, 500);
        let plan = plan_for(&parts, &leaders, &thread(0, 1), now, &LIMITS, room, Expansion { pct: 100 });
        assert!(plan.fetch.is_empty(), "no room left while others' answers are on their way");
        assert!(parts.iter().all(|p| p.queued_bytes < LIMITS.queued_max_bytes));
        parts[0].queued_bytes += 4000;
        let full = plan_for(&parts, &leaders, &thread(0, 1), now, &LIMITS, 0, Expansion { pct: 100 });
        assert!(full.fetch.is_empty(), "{:?}", full.fetch.keys());
        assert_eq!(full.resolve.len(), 1, "starting offsets are still looked up");
    }

    /// The room is counted in queued bytes, a Fetch's limit on the wire: small records take
    /// about twice their wire size once decoded, so a Fetch asks for half the room.
    #[test]
    fn fetches_ask_for_the_room_in_wire_bytes() {
        let now = Instant::now();
        let mut parts = vec![at(0, 5)];
        parts[0].queued_bytes = LIMITS.queued_max_bytes_total - 10_000;
        let plan = plan_for(&parts, &[Some(1)], &thread(0, 1), now, &LIMITS, 0, Expansion::FIRST);
        assert_eq!(plan.fetch_max_bytes, 5_000);
        let mut e = Expansion::FIRST;
        // 110-byte records with 7-byte keys: 187 queued bytes for ~125 on the wire.
        for _ in 0..20 {
            e.learn(125_000, 187_000);
        }
        assert!((149..=151).contains(&e.pct), "{e:?}");
        assert_eq!(e.to_queued(e.to_wire(30_000)) / 100, 299);
        // Nothing fetched teaches nothing; a hostile ratio is capped.
        e.learn(0, 1 << 30);
        e.learn(1, 1 << 30);
        assert!(e.pct <= 2000);
    }

    #[test]
    fn a_leaderless_partition_asks_for_metadata_and_backoffs_set_the_wake() {
        let now = Instant::now();
        let backoff = crate::retry::Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let mut waiting = at(1, 0);
        let e = crate::Error::UnknownBroker { id: Some(9) };
        let t = waiting.ticket(0);
        waiting.on_failure(t, &e, &backoff, now);
        let parts = vec![at(0, 0), waiting];
        let plan = plan_for(&parts, &[None, Some(1)], &thread(0, 1), now, &LIMITS, 0, Expansion { pct: 100 });
        assert!(plan.leaderless);
        assert!(plan.fetch.is_empty());
        let wake = plan.next_wake.expect("the backing-off partition sets a wake time");
        assert!(wake > now && wake <= now + Duration::from_millis(100));
    }

    /// Thread `idx` of `n`, of a consumer that started knowing brokers 1, 2 and 3.
    fn thread(idx: usize, n: usize) -> Threads {
        Threads { idx, n, brokers: Arc::new(vec![1, 2, 3]) }
    }

    #[test]
    fn owners_cover_every_thread_and_tolerate_odd_ids() {
        // One thread per broker, whatever the ids.
        let spread = Threads { idx: 0, n: 3, brokers: Arc::new(vec![1, 4, 7]) };
        let owners: Vec<usize> = [1, 4, 7].iter().map(|b| spread.owner(Some(*b), 0)).collect();
        assert_eq!(owners, vec![0, 1, 2], "ids 1, 4, 7 would all be 1 modulo 3");
        assert_eq!(thread(0, 3).owner(Some(4), 0), 1, "a broker that joined later goes by its id");
        assert_eq!(thread(0, 3).owner(None, 5), 2);
        assert_eq!(thread(0, 3).owner(Some(-1), 0), 2, "negative ids still land on a thread");
        assert_eq!(thread(0, 0).owner(Some(7), 0), 0, "no division by zero");
    }
}
