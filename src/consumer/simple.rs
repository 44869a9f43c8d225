//! PyKafka's SimpleConsumer: reads chosen partitions of one topic, with optional offset
//! storage in a consumer group but no group membership (no rebalancing).

use super::config::ConsumerConfig;
use super::engine::{CallDeadline, CommitTimer, Engine};
use super::state::Shared;
use crate::client::offsets::{self as broker_offsets, ListAt};
use crate::client::TopicRef;
use crate::error::{Error, Result};
use crate::message::Message;
use crate::offsets::{OffsetSpec, StartDecision, StartRule};
use crate::stats::{ConsumerStats, Periodic, RebalanceStats};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Reads partitions of a topic. Create one with [`crate::Topic::simple_consumer`].
///
/// Nothing happens on the network until the first [`SimpleConsumer::consume`]: then each
/// partition's start offset is resolved by the rules in [`crate::offsets`] and fetcher threads
/// start filling per-partition queues.
///
/// Dropping the consumer stops its threads (committing first when auto-commit is on).
#[derive(Debug)]
pub struct SimpleConsumer {
    topic: Arc<str>,
    ids: Vec<i32>,
    engine: Engine,
    stopped: bool,
    commit_timer: CommitTimer,
    statistics: Option<Periodic<ConsumerStats>>,
}

/// Stops a consumer from another thread: a `consume` blocked waiting for messages returns
/// `None` at once, and the fetchers wind down. Cloneable and `Send`.
#[derive(Debug, Clone)]
pub struct StopHandle {
    target: Target,
}

#[derive(Debug, Clone)]
enum Target {
    Simple(Arc<Shared>),
    Group(Arc<crate::group::membership::Heartbeat>),
    Share(Arc<crate::group::share::ShareMembership>),
}

impl StopHandle {
    /// Stops the consumer. Offsets are committed (with auto-commit), and a group left, when the
    /// consumer itself is stopped or dropped.
    pub fn stop(&self) {
        match &self.target {
            Target::Simple(s) => s.stop(),
            Target::Group(h) => h.stop(),
            Target::Share(m) => m.stop(),
        }
    }

    pub(crate) fn for_group(h: Arc<crate::group::membership::Heartbeat>) -> StopHandle {
        StopHandle { target: Target::Group(h) }
    }

    pub(crate) fn for_share(m: Arc<crate::group::share::ShareMembership>) -> StopHandle {
        StopHandle { target: Target::Share(m) }
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
    pub(crate) fn new(topic: TopicRef, cfg: ConsumerConfig) -> SimpleConsumer {
        let ids: Vec<i32> = match &cfg.partitions {
            Some(p) => {
                let mut p = p.clone();
                p.sort_unstable();
                p.dedup();
                p
            }
            None => topic.partitions.iter().map(|p| p.partition).collect(),
        };
        let name = Arc::clone(&topic.name);
        let keys = ids.iter().map(|p| (Arc::clone(&name), *p)).collect();
        SimpleConsumer {
            topic: name,
            ids,
            commit_timer: CommitTimer::new(&cfg),
            statistics: Periodic::new(cfg.statistics_interval, cfg.on_statistics.clone()),
            engine: Engine::new(cfg, topic.client, keys),
            stopped: false,
        }
    }

    fn cfg(&self) -> &ConsumerConfig {
        &self.engine.shared().cfg
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The partitions this consumer reads.
    pub fn partitions(&self) -> Vec<i32> {
        self.ids.clone()
    }

    /// A handle that stops this consumer from another thread.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle { target: Target::Simple(Arc::clone(self.engine.shared())) }
    }

    /// Iterates over messages (see [`Iter`]).
    pub fn iter(&mut self) -> Iter<'_> {
        Iter { consumer: self }
    }

    /// The next message; `Ok(None)` when `consumer_timeout` passes without one or the consumer
    /// is stopped. An `Err` concerns one partition (which pauses); the others go on.
    pub fn consume(&mut self) -> Result<Option<Message>> {
        if self.stopped {
            return Ok(None);
        }
        let mut deadline = CallDeadline::new(self.cfg().consumer_timeout);
        loop {
            if self.statistics.as_ref().is_some_and(Periodic::due) {
                let snapshot = self.stats();
                if let Some(p) = &mut self.statistics {
                    p.fire(&snapshot);
                }
            }
            if self.commit_timer.due() {
                // One attempt, so a coordinator failing over doesn't hold up the messages; the
                // offsets stay held and are committed at the next interval or on stop.
                if let Err(e) = self.commit_in(1) {
                    log::warn!("{}: auto-commit failed (retried at the next interval): {e}", self.topic);
                }
                self.commit_timer.restart();
            }
            let (timer, statistics) = (&self.commit_timer, &self.statistics);
            let wake = || timer.wait_until(deadline.get(), statistics.as_ref().map(Periodic::next));
            if let Some(m) = self.engine.poll(wake)? {
                return Ok(Some(m));
            }
            if self.engine.is_stopped() || deadline.passed() {
                return Ok(None);
            }
        }
    }

    /// A snapshot of this consumer's figures: each partition's position, high watermark, lag
    /// and queue, the brokers' traffic (see [`crate::stats`]).
    pub fn stats(&self) -> ConsumerStats {
        let (messages, partitions) = self.engine.stats();
        let (brokers, retries) = self.engine.client().broker_stats();
        ConsumerStats {
            time_ms: crate::stats::now_ms(),
            messages,
            partitions,
            brokers,
            retries,
            rebalances: RebalanceStats::default(),
        }
    }

    /// Commits, for each partition something was consumed from, the offset after the last
    /// message consumed (the next to read). Partitions with nothing new consumed are left
    /// alone. Needs a consumer group.
    pub fn commit_offsets(&mut self) -> Result<()> {
        self.commit_in(self.cfg().offsets_commit_max_retries.max(1))
    }

    /// Commits these (partition, next offset to read) pairs, as PyKafka's
    /// `commit_offsets(partition_offsets)`: for an application that handled only part of what
    /// it consumed (the CLI, when its output closes). A pair past the message after the last
    /// one consumed, or for a partition nothing was consumed from, is a `Config` error, and
    /// nothing is committed.
    pub fn commit_offsets_at(&mut self, offsets: &[(i32, i64)]) -> Result<()> {
        let wanted: Vec<(&str, i32, i64)> = offsets.iter().map(|&(p, o)| (&*self.topic, p, o)).collect();
        let todo = self.engine.chosen(&wanted)?;
        self.commit_slots(todo, self.cfg().offsets_commit_max_retries.max(1))
    }

    fn commit_in(&mut self, attempts: u32) -> Result<()> {
        let todo = self.engine.uncommitted();
        self.commit_slots(todo, attempts)
    }

    fn commit_slots(&mut self, todo: Vec<(usize, i64)>, attempts: u32) -> Result<()> {
        let cfg = self.cfg();
        let group = cfg
            .consumer_group
            .as_deref()
            .ok_or_else(|| Error::Config("commit_offsets needs a consumer_group".into()))?;
        let offsets = self.engine.describe(&todo);
        let client = self.engine.client();
        broker_offsets::commit(client, group, None, &offsets, attempts)?;
        log::debug!("{}: committed {offsets:?} for group {group}", self.topic);
        self.engine.mark_committed(&todo);
        Ok(())
    }

    /// The group's committed offsets on the broker, per partition (`None`: nothing committed).
    pub fn fetch_offsets(&self) -> Result<BTreeMap<i32, Option<i64>>> {
        let cfg = self.cfg();
        let group = cfg
            .consumer_group
            .as_deref()
            .ok_or_else(|| Error::Config("fetch_offsets needs a consumer_group".into()))?;
        let attempts = cfg.offsets_commit_max_retries.max(1);
        broker_offsets::fetch_committed(self.engine.client(), group, &self.topic, &self.ids, attempts)
    }

    /// Per partition, the next offset this consumer will hand out: one past the last message
    /// consumed, or the start position if nothing was consumed yet (`None` before it is
    /// resolved). PyKafka's `held_offsets` gives the last consumed offset instead.
    pub fn held_offsets(&self) -> BTreeMap<i32, Option<i64>> {
        self.engine.held().into_iter().map(|((_, p), held, _)| (p, held)).collect()
    }

    /// Why each partition started where it did; `None` until resolved.
    pub fn start_decisions(&self) -> BTreeMap<i32, Option<StartDecision>> {
        self.engine.held().into_iter().map(|((_, p), _, d)| (p, d)).collect()
    }

    /// Moves partitions to new positions (PyKafka's `reset_offsets`). Messages already queued
    /// for them are dropped. Nothing is committed: call [`SimpleConsumer::commit_offsets`] after
    /// consuming, as usual. `OffsetSpec::Offset(n)` makes `n` the next offset read.
    pub fn reset_offsets(&mut self, specs: &[(i32, OffsetSpec)]) -> Result<()> {
        let ids = self.partitions();
        for (p, _) in specs {
            if !ids.contains(p) {
                return Err(Error::UnknownTopicOrPartition { topic: self.topic.to_string(), partition: Some(*p) });
            }
        }
        let attempts = self.cfg().offsets_commit_max_retries.max(1);
        let (client, topic) = (self.engine.client(), &*self.topic);
        let all: Vec<i32> = specs.iter().map(|s| s.0).collect();
        let isolation = self.cfg().isolation_level;
        let bounds_of = broker_offsets::log_bounds(client, topic, &all, isolation, attempts)?;
        let by_time: Vec<(i32, ListAt)> = specs
            .iter()
            .filter_map(|(p, s)| match s {
                OffsetSpec::Timestamp(t) => Some((*p, ListAt::Time(*t))),
                _ => None,
            })
            .collect();
        let at_time = if by_time.is_empty() {
            BTreeMap::new()
        } else {
            broker_offsets::list_offsets(client, topic, &by_time, isolation, attempts)?
        };
        let reset = self.cfg().auto_offset_reset;
        for &(partition, spec) in specs {
            let Some(&bounds) = bounds_of.get(&partition) else {
                return Err(Error::UnknownTopicOrPartition { topic: topic.to_string(), partition: Some(partition) });
            };
            let offset = match spec {
                OffsetSpec::Earliest => bounds.log_start,
                OffsetSpec::Latest => bounds.high_watermark,
                OffsetSpec::Timestamp(_) => at_time.get(&partition).copied().flatten().unwrap_or(bounds.high_watermark),
                OffsetSpec::Offset(o) => o,
            };
            let slot = ids.iter().position(|p| *p == partition).expect("checked above");
            let decision = StartDecision {
                rule: StartRule::Reset(spec),
                reset,
                committed: None,
                log_start: bounds.log_start,
                high_watermark: bounds.high_watermark,
                offset,
            };
            log::info!("{topic}/{partition}: reset to {offset} ({decision})");
            self.engine.jump(slot, offset, decision);
        }
        Ok(())
    }

    /// Stops the fetchers, committing first when auto-commit is on. Waits a bounded time for the
    /// threads to end. Calling it again does nothing.
    /// Dropping the consumer stops it too, except that a drop during a panic commits nothing:
    /// the message being processed may be the one that panicked.
    pub fn stop(&mut self) {
        self.stop_committing(true);
    }

    /// Stops; commits (with auto-commit) only when `commit`.
    fn stop_committing(&mut self, commit: bool) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        if commit && self.cfg().auto_commit_enable {
            if let Err(e) = self.commit_offsets() {
                log::warn!("{}: commit on stop failed: {e}", self.topic);
            }
        }
        self.engine.stop();
    }

    /// Whether a partition is paused on an error until [`SimpleConsumer::reset_offsets`].
    pub fn is_paused(&self, partition: i32) -> bool {
        self.ids.iter().position(|p| *p == partition).is_some_and(|slot| self.engine.is_paused(slot))
    }
}

impl Drop for SimpleConsumer {
    fn drop(&mut self) {
        // Dropped by a panic: the message being processed may be the one that panicked, and
        // committing past it would skip it after a restart.
        self.stop_committing(!std::thread::panicking());
    }
}
