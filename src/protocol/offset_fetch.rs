//! OffsetFetch (key 9), v1–v8: a group's committed offsets.
//!
//! v8 (KIP-709) batches groups; plainkafka asks for one group and reads it back in the same
//! shape as earlier versions.

use super::codec::{DecodeResult, Decoder, Encoder};
use super::{ApiKey, Request, Response};

/// OffsetFetch request for one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetFetchRequest {
    /// The group.
    pub group_id: String,
    /// Topics and partitions; `None` (v2+) asks for every committed partition.
    pub topics: Option<Vec<OffsetFetchRequestTopic>>,
    /// v7+: wait for pending transactional offsets instead of answering UNSTABLE_OFFSET_COMMIT.
    pub require_stable: bool,
}

/// A topic in an OffsetFetch request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetFetchRequestTopic {
    /// Topic name.
    pub name: String,
    /// Partitions.
    pub partition_indexes: Vec<i32>,
}

/// OffsetFetch response for one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetFetchResponse {
    /// v3+: throttle time.
    pub throttle_time_ms: i32,
    /// v8+: the group answered for (the Java client looks its group up by this id).
    pub group_id: String,
    /// Topics.
    pub topics: Vec<OffsetFetchTopic>,
    /// v2+: group-level error.
    pub error_code: i16,
}

/// A topic in an OffsetFetch response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetFetchTopic {
    /// Topic name.
    pub name: String,
    /// Partitions.
    pub partitions: Vec<OffsetFetchPartition>,
}

/// A partition in an OffsetFetch response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetFetchPartition {
    /// Partition id.
    pub partition_index: i32,
    /// The committed offset (the next to read), -1 when nothing is committed.
    pub committed_offset: i64,
    /// v5+: leader epoch of the commit.
    pub committed_leader_epoch: i32,
    /// Metadata stored with the commit.
    pub metadata: Option<String>,
    /// Error.
    pub error_code: i16,
}

fn encode_topics(e: &mut Encoder, topics: &Option<Vec<OffsetFetchRequestTopic>>, flex: bool) {
    match topics {
        None => e.array_len(None, flex),
        Some(t) => e.array(t, flex, |e, t| {
            e.string(&t.name, flex);
            e.i32_array(&t.partition_indexes, flex);
            e.tagged_fields(flex);
        }),
    }
}

fn decode_topics(d: &mut Decoder<'_>, flex: bool) -> DecodeResult<Option<Vec<OffsetFetchRequestTopic>>> {
    let Some(n) = d.array_len(flex, 2)? else { return Ok(None) };
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(OffsetFetchRequestTopic { name: d.string(flex)?, partition_indexes: d.i32_array(flex)? });
        d.skip_tagged_fields(flex)?;
    }
    Ok(Some(out))
}

fn encode_resp_topics(e: &mut Encoder, topics: &[OffsetFetchTopic], version: i16, flex: bool) {
    e.array(topics, flex, |e, t| {
        e.string(&t.name, flex);
        e.array(&t.partitions, flex, |e, p| {
            e.i32(p.partition_index);
            e.i64(p.committed_offset);
            if version >= 5 {
                e.i32(p.committed_leader_epoch);
            }
            e.nullable_string(p.metadata.as_deref(), flex);
            e.i16(p.error_code);
            e.tagged_fields(flex);
        });
        e.tagged_fields(flex);
    });
}

fn decode_resp_topics(d: &mut Decoder<'_>, version: i16, flex: bool) -> DecodeResult<Vec<OffsetFetchTopic>> {
    d.array(flex, 2, |d| {
        let name = d.string(flex)?;
        let partitions = d.array(flex, 16, |d| {
            let p = OffsetFetchPartition {
                partition_index: d.i32()?,
                committed_offset: d.i64()?,
                committed_leader_epoch: if version >= 5 { d.i32()? } else { -1 },
                metadata: d.nullable_string(flex)?,
                error_code: d.i16()?,
            };
            d.skip_tagged_fields(flex)?;
            Ok(p)
        })?;
        d.skip_tagged_fields(flex)?;
        Ok(OffsetFetchTopic { name, partitions })
    })
}

impl Request for OffsetFetchRequest {
    const KEY: ApiKey = ApiKey::OffsetFetch;
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 8;
    const FIRST_FLEXIBLE: i16 = 6;
    type Response = OffsetFetchResponse;

    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = Self::flexible(version);
        if version >= 8 {
            e.array_len(Some(1), flex);
            e.string(&self.group_id, flex);
            encode_topics(e, &self.topics, flex);
            e.tagged_fields(flex);
        } else {
            e.string(&self.group_id, flex);
            encode_topics(e, &self.topics, flex);
        }
        if version >= 7 {
            e.bool(self.require_stable);
        }
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = Self::flexible(version);
        let (group_id, topics) = if version >= 8 {
            let mut groups = d.array(flex, 2, |d| {
                let g = (d.string(flex)?, decode_topics(d, flex)?);
                d.skip_tagged_fields(flex)?;
                Ok(g)
            })?;
            if groups.len() != 1 {
                return Err(d.error(
                    "OffsetFetch groups",
                    super::codec::DecodeErrorKind::Invalid(format!("{} groups; this codec models one", groups.len())),
                ));
            }
            groups.remove(0)
        } else {
            (d.string(flex)?, decode_topics(d, flex)?)
        };
        let require_stable = if version >= 7 { d.bool()? } else { false };
        d.skip_tagged_fields(flex)?;
        Ok(OffsetFetchRequest { group_id, topics, require_stable })
    }
}

impl Response for OffsetFetchResponse {
    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = OffsetFetchRequest::flexible(version);
        if version >= 3 {
            e.i32(self.throttle_time_ms);
        }
        if version >= 8 {
            e.array_len(Some(1), flex);
            e.string(&self.group_id, flex);
            encode_resp_topics(e, &self.topics, version, flex);
            e.i16(self.error_code);
            e.tagged_fields(flex);
        } else {
            encode_resp_topics(e, &self.topics, version, flex);
            if version >= 2 {
                e.i16(self.error_code);
            }
        }
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = OffsetFetchRequest::flexible(version);
        let throttle_time_ms = if version >= 3 { d.i32()? } else { 0 };
        let (group_id, topics, error_code) = if version >= 8 {
            let mut groups = d.array(flex, 4, |d| {
                let group_id = d.string(flex)?;
                let topics = decode_resp_topics(d, version, flex)?;
                let error_code = d.i16()?;
                d.skip_tagged_fields(flex)?;
                Ok((group_id, topics, error_code))
            })?;
            if groups.is_empty() {
                (String::new(), Vec::new(), 0)
            } else {
                groups.swap_remove(0)
            }
        } else {
            let topics = decode_resp_topics(d, version, flex)?;
            let error_code = if version >= 2 { d.i16()? } else { 0 };
            (String::new(), topics, error_code)
        };
        d.skip_tagged_fields(flex)?;
        Ok(OffsetFetchResponse { throttle_time_ms, group_id, topics, error_code })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::*;

    #[test]
    fn round_trips_every_version_and_rejects_every_truncation() {
        for v in 1..=8 {
            let topics = if v >= 2 {
                vec![None, Some(vec![OffsetFetchRequestTopic { name: "t".into(), partition_indexes: vec![0, 1] }])]
            } else {
                vec![Some(vec![OffsetFetchRequestTopic { name: "t".into(), partition_indexes: vec![0, 1] }])]
            };
            for topics in topics {
                let req = OffsetFetchRequest { group_id: "g".into(), topics, require_stable: v >= 7 };
                let bytes = round_trip_request(&req, v);
                assert_every_request_prefix_fails::<OffsetFetchRequest>(&bytes, v);
            }
            let resp = OffsetFetchResponse {
                throttle_time_ms: if v >= 3 { 1 } else { 0 },
                group_id: if v >= 8 { "g".into() } else { String::new() },
                topics: vec![OffsetFetchTopic {
                    name: "t".into(),
                    partitions: vec![OffsetFetchPartition {
                        partition_index: 0,
                        committed_offset: 5,
                        committed_leader_epoch: if v >= 5 { 1 } else { -1 },
                        metadata: Some(String::new()),
                        error_code: 0,
                    }],
                }],
                error_code: 0,
            };
            let bytes = round_trip_response::<OffsetFetchRequest>(&resp, v);
            assert_every_prefix_fails::<OffsetFetchRequest>(&bytes, v);
        }
    }
}
