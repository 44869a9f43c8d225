//! PyKafka's SimpleConsumer: reads chosen partitions of one topic, with optional offset
//! storage in a consumer group but no group membership (no rebalancing).

use super::config::ConsumerConfig;
use super::fetcher;
use super::state::{Position, Shared};
use crate::client::Topic;
use crate::error::{Error, Result};
use crate::message::Message;
use crate::offset_requests;
use crate::offsets::{LogBounds, OffsetSpec, StartDecision, StartRule};
use crate::protocol::list_offsets::{EARLIEST_TIMESTAMP, LATEST_TIMESTAMP};
use crate::protocol::records::Record;
use crate::workers::Workers;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Time allowed, beyond one fetch wait, for fetcher threads to finish when stopping. A thread
/// still blocked after it (connecting to a dead broker, say) is left to end on its own.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Reads partitions of a topic. Create one with [`Topic::simple_consumer`].
///
/// Nothing happens on the network until the first [`SimpleConsumer::consume`]: then each
/// partition's start offset is resolved by the rules in [`crate::offsets`] and fetcher threads
/// start filling per-partition queues.
///
/// Dropping the consumer stops its threads (committing first when auto-commit is on).
#[derive(Debug)]
pub struct SimpleConsumer {
    shared: Arc<Shared>,
    workers: Workers,
    started: bool,
    stopped: bool,
    /// Messages taken from one partition's queue, handed out one by one.
    local: VecDeque<Record>,
    local_slot: usize,
    /// Per partition slot: the last offset handed to the application.
    consumed: Vec<Option<i64>>,
    /// Per partition slot: the last offset committed (next to read).
    committed: Vec<Option<i64>>,
    cursor: usize,
    last_commit: Instant,
}

/// Stops a [`SimpleConsumer`] from another thread: a `consume` blocked waiting for messages
/// returns `None` at once, and the fetchers wind down. Cloneable and `Send`.
#[derive(Debug, Clone)]
pub struct StopHandle {
    shared: Arc<Shared>,
}

impl StopHandle {
    /// Stops the consumer. Offsets are committed (with auto-commit) when the consumer itself is
    /// stopped or dropped.
    pub fn stop(&self) {
        self.shared.stop();
    }
}

/// An iterator over messages: `for msg in consumer.iter()`. Ends when the consumer times out
/// (`consumer_timeout`) or is stopped; yields an `Err` for a partition's error once, then goes
/// on with the other partitions.
#[derive(Debug)]
pub struct Iter<'a> {
    consumer: &'a mut SimpleConsumer,
}

impl Iterator for Iter<'_> {
    type Item = Result<Message>;
    fn next(&mut self) -> Option<Result<Message>> {
        self.consumer.consume().transpose()
    }
}

impl SimpleConsumer {
    pub(crate) fn new(topic: Topic, cfg: ConsumerConfig) -> SimpleConsumer {
        let ids: Vec<i32> = match &cfg.partitions {
            Some(p) => {
                let mut p = p.clone();
                p.sort_unstable();
                p.dedup();
                p
            }
            None => topic.partitions().iter().map(|p| p.partition).collect(),
        };
        let n = ids.len();
        let shared = Arc::new(Shared::new(topic.name_arc(), cfg, Arc::clone(topic.cluster()), ids));
        SimpleConsumer {
            shared,
            workers: Workers::new(),
            started: false,
            stopped: false,
            local: VecDeque::new(),
            local_slot: 0,
            consumed: vec![None; n],
            committed: vec![None; n],
            cursor: 0,
            last_commit: Instant::now(),
        }
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.shared.topic
    }

    /// The partitions this consumer reads.
    pub fn partitions(&self) -> Vec<i32> {
        self.shared.ids.clone()
    }

    /// A handle that stops this consumer from another thread.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle { shared: Arc::clone(&self.shared) }
    }

    /// Iterates over messages (see [`Iter`]).
    pub fn iter(&mut self) -> Iter<'_> {
        Iter { consumer: self }
    }

    fn start(&mut self) -> Result<()> {
        if self.started {
            return Ok(());
        }
        self.started = true;
        let n = self.shared.cfg.num_consumer_fetchers;
        for i in 0..n {
            let shared = Arc::clone(&self.shared);
            self.workers
                .spawn(format!("plainkafka-fetch-{i}"), move || fetcher::run(shared, i, n))
                .map_err(|e| Error::Io { broker: String::new(), api: None, source: e })?;
        }
        Ok(())
    }

    /// The next message; `Ok(None)` when `consumer_timeout` passes without one or the consumer
    /// is stopped. An `Err` concerns one partition (which pauses); the others go on.
    pub fn consume(&mut self) -> Result<Option<Message>> {
        if let Some(m) = self.next_local() {
            return Ok(Some(m));
        }
        if self.stopped || self.shared.is_stopped() {
            return Ok(None);
        }
        self.start()?;
        let deadline = self.shared.cfg.consumer_timeout.map(|d| Instant::now() + d);
        loop {
            self.maybe_auto_commit();
            {
                let mut parts = self.shared.lock();
                let n = parts.len();
                for i in 0..n {
                    let s = (self.cursor + i) % n;
                    let p = &mut parts[s];
                    if !p.queue.is_empty() {
                        std::mem::swap(&mut p.queue, &mut self.local);
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
                    if self.shared.is_stopped() {
                        return Ok(None);
                    }
                    let now = Instant::now();
                    let mut wait = self.commit_due_in().unwrap_or(Duration::from_secs(3600));
                    if let Some(d) = deadline {
                        if now >= d {
                            return Ok(None);
                        }
                        wait = wait.min(d - now);
                    }
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
        let partition = self.shared.ids[self.local_slot];
        Some(Message::new(Arc::clone(&self.shared.topic), partition, r))
    }

    fn commit_due_in(&self) -> Option<Duration> {
        let cfg = &self.shared.cfg;
        cfg.auto_commit_enable.then(|| cfg.auto_commit_interval.saturating_sub(self.last_commit.elapsed()))
    }

    fn maybe_auto_commit(&mut self) {
        if self.commit_due_in() == Some(Duration::ZERO) {
            if let Err(e) = self.commit_offsets() {
                // The offsets stay held and are committed at the next interval or on stop.
                log::warn!("{}: auto-commit failed: {e}", self.shared.topic);
            }
            self.last_commit = Instant::now();
        }
    }

    /// Commits, for each partition something was consumed from, the offset after the last
    /// message consumed (the next to read). Partitions with nothing new consumed are left
    /// alone. Needs a consumer group.
    pub fn commit_offsets(&mut self) -> Result<()> {
        let group = self
            .shared
            .cfg
            .consumer_group
            .clone()
            .ok_or_else(|| Error::Config("commit_offsets needs a consumer_group".into()))?;
        let ids = self.partitions();
        let todo: Vec<(usize, i32, i64)> = ids
            .iter()
            .enumerate()
            .filter_map(|(s, &p)| {
                let next = self.consumed[s]? + 1;
                (self.committed[s] != Some(next)).then_some((s, p, next))
            })
            .collect();
        let offsets: Vec<(i32, i64)> = todo.iter().map(|t| (t.1, t.2)).collect();
        let cfg = &self.shared.cfg;
        offset_requests::commit(
            &self.shared.cluster,
            &group,
            &self.shared.topic,
            &offsets,
            cfg.offsets_commit_max_retries.max(1),
        )?;
        for (s, _, next) in todo {
            self.committed[s] = Some(next);
        }
        log::debug!("{}: committed {offsets:?} for group {group}", self.shared.topic);
        Ok(())
    }

    /// The group's committed offsets on the broker, per partition (`None`: nothing committed).
    pub fn fetch_offsets(&self) -> Result<BTreeMap<i32, Option<i64>>> {
        let group = self
            .shared
            .cfg
            .consumer_group
            .as_deref()
            .ok_or_else(|| Error::Config("fetch_offsets needs a consumer_group".into()))?;
        let cfg = &self.shared.cfg;
        offset_requests::fetch_committed(
            &self.shared.cluster,
            group,
            &self.shared.topic,
            &self.partitions(),
            cfg.offsets_commit_max_retries.max(1),
        )
    }

    /// Per partition, the next offset this consumer will hand out: one past the last message
    /// consumed, or the start position if nothing was consumed yet (`None` before it is
    /// resolved). PyKafka's `held_offsets` gives the last consumed offset instead.
    pub fn held_offsets(&self) -> BTreeMap<i32, Option<i64>> {
        let parts = self.shared.lock();
        parts
            .iter()
            .enumerate()
            .map(|(s, p)| {
                let start = p.decision.map(|d| d.offset);
                (p.partition, self.consumed[s].map(|o| o + 1).or(start))
            })
            .collect()
    }

    /// Why each partition started where it did; `None` until resolved.
    pub fn start_decisions(&self) -> BTreeMap<i32, Option<StartDecision>> {
        self.shared.lock().iter().map(|p| (p.partition, p.decision)).collect()
    }

    /// Moves partitions to new positions (PyKafka's `reset_offsets`). Messages already queued
    /// for them are dropped. Nothing is committed: call [`SimpleConsumer::commit_offsets`] after
    /// consuming, as usual. `OffsetSpec::Offset(n)` makes `n` the next offset read.
    pub fn reset_offsets(&mut self, specs: &[(i32, OffsetSpec)]) -> Result<()> {
        let ids = self.partitions();
        for (p, _) in specs {
            if !ids.contains(p) {
                return Err(Error::UnknownTopicOrPartition {
                    topic: self.shared.topic.to_string(),
                    partition: Some(*p),
                });
            }
        }
        let attempts = self.shared.cfg.offsets_commit_max_retries.max(1);
        let (cluster, topic) = (&self.shared.cluster, &*self.shared.topic);
        let all: Vec<i32> = specs.iter().map(|s| s.0).collect();
        let lo = offset_requests::list_offsets(
            cluster,
            topic,
            &all.iter().map(|p| (*p, EARLIEST_TIMESTAMP)).collect::<Vec<_>>(),
            attempts,
        )?;
        let hi = offset_requests::list_offsets(
            cluster,
            topic,
            &all.iter().map(|p| (*p, LATEST_TIMESTAMP)).collect::<Vec<_>>(),
            attempts,
        )?;
        let by_time: Vec<(i32, i64)> = specs
            .iter()
            .filter_map(|(p, s)| match s {
                OffsetSpec::Timestamp(t) => Some((*p, *t)),
                _ => None,
            })
            .collect();
        let at_time = if by_time.is_empty() {
            BTreeMap::new()
        } else {
            offset_requests::list_offsets(cluster, topic, &by_time, attempts)?
        };
        let mut parts = self.shared.lock();
        for &(partition, spec) in specs {
            let bounds = LogBounds { log_start: lo[&partition], high_watermark: hi[&partition] };
            let offset = match spec {
                OffsetSpec::Earliest => bounds.log_start,
                OffsetSpec::Latest => bounds.high_watermark,
                OffsetSpec::Timestamp(_) => match at_time.get(&partition) {
                    Some(&o) if o >= 0 => o,
                    _ => bounds.high_watermark,
                },
                OffsetSpec::Offset(o) => o,
            };
            let slot = ids.iter().position(|p| *p == partition).expect("checked above");
            let decision = StartDecision {
                rule: StartRule::Reset(spec),
                reset: self.shared.cfg.auto_offset_reset,
                committed: None,
                log_start: bounds.log_start,
                high_watermark: bounds.high_watermark,
                offset,
            };
            log::info!("{topic}/{partition}: reset to {offset} ({decision})");
            parts[slot].jump(offset, decision);
            self.consumed[slot] = None;
            if self.local_slot == slot {
                self.local.clear();
            }
        }
        self.shared.work_ready.notify_all();
        Ok(())
    }

    /// Stops the fetchers, committing first when auto-commit is on. Waits a bounded time for the
    /// threads to end. Calling it again does nothing.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        if self.shared.cfg.auto_commit_enable {
            if let Err(e) = self.commit_offsets() {
                log::warn!("{}: commit on stop failed: {e}", self.shared.topic);
            }
        }
        self.shared.stop();
        let deadline = Instant::now() + self.shared.cfg.fetch_wait_max + STOP_GRACE;
        self.workers.join_by(deadline, &format!("{} fetchers", self.shared.topic));
    }

    /// Whether a partition is paused on an error until [`SimpleConsumer::reset_offsets`].
    pub fn is_paused(&self, partition: i32) -> bool {
        self.shared.lock().iter().any(|p| p.partition == partition && p.position == Position::Failed)
    }
}

impl Drop for SimpleConsumer {
    fn drop(&mut self) {
        self.stop();
    }
}
