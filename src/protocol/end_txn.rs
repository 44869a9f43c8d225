//! EndTxn (key 26), v0–v4: commits or aborts a producer's transaction (KIP-98). v5 (KIP-890's
//! epoch bump per transaction) is not spoken.

use super::codec::{DecodeResult, Decoder, Encoder};
use super::{ApiKey, Request, Response};

/// EndTxn request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndTxnRequest {
    /// The transactional id.
    pub transactional_id: String,
    /// The producer id.
    pub producer_id: i64,
    /// Its epoch.
    pub producer_epoch: i16,
    /// Commit (true) or abort.
    pub committed: bool,
}

/// EndTxn response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndTxnResponse {
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// Error.
    pub error_code: i16,
}

impl Request for EndTxnRequest {
    const KEY: ApiKey = ApiKey::EndTxn;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 4;
    const FIRST_FLEXIBLE: i16 = 3;
    type Response = EndTxnResponse;

    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = Self::flexible(version);
        e.string(&self.transactional_id, flex);
        e.i64(self.producer_id);
        e.i16(self.producer_epoch);
        e.bool(self.committed);
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = Self::flexible(version);
        let transactional_id = d.string(flex)?;
        let producer_id = d.i64()?;
        let producer_epoch = d.i16()?;
        let committed = d.bool()?;
        d.skip_tagged_fields(flex)?;
        Ok(EndTxnRequest { transactional_id, producer_id, producer_epoch, committed })
    }
}

impl Response for EndTxnResponse {
    fn encode(&self, e: &mut Encoder, version: i16) {
        e.i32(self.throttle_time_ms);
        e.i16(self.error_code);
        e.tagged_fields(EndTxnRequest::flexible(version));
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let throttle_time_ms = d.i32()?;
        let error_code = d.i16()?;
        d.skip_tagged_fields(EndTxnRequest::flexible(version))?;
        Ok(EndTxnResponse { throttle_time_ms, error_code })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::*;

    #[test]
    fn round_trips_every_version_and_rejects_every_truncation() {
        for v in 0..=4 {
            let req = EndTxnRequest {
                transactional_id: "tx".into(),
                producer_id: 7,
                producer_epoch: 2,
                committed: v % 2 == 0,
            };
            check_codec(&req, &EndTxnResponse { throttle_time_ms: 1, error_code: 48 }, v);
        }
    }
}
