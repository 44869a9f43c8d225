//! Fetch as a typed operation, split in two so that one thread can have a Fetch outstanding at
//! every broker at once: [`send`] writes the request, [`read`] reads its answer.
//!
//! The consumer says which partitions from which offsets; this module fills in the rest of the
//! request (a consumer's replica id, no fetch session — KIP-227's "full fetch"), picks the
//! version, and turns each partition's error code into a
//! [`FetchOutcome`].

use super::pool::Dedicated;
use super::Client;
use crate::error::Context;
use crate::error::{Error, Result};
use crate::protocol::error_code::ErrorCode;
use crate::protocol::fetch::{FetchPartition, FetchRequest, FetchTopic};
use crate::protocol::ApiKey;
use std::time::{Duration, Instant};

/// What to read from one partition.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PartitionFetch<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    /// The most record bytes to return for this partition.
    pub max_bytes: usize,
    /// The leader epoch of the last record read, -1 if none: the leader answers with
    /// [`FetchOutcome::Diverged`] when its log no longer holds that epoch up to `offset`.
    pub last_fetched_epoch: i32,
}

/// Settings of a whole Fetch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FetchParams {
    /// How long the broker may wait for `min_bytes`.
    pub wait: Duration,
    pub min_bytes: usize,
    /// The most bytes in the whole response.
    pub max_bytes: usize,
    /// read_committed: the broker returns data up to the last stable offset only, and lists
    /// the aborted transactions in it.
    pub read_committed: bool,
}

/// A Fetch written to a broker, its answer still to be read.
#[derive(Debug)]
pub(crate) struct PendingFetch {
    broker: i32,
    version: i16,
    correlation: i32,
    /// (topic, partition, offset) asked for, for the errors' context.
    asked: Vec<(String, i32, i64)>,
}

/// One partition's answer.
#[derive(Debug)]
pub(crate) enum FetchOutcome {
    /// Record data (possibly none, or a partial batch), the partition's high watermark and
    /// last stable offset (-1 where the broker doesn't say), and the aborted transactions in the
    /// data: (producer id, first offset).
    Data { high_watermark: i64, last_stable_offset: i64, aborted: Vec<(i64, i64)>, records: Vec<u8> },
    /// The offset asked for is outside the log.
    OutOfRange,
    /// The leader's log diverged from what was read (KIP-320): the last fetched epoch ends at
    /// `end_offset` there, before the offset asked for. The records past it were truncated.
    Diverged { epoch: i32, end_offset: i64 },
    /// Any other error code, as an [`Error`] naming the partition.
    Failed(Error),
}

/// The outcome for (topic, partition).
pub(crate) type PartitionOutcome = (String, i32, FetchOutcome);

fn saturating_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// What an error about one partition of `pending` concerns: the partition, the offset asked
/// for, the broker.
fn partition_context(pending: &PendingFetch, topic: &str, partition: i32) -> Context {
    let context = Context::partition(topic, partition).on_broker(pending.broker);
    match pending.asked.iter().find(|(t, p, _)| t == topic && *p == partition) {
        Some((_, _, offset)) => context.at_offset(*offset),
        None => context,
    }
}

/// Writes a Fetch for `parts` to broker `broker` on the thread's own connection.
pub(crate) fn send(
    conns: &mut Dedicated,
    client: &Client,
    broker: i32,
    params: &FetchParams,
    parts: &[PartitionFetch<'_>],
    deadline: Instant,
) -> Result<PendingFetch> {
    let mut topics: Vec<FetchTopic> = Vec::new();
    for p in parts {
        let fp = FetchPartition {
            partition: p.partition,
            // The leader epoch the metadata names: a deposed leader then refuses the fetch
            // (FENCED_LEADER_EPOCH) instead of serving a log that may be cut back.
            current_leader_epoch: client.leader_epoch(p.topic, p.partition),
            fetch_offset: p.offset,
            last_fetched_epoch: p.last_fetched_epoch,
            log_start_offset: -1,
            partition_max_bytes: saturating_i32(p.max_bytes),
        };
        match topics.iter_mut().find(|t| t.topic == p.topic) {
            Some(t) => t.partitions.push(fp),
            None => topics.push(FetchTopic { topic: p.topic.to_string(), partitions: vec![fp] }),
        }
    }
    let req = FetchRequest {
        replica_id: -1,
        max_wait_ms: saturating_i32(params.wait.as_millis() as usize),
        min_bytes: saturating_i32(params.min_bytes),
        max_bytes: saturating_i32(params.max_bytes),
        isolation_level: i8::from(params.read_committed),
        session_id: 0,
        session_epoch: -1,
        topics,
        rack_id: String::new(),
    };
    let conn = conns.get(broker, || client.open(broker))?;
    let version = conn.version_for(&req)?;
    let correlation = conn.write_request(&req, version, deadline)?;
    let asked = parts.iter().map(|p| (p.topic.to_string(), p.partition, p.offset)).collect();
    Ok(PendingFetch { broker, version, correlation, asked })
}

/// Reads the answer to `pending`: one outcome per partition the broker answered for. An error
/// for the whole request (a broken connection, a top-level error code) is `Err`.
pub(crate) fn read(conns: &mut Dedicated, pending: PendingFetch, deadline: Instant) -> Result<Vec<PartitionOutcome>> {
    let conn = conns.written_on(pending.broker, ApiKey::Fetch)?;
    let resp = conn.read_response::<FetchRequest>(pending.correlation, pending.version, deadline)?;
    let top = ErrorCode::from_i16(resp.error_code);
    if !top.is_ok() {
        let mut context = Context::broker(pending.broker);
        if let Some(((topic, partition, _), rest)) = pending.asked.split_first() {
            context.topic = Some(topic.clone());
            context.partition = Some(*partition);
            context.more_partitions = rest.iter().map(|(t, p, _)| (t.clone(), *p)).collect();
        }
        return Err(Error::broker(ApiKey::Fetch, top, context, None));
    }
    let mut out = Vec::new();
    for t in resp.responses {
        for p in t.partitions {
            let code = ErrorCode::from_i16(p.error_code);
            let outcome = match code {
                ErrorCode::NONE => match p.diverging_epoch {
                    Some(d) => FetchOutcome::Diverged { epoch: d.epoch, end_offset: d.end_offset },
                    None => FetchOutcome::Data {
                        high_watermark: p.high_watermark,
                        last_stable_offset: p.last_stable_offset,
                        aborted: p
                            .aborted_transactions
                            .unwrap_or_default()
                            .into_iter()
                            .map(|a| (a.producer_id, a.first_offset))
                            .collect(),
                        records: p.records.unwrap_or_default(),
                    },
                },
                ErrorCode::OFFSET_OUT_OF_RANGE => FetchOutcome::OutOfRange,
                code => FetchOutcome::Failed(Error::broker(
                    ApiKey::Fetch,
                    code,
                    partition_context(&pending, &t.topic, p.partition_index),
                    None,
                )),
            };
            out.push((t.topic.clone(), p.partition_index, outcome));
        }
    }
    Ok(out)
}
