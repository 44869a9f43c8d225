//! The machinery both consumers drive: fetcher threads filling per-partition queues, and the
//! application-side bookkeeping of what was handed out and what was committed. A
//! [`SimpleConsumer`](super::SimpleConsumer) owns one for its life; a
//! [`BalancedConsumer`](super::BalancedConsumer) builds a new one for each assignment.

use super::config::ConsumerConfig;
use super::fetcher;
use super::state::{Position, Shared};
use crate::client::Client;
use crate::error::Result;
use crate::message::Message;
use crate::offsets::StartDecision;
use crate::protocol::records::Record;
use crate::stats::PartitionStats;
use crate::workers::Workers;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Time allowed, beyond one fetch wait, for fetcher threads to finish when stopping. A thread
/// still blocked after it (connecting to a dead broker, say) is left to end on its own.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// A topic-partition.
pub(crate) type Key = (Arc<str>, i32);

/// When the next automatic commit is due (never without `auto_commit_enable`).
#[derive(Debug)]
pub(crate) struct CommitTimer {
    interval: Option<Duration>,
    last: Instant,
}

impl CommitTimer {
    pub fn new(cfg: &ConsumerConfig) -> CommitTimer {
        CommitTimer { interval: cfg.auto_commit_enable.then_some(cfg.auto_commit_interval), last: Instant::now() }
    }

    pub fn due(&self) -> bool {
        self.interval.is_some_and(|i| self.last.elapsed() >= i)
    }

    pub fn restart(&mut self) {
        self.last = Instant::now();
    }

    /// How long a poll may wait: until `deadline`, the next commit or `also` (the next
    /// statistics call), whichever comes first.
    pub fn wait_until(&self, deadline: Option<Instant>, also: Option<Instant>) -> Option<Instant> {
        [deadline, self.interval.map(|i| self.last + i), also].into_iter().flatten().min()
    }
}

/// The end of one `consume()` call's wait (`consumer_timeout` from when it first has to wait),
/// read from the clock only then: a message already queued is handed out without a clock read.
/// A read per message was an eighth of the command-line consumer's CPU.
#[derive(Debug)]
pub(crate) struct CallDeadline {
    timeout: Option<Duration>,
    at: Option<Instant>,
}

impl CallDeadline {
    pub fn new(timeout: Option<Duration>) -> CallDeadline {
        CallDeadline { timeout, at: None }
    }

    /// The deadline, fixed at the first call.
    pub fn get(&mut self) -> Option<Instant> {
        let timeout = self.timeout?;
        Some(*self.at.get_or_insert_with(|| Instant::now() + timeout))
    }

    /// Whether the deadline has passed (never without a timeout).
    pub fn passed(&mut self) -> bool {
        self.get().is_some_and(|d| Instant::now() >= d)
    }
}

#[derive(Debug)]
pub(crate) struct Engine {
    shared: Arc<Shared>,
    client: Arc<Client>,
    workers: Workers,
    started: bool,
    stopped: bool,
    /// Messages taken from one partition's queue, handed out one by one.
    local: VecDeque<Record>,
    local_slot: usize,
    /// Per slot: the last offset handed to the application.
    consumed: Vec<Option<i64>>,
    /// Per slot: the last offset committed (next to read).
    committed: Vec<Option<i64>>,
    cursor: usize,
    /// Messages handed to the application.
    messages: u64,
}

impl Engine {
    pub fn new(cfg: ConsumerConfig, client: Arc<Client>, keys: Vec<Key>) -> Engine {
        let n = keys.len();
        Engine {
            shared: Arc::new(Shared::new(cfg, keys)),
            client,
            workers: Workers::new(),
            started: false,
            stopped: false,
            local: VecDeque::new(),
            local_slot: 0,
            consumed: vec![None; n],
            committed: vec![None; n],
            cursor: 0,
            messages: 0,
        }
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub fn client(&self) -> &Arc<Client> {
        &self.client
    }

    /// The slots of `keys` that this engine reads.
    pub fn slots_of(&self, keys: &[Key]) -> Vec<usize> {
        keys.iter().filter_map(|k| self.shared.keys.iter().position(|x| x == k)).collect()
    }

    /// Takes over, from `old`, where each partition both read: it resumes at the next offset
    /// `old` would have handed out, without running the start rules again, and remembers what
    /// was consumed and committed. What `old` had queued is fetched again.
    pub fn carry_from(&mut self, old: &Engine) {
        let held = old.held();
        let mut parts = self.shared.lock();
        for (slot, key) in self.shared.keys.iter().enumerate() {
            let Some(from) = old.shared.keys.iter().position(|k| k == key) else { continue };
            if let (_, Some(next), Some(decision)) = &held[from] {
                parts[slot].jump(*next, *decision);
                self.consumed[slot] = old.consumed[from];
                self.committed[slot] = old.committed[from];
            }
        }
    }

    fn start(&mut self) -> Result<()> {
        if self.started {
            return Ok(());
        }
        self.started = true;
        let brokers: Arc<Vec<i32>> = Arc::new(self.client.brokers().into_keys().collect());
        let n = self.shared.cfg.num_consumer_fetchers.unwrap_or(brokers.len()).max(1);
        for i in 0..n {
            let shared = Arc::clone(&self.shared);
            let client = Arc::clone(&self.client);
            let me = fetcher::Threads { idx: i, n, brokers: Arc::clone(&brokers) };
            let on_panic = {
                let shared = Arc::clone(&self.shared);
                move |e| shared.die(e)
            };
            self.workers.spawn(format!("plainkafka-fetch-{i}"), move || fetcher::run(shared, client, me), on_panic)?;
        }
        Ok(())
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped || self.shared.is_stopped()
    }

    /// The next message, waiting until `until()` (forever if `None`; asked only when there is
    /// no message to hand out at once). `Ok(None)` when that passes, the engine is stopped, or
    /// [`Shared::interrupt`] is called. An `Err` concerns one partition (which pauses); the
    /// others go on.
    pub fn poll(&mut self, until: impl FnOnce() -> Option<Instant>) -> Result<Option<Message>> {
        if let Some(m) = self.next_local() {
            return Ok(Some(m));
        }
        let until = until();
        loop {
            // A fetcher died: its partitions would never fill. Say so once, then stop.
            if let Some(e) = self.shared.take_death() {
                self.stopped = true;
                return Err(e);
            }
            if self.is_stopped() {
                return Ok(None);
            }
            self.start()?;
            {
                let mut parts = self.shared.lock();
                let n = parts.len();
                for i in 0..n {
                    let s = (self.cursor + i) % n;
                    let p = &mut parts[s];
                    if !p.queue.is_empty() {
                        // The spent queue's buffer goes back to the partition only when there
                        // is one: with hundreds, each would keep an empty buffer of its largest
                        // fetch, outweighing every bound on what is queued.
                        let spent = std::mem::replace(&mut self.local, std::mem::take(&mut p.queue));
                        if n == 1 {
                            p.queue = spent;
                        }
                        p.queued_bytes = 0;
                        self.local_slot = s;
                        self.cursor = s + 1;
                        self.shared.work_ready.notify_all();
                        break;
                    }
                    if let Some(e) = p.error.take() {
                        self.cursor = s + 1;
                        return Err(e);
                    }
                }
                if self.local.is_empty() {
                    if self.shared.is_stopped() || self.shared.take_interrupt() {
                        return Ok(None);
                    }
                    let now = Instant::now();
                    let wait = match until {
                        Some(t) if now >= t => return Ok(None),
                        Some(t) => t - now,
                        None => Duration::from_secs(3600),
                    };
                    drop(self.shared.data_ready.wait_timeout(parts, wait));
                    continue;
                }
            }
            if let Some(m) = self.next_local() {
                return Ok(Some(m));
            }
        }
    }

    fn next_local(&mut self) -> Option<Message> {
        let r = self.local.pop_front()?;
        self.consumed[self.local_slot] = Some(r.offset);
        self.messages += 1;
        let (topic, partition) = &self.shared.keys[self.local_slot];
        Some(Message::new(Arc::clone(topic), *partition, r))
    }

    /// (slot, next offset) for each partition consumed from since its last commit.
    pub fn uncommitted(&self) -> Vec<(usize, i64)> {
        (0..self.consumed.len())
            .filter_map(|s| {
                let next = self.consumed[s]? + 1;
                (self.committed[s] != Some(next)).then_some((s, next))
            })
            .collect()
    }

    /// (slot, next offset) for chosen commits (topic, partition, next offset): each partition
    /// must be this engine's and have had messages consumed, and `next` may not pass the one
    /// after the last consumed: a commit never covers what the application wasn't given.
    pub fn chosen(&self, wanted: &[(&str, i32, i64)]) -> crate::Result<Vec<(usize, i64)>> {
        wanted
            .iter()
            .map(|&(topic, partition, next)| {
                let slot =
                    self.shared.keys.iter().position(|(t, p)| &**t == topic && *p == partition).ok_or_else(|| {
                        crate::Error::UnknownTopicOrPartition { topic: topic.to_string(), partition: Some(partition) }
                    })?;
                match self.consumed[slot] {
                    Some(last) if (0..=last + 1).contains(&next) => Ok((slot, next)),
                    last => Err(crate::Error::Config(format!(
                        "{topic}/{partition}: committing {next} would pass what was consumed (last: {})",
                        last.map_or("nothing".to_string(), |l| l.to_string())
                    ))),
                }
            })
            .collect()
    }

    /// (topic, partition, next offset) for `slots` as [`Engine::uncommitted`] gave them.
    pub fn describe<'a>(&'a self, slots: &[(usize, i64)]) -> Vec<(&'a str, i32, i64)> {
        slots.iter().map(|&(s, o)| (&*self.shared.keys[s].0, self.shared.keys[s].1, o)).collect()
    }

    pub fn mark_committed(&mut self, slots: &[(usize, i64)]) {
        for &(s, next) in slots {
            self.committed[s] = Some(next);
        }
    }

    /// Moves every partition consumed from since its last commit back to that commit (or, with
    /// none, to where this engine started it), so what was handed out since is handed out
    /// again: for a transaction that aborted after consuming it. Returns how many moved.
    pub fn rewind_uncommitted(&mut self) -> usize {
        let todo: Vec<(usize, i64, StartDecision)> = {
            let parts = self.shared.lock();
            self.uncommitted()
                .into_iter()
                .filter_map(|(s, _)| {
                    let decision = parts[s].decision?;
                    Some((s, self.committed[s].unwrap_or(decision.offset), decision))
                })
                .collect()
        };
        for &(s, offset, decision) in &todo {
            self.jump(s, offset, decision);
        }
        todo.len()
    }

    /// Per slot, the next offset to hand out: one past the last consumed, or the start
    /// position (`None` before it is resolved).
    pub fn held(&self) -> Vec<(Key, Option<i64>, Option<StartDecision>)> {
        let parts = self.shared.lock();
        parts
            .iter()
            .enumerate()
            .map(|(s, p)| {
                let start = p.decision.map(|d| d.offset);
                (self.shared.keys[s].clone(), self.consumed[s].map(|o| o + 1).or(start), p.decision)
            })
            .collect()
    }

    /// Messages handed out, and every partition's figures (see [`crate::stats`]).
    pub fn stats(&self) -> (u64, Vec<PartitionStats>) {
        let held = self.held();
        let parts = self.shared.lock();
        let stats = held
            .into_iter()
            .enumerate()
            .map(|(s, ((topic, partition), handed, _))| {
                let p = &parts[s];
                let local = if self.local_slot == s { &self.local } else { &VecDeque::new() };
                // The next offset handed out: the first queued record's, else where fetching
                // goes on (past control records and aborted transactions, which are never
                // handed out), else one past the last handed out.
                let queued = local.front().or(p.queue.front()).map(|r| r.offset);
                let fetching = match p.position {
                    Position::At(n) => Some(n),
                    _ => None,
                };
                let position = queued.or(fetching).or(handed);
                let high_watermark = (p.high_watermark >= 0).then_some(p.high_watermark);
                PartitionStats {
                    topic: topic.to_string(),
                    partition,
                    position,
                    committed: self.committed[s],
                    high_watermark,
                    lag: position.zip(high_watermark).map(|(at, end)| (end - at).max(0)),
                    queued_messages: p.queue.len() + local.len(),
                    queued_bytes: p.queued_bytes,
                    paused: p.position == Position::Failed,
                }
            })
            .collect();
        (self.messages, stats)
    }

    /// Moves `slot` to `offset`, dropping what is queued for it.
    pub fn jump(&mut self, slot: usize, offset: i64, decision: StartDecision) {
        self.shared.lock()[slot].jump(offset, decision);
        self.consumed[slot] = None;
        if self.local_slot == slot {
            self.local.clear();
        }
        self.shared.work_ready.notify_all();
    }

    /// Whether `slot` is paused on an error.
    pub fn is_paused(&self, slot: usize) -> bool {
        self.shared.lock()[slot].position == Position::Failed
    }

    /// Stops the fetchers and waits a bounded time for them. Calling it again does nothing.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        self.shared.stop();
        let deadline = Instant::now() + self.shared.cfg.fetch_wait_max + STOP_GRACE;
        self.workers.join_by(deadline, &format!("{} fetchers", self.shared.topics_label()));
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_deadline_is_read_once_at_the_first_wait_and_none_without_a_timeout() {
        assert_eq!(CallDeadline::new(None).get(), None);
        let before = Instant::now();
        let mut d = CallDeadline::new(Some(Duration::from_secs(5)));
        let first = d.get().expect("a timeout gives a deadline");
        assert!(first >= before + Duration::from_secs(5));
        assert_eq!(d.get(), Some(first), "the deadline stays where the first wait put it");
    }

    #[test]
    fn a_poll_wakes_at_the_earliest_of_the_deadline_the_commit_and_the_statistics() {
        let cfg = ConsumerConfig {
            auto_commit_enable: true,
            auto_commit_interval: Duration::from_secs(10),
            ..ConsumerConfig::default()
        };
        let timer = CommitTimer::new(&cfg);
        let commit = timer.last + Duration::from_secs(10);
        let (soon, late) = (timer.last + Duration::from_secs(1), timer.last + Duration::from_secs(60));
        assert_eq!(timer.wait_until(None, None), Some(commit));
        assert_eq!(timer.wait_until(Some(soon), Some(late)), Some(soon));
        assert_eq!(timer.wait_until(Some(late), Some(soon)), Some(soon));
        assert_eq!(timer.wait_until(Some(late), None), Some(commit));
        let off = CommitTimer::new(&ConsumerConfig { auto_commit_enable: false, ..cfg });
        assert_eq!(off.wait_until(None, None), None, "no deadline, no commit, no statistics: wait for data");
        assert_eq!(off.wait_until(Some(late), Some(soon)), Some(soon));
    }
}
