//! The mock's request handlers, one per API: a decoded request in, a response out. Each doc
//! opens with what the handler does and doesn't do. Handlers that must wait (a Fetch for data,
//! a JoinGroup or SyncGroup for the rest of the group) wait on the cluster's condition variable,
//! holding no lock while they do.

use super::group::{GroupState, Member};
use super::{valid_topic_name, Shared, State};
use crate::protocol::codec::Decoder;
use crate::protocol::create_topics::{CreatableTopicResult, CreateTopicsRequest, CreateTopicsResponse};
use crate::protocol::delete_topics::{DeleteTopicsRequest, DeleteTopicsResponse};
use crate::protocol::describe_groups::{
    DescribeGroupsRequest, DescribeGroupsResponse, DescribedGroup, DescribedMember,
};
use crate::protocol::error_code::ErrorCode;
use crate::protocol::fetch::{FetchPartitionResponse, FetchRequest, FetchResponse, FetchTopicResponse};
use crate::protocol::find_coordinator::{Coordinator, FindCoordinatorRequest, FindCoordinatorResponse};
use crate::protocol::frame::{encode_response, RequestHeader};
use crate::protocol::heartbeat::{HeartbeatRequest, HeartbeatResponse};
use crate::protocol::init_producer_id::{InitProducerIdRequest, InitProducerIdResponse};
use crate::protocol::join_group::{JoinGroupMember, JoinGroupRequest, JoinGroupResponse};
use crate::protocol::leave_group::{LeaveGroupRequest, LeaveGroupResponse};
use crate::protocol::list_groups::{ListGroupsRequest, ListGroupsResponse, ListedGroup};
use crate::protocol::list_offsets::{
    ListOffsetsPartitionResponse, ListOffsetsRequest, ListOffsetsResponse, ListOffsetsTopicResponse,
};
use crate::protocol::metadata::{MetadataBroker, MetadataPartition, MetadataRequest, MetadataResponse, MetadataTopic};
use crate::protocol::offset_commit::{OffsetCommitRequest, OffsetCommitResponse, OffsetCommitTopicResponse};
use crate::protocol::offset_fetch::{OffsetFetchPartition, OffsetFetchRequest, OffsetFetchResponse, OffsetFetchTopic};
use crate::protocol::produce::{ProducePartitionResponse, ProduceRequest, ProduceResponse, ProduceTopicResponse};
use crate::protocol::sync_group::{SyncGroupRequest, SyncGroupResponse};
use crate::protocol::{ApiKey, Request};
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

/// The broker a request arrived at.
pub(crate) struct Ctx<'a> {
    pub shared: &'a Shared,
    pub broker: i32,
}

/// A handler: `None` means no response is sent (Produce with acks=0).
type Handler<R> = fn(&Ctx<'_>, &RequestHeader, R, i16, Option<ErrorCode>) -> Option<<R as Request>::Response>;

fn run<R: Request>(
    ctx: &Ctx<'_>,
    hdr: &RequestHeader,
    mut d: Decoder<'_>,
    fault: Option<ErrorCode>,
    h: Handler<R>,
) -> Option<Option<Vec<u8>>> {
    let v = hdr.api_version;
    d.skip_tagged_fields(R::flexible(v)).ok()?;
    let req = R::decode(&mut d, v).ok()?;
    Some(h(ctx, hdr, req, v, fault).map(|resp| encode_response::<R>(&resp, v, hdr.correlation_id)))
}

/// Decodes and answers a request of `key`. `None`: the request couldn't be read, so the
/// connection closes; `Some(None)`: nothing is sent back.
pub(crate) fn dispatch(
    ctx: &Ctx<'_>,
    key: ApiKey,
    hdr: &RequestHeader,
    d: Decoder<'_>,
    fault: Option<ErrorCode>,
) -> Option<Option<Vec<u8>>> {
    match key {
        ApiKey::Produce => run(ctx, hdr, d, fault, produce),
        ApiKey::Fetch => run(ctx, hdr, d, fault, fetch),
        ApiKey::ListOffsets => run(ctx, hdr, d, fault, list_offsets),
        ApiKey::Metadata => run(ctx, hdr, d, fault, metadata),
        ApiKey::OffsetCommit => run(ctx, hdr, d, fault, offset_commit),
        ApiKey::OffsetFetch => run(ctx, hdr, d, fault, offset_fetch),
        ApiKey::FindCoordinator => run(ctx, hdr, d, fault, find_coordinator),
        ApiKey::JoinGroup => run(ctx, hdr, d, fault, join_group),
        ApiKey::Heartbeat => run(ctx, hdr, d, fault, heartbeat),
        ApiKey::LeaveGroup => run(ctx, hdr, d, fault, leave_group),
        ApiKey::SyncGroup => run(ctx, hdr, d, fault, sync_group),
        ApiKey::DescribeGroups => run(ctx, hdr, d, fault, describe_groups),
        ApiKey::ListGroups => run(ctx, hdr, d, fault, list_groups),
        ApiKey::InitProducerId => run(ctx, hdr, d, fault, init_producer_id),
        ApiKey::CreateTopics => run(ctx, hdr, d, fault, create_topics),
        ApiKey::DeleteTopics => run(ctx, hdr, d, fault, delete_topics),
        // Answered before dispatch.
        ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate => None,
    }
}

/// The error a test injected for this request, as the first check a handler makes.
fn injected(fault: Option<ErrorCode>) -> Result<(), ErrorCode> {
    fault.map_or(Ok(()), Err)
}

fn code_of(r: Result<(), ErrorCode>) -> i16 {
    r.err().map_or(0, ErrorCode::code)
}

/// Where a partition request may be served: the partition exists and this broker leads it.
fn leads(ctx: &Ctx<'_>, st: &State, topic: &str, partition: i32) -> Result<(), ErrorCode> {
    let t = st.topics.get(topic).ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)?;
    let p = usize::try_from(partition)
        .ok()
        .and_then(|i| t.partitions.get(i))
        .ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)?;
    if p.leader == ctx.broker {
        Ok(())
    } else {
        Err(ErrorCode::NOT_LEADER_OR_FOLLOWER)
    }
}

fn coordinates(ctx: &Ctx<'_>, st: &State, group: &str) -> Result<(), ErrorCode> {
    if ctx.shared.coordinator(st, group) == ctx.broker {
        Ok(())
    } else {
        Err(ErrorCode::NOT_COORDINATOR)
    }
}

/// Produce, v3–v11.
///
/// Behavior:
/// - Stores each partition's RecordBatch v2 batches as sent, assigning offsets; checks every
///   batch's CRC-32C first and stores nothing of a partition whose data is bad
///   (CORRUPT_MESSAGE; magic other than 2: UNSUPPORTED_FOR_MESSAGE_FORMAT).
/// - Idempotent producers: a retry of one of the last five batches gets its first offset back
///   and is not stored again; a sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER.
/// - NOT_LEADER_OR_FOLLOWER unless this broker leads the partition; unknown topics are not
///   created here (Metadata creates them).
/// - acks=0 gets no response; otherwise the answer comes when the data is stored (there are no
///   replicas to wait for). No transactions, no LogAppendTime.
fn produce(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: ProduceRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<ProduceResponse> {
    let retention = ctx.shared.cfg.retention_bytes;
    let mut st = ctx.shared.lock();
    let mut responses = Vec::new();
    for t in req.topics {
        let mut partitions = Vec::new();
        for (index, records) in t.partitions {
            let result = injected(fault).and_then(|_| leads(ctx, &st, &t.name, index)).and_then(|_| {
                let p = &mut st.topics.get_mut(&t.name).expect("checked").partitions[index as usize];
                p.log.append(&records, retention)
            });
            let log_start =
                st.topics.get(&t.name).and_then(|x| x.partitions.get(index as usize)).map_or(-1, |p| p.log.log_start);
            partitions.push(ProducePartitionResponse {
                index,
                error_code: code_of(result.map(drop)),
                base_offset: result.unwrap_or(-1),
                log_append_time_ms: -1,
                log_start_offset: log_start,
                record_errors: Vec::new(),
                error_message: None,
            });
        }
        responses.push(ProduceTopicResponse { name: t.name, partitions });
    }
    drop(st);
    ctx.shared.changed.notify_all();
    (req.acks != 0).then_some(ProduceResponse { responses, throttle_time_ms: 0 })
}

/// Fetch, v4–v12.
///
/// Behavior:
/// - Returns whole batches from the one holding the fetch offset, at least one per partition
///   even past `partition_max_bytes` (KIP-74), and stops adding partitions at `max_bytes`.
/// - Answers at once when `min_bytes` are there; otherwise waits up to `max_wait_ms` for
///   produced data, answering as soon as enough arrives.
/// - OFFSET_OUT_OF_RANGE below the log start or past the high watermark; the last stable
///   offset is the high watermark (no transactions). No fetch sessions (session id 0), no
///   follower fetching, no topic ids (v13+ isn't offered).
fn fetch(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: FetchRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<FetchResponse> {
    let deadline = Instant::now() + Duration::from_millis(req.max_wait_ms.max(0) as u64);
    let mut st = ctx.shared.lock();
    loop {
        let mut available = 0usize;
        let mut answer_now = fault.is_some();
        for t in &req.topics {
            for p in &t.partitions {
                match leads(ctx, &st, &t.topic, p.partition) {
                    Ok(()) => {
                        let log = &st.topics[&t.topic].partitions[p.partition as usize].log;
                        if p.fetch_offset < log.log_start || p.fetch_offset > log.next_offset {
                            answer_now = true;
                        }
                        available += log.bytes_from(p.fetch_offset);
                    }
                    Err(_) => answer_now = true,
                }
            }
        }
        let now = Instant::now();
        if answer_now
            || available >= req.min_bytes.max(1) as usize
            || now >= deadline
            || ctx.shared.shutdown.load(Ordering::Acquire)
        {
            break;
        }
        st = ctx.shared.changed.wait_timeout(st, deadline - now).map(|(g, _)| g).unwrap_or_else(|e| e.into_inner().0);
    }
    let mut budget = req.max_bytes.max(0) as usize;
    let responses = req
        .topics
        .iter()
        .map(|t| FetchTopicResponse {
            topic: t.topic.clone(),
            partitions: t
                .partitions
                .iter()
                .map(|p| {
                    let mut r = FetchPartitionResponse {
                        partition_index: p.partition,
                        error_code: 0,
                        high_watermark: -1,
                        last_stable_offset: -1,
                        log_start_offset: -1,
                        aborted_transactions: None,
                        preferred_read_replica: -1,
                        records: None,
                    };
                    let checked = injected(fault).and_then(|_| leads(ctx, &st, &t.topic, p.partition));
                    if let Err(code) = checked {
                        r.error_code = code.code();
                        return r;
                    }
                    let log = &st.topics[&t.topic].partitions[p.partition as usize].log;
                    (r.high_watermark, r.last_stable_offset, r.log_start_offset) =
                        (log.next_offset, log.next_offset, log.log_start);
                    if p.fetch_offset < log.log_start || p.fetch_offset > log.next_offset {
                        r.error_code = ErrorCode::OFFSET_OUT_OF_RANGE.code();
                    } else if budget > 0 {
                        let data = log.read(p.fetch_offset, (p.partition_max_bytes.max(0) as usize).min(budget));
                        budget = budget.saturating_sub(data.len());
                        r.records = Some(data);
                    } else {
                        r.records = Some(Vec::new());
                    }
                    r
                })
                .collect(),
        })
        .collect();
    Some(FetchResponse { throttle_time_ms: 0, error_code: 0, session_id: 0, responses })
}

/// ListOffsets, v1–v8.
///
/// Behavior:
/// - -2: the log start; -1: the high watermark; a timestamp: the first offset whose record
///   timestamp is at or after it (with that timestamp), or -1 when none is.
/// - -3 (max timestamp) and other negative specs answer -1. Isolation levels are the same
///   (no transactions). NOT_LEADER_OR_FOLLOWER unless this broker leads the partition.
fn list_offsets(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: ListOffsetsRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<ListOffsetsResponse> {
    let st = ctx.shared.lock();
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let found = injected(fault).and_then(|_| leads(ctx, &st, &t.name, p.partition_index)).map(|_| {
                        let log = &st.topics[&t.name].partitions[p.partition_index as usize].log;
                        match p.timestamp {
                            -2 => (-1, log.log_start),
                            -1 => (-1, log.next_offset),
                            ts if ts >= 0 => log.offset_for_time(ts).map_or((-1, -1), |(o, ts)| (ts, o)),
                            _ => (-1, -1),
                        }
                    });
                    let (timestamp, offset) = found.unwrap_or((-1, -1));
                    ListOffsetsPartitionResponse {
                        partition_index: p.partition_index,
                        error_code: code_of(found.map(drop)),
                        timestamp,
                        offset,
                        leader_epoch: 0,
                    }
                })
                .collect();
            ListOffsetsTopicResponse { name: t.name, partitions }
        })
        .collect();
    Some(ListOffsetsResponse { throttle_time_ms: 0, topics })
}

/// Metadata, v1–v12.
///
/// Behavior:
/// - Lists the brokers that are up, and the topics asked for (all of them for a null list).
/// - Creates an unknown topic with the default partition count when the request allows it
///   and the cluster auto-creates; otherwise UNKNOWN_TOPIC_OR_PARTITION (INVALID_TOPIC_EXCEPTION
///   for a name Kafka would refuse).
/// - One replica per partition, its leader; a partition whose leader is down has no leader
///   (LEADER_NOT_AVAILABLE). Leader epochs are 0; no authorized operations.
fn metadata(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: MetadataRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<MetadataResponse> {
    let shared = ctx.shared;
    let mut st = shared.lock();
    let names: Vec<String> = match &req.topics {
        Some(list) => list.clone(),
        None => st.topics.keys().cloned().collect(),
    };
    let up = |id: i32| shared.brokers.iter().any(|b| b.id == id && b.up.load(Ordering::Acquire));
    let mut topics = Vec::new();
    for name in names {
        let mut error = fault;
        if error.is_none() && !st.topics.contains_key(&name) {
            if !valid_topic_name(&name) {
                error = Some(ErrorCode::INVALID_TOPIC_EXCEPTION);
            } else if req.allow_auto_topic_creation && shared.cfg.auto_create {
                shared.create_topic(&mut st, &name, shared.cfg.partitions);
            } else {
                error = Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
            }
        }
        let topic = match (error, st.topics.get(&name)) {
            (None, Some(t)) => MetadataTopic {
                error_code: 0,
                name: Some(name),
                topic_id: t.id,
                is_internal: false,
                partitions: t
                    .partitions
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let live = up(p.leader);
                        MetadataPartition {
                            error_code: if live { 0 } else { ErrorCode::LEADER_NOT_AVAILABLE.code() },
                            partition_index: i as i32,
                            leader_id: if live { p.leader } else { -1 },
                            leader_epoch: 0,
                            replica_nodes: vec![p.leader],
                            isr_nodes: if live { vec![p.leader] } else { vec![] },
                            offline_replicas: if live { vec![] } else { vec![p.leader] },
                        }
                    })
                    .collect(),
                topic_authorized_operations: i32::MIN,
            },
            (e, _) => MetadataTopic {
                error_code: e.unwrap_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION).code(),
                name: Some(name),
                topic_id: [0; 16],
                is_internal: false,
                partitions: Vec::new(),
                topic_authorized_operations: i32::MIN,
            },
        };
        topics.push(topic);
    }
    let brokers: Vec<MetadataBroker> = shared
        .brokers
        .iter()
        .filter(|b| b.up.load(Ordering::Acquire))
        .map(|b| MetadataBroker { node_id: b.id, host: "127.0.0.1".into(), port: i32::from(b.port), rack: None })
        .collect();
    Some(MetadataResponse {
        throttle_time_ms: 0,
        controller_id: brokers.first().map_or(-1, |b| b.node_id),
        brokers,
        cluster_id: Some("plainkafka-mock".into()),
        topics,
        cluster_authorized_operations: i32::MIN,
    })
}

/// FindCoordinator, v0–v4.
///
/// Behavior:
/// - Groups and transactional ids map to a broker by a hash of the key, unless moved with
///   [`super::MockCluster::move_coordinator`]; COORDINATOR_NOT_AVAILABLE while that broker is
///   down. v4 answers the first key asked (plainkafka asks one at a time).
fn find_coordinator(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: FindCoordinatorRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<FindCoordinatorResponse> {
    let st = ctx.shared.lock();
    let id = ctx.shared.coordinator(&st, &req.key);
    // A coordinator moved to a broker id that doesn't exist is as good as down.
    let broker = ctx.shared.brokers.iter().find(|b| b.id == id && b.up.load(Ordering::Acquire));
    let code = fault.or(broker.is_none().then_some(ErrorCode::COORDINATOR_NOT_AVAILABLE));
    let port = broker.map_or(-1, |b| i32::from(b.port));
    Some(FindCoordinatorResponse {
        throttle_time_ms: 0,
        coordinators: vec![Coordinator {
            key: req.key,
            node_id: if code.is_some() { -1 } else { id },
            host: if code.is_some() { String::new() } else { "127.0.0.1".into() },
            port: if code.is_some() { -1 } else { port },
            error_code: code.map_or(0, ErrorCode::code),
            error_message: None,
        }],
    })
}

/// Checks a group member's credentials as Kafka does for Heartbeat, SyncGroup and commits.
fn check_member(
    st: &State,
    group: &str,
    member: &str,
    instance: Option<&str>,
    generation: i32,
) -> Result<(), ErrorCode> {
    let g = st.groups.get(group).ok_or(ErrorCode::UNKNOWN_MEMBER_ID)?;
    if let Some(i) = instance {
        if g.statics.get(i).is_some_and(|m| m != member) {
            return Err(ErrorCode::FENCED_INSTANCE_ID);
        }
    }
    if !g.members.contains_key(member) {
        return Err(ErrorCode::UNKNOWN_MEMBER_ID);
    }
    if generation != g.generation {
        return Err(ErrorCode::ILLEGAL_GENERATION);
    }
    Ok(())
}

/// OffsetCommit, v2–v8.
///
/// Behavior:
/// - Outside membership (generation -1, no member id) commits only to a group with no members;
///   otherwise UNKNOWN_MEMBER_ID.
/// - A member commits with its current generation (ILLEGAL_GENERATION otherwise), also while a
///   rebalance is preparing, as Kafka allows; while the group completes a rebalance,
///   REBALANCE_IN_PROGRESS. A commit counts as a heartbeat. FENCED_INSTANCE_ID for a replaced
///   static member. Partitions are not checked against the assignment (nor by Kafka).
/// - Metadata strings and retention are not kept.
fn offset_commit(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: OffsetCommitRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<OffsetCommitResponse> {
    let mut st = ctx.shared.lock();
    let group = req.group_id.as_str();
    let check = injected(fault).and_then(|_| coordinates(ctx, &st, group)).and_then(|_| {
        if req.generation_id < 0 && req.member_id.is_empty() {
            match st.groups.get(group) {
                Some(g) if !g.members.is_empty() => Err(ErrorCode::UNKNOWN_MEMBER_ID),
                _ => Ok(()),
            }
        } else {
            check_member(&st, group, &req.member_id, req.group_instance_id.as_deref(), req.generation_id)?;
            match st.groups.get(group).map(|g| g.state) {
                Some(GroupState::CompletingRebalance) => Err(ErrorCode::REBALANCE_IN_PROGRESS),
                _ => Ok(()),
            }
        }
    });
    if check.is_ok() {
        if let Some(m) = st.groups.get_mut(group).and_then(|g| g.members.get_mut(&req.member_id)) {
            m.last_seen = Instant::now();
        }
        for t in &req.topics {
            for p in &t.partitions {
                st.offsets.insert((group.to_string(), t.name.clone(), p.partition_index), p.committed_offset);
            }
        }
    }
    let code = code_of(check);
    Some(OffsetCommitResponse {
        throttle_time_ms: 0,
        topics: req
            .topics
            .into_iter()
            .map(|t| OffsetCommitTopicResponse {
                partitions: t.partitions.iter().map(|p| (p.partition_index, code)).collect(),
                name: t.name,
            })
            .collect(),
    })
}

/// OffsetFetch, v1–v8.
///
/// Behavior:
/// - The committed offsets of the partitions asked for (-1 where none), or, for a null topic
///   list, every partition the group has committed.
/// - Anyone may ask (no membership check); NOT_COORDINATOR on the wrong broker. No pending
///   transactional offsets, so `require_stable` changes nothing.
fn offset_fetch(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: OffsetFetchRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<OffsetFetchResponse> {
    let st = ctx.shared.lock();
    let group = req.group_id.as_str();
    if let Err(code) = injected(fault).and_then(|_| coordinates(ctx, &st, group)) {
        return Some(OffsetFetchResponse {
            throttle_time_ms: 0,
            group_id: req.group_id.clone(),
            topics: Vec::new(),
            error_code: code.code(),
        });
    }
    let part = |topic: &str, p: i32| OffsetFetchPartition {
        partition_index: p,
        committed_offset: st.offsets.get(&(group.to_string(), topic.to_string(), p)).copied().unwrap_or(-1),
        committed_leader_epoch: -1,
        metadata: Some(String::new()),
        error_code: 0,
    };
    let topics = match &req.topics {
        Some(list) => list
            .iter()
            .map(|t| OffsetFetchTopic {
                name: t.name.clone(),
                partitions: t.partition_indexes.iter().map(|p| part(&t.name, *p)).collect(),
            })
            .collect(),
        None => {
            let names: BTreeSet<&String> = st.offsets.keys().filter(|k| k.0 == group).map(|k| &k.1).collect();
            names
                .into_iter()
                .map(|n| OffsetFetchTopic {
                    name: n.clone(),
                    partitions: st.offsets.keys().filter(|k| k.0 == group && &k.1 == n).map(|k| part(n, k.2)).collect(),
                })
                .collect()
        }
    };
    Some(OffsetFetchResponse { throttle_time_ms: 0, group_id: req.group_id.clone(), topics, error_code: 0 })
}

fn join_error(code: ErrorCode, member_id: String) -> JoinGroupResponse {
    JoinGroupResponse {
        throttle_time_ms: 0,
        error_code: code.code(),
        generation_id: -1,
        protocol_type: None,
        protocol_name: None,
        leader: String::new(),
        skip_assignment: false,
        member_id,
        members: Vec::new(),
    }
}

fn wait<'a>(shared: &'a Shared, st: MutexGuard<'a, State>, until: Instant) -> MutexGuard<'a, State> {
    let d = until.saturating_duration_since(Instant::now()).min(Duration::from_millis(100));
    shared.changed.wait_timeout(st, d).map(|(g, _)| g).unwrap_or_else(|e| e.into_inner().0)
}

/// JoinGroup, v0–v9.
///
/// Behavior:
/// - A member without an id gets one; from v4 it must come back with it (MEMBER_ID_REQUIRED),
///   as Kafka asks. A static member (group_instance_id) rejoining takes over its old entry;
///   an old id of a replaced static member is FENCED_INSTANCE_ID.
/// - Every join starts a rebalance (or joins the one under way). The request waits until every
///   known member has joined, or until the longest rebalance timeout; members that didn't join
///   are dropped. Then the generation moves on, the protocol is chosen by vote among those all
///   members offer, and the first member to have joined leads: only the leader gets the member
///   list. No initial rebalance delay.
/// - INCONSISTENT_GROUP_PROTOCOL for a protocol type or assignor set that doesn't fit the
///   group; NOT_COORDINATOR on the wrong broker.
fn join_group(
    ctx: &Ctx<'_>,
    hdr: &RequestHeader,
    req: JoinGroupRequest,
    v: i16,
    fault: Option<ErrorCode>,
) -> Option<JoinGroupResponse> {
    let shared = ctx.shared;
    let now = Instant::now();
    let mut st = shared.lock();
    if let Err(code) = injected(fault).and_then(|_| coordinates(ctx, &st, &req.group_id)) {
        return Some(join_error(code, req.member_id));
    }
    let protocols: Vec<(String, Vec<u8>)> =
        req.protocols.iter().map(|p| (p.name.clone(), p.metadata.clone())).collect();
    let client = hdr.client_id.clone().unwrap_or_default();
    // Numbered up front (a number may go unused): the group borrows the state below.
    st.next_member += 1;
    let fresh_id = format!("{}-{}", if client.is_empty() { "member" } else { &client }, st.next_member);
    let g = st.groups.entry(req.group_id.clone()).or_insert_with(|| super::group::Group::new(now));
    if !g.accepts(&req.protocol_type, &protocols) {
        return Some(join_error(ErrorCode::INCONSISTENT_GROUP_PROTOCOL, req.member_id));
    }
    let mut id = req.member_id.clone();
    match &req.group_instance_id {
        Some(inst) => {
            if id.is_empty() {
                id = fresh_id;
                if let Some(old) = g.statics.get(inst).cloned() {
                    if let Some(m) = g.members.remove(&old) {
                        g.members.insert(id.clone(), m);
                    }
                    if g.leader.as_deref() == Some(old.as_str()) {
                        g.leader = Some(id.clone());
                    }
                    g.statics.insert(inst.clone(), id.clone());
                    if g.state == GroupState::Stable {
                        // A static member's restart: its old place back, no rebalance.
                        if let Some(m) = g.members.get_mut(&id) {
                            m.last_seen = now;
                            m.protocols = protocols;
                        }
                        let leader = g.leader.clone().unwrap_or_default();
                        return Some(JoinGroupResponse {
                            throttle_time_ms: 0,
                            error_code: 0,
                            generation_id: g.generation,
                            protocol_type: g.protocol_type.clone(),
                            protocol_name: g.protocol.clone(),
                            skip_assignment: v >= 9 && leader == id,
                            leader,
                            member_id: id,
                            members: Vec::new(),
                        });
                    }
                }
            } else if g.statics.get(inst).is_some_and(|m| m != &id) {
                return Some(join_error(ErrorCode::FENCED_INSTANCE_ID, id));
            }
        }
        None if id.is_empty() => {
            id = fresh_id;
            if v >= 4 {
                let session = Duration::from_millis(req.session_timeout_ms.max(0) as u64);
                g.pending.insert(id.clone(), now + session);
                return Some(join_error(ErrorCode::MEMBER_ID_REQUIRED, id));
            }
        }
        None => {
            if !g.members.contains_key(&id) && !g.pending.contains_key(&id) {
                return Some(join_error(ErrorCode::UNKNOWN_MEMBER_ID, id));
            }
        }
    }
    g.protocol_type = Some(req.protocol_type.clone());
    g.start_round(now);
    let member = Member {
        instance_id: req.group_instance_id.clone(),
        client_id: client,
        session_timeout: Duration::from_millis(req.session_timeout_ms.max(0) as u64),
        rebalance_timeout: Duration::from_millis(req.rebalance_timeout_ms.max(0) as u64),
        protocols,
        last_seen: now,
        joined_round: 0,
        seq: 0,
        assignment: Vec::new(),
    };
    g.join(&id, member);
    let longest = g.members.values().map(|m| m.rebalance_timeout).max().unwrap_or_default();
    g.round_deadline = g.round_deadline.max(now + longest);
    let my_round = g.round;
    shared.changed.notify_all();
    loop {
        let Some(g) = st.groups.get_mut(&req.group_id) else {
            return Some(join_error(ErrorCode::UNKNOWN_MEMBER_ID, id));
        };
        let now = Instant::now();
        if g.completed_round < my_round
            && g.state == GroupState::PreparingRebalance
            && (g.all_joined() || now >= g.round_deadline)
        {
            g.complete_round(now);
            shared.changed.notify_all();
        }
        if g.completed_round >= my_round {
            if !g.members.contains_key(&id) {
                return Some(join_error(ErrorCode::UNKNOWN_MEMBER_ID, id));
            }
            let protocol = g.protocol.clone().unwrap_or_default();
            let leader = g.leader.clone().unwrap_or_default();
            let members = if leader == id {
                g.members
                    .iter()
                    .map(|(mid, m)| JoinGroupMember {
                        member_id: mid.clone(),
                        group_instance_id: m.instance_id.clone(),
                        metadata: m
                            .protocols
                            .iter()
                            .find(|(p, _)| *p == protocol)
                            .map(|(_, md)| md.clone())
                            .unwrap_or_default(),
                    })
                    .collect()
            } else {
                Vec::new()
            };
            return Some(JoinGroupResponse {
                throttle_time_ms: 0,
                error_code: 0,
                generation_id: g.generation,
                protocol_type: g.protocol_type.clone(),
                protocol_name: Some(protocol),
                leader,
                skip_assignment: false,
                member_id: id,
                members,
            });
        }
        if shared.shutdown.load(Ordering::Acquire) {
            return Some(join_error(ErrorCode::COORDINATOR_NOT_AVAILABLE, id));
        }
        let until = g.round_deadline;
        st = wait(shared, st, until);
    }
}

fn sync_error(code: ErrorCode) -> SyncGroupResponse {
    SyncGroupResponse {
        throttle_time_ms: 0,
        error_code: code.code(),
        protocol_type: None,
        protocol_name: None,
        assignment: Vec::new(),
    }
}

/// SyncGroup, v0–v5.
///
/// Behavior:
/// - The leader's assignment is stored (members it leaves out get an empty one) and the group
///   becomes Stable; followers wait for it, up to their rebalance timeout.
/// - In a Stable group, a member gets its current assignment back. REBALANCE_IN_PROGRESS if a
///   new rebalance started meanwhile; UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION and
///   FENCED_INSTANCE_ID as Kafka checks them.
fn sync_group(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: SyncGroupRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<SyncGroupResponse> {
    let shared = ctx.shared;
    let mut st = shared.lock();
    let group = req.group_id.as_str();
    let check = fault
        .map_or(Ok(()), Err)
        .and_then(|_| coordinates(ctx, &st, group))
        .and_then(|_| check_member(&st, group, &req.member_id, req.group_instance_id.as_deref(), req.generation_id));
    if let Err(code) = check {
        return Some(sync_error(code));
    }
    let deadline = {
        let g = st.groups.get_mut(group).expect("checked");
        let m = g.members.get_mut(&req.member_id).expect("checked");
        m.last_seen = Instant::now();
        let deadline = Instant::now() + m.rebalance_timeout;
        if g.state == GroupState::CompletingRebalance && g.leader.as_deref() == Some(req.member_id.as_str()) {
            for (id, m) in g.members.iter_mut() {
                m.assignment =
                    req.assignments.iter().find(|(a, _)| a == id).map(|(_, b)| b.clone()).unwrap_or_default();
            }
            g.state = GroupState::Stable;
            shared.changed.notify_all();
        }
        deadline
    };
    loop {
        let g = st.groups.get(group).expect("groups are never dropped");
        if g.generation != req.generation_id
            || g.state == GroupState::PreparingRebalance
            || g.state == GroupState::Empty
        {
            return Some(sync_error(ErrorCode::REBALANCE_IN_PROGRESS));
        }
        if g.state == GroupState::Stable {
            let Some(m) = g.members.get(&req.member_id) else { return Some(sync_error(ErrorCode::UNKNOWN_MEMBER_ID)) };
            return Some(SyncGroupResponse {
                throttle_time_ms: 0,
                error_code: 0,
                protocol_type: g.protocol_type.clone(),
                protocol_name: g.protocol.clone(),
                assignment: m.assignment.clone(),
            });
        }
        if Instant::now() >= deadline || shared.shutdown.load(Ordering::Acquire) {
            return Some(sync_error(ErrorCode::REBALANCE_IN_PROGRESS));
        }
        st = wait(shared, st, deadline);
    }
}

/// Heartbeat, v0–v4.
///
/// Behavior:
/// - Keeps a member's session alive; REBALANCE_IN_PROGRESS while a rebalance waits for members
///   to rejoin; UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, FENCED_INSTANCE_ID as Kafka checks them.
fn heartbeat(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: HeartbeatRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<HeartbeatResponse> {
    let mut st = ctx.shared.lock();
    let group = req.group_id.as_str();
    let check = fault
        .map_or(Ok(()), Err)
        .and_then(|_| coordinates(ctx, &st, group))
        .and_then(|_| check_member(&st, group, &req.member_id, req.group_instance_id.as_deref(), req.generation_id))
        .and_then(|_| {
            let g = st.groups.get_mut(group).expect("checked");
            if let Some(m) = g.members.get_mut(&req.member_id) {
                m.last_seen = Instant::now();
            }
            match g.state {
                GroupState::PreparingRebalance => Err(ErrorCode::REBALANCE_IN_PROGRESS),
                _ => Ok(()),
            }
        });
    Some(HeartbeatResponse { throttle_time_ms: 0, error_code: code_of(check) })
}

/// LeaveGroup, v0–v5.
///
/// Behavior:
/// - Removes the members named (by member id, or by instance id for static members), and the
///   others rebalance at once. UNKNOWN_MEMBER_ID for a member the group doesn't know.
fn leave_group(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: LeaveGroupRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<LeaveGroupResponse> {
    let mut st = ctx.shared.lock();
    if let Err(code) = injected(fault).and_then(|_| coordinates(ctx, &st, &req.group_id)) {
        return Some(LeaveGroupResponse { throttle_time_ms: 0, error_code: code.code(), members: Vec::new() });
    }
    let now = Instant::now();
    let mut members = Vec::new();
    let mut first_code = 0;
    for m in &req.members {
        let code = match st.groups.get_mut(&req.group_id) {
            Some(g) => {
                let id = match (&m.group_instance_id, m.member_id.is_empty()) {
                    (Some(i), true) => g.statics.get(i).cloned().unwrap_or_default(),
                    _ => m.member_id.clone(),
                };
                if g.members.contains_key(&id) {
                    g.remove(&id, now);
                    0
                } else {
                    ErrorCode::UNKNOWN_MEMBER_ID.code()
                }
            }
            None => ErrorCode::UNKNOWN_MEMBER_ID.code(),
        };
        if first_code == 0 {
            first_code = code;
        }
        members.push((m.member_id.clone(), m.group_instance_id.clone(), code));
    }
    ctx.shared.changed.notify_all();
    // Before v3 the one member's error is the top-level error.
    Some(LeaveGroupResponse {
        throttle_time_ms: 0,
        error_code: if req.members.len() == 1 { first_code } else { 0 },
        members,
    })
}

/// DescribeGroups, v0–v5.
///
/// Behavior:
/// - State, protocol type and chosen assignor, and each member with its client id, host, the
///   subscription for the chosen assignor and its assignment. A group only known for its
///   commits is Empty; one never seen is Dead. NOT_COORDINATOR per group on the wrong broker.
fn describe_groups(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: DescribeGroupsRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<DescribeGroupsResponse> {
    let st = ctx.shared.lock();
    let groups = req
        .groups
        .into_iter()
        .map(|id| {
            let mut d = DescribedGroup {
                error_code: 0,
                group_id: id.clone(),
                group_state: "Dead".into(),
                protocol_type: String::new(),
                protocol_data: String::new(),
                members: Vec::new(),
                authorized_operations: i32::MIN,
            };
            if let Err(code) = injected(fault).and_then(|_| coordinates(ctx, &st, &id)) {
                d.error_code = code.code();
                return d;
            }
            match st.groups.get(&id) {
                Some(g) => {
                    d.group_state = g.state.name().into();
                    d.protocol_type = g.protocol_type.clone().unwrap_or_default();
                    let protocol = g.protocol.clone().unwrap_or_default();
                    if g.state == GroupState::Stable {
                        d.protocol_data.clone_from(&protocol);
                    }
                    d.members = g
                        .members
                        .iter()
                        .map(|(mid, m)| DescribedMember {
                            member_id: mid.clone(),
                            group_instance_id: m.instance_id.clone(),
                            client_id: m.client_id.clone(),
                            client_host: "/127.0.0.1".into(),
                            member_metadata: m
                                .protocols
                                .iter()
                                .find(|(p, _)| *p == protocol)
                                .map(|(_, md)| md.clone())
                                .unwrap_or_default(),
                            member_assignment: m.assignment.clone(),
                        })
                        .collect();
                }
                None if st.offsets.keys().any(|k| k.0 == id) => d.group_state = "Empty".into(),
                None => {}
            }
            d
        })
        .collect();
    Some(DescribeGroupsResponse { throttle_time_ms: 0, groups })
}

/// ListGroups, v0–v4.
///
/// Behavior:
/// - The groups this broker coordinates, including those only known for their commits
///   (protocol type empty), filtered by state from v4.
fn list_groups(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: ListGroupsRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<ListGroupsResponse> {
    let st = ctx.shared.lock();
    if let Some(code) = fault {
        return Some(ListGroupsResponse { throttle_time_ms: 0, error_code: code.code(), groups: Vec::new() });
    }
    let mut names: BTreeSet<&String> = st.groups.keys().collect();
    names.extend(st.offsets.keys().map(|k| &k.0));
    let groups = names
        .into_iter()
        .filter(|n| ctx.shared.coordinator(&st, n) == ctx.broker)
        .map(|n| {
            let g = st.groups.get(n);
            ListedGroup {
                group_id: n.clone(),
                protocol_type: g.and_then(|g| g.protocol_type.clone()).unwrap_or_default(),
                group_state: Some(g.map_or("Empty", |g| g.state.name()).to_string()),
            }
        })
        .filter(|g| req.states_filter.is_empty() || req.states_filter.iter().any(|s| Some(s) == g.group_state.as_ref()))
        .collect();
    Some(ListGroupsResponse { throttle_time_ms: 0, error_code: 0, groups })
}

/// InitProducerId, v0–v4.
///
/// Behavior:
/// - A new producer id with epoch 0 for every request; no transactional ids (a request with
///   one is answered the same way, without transaction state).
fn init_producer_id(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    _: InitProducerIdRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<InitProducerIdResponse> {
    let mut st = ctx.shared.lock();
    if let Some(code) = fault {
        return Some(InitProducerIdResponse {
            throttle_time_ms: 0,
            error_code: code.code(),
            producer_id: -1,
            producer_epoch: -1,
        });
    }
    st.next_producer_id += 1;
    Some(InitProducerIdResponse {
        throttle_time_ms: 0,
        error_code: 0,
        producer_id: st.next_producer_id,
        producer_epoch: 0,
    })
}

/// CreateTopics, v2–v7.
///
/// Behavior:
/// - Creates each topic with its partition count (-1: the cluster default), leaders spread
///   over the brokers. TOPIC_ALREADY_EXISTS, INVALID_TOPIC_EXCEPTION, INVALID_PARTITIONS, and
///   INVALID_REPLICATION_FACTOR past the broker count (there is one replica whatever is asked).
/// - Manual assignments and configs are accepted and ignored; `validate_only` creates nothing.
fn create_topics(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: CreateTopicsRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<CreateTopicsResponse> {
    let shared = ctx.shared;
    let mut st = shared.lock();
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let partitions = if t.num_partitions == -1 { shared.cfg.partitions } else { t.num_partitions };
            let rf = if t.replication_factor == -1 { 1 } else { t.replication_factor };
            let check = injected(fault).and_then(|_| {
                if !valid_topic_name(&t.name) {
                    Err(ErrorCode::INVALID_TOPIC_EXCEPTION)
                } else if st.topics.contains_key(&t.name) {
                    Err(ErrorCode::TOPIC_ALREADY_EXISTS)
                } else if partitions <= 0 {
                    Err(ErrorCode::INVALID_PARTITIONS)
                } else if rf <= 0 || rf as usize > shared.brokers.len() {
                    Err(ErrorCode::INVALID_REPLICATION_FACTOR)
                } else {
                    Ok(())
                }
            });
            if check.is_ok() && !req.validate_only {
                shared.create_topic(&mut st, &t.name, partitions);
            }
            CreatableTopicResult {
                topic_id: st.topics.get(&t.name).map_or([0; 16], |x| x.id),
                error_code: code_of(check),
                error_message: check.err().map(|c| c.to_string()),
                num_partitions: if check.is_ok() { partitions } else { -1 },
                replication_factor: if check.is_ok() { rf } else { -1 },
                name: t.name,
            }
        })
        .collect();
    Some(CreateTopicsResponse { throttle_time_ms: 0, topics })
}

/// DeleteTopics, v1–v6.
///
/// Behavior:
/// - Deletes each topic, its data and the offsets committed for it, at once.
///   UNKNOWN_TOPIC_OR_PARTITION for a topic that doesn't exist. By name only (not by topic id).
fn delete_topics(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: DeleteTopicsRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<DeleteTopicsResponse> {
    let mut st = ctx.shared.lock();
    let responses = req
        .names
        .into_iter()
        .map(|name| {
            let check = fault
                .map_or(Ok(()), Err)
                .and_then(|_| st.topics.remove(&name).map(drop).ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
            if check.is_ok() {
                st.offsets.retain(|k, _| k.1 != name);
            }
            (name, code_of(check), check.err().map(|c| c.to_string()))
        })
        .collect();
    ctx.shared.changed.notify_all();
    Some(DeleteTopicsResponse { throttle_time_ms: 0, responses })
}
