//! FindCoordinator (key 10), v0–v4: which broker coordinates a consumer group.
//!
//! v4 (KIP-699) batches keys; plainkafka sends one key and reads the first coordinator back,
//! so callers see the same [`Coordinator`] whatever the version.

use super::codec::{DecodeResult, Decoder, Encoder};
use super::{ApiKey, Request, Response};

/// FindCoordinator request for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindCoordinatorRequest {
    /// The group id (or transactional id).
    pub key: String,
    /// v1+: 0 = group, 1 = transaction.
    pub key_type: i8,
}

/// One coordinator answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coordinator {
    /// The key asked about (v4+; earlier versions echo the request's key here on decode).
    pub key: String,
    /// Coordinator broker id.
    pub node_id: i32,
    /// Coordinator host.
    pub host: String,
    /// Coordinator port.
    pub port: i32,
    /// Error.
    pub error_code: i16,
    /// v1+: error message.
    pub error_message: Option<String>,
}

/// FindCoordinator response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindCoordinatorResponse {
    /// v1+: throttle time.
    pub throttle_time_ms: i32,
    /// The coordinators: exactly one before v4.
    pub coordinators: Vec<Coordinator>,
}

impl Request for FindCoordinatorRequest {
    const KEY: ApiKey = ApiKey::FindCoordinator;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 4;
    const FIRST_FLEXIBLE: i16 = 3;
    type Response = FindCoordinatorResponse;

    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = Self::flexible(version);
        if version < 4 {
            e.string(&self.key, flex);
        }
        if version >= 1 {
            e.i8(self.key_type);
        }
        if version >= 4 {
            e.array(std::slice::from_ref(&self.key), true, |e, k| e.string(k, true));
        }
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = Self::flexible(version);
        let mut key = if version < 4 { d.string(flex)? } else { String::new() };
        let key_type = if version >= 1 { d.i8()? } else { 0 };
        if version >= 4 {
            let keys = d.array(true, 1, |d| d.string(true))?;
            key = keys.into_iter().next().unwrap_or_default();
        }
        d.skip_tagged_fields(flex)?;
        Ok(FindCoordinatorRequest { key, key_type })
    }
}

impl Response for FindCoordinatorResponse {
    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = FindCoordinatorRequest::flexible(version);
        if version >= 1 {
            e.i32(self.throttle_time_ms);
        }
        if version >= 4 {
            e.array(&self.coordinators, true, |e, c| {
                e.string(&c.key, true);
                e.i32(c.node_id);
                e.string(&c.host, true);
                e.i32(c.port);
                e.i16(c.error_code);
                e.nullable_string(c.error_message.as_deref(), true);
                e.tagged_fields(true);
            });
        } else {
            let c = self.coordinators.first();
            e.i16(c.map_or(15, |c| c.error_code));
            if version >= 1 {
                e.nullable_string(c.and_then(|c| c.error_message.as_deref()), flex);
            }
            e.i32(c.map_or(-1, |c| c.node_id));
            e.string(c.map_or("", |c| &c.host), flex);
            e.i32(c.map_or(-1, |c| c.port));
        }
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = FindCoordinatorRequest::flexible(version);
        let throttle_time_ms = if version >= 1 { d.i32()? } else { 0 };
        let coordinators = if version >= 4 {
            d.array(true, 14, |d| {
                let c = Coordinator {
                    key: d.string(true)?,
                    node_id: d.i32()?,
                    host: d.string(true)?,
                    port: d.i32()?,
                    error_code: d.i16()?,
                    error_message: d.nullable_string(true)?,
                };
                d.skip_tagged_fields(true)?;
                Ok(c)
            })?
        } else {
            let error_code = d.i16()?;
            let error_message = if version >= 1 { d.nullable_string(flex)? } else { None };
            vec![Coordinator {
                key: String::new(),
                node_id: d.i32()?,
                host: d.string(flex)?,
                port: d.i32()?,
                error_code,
                error_message,
            }]
        };
        d.skip_tagged_fields(flex)?;
        Ok(FindCoordinatorResponse { throttle_time_ms, coordinators })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::*;

    #[test]
    fn round_trips_every_version_and_rejects_every_truncation() {
        for v in 0..=4 {
            let resp = FindCoordinatorResponse {
                throttle_time_ms: if v >= 1 { 1 } else { 0 },
                coordinators: vec![Coordinator {
                    key: if v >= 4 { "g".into() } else { String::new() },
                    node_id: 2,
                    host: "h".into(),
                    port: 9092,
                    error_code: 0,
                    error_message: if v >= 1 { Some("m".into()) } else { None },
                }],
            };
            let bytes = round_trip_response::<FindCoordinatorRequest>(&resp, v);
            assert_every_prefix_fails::<FindCoordinatorRequest>(&bytes, v);
            let req = FindCoordinatorRequest { key: "g".into(), key_type: 0 };
            let bytes = round_trip_request(&req, v);
            assert_every_request_prefix_fails::<FindCoordinatorRequest>(&bytes, v);
        }
    }
}
