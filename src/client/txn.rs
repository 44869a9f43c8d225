//! A transactional producer's requests to its transaction coordinator (KIP-98): InitProducerId
//! with the transactional id (which fences older incarnations), AddPartitionsToTxn before the
//! first write to a partition, AddOffsetsToTxn and TxnOffsetCommit, and EndTxn. Each finds the
//! coordinator, retries what may pass (a coordinator loading or moving, a previous transaction
//! still completing) with backoff, and returns the rest.
//!
//! Transaction version 2 (KIP-890, Kafka 4's default) drops AddPartitionsToTxn (Produce v12
//! makes the partition's leader add it) and AddOffsetsToTxn (TxnOffsetCommit v5 makes the group
//! coordinator add it), and EndTxn v5 bumps the producer epoch with every transaction, so a
//! zombie's late write can never land in the next one. [`version_2`] says which is in force.

use super::offsets::Generation;
use super::Client;
use crate::error::{Context, Error, Result};
use crate::protocol::add_offsets_to_txn::AddOffsetsToTxnRequest;
use crate::protocol::add_partitions_to_txn::AddPartitionsToTxnRequest;
use crate::protocol::end_txn::EndTxnRequest;
use crate::protocol::error_code::ErrorCode;
use crate::protocol::init_producer_id::InitProducerIdRequest;
use crate::protocol::txn_offset_commit::{TxnOffsetCommitPartition, TxnOffsetCommitRequest};
use crate::protocol::{ApiKey, Request};
use std::time::Duration;

/// Attempts per call: with the client's backoff (capped at a second) and its rule that no retry
/// starts a request timeout after the first, a coordinator has tens of seconds to settle.
const ATTEMPTS: u32 = 60;

/// The error for `code` from the coordinator `node` about `transactional_id`; the cached
/// coordinator is forgotten when the code says it moved.
fn refused(client: &Client, api: ApiKey, code: ErrorCode, node: i32, transactional_id: &str) -> Error {
    if matches!(code, ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE) {
        client.forget_txn_coordinator(transactional_id);
    }
    Error::broker(api, code, Context::broker(node), Some(format!("transactional id {transactional_id:?}")))
}

/// Sends `req` to the transaction coordinator of `transactional_id`, retrying what may pass;
/// `code` reads the answer's error code. A broken connection or a moved coordinator makes the
/// next attempt look the coordinator up again.
fn at_coordinator<R: Request>(
    client: &Client,
    transactional_id: &str,
    topics: &[&str],
    req: &R,
    code: impl Fn(&R::Response) -> ErrorCode,
) -> Result<R::Response> {
    client.with_retries(ATTEMPTS, topics, None, || {
        let node = client.txn_coordinator(transactional_id)?;
        let r = client.send_to(node, req).inspect_err(|_| client.forget_txn_coordinator(transactional_id))?;
        match code(&r) {
            ErrorCode::NONE => Ok(r),
            c => Err(refused(client, R::KEY, c, node, transactional_id)),
        }
    })
}

/// A producer id and epoch for `transactional_id`: the coordinator fences every older producer
/// with that id and finishes (aborts) a transaction it left open.
pub(crate) fn init(client: &Client, transactional_id: &str, timeout: Duration) -> Result<(i64, i16)> {
    let req = InitProducerIdRequest {
        transactional_id: Some(transactional_id.to_string()),
        transaction_timeout_ms: i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX),
        producer_id: -1,
        producer_epoch: -1,
    };
    let r = at_coordinator(client, transactional_id, &[], &req, |r| ErrorCode::from_i16(r.error_code))?;
    Ok((r.producer_id, r.producer_epoch))
}

/// Whether transactions of `transactional_id` run version 2: its coordinator finalized
/// `transaction.version` 2 and speaks EndTxn v5. Brokers older than Kafka 4 don't say, and run
/// version 1.
pub(crate) fn version_2(client: &Client, transactional_id: &str) -> Result<bool> {
    client.with_retries(ATTEMPTS, &[], None, || {
        let node = client.txn_coordinator(transactional_id)?;
        client.supports_feature(node, "transaction.version", 2, ApiKey::EndTxn, 5)
    })
}

/// Adds `partitions` of `topic` to the open transaction.
pub(crate) fn add_partitions(
    client: &Client,
    transactional_id: &str,
    (producer_id, producer_epoch): (i64, i16),
    topic: &str,
    partitions: &[i32],
) -> Result<()> {
    let req = AddPartitionsToTxnRequest {
        transactional_id: transactional_id.to_string(),
        producer_id,
        producer_epoch,
        topics: vec![(topic.to_string(), partitions.to_vec())],
    };
    // OPERATION_NOT_ATTEMPTED marks partitions left alone because another failed: the other's
    // error is the one that tells.
    at_coordinator(client, transactional_id, &[topic], &req, |r| {
        r.results
            .iter()
            .flat_map(|(_, ps)| ps.iter().map(|(_, code)| ErrorCode::from_i16(*code)))
            .filter(|c| !c.is_ok())
            .max_by_key(|c| *c != ErrorCode::OPERATION_NOT_ATTEMPTED)
            .unwrap_or(ErrorCode::NONE)
    })
    .map(drop)
}

/// Commits (or aborts) the open transaction; the producer must have flushed first. Under
/// version 2, the producer id and epoch the next transaction must use.
pub(crate) fn end(
    client: &Client,
    transactional_id: &str,
    (producer_id, producer_epoch): (i64, i16),
    commit: bool,
    transaction_v2: bool,
) -> Result<Option<(i64, i16)>> {
    let req = EndTxnRequest {
        transactional_id: transactional_id.to_string(),
        producer_id,
        producer_epoch,
        committed: commit,
        transaction_v2,
    };
    let r = at_coordinator(client, transactional_id, &[], &req, |r| ErrorCode::from_i16(r.error_code))?;
    Ok((r.producer_id >= 0 && r.producer_epoch >= 0).then_some((r.producer_id, r.producer_epoch)))
}

/// Makes `group`'s offsets part of the open transaction (at the transaction coordinator).
pub(crate) fn add_offsets(
    client: &Client,
    transactional_id: &str,
    (producer_id, producer_epoch): (i64, i16),
    group: &str,
) -> Result<()> {
    let req = AddOffsetsToTxnRequest {
        transactional_id: transactional_id.to_string(),
        producer_id,
        producer_epoch,
        group_id: group.to_string(),
    };
    at_coordinator(client, transactional_id, &[], &req, |r| ErrorCode::from_i16(r.error_code)).map(drop)
}

/// Writes `offsets` (topic, partition, next offset to read) for `group` inside the open
/// transaction (at the group coordinator), as `member` when given: the coordinator then refuses
/// a member a rebalance replaced (KIP-447). Under version 2 this also adds the offsets to the
/// transaction.
pub(crate) fn commit_offsets(
    client: &Client,
    transactional_id: &str,
    (producer_id, producer_epoch): (i64, i16),
    group: &str,
    member: Option<&Generation>,
    offsets: &[(&str, i32, i64)],
    transaction_v2: bool,
) -> Result<()> {
    let mut topics: Vec<(String, Vec<TxnOffsetCommitPartition>)> = Vec::new();
    for &(topic, partition, offset) in offsets {
        let p = TxnOffsetCommitPartition { partition, offset, leader_epoch: -1 };
        match topics.iter_mut().find(|(t, _)| t == topic) {
            Some((_, ps)) => ps.push(p),
            None => topics.push((topic.to_string(), vec![p])),
        }
    }
    let req = TxnOffsetCommitRequest {
        transactional_id: transactional_id.to_string(),
        group_id: group.to_string(),
        producer_id,
        producer_epoch,
        generation_id: member.map_or(-1, |m| m.generation_id),
        member_id: member.map(|m| m.member_id.clone()).unwrap_or_default(),
        group_instance_id: member.and_then(|m| m.group_instance_id.clone()),
        topics,
        transaction_v2,
    };
    client.with_retries(ATTEMPTS, &[], Some(group), || {
        let node = client.coordinator(group)?;
        let r = client.send_to(node, &req)?;
        let worst = r
            .topics
            .iter()
            .flat_map(|(t, ps)| ps.iter().map(move |(p, code)| (t, *p, ErrorCode::from_i16(*code))))
            .find(|(_, _, c)| !c.is_ok());
        match worst {
            None => Ok(()),
            Some((topic, partition, code)) => Err(Error::broker(
                ApiKey::TxnOffsetCommit,
                code,
                Context::partition(topic, partition).on_broker(node),
                Some(format!("group {group:?}, transactional id {transactional_id:?}")),
            )),
        }
    })
}
