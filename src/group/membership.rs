//! Group membership over the network: joining (JoinGroup, then SyncGroup, with the leader
//! computing the assignment in between), the heartbeat thread, and leaving.
//!
//! ```text
//!   ──join──▶ JoinGroup ──(leader: assign)──▶ SyncGroup ──▶ Stable ──heartbeats──▶ …
//!                ▲   MEMBER_ID_REQUIRED: again with the given id                │
//!                └──── REBALANCE_IN_PROGRESS / ILLEGAL_GENERATION / session lost ┘
//! ```

use super::actions::{self, Action};
use super::assignors::{Assignor, MemberInfo};
use super::transitions::{BeatStep, HeartbeatTracker, JoinRetries, JoinStep};
use crate::client::group::{self as calls, JoinAnswer, JoinParams};
use crate::client::offsets::Generation;
use crate::client::Client;
use crate::error::{Error, Result};
use crate::protocol::consumer_protocol::{self, Assignment, Subscription, TopicPartitions};
use crate::protocol::ApiKey;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How often a join waiting out its backoff checks whether the consumer stops.
const STOP_SLICE: Duration = Duration::from_millis(100);

/// A member's group settings.
#[derive(Debug, Clone)]
pub(crate) struct GroupConfig {
    pub group: String,
    pub topics: Vec<String>,
    pub assignors: Vec<Assignor>,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub group_instance_id: Option<String>,
    pub rebalance_max_retries: u32,
    pub rebalance_backoff: Duration,
    pub protocol: super::GroupProtocol,
    /// The consumer protocol's server-side assignor; `None`: the coordinator's default.
    pub remote_assignor: Option<String>,
    /// The consumer protocol's regex subscription, matched by the coordinator (RE2/J).
    pub topic_regex: Option<String>,
}

impl GroupConfig {
    /// Cooperative rebalancing only when every offered assignor supports it, as in the Java
    /// client: a group still upgrading from an eager assignor must stay eager.
    pub fn cooperative(&self) -> bool {
        self.assignors.iter().all(|a| a.cooperative())
    }
}

/// The result of a completed join.
#[derive(Debug, Clone)]
pub(crate) struct Joined {
    pub generation: Generation,
    pub assignor: Assignor,
    pub assignment: TopicPartitions,
}

/// What a member's heartbeat thread wakes when a rejoin is due or the member stops: the
/// consumer's wait for messages. A trait, so that the group needn't know the consumer.
pub(crate) trait Wake: Send + Sync + std::fmt::Debug {
    /// Makes the consumer's wait for messages return, to rejoin.
    fn interrupt(&self);
    /// Stops the consumer.
    fn stop(&self);
}

/// Joins the group and returns this member's assignment; `Ok(None)` when `deadline` comes
/// first (the join goes on at the next call, where `retries` left off). `member_id` is updated
/// in place (it survives failed attempts, as the coordinator expects). `owned` and
/// `owned_generation` are reported to the leader for cooperative assignment. Gives up after
/// `rebalance_max_retries` failures, or at once on a fatal error or when `stopped`.
#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
pub(crate) fn join(
    client: &Client,
    cfg: &GroupConfig,
    member_id: &mut String,
    owned: &TopicPartitions,
    owned_generation: i32,
    retries: &mut JoinRetries,
    deadline: Option<Instant>,
    stopped: &dyn Fn() -> bool,
) -> Result<Option<Joined>> {
    loop {
        // The backoff, in slices so that a stop is seen at once.
        while let Some(at) = retries.not_before() {
            let now = Instant::now();
            if now >= at {
                break;
            }
            if stopped() {
                return Ok(None);
            }
            if deadline.is_some_and(|d| now >= d) {
                return Ok(None);
            }
            std::thread::sleep((at - now).min(STOP_SLICE));
        }
        let err = match join_once(client, cfg, member_id, owned, owned_generation) {
            Ok(j) => {
                retries.succeeded();
                return Ok(Some(j));
            }
            Err(e) => e,
        };
        let action = actions::for_error(&err);
        log::info!("group {}: join: {err} ({action:?})", cfg.group);
        // (After MEMBER_ID_REQUIRED, join_once stored the id to join with.)
        match action {
            Action::RejoinAsNew => member_id.clear(),
            Action::FindCoordinator => client.forget_coordinator(&cfg.group),
            _ => {}
        }
        if retries.on_error(action, stopped(), Instant::now()) == JoinStep::GiveUp {
            return Err(err);
        }
    }
}

fn join_once(
    client: &Client,
    cfg: &GroupConfig,
    member_id: &mut String,
    owned: &TopicPartitions,
    owned_generation: i32,
) -> Result<Joined> {
    let protocols = cfg
        .assignors
        .iter()
        .map(|a| {
            let sub = Subscription {
                topics: cfg.topics.clone(),
                // The Java cooperative-sticky assignor also reads the generation from here.
                user_data: a.cooperative().then(|| owned_generation.to_be_bytes().to_vec()),
                owned_partitions: owned.clone(),
                generation_id: owned_generation,
                rack_id: None,
            };
            (a.name().to_string(), sub.encode(consumer_protocol::VERSION))
        })
        .collect();
    let params = JoinParams {
        group: &cfg.group,
        session_timeout: cfg.session_timeout,
        rebalance_timeout: cfg.rebalance_timeout,
        group_instance_id: cfg.group_instance_id.as_deref(),
        protocols,
    };
    let joined = calls::join_group(client, &params, member_id)?;
    let name = joined.protocol_name.clone();
    let assignor = Assignor::from_name(&name).ok_or_else(|| {
        Error::Config(format!(
            "group {}: the coordinator chose assignor {name:?}, which this member didn't offer",
            cfg.group
        ))
    })?;
    let assignments = if joined.leads { lead(client, cfg, assignor, &joined)? } else { Vec::new() };
    log::info!(
        "group {}: joined generation {} as {}{} with {assignor}",
        cfg.group,
        joined.generation_id,
        joined.member_id,
        if joined.leads { " (leader)" } else { "" }
    );
    let generation = Generation {
        member_id: joined.member_id,
        generation_id: joined.generation_id,
        group_instance_id: cfg.group_instance_id.clone(),
    };
    let payload = calls::sync_group(client, &cfg.group, &generation, &name, assignments, cfg.rebalance_timeout)?;
    let assignment = Assignment::decode(&payload)
        .map_err(|e| calls::payload_error(ApiKey::SyncGroup, format!("coordinator of group {}", cfg.group), e))?;
    let mine: TopicPartitions =
        assignment.partitions.into_iter().filter(|(t, ps)| cfg.topics.contains(t) && !ps.is_empty()).collect();
    Ok(Joined { generation, assignor, assignment: mine })
}

/// The leader's job: read every member's subscription, look up the topics, run the assignor.
fn lead(client: &Client, cfg: &GroupConfig, assignor: Assignor, joined: &JoinAnswer) -> Result<Vec<(String, Vec<u8>)>> {
    let mut members = Vec::new();
    let mut versions = BTreeMap::new();
    for m in &joined.members {
        let sub = Subscription::decode(&m.metadata)
            .map_err(|e| calls::payload_error(ApiKey::JoinGroup, format!("member {}", m.member_id), e))?;
        // Answer each member in the payload version it speaks (decode checked the 2 bytes).
        let version = i16::from_be_bytes([m.metadata[0], m.metadata[1]]).clamp(0, consumer_protocol::VERSION);
        versions.insert(m.member_id.clone(), version);
        members.push(MemberInfo::from_subscription(&m.member_id, m.group_instance_id.as_deref(), sub));
    }
    let topics: BTreeSet<String> = members.iter().flat_map(|m| m.topics.iter().cloned()).collect();
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    client.refresh_metadata(&names)?;
    let counts: BTreeMap<String, i32> =
        topics.iter().filter_map(|t| client.partition_count(t).map(|n| (t.clone(), n))).collect();
    let plan = assignor.assign(&members, &counts);
    log::debug!("group {}: assignment {plan:?}", cfg.group);
    Ok(plan
        .into_iter()
        .map(|(member, partitions)| {
            let v = versions.get(&member).copied().unwrap_or(0);
            (member, Assignment { partitions, user_data: None }.encode(v))
        })
        .collect())
}

/// Leaves the group so that the partitions move at once. A static member doesn't: keeping its
/// partitions through a restart is the point of static membership (the Java client does the
/// same); they move when its session times out.
pub(crate) fn leave(client: &Client, cfg: &GroupConfig, generation: &Generation) -> Result<()> {
    if cfg.group_instance_id.is_some() {
        return Ok(());
    }
    calls::leave_group(client, &cfg.group, &generation.member_id, "the consumer is closing")
}

/// Why a rejoin was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejoin {
    /// Under the same member id.
    SameId,
    /// Under a fresh member id: the coordinator no longer knows this one.
    NewId,
}

#[derive(Debug, Default)]
pub(super) struct Beat {
    /// The generation heartbeats are sent for; `None` while not a stable member.
    current: Option<Generation>,
    pub(super) rejoin: Option<Rejoin>,
    fatal: Option<Error>,
    pub(super) stopped: bool,
    /// The consumer's current fetch state, woken when a rejoin is due.
    pub(super) wake: Option<Arc<dyn Wake>>,
    /// Under the consumer protocol (KIP-848): the member's side of the conversation.
    pub(super) member: super::kip848::Member,
}

/// What the heartbeat thread and the consumer share.
#[derive(Debug)]
pub(crate) struct Heartbeat {
    pub(super) client: Arc<Client>,
    pub(super) cfg: GroupConfig,
    pub(super) state: Mutex<Beat>,
    pub(super) cv: Condvar,
}

impl Heartbeat {
    pub fn new(client: Arc<Client>, cfg: GroupConfig) -> Heartbeat {
        Heartbeat { client, cfg, state: Mutex::new(Beat::default()), cv: Condvar::new() }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Beat> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts heartbeating for `generation` (or pauses with `None`), waking `wake` on trouble.
    pub fn set(&self, generation: Option<Generation>, wake: Option<Arc<dyn Wake>>) {
        let mut s = self.lock();
        s.current = generation;
        s.wake = wake;
        self.cv.notify_all();
    }

    /// Hands the consumer an error it can't recover from (a fatal heartbeat answer, or the
    /// heartbeat thread's own death), waking it.
    pub fn fail(&self, e: Error) {
        self.lock().fatal = Some(e);
        self.request_rejoin(Rejoin::SameId);
    }

    /// Asks the consumer to rejoin, waking it if it waits for messages.
    pub fn request_rejoin(&self, how: Rejoin) {
        let mut s = self.lock();
        if s.rejoin != Some(Rejoin::NewId) {
            s.rejoin = Some(how);
        }
        s.current = None;
        if let Some(w) = &s.wake {
            w.interrupt();
        }
    }

    /// The pending rejoin request, if any, clearing it.
    pub fn take_rejoin(&self) -> Option<Rejoin> {
        self.lock().rejoin.take()
    }

    /// An error the heartbeat thread can't recover from, if one happened.
    pub fn take_fatal(&self) -> Option<Error> {
        self.lock().fatal.take()
    }

    pub fn stop(&self) {
        let mut s = self.lock();
        s.stopped = true;
        if let Some(w) = &s.wake {
            w.stop();
        }
        self.cv.notify_all();
    }

    pub fn is_stopped(&self) -> bool {
        self.lock().stopped
    }

    /// The heartbeat thread's body: one Heartbeat per interval while the member is stable. A
    /// member that can't reach its coordinator for a whole session timeout has been removed
    /// from the group; it stops reading (its partitions are someone else's by now) and rejoins.
    /// Under the consumer protocol, the whole of the membership ([`super::kip848`]).
    pub fn run(&self) {
        if self.cfg.protocol == super::GroupProtocol::Consumer {
            return self.run_consumer_protocol();
        }
        let mut tracker = HeartbeatTracker::new(self.cfg.session_timeout, Instant::now());
        let mut s = self.lock();
        loop {
            if s.stopped {
                return;
            }
            let Some(generation) = s.current.clone() else {
                tracker.reset(Instant::now());
                s = self.cv.wait(s).unwrap_or_else(|e| e.into_inner());
                continue;
            };
            let (g, _) = self.cv.wait_timeout(s, self.cfg.heartbeat_interval).unwrap_or_else(|e| e.into_inner());
            s = g;
            if s.stopped || s.current.as_ref() != Some(&generation) {
                continue;
            }
            drop(s);
            let outcome = self.beat(&generation);
            let action = outcome.as_ref().err().map(|e| {
                let action = actions::for_error(e);
                log::info!("group {}: heartbeat: {e} ({action:?})", self.cfg.group);
                action
            });
            let steps = tracker.on_beat(action, Instant::now());
            if action.is_some() && steps.len() > 1 {
                log::warn!("group {}: no heartbeat got through for a session timeout; rejoining", self.cfg.group);
            }
            for step in steps {
                match step {
                    BeatStep::Continue => {}
                    BeatStep::Rejoin { new_id: false } => self.request_rejoin(Rejoin::SameId),
                    BeatStep::Rejoin { new_id: true } => self.request_rejoin(Rejoin::NewId),
                    BeatStep::FindCoordinator => self.client.forget_coordinator(&self.cfg.group),
                    BeatStep::Fatal => {
                        if let Err(e) = &outcome {
                            self.fail(e.clone());
                        }
                    }
                }
            }
            s = self.lock();
        }
    }

    fn beat(&self, generation: &Generation) -> Result<()> {
        calls::heartbeat(&self.client, &self.cfg.group, generation)
    }
}
