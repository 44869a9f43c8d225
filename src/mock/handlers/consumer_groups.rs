//! The consumer group protocol (KIP-848): ConsumerGroupHeartbeat and ConsumerGroupDescribe, over the state in
//! `mock::consumer_group`.

use super::*;
use crate::mock::consumer_group::{self, Assignment, Beat};
use crate::protocol::consumer_group_describe::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, DescribedConsumerGroup, DescribedConsumerMember,
    DescribedTopicPartitions,
};
use crate::protocol::consumer_group_heartbeat::{
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, TopicIdPartitions,
};

/// ConsumerGroupHeartbeat, v0–v1.
///
/// Behavior:
/// - Joins (epoch 0), leaves (-1; -2 for a static member, treated as leaving) or reports the
///   partitions a member owns. The coordinator spreads the subscribed topics' partitions evenly
///   over the members (the `uniform` assignor whatever is asked; regex subscriptions are not
///   served) and hands a member a partition only once its previous owner gave it up.
/// - Always answers with the member's full assignment and a 500 ms heartbeat interval. A
///   member silent for 45 s is dropped.
/// - UNKNOWN_MEMBER_ID, FENCED_MEMBER_EPOCH for an epoch that isn't the member's,
///   INCONSISTENT_GROUP_PROTOCOL for a group that has classic members, NOT_COORDINATOR away
///   from the group's coordinator, INVALID_REQUEST for a join without topics.
pub(super) fn consumer_group_heartbeat(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: ConsumerGroupHeartbeatRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<ConsumerGroupHeartbeatResponse> {
    let mut st = ctx.shared.lock();
    let answer = injected(fault)
        .and_then(|()| coordinates(ctx, &st, &req.group_id))
        .and_then(|()| match st.groups.get(&req.group_id) {
            Some(g) if !g.members.is_empty() => Err(ErrorCode::INCONSISTENT_GROUP_PROTOCOL),
            _ => Ok(()),
        })
        .and_then(|()| {
            let State { topics, consumer_groups, .. } = &mut *st;
            let name_of = |id: &[u8; 16]| topics.iter().find(|(_, t)| t.id == *id).map(|(n, _)| n.clone());
            let owned: Option<Assignment> = req.topic_partitions.as_ref().map(|tps| {
                tps.iter()
                    .filter_map(|t| Some((name_of(&t.topic_id)?, t.partitions.iter().copied().collect())))
                    .collect()
            });
            let beat = Beat {
                member_id: &req.member_id,
                epoch: req.member_epoch,
                instance_id: req.instance_id.as_deref(),
                topics: req.subscribed_topic_names.clone(),
                owned,
            };
            let count = |t: &str| topics.get(t).map(|x| x.partitions.len() as i32);
            let group = consumer_groups.entry(req.group_id.clone()).or_default();
            let (epoch, assignment) = group.heartbeat(beat, &count, Instant::now())?;
            let ids: Vec<TopicIdPartitions> = assignment
                .into_iter()
                .filter_map(|(t, ps)| {
                    Some(TopicIdPartitions { topic_id: topics.get(&t)?.id, partitions: ps.into_iter().collect() })
                })
                .collect();
            Ok((epoch, ids))
        });
    let (code, epoch, assignment) = match answer {
        Ok((epoch, ids)) => (0, epoch, (req.member_epoch >= 0).then_some(ids)),
        Err(c) => (c.code(), -1, None),
    };
    Some(ConsumerGroupHeartbeatResponse {
        throttle_time_ms: 0,
        error_code: code,
        error_message: None,
        member_id: Some(req.member_id),
        member_epoch: epoch,
        heartbeat_interval_ms: consumer_group::HEARTBEAT_INTERVAL.as_millis() as i32,
        assignment,
    })
}

/// ConsumerGroupDescribe, v0–v1.
///
/// Behavior: each group's state (`Empty` without members, `Reconciling` while a member owns
/// something outside its target, else `Stable`), epoch, the `uniform` assignor, and its
/// members with their subscriptions, owned and target partitions. GROUP_ID_NOT_FOUND for a
/// group that has no consumer-protocol state, NOT_COORDINATOR away from its coordinator.
pub(super) fn consumer_group_describe(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: ConsumerGroupDescribeRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<ConsumerGroupDescribeResponse> {
    let st = ctx.shared.lock();
    let described = |a: &Assignment| -> Vec<DescribedTopicPartitions> {
        a.iter()
            .filter_map(|(t, ps)| {
                Some(DescribedTopicPartitions {
                    topic_id: st.topics.get(t)?.id,
                    topic_name: t.clone(),
                    partitions: ps.iter().copied().collect(),
                })
            })
            .collect()
    };
    let groups = req
        .group_ids
        .iter()
        .map(|id| {
            let found = injected(fault)
                .and_then(|()| coordinates(ctx, &st, id))
                .and_then(|()| st.consumer_groups.get(id).ok_or(ErrorCode::GROUP_ID_NOT_FOUND));
            let g = match found {
                Err(c) => return DescribedConsumerGroup::failed(id, c.code()),
                Ok(g) => g,
            };
            let reconciling = g.members.values().any(|m| m.owned != m.target);
            let state = match (g.members.is_empty(), reconciling) {
                (true, _) => "Empty",
                (false, true) => "Reconciling",
                (false, false) => "Stable",
            };
            let members = g
                .members
                .iter()
                .map(|(mid, m)| DescribedConsumerMember {
                    member_id: mid.clone(),
                    instance_id: m.instance_id.clone(),
                    rack_id: None,
                    member_epoch: m.epoch,
                    client_id: String::new(),
                    client_host: "/127.0.0.1".into(),
                    subscribed_topic_names: m.topics.clone(),
                    subscribed_topic_regex: None,
                    assignment: described(&m.owned),
                    target_assignment: described(&m.target),
                    member_type: 1,
                })
                .collect();
            DescribedConsumerGroup::new(id, state, g.epoch, "uniform", members)
        })
        .collect();
    Some(ConsumerGroupDescribeResponse { throttle_time_ms: 0, groups })
}
