//! ConsumerGroupDescribe (key 69), v0–v1: a consumer-protocol group (KIP-848) as its
//! coordinator sees it: state, epochs, assignor, and each member's subscription, assignment and
//! target assignment. DescribeGroups only knows classic groups. v1 adds each member's type.

use super::codec::{DecodeResult, Decoder, Encoder};
use super::{ApiKey, Request, Response};

/// ConsumerGroupDescribe request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupDescribeRequest {
    /// The groups.
    pub group_ids: Vec<String>,
    /// Whether to list the authorized operations.
    pub include_authorized_operations: bool,
}

/// Partitions of one topic, with its id and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedTopicPartitions {
    /// The topic's id.
    pub topic_id: [u8; 16],
    /// The topic's name.
    pub topic_name: String,
    /// The partitions.
    pub partitions: Vec<i32>,
}

/// One member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedConsumerMember {
    /// Member id.
    pub member_id: String,
    /// Static membership id.
    pub instance_id: Option<String>,
    /// Rack.
    pub rack_id: Option<String>,
    /// The member's epoch.
    pub member_epoch: i32,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Subscribed topics.
    pub subscribed_topic_names: Vec<String>,
    /// Regex subscription.
    pub subscribed_topic_regex: Option<String>,
    /// What it owns now.
    pub assignment: Vec<DescribedTopicPartitions>,
    /// What it is to own.
    pub target_assignment: Vec<DescribedTopicPartitions>,
    /// v1+: 0 classic member (of a group being upgraded), 1 consumer member; -1 unknown.
    pub member_type: i8,
}

/// One described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedConsumerGroup {
    /// Error.
    pub error_code: i16,
    /// Its explanation.
    pub error_message: Option<String>,
    /// Group id.
    pub group_id: String,
    /// "Empty", "Assigning", "Reconciling", "Stable", "Dead".
    pub group_state: String,
    /// The group epoch.
    pub group_epoch: i32,
    /// The epoch of the target assignment.
    pub assignment_epoch: i32,
    /// The server-side assignor.
    pub assignor_name: String,
    /// The members.
    pub members: Vec<DescribedConsumerMember>,
    /// Authorized operations (bit field), or `i32::MIN`.
    pub authorized_operations: i32,
}

impl DescribedConsumerGroup {
    /// A group the coordinator could not describe: `error_code` and nothing else.
    pub fn failed(group_id: &str, error_code: i16) -> DescribedConsumerGroup {
        DescribedConsumerGroup {
            error_code,
            error_message: None,
            group_id: group_id.to_string(),
            group_state: "Dead".into(),
            group_epoch: -1,
            assignment_epoch: -1,
            assignor_name: String::new(),
            members: Vec::new(),
            authorized_operations: i32::MIN,
        }
    }

    /// A group described: its state, epoch (the assignment's too), assignor and members.
    pub fn new(
        group_id: &str,
        state: &str,
        epoch: i32,
        assignor: &str,
        members: Vec<DescribedConsumerMember>,
    ) -> DescribedConsumerGroup {
        DescribedConsumerGroup {
            group_state: state.into(),
            group_epoch: epoch,
            assignment_epoch: epoch,
            assignor_name: assignor.into(),
            members,
            ..DescribedConsumerGroup::failed(group_id, 0)
        }
    }
}

/// The body of a ConsumerGroupDescribe or ShareGroupDescribe request: the same at every
/// version of both.
pub(crate) fn encode_request(e: &mut Encoder, group_ids: &[String], include_authorized_operations: bool) {
    e.array(group_ids, true, |e, g| e.string(g, true));
    e.bool(include_authorized_operations);
    e.tagged_fields(true);
}

/// The inverse of [`encode_request`]: the group ids and whether to include the operations.
pub(crate) fn decode_request(d: &mut Decoder<'_>) -> DecodeResult<(Vec<String>, bool)> {
    let group_ids = d.array(true, 1, |d| d.string(true))?;
    let include_authorized_operations = d.bool()?;
    d.skip_tagged_fields(true)?;
    Ok((group_ids, include_authorized_operations))
}

/// ConsumerGroupDescribe response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupDescribeResponse {
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// The groups.
    pub groups: Vec<DescribedConsumerGroup>,
}

pub(crate) fn encode_assignment(e: &mut Encoder, tps: &[DescribedTopicPartitions]) {
    e.array(tps, true, |e, t| {
        e.uuid(t.topic_id);
        e.string(&t.topic_name, true);
        e.i32_array(&t.partitions, true);
        e.tagged_fields(true);
    });
    e.tagged_fields(true);
}

pub(crate) fn decode_assignment(d: &mut Decoder<'_>) -> DecodeResult<Vec<DescribedTopicPartitions>> {
    let tps = d.array(true, 19, |d| {
        let topic_id = d.uuid()?;
        let topic_name = d.string(true)?;
        let partitions = d.i32_array(true)?;
        d.skip_tagged_fields(true)?;
        Ok(DescribedTopicPartitions { topic_id, topic_name, partitions })
    })?;
    d.skip_tagged_fields(true)?;
    Ok(tps)
}

impl Request for ConsumerGroupDescribeRequest {
    const KEY: ApiKey = ApiKey::ConsumerGroupDescribe;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 1;
    const FIRST_FLEXIBLE: i16 = 0;
    type Response = ConsumerGroupDescribeResponse;

    fn encode(&self, e: &mut Encoder, _version: i16) {
        encode_request(e, &self.group_ids, self.include_authorized_operations);
    }

    fn decode(d: &mut Decoder<'_>, _version: i16) -> DecodeResult<Self> {
        let (group_ids, include_authorized_operations) = decode_request(d)?;
        Ok(ConsumerGroupDescribeRequest { group_ids, include_authorized_operations })
    }
}

/// The groups of a describe answer, each member written by `member` (ConsumerGroupDescribe's
/// and ShareGroupDescribe's groups differ in their members only).
pub(crate) fn encode_groups(
    e: &mut Encoder,
    groups: &[DescribedConsumerGroup],
    member: impl Fn(&mut Encoder, &DescribedConsumerMember),
) {
    e.array(groups, true, |e, g| {
        e.i16(g.error_code);
        e.nullable_string(g.error_message.as_deref(), true);
        e.string(&g.group_id, true);
        e.string(&g.group_state, true);
        e.i32(g.group_epoch);
        e.i32(g.assignment_epoch);
        e.string(&g.assignor_name, true);
        e.array(&g.members, true, |e, m| {
            member(e, m);
            e.tagged_fields(true);
        });
        e.i32(g.authorized_operations);
        e.tagged_fields(true);
    });
}

/// The inverse of [`encode_groups`].
pub(crate) fn decode_groups(
    d: &mut Decoder<'_>,
    member: impl Fn(&mut Decoder<'_>) -> DecodeResult<DescribedConsumerMember>,
) -> DecodeResult<Vec<DescribedConsumerGroup>> {
    d.array(true, 20, |d| {
        let error_code = d.i16()?;
        let error_message = d.nullable_string(true)?;
        let group_id = d.string(true)?;
        let group_state = d.string(true)?;
        let group_epoch = d.i32()?;
        let assignment_epoch = d.i32()?;
        let assignor_name = d.string(true)?;
        let members = d.array(true, 20, |d| {
            let m = member(d)?;
            d.skip_tagged_fields(true)?;
            Ok(m)
        })?;
        let authorized_operations = d.i32()?;
        d.skip_tagged_fields(true)?;
        Ok(DescribedConsumerGroup {
            error_code,
            error_message,
            group_id,
            group_state,
            group_epoch,
            assignment_epoch,
            assignor_name,
            members,
            authorized_operations,
        })
    })
}

impl Response for ConsumerGroupDescribeResponse {
    fn encode(&self, e: &mut Encoder, version: i16) {
        e.i32(self.throttle_time_ms);
        encode_groups(e, &self.groups, |e, m| {
            e.string(&m.member_id, true);
            e.nullable_string(m.instance_id.as_deref(), true);
            e.nullable_string(m.rack_id.as_deref(), true);
            e.i32(m.member_epoch);
            e.string(&m.client_id, true);
            e.string(&m.client_host, true);
            e.array(&m.subscribed_topic_names, true, |e, t| e.string(t, true));
            e.nullable_string(m.subscribed_topic_regex.as_deref(), true);
            encode_assignment(e, &m.assignment);
            encode_assignment(e, &m.target_assignment);
            if version >= 1 {
                e.i8(m.member_type);
            }
        });
        e.tagged_fields(true);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let throttle_time_ms = d.i32()?;
        let groups = decode_groups(d, |d| {
            Ok(DescribedConsumerMember {
                member_id: d.string(true)?,
                instance_id: d.nullable_string(true)?,
                rack_id: d.nullable_string(true)?,
                member_epoch: d.i32()?,
                client_id: d.string(true)?,
                client_host: d.string(true)?,
                subscribed_topic_names: d.array(true, 1, |d| d.string(true))?,
                subscribed_topic_regex: d.nullable_string(true)?,
                assignment: decode_assignment(d)?,
                target_assignment: decode_assignment(d)?,
                member_type: if version >= 1 { d.i8()? } else { -1 },
            })
        })?;
        d.skip_tagged_fields(true)?;
        Ok(ConsumerGroupDescribeResponse { throttle_time_ms, groups })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::*;

    #[test]
    fn round_trips_every_version_and_rejects_every_truncation() {
        for v in 0..=1 {
            let req =
                ConsumerGroupDescribeRequest { group_ids: vec!["g".into()], include_authorized_operations: false };
            let tps =
                vec![DescribedTopicPartitions { topic_id: [3; 16], topic_name: "t".into(), partitions: vec![0, 1] }];
            let resp = ConsumerGroupDescribeResponse {
                throttle_time_ms: 0,
                groups: vec![DescribedConsumerGroup {
                    error_code: 0,
                    error_message: None,
                    group_id: "g".into(),
                    group_state: "Stable".into(),
                    group_epoch: 4,
                    assignment_epoch: 4,
                    assignor_name: "uniform".into(),
                    members: vec![DescribedConsumerMember {
                        member_id: "m".into(),
                        instance_id: None,
                        rack_id: None,
                        member_epoch: 4,
                        client_id: "c".into(),
                        client_host: "/127.0.0.1".into(),
                        subscribed_topic_names: vec!["t".into()],
                        subscribed_topic_regex: None,
                        assignment: tps.clone(),
                        target_assignment: tps,
                        member_type: if v >= 1 { 1 } else { -1 },
                    }],
                    authorized_operations: i32::MIN,
                }],
            };
            check_codec(&req, &resp, v);
        }
    }
}
