//! Fetch (key 1), v4–v17: read record batches from partition leaders.
//!
//! v7+ carry an incremental fetch session (KIP-227): the broker remembers the partitions and
//! offsets of the last request, and the next names only what changed and what to forget.
//! v13+ name topics by id (KIP-516), not by name. v15 drops the replica id (consumers never
//! needed it); v16–v17 add tagged fields only replicas use.

use super::codec::{DecodeResult, Decoder, Encoder, FrameBytes};
use super::{ApiKey, Request, Response};

/// Fetch request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    /// -1 for a consumer.
    pub replica_id: i32,
    /// How long the broker may wait for `min_bytes`.
    pub max_wait_ms: i32,
    /// The least data the broker should gather before answering.
    pub min_bytes: i32,
    /// v3+: the most data in the whole response.
    pub max_bytes: i32,
    /// v4+: 0 = read uncommitted, 1 = read committed.
    pub isolation_level: i8,
    /// v7+: fetch session id (0: none).
    pub session_id: i32,
    /// v7+: fetch session epoch (-1: no session).
    pub session_epoch: i32,
    /// Topics.
    pub topics: Vec<FetchTopic>,
    /// v7+: partitions to take out of the fetch session.
    pub forgotten: Vec<ForgottenTopic>,
    /// v11+: the client's rack.
    pub rack_id: String,
}

/// A topic in a Fetch request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchTopic {
    /// Topic name (before v13).
    pub topic: String,
    /// v13+: the topic's id.
    pub topic_id: [u8; 16],
    /// Partitions.
    pub partitions: Vec<FetchPartition>,
}

/// Partitions of a topic to take out of a fetch session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForgottenTopic {
    /// Topic name (before v13).
    pub topic: String,
    /// v13+: the topic's id.
    pub topic_id: [u8; 16],
    /// The partitions.
    pub partitions: Vec<i32>,
}

/// A partition in a Fetch request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPartition {
    /// Partition id.
    pub partition: i32,
    /// v9+: the leader epoch the client knows, -1 for none.
    pub current_leader_epoch: i32,
    /// The offset to read from.
    pub fetch_offset: i64,
    /// v12+: the epoch of the last fetched record, -1 for none.
    pub last_fetched_epoch: i32,
    /// v5+: the follower's log start offset (-1 for a consumer).
    pub log_start_offset: i64,
    /// The most data to return for this partition.
    pub partition_max_bytes: i32,
}

/// Fetch response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchResponse {
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// v7+: top-level error.
    pub error_code: i16,
    /// v7+: fetch session id.
    pub session_id: i32,
    /// Topics.
    pub responses: Vec<FetchTopicResponse>,
}

/// A topic in a Fetch response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchTopicResponse {
    /// Topic name (before v13).
    pub topic: String,
    /// v13+: the topic's id.
    pub topic_id: [u8; 16],
    /// Partitions.
    pub partitions: Vec<FetchPartitionResponse>,
}

/// An aborted transaction in a Fetch response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTransaction {
    /// Producer id.
    pub producer_id: i64,
    /// First offset of the aborted transaction.
    pub first_offset: i64,
}

/// A partition in a Fetch response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPartitionResponse {
    /// Partition id.
    pub partition_index: i32,
    /// Error.
    pub error_code: i16,
    /// The high watermark.
    pub high_watermark: i64,
    /// v4+: the last stable offset.
    pub last_stable_offset: i64,
    /// v5+: the log start offset.
    pub log_start_offset: i64,
    /// v4+: aborted transactions in the returned range (null when none).
    pub aborted_transactions: Option<Vec<AbortedTransaction>>,
    /// v11+: the preferred read replica, -1 for the leader.
    pub preferred_read_replica: i32,
    /// The record data: record batches or legacy message sets, possibly ending in a partial one.
    /// Decoded from a shared frame, they are a range of it when no other partition brought any.
    pub records: Option<FrameBytes>,
    /// v12+ (tagged field 0, KIP-320 through KIP-595): the fetch's last fetched epoch ends
    /// before the fetch offset in the leader's log, which diverged from what was read.
    pub diverging_epoch: Option<EpochEndOffset>,
}

/// Where a leader epoch ends in the leader's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEndOffset {
    /// The epoch.
    pub epoch: i32,
    /// The offset after its last record.
    pub end_offset: i64,
}

impl Request for FetchRequest {
    const KEY: ApiKey = ApiKey::Fetch;
    const MIN_VERSION: i16 = 4;
    const MAX_VERSION: i16 = 17;
    const FIRST_FLEXIBLE: i16 = 12;
    type Response = FetchResponse;

    /// Topics travel by id from v13: a request naming a topic whose id is unknown (all zero)
    /// stays at v12.
    fn max_version(&self) -> i16 {
        let by_id =
            self.topics.iter().all(|t| t.topic_id != [0; 16]) && self.forgotten.iter().all(|t| t.topic_id != [0; 16]);
        if by_id {
            Self::MAX_VERSION
        } else {
            12
        }
    }

    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = Self::flexible(version);
        if version < 15 {
            e.i32(self.replica_id);
        }
        e.i32(self.max_wait_ms);
        e.i32(self.min_bytes);
        e.i32(self.max_bytes);
        e.i8(self.isolation_level);
        if version >= 7 {
            e.i32(self.session_id);
            e.i32(self.session_epoch);
        }
        e.array(&self.topics, flex, |e, t| {
            encode_topic(e, &t.topic, t.topic_id, version);
            e.array(&t.partitions, flex, |e, p| {
                e.i32(p.partition);
                if version >= 9 {
                    e.i32(p.current_leader_epoch);
                }
                e.i64(p.fetch_offset);
                if version >= 12 {
                    e.i32(p.last_fetched_epoch);
                }
                if version >= 5 {
                    e.i64(p.log_start_offset);
                }
                e.i32(p.partition_max_bytes);
                e.tagged_fields(flex);
            });
            e.tagged_fields(flex);
        });
        if version >= 7 {
            e.array(&self.forgotten, flex, |e, t| {
                encode_topic(e, &t.topic, t.topic_id, version);
                e.i32_array(&t.partitions, flex);
                e.tagged_fields(flex);
            });
        }
        if version >= 11 {
            e.string(&self.rack_id, flex);
        }
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = Self::flexible(version);
        let replica_id = if version < 15 { d.i32()? } else { -1 };
        let max_wait_ms = d.i32()?;
        let min_bytes = d.i32()?;
        let max_bytes = d.i32()?;
        let isolation_level = d.i8()?;
        let (session_id, session_epoch) = if version >= 7 { (d.i32()?, d.i32()?) } else { (0, -1) };
        let topics = d.array(flex, 2, |d| {
            let (topic, topic_id) = decode_topic(d, version)?;
            let partitions = d.array(flex, 16, |d| {
                let p = FetchPartition {
                    partition: d.i32()?,
                    current_leader_epoch: if version >= 9 { d.i32()? } else { -1 },
                    fetch_offset: d.i64()?,
                    last_fetched_epoch: if version >= 12 { d.i32()? } else { -1 },
                    log_start_offset: if version >= 5 { d.i64()? } else { -1 },
                    partition_max_bytes: d.i32()?,
                };
                d.skip_tagged_fields(flex)?;
                Ok(p)
            })?;
            d.skip_tagged_fields(flex)?;
            Ok(FetchTopic { topic, topic_id, partitions })
        })?;
        let forgotten = if version >= 7 {
            d.array(flex, 2, |d| {
                let (topic, topic_id) = decode_topic(d, version)?;
                let partitions = d.i32_array(flex)?;
                d.skip_tagged_fields(flex)?;
                Ok(ForgottenTopic { topic, topic_id, partitions })
            })?
        } else {
            Vec::new()
        };
        let rack_id = if version >= 11 { d.string(flex)? } else { String::new() };
        d.skip_tagged_fields(flex)?;
        Ok(FetchRequest {
            replica_id,
            max_wait_ms,
            min_bytes,
            max_bytes,
            isolation_level,
            session_id,
            session_epoch,
            topics,
            forgotten,
            rack_id,
        })
    }
}

/// A topic as a request or response names it: by name before v13, by id from v13.
fn encode_topic(e: &mut Encoder, name: &str, id: [u8; 16], version: i16) {
    if version >= 13 {
        e.uuid(id);
    } else {
        e.string(name, FetchRequest::flexible(version));
    }
}

fn decode_topic(d: &mut Decoder<'_>, version: i16) -> DecodeResult<(String, [u8; 16])> {
    if version >= 13 {
        Ok((String::new(), d.uuid()?))
    } else {
        Ok((d.string(FetchRequest::flexible(version))?, [0; 16]))
    }
}

impl Response for FetchResponse {
    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = FetchRequest::flexible(version);
        e.i32(self.throttle_time_ms);
        if version >= 7 {
            e.i16(self.error_code);
            e.i32(self.session_id);
        }
        e.array(&self.responses, flex, |e, t| {
            encode_topic(e, &t.topic, t.topic_id, version);
            e.array(&t.partitions, flex, |e, p| {
                e.i32(p.partition_index);
                e.i16(p.error_code);
                e.i64(p.high_watermark);
                e.i64(p.last_stable_offset);
                if version >= 5 {
                    e.i64(p.log_start_offset);
                }
                match &p.aborted_transactions {
                    None => e.array_len(None, flex),
                    Some(a) => e.array(a, flex, |e, a| {
                        e.i64(a.producer_id);
                        e.i64(a.first_offset);
                        e.tagged_fields(flex);
                    }),
                }
                if version >= 11 {
                    e.i32(p.preferred_read_replica);
                }
                e.nullable_bytes(p.records.as_deref(), flex);
                match (&p.diverging_epoch, flex) {
                    (Some(d), true) => {
                        let mut field = Encoder::new();
                        field.i32(d.epoch);
                        field.i64(d.end_offset);
                        field.tagged_fields(true);
                        let field = field.into_inner();
                        e.uvarint(1); // one tagged field
                        e.uvarint(0); // tag 0: DivergingEpoch
                        e.uvarint(field.len() as u32);
                        e.raw(&field);
                    }
                    _ => e.tagged_fields(flex),
                }
            });
            e.tagged_fields(flex);
        });
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = FetchRequest::flexible(version);
        let throttle_time_ms = d.i32()?;
        let (error_code, session_id) = if version >= 7 { (d.i16()?, d.i32()?) } else { (0, 0) };
        let mut responses = d.array(flex, 2, |d| {
            let (topic, topic_id) = decode_topic(d, version)?;
            let partitions = d.array(flex, 30, |d| {
                let partition_index = d.i32()?;
                let error_code = d.i16()?;
                let high_watermark = d.i64()?;
                let last_stable_offset = d.i64()?;
                let log_start_offset = if version >= 5 { d.i64()? } else { -1 };
                let aborted_transactions = match d.array_len(flex, 16)? {
                    None => None,
                    Some(n) => {
                        let mut v = Vec::with_capacity(n);
                        for _ in 0..n {
                            v.push(AbortedTransaction { producer_id: d.i64()?, first_offset: d.i64()? });
                            d.skip_tagged_fields(flex)?;
                        }
                        Some(v)
                    }
                };
                let preferred_read_replica = if version >= 11 { d.i32()? } else { -1 };
                let records = d.nullable_frame_bytes(flex)?;
                let mut diverging_epoch = None;
                if flex {
                    for _ in 0..d.uvarint()? {
                        let tag = d.uvarint()?;
                        let len = d.uvarint()? as usize;
                        let field = d.take(len, "tagged field")?;
                        if tag == 0 {
                            let mut f = Decoder::new(field);
                            diverging_epoch = Some(EpochEndOffset { epoch: f.i32()?, end_offset: f.i64()? });
                        }
                    }
                }
                Ok(FetchPartitionResponse {
                    partition_index,
                    error_code,
                    high_watermark,
                    last_stable_offset,
                    log_start_offset,
                    aborted_transactions,
                    preferred_read_replica,
                    records,
                    diverging_epoch,
                })
            })?;
            d.skip_tagged_fields(flex)?;
            Ok(FetchTopicResponse { topic, topic_id, partitions })
        })?;
        d.skip_tagged_fields(flex)?;
        let with_records = responses
            .iter()
            .flat_map(|t| &t.partitions)
            .filter(|p| p.records.as_ref().is_some_and(|r| !r.is_empty()))
            .count();
        if with_records > 1 {
            for p in responses.iter_mut().flat_map(|t| t.partitions.iter_mut()) {
                p.records = p.records.take().map(FrameBytes::unshared);
            }
        }
        Ok(FetchResponse { throttle_time_ms, error_code, session_id, responses })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::*;
    use std::sync::Arc;

    #[test]
    fn round_trips_every_version_and_rejects_every_truncation() {
        for v in 4..=17 {
            let (topic, topic_id) = if v >= 13 { (String::new(), [7; 16]) } else { ("t".to_string(), [0; 16]) };
            let req = FetchRequest {
                replica_id: -1,
                max_wait_ms: 100,
                min_bytes: 1,
                max_bytes: 1 << 20,
                isolation_level: 0,
                session_id: if v >= 7 { 12 } else { 0 },
                session_epoch: if v >= 7 { 3 } else { -1 },
                topics: vec![FetchTopic {
                    topic: topic.clone(),
                    topic_id,
                    partitions: vec![FetchPartition {
                        partition: 1,
                        current_leader_epoch: if v >= 9 { 5 } else { -1 },
                        fetch_offset: 10,
                        last_fetched_epoch: -1,
                        log_start_offset: -1,
                        partition_max_bytes: 1000,
                    }],
                }],
                forgotten: if v >= 7 {
                    vec![ForgottenTopic { topic: topic.clone(), topic_id, partitions: vec![4, 5] }]
                } else {
                    Vec::new()
                },
                rack_id: if v >= 11 { "rack".into() } else { String::new() },
            };
            let bytes = round_trip_request(&req, v);
            assert_every_request_prefix_fails::<FetchRequest>(&bytes, v);
            let resp = FetchResponse {
                throttle_time_ms: 0,
                error_code: 0,
                session_id: if v >= 7 { 12 } else { 0 },
                responses: vec![FetchTopicResponse {
                    topic: topic.clone(),
                    topic_id,
                    partitions: vec![FetchPartitionResponse {
                        partition_index: 1,
                        error_code: 0,
                        high_watermark: 20,
                        last_stable_offset: 20,
                        log_start_offset: if v >= 5 { 0 } else { -1 },
                        aborted_transactions: Some(vec![AbortedTransaction { producer_id: 9, first_offset: 3 }]),
                        preferred_read_replica: -1,
                        records: Some(vec![1, 2, 3].into()),
                        // A tagged field, so only where fields are tagged (v12).
                        diverging_epoch: (v >= 12).then_some(EpochEndOffset { epoch: 4, end_offset: 17 }),
                    }],
                }],
            };
            let bytes = round_trip_response::<FetchRequest>(&resp, v);
            assert_every_prefix_fails::<FetchRequest>(&bytes, v);
        }
    }

    /// A response of version `v` holding `records` for partitions 0, 1, ...
    fn answer(records: &[Option<Vec<u8>>], v: i16) -> FetchResponse {
        let partition = |(i, r): (usize, &Option<Vec<u8>>)| FetchPartitionResponse {
            partition_index: i as i32,
            error_code: 0,
            high_watermark: 20,
            last_stable_offset: 20,
            log_start_offset: -1,
            aborted_transactions: None,
            preferred_read_replica: -1,
            records: r.clone().map(FrameBytes::from),
            diverging_epoch: None,
        };
        let partitions = records.iter().enumerate().map(partition).collect();
        // From v13 a topic goes by its id.
        let (topic, topic_id) = if v >= 13 { (String::new(), [7; 16]) } else { ("t".to_string(), [0; 16]) };
        let responses = vec![FetchTopicResponse { topic, topic_id, partitions }];
        FetchResponse { throttle_time_ms: 0, error_code: 0, session_id: 0, responses }
    }

    #[test]
    fn one_partitions_records_stay_in_the_shared_frame_and_several_are_copied_out() {
        let shared = |records: &[Option<Vec<u8>>], v: i16| {
            let sent = answer(records, v);
            let mut e = Encoder::new();
            sent.encode(&mut e, v);
            let frame = Arc::new(e.into_inner());
            let got = FetchResponse::decode(&mut Decoder::new(&frame).sharing(&frame), v).expect("decodes");
            assert_eq!(got, sent, "v{v}: the same bytes either way");
            let in_frame = got.responses[0]
                .partitions
                .iter()
                .map(|p| p.records.as_ref().is_some_and(|r| Arc::ptr_eq(r.buffer(), &frame)))
                .collect::<Vec<_>>();
            (in_frame, Arc::strong_count(&frame))
        };
        for v in [4, 12, 16] {
            let (one, refs) = shared(&[None, Some(vec![7; 100]), Some(Vec::new())], v);
            assert_eq!(one, [false, true, false], "v{v}: only the partition with records points into the frame");
            assert_eq!(refs, 2, "v{v}: the frame lives on in those records alone");
            let (two, refs) = shared(&[Some(vec![1; 50]), Some(vec![2; 60])], v);
            assert_eq!(two, [false, false], "v{v}: two partitions' records are copies");
            assert_eq!(refs, 1, "v{v}: and the frame goes with the decoding");
        }
        // Without a frame to share, a decoder copies.
        let sent = answer(&[Some(vec![9; 10])], 12);
        let mut e = Encoder::new();
        sent.encode(&mut e, 12);
        let bytes = e.into_inner();
        let got = FetchResponse::decode(&mut Decoder::new(&bytes), 12).expect("decodes");
        assert_eq!(got.responses[0].partitions[0].records.as_ref().map(|r| r.range()), Some(0..10));
    }
}
