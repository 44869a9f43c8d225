//! DeleteTopics (key 20), v1–v6: delete topics by name.

use super::codec::{DecodeResult, Decoder, Encoder};
use super::{ApiKey, Request, Response};

/// DeleteTopics request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteTopicsRequest {
    /// Topic names.
    pub names: Vec<String>,
    /// How long to wait for the deletion.
    pub timeout_ms: i32,
}

/// DeleteTopics response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteTopicsResponse {
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// One result per topic.
    pub responses: Vec<DeletableTopicResult>,
}

/// One topic's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletableTopicResult {
    /// The topic.
    pub name: String,
    /// v6+: its id (zeros when unknown).
    pub topic_id: [u8; 16],
    /// The error code.
    pub error_code: i16,
    /// v5+: the error message.
    pub error_message: Option<String>,
}

impl Request for DeleteTopicsRequest {
    const KEY: ApiKey = ApiKey::DeleteTopics;
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 6;
    const FIRST_FLEXIBLE: i16 = 4;
    type Response = DeleteTopicsResponse;

    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = Self::flexible(version);
        if version >= 6 {
            // v6 names topics by name or id; plainkafka uses names.
            e.array(&self.names, flex, |e, n| {
                e.nullable_string(Some(n), flex);
                e.uuid([0; 16]);
                e.tagged_fields(flex);
            });
        } else {
            e.array(&self.names, flex, |e, n| e.string(n, flex));
        }
        e.i32(self.timeout_ms);
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = Self::flexible(version);
        let names = if version >= 6 {
            d.array(flex, 18, |d| {
                let name = d.nullable_string(flex)?.unwrap_or_default();
                d.uuid()?;
                d.skip_tagged_fields(flex)?;
                Ok(name)
            })?
        } else {
            d.array(flex, 1, |d| d.string(flex))?
        };
        let timeout_ms = d.i32()?;
        d.skip_tagged_fields(flex)?;
        Ok(DeleteTopicsRequest { names, timeout_ms })
    }
}

impl Response for DeleteTopicsResponse {
    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = DeleteTopicsRequest::flexible(version);
        e.i32(self.throttle_time_ms);
        e.array(&self.responses, flex, |e, r| {
            if version >= 6 {
                e.nullable_string(Some(&r.name), flex);
                e.uuid(r.topic_id);
            } else {
                e.string(&r.name, flex);
            }
            e.i16(r.error_code);
            if version >= 5 {
                e.nullable_string(r.error_message.as_deref(), flex);
            }
            e.tagged_fields(flex);
        });
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = DeleteTopicsRequest::flexible(version);
        let throttle_time_ms = d.i32()?;
        let responses = d.array(flex, 3, |d| {
            let (name, topic_id) = if version >= 6 {
                (d.nullable_string(flex)?.unwrap_or_default(), d.uuid()?)
            } else {
                (d.string(flex)?, [0; 16])
            };
            let error_code = d.i16()?;
            let error_message = if version >= 5 { d.nullable_string(flex)? } else { None };
            d.skip_tagged_fields(flex)?;
            Ok(DeletableTopicResult { name, topic_id, error_code, error_message })
        })?;
        d.skip_tagged_fields(flex)?;
        Ok(DeleteTopicsResponse { throttle_time_ms, responses })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::*;

    #[test]
    fn round_trips_every_version_and_rejects_every_truncation() {
        for v in 1..=6 {
            let req = DeleteTopicsRequest { names: vec!["a".into(), "b".into()], timeout_ms: 500 };
            let resp = DeleteTopicsResponse {
                throttle_time_ms: 0,
                responses: vec![DeletableTopicResult {
                    name: "a".into(),
                    topic_id: if v >= 6 { [7; 16] } else { [0; 16] },
                    error_code: 3,
                    error_message: if v >= 5 { Some("unknown".into()) } else { None },
                }],
            };
            check_codec(&req, &resp, v);
        }
    }
}
