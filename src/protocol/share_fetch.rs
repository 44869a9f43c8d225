//! ShareFetch (key 78), v1: records for a share group member (KIP-932). The member asks a
//! partition leader for records and, in the same request, acknowledges what it processed; the
//! leader answers with records it *acquired* for this member (locked for the acquisition lock
//! timeout) and how many times each range was delivered. Requests ride a share session per
//! leader: epoch 0 opens it, each next request increments it, and partitions stay in it until
//! forgotten. v2 (renewing locks, KIP-1222) is not spoken.

use super::codec::{DecodeResult, Decoder, Encoder};
use super::{ApiKey, Request, Response};

/// A leader named in a NOT_LEADER_OR_FOLLOWER answer: (node id, host, port, rack).
pub type NodeEndpoint = (i32, String, i32, Option<String>);

/// An acknowledgement: for offsets `first_offset..=last_offset`, one type for all or one per
/// offset: 0 gap (no record there), 1 accept, 2 release (deliver again), 3 reject (archive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcknowledgementBatch {
    /// First offset acknowledged.
    pub first_offset: i64,
    /// Last offset acknowledged (inclusive).
    pub last_offset: i64,
    /// The types.
    pub acknowledge_types: Vec<i8>,
}

/// A partition of a ShareFetch (or ShareAcknowledge) request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharePartition {
    /// The partition.
    pub partition: i32,
    /// Acknowledgements of records delivered before.
    pub acknowledgements: Vec<AcknowledgementBatch>,
}

/// Partitions of one topic, by topic id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareTopic {
    /// The topic's id.
    pub topic_id: [u8; 16],
    /// The partitions.
    pub partitions: Vec<SharePartition>,
}

/// ShareFetch request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareFetchRequest {
    /// The share group.
    pub group_id: Option<String>,
    /// The member.
    pub member_id: Option<String>,
    /// 0 opens a session, -1 closes it, else the next epoch.
    pub share_session_epoch: i32,
    /// How long the leader may wait for records.
    pub max_wait_ms: i32,
    /// How many bytes make it answer at once.
    pub min_bytes: i32,
    /// At most this many bytes.
    pub max_bytes: i32,
    /// At most about this many records.
    pub max_records: i32,
    /// The preferred size of acquired ranges.
    pub batch_size: i32,
    /// What to fetch (and acknowledge).
    pub topics: Vec<ShareTopic>,
    /// Partitions to take out of the session.
    pub forgotten: Vec<(/* topic id */ [u8; 16], Vec<i32>)>,
}

/// Offsets acquired for the member, and how many times they were delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquiredRecords {
    /// First offset.
    pub first_offset: i64,
    /// Last offset (inclusive).
    pub last_offset: i64,
    /// Deliveries so far, this one included.
    pub delivery_count: i16,
}

/// A partition of a ShareFetch answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareFetchPartition {
    /// The partition.
    pub partition: i32,
    /// The fetch's error.
    pub error_code: i16,
    /// Its explanation.
    pub error_message: Option<String>,
    /// The acknowledgements' error.
    pub acknowledge_error_code: i16,
    /// Its explanation.
    pub acknowledge_error_message: Option<String>,
    /// The current leader's id (-1 unknown) and epoch.
    pub current_leader: (i32, i32),
    /// Record batches, possibly holding records outside the acquired ranges.
    pub records: Option<Vec<u8>>,
    /// What was acquired for the member.
    pub acquired: Vec<AcquiredRecords>,
}

/// ShareFetch response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareFetchResponse {
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// Error.
    pub error_code: i16,
    /// Its explanation.
    pub error_message: Option<String>,
    /// How long acquired records stay locked.
    pub acquisition_lock_timeout_ms: i32,
    /// Per topic id, the partitions.
    pub responses: Vec<([u8; 16], Vec<ShareFetchPartition>)>,
    /// Leaders named in NOT_LEADER_OR_FOLLOWER answers: (id, host, port, rack).
    pub node_endpoints: Vec<NodeEndpoint>,
}

pub(crate) fn encode_topics(e: &mut Encoder, topics: &[ShareTopic]) {
    e.array(topics, true, |e, t| {
        e.uuid(t.topic_id);
        e.array(&t.partitions, true, |e, p| {
            e.i32(p.partition);
            e.array(&p.acknowledgements, true, |e, b| {
                e.i64(b.first_offset);
                e.i64(b.last_offset);
                e.array(&b.acknowledge_types, true, |e, t| e.i8(*t));
                e.tagged_fields(true);
            });
            e.tagged_fields(true);
        });
        e.tagged_fields(true);
    });
}

pub(crate) fn decode_topics(d: &mut Decoder<'_>) -> DecodeResult<Vec<ShareTopic>> {
    d.array(true, 18, |d| {
        let topic_id = d.uuid()?;
        let partitions = d.array(true, 6, |d| {
            let partition = d.i32()?;
            let acknowledgements = d.array(true, 18, |d| {
                let b = AcknowledgementBatch {
                    first_offset: d.i64()?,
                    last_offset: d.i64()?,
                    acknowledge_types: d.array(true, 1, |d| d.i8())?,
                };
                d.skip_tagged_fields(true)?;
                Ok(b)
            })?;
            d.skip_tagged_fields(true)?;
            Ok(SharePartition { partition, acknowledgements })
        })?;
        d.skip_tagged_fields(true)?;
        Ok(ShareTopic { topic_id, partitions })
    })
}

pub(crate) fn encode_leader(e: &mut Encoder, (id, epoch): (i32, i32)) {
    e.i32(id);
    e.i32(epoch);
    e.tagged_fields(true);
}

pub(crate) fn decode_leader(d: &mut Decoder<'_>) -> DecodeResult<(i32, i32)> {
    let l = (d.i32()?, d.i32()?);
    d.skip_tagged_fields(true)?;
    Ok(l)
}

pub(crate) fn encode_endpoints(e: &mut Encoder, nodes: &[NodeEndpoint]) {
    e.array(nodes, true, |e, (id, host, port, rack)| {
        e.i32(*id);
        e.string(host, true);
        e.i32(*port);
        e.nullable_string(rack.as_deref(), true);
        e.tagged_fields(true);
    });
}

pub(crate) fn decode_endpoints(d: &mut Decoder<'_>) -> DecodeResult<Vec<NodeEndpoint>> {
    d.array(true, 11, |d| {
        let n = (d.i32()?, d.string(true)?, d.i32()?, d.nullable_string(true)?);
        d.skip_tagged_fields(true)?;
        Ok(n)
    })
}

impl Request for ShareFetchRequest {
    const KEY: ApiKey = ApiKey::ShareFetch;
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 1;
    const FIRST_FLEXIBLE: i16 = 0;
    type Response = ShareFetchResponse;

    fn encode(&self, e: &mut Encoder, _version: i16) {
        e.nullable_string(self.group_id.as_deref(), true);
        e.nullable_string(self.member_id.as_deref(), true);
        e.i32(self.share_session_epoch);
        e.i32(self.max_wait_ms);
        e.i32(self.min_bytes);
        e.i32(self.max_bytes);
        e.i32(self.max_records);
        e.i32(self.batch_size);
        encode_topics(e, &self.topics);
        e.array(&self.forgotten, true, |e, (id, ps)| {
            e.uuid(*id);
            e.i32_array(ps, true);
            e.tagged_fields(true);
        });
        e.tagged_fields(true);
    }

    fn decode(d: &mut Decoder<'_>, _version: i16) -> DecodeResult<Self> {
        let group_id = d.nullable_string(true)?;
        let member_id = d.nullable_string(true)?;
        let share_session_epoch = d.i32()?;
        let max_wait_ms = d.i32()?;
        let min_bytes = d.i32()?;
        let max_bytes = d.i32()?;
        let max_records = d.i32()?;
        let batch_size = d.i32()?;
        let topics = decode_topics(d)?;
        let forgotten = d.array(true, 18, |d| {
            let f = (d.uuid()?, d.i32_array(true)?);
            d.skip_tagged_fields(true)?;
            Ok(f)
        })?;
        d.skip_tagged_fields(true)?;
        Ok(ShareFetchRequest {
            group_id,
            member_id,
            share_session_epoch,
            max_wait_ms,
            min_bytes,
            max_bytes,
            max_records,
            batch_size,
            topics,
            forgotten,
        })
    }
}

impl Response for ShareFetchResponse {
    fn encode(&self, e: &mut Encoder, _version: i16) {
        e.i32(self.throttle_time_ms);
        e.i16(self.error_code);
        e.nullable_string(self.error_message.as_deref(), true);
        e.i32(self.acquisition_lock_timeout_ms);
        e.array(&self.responses, true, |e, (id, parts)| {
            e.uuid(*id);
            e.array(parts, true, |e, p| {
                e.i32(p.partition);
                e.i16(p.error_code);
                e.nullable_string(p.error_message.as_deref(), true);
                e.i16(p.acknowledge_error_code);
                e.nullable_string(p.acknowledge_error_message.as_deref(), true);
                encode_leader(e, p.current_leader);
                e.nullable_bytes(p.records.as_deref(), true);
                e.array(&p.acquired, true, |e, a| {
                    e.i64(a.first_offset);
                    e.i64(a.last_offset);
                    e.i16(a.delivery_count);
                    e.tagged_fields(true);
                });
                e.tagged_fields(true);
            });
            e.tagged_fields(true);
        });
        encode_endpoints(e, &self.node_endpoints);
        e.tagged_fields(true);
    }

    fn decode(d: &mut Decoder<'_>, _version: i16) -> DecodeResult<Self> {
        let throttle_time_ms = d.i32()?;
        let error_code = d.i16()?;
        let error_message = d.nullable_string(true)?;
        let acquisition_lock_timeout_ms = d.i32()?;
        let responses = d.array(true, 18, |d| {
            let id = d.uuid()?;
            let parts = d.array(true, 22, |d| {
                let partition = d.i32()?;
                let error_code = d.i16()?;
                let error_message = d.nullable_string(true)?;
                let acknowledge_error_code = d.i16()?;
                let acknowledge_error_message = d.nullable_string(true)?;
                let current_leader = decode_leader(d)?;
                let records = d.nullable_bytes(true)?.map(<[u8]>::to_vec);
                let acquired = d.array(true, 19, |d| {
                    let a = AcquiredRecords { first_offset: d.i64()?, last_offset: d.i64()?, delivery_count: d.i16()? };
                    d.skip_tagged_fields(true)?;
                    Ok(a)
                })?;
                d.skip_tagged_fields(true)?;
                Ok(ShareFetchPartition {
                    partition,
                    error_code,
                    error_message,
                    acknowledge_error_code,
                    acknowledge_error_message,
                    current_leader,
                    records,
                    acquired,
                })
            })?;
            d.skip_tagged_fields(true)?;
            Ok((id, parts))
        })?;
        let node_endpoints = decode_endpoints(d)?;
        d.skip_tagged_fields(true)?;
        Ok(ShareFetchResponse {
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
    use crate::protocol::test_util::*;

    #[test]
    fn round_trips_and_rejects_every_truncation() {
        let req = ShareFetchRequest {
            group_id: Some("g".into()),
            member_id: Some("m".into()),
            share_session_epoch: 1,
            max_wait_ms: 500,
            min_bytes: 1,
            max_bytes: 1 << 20,
            max_records: 500,
            batch_size: 500,
            topics: vec![ShareTopic {
                topic_id: [4; 16],
                partitions: vec![SharePartition {
                    partition: 0,
                    acknowledgements: vec![AcknowledgementBatch {
                        first_offset: 3,
                        last_offset: 5,
                        acknowledge_types: vec![1, 0, 2],
                    }],
                }],
            }],
            forgotten: vec![([5; 16], vec![1])],
        };
        let resp = ShareFetchResponse {
            throttle_time_ms: 0,
            error_code: 0,
            error_message: None,
            acquisition_lock_timeout_ms: 30_000,
            responses: vec![(
                [4; 16],
                vec![ShareFetchPartition {
                    partition: 0,
                    error_code: 0,
                    error_message: None,
                    acknowledge_error_code: 0,
                    acknowledge_error_message: None,
                    current_leader: (1, 0),
                    records: Some(vec![1, 2, 3]),
                    acquired: vec![AcquiredRecords { first_offset: 6, last_offset: 9, delivery_count: 2 }],
                }],
            )],
            node_endpoints: vec![(1, "h".into(), 9092, None)],
        };
        check_codec(&req, &resp, 1);
    }
}
