//! TxnOffsetCommit (key 28), v0–v5: writes a group's offsets inside a producer's transaction, to
//! take effect when it commits; v3 carries the member's generation, so a member that left the
//! group can't commit (KIP-447). v4 only adds an error code (TRANSACTION_ABORTABLE); v5 is
//! transaction version 2 (KIP-890), where the group coordinator adds the offsets to the
//! transaction itself, so AddOffsetsToTxn is not sent.

use super::codec::{DecodeResult, Decoder, Encoder};
use super::partition_errors::{self, PartitionErrors};
use super::{ApiKey, Request, Response};

/// One partition's offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnOffsetCommitPartition {
    /// The partition.
    pub partition: i32,
    /// The next offset to read.
    pub offset: i64,
    /// v2+: the leader epoch of the last record consumed, -1 if unknown.
    pub leader_epoch: i32,
}

/// TxnOffsetCommit request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnOffsetCommitRequest {
    /// The transactional id.
    pub transactional_id: String,
    /// The consumer group.
    pub group_id: String,
    /// The producer id.
    pub producer_id: i64,
    /// Its epoch.
    pub producer_epoch: i16,
    /// v3+: the member's generation, -1 for none.
    pub generation_id: i32,
    /// v3+: the member's id, empty for none.
    pub member_id: String,
    /// v3+: the member's static id.
    pub group_instance_id: Option<String>,
    /// Per topic, the partitions' offsets.
    pub topics: Vec<(String, Vec<TxnOffsetCommitPartition>)>,
    /// Not on the wire: the transaction runs version 2 of the protocol (KIP-890), which v5
    /// means; without it the request goes at v4 at most.
    pub transaction_v2: bool,
}

/// TxnOffsetCommit response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnOffsetCommitResponse {
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// Per topic: (partition, error code).
    pub topics: PartitionErrors,
}

impl Request for TxnOffsetCommitRequest {
    const KEY: ApiKey = ApiKey::TxnOffsetCommit;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 5;
    const FIRST_FLEXIBLE: i16 = 3;
    type Response = TxnOffsetCommitResponse;

    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = Self::flexible(version);
        e.string(&self.transactional_id, flex);
        e.string(&self.group_id, flex);
        e.i64(self.producer_id);
        e.i16(self.producer_epoch);
        if version >= 3 {
            e.i32(self.generation_id);
            e.string(&self.member_id, flex);
            e.nullable_string(self.group_instance_id.as_deref(), flex);
        }
        e.array(&self.topics, flex, |e, (topic, partitions)| {
            e.string(topic, flex);
            e.array(partitions, flex, |e, p| {
                e.i32(p.partition);
                e.i64(p.offset);
                if version >= 2 {
                    e.i32(p.leader_epoch);
                }
                e.nullable_string(None, flex); // metadata
                e.tagged_fields(flex);
            });
            e.tagged_fields(flex);
        });
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = Self::flexible(version);
        let transactional_id = d.string(flex)?;
        let group_id = d.string(flex)?;
        let producer_id = d.i64()?;
        let producer_epoch = d.i16()?;
        let (generation_id, member_id, group_instance_id) = if version >= 3 {
            (d.i32()?, d.string(flex)?, d.nullable_string(flex)?)
        } else {
            (-1, String::new(), None)
        };
        let topics = d.array(flex, 2, |d| {
            let topic = d.string(flex)?;
            let partitions = d.array(flex, 13, |d| {
                let partition = d.i32()?;
                let offset = d.i64()?;
                let leader_epoch = if version >= 2 { d.i32()? } else { -1 };
                d.nullable_string(flex)?; // metadata
                d.skip_tagged_fields(flex)?;
                Ok(TxnOffsetCommitPartition { partition, offset, leader_epoch })
            })?;
            d.skip_tagged_fields(flex)?;
            Ok((topic, partitions))
        })?;
        d.skip_tagged_fields(flex)?;
        Ok(TxnOffsetCommitRequest {
            transactional_id,
            group_id,
            producer_id,
            producer_epoch,
            generation_id,
            member_id,
            group_instance_id,
            topics,
            transaction_v2: version >= 5,
        })
    }

    fn max_version(&self) -> i16 {
        if self.transaction_v2 {
            5
        } else {
            4
        }
    }
}

impl Response for TxnOffsetCommitResponse {
    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = TxnOffsetCommitRequest::flexible(version);
        e.i32(self.throttle_time_ms);
        partition_errors::encode(e, &self.topics, flex, |(t, ps)| (t.as_str(), ps.as_slice()));
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = TxnOffsetCommitRequest::flexible(version);
        let throttle_time_ms = d.i32()?;
        let topics = partition_errors::decode(d, flex)?;
        d.skip_tagged_fields(flex)?;
        Ok(TxnOffsetCommitResponse { throttle_time_ms, topics })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::*;

    #[test]
    fn round_trips_every_version_and_rejects_every_truncation() {
        for v in 0..=5 {
            let req = TxnOffsetCommitRequest {
                transactional_id: "tx".into(),
                group_id: "g".into(),
                producer_id: 7,
                producer_epoch: 2,
                generation_id: if v >= 3 { 4 } else { -1 },
                member_id: if v >= 3 { "m".into() } else { String::new() },
                group_instance_id: (v >= 3).then(|| "i".into()),
                topics: vec![(
                    "a".into(),
                    vec![TxnOffsetCommitPartition {
                        partition: 1,
                        offset: 10,
                        leader_epoch: if v >= 2 { 3 } else { -1 },
                    }],
                )],
                transaction_v2: v >= 5,
            };
            assert_eq!(req.max_version(), if v >= 5 { 5 } else { 4 });
            let resp = TxnOffsetCommitResponse { throttle_time_ms: 2, topics: vec![("a".into(), vec![(1, 0)])] };
            check_codec(&req, &resp, v);
        }
    }
}
