//! The mock's request handlers, one per API: a decoded request in, a response out. Each doc
//! opens with what the handler does and doesn't do. Handlers that must wait (a Fetch for data,
//! a JoinGroup or SyncGroup for the rest of the group) wait on the cluster's condition variable,
//! holding no lock while they do.
//!
//! One file per API family: [`data`] (Produce, Fetch, ListOffsets, InitProducerId),
//! [`topics`] (Metadata, FindCoordinator, CreateTopics, DeleteTopics), [`offsets`]
//! (OffsetCommit, OffsetFetch), [`groups`] (the group protocol and its tools' views),
//! [`consumer_groups`] (the consumer group protocol, KIP-848), [`share_groups`] (share groups,
//! KIP-932, and the group settings of DescribeConfigs and IncrementalAlterConfigs), [`txn`]
//! (the transaction coordinator and TxnOffsetCommit).

mod consumer_groups;
mod data;
mod groups;
mod offsets;
mod share_groups;
mod topics;
mod txn;

use data::{fetch, init_producer_id, list_offsets, produce};
use groups::{describe_groups, heartbeat, join_group, leave_group, list_groups, sync_group};
use offsets::{offset_commit, offset_fetch};
pub(crate) use share_groups::ShareSession;
use topics::{create_topics, delete_topics, find_coordinator, metadata};
use txn::{add_offsets_to_txn, add_partitions_to_txn, end_txn, txn_offset_commit};

use super::group::{GroupState, Member};
use super::{log, valid_topic_name, Shared, State};
use crate::protocol::codec::Decoder;
use crate::protocol::create_topics::{CreatableTopicResult, CreateTopicsRequest, CreateTopicsResponse};
use crate::protocol::delete_topics::{DeletableTopicResult, DeleteTopicsRequest, DeleteTopicsResponse};
use crate::protocol::describe_groups::{
    DescribeGroupsRequest, DescribeGroupsResponse, DescribedGroup, DescribedMember,
};
use crate::protocol::error_code::ErrorCode;
use crate::protocol::fetch::{
    AbortedTransaction, FetchPartitionResponse, FetchRequest, FetchResponse, FetchTopicResponse,
};
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
        ApiKey::ConsumerGroupHeartbeat => run(ctx, hdr, d, fault, consumer_groups::consumer_group_heartbeat),
        ApiKey::ConsumerGroupDescribe => run(ctx, hdr, d, fault, consumer_groups::consumer_group_describe),
        ApiKey::ShareGroupHeartbeat => run(ctx, hdr, d, fault, share_groups::share_group_heartbeat),
        ApiKey::ShareGroupDescribe => run(ctx, hdr, d, fault, share_groups::share_group_describe),
        ApiKey::ShareFetch => run(ctx, hdr, d, fault, share_groups::share_fetch),
        ApiKey::ShareAcknowledge => run(ctx, hdr, d, fault, share_groups::share_acknowledge),
        ApiKey::DescribeConfigs => run(ctx, hdr, d, fault, share_groups::describe_configs),
        ApiKey::IncrementalAlterConfigs => run(ctx, hdr, d, fault, share_groups::incremental_alter_configs),
        ApiKey::AddPartitionsToTxn => run(ctx, hdr, d, fault, add_partitions_to_txn),
        ApiKey::AddOffsetsToTxn => run(ctx, hdr, d, fault, add_offsets_to_txn),
        ApiKey::EndTxn => run(ctx, hdr, d, fault, end_txn),
        ApiKey::TxnOffsetCommit => run(ctx, hdr, d, fault, txn_offset_commit),
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

/// Checks a group member's credentials as Kafka does for Heartbeat, SyncGroup and commits.
fn check_member(
    st: &State,
    group: &str,
    member: &str,
    instance: Option<&str>,
    generation: i32,
) -> Result<(), ErrorCode> {
    if let Some(g) = st.consumer_groups.get(group).filter(|g| !g.members.is_empty()) {
        // A consumer-protocol group: the member's epoch stands for the generation.
        return g.check_commit(member, generation);
    }
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

fn wait<'a>(shared: &'a Shared, st: MutexGuard<'a, State>, until: Instant) -> MutexGuard<'a, State> {
    let d = until.saturating_duration_since(Instant::now()).min(Duration::from_millis(100));
    shared.changed.wait_timeout(st, d).map(|(g, _)| g).unwrap_or_else(|e| e.into_inner().0)
}
