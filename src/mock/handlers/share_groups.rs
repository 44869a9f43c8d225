//! Share groups (KIP-932): ShareGroupHeartbeat at the coordinator, ShareFetch and
//! ShareAcknowledge at partition leaders, ShareGroupDescribe, over the state in
//! `mock::share_group`; and the group settings they read, through DescribeConfigs and
//! IncrementalAlterConfigs.

use super::*;
use crate::mock::share_group::{self, ShareGroup};
use crate::protocol::configs::{
    resource_type, DescribeConfigsRequest, DescribeConfigsResponse, DescribeConfigsResult, DescribedConfig,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, ResourceResult, OP_DELETE, OP_SET,
};
use crate::protocol::consumer_group_describe::{
    DescribedConsumerGroup, DescribedConsumerMember, DescribedTopicPartitions,
};
use crate::protocol::consumer_group_heartbeat::TopicIdPartitions;
use crate::protocol::share_acknowledge::{
    ShareAcknowledgePartition, ShareAcknowledgeRequest, ShareAcknowledgeResponse,
};
use crate::protocol::share_fetch::{
    AcquiredRecords, ShareFetchPartition, ShareFetchRequest, ShareFetchResponse, ShareTopic,
};
use crate::protocol::share_group_describe::{ShareGroupDescribeRequest, ShareGroupDescribeResponse};
use crate::protocol::share_group_heartbeat::{ShareGroupHeartbeatRequest, ShareGroupHeartbeatResponse};
use std::collections::BTreeMap;

/// ShareGroupHeartbeat, v1.
///
/// Behavior:
/// - Joins (epoch 0), leaves (-1) or keeps a member alive; every member is assigned every
///   partition of the topics it subscribes to that exist. A member silent for 45 s is dropped,
///   and what it acquired goes back to the group.
/// - Always answers with the member's full assignment and a 500 ms heartbeat interval.
/// - UNKNOWN_MEMBER_ID, FENCED_MEMBER_EPOCH for an epoch that isn't the member's,
///   INCONSISTENT_GROUP_PROTOCOL for a group id in use by another kind of group,
///   NOT_COORDINATOR away from the group's coordinator, INVALID_REQUEST for a join without
///   topics.
pub(super) fn share_group_heartbeat(
    ctx: &Ctx<'_>,
    hdr: &RequestHeader,
    req: ShareGroupHeartbeatRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<ShareGroupHeartbeatResponse> {
    let mut st = ctx.shared.lock();
    let answer = injected(fault)
        .and_then(|()| coordinates(ctx, &st, &req.group_id))
        .and_then(|()| {
            let classic = st.groups.get(&req.group_id).is_some_and(|g| !g.members.is_empty());
            let consumer = st.consumer_groups.get(&req.group_id).is_some_and(|g| !g.members.is_empty());
            if classic || consumer {
                Err(ErrorCode::INCONSISTENT_GROUP_PROTOCOL)
            } else {
                Ok(())
            }
        })
        .and_then(|()| {
            let State { topics, share_groups, .. } = &mut *st;
            let group = share_groups.entry(req.group_id.clone()).or_default();
            let client = hdr.client_id.as_deref().unwrap_or_default();
            let epoch = group.heartbeat(
                &req.member_id,
                req.member_epoch,
                req.subscribed_topic_names.clone(),
                client,
                Instant::now(),
            )?;
            let assignment: Vec<TopicIdPartitions> = group.members.get(&req.member_id).map_or(Vec::new(), |m| {
                m.topics
                    .iter()
                    .filter_map(|t| topics.get(t))
                    .map(|t| TopicIdPartitions { topic_id: t.id, partitions: (0..t.partitions.len() as i32).collect() })
                    .collect()
            });
            Ok((epoch, assignment))
        });
    // A member leaving gives records back: waiting fetches of other members may take them.
    ctx.shared.changed.notify_all();
    let (code, epoch, assignment) = match answer {
        Ok((epoch, a)) => (0, epoch, (epoch > 0).then_some(a)),
        Err(c) => (c.code(), -1, None),
    };
    Some(ShareGroupHeartbeatResponse {
        throttle_time_ms: 0,
        error_code: code,
        error_message: None,
        member_id: Some(req.member_id),
        member_epoch: epoch,
        heartbeat_interval_ms: share_group::HEARTBEAT_INTERVAL.as_millis() as i32,
        assignment,
    })
}

/// A member's share session at one broker: the next epoch, and the partitions in it.
#[derive(Debug, Default)]
pub(crate) struct ShareSession {
    epoch: i32,
    partitions: BTreeSet<(String, i32)>,
}

/// Checks and advances the session of (broker, group, member) for a request at `epoch`: 0
/// opens a new one (giving back what the old one acquired), -1 closes it after this request,
/// anything else must be the session's next epoch.
fn session<'a>(
    ctx: &Ctx<'_>,
    st: &'a mut State,
    group: &str,
    member: &str,
    epoch: i32,
    may_open: bool,
) -> Result<&'a mut ShareSession, ErrorCode> {
    let key = (ctx.broker, group.to_string(), member.to_string());
    let number = st.share_groups.get(group).and_then(|g| g.number(member)).ok_or(ErrorCode::UNKNOWN_MEMBER_ID)?;
    match epoch {
        0 if may_open => {
            if st.share_sessions.remove(&key).is_some() {
                release(st, group, number);
            }
            let s = st.share_sessions.entry(key).or_default();
            s.epoch = 1;
            Ok(s)
        }
        0 => Err(ErrorCode::INVALID_SHARE_SESSION_EPOCH),
        -1 => st.share_sessions.get_mut(&key).ok_or(ErrorCode::SHARE_SESSION_NOT_FOUND),
        e => {
            let s = st.share_sessions.get_mut(&key).ok_or(ErrorCode::SHARE_SESSION_NOT_FOUND)?;
            if s.epoch != e {
                return Err(ErrorCode::INVALID_SHARE_SESSION_EPOCH);
            }
            s.epoch = if e >= i32::MAX - 1 { 1 } else { e + 1 };
            Ok(s)
        }
    }
}

fn release(st: &mut State, group: &str, number: u64) {
    if let Some(g) = st.share_groups.get_mut(group) {
        g.release_member(number);
    }
}

/// Applies a partition's acknowledgements; the first refusal is the partition's error.
fn acknowledge(
    st: &mut State,
    group: &str,
    number: u64,
    topic: &str,
    p: &crate::protocol::share_fetch::SharePartition,
) -> i16 {
    let Some(g) = st.share_groups.get_mut(group) else { return ErrorCode::UNKNOWN_MEMBER_ID.code() };
    let now = Instant::now();
    let key = (topic.to_string(), p.partition);
    let mut code = 0;
    for b in &p.acknowledgements {
        if b.last_offset < b.first_offset || b.acknowledge_types.is_empty() {
            return ErrorCode::INVALID_REQUEST.code();
        }
        for (i, offset) in (b.first_offset..=b.last_offset).enumerate() {
            let kind = if b.acknowledge_types.len() == 1 {
                b.acknowledge_types[0]
            } else {
                match b.acknowledge_types.get(i) {
                    Some(k) => *k,
                    None => return ErrorCode::INVALID_REQUEST.code(),
                }
            };
            if let Err(e) = g.acknowledge(&key, number, offset, kind, now) {
                if code == 0 {
                    code = e.code();
                }
            }
        }
    }
    code
}

/// The topic name of an id.
fn topic_of(st: &State, id: &[u8; 16]) -> Option<String> {
    st.topics.iter().find(|(_, t)| t.id == *id).map(|(n, _)| n.clone())
}

/// ShareFetch, v1.
///
/// Behavior:
/// - Checks the member's share session (epoch 0 opens, -1 closes, else the next epoch:
///   SHARE_SESSION_NOT_FOUND, INVALID_SHARE_SESSION_EPOCH), adds the request's partitions to
///   it and takes the forgotten ones out.
/// - Applies the acknowledgements first (INVALID_RECORD_STATE in the partition's
///   acknowledge error for a record the member doesn't hold).
/// - Acquires up to `max_records` for the member over the session's partitions this broker
///   leads, waiting up to `max_wait_ms` (capped by the mock's request wait) for records to be
///   written or to come back (released, a lock run out); answers with whole batches holding
///   them and the acquired ranges with their delivery counts.
/// - The lock is the group's `share.record.lock.duration.ms` (30 s unless set), records
///   delivered `share.delivery.count.limit` times (5) are archived, a new group starts at
///   the end of each partition unless `share.auto.offset.reset` is `earliest`. Transactions
///   are not looked at (read uncommitted).
pub(super) fn share_fetch(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: ShareFetchRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<ShareFetchResponse> {
    let group = req.group_id.clone().unwrap_or_default();
    let member = req.member_id.clone().unwrap_or_default();
    let mut st = ctx.shared.lock();
    let failed = |code: ErrorCode| {
        Some(ShareFetchResponse {
            throttle_time_ms: 0,
            error_code: code.code(),
            error_message: None,
            acquisition_lock_timeout_ms: 0,
            responses: Vec::new(),
            node_endpoints: Vec::new(),
        })
    };
    if let Err(code) = injected(fault) {
        return failed(code);
    }
    let mut partitions = match session(ctx, &mut st, &group, &member, req.share_session_epoch, true) {
        Ok(s) => std::mem::take(&mut s.partitions),
        Err(code) => return failed(code),
    };
    for (id, ps) in &req.forgotten {
        if let Some(name) = topic_of(&st, id) {
            partitions.retain(|(n, p)| !(*n == name && ps.contains(p)));
        }
    }
    let number = st.share_groups.get(&group).and_then(|g| g.number(&member)).unwrap_or_default();
    let mut answers: BTreeMap<(String, i32), ShareFetchPartition> = BTreeMap::new();
    let mut ids: BTreeMap<String, [u8; 16]> = BTreeMap::new();
    for ShareTopic { topic_id, partitions: ps } in &req.topics {
        let name = topic_of(&st, topic_id);
        for p in ps {
            let Some(name) = name.clone() else {
                let mut a = empty_partition(p.partition);
                a.error_code = ErrorCode::UNKNOWN_TOPIC_ID.code();
                answers.insert((format!("?{}", hex(topic_id)), p.partition), a);
                continue;
            };
            ids.insert(name.clone(), *topic_id);
            let mut a = empty_partition(p.partition);
            a.acknowledge_error_code = acknowledge(&mut st, &group, number, &name, p);
            answers.insert((name.clone(), p.partition), a);
            partitions.insert((name, p.partition));
        }
    }
    if req.share_session_epoch == -1 {
        // Closing: what the member still holds goes back.
        st.share_sessions.remove(&(ctx.broker, group.clone(), member.clone()));
        release(&mut st, &group, number);
        ctx.shared.changed.notify_all();
        return Some(fetch_answer(&st, &group, answers, &ids));
    }
    let wait = Duration::from_millis(req.max_wait_ms.max(0) as u64).min(ctx.shared.cfg.max_request_wait);
    let deadline = Instant::now() + wait;
    let mut budget = usize::try_from(req.max_records.max(1)).unwrap_or(500);
    loop {
        let now = Instant::now();
        let mut got_any = false;
        let State { topics, share_groups, .. } = &mut *st;
        if let Some(g) = share_groups.get_mut(&group) {
            g.expire_locks(now);
            for key in &partitions {
                let Some(t) = topics.get(&key.0) else { continue };
                let Some(part) = usize::try_from(key.1).ok().and_then(|i| t.partitions.get(i)) else { continue };
                ids.insert(key.0.clone(), t.id);
                let a = answers.entry(key.clone()).or_insert_with(|| empty_partition(key.1));
                if part.leader != ctx.broker {
                    a.error_code = ErrorCode::NOT_LEADER_OR_FOLLOWER.code();
                    a.current_leader = (part.leader, 0);
                    continue;
                }
                if budget == 0 {
                    continue;
                }
                let got = g.acquire(key.clone(), number, (part.log.log_start, part.log.next_offset), budget, now);
                for r in got {
                    budget = budget.saturating_sub((r.last - r.first + 1) as usize);
                    a.acquired.push(AcquiredRecords {
                        first_offset: r.first,
                        last_offset: r.last,
                        delivery_count: r.deliveries,
                    });
                    got_any = true;
                }
            }
        }
        let until = st.share_groups.get(&group).and_then(ShareGroup::next_expiry).map_or(deadline, |e| e.min(deadline));
        if got_any || now >= deadline || ctx.shared.shutdown.load(Ordering::Acquire) {
            break;
        }
        st = wait_until(ctx.shared, st, until.max(now + Duration::from_millis(1)));
    }
    for (key, a) in answers.iter_mut() {
        if let (Some(first), Some(last)) =
            (a.acquired.iter().map(|r| r.first_offset).min(), a.acquired.iter().map(|r| r.last_offset).max())
        {
            let log = &st.topics[&key.0].partitions[key.1 as usize].log;
            a.records = Some(log.read(first, usize::MAX, last + 1));
        }
    }
    if let Some(s) = st.share_sessions.get_mut(&(ctx.broker, group.clone(), member)) {
        s.partitions = partitions;
    }
    Some(fetch_answer(&st, &group, answers, &ids))
}

fn wait_until<'a>(shared: &'a Shared, st: MutexGuard<'a, State>, until: Instant) -> MutexGuard<'a, State> {
    let d = until.saturating_duration_since(Instant::now());
    shared.changed.wait_timeout(st, d).map(|(g, _)| g).unwrap_or_else(|e| e.into_inner().0)
}

fn hex(id: &[u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

fn empty_partition(partition: i32) -> ShareFetchPartition {
    ShareFetchPartition {
        partition,
        error_code: 0,
        error_message: None,
        acknowledge_error_code: 0,
        acknowledge_error_message: None,
        current_leader: (-1, -1),
        records: None,
        acquired: Vec::new(),
    }
}

fn lock_ms(st: &State, group: &str) -> i32 {
    let lock = st.share_groups.get(group).map_or(share_group::ShareConfig::default().lock, |g| g.config.lock);
    i32::try_from(lock.as_millis()).unwrap_or(i32::MAX)
}

fn fetch_answer(
    st: &State,
    group: &str,
    answers: BTreeMap<(String, i32), ShareFetchPartition>,
    ids: &BTreeMap<String, [u8; 16]>,
) -> ShareFetchResponse {
    let mut by_topic: BTreeMap<[u8; 16], Vec<ShareFetchPartition>> = BTreeMap::new();
    for ((name, _), a) in answers {
        if let Some(id) = ids.get(&name) {
            by_topic.entry(*id).or_default().push(a);
        }
    }
    ShareFetchResponse {
        throttle_time_ms: 0,
        error_code: 0,
        error_message: None,
        acquisition_lock_timeout_ms: lock_ms(st, group),
        responses: by_topic.into_iter().collect(),
        node_endpoints: Vec::new(),
    }
}

/// ShareAcknowledge, v1–v2.
///
/// Behavior:
/// - Checks the member's share session as ShareFetch does, except that epoch 0 is refused
///   (INVALID_SHARE_SESSION_EPOCH: acknowledging opens no session); -1 closes it after the
///   acknowledgements, and what the member still holds goes back.
/// - Applies the acknowledgements, renewals included (the lock starts again);
///   INVALID_RECORD_STATE for a record the member doesn't hold, UNKNOWN_TOPIC_ID for an
///   unknown topic.
pub(super) fn share_acknowledge(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: ShareAcknowledgeRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<ShareAcknowledgeResponse> {
    let group = req.group_id.clone().unwrap_or_default();
    let member = req.member_id.clone().unwrap_or_default();
    let mut st = ctx.shared.lock();
    let top =
        injected(fault).and_then(|()| session(ctx, &mut st, &group, &member, req.share_session_epoch, false).map(drop));
    let mut responses = Vec::new();
    if top.is_ok() {
        let number = st.share_groups.get(&group).and_then(|g| g.number(&member)).unwrap_or_default();
        for t in &req.topics {
            let name = topic_of(&st, &t.topic_id);
            let parts = t
                .partitions
                .iter()
                .map(|p| ShareAcknowledgePartition {
                    partition: p.partition,
                    error_code: match &name {
                        Some(n) => acknowledge(&mut st, &group, number, n, p),
                        None => ErrorCode::UNKNOWN_TOPIC_ID.code(),
                    },
                    error_message: None,
                    current_leader: (-1, -1),
                })
                .collect();
            responses.push((t.topic_id, parts));
        }
        if req.share_session_epoch == -1 {
            st.share_sessions.remove(&(ctx.broker, group.clone(), member));
            release(&mut st, &group, number);
        }
        ctx.shared.changed.notify_all();
    }
    Some(ShareAcknowledgeResponse {
        throttle_time_ms: 0,
        error_code: code_of(top),
        error_message: None,
        acquisition_lock_timeout_ms: lock_ms(&st, &group),
        responses,
        node_endpoints: Vec::new(),
    })
}

/// ShareGroupDescribe, v1.
///
/// Behavior: each group's state (`Empty` without members, else `Stable`), epoch, the
/// `simple` assignor, and its members with their subscriptions and partitions.
/// GROUP_ID_NOT_FOUND for a group that never had a member, NOT_COORDINATOR away from its
/// coordinator.
pub(super) fn share_group_describe(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: ShareGroupDescribeRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<ShareGroupDescribeResponse> {
    let st = ctx.shared.lock();
    let groups = req
        .group_ids
        .iter()
        .map(|id| {
            let found = injected(fault)
                .and_then(|()| coordinates(ctx, &st, id))
                .and_then(|()| st.share_groups.get(id).filter(|g| g.epoch > 0).ok_or(ErrorCode::GROUP_ID_NOT_FOUND));
            let g = match found {
                Err(c) => return DescribedConsumerGroup::failed(id, c.code()),
                Ok(g) => g,
            };
            let state = if g.members.is_empty() { "Empty" } else { "Stable" };
            let members = g
                .members
                .iter()
                .map(|(mid, m)| DescribedConsumerMember {
                    member_id: mid.clone(),
                    instance_id: None,
                    rack_id: None,
                    member_epoch: m.epoch,
                    client_id: m.client_id.clone(),
                    client_host: "/127.0.0.1".into(),
                    subscribed_topic_names: m.topics.clone(),
                    subscribed_topic_regex: None,
                    assignment: m
                        .topics
                        .iter()
                        .filter_map(|t| {
                            let topic = st.topics.get(t)?;
                            Some(DescribedTopicPartitions {
                                topic_id: topic.id,
                                topic_name: t.clone(),
                                partitions: (0..topic.partitions.len() as i32).collect(),
                            })
                        })
                        .collect(),
                    target_assignment: Vec::new(),
                    member_type: -1,
                })
                .collect();
            DescribedConsumerGroup::new(id, state, g.epoch, "simple", members)
        })
        .collect();
    Some(ShareGroupDescribeResponse { throttle_time_ms: 0, groups })
}

fn resource_result(resource_type: i8, name: &str, r: Result<(), (ErrorCode, String)>) -> ResourceResult {
    let (error_code, error_message) = match r {
        Ok(()) => (0, None),
        Err((c, m)) => (c.code(), Some(m)),
    };
    ResourceResult { error_code, error_message, resource_type, resource_name: name.to_string() }
}

fn groups_only(resource_type: i8) -> Result<(), (ErrorCode, String)> {
    if resource_type == resource_type::GROUP {
        Ok(())
    } else {
        Err((ErrorCode::INVALID_REQUEST, "the mock keeps settings of share groups only".into()))
    }
}

/// IncrementalAlterConfigs, v0–v1.
///
/// Behavior: sets (0) or deletes (1) a share group's `share.auto.offset.reset`
/// (`earliest`/`latest`), `share.record.lock.duration.ms` and `share.delivery.count.limit`,
/// all of a resource's changes or none. INVALID_CONFIG for another name, a bad value or
/// another operation; INVALID_REQUEST for resources other than groups.
pub(super) fn incremental_alter_configs(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: IncrementalAlterConfigsRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<IncrementalAlterConfigsResponse> {
    let mut st = ctx.shared.lock();
    let responses = req
        .resources
        .iter()
        .map(|r| {
            let outcome = injected(fault)
                .map_err(|c| (c, c.to_string()))
                .and_then(|()| groups_only(r.resource_type))
                .and_then(|()| {
                    let mut config =
                        st.share_groups.get(&r.resource_name).map(|g| g.config.clone()).unwrap_or_default();
                    for c in &r.configs {
                        let value = match c.config_operation {
                            OP_SET => c.value.as_deref(),
                            OP_DELETE => None,
                            _ => return Err((ErrorCode::INVALID_CONFIG, format!("{}: only set and delete", c.name))),
                        };
                        config.set(&c.name, value).map_err(|e| {
                            (
                                e,
                                format!(
                                    "{} = {}: not a share group setting the mock knows",
                                    c.name,
                                    value.unwrap_or("(default)")
                                ),
                            )
                        })?;
                    }
                    if !req.validate_only {
                        st.share_groups.entry(r.resource_name.clone()).or_default().config = config;
                    }
                    Ok(())
                });
            resource_result(r.resource_type, &r.resource_name, outcome)
        })
        .collect();
    Some(IncrementalAlterConfigsResponse { throttle_time_ms: 0, responses })
}

/// DescribeConfigs, v1–v4.
///
/// Behavior: a group's share settings, each with source 1 (set on the resource) whether set or
/// not, filtered by the keys asked for. INVALID_REQUEST for resources other than
/// groups.
pub(super) fn describe_configs(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: DescribeConfigsRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<DescribeConfigsResponse> {
    let st = ctx.shared.lock();
    let results = req
        .resources
        .iter()
        .map(|r| {
            let outcome = injected(fault).map_err(|c| (c, c.to_string())).and_then(|()| groups_only(r.resource_type));
            let configs = if outcome.is_ok() {
                let config = st.share_groups.get(&r.resource_name).map(|g| g.config.clone()).unwrap_or_default();
                config
                    .entries()
                    .into_iter()
                    .filter(|(n, _)| r.configuration_keys.as_ref().is_none_or(|keys| keys.iter().any(|k| k == n)))
                    .map(|(n, v)| DescribedConfig {
                        name: n.to_string(),
                        value: Some(v),
                        read_only: false,
                        config_source: 1,
                        is_sensitive: false,
                        synonyms: Vec::new(),
                        config_type: 0,
                        documentation: None,
                    })
                    .collect()
            } else {
                Vec::new()
            };
            DescribeConfigsResult { result: resource_result(r.resource_type, &r.resource_name, outcome), configs }
        })
        .collect();
    Some(DescribeConfigsResponse { throttle_time_ms: 0, results })
}
