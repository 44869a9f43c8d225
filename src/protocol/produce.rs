//! Produce (key 0), v3–v12: write record batches to partition leaders.
//!
//! v3 is the floor: Kafka 4 still advertises v0 but closes the connection on v0–v2 (KIP-896,
//! KAFKA-18659), and v3 is the first to carry RecordBatch v2. zstd needs v7+. v10 and v11 add
//! only tagged fields (KIP-951 leader hints, KIP-890), which are skipped. v12 is the same again,
//! but for a transactional producer it means transaction version 2 (KIP-890): the partition's
//! leader adds the partition to the transaction itself.

use super::codec::{DecodeResult, Decoder, Encoder};
use super::{ApiKey, Request, Response};

/// Produce request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceRequest {
    /// Transactional id; `None` outside transactions.
    pub transactional_id: Option<String>,
    /// 0 (no answer), 1 (leader), -1 (all in-sync replicas).
    pub acks: i16,
    /// How long the broker may wait for the acks.
    pub timeout_ms: i32,
    /// Topics.
    pub topics: Vec<ProduceTopic>,
    /// Not on the wire: the producer's transaction runs version 2 of the protocol (KIP-890),
    /// which v12 means for transactional batches; without it they go at v11 at most.
    pub transaction_v2: bool,
}

/// A topic in a Produce request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceTopic {
    /// Topic name.
    pub name: String,
    /// (partition, record batches).
    pub partitions: Vec<(i32, Vec<u8>)>,
}

/// Produce response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceResponse {
    /// Topics.
    pub responses: Vec<ProduceTopicResponse>,
    /// Throttle time.
    pub throttle_time_ms: i32,
}

/// A topic in a Produce response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceTopicResponse {
    /// Topic name.
    pub name: String,
    /// Partitions.
    pub partitions: Vec<ProducePartitionResponse>,
}

/// A partition in a Produce response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducePartitionResponse {
    /// Partition id.
    pub index: i32,
    /// Error.
    pub error_code: i16,
    /// Offset of the first record written.
    pub base_offset: i64,
    /// The append time when the topic uses LogAppendTime, else -1.
    pub log_append_time_ms: i64,
    /// v5+: the log start offset.
    pub log_start_offset: i64,
    /// v8+: records that made the batch fail (batch index, message).
    pub record_errors: Vec<(i32, Option<String>)>,
    /// v8+: the broker's explanation.
    pub error_message: Option<String>,
}

impl Request for ProduceRequest {
    const KEY: ApiKey = ApiKey::Produce;
    const MIN_VERSION: i16 = 3;
    const MAX_VERSION: i16 = 12;
    const FIRST_FLEXIBLE: i16 = 9;
    type Response = ProduceResponse;

    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = Self::flexible(version);
        e.nullable_string(self.transactional_id.as_deref(), flex);
        e.i16(self.acks);
        e.i32(self.timeout_ms);
        e.array(&self.topics, flex, |e, t| {
            e.string(&t.name, flex);
            e.array(&t.partitions, flex, |e, (p, records)| {
                e.i32(*p);
                e.nullable_bytes(Some(records), flex);
                e.tagged_fields(flex);
            });
            e.tagged_fields(flex);
        });
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = Self::flexible(version);
        let transactional_id = d.nullable_string(flex)?;
        let acks = d.i16()?;
        let timeout_ms = d.i32()?;
        let topics = d.array(flex, 2, |d| {
            let name = d.string(flex)?;
            let partitions = d.array(flex, 5, |d| {
                let p = (d.i32()?, d.nullable_bytes(flex)?.unwrap_or_default().to_vec());
                d.skip_tagged_fields(flex)?;
                Ok(p)
            })?;
            d.skip_tagged_fields(flex)?;
            Ok(ProduceTopic { name, partitions })
        })?;
        d.skip_tagged_fields(flex)?;
        let transaction_v2 = version >= 12 && transactional_id.is_some();
        Ok(ProduceRequest { transactional_id, acks, timeout_ms, topics, transaction_v2 })
    }

    fn max_version(&self) -> i16 {
        if self.transactional_id.is_some() && !self.transaction_v2 {
            11
        } else {
            12
        }
    }
}

impl Response for ProduceResponse {
    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = ProduceRequest::flexible(version);
        e.array(&self.responses, flex, |e, t| {
            e.string(&t.name, flex);
            e.array(&t.partitions, flex, |e, p| {
                e.i32(p.index);
                e.i16(p.error_code);
                e.i64(p.base_offset);
                e.i64(p.log_append_time_ms);
                if version >= 5 {
                    e.i64(p.log_start_offset);
                }
                if version >= 8 {
                    e.array(&p.record_errors, flex, |e, (i, m)| {
                        e.i32(*i);
                        e.nullable_string(m.as_deref(), flex);
                        e.tagged_fields(flex);
                    });
                    e.nullable_string(p.error_message.as_deref(), flex);
                }
                e.tagged_fields(flex);
            });
            e.tagged_fields(flex);
        });
        e.i32(self.throttle_time_ms);
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = ProduceRequest::flexible(version);
        let responses = d.array(flex, 2, |d| {
            let name = d.string(flex)?;
            let partitions = d.array(flex, 22, |d| {
                let index = d.i32()?;
                let error_code = d.i16()?;
                let base_offset = d.i64()?;
                let log_append_time_ms = d.i64()?;
                let log_start_offset = if version >= 5 { d.i64()? } else { -1 };
                let (record_errors, error_message) = if version >= 8 {
                    let errs = d.array(flex, 5, |d| {
                        let r = (d.i32()?, d.nullable_string(flex)?);
                        d.skip_tagged_fields(flex)?;
                        Ok(r)
                    })?;
                    (errs, d.nullable_string(flex)?)
                } else {
                    (Vec::new(), None)
                };
                d.skip_tagged_fields(flex)?;
                Ok(ProducePartitionResponse {
                    index,
                    error_code,
                    base_offset,
                    log_append_time_ms,
                    log_start_offset,
                    record_errors,
                    error_message,
                })
            })?;
            d.skip_tagged_fields(flex)?;
            Ok(ProduceTopicResponse { name, partitions })
        })?;
        let throttle_time_ms = d.i32()?;
        d.skip_tagged_fields(flex)?;
        Ok(ProduceResponse { responses, throttle_time_ms })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::*;

    #[test]
    fn round_trips_every_version_and_rejects_every_truncation() {
        for v in 3..=12 {
            let req = ProduceRequest {
                transactional_id: None,
                acks: -1,
                timeout_ms: 1000,
                topics: vec![ProduceTopic { name: "t".into(), partitions: vec![(0, vec![1, 2, 3]), (1, vec![])] }],
                transaction_v2: false,
            };
            let bytes = round_trip_request(&req, v);
            assert_every_request_prefix_fails::<ProduceRequest>(&bytes, v);
            let resp = ProduceResponse {
                responses: vec![ProduceTopicResponse {
                    name: "t".into(),
                    partitions: vec![ProducePartitionResponse {
                        index: 0,
                        error_code: 0,
                        base_offset: 7,
                        log_append_time_ms: -1,
                        log_start_offset: if v >= 5 { 0 } else { -1 },
                        record_errors: if v >= 8 { vec![(2, Some("bad".into()))] } else { vec![] },
                        error_message: if v >= 8 { Some("m".into()) } else { None },
                    }],
                }],
                throttle_time_ms: 0,
            };
            let bytes = round_trip_response::<ProduceRequest>(&resp, v);
            assert_every_prefix_fails::<ProduceRequest>(&bytes, v);
        }
    }
}
