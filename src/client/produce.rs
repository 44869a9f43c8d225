//! Produce as a typed operation, split like [`super::fetch`]: [`send`] writes encoded batches
//! for one topic to a leader, [`read`] settles each partition as a [`ProduceOutcome`].

use super::pool::Dedicated;
use super::Client;
use crate::error::Context;
use crate::error::{Error, Result};
use crate::protocol::error_code::ErrorCode;
use crate::protocol::init_producer_id::InitProducerIdRequest;
use crate::protocol::produce::{ProduceRequest, ProduceTopic};
use crate::protocol::records::Compression;
use crate::protocol::ApiKey;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Settings of a Produce request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProduceParams<'a> {
    pub topic: &'a str,
    /// The wire value: 0 (none), 1 (leader), -1 (all in-sync replicas).
    pub acks: i16,
    /// How long the broker may wait for the replicas' acknowledgements.
    pub timeout: Duration,
    /// The batches' compression: zstd needs Produce v7.
    pub compression: Compression,
    /// A transactional producer's id: its batches are transactional.
    pub transactional_id: Option<&'a str>,
    /// Its transactions run version 2 (KIP-890): Produce v12 adds the partition to them.
    pub transaction_v2: bool,
}

/// A Produce written to a broker, its answer still to be read.
#[derive(Debug)]
pub(crate) struct PendingProduce {
    broker: i32,
    version: i16,
    correlation: i32,
    topic: String,
    partitions: Vec<i32>,
}

/// How one partition's batch fared.
#[derive(Debug)]
pub(crate) enum ProduceOutcome {
    /// Written at `base_offset` (`None` when the broker doesn't say: acks=0, or a duplicate of
    /// a batch it already had, which idempotence dropped).
    Written { base_offset: Option<i64> },
    /// Refused, with the error naming the partition.
    Failed(Error),
}

/// Writes `batches` (partition, encoded RecordBatch) to `broker`. With acks=0 the broker never
/// answers: `Ok(None)` means written, which is all there is to know.
pub(crate) fn send(
    conns: &mut Dedicated,
    client: &Client,
    broker: i32,
    params: &ProduceParams<'_>,
    batches: Vec<(i32, Vec<u8>)>,
    deadline: Instant,
) -> Result<Option<PendingProduce>> {
    let partitions: Vec<i32> = batches.iter().map(|b| b.0).collect();
    let req = ProduceRequest {
        transactional_id: params.transactional_id.map(str::to_string),
        acks: params.acks,
        timeout_ms: i32::try_from(params.timeout.as_millis()).unwrap_or(i32::MAX),
        topics: vec![ProduceTopic { name: params.topic.to_string(), partitions: batches }],
        transaction_v2: params.transaction_v2,
    };
    let conn = conns.get(broker, || client.open(broker))?;
    let version = conn.version_for(&req)?;
    if params.compression == Compression::Zstd && version < 7 {
        return Err(Error::Config(format!(
            "broker {} speaks Produce up to v{version}; zstd needs v7 (Kafka 2.1)",
            conn.addr()
        )));
    }
    let correlation = conn.write_request(&req, version, deadline)?;
    if params.acks == 0 {
        conn.no_response_expected();
        return Ok(None);
    }
    Ok(Some(PendingProduce { broker, version, correlation, topic: params.topic.to_string(), partitions }))
}

/// Reads the answer to `pending`: an outcome for every partition sent (one the broker left out
/// fails). A failure of the whole request is `Err`.
pub(crate) fn read(
    conns: &mut Dedicated,
    pending: PendingProduce,
    deadline: Instant,
) -> Result<BTreeMap<i32, ProduceOutcome>> {
    let conn = conns.written_on(pending.broker, ApiKey::Produce)?;
    let resp = conn.read_response::<ProduceRequest>(pending.correlation, pending.version, deadline)?;
    let topic = &pending.topic;
    let mut out = BTreeMap::new();
    for t in resp.responses.into_iter().filter(|t| t.name == *topic) {
        for p in t.partitions {
            let outcome = match ErrorCode::from_i16(p.error_code) {
                ErrorCode::NONE => ProduceOutcome::Written { base_offset: Some(p.base_offset) },
                // A retry of a batch the broker had already written (idempotence at work).
                ErrorCode::DUPLICATE_SEQUENCE_NUMBER => ProduceOutcome::Written { base_offset: None },
                code => ProduceOutcome::Failed(Error::broker(
                    ApiKey::Produce,
                    code,
                    Context::partition(topic, p.index).on_broker(pending.broker),
                    p.error_message,
                )),
            };
            out.insert(p.index, outcome);
        }
    }
    for p in pending.partitions {
        out.entry(p).or_insert_with(|| {
            ProduceOutcome::Failed(Error::broker(
                ApiKey::Produce,
                ErrorCode::UNKNOWN_SERVER_ERROR,
                Context::partition(topic, p).on_broker(pending.broker),
                Some("partition missing from the Produce response".into()),
            ))
        });
    }
    Ok(out)
}

/// Gets an idempotent producer id and epoch from any broker, for `topic`'s producer.
pub(crate) fn init_producer_id(client: &Client, topic: &str) -> Result<(i64, i16)> {
    let req = InitProducerIdRequest {
        transactional_id: None,
        transaction_timeout_ms: 60_000,
        producer_id: -1,
        producer_epoch: -1,
    };
    client.with_retries(8, &[], None, || {
        let node = client.any_broker()?;
        let r = client.send_to(node, &req)?;
        let code = ErrorCode::from_i16(r.error_code);
        if !code.is_ok() {
            return Err(Error::broker(ApiKey::InitProducerId, code, Context::broker(node), None));
        }
        log::info!("{topic}: idempotent producer id {} epoch {}", r.producer_id, r.producer_epoch);
        Ok((r.producer_id, r.producer_epoch))
    })
}
