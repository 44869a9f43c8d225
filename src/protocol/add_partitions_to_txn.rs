//! AddPartitionsToTxn (key 24), v0–v3 (the clients' versions; v4+ are for brokers): adds
//! partitions to a producer's open transaction before it writes to them (KIP-98).

use super::codec::{DecodeResult, Decoder, Encoder};
use super::partition_errors::{self, PartitionErrors};
use super::{ApiKey, Request, Response};

/// AddPartitionsToTxn request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddPartitionsToTxnRequest {
    /// The transactional id.
    pub transactional_id: String,
    /// The producer id the transactional id has.
    pub producer_id: i64,
    /// Its epoch.
    pub producer_epoch: i16,
    /// (topic, partitions) to add.
    pub topics: Vec<(String, Vec<i32>)>,
}

/// AddPartitionsToTxn response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddPartitionsToTxnResponse {
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// Per topic: (partition, error code).
    pub results: PartitionErrors,
}

impl Request for AddPartitionsToTxnRequest {
    const KEY: ApiKey = ApiKey::AddPartitionsToTxn;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 3;
    const FIRST_FLEXIBLE: i16 = 3;
    type Response = AddPartitionsToTxnResponse;

    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = Self::flexible(version);
        e.string(&self.transactional_id, flex);
        e.i64(self.producer_id);
        e.i16(self.producer_epoch);
        e.array(&self.topics, flex, |e, (topic, partitions)| {
            e.string(topic, flex);
            e.i32_array(partitions, flex);
            e.tagged_fields(flex);
        });
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = Self::flexible(version);
        let transactional_id = d.string(flex)?;
        let producer_id = d.i64()?;
        let producer_epoch = d.i16()?;
        let topics = d.array(flex, 2, |d| {
            let topic = d.string(flex)?;
            let partitions = d.i32_array(flex)?;
            d.skip_tagged_fields(flex)?;
            Ok((topic, partitions))
        })?;
        d.skip_tagged_fields(flex)?;
        Ok(AddPartitionsToTxnRequest { transactional_id, producer_id, producer_epoch, topics })
    }
}

impl Response for AddPartitionsToTxnResponse {
    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = AddPartitionsToTxnRequest::flexible(version);
        e.i32(self.throttle_time_ms);
        partition_errors::encode(e, &self.results, flex, |(t, ps)| (t.as_str(), ps.as_slice()));
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = AddPartitionsToTxnRequest::flexible(version);
        let throttle_time_ms = d.i32()?;
        let results = partition_errors::decode(d, flex)?;
        d.skip_tagged_fields(flex)?;
        Ok(AddPartitionsToTxnResponse { throttle_time_ms, results })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::*;

    #[test]
    fn round_trips_every_version_and_rejects_every_truncation() {
        for v in 0..=3 {
            let req = AddPartitionsToTxnRequest {
                transactional_id: "tx".into(),
                producer_id: 7,
                producer_epoch: 2,
                topics: vec![("a".into(), vec![0, 2]), ("b".into(), vec![1])],
            };
            let resp = AddPartitionsToTxnResponse {
                throttle_time_ms: 3,
                results: vec![("a".into(), vec![(0, 0), (2, 51)]), ("b".into(), vec![(1, 0)])],
            };
            check_codec(&req, &resp, v);
        }
    }
}
