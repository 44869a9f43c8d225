//! PyKafka's BalancedConsumer on Kafka's group protocol: members of a consumer group share the
//! partitions of their topics, and hand them over when members come and go.
//!
//! The application's thread does the group work inside `consume`: it joins, rebalances when
//! the heartbeat thread says so, commits, and builds the fetch machinery for each assignment.
//! A rebalance therefore never races a message being handed out.

use super::balanced_config::{BalancedConsumerBuilder, RebalanceCallback};
use super::config::ConsumerConfig;
use super::engine::{CallDeadline, CommitTimer, Engine, Key};
use super::simple::StopHandle;
use crate::client::offsets::{self as broker_offsets, Generation};
use crate::client::Client;
use crate::error::{Result, Retry};
use crate::group::actions::{self, Action};
use crate::group::membership::{self, GroupConfig, Heartbeat, Rejoin, Wake};
use crate::group::transitions::JoinRetries;
use crate::group::{kip848, Assignor, GroupProtocol};
use crate::message::Message;
use crate::offsets::StartDecision;
use crate::protocol::consumer_protocol::TopicPartitions;
use crate::stats::{ConsumerStats, Periodic, RebalanceStats};
use crate::workers::Workers;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// A member of a consumer group reading the partitions the group assigns it. Create one with
/// [`crate::Topic::balanced_consumer`] or [`crate::KafkaClient::balanced_consumer`].
///
/// It joins the group on the first [`BalancedConsumer::consume`]. Each assigned partition then
/// starts by the rules in [`crate::offsets`], lazily: `reset_offset_on_start` applies to the
/// first assignment only (as in PyKafka); a partition assigned by a later rebalance resumes
/// from the group's committed offset, and one kept through a rebalance goes on where it was.
///
/// With auto-commit (the default), offsets are committed every `auto_commit_interval`, before
/// partitions are given up, and on stop, so a partition handed over replays at most what was
/// consumed since the last commit. Dropping the consumer stops it and leaves the group.
///
/// ```no_run
/// use plainkafka::{Assignor, KafkaClient};
/// use std::time::Duration;
///
/// fn main() -> plainkafka::Result<()> {
///     let client = KafkaClient::new("127.0.0.1:9092")?;
///     let mut member = client
///         .balanced_consumer("billing", &["orders", "refunds"])
///         .assignors(&[Assignor::CooperativeSticky])
///         .session_timeout(Duration::from_secs(10))
///         .on_assigned(|parts| println!("now reading {parts:?}"))
///         .build()?;
///     for msg in member.iter() {
///         let msg = msg?;
///         println!("{}/{} @{}", msg.topic(), msg.partition(), msg.offset());
///     }
///     Ok(())
/// }
/// ```
pub struct BalancedConsumer {
    client: Arc<Client>,
    cfg: ConsumerConfig,
    group: GroupConfig,
    on_assigned: Option<RebalanceCallback>,
    on_revoked: Option<RebalanceCallback>,
    heartbeat: Arc<Heartbeat>,
    workers: Workers,
    started: bool,
    stopped: bool,
    engine: Engine,
    member_id: String,
    generation: Option<Generation>,
    assignor: Option<Assignor>,
    assignment: TopicPartitions,
    assigned_once: bool,
    /// After an eager revoke: the stopped engine of the partitions given up, and the
    /// generation they were held in. If the next generation gives some of them back, nobody
    /// else can have read them in between, so they go on where they were (and what was
    /// consumed from them can still be committed) instead of replaying from the last commit.
    given_up: Option<(Engine, Generation)>,
    needs_join: bool,
    /// A join's failures so far: it may span several calls of `consume`.
    join_retries: JoinRetries,
    commit_timer: CommitTimer,
    statistics: Option<Periodic<ConsumerStats>>,
    /// Messages handed out (engines come and go with assignments).
    messages: u64,
    rebalances: RebalanceStats,
    /// When the join under way began.
    joining_since: Option<Instant>,
    /// Partitions were given up holding messages consumed but not committed, which their next
    /// owner reads again: a transaction covering those messages must not commit.
    revoked_uncommitted: bool,
}

impl std::fmt::Debug for BalancedConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BalancedConsumer")
            .field("group", &self.group.group)
            .field("topics", &self.group.topics)
            .field("generation", &self.generation)
            .field("assignment", &self.assignment)
            .finish_non_exhaustive()
    }
}

fn keys_of(tps: &TopicPartitions) -> Vec<Key> {
    tps.iter().flat_map(|(t, ps)| ps.iter().map(move |p| (Arc::<str>::from(t.as_str()), *p))).collect()
}

fn pairs(keys: &[Key]) -> Vec<(String, i32)> {
    keys.iter().map(|(t, p)| (t.to_string(), *p)).collect()
}

/// The partitions in `a` but not in `b`.
fn minus(a: &TopicPartitions, b: &TopicPartitions) -> Vec<Key> {
    keys_of(a).into_iter().filter(|(t, p)| !b.get(&**t).is_some_and(|ps| ps.contains(p))).collect()
}

impl BalancedConsumer {
    pub(crate) fn new(b: BalancedConsumerBuilder) -> BalancedConsumer {
        let heartbeat = Arc::new(Heartbeat::new(Arc::clone(&b.client), b.group.clone()));
        let engine = Engine::new(b.cfg.clone(), Arc::clone(&b.client), Vec::new());
        BalancedConsumer {
            commit_timer: CommitTimer::new(&b.cfg),
            statistics: Periodic::new(b.cfg.statistics_interval, b.cfg.on_statistics.clone()),
            messages: 0,
            rebalances: RebalanceStats::default(),
            joining_since: None,
            join_retries: JoinRetries::new(b.group.rebalance_max_retries, b.group.rebalance_backoff),
            client: b.client,
            cfg: b.cfg,
            group: b.group,
            on_assigned: b.on_assigned,
            on_revoked: b.on_revoked,
            heartbeat,
            workers: Workers::new(),
            started: false,
            stopped: false,
            engine,
            member_id: String::new(),
            generation: None,
            assignor: None,
            assignment: TopicPartitions::new(),
            assigned_once: false,
            given_up: None,
            needs_join: true,
            revoked_uncommitted: false,
        }
    }

    /// The group.
    pub fn group(&self) -> &str {
        &self.group.group
    }

    /// The topics subscribed to.
    pub fn topics(&self) -> &[String] {
        &self.group.topics
    }

    /// The partitions assigned to this member now, by topic.
    pub fn assignment(&self) -> &BTreeMap<String, Vec<i32>> {
        &self.assignment
    }

    /// This member's id and generation, once joined.
    pub fn member_id(&self) -> Option<(&str, i32)> {
        self.generation.as_ref().map(|g| (g.member_id.as_str(), g.generation_id))
    }

    /// The assignor the group chose, once joined.
    pub fn assignor(&self) -> Option<Assignor> {
        self.assignor
    }

    /// A handle that stops this consumer from another thread: a blocked `consume` returns
    /// `None` (a join in progress finishes its current request first).
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle::for_group(Arc::clone(&self.heartbeat))
    }

    /// Iterates over messages, as [`crate::SimpleConsumer::iter`] does; rebalances happen
    /// between two messages.
    pub fn iter(&mut self) -> BalancedIter<'_> {
        BalancedIter { consumer: self }
    }

    fn start(&mut self) -> Result<()> {
        if self.started {
            return Ok(());
        }
        self.started = true;
        let hb = Arc::clone(&self.heartbeat);
        let dead = Arc::clone(&self.heartbeat);
        self.workers.spawn(
            format!("plainkafka-heartbeat-{}", self.group.group),
            move || hb.run(),
            move |e| dead.fail(e),
        )
    }

    /// The next message; `Ok(None)` when `consumer_timeout` passes without one or the consumer
    /// is stopped. Joins the group first and rebalances when needed. An `Err` is either one
    /// partition's (it pauses; the rest go on) or a group error nothing can fix (authorization,
    /// an incompatible group, this member's instance id taken over, joins failing past
    /// `rebalance_max_retries`).
    pub fn consume(&mut self) -> Result<Option<Message>> {
        if self.stopped {
            return Ok(None);
        }
        self.start()?;
        let mut deadline = CallDeadline::new(self.cfg.consumer_timeout);
        loop {
            if self.statistics.as_ref().is_some_and(Periodic::due) {
                let snapshot = self.stats();
                if let Some(p) = &mut self.statistics {
                    p.fire(&snapshot);
                }
            }
            if self.heartbeat.is_stopped() {
                return Ok(None);
            }
            if let Some(e) = self.heartbeat.take_fatal() {
                // Fenced or refused for good: rejoining would only fence the member that
                // replaced this one. The consumer stops; later calls return `None`.
                self.heartbeat.stop();
                return Err(e);
            }
            match self.heartbeat.take_rejoin() {
                Some(Rejoin::NewId) => {
                    self.member_id.clear();
                    if self.consumer_protocol() {
                        self.heartbeat.fence();
                    }
                    self.needs_join = true;
                }
                Some(Rejoin::SameId) => self.needs_join = true,
                None => {}
            }
            if self.needs_join {
                self.rebalance(deadline.get())?;
                // A join still under way when the timeout passes goes on at the next call.
                if self.needs_join && deadline.passed() {
                    return Ok(None);
                }
                continue;
            }
            if self.commit_timer.due() {
                // One attempt: a coordinator failing over must not hold up the messages of
                // partitions whose leaders are fine. What fails goes with the next one.
                let todo = self.engine.uncommitted();
                if let Err(e) = self.commit(&todo, 1) {
                    log::warn!("group {}: auto-commit failed (retried at the next interval): {e}", self.group.group);
                }
                self.commit_timer.restart();
            }
            let (timer, statistics) = (&self.commit_timer, &self.statistics);
            let wake = || timer.wait_until(deadline.get(), statistics.as_ref().map(Periodic::next));
            if let Some(m) = self.engine.poll(wake)? {
                self.messages += 1;
                return Ok(Some(m));
            }
            if deadline.passed() {
                return Ok(None);
            }
        }
    }

    /// This member's group and generation, for committing offsets inside a producer's
    /// transaction ([`crate::Producer::send_offsets_to_transaction`]); `None` before it joined.
    pub fn group_metadata(&self) -> Option<crate::group::ConsumerGroupMetadata> {
        let member = self.current_generation()?;
        Some(crate::group::ConsumerGroupMetadata { group: self.group.group.clone(), member: Some(member) })
    }

    /// A snapshot of this member's figures: each assigned partition's position, high
    /// watermark, lag and queue, its rebalances, the brokers' traffic (see [`crate::stats`]).
    pub fn stats(&self) -> ConsumerStats {
        let (_, partitions) = self.engine.stats();
        let (brokers, retries) = self.client.broker_stats();
        ConsumerStats {
            time_ms: crate::stats::now_ms(),
            messages: self.messages,
            partitions,
            brokers,
            retries,
            rebalances: self.rebalances,
        }
    }

    /// Gives up `keys`: commits what was consumed from them (with auto-commit), then tells the
    /// application. Returns false when the coordinator could not be reached (the commit ran
    /// into a timeout or a broken connection), so that stopping need not wait on it again.
    fn revoke(&mut self, keys: &[Key]) -> bool {
        if keys.is_empty() {
            return true;
        }
        let mut reachable = true;
        let slots = self.engine.slots_of(keys);
        self.revoked_uncommitted |=
            !self.cfg.auto_commit_enable && self.engine.uncommitted().iter().any(|(s, _)| slots.contains(s));
        if self.cfg.auto_commit_enable {
            let todo: Vec<(usize, i64)> =
                self.engine.uncommitted().into_iter().filter(|(s, _)| slots.contains(s)).collect();
            let attempts = self.cfg.offsets_commit_max_retries.max(1);
            if let Err(e) = self.commit(&todo, attempts) {
                log::warn!("group {}: commit before giving partitions up failed: {e}", self.group.group);
                reachable = e.retry() != Retry::Reconnect;
            }
        }
        log::info!("group {}: revoking {:?}", self.group.group, pairs(keys));
        if let Some(f) = self.on_revoked.as_mut() {
            f(&pairs(keys));
        }
        reachable
    }

    /// Whether the group speaks the consumer protocol (KIP-848).
    fn consumer_protocol(&self) -> bool {
        self.group.protocol == GroupProtocol::Consumer
    }

    /// The membership commits are made under: the classic generation, or under the consumer
    /// protocol the member's current epoch (which moves without a rebalance here).
    fn current_generation(&self) -> Option<Generation> {
        if self.consumer_protocol() {
            self.heartbeat.member_generation()
        } else {
            self.generation.clone()
        }
    }

    /// Under the consumer protocol: takes in the coordinator's newest assignment, if one came.
    /// What it lacks is given up (committed first with auto-commit, unless the member was
    /// fenced and it is someone else's already) and what it adds is taken; the partitions
    /// kept are read on without a pause. Then the coordinator is told what this member owns.
    fn reconcile(&mut self) {
        self.needs_join = false;
        let wake: Arc<dyn Wake> = self.engine.shared().clone();
        self.heartbeat.set_wake(wake);
        let Some((target, lost)) = self.heartbeat.take_target() else { return };
        let began = *self.joining_since.get_or_insert_with(Instant::now);
        self.generation = self.heartbeat.member_generation();
        let revoked = minus(&self.assignment, &target);
        let added = minus(&target, &self.assignment);
        if lost {
            log::warn!(
                "group {}: fenced; {:?} are lost, nothing committed for them",
                self.group.group,
                pairs(&revoked)
            );
            if let Some(f) = self.on_revoked.as_mut().filter(|_| !revoked.is_empty()) {
                f(&pairs(&revoked));
            }
        } else {
            let _ = self.revoke(&revoked);
        }
        if !revoked.is_empty() || !added.is_empty() {
            let mut cfg = self.cfg.clone();
            cfg.reset_offset_on_start = cfg.reset_offset_on_start && !self.assigned_once;
            let mut engine = Engine::new(cfg, Arc::clone(&self.client), keys_of(&target));
            if !lost {
                engine.carry_from(&self.engine);
            }
            self.engine.stop();
            self.engine = engine;
        }
        self.assignment = target.clone();
        self.assigned_once |= !target.is_empty();
        let took = began.elapsed();
        self.joining_since = None;
        self.rebalances.count += 1;
        self.rebalances.last = Some(took);
        self.rebalances.total += took;
        log::info!(
            "group {}: epoch {} assigns {:?}",
            self.group.group,
            self.generation.as_ref().map_or(0, |g| g.generation_id),
            self.assignment
        );
        if !added.is_empty() {
            if let Some(f) = self.on_assigned.as_mut() {
                f(&pairs(&added));
            }
        }
        let wake: Arc<dyn Wake> = self.engine.shared().clone();
        self.heartbeat.set_wake(wake);
        self.heartbeat.acknowledge(target);
    }

    fn rebalance(&mut self, deadline: Option<Instant>) -> Result<()> {
        if self.consumer_protocol() {
            self.reconcile();
            return Ok(());
        }
        let began = *self.joining_since.get_or_insert_with(Instant::now);
        let cooperative = self.group.cooperative();
        self.heartbeat.set(None, None);
        if !cooperative && !self.assignment.is_empty() {
            // Eager: everything is given up before joining, so no two members ever read the
            // same partition.
            let all = keys_of(&self.assignment);
            let _ = self.revoke(&all);
            self.engine.stop();
            let empty = Engine::new(self.cfg.clone(), Arc::clone(&self.client), Vec::new());
            let old = std::mem::replace(&mut self.engine, empty);
            self.given_up = self.generation.clone().map(|g| (old, g));
            self.assignment.clear();
        }
        let owned_generation = self.generation.as_ref().map_or(-1, |g| g.generation_id);
        let heartbeat = Arc::clone(&self.heartbeat);
        let joined = membership::join(
            &self.client,
            &self.group,
            &mut self.member_id,
            &self.assignment,
            owned_generation,
            &mut self.join_retries,
            deadline,
            &|| heartbeat.is_stopped(),
        );
        let joined = match joined {
            Ok(Some(j)) => j,
            Ok(None) => return Ok(()),
            Err(_) if self.heartbeat.is_stopped() => return Ok(()),
            Err(e) => return Err(e),
        };
        self.needs_join = false;
        self.joining_since = None;
        let took = began.elapsed();
        self.rebalances.count += 1;
        self.rebalances.last = Some(took);
        self.rebalances.total += took;
        // A commit refused while joining (the old generation's) asked for the rejoin just done.
        let _ = self.heartbeat.take_rejoin();
        self.generation = Some(joined.generation.clone());
        self.assignor = Some(joined.assignor);
        let revoked = minus(&self.assignment, &joined.assignment);
        let added = minus(&joined.assignment, &self.assignment);
        let _ = self.revoke(&revoked);
        // The very next generation, as the same member: what it gives back was nobody else's.
        let given_up = self.given_up.take().filter(|(_, g)| {
            g.member_id == joined.generation.member_id
                && g.generation_id.checked_add(1) == Some(joined.generation.generation_id)
        });
        if !revoked.is_empty() || !added.is_empty() {
            let mut cfg = self.cfg.clone();
            // PyKafka resets only the first assignment; later ones resume from commits.
            cfg.reset_offset_on_start = cfg.reset_offset_on_start && !self.assigned_once;
            let mut engine = Engine::new(cfg, Arc::clone(&self.client), keys_of(&joined.assignment));
            engine.carry_from(given_up.as_ref().map_or(&self.engine, |(e, _)| e));
            self.engine.stop();
            self.engine = engine;
        }
        self.assignment = joined.assignment;
        self.assigned_once = true;
        log::info!(
            "group {}: generation {} assigns {:?}",
            self.group.group,
            joined.generation.generation_id,
            self.assignment
        );
        if !added.is_empty() {
            if let Some(f) = self.on_assigned.as_mut() {
                f(&pairs(&added));
            }
        }
        let wake: Arc<dyn Wake> = self.engine.shared().clone();
        self.heartbeat.set(Some(joined.generation), Some(wake));
        if cooperative && !revoked.is_empty() {
            // KIP-429: what was revoked can only reach its new owner in a second round.
            self.needs_join = true;
        }
        Ok(())
    }

    /// Commits `todo` (slot, next offset) as this member's generation, in up to `attempts`. A
    /// commit the coordinator refuses because the group moved on schedules a rejoin.
    fn commit(&mut self, todo: &[(usize, i64)], attempts: u32) -> Result<()> {
        let Some(mut generation) = self.current_generation() else { return Ok(()) };
        if todo.is_empty() {
            return Ok(());
        }
        let offsets = self.engine.describe(todo);
        let mut committed =
            broker_offsets::commit(&self.client, &self.group.group, Some(&generation), &offsets, attempts);
        if let Err(e) = &committed {
            // Under the consumer protocol the epoch may have moved since it was read: once
            // more with the one the heartbeat has now.
            let fresh = self.current_generation();
            if e.code() == Some(crate::ErrorCode::STALE_MEMBER_EPOCH) && fresh.as_ref() != Some(&generation) {
                generation = fresh.unwrap_or(generation);
                committed =
                    broker_offsets::commit(&self.client, &self.group.group, Some(&generation), &offsets, attempts);
            }
        }
        match committed {
            Ok(()) => {
                log::debug!("group {}: committed {offsets:?}", self.group.group);
                self.engine.mark_committed(todo);
                Ok(())
            }
            Err(e) => {
                match actions::for_error(&e) {
                    Action::RejoinAsNew => self.heartbeat.request_rejoin(Rejoin::NewId),
                    Action::Rejoin => self.heartbeat.request_rejoin(Rejoin::SameId),
                    _ => {}
                }
                Err(e)
            }
        }
    }

    /// Commits, for each assigned partition something was consumed from, the offset after the
    /// last message consumed. If the group has rebalanced meanwhile the coordinator refuses
    /// (the error says so) and the consumer rejoins on its next `consume`; the partitions'
    /// new owners then resume from the previous commit.
    pub fn commit_offsets(&mut self) -> Result<()> {
        let todo = self.engine.uncommitted();
        self.commit(&todo, self.cfg.offsets_commit_max_retries.max(1))
    }

    /// Commits these (topic, partition, next offset to read) triples as this member's
    /// generation: for an application that handled only part of what it consumed. A triple
    /// past the message after the last one consumed, or for a partition not assigned or not
    /// consumed from, is an error, and nothing is committed.
    pub fn commit_offsets_at(&mut self, offsets: &[(&str, i32, i64)]) -> Result<()> {
        let todo = self.engine.chosen(offsets)?;
        self.commit(&todo, self.cfg.offsets_commit_max_retries.max(1))
    }

    /// For [`crate::Producer::transact_from`], before the transaction: its inputs' offsets are
    /// committed by the transaction alone.
    pub(crate) fn txn_begin(&mut self) -> Result<()> {
        if self.cfg.auto_commit_enable {
            return Err(crate::Error::Config(format!(
                "group {}: a consumer whose offsets a transaction commits needs auto_commit_enable(false): \
                 an automatic commit would count messages whose transaction may still abort",
                self.group.group
            )));
        }
        self.revoked_uncommitted = false;
        Ok(())
    }

    /// For the transaction helper: what to commit in the transaction, (slot, next offset) and
    /// (topic, partition, next offset), with this member's generation. An error when a
    /// rebalance took away partitions with messages of the transaction.
    pub(crate) fn txn_offsets(&self) -> Result<TxnOffsets> {
        if self.revoked_uncommitted {
            return Err(crate::Error::Rebalanced { group: self.group.group.clone() });
        }
        let todo = self.engine.uncommitted();
        let offsets = self.engine.describe(&todo).into_iter().map(|(t, p, o)| (t.to_string(), p, o)).collect();
        Ok(TxnOffsets { slots: todo, offsets, group: self.group_metadata() })
    }

    /// For the transaction helper: the transaction committed these offsets.
    pub(crate) fn txn_committed(&mut self, slots: &[(usize, i64)]) {
        self.engine.mark_committed(slots);
    }

    /// For the transaction helper: the transaction aborted, so what it consumed is handed out
    /// again; a refusal that says the group moved on schedules a rejoin.
    pub(crate) fn txn_aborted(&mut self, cause: &crate::Error) {
        let n = self.engine.rewind_uncommitted();
        log::info!("group {}: transaction aborted; {n} partitions go back to their last commit", self.group.group);
        match actions::for_error(cause) {
            Action::RejoinAsNew => self.heartbeat.request_rejoin(Rejoin::NewId),
            Action::Rejoin => self.heartbeat.request_rejoin(Rejoin::SameId),
            _ => {}
        }
    }

    /// Per assigned partition, the next offset this consumer will hand out (`None` before it
    /// is resolved).
    pub fn held_offsets(&self) -> BTreeMap<(String, i32), Option<i64>> {
        self.engine.held().into_iter().map(|((t, p), held, _)| ((t.to_string(), p), held)).collect()
    }

    /// Why each assigned partition started where it did; `None` until resolved.
    pub fn start_decisions(&self) -> BTreeMap<(String, i32), Option<StartDecision>> {
        self.engine.held().into_iter().map(|((t, p), _, d)| ((t.to_string(), p), d)).collect()
    }

    /// Stops: commits (with auto-commit), gives the partitions up, stops the threads and leaves
    /// the group, each within a deadline. Calling it again does nothing.
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
        if !commit {
            self.cfg.auto_commit_enable = false;
        }
        let all = keys_of(&self.assignment);
        let reachable = self.revoke(&all);
        self.heartbeat.stop();
        self.engine.stop();
        // A coordinator that just timed out would only time out again: the session timeout
        // removes this member instead.
        if let Some(g) = self.current_generation().filter(|_| reachable) {
            let left = if self.consumer_protocol() {
                kip848::leave(&self.client, &self.group, &g)
            } else {
                membership::leave(&self.client, &self.group, &g)
            };
            if let Err(e) = left {
                log::warn!("group {}: leaving failed: {e}", self.group.group);
            }
        }
        let deadline = Instant::now() + self.client.connection_config().request_timeout;
        self.workers.join_by(deadline, &format!("group {} heartbeat", self.group.group));
    }
}

impl Drop for BalancedConsumer {
    fn drop(&mut self) {
        // Dropped by a panic: the message being processed may be the one that panicked, and
        // committing past it would skip it after a restart.
        self.stop_committing(!std::thread::panicking());
    }
}

/// A transaction's input offsets, from [`BalancedConsumer::txn_offsets`].
pub(crate) struct TxnOffsets {
    pub slots: Vec<(usize, i64)>,
    pub offsets: Vec<(String, i32, i64)>,
    pub group: Option<crate::group::ConsumerGroupMetadata>,
}

/// An iterator over a [`BalancedConsumer`]'s messages: `for msg in consumer.iter()`.
#[derive(Debug)]
pub struct BalancedIter<'a> {
    consumer: &'a mut BalancedConsumer,
}

impl Iterator for BalancedIter<'_> {
    type Item = Result<Message>;
    fn next(&mut self) -> Option<Result<Message>> {
        self.consumer.consume().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minus_lists_what_one_assignment_has_and_the_other_lacks() {
        let a: TopicPartitions = [("t".to_string(), vec![0, 1, 2]), ("u".to_string(), vec![0])].into();
        let b: TopicPartitions = [("t".to_string(), vec![1])].into();
        assert_eq!(pairs(&minus(&a, &b)), [("t".to_string(), 0), ("t".to_string(), 2), ("u".to_string(), 0)]);
        assert!(minus(&b, &a).is_empty());
    }
}
