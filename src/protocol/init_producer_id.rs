//! InitProducerId (key 22), v0–v4: a producer id and epoch for the idempotent producer (KIP-98).

use super::codec::{DecodeResult, Decoder, Encoder};
use super::{ApiKey, Request, Response};

/// InitProducerId request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitProducerIdRequest {
    /// Transactional id; `None` for an idempotent, non-transactional producer.
    pub transactional_id: Option<String>,
    /// Transaction timeout (ignored without a transactional id).
    pub transaction_timeout_ms: i32,
    /// v3+: the current producer id when re-initialising, else -1.
    pub producer_id: i64,
    /// v3+: the current epoch when re-initialising, else -1.
    pub producer_epoch: i16,
}

/// InitProducerId response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitProducerIdResponse {
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// Error.
    pub error_code: i16,
    /// The producer id.
    pub producer_id: i64,
    /// The producer epoch.
    pub producer_epoch: i16,
}

impl Request for InitProducerIdRequest {
    const KEY: ApiKey = ApiKey::InitProducerId;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 4;
    const FIRST_FLEXIBLE: i16 = 2;
    type Response = InitProducerIdResponse;

    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = Self::flexible(version);
        e.nullable_string(self.transactional_id.as_deref(), flex);
        e.i32(self.transaction_timeout_ms);
        if version >= 3 {
            e.i64(self.producer_id);
            e.i16(self.producer_epoch);
        }
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = Self::flexible(version);
        let transactional_id = d.nullable_string(flex)?;
        let transaction_timeout_ms = d.i32()?;
        let (producer_id, producer_epoch) = if version >= 3 { (d.i64()?, d.i16()?) } else { (-1, -1) };
        d.skip_tagged_fields(flex)?;
        Ok(InitProducerIdRequest { transactional_id, transaction_timeout_ms, producer_id, producer_epoch })
    }
}

impl Response for InitProducerIdResponse {
    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = InitProducerIdRequest::flexible(version);
        e.i32(self.throttle_time_ms);
        e.i16(self.error_code);
        e.i64(self.producer_id);
        e.i16(self.producer_epoch);
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = InitProducerIdRequest::flexible(version);
        let r = InitProducerIdResponse {
            throttle_time_ms: d.i32()?,
            error_code: d.i16()?,
            producer_id: d.i64()?,
            producer_epoch: d.i16()?,
        };
        d.skip_tagged_fields(flex)?;
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::*;

    #[test]
    fn round_trips_every_version_and_rejects_every_truncation() {
        for v in 0..=4 {
            let req = InitProducerIdRequest {
                transactional_id: None,
                transaction_timeout_ms: 60_000,
                producer_id: -1,
                producer_epoch: -1,
            };
            let bytes = round_trip_request(&req, v);
            assert_every_request_prefix_fails::<InitProducerIdRequest>(&bytes, v);
            let resp =
                InitProducerIdResponse { throttle_time_ms: 0, error_code: 0, producer_id: 1000, producer_epoch: 0 };
            let bytes = round_trip_response::<InitProducerIdRequest>(&resp, v);
            assert_every_prefix_fails::<InitProducerIdRequest>(&bytes, v);
        }
    }
}
