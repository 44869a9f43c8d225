//! CreateTopics (key 19), v2–v7: create topics with a partition count and replication factor.

use super::codec::{DecodeResult, Decoder, Encoder};
use super::{ApiKey, Request, Response};

/// CreateTopics request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTopicsRequest {
    /// The topics to create.
    pub topics: Vec<CreatableTopic>,
    /// How long to wait for the creation.
    pub timeout_ms: i32,
    /// Check the request without creating anything.
    pub validate_only: bool,
}

/// One topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatableTopic {
    /// Topic name.
    pub name: String,
    /// Partitions, -1 for the broker's default (v4+).
    pub num_partitions: i32,
    /// Replication factor, -1 for the broker's default (v4+).
    pub replication_factor: i16,
    /// Manual replica assignment: (partition, broker ids).
    pub assignments: Vec<(i32, Vec<i32>)>,
    /// Topic configs: (name, value).
    pub configs: Vec<(String, Option<String>)>,
}

/// CreateTopics response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTopicsResponse {
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// One result per topic.
    pub topics: Vec<CreatableTopicResult>,
}

/// One topic's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatableTopicResult {
    /// Topic name.
    pub name: String,
    /// v7+: the new topic's id.
    pub topic_id: [u8; 16],
    /// Error.
    pub error_code: i16,
    /// Error message.
    pub error_message: Option<String>,
    /// v5+: partitions created, -1 on error.
    pub num_partitions: i32,
    /// v5+: replication factor, -1 on error.
    pub replication_factor: i16,
}

impl Request for CreateTopicsRequest {
    const KEY: ApiKey = ApiKey::CreateTopics;
    const MIN_VERSION: i16 = 2;
    const MAX_VERSION: i16 = 7;
    const FIRST_FLEXIBLE: i16 = 5;
    type Response = CreateTopicsResponse;

    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = Self::flexible(version);
        e.array(&self.topics, flex, |e, t| {
            e.string(&t.name, flex);
            e.i32(t.num_partitions);
            e.i16(t.replication_factor);
            e.array(&t.assignments, flex, |e, (p, brokers)| {
                e.i32(*p);
                e.i32_array(brokers, flex);
                e.tagged_fields(flex);
            });
            e.array(&t.configs, flex, |e, (k, v)| {
                e.string(k, flex);
                e.nullable_string(v.as_deref(), flex);
                e.tagged_fields(flex);
            });
            e.tagged_fields(flex);
        });
        e.i32(self.timeout_ms);
        e.bool(self.validate_only);
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = Self::flexible(version);
        let topics = d.array(flex, 9, |d| {
            let name = d.string(flex)?;
            let num_partitions = d.i32()?;
            let replication_factor = d.i16()?;
            let assignments = d.array(flex, 5, |d| {
                let a = (d.i32()?, d.i32_array(flex)?);
                d.skip_tagged_fields(flex)?;
                Ok(a)
            })?;
            let configs = d.array(flex, 3, |d| {
                let c = (d.string(flex)?, d.nullable_string(flex)?);
                d.skip_tagged_fields(flex)?;
                Ok(c)
            })?;
            d.skip_tagged_fields(flex)?;
            Ok(CreatableTopic { name, num_partitions, replication_factor, assignments, configs })
        })?;
        let timeout_ms = d.i32()?;
        let validate_only = d.bool()?;
        d.skip_tagged_fields(flex)?;
        Ok(CreateTopicsRequest { topics, timeout_ms, validate_only })
    }
}

impl Response for CreateTopicsResponse {
    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = CreateTopicsRequest::flexible(version);
        e.i32(self.throttle_time_ms);
        e.array(&self.topics, flex, |e, t| {
            e.string(&t.name, flex);
            if version >= 7 {
                e.uuid(t.topic_id);
            }
            e.i16(t.error_code);
            e.nullable_string(t.error_message.as_deref(), flex);
            if version >= 5 {
                e.i32(t.num_partitions);
                e.i16(t.replication_factor);
                e.array_len(None, flex); // configs: null, the caller didn't ask
            }
            e.tagged_fields(flex);
        });
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = CreateTopicsRequest::flexible(version);
        let throttle_time_ms = d.i32()?;
        let topics = d.array(flex, 5, |d| {
            let name = d.string(flex)?;
            let topic_id = if version >= 7 { d.uuid()? } else { [0; 16] };
            let error_code = d.i16()?;
            let error_message = d.nullable_string(flex)?;
            let (mut num_partitions, mut replication_factor) = (-1, -1);
            if version >= 5 {
                num_partitions = d.i32()?;
                replication_factor = d.i16()?;
                // Configs (name, value, read-only, source, sensitive): not kept.
                d.array(flex, 5, |d| {
                    d.string(flex)?;
                    d.nullable_string(flex)?;
                    d.bool()?;
                    d.i8()?;
                    d.bool()?;
                    d.skip_tagged_fields(flex)
                })?;
            }
            d.skip_tagged_fields(flex)?;
            Ok(CreatableTopicResult { name, topic_id, error_code, error_message, num_partitions, replication_factor })
        })?;
        d.skip_tagged_fields(flex)?;
        Ok(CreateTopicsResponse { throttle_time_ms, topics })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::*;

    #[test]
    fn round_trips_every_version_and_rejects_every_truncation() {
        for v in 2..=7 {
            let req = CreateTopicsRequest {
                topics: vec![CreatableTopic {
                    name: "t".into(),
                    num_partitions: 3,
                    replication_factor: 1,
                    assignments: vec![(0, vec![1])],
                    configs: vec![("retention.ms".into(), Some("-1".into()))],
                }],
                timeout_ms: 1000,
                validate_only: false,
            };
            let resp = CreateTopicsResponse {
                throttle_time_ms: 0,
                topics: vec![CreatableTopicResult {
                    name: "t".into(),
                    topic_id: if v >= 7 { [7; 16] } else { [0; 16] },
                    error_code: 36,
                    error_message: Some("exists".into()),
                    num_partitions: if v >= 5 { 3 } else { -1 },
                    replication_factor: if v >= 5 { 1 } else { -1 },
                }],
            };
            check_codec(&req, &resp, v);
        }
    }
}
