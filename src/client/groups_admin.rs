//! Looking at groups from outside: which exist (ListGroups, asked of every broker), what one
//! looks like now (DescribeGroups, asked of its coordinator; ConsumerGroupDescribe or
//! ShareGroupDescribe for the groups of the newer protocols), and everything it has committed
//! (OffsetFetch for all topics). The CLI's `groups`, `group` and `lag` commands use these.

use super::Client;
use crate::error::{Context, Error, Result};
use crate::protocol::consumer_group_describe::{ConsumerGroupDescribeRequest, DescribedConsumerGroup};
use crate::protocol::consumer_protocol::{Assignment, TopicPartitions};
use crate::protocol::describe_groups::DescribeGroupsRequest;
use crate::protocol::error_code::ErrorCode;
use crate::protocol::list_groups::ListGroupsRequest;
use crate::protocol::offset_fetch::OffsetFetchRequest;
use crate::protocol::share_group_describe::ShareGroupDescribeRequest;
use crate::protocol::ApiKey;
use std::collections::BTreeMap;

/// A group as ListGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GroupListing {
    /// Group id.
    pub group: String,
    /// "consumer" for consumer groups; empty for groups that only store offsets.
    pub protocol_type: String,
    /// The group's state, from brokers that report it (Kafka 2.6+).
    pub state: Option<String>,
    /// The group's type (`classic`, `consumer` for the KIP-848 protocol, `share`), from
    /// brokers that report it (Kafka 3.8+).
    pub group_type: Option<String>,
}

/// A group as DescribeGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// Group id.
    pub group: String,
    /// "Stable", "PreparingRebalance", "CompletingRebalance", "Empty" or "Dead" for classic
    /// groups; "Stable", "Assigning", "Reconciling", "Empty" or "Dead" for consumer-protocol
    /// and share groups.
    pub state: String,
    /// "consumer" for consumer groups (of either protocol), "share" for share groups.
    pub protocol_type: String,
    /// The assignor in use (empty unless Stable).
    pub protocol: String,
    /// The members.
    pub members: Vec<GroupMemberDescription>,
}

/// One member of a described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMemberDescription {
    /// Member id.
    pub member_id: String,
    /// Static membership id.
    pub group_instance_id: Option<String>,
    /// The client id it joined with.
    pub client_id: String,
    /// The host it joined from.
    pub client_host: String,
    /// Its partitions (empty unless the group is Stable, or if the payload can't be read).
    pub assignment: TopicPartitions,
}

pub(crate) fn list_groups(client: &Client) -> Result<Vec<GroupListing>> {
    let mut out = Vec::new();
    for (id, _) in client.brokers() {
        let resp = client.send_to(id, &ListGroupsRequest::default())?;
        let code = ErrorCode::from_i16(resp.error_code);
        if !code.is_ok() {
            return Err(Error::broker(ApiKey::ListGroups, code, Context::broker(id), None));
        }
        out.extend(resp.groups.into_iter().map(|g| GroupListing {
            group: g.group_id,
            protocol_type: g.protocol_type,
            state: g.group_state,
            group_type: g.group_type.filter(|t| !t.is_empty()).map(|t| t.to_ascii_lowercase()),
        }));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

pub(crate) fn describe_group(client: &Client, group: &str) -> Result<GroupDescription> {
    client.with_retries(super::offsets::DEFAULT_ATTEMPTS, &[], Some(group), || {
        let node = client.coordinator(group)?;
        let req = DescribeGroupsRequest { groups: vec![group.to_string()], include_authorized_operations: false };
        let resp = client.send_to(node, &req)?;
        // DescribeGroups knows classic groups only: a consumer-protocol group (KIP-848) comes
        // back Dead or not found, and ConsumerGroupDescribe tells about it.
        let classic_known =
            resp.groups.iter().any(|g| g.group_id == group && g.error_code == 0 && g.group_state != "Dead");
        if !classic_known && client.supports_api(node, ApiKey::ConsumerGroupDescribe)? {
            if let Some(d) = describe_consumer_group(client, node, group)? {
                return Ok(d);
            }
        }
        if !classic_known && client.supports_api(node, ApiKey::ShareGroupDescribe)? {
            if let Some(d) = describe_share_group(client, node, group)? {
                return Ok(d);
            }
        }
        let g = resp.groups.into_iter().find(|g| g.group_id == group).ok_or_else(|| {
            Error::broker(ApiKey::DescribeGroups, ErrorCode::COORDINATOR_NOT_AVAILABLE, Context::group(group), None)
        })?;
        let code = ErrorCode::from_i16(g.error_code);
        if !code.is_ok() {
            return Err(Error::broker(ApiKey::DescribeGroups, code, Context::group(group), None));
        }
        let members = g
            .members
            .into_iter()
            .map(|m| GroupMemberDescription {
                assignment: if g.protocol_type == "consumer" {
                    Assignment::decode(&m.member_assignment).map(|a| a.partitions).unwrap_or_default()
                } else {
                    TopicPartitions::new()
                },
                member_id: m.member_id,
                group_instance_id: m.group_instance_id,
                client_id: m.client_id,
                client_host: m.client_host,
            })
            .collect();
        Ok(GroupDescription {
            group: g.group_id,
            state: g.group_state,
            protocol_type: g.protocol_type,
            protocol: g.protocol_data,
            members,
        })
    })
}

/// A consumer-protocol group by ConsumerGroupDescribe; `None` when the coordinator knows no
/// such group.
fn describe_consumer_group(client: &Client, node: i32, group: &str) -> Result<Option<GroupDescription>> {
    let req = ConsumerGroupDescribeRequest { group_ids: vec![group.to_string()], include_authorized_operations: false };
    let resp = client.send_to(node, &req)?;
    described(resp.groups, group, ApiKey::ConsumerGroupDescribe, "consumer")
}

/// A share group by ShareGroupDescribe; `None` when the coordinator knows no such group.
fn describe_share_group(client: &Client, node: i32, group: &str) -> Result<Option<GroupDescription>> {
    let req = ShareGroupDescribeRequest { group_ids: vec![group.to_string()], include_authorized_operations: false };
    let resp = client.send_to(node, &req)?;
    described(resp.groups, group, ApiKey::ShareGroupDescribe, "share")
}

/// `group` out of a ConsumerGroupDescribe or ShareGroupDescribe answer.
fn described(
    groups: Vec<DescribedConsumerGroup>,
    group: &str,
    api: ApiKey,
    protocol_type: &str,
) -> Result<Option<GroupDescription>> {
    let Some(g) = groups.into_iter().find(|g| g.group_id == group) else { return Ok(None) };
    match ErrorCode::from_i16(g.error_code) {
        ErrorCode::NONE => {}
        ErrorCode::GROUP_ID_NOT_FOUND => return Ok(None),
        code => return Err(Error::broker(api, code, Context::group(group), g.error_message)),
    }
    let members = g
        .members
        .into_iter()
        .map(|m| GroupMemberDescription {
            assignment: m.assignment.into_iter().map(|t| (t.topic_name, t.partitions)).collect(),
            member_id: m.member_id,
            group_instance_id: m.instance_id,
            client_id: m.client_id,
            client_host: m.client_host,
        })
        .collect();
    Ok(Some(GroupDescription {
        group: g.group_id,
        state: g.group_state,
        protocol_type: protocol_type.into(),
        protocol: g.assignor_name,
        members,
    }))
}

pub(crate) fn group_offsets(client: &Client, group: &str) -> Result<BTreeMap<(String, i32), i64>> {
    client.with_retries(super::offsets::DEFAULT_ATTEMPTS, &[], Some(group), || {
        let node = client.coordinator(group)?;
        let req = OffsetFetchRequest { group_id: group.to_string(), topics: None, require_stable: false };
        let resp = client.send_to(node, &req)?;
        let code = ErrorCode::from_i16(resp.error_code);
        if !code.is_ok() {
            return Err(Error::broker(ApiKey::OffsetFetch, code, Context::group(group), None));
        }
        let mut out = BTreeMap::new();
        for t in resp.topics {
            for p in t.partitions {
                if p.error_code == 0 && p.committed_offset >= 0 {
                    out.insert((t.name.clone(), p.partition_index), p.committed_offset);
                }
            }
        }
        Ok(out)
    })
}
