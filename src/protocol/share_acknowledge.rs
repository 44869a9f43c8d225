//! ShareAcknowledge (key 79), v1–v2: a share group member acknowledges records without
//! fetching more (KIP-932): before it closes its share session (epoch -1), or when the
//! application wants its acknowledgements known now. The acknowledgements are ShareFetch's;
//! v2 adds type 4, renew (KIP-1222): the record stays acquired and its lock starts again.

use super::codec::{DecodeResult, Decoder, Encoder};
use super::share_fetch::{
    decode_endpoints, decode_leader, decode_topics, encode_endpoints, encode_leader, encode_topics, NodeEndpoint,
    ShareTopic,
};
use super::{ApiKey, Request, Response};

/// ShareAcknowledge request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareAcknowledgeRequest {
    /// The share group.
    pub group_id: Option<String>,
    /// The member.
    pub member_id: Option<String>,
    /// The session's next epoch, or -1 to close it.
    pub share_session_epoch: i32,
    /// v2+: whether any acknowledgement is a renewal (type 4); v1 has none.
    pub is_renew_ack: bool,
    /// The acknowledgements, by topic id and partition.
    pub topics: Vec<ShareTopic>,
}

/// A partition of a ShareAcknowledge answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareAcknowledgePartition {
    /// The partition.
    pub partition: i32,
    /// Error.
    pub error_code: i16,
    /// Its explanation.
    pub error_message: Option<String>,
    /// The current leader's id (-1 unknown) and epoch.
    pub current_leader: (i32, i32),
}

/// ShareAcknowledge response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareAcknowledgeResponse {
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// Error.
    pub error_code: i16,
    /// Its explanation.
    pub error_message: Option<String>,
    /// v2+: how long a renewed record stays locked now (0 before v2).
    pub acquisition_lock_timeout_ms: i32,
    /// Per topic id, the partitions.
    pub responses: Vec<([u8; 16], Vec<ShareAcknowledgePartition>)>,
    /// Leaders named in NOT_LEADER_OR_FOLLOWER answers: (id, host, port, rack).
    pub node_endpoints: Vec<NodeEndpoint>,
}

impl Request for ShareAcknowledgeRequest {
    const KEY: ApiKey = ApiKey::ShareAcknowledge;
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 2;
    const FIRST_FLEXIBLE: i16 = 0;
    type Response = ShareAcknowledgeResponse;

    fn encode(&self, e: &mut Encoder, version: i16) {
        e.nullable_string(self.group_id.as_deref(), true);
        e.nullable_string(self.member_id.as_deref(), true);
        e.i32(self.share_session_epoch);
        if version >= 2 {
            e.bool(self.is_renew_ack);
        }
        encode_topics(e, &self.topics);
        e.tagged_fields(true);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let group_id = d.nullable_string(true)?;
        let member_id = d.nullable_string(true)?;
        let share_session_epoch = d.i32()?;
        let is_renew_ack = version >= 2 && d.bool()?;
        let topics = decode_topics(d)?;
        d.skip_tagged_fields(true)?;
        Ok(ShareAcknowledgeRequest { group_id, member_id, share_session_epoch, is_renew_ack, topics })
    }
}

impl Response for ShareAcknowledgeResponse {
    fn encode(&self, e: &mut Encoder, version: i16) {
        e.i32(self.throttle_time_ms);
        e.i16(self.error_code);
        e.nullable_string(self.error_message.as_deref(), true);
        if version >= 2 {
            e.i32(self.acquisition_lock_timeout_ms);
        }
        e.array(&self.responses, true, |e, (id, parts)| {
            e.uuid(*id);
            e.array(parts, true, |e, p| {
                e.i32(p.partition);
                e.i16(p.error_code);
                e.nullable_string(p.error_message.as_deref(), true);
                encode_leader(e, p.current_leader);
                e.tagged_fields(true);
            });
            e.tagged_fields(true);
        });
        encode_endpoints(e, &self.node_endpoints);
        e.tagged_fields(true);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let throttle_time_ms = d.i32()?;
        let error_code = d.i16()?;
        let error_message = d.nullable_string(true)?;
        let acquisition_lock_timeout_ms = if version >= 2 { d.i32()? } else { 0 };
        let responses = d.array(true, 18, |d| {
            let id = d.uuid()?;
            let parts = d.array(true, 16, |d| {
                let p = ShareAcknowledgePartition {
                    partition: d.i32()?,
                    error_code: d.i16()?,
                    error_message: d.nullable_string(true)?,
                    current_leader: decode_leader(d)?,
                };
                d.skip_tagged_fields(true)?;
                Ok(p)
            })?;
            d.skip_tagged_fields(true)?;
            Ok((id, parts))
        })?;
        let node_endpoints = decode_endpoints(d)?;
        d.skip_tagged_fields(true)?;
        Ok(ShareAcknowledgeResponse {
            throttle_time_ms,
            error_code,
            error_message,
            acquisition_lock_timeout_ms,
            responses,
            node_endpoints,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::share_fetch::{AcknowledgementBatch, SharePartition};
    use crate::protocol::test_util::*;

    #[test]
    fn round_trips_and_rejects_every_truncation() {
        for version in 1..=2 {
            check_version(version);
        }
    }

    fn check_version(version: i16) {
        let req = ShareAcknowledgeRequest {
            group_id: Some("g".into()),
            member_id: Some("m".into()),
            share_session_epoch: -1,
            is_renew_ack: version >= 2,
            topics: vec![ShareTopic {
                topic_id: [4; 16],
                partitions: vec![SharePartition {
                    partition: 2,
                    acknowledgements: vec![AcknowledgementBatch {
                        first_offset: 0,
                        last_offset: 9,
                        acknowledge_types: vec![if version >= 2 { 4 } else { 1 }],
                    }],
                }],
            }],
        };
        let resp = ShareAcknowledgeResponse {
            throttle_time_ms: 0,
            error_code: 0,
            error_message: None,
            acquisition_lock_timeout_ms: if version >= 2 { 15_000 } else { 0 },
            responses: vec![(
                [4; 16],
                vec![ShareAcknowledgePartition {
                    partition: 2,
                    error_code: 0,
                    error_message: None,
                    current_leader: (1, 3),
                }],
            )],
            node_endpoints: vec![],
        };
        check_codec(&req, &resp, version);
    }
}
