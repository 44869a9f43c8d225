//! The consumer group protocol (KIP-848): the member's side, run by the heartbeat thread.
//!
//! ```text
//!   epoch 0 ──▶ ConsumerGroupHeartbeat ──▶ epoch N, assignment A ──▶ consumer reconciles:
//!      ▲          (subscription, owned)        (when it changed)     gives up what A lacks
//!      │                                                              (commit, callback),
//!      │                                                              takes what A adds,
//!      └── FENCED_MEMBER_EPOCH / UNKNOWN_MEMBER_ID:                   owned := A, beat now
//!          everything owned is lost, join again
//! ```
//!
//! There is no JoinGroup or SyncGroup: the coordinator computes every assignment and hands a
//! member only partitions nobody else still owns, so a member reconciles by giving up what its
//! new assignment lacks and taking what it adds, and keeps reading the rest meanwhile. The
//! consumer does the reconciling on its own thread (the heartbeat thread wakes it), as with the
//! classic protocol; the thread only talks to the coordinator.
//!
//! The member id is the member's own (KIP-1082): a random UUID, kept for the consumer's life.

use super::actions::{self, Action};
use super::membership::{GroupConfig, Heartbeat, Rejoin};
use crate::client::offsets::Generation;
use crate::client::Client;
use crate::error::{Context, Error, Result};
use crate::protocol::consumer_group_heartbeat::{
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, TopicIdPartitions,
};
use crate::protocol::consumer_protocol::TopicPartitions;
use crate::protocol::error_code::ErrorCode;
use crate::protocol::ApiKey;
use crate::retry::REQUEST_MAX;
use std::time::{Duration, Instant};

/// Epoch sent to leave the group for good.
const LEAVE: i32 = -1;
/// Epoch a static member sends when it leaves to come back (its partitions wait for it).
const LEAVE_TO_RETURN: i32 = -2;

/// The member's state, shared by the heartbeat thread and the consumer.
#[derive(Debug)]
pub(crate) struct Member {
    pub id: String,
    /// 0 until the coordinator accepts the member (and again after it is fenced).
    pub epoch: i32,
    /// What the consumer reads now, as it last told the coordinator.
    pub owned: TopicPartitions,
    /// The coordinator's newest assignment, not yet reconciled; `lost` when the member was
    /// fenced and owns nothing any more (nothing may be committed for it).
    pub target: Option<(TopicPartitions, bool)>,
    pub interval: Duration,
    /// Send a heartbeat at once: the owned partitions changed, or the member must rejoin.
    pub send_now: bool,
    pub next_beat: Instant,
    /// Fenced: no heartbeat until the consumer let go of what it owned (else the coordinator
    /// could hand the new incarnation partitions the old one is still reading and committing).
    pub releasing: bool,
}

impl Default for Member {
    fn default() -> Member {
        Member {
            id: member_uuid(),
            epoch: 0,
            owned: TopicPartitions::new(),
            target: None,
            interval: Duration::from_secs(5),
            send_now: true,
            next_beat: Instant::now(),
            releasing: false,
        }
    }
}

/// A random UUID in Kafka's text form (URL-safe base64 of the 16 bytes, no padding), from the
/// standard library's randomly keyed hasher: unique is all a member id must be.
pub(crate) fn member_uuid() -> String {
    use std::hash::{BuildHasher, Hasher};
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let half = |salt: u64| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(seed);
        h.write_u32(std::process::id());
        h.write_u64(salt);
        h.finish().to_be_bytes()
    };
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&half(1));
    bytes[8..].copy_from_slice(&half(2));
    // Version 4, variant 1, as a random UUID is marked.
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(22);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, b| (n << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Partitions by topic name, as topic ids (topics whose id isn't known are left out).
fn to_ids(client: &Client, tps: &TopicPartitions) -> Vec<TopicIdPartitions> {
    tps.iter()
        .filter_map(|(t, ps)| Some(TopicIdPartitions { topic_id: client.topic_id(t)?, partitions: ps.clone() }))
        .collect()
}

/// An assignment by topic id, as topic names; ids not in the metadata cache are looked up
/// with a refresh of the subscribed topics (every topic, for a regex) first.
fn to_names(client: &Client, cfg: &GroupConfig, tps: &[TopicIdPartitions]) -> TopicPartitions {
    let topics: Vec<&str> =
        if cfg.topic_regex.is_some() { Vec::new() } else { cfg.topics.iter().map(String::as_str).collect() };
    assigned_names(client, &cfg.group, &topics, tps)
}

/// An assignment by topic id, as topic names, looking `topics` up first (none: every topic)
/// when an id isn't in the metadata cache. Shared with share groups.
pub(crate) fn assigned_names(
    client: &Client,
    group: &str,
    topics: &[&str],
    tps: &[TopicIdPartitions],
) -> TopicPartitions {
    if tps.iter().any(|t| client.topic_name(&t.topic_id).is_none()) {
        if let Err(e) = client.refresh_metadata(topics) {
            log::warn!("group {group}: looking up the assigned topics: {e}");
        }
    }
    let mut out = TopicPartitions::new();
    for t in tps {
        match client.topic_name(&t.topic_id) {
            Some(name) if !t.partitions.is_empty() => {
                let mut ps = t.partitions.clone();
                ps.sort_unstable();
                out.insert(name, ps);
            }
            Some(_) => {}
            None => log::warn!("group {group}: assigned a topic whose id is unknown; skipped until it is"),
        }
    }
    out
}

/// One ConsumerGroupHeartbeat at the group's coordinator.
fn send(
    client: &Client,
    cfg: &GroupConfig,
    req: &ConsumerGroupHeartbeatRequest,
) -> Result<ConsumerGroupHeartbeatResponse> {
    // Kafka 3.x lists the API but, with the protocol not enabled, answers UNSUPPORTED_VERSION.
    let not_offered = |broker: &dyn std::fmt::Display| {
        Error::Config(format!(
            "group {}: group.protocol=consumer needs the ConsumerGroupHeartbeat API (KIP-848, Kafka 4.0+), \
             which broker {broker} does not offer; use group.protocol=classic",
            cfg.group
        ))
    };
    let node = client.coordinator(&cfg.group)?;
    let resp = client.send_to(node, req).map_err(|e| match e {
        Error::NoCommonVersion { broker, .. } => not_offered(&broker),
        e => e,
    })?;
    let code = ErrorCode::from_i16(resp.error_code);
    if code.is_ok() {
        Ok(resp)
    } else if code == ErrorCode::UNSUPPORTED_VERSION {
        Err(not_offered(&node))
    } else {
        let context = Context::group(&cfg.group).on_broker(node);
        Err(Error::broker(ApiKey::ConsumerGroupHeartbeat, code, context, resp.error_message.clone()))
    }
}

/// Leaves the group: epoch -1, or -2 for a static member, whose partitions then wait for it
/// to come back (until its session times out). A coordinator that no longer knows the member
/// is success: it is gone either way.
pub(crate) fn leave(client: &Client, cfg: &GroupConfig, generation: &Generation) -> Result<()> {
    let epoch = if cfg.group_instance_id.is_some() { LEAVE_TO_RETURN } else { LEAVE };
    let req = ConsumerGroupHeartbeatRequest {
        group_id: cfg.group.clone(),
        member_id: generation.member_id.clone(),
        member_epoch: epoch,
        instance_id: cfg.group_instance_id.clone(),
        rack_id: None,
        rebalance_timeout_ms: -1,
        subscribed_topic_names: None,
        subscribed_topic_regex: None,
        server_assignor: None,
        topic_partitions: None,
    };
    match send(client, cfg, &req) {
        Err(e) if matches!(e.code(), Some(ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::FENCED_MEMBER_EPOCH)) => Ok(()),
        r => r.map(drop),
    }
}

impl Heartbeat {
    /// The coordinator's newest assignment for the consumer to reconcile, if one came.
    pub fn take_target(&self) -> Option<(TopicPartitions, bool)> {
        self.lock().member.target.take()
    }

    /// The consumer reads `owned` now: the next heartbeat, sent at once, says so.
    pub fn acknowledge(&self, owned: TopicPartitions) {
        let mut s = self.lock();
        s.member.owned = owned;
        s.member.send_now = true;
        s.member.releasing = false;
        self.cv.notify_all();
    }

    /// Makes `wake` the consumer's wait to interrupt when an assignment arrives.
    pub fn set_wake(&self, wake: std::sync::Arc<dyn super::membership::Wake>) {
        self.lock().wake = Some(wake);
    }

    /// The member's id and epoch for commits (the epoch stands where the classic protocol
    /// has the generation); `None` until the coordinator accepted the member.
    pub fn member_generation(&self) -> Option<Generation> {
        let s = self.lock();
        (s.member.epoch > 0).then(|| Generation {
            member_id: s.member.id.clone(),
            generation_id: s.member.epoch,
            group_instance_id: self.cfg.group_instance_id.clone(),
        })
    }

    /// The coordinator no longer counts this member (a commit was refused as from an unknown
    /// member or an old epoch): everything it owns is lost, and it joins again.
    pub fn fence(&self) {
        let mut s = self.lock();
        self.fenced(&mut s.member);
        if let Some(w) = &s.wake {
            w.interrupt();
        }
        self.cv.notify_all();
    }

    fn fenced(&self, m: &mut Member) {
        log::info!("group {}: member {} fenced at epoch {}; joining again", self.cfg.group, m.id, m.epoch);
        m.epoch = 0;
        m.owned.clear();
        m.target = Some((TopicPartitions::new(), true));
        m.releasing = true;
    }

    /// The heartbeat request for the member's state now. Every field is sent each time:
    /// "unchanged" (null) would save bytes, but a full request is always right, even after a
    /// heartbeat whose answer was lost.
    fn request(&self, m: &Member) -> ConsumerGroupHeartbeatRequest {
        let owned = if m.epoch == 0 { Vec::new() } else { to_ids(&self.client, &m.owned) };
        ConsumerGroupHeartbeatRequest {
            group_id: self.cfg.group.clone(),
            member_id: m.id.clone(),
            member_epoch: m.epoch,
            instance_id: self.cfg.group_instance_id.clone(),
            rack_id: None,
            rebalance_timeout_ms: i32::try_from(self.cfg.rebalance_timeout.as_millis()).unwrap_or(i32::MAX),
            // A regex alone, or names alone: the coordinator takes either.
            subscribed_topic_names: match (&self.cfg.topic_regex, self.cfg.topics.is_empty()) {
                (Some(_), true) => None,
                _ => Some(self.cfg.topics.clone()),
            },
            subscribed_topic_regex: self.cfg.topic_regex.clone(),
            server_assignor: self.cfg.remote_assignor.clone(),
            topic_partitions: Some(owned),
        }
    }

    /// The heartbeat thread's body under the consumer protocol: a heartbeat per interval the
    /// coordinator gives, at once when the owned partitions change; an assignment that
    /// differs from what is owned wakes the consumer to reconcile it. Errors back off; one
    /// that fences the member loses its partitions and joins again; one nothing fixes reaches
    /// the consumer. Heartbeats failing for a whole session timeout mean the coordinator has
    /// dropped the member: it stops reading what it owned and joins again.
    pub(super) fn run_consumer_protocol(&self) {
        let backoff = self.client.backoff(REQUEST_MAX);
        let mut failures = 0;
        let mut failing_since: Option<Instant> = None;
        let mut s = self.lock();
        loop {
            if s.stopped {
                return;
            }
            if s.member.releasing {
                s = self.cv.wait(s).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            let now = Instant::now();
            if !s.member.send_now && now < s.member.next_beat {
                let wait = s.member.next_beat - now;
                s = self.cv.wait_timeout(s, wait).unwrap_or_else(|e| e.into_inner()).0;
                continue;
            }
            s.member.send_now = false;
            let req = self.request(&s.member);
            drop(s);
            let answer = send(&self.client, &self.cfg, &req);
            let assignment = match &answer {
                Ok(r) => r.assignment.as_ref().map(|a| to_names(&self.client, &self.cfg, a)),
                Err(_) => None,
            };
            s = self.lock();
            if s.stopped {
                return;
            }
            if s.member.epoch != req.member_epoch && req.member_epoch != 0 {
                // Fenced meanwhile (a commit said so): this answer is about the old epoch.
                continue;
            }
            match answer {
                Ok(r) => {
                    failures = 0;
                    failing_since = None;
                    let m = &mut s.member;
                    m.epoch = r.member_epoch;
                    m.interval = Duration::from_millis(r.heartbeat_interval_ms.max(100) as u64);
                    m.next_beat = Instant::now() + m.interval;
                    if let Some(a) = assignment {
                        if a != m.owned || m.target.is_some() {
                            log::info!("group {}: epoch {} assigns {a:?}", self.cfg.group, m.epoch);
                            m.target = Some((a, false));
                            self.wake_consumer(&mut s);
                        }
                    }
                }
                Err(e) => {
                    let action = actions::for_error(&e);
                    log::info!("group {}: heartbeat: {e} ({action:?})", self.cfg.group);
                    let since = *failing_since.get_or_insert_with(Instant::now);
                    match action {
                        Action::Fatal => {
                            drop(s);
                            self.fail(e);
                            return;
                        }
                        Action::RejoinAsNew | Action::Rejoin | Action::RetryNow => {
                            self.fenced(&mut s.member);
                            self.wake_consumer(&mut s);
                        }
                        Action::FindCoordinator => self.client.forget_coordinator(&self.cfg.group),
                        Action::Backoff => {}
                    }
                    if since.elapsed() >= self.cfg.session_timeout && s.member.epoch != 0 {
                        log::warn!("group {}: no heartbeat got through for a session timeout", self.cfg.group);
                        self.fenced(&mut s.member);
                        self.wake_consumer(&mut s);
                        failing_since = None;
                    }
                    s.member.next_beat = Instant::now() + backoff.delay(failures);
                    failures += 1;
                }
            }
        }
    }

    fn wake_consumer(&self, s: &mut super::membership::Beat) {
        s.rejoin.get_or_insert(Rejoin::SameId);
        if let Some(w) = &s.wake {
            w.interrupt();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_ids_are_uuids_in_kafka_text_form_and_differ() {
        let a = member_uuid();
        let b = member_uuid();
        assert_eq!(a.len(), 22);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'), "{a}");
        assert_ne!(a, b);
    }
}
