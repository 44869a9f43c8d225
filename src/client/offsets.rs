//! ListOffsets, OffsetFetch and OffsetCommit as typed operations, with retries for moved
//! leaders and coordinators.

use super::Client;
use crate::error::{Context, Error, Result};
use crate::offsets::{IsolationLevel, LogBounds};
use crate::protocol::error_code::ErrorCode;
use crate::protocol::list_offsets::{
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic, EARLIEST_TIMESTAMP, LATEST_TIMESTAMP,
};
use crate::protocol::offset_commit::{OffsetCommitPartition, OffsetCommitRequest, OffsetCommitTopic};
use crate::protocol::offset_fetch::{OffsetFetchRequest, OffsetFetchRequestTopic};
use crate::protocol::ApiKey;
use std::collections::{BTreeMap, HashMap};

/// How many times the helpers here try a request before giving up.
pub(crate) const DEFAULT_ATTEMPTS: u32 = 5;

/// Which offset ListOffsets asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListAt {
    /// The log start offset.
    Earliest,
    /// The high watermark: the next offset to be written.
    Latest,
    /// The first offset whose timestamp is at or after these milliseconds.
    Time(i64),
}

impl ListAt {
    fn wire(self) -> i64 {
        match self {
            ListAt::Earliest => EARLIEST_TIMESTAMP,
            ListAt::Latest => LATEST_TIMESTAMP,
            ListAt::Time(t) => t,
        }
    }
}

/// The earliest and latest offsets of `partitions` of `topic`; the latest is the last stable
/// offset for `isolation` read_committed.
pub(crate) fn log_bounds(
    client: &Client,
    topic: &str,
    partitions: &[i32],
    isolation: IsolationLevel,
    attempts: u32,
) -> Result<BTreeMap<i32, LogBounds>> {
    let ask = |at: ListAt| -> Vec<(i32, ListAt)> { partitions.iter().map(|p| (*p, at)).collect() };
    let lo = list_offsets(client, topic, &ask(ListAt::Earliest), isolation, attempts)?;
    let hi = list_offsets(client, topic, &ask(ListAt::Latest), isolation, attempts)?;
    Ok(lo
        .into_iter()
        .filter_map(|(p, lo)| {
            let bounds = LogBounds { log_start: lo?, high_watermark: hi.get(&p).copied().flatten()? };
            Some((p, bounds))
        })
        .collect())
}

/// The offsets `partitions` of `topic` have at the given points, asking each partition's
/// leader; `None` where there is none (no message as recent as a time asked for).
pub(crate) fn list_offsets(
    client: &Client,
    topic: &str,
    partitions: &[(i32, ListAt)],
    isolation: IsolationLevel,
    attempts: u32,
) -> Result<BTreeMap<i32, Option<i64>>> {
    let mut out = BTreeMap::new();
    let mut todo: Vec<(i32, i64)> = partitions.iter().map(|&(p, at)| (p, at.wire())).collect();
    client.with_retries(attempts, &[topic], None, || {
        let mut by_leader: HashMap<i32, Vec<(i32, i64)>> = HashMap::new();
        for &(p, ts) in &todo {
            let leader = client.leader(topic, p).ok_or_else(|| {
                Error::broker(ApiKey::ListOffsets, ErrorCode::LEADER_NOT_AVAILABLE, Context::partition(topic, p), None)
            })?;
            by_leader.entry(leader).or_default().push((p, ts));
        }
        let mut failed = None;
        for (leader, parts) in by_leader {
            let req = ListOffsetsRequest {
                replica_id: -1,
                isolation_level: isolation.wire(),
                topics: vec![ListOffsetsTopic {
                    name: topic.to_string(),
                    partitions: parts
                        .iter()
                        .map(|&(p, ts)| ListOffsetsPartition {
                            partition_index: p,
                            current_leader_epoch: -1,
                            timestamp: ts,
                        })
                        .collect(),
                }],
            };
            let resp = match client.send_to(leader, &req) {
                Ok(r) => r,
                Err(e) => {
                    failed = Some(e);
                    continue;
                }
            };
            for t in resp.topics.into_iter().filter(|t| t.name == topic) {
                for p in t.partitions {
                    let code = ErrorCode::from_i16(p.error_code);
                    if code.is_ok() {
                        out.insert(p.partition_index, (p.offset >= 0).then_some(p.offset));
                        todo.retain(|(q, _)| *q != p.partition_index);
                    } else {
                        failed = Some(Error::broker(
                            ApiKey::ListOffsets,
                            code,
                            Context::partition(topic, p.partition_index),
                            None,
                        ));
                    }
                }
            }
        }
        match (failed, todo.is_empty()) {
            (Some(e), _) => Err(e),
            (None, true) => Ok(()),
            (None, false) => {
                let mut context = Context::partition(topic, todo[0].0);
                context.more_partitions = todo[1..].iter().map(|t| (topic.to_string(), t.0)).collect();
                Err(Error::broker(
                    ApiKey::ListOffsets,
                    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                    context,
                    Some("missing from the response".into()),
                ))
            }
        }
    })?;
    Ok(out)
}

/// The committed offsets of `group` for `partitions` of `topic`; `None` where nothing is
/// committed.
pub(crate) fn fetch_committed(
    client: &Client,
    group: &str,
    topic: &str,
    partitions: &[i32],
    attempts: u32,
) -> Result<BTreeMap<i32, Option<i64>>> {
    client.with_retries(attempts, &[topic], Some(group), || {
        let node = client.coordinator(group)?;
        let req = OffsetFetchRequest {
            group_id: group.to_string(),
            topics: Some(vec![OffsetFetchRequestTopic {
                name: topic.to_string(),
                partition_indexes: partitions.to_vec(),
            }]),
            require_stable: true,
        };
        let resp = client.send_to(node, &req)?;
        let code = ErrorCode::from_i16(resp.error_code);
        if !code.is_ok() {
            return Err(Error::broker(ApiKey::OffsetFetch, code, Context::group(group), None));
        }
        let mut out: BTreeMap<i32, Option<i64>> = partitions.iter().map(|p| (*p, None)).collect();
        for t in resp.topics.into_iter().filter(|t| t.name == topic) {
            for p in t.partitions {
                let code = ErrorCode::from_i16(p.error_code);
                if !code.is_ok() {
                    return Err(Error::broker(
                        ApiKey::OffsetFetch,
                        code,
                        Context::partition(topic, p.partition_index).in_group(group),
                        None,
                    ));
                }
                if let Some(slot) = out.get_mut(&p.partition_index) {
                    *slot = (p.committed_offset >= 0).then_some(p.committed_offset);
                }
            }
        }
        Ok(out)
    })
}

/// Who commits: a group member commits with its id and generation, so the coordinator can fence
/// a member that was replaced by a rebalance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Generation {
    pub member_id: String,
    pub generation_id: i32,
    pub group_instance_id: Option<String>,
}

/// Commits `offsets` (topic, partition, next offset to read) for `group`: as `member` when
/// given, otherwise outside any group membership (generation -1).
pub(crate) fn commit(
    client: &Client,
    group: &str,
    member: Option<&Generation>,
    offsets: &[(&str, i32, i64)],
    attempts: u32,
) -> Result<()> {
    if offsets.is_empty() {
        return Ok(());
    }
    let mut topics: Vec<OffsetCommitTopic> = Vec::new();
    for &(topic, p, o) in offsets {
        let part = OffsetCommitPartition {
            partition_index: p,
            committed_offset: o,
            committed_leader_epoch: -1,
            committed_metadata: None,
        };
        match topics.iter_mut().find(|t| t.name == topic) {
            Some(t) => t.partitions.push(part),
            None => topics.push(OffsetCommitTopic { name: topic.to_string(), partitions: vec![part] }),
        }
    }
    let names: Vec<&str> = offsets.iter().map(|o| o.0).collect();
    let req = OffsetCommitRequest {
        group_id: group.to_string(),
        generation_id: member.map_or(-1, |m| m.generation_id),
        member_id: member.map(|m| m.member_id.clone()).unwrap_or_default(),
        group_instance_id: member.and_then(|m| m.group_instance_id.clone()),
        retention_time_ms: -1,
        topics,
    };
    client.with_retries(attempts, &names, Some(group), || {
        let node = client.coordinator(group)?;
        let resp = client.send_to(node, &req)?;
        for t in resp.topics {
            for (p, code) in t.partitions {
                let code = ErrorCode::from_i16(code);
                if !code.is_ok() {
                    return Err(Error::broker(
                        ApiKey::OffsetCommit,
                        code,
                        Context::partition(&t.name, p).in_group(group),
                        None,
                    ));
                }
            }
        }
        Ok(())
    })
}
