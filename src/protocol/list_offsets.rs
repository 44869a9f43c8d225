//! ListOffsets (key 2), v1–v8: the offset for a timestamp, or the log's start (-2) or end (-1).

use super::codec::{DecodeResult, Decoder, Encoder};
use super::{ApiKey, Request, Response};

/// The timestamp that asks for the high watermark (the next offset to be written).
pub const LATEST_TIMESTAMP: i64 = -1;
/// The timestamp that asks for the log start offset.
pub const EARLIEST_TIMESTAMP: i64 = -2;

/// ListOffsets request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOffsetsRequest {
    /// -1 for a consumer.
    pub replica_id: i32,
    /// v2+: 0 = read uncommitted, 1 = read committed.
    pub isolation_level: i8,
    /// Topics.
    pub topics: Vec<ListOffsetsTopic>,
}

/// A topic in a ListOffsets request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOffsetsTopic {
    /// Topic name.
    pub name: String,
    /// Partitions.
    pub partitions: Vec<ListOffsetsPartition>,
}

/// A partition in a ListOffsets request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOffsetsPartition {
    /// Partition id.
    pub partition_index: i32,
    /// v4+: the leader epoch the client knows, -1 for none.
    pub current_leader_epoch: i32,
    /// A timestamp in ms, or [`LATEST_TIMESTAMP`] / [`EARLIEST_TIMESTAMP`].
    pub timestamp: i64,
}

/// ListOffsets response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOffsetsResponse {
    /// v2+: throttle time.
    pub throttle_time_ms: i32,
    /// Topics.
    pub topics: Vec<ListOffsetsTopicResponse>,
}

/// A topic in a ListOffsets response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOffsetsTopicResponse {
    /// Topic name.
    pub name: String,
    /// Partitions.
    pub partitions: Vec<ListOffsetsPartitionResponse>,
}

/// A partition in a ListOffsets response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOffsetsPartitionResponse {
    /// Partition id.
    pub partition_index: i32,
    /// Error.
    pub error_code: i16,
    /// The timestamp of the offset found, -1 if none.
    pub timestamp: i64,
    /// The offset found, -1 if none.
    pub offset: i64,
    /// v4+: leader epoch.
    pub leader_epoch: i32,
}

impl Request for ListOffsetsRequest {
    const KEY: ApiKey = ApiKey::ListOffsets;
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 8;
    const FIRST_FLEXIBLE: i16 = 6;
    type Response = ListOffsetsResponse;

    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = Self::flexible(version);
        e.i32(self.replica_id);
        if version >= 2 {
            e.i8(self.isolation_level);
        }
        e.array(&self.topics, flex, |e, t| {
            e.string(&t.name, flex);
            e.array(&t.partitions, flex, |e, p| {
                e.i32(p.partition_index);
                if version >= 4 {
                    e.i32(p.current_leader_epoch);
                }
                e.i64(p.timestamp);
                e.tagged_fields(flex);
            });
            e.tagged_fields(flex);
        });
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = Self::flexible(version);
        let replica_id = d.i32()?;
        let isolation_level = if version >= 2 { d.i8()? } else { 0 };
        let topics = d.array(flex, 2, |d| {
            let name = d.string(flex)?;
            let partitions = d.array(flex, 12, |d| {
                let p = ListOffsetsPartition {
                    partition_index: d.i32()?,
                    current_leader_epoch: if version >= 4 { d.i32()? } else { -1 },
                    timestamp: d.i64()?,
                };
                d.skip_tagged_fields(flex)?;
                Ok(p)
            })?;
            d.skip_tagged_fields(flex)?;
            Ok(ListOffsetsTopic { name, partitions })
        })?;
        d.skip_tagged_fields(flex)?;
        Ok(ListOffsetsRequest { replica_id, isolation_level, topics })
    }
}

impl Response for ListOffsetsResponse {
    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = ListOffsetsRequest::flexible(version);
        if version >= 2 {
            e.i32(self.throttle_time_ms);
        }
        e.array(&self.topics, flex, |e, t| {
            e.string(&t.name, flex);
            e.array(&t.partitions, flex, |e, p| {
                e.i32(p.partition_index);
                e.i16(p.error_code);
                e.i64(p.timestamp);
                e.i64(p.offset);
                if version >= 4 {
                    e.i32(p.leader_epoch);
                }
                e.tagged_fields(flex);
            });
            e.tagged_fields(flex);
        });
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = ListOffsetsRequest::flexible(version);
        let throttle_time_ms = if version >= 2 { d.i32()? } else { 0 };
        let topics = d.array(flex, 2, |d| {
            let name = d.string(flex)?;
            let partitions = d.array(flex, 22, |d| {
                let p = ListOffsetsPartitionResponse {
                    partition_index: d.i32()?,
                    error_code: d.i16()?,
                    timestamp: d.i64()?,
                    offset: d.i64()?,
                    leader_epoch: if version >= 4 { d.i32()? } else { -1 },
                };
                d.skip_tagged_fields(flex)?;
                Ok(p)
            })?;
            d.skip_tagged_fields(flex)?;
            Ok(ListOffsetsTopicResponse { name, partitions })
        })?;
        d.skip_tagged_fields(flex)?;
        Ok(ListOffsetsResponse { throttle_time_ms, topics })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::*;

    #[test]
    fn round_trips_every_version_and_rejects_every_truncation() {
        for v in 1..=8 {
            let req = ListOffsetsRequest {
                replica_id: -1,
                isolation_level: 0,
                topics: vec![ListOffsetsTopic {
                    name: "t".into(),
                    partitions: vec![ListOffsetsPartition {
                        partition_index: 3,
                        current_leader_epoch: if v >= 4 { 2 } else { -1 },
                        timestamp: EARLIEST_TIMESTAMP,
                    }],
                }],
            };
            let bytes = round_trip_request(&req, v);
            assert_every_request_prefix_fails::<ListOffsetsRequest>(&bytes, v);
            let resp = ListOffsetsResponse {
                throttle_time_ms: if v >= 2 { 4 } else { 0 },
                topics: vec![ListOffsetsTopicResponse {
                    name: "t".into(),
                    partitions: vec![ListOffsetsPartitionResponse {
                        partition_index: 3,
                        error_code: 0,
                        timestamp: -1,
                        offset: 42,
                        leader_epoch: if v >= 4 { 2 } else { -1 },
                    }],
                }],
            };
            let bytes = round_trip_response::<ListOffsetsRequest>(&resp, v);
            assert_every_prefix_fails::<ListOffsetsRequest>(&bytes, v);
        }
    }
}
