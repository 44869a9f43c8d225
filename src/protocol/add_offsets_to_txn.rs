//! AddOffsetsToTxn (key 25), v0–v4: makes a group's offsets part of a producer's transaction,
//! before TxnOffsetCommit writes them (KIP-98); v4 only adds an error code
//! (TRANSACTION_ABORTABLE). Transaction version 2 does without it.

use super::codec::{DecodeResult, Decoder, Encoder};
use super::{ApiKey, Request, Response};

/// AddOffsetsToTxn request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddOffsetsToTxnRequest {
    /// The transactional id.
    pub transactional_id: String,
    /// The producer id.
    pub producer_id: i64,
    /// Its epoch.
    pub producer_epoch: i16,
    /// The consumer group whose offsets the transaction commits.
    pub group_id: String,
}

/// AddOffsetsToTxn response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddOffsetsToTxnResponse {
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// Error.
    pub error_code: i16,
}

impl Request for AddOffsetsToTxnRequest {
    const KEY: ApiKey = ApiKey::AddOffsetsToTxn;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 4;
    const FIRST_FLEXIBLE: i16 = 3;
    type Response = AddOffsetsToTxnResponse;

    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = Self::flexible(version);
        e.string(&self.transactional_id, flex);
        e.i64(self.producer_id);
        e.i16(self.producer_epoch);
        e.string(&self.group_id, flex);
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = Self::flexible(version);
        let transactional_id = d.string(flex)?;
        let producer_id = d.i64()?;
        let producer_epoch = d.i16()?;
        let group_id = d.string(flex)?;
        d.skip_tagged_fields(flex)?;
        Ok(AddOffsetsToTxnRequest { transactional_id, producer_id, producer_epoch, group_id })
    }
}

impl Response for AddOffsetsToTxnResponse {
    fn encode(&self, e: &mut Encoder, version: i16) {
        e.i32(self.throttle_time_ms);
        e.i16(self.error_code);
        e.tagged_fields(AddOffsetsToTxnRequest::flexible(version));
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let throttle_time_ms = d.i32()?;
        let error_code = d.i16()?;
        d.skip_tagged_fields(AddOffsetsToTxnRequest::flexible(version))?;
        Ok(AddOffsetsToTxnResponse { throttle_time_ms, error_code })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::*;

    #[test]
    fn round_trips_every_version_and_rejects_every_truncation() {
        for v in 0..=4 {
            let req = AddOffsetsToTxnRequest {
                transactional_id: "tx".into(),
                producer_id: 7,
                producer_epoch: 2,
                group_id: "g".into(),
            };
            check_codec(&req, &AddOffsetsToTxnResponse { throttle_time_ms: 1, error_code: 51 }, v);
        }
    }
}
