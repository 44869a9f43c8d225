//! OffsetCommit (key 8), v2–v9: store a group's next offsets to read. v9 is v8 again, the first
//! version a member of a consumer-protocol group (KIP-848) may commit with (its epoch where the
//! generation was).
//!
//! A consumer outside any group membership commits with generation -1 and an empty member id,
//! which the group coordinator accepts for a group that has no active members.

use super::codec::{DecodeResult, Decoder, Encoder};
use super::partition_errors;
use super::{ApiKey, Request, Response};

/// OffsetCommit request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitRequest {
    /// The group.
    pub group_id: String,
    /// Generation, -1 outside group membership.
    pub generation_id: i32,
    /// Member id, empty outside group membership.
    pub member_id: String,
    /// v7+: static member id.
    pub group_instance_id: Option<String>,
    /// v2–v4: retention, -1 for the broker's default.
    pub retention_time_ms: i64,
    /// Topics.
    pub topics: Vec<OffsetCommitTopic>,
}

/// A topic in an OffsetCommit request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitTopic {
    /// Topic name.
    pub name: String,
    /// Partitions.
    pub partitions: Vec<OffsetCommitPartition>,
}

/// A partition in an OffsetCommit request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitPartition {
    /// Partition id.
    pub partition_index: i32,
    /// The next offset to read.
    pub committed_offset: i64,
    /// v6+: leader epoch of the last consumed record, -1 if unknown.
    pub committed_leader_epoch: i32,
    /// Free-form metadata.
    pub committed_metadata: Option<String>,
}

/// OffsetCommit response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitResponse {
    /// v3+: throttle time.
    pub throttle_time_ms: i32,
    /// Topics.
    pub topics: Vec<OffsetCommitTopicResponse>,
}

/// A topic in an OffsetCommit response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitTopicResponse {
    /// Topic name.
    pub name: String,
    /// Partitions: (partition, error code).
    pub partitions: Vec<(i32, i16)>,
}

impl Request for OffsetCommitRequest {
    const KEY: ApiKey = ApiKey::OffsetCommit;
    const MIN_VERSION: i16 = 2;
    const MAX_VERSION: i16 = 9;
    const FIRST_FLEXIBLE: i16 = 8;
    type Response = OffsetCommitResponse;

    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = Self::flexible(version);
        e.string(&self.group_id, flex);
        e.i32(self.generation_id);
        e.string(&self.member_id, flex);
        if version >= 7 {
            e.nullable_string(self.group_instance_id.as_deref(), flex);
        }
        if version <= 4 {
            e.i64(self.retention_time_ms);
        }
        e.array(&self.topics, flex, |e, t| {
            e.string(&t.name, flex);
            e.array(&t.partitions, flex, |e, p| {
                e.i32(p.partition_index);
                e.i64(p.committed_offset);
                if version >= 6 {
                    e.i32(p.committed_leader_epoch);
                }
                e.nullable_string(p.committed_metadata.as_deref(), flex);
                e.tagged_fields(flex);
            });
            e.tagged_fields(flex);
        });
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = Self::flexible(version);
        let group_id = d.string(flex)?;
        let generation_id = d.i32()?;
        let member_id = d.string(flex)?;
        let group_instance_id = if version >= 7 { d.nullable_string(flex)? } else { None };
        let retention_time_ms = if version <= 4 { d.i64()? } else { -1 };
        let topics = d.array(flex, 2, |d| {
            let name = d.string(flex)?;
            let partitions = d.array(flex, 13, |d| {
                let p = OffsetCommitPartition {
                    partition_index: d.i32()?,
                    committed_offset: d.i64()?,
                    committed_leader_epoch: if version >= 6 { d.i32()? } else { -1 },
                    committed_metadata: d.nullable_string(flex)?,
                };
                d.skip_tagged_fields(flex)?;
                Ok(p)
            })?;
            d.skip_tagged_fields(flex)?;
            Ok(OffsetCommitTopic { name, partitions })
        })?;
        d.skip_tagged_fields(flex)?;
        Ok(OffsetCommitRequest { group_id, generation_id, member_id, group_instance_id, retention_time_ms, topics })
    }
}

impl Response for OffsetCommitResponse {
    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = OffsetCommitRequest::flexible(version);
        if version >= 3 {
            e.i32(self.throttle_time_ms);
        }
        partition_errors::encode(e, &self.topics, flex, |t| (t.name.as_str(), t.partitions.as_slice()));
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = OffsetCommitRequest::flexible(version);
        let throttle_time_ms = if version >= 3 { d.i32()? } else { 0 };
        let topics = partition_errors::decode(d, flex)?
            .into_iter()
            .map(|(name, partitions)| OffsetCommitTopicResponse { name, partitions })
            .collect();
        d.skip_tagged_fields(flex)?;
        Ok(OffsetCommitResponse { throttle_time_ms, topics })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::*;

    #[test]
    fn round_trips_every_version_and_rejects_every_truncation() {
        for v in 2..=9 {
            let req = OffsetCommitRequest {
                group_id: "g".into(),
                generation_id: -1,
                member_id: String::new(),
                group_instance_id: if v >= 7 { Some("i".into()) } else { None },
                retention_time_ms: -1,
                topics: vec![OffsetCommitTopic {
                    name: "t".into(),
                    partitions: vec![OffsetCommitPartition {
                        partition_index: 0,
                        committed_offset: 5,
                        committed_leader_epoch: -1,
                        committed_metadata: None,
                    }],
                }],
            };
            let bytes = round_trip_request(&req, v);
            assert_every_request_prefix_fails::<OffsetCommitRequest>(&bytes, v);
            let resp = OffsetCommitResponse {
                throttle_time_ms: if v >= 3 { 1 } else { 0 },
                topics: vec![OffsetCommitTopicResponse { name: "t".into(), partitions: vec![(0, 0), (1, 16)] }],
            };
            let bytes = round_trip_response::<OffsetCommitRequest>(&resp, v);
            assert_every_prefix_fails::<OffsetCommitRequest>(&bytes, v);
        }
    }
}
