//! ShareGroupDescribe (key 77), v1: a share group (KIP-932) as its coordinator sees it: state,
//! epochs, assignor, and each member's subscription and partitions. The answer's groups are
//! ConsumerGroupDescribe's; a share member has no instance id, regex or target assignment, and
//! those stay empty.

use super::codec::{DecodeResult, Decoder, Encoder};
use super::consumer_group_describe::{
    decode_assignment, decode_groups, decode_request, encode_assignment, encode_groups, encode_request,
    DescribedConsumerGroup, DescribedConsumerMember,
};
use super::{ApiKey, Request, Response};

/// ShareGroupDescribe request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareGroupDescribeRequest {
    /// The groups.
    pub group_ids: Vec<String>,
    /// Whether to list the authorized operations.
    pub include_authorized_operations: bool,
}

/// ShareGroupDescribe response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareGroupDescribeResponse {
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// The groups.
    pub groups: Vec<DescribedConsumerGroup>,
}

impl Request for ShareGroupDescribeRequest {
    const KEY: ApiKey = ApiKey::ShareGroupDescribe;
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 1;
    const FIRST_FLEXIBLE: i16 = 0;
    type Response = ShareGroupDescribeResponse;

    fn encode(&self, e: &mut Encoder, _version: i16) {
        encode_request(e, &self.group_ids, self.include_authorized_operations);
    }

    fn decode(d: &mut Decoder<'_>, _version: i16) -> DecodeResult<Self> {
        let (group_ids, include_authorized_operations) = decode_request(d)?;
        Ok(ShareGroupDescribeRequest { group_ids, include_authorized_operations })
    }
}

impl Response for ShareGroupDescribeResponse {
    fn encode(&self, e: &mut Encoder, _version: i16) {
        e.i32(self.throttle_time_ms);
        encode_groups(e, &self.groups, |e, m| {
            e.string(&m.member_id, true);
            e.nullable_string(m.rack_id.as_deref(), true);
            e.i32(m.member_epoch);
            e.string(&m.client_id, true);
            e.string(&m.client_host, true);
            e.array(&m.subscribed_topic_names, true, |e, t| e.string(t, true));
            encode_assignment(e, &m.assignment);
        });
        e.tagged_fields(true);
    }

    fn decode(d: &mut Decoder<'_>, _version: i16) -> DecodeResult<Self> {
        let throttle_time_ms = d.i32()?;
        let groups = decode_groups(d, |d| {
            Ok(DescribedConsumerMember {
                member_id: d.string(true)?,
                rack_id: d.nullable_string(true)?,
                member_epoch: d.i32()?,
                client_id: d.string(true)?,
                client_host: d.string(true)?,
                subscribed_topic_names: d.array(true, 1, |d| d.string(true))?,
                assignment: decode_assignment(d)?,
                instance_id: None,
                subscribed_topic_regex: None,
                target_assignment: Vec::new(),
                member_type: -1,
            })
        })?;
        d.skip_tagged_fields(true)?;
        Ok(ShareGroupDescribeResponse { throttle_time_ms, groups })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::consumer_group_describe::DescribedTopicPartitions;
    use crate::protocol::test_util::*;

    #[test]
    fn round_trips_and_rejects_every_truncation() {
        let req = ShareGroupDescribeRequest { group_ids: vec!["q".into()], include_authorized_operations: false };
        let resp = ShareGroupDescribeResponse {
            throttle_time_ms: 0,
            groups: vec![DescribedConsumerGroup {
                error_code: 0,
                error_message: None,
                group_id: "q".into(),
                group_state: "Stable".into(),
                group_epoch: 3,
                assignment_epoch: 3,
                assignor_name: "simple".into(),
                members: vec![DescribedConsumerMember {
                    member_id: "m".into(),
                    instance_id: None,
                    rack_id: Some("r1".into()),
                    member_epoch: 3,
                    client_id: "c".into(),
                    client_host: "/127.0.0.1".into(),
                    subscribed_topic_names: vec!["t".into()],
                    subscribed_topic_regex: None,
                    assignment: vec![DescribedTopicPartitions {
                        topic_id: [5; 16],
                        topic_name: "t".into(),
                        partitions: vec![0, 1, 2],
                    }],
                    target_assignment: Vec::new(),
                    member_type: -1,
                }],
                authorized_operations: i32::MIN,
            }],
        };
        check_codec(&req, &resp, 1);
    }
}
