//! EndTxn (key 26), v0–v5: commits or aborts a producer's transaction (KIP-98). v5 is
//! transaction version 2 (KIP-890): the coordinator bumps the producer epoch with every
//! transaction and answers with the id and epoch to use next.

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
    /// Not on the wire: the transaction runs version 2 of the protocol (KIP-890), which v5
    /// means; without it the request goes at v4 at most.
    pub transaction_v2: bool,
}

/// EndTxn response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndTxnResponse {
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// Error.
    pub error_code: i16,
    /// v5+: the producer id for the next transaction, -1 before v5.
    pub producer_id: i64,
    /// v5+: the producer epoch for the next transaction, -1 before v5.
    pub producer_epoch: i16,
}

impl Request for EndTxnRequest {
    const KEY: ApiKey = ApiKey::EndTxn;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 5;
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
        Ok(EndTxnRequest { transactional_id, producer_id, producer_epoch, committed, transaction_v2: version >= 5 })
    }

    fn max_version(&self) -> i16 {
        if self.transaction_v2 {
            5
        } else {
            4
        }
    }
}

impl Response for EndTxnResponse {
    fn encode(&self, e: &mut Encoder, version: i16) {
        e.i32(self.throttle_time_ms);
        e.i16(self.error_code);
        if version >= 5 {
            e.i64(self.producer_id);
            e.i16(self.producer_epoch);
        }
        e.tagged_fields(EndTxnRequest::flexible(version));
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let throttle_time_ms = d.i32()?;
        let error_code = d.i16()?;
        let (producer_id, producer_epoch) = if version >= 5 { (d.i64()?, d.i16()?) } else { (-1, -1) };
        d.skip_tagged_fields(EndTxnRequest::flexible(version))?;
        Ok(EndTxnResponse { throttle_time_ms, error_code, producer_id, producer_epoch })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::*;

    #[test]
    fn round_trips_every_version_and_rejects_every_truncation() {
        for v in 0..=5 {
            let req = EndTxnRequest {
                transactional_id: "tx".into(),
                producer_id: 7,
                producer_epoch: 2,
                committed: v % 2 == 0,
                transaction_v2: v >= 5,
            };
            let (producer_id, producer_epoch) = if v >= 5 { (7, 3) } else { (-1, -1) };
            check_codec(&req, &EndTxnResponse { throttle_time_ms: 1, error_code: 48, producer_id, producer_epoch }, v);
        }
    }

    #[test]
    fn a_version_1_transaction_never_goes_at_v5() {
        let req = |transaction_v2| EndTxnRequest {
            transactional_id: "tx".into(),
            producer_id: 7,
            producer_epoch: 2,
            committed: true,
            transaction_v2,
        };
        assert_eq!(req(false).max_version(), 4);
        assert_eq!(req(true).max_version(), 5);
    }
}
