//! OffsetCommit and OffsetFetch: the offsets groups commit.

use super::*;

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
pub(super) fn offset_commit(
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
pub(super) fn offset_fetch(
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
