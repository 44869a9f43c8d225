//! Transactions (version 1, KIP-98): InitProducerId with a transactional id, AddPartitionsToTxn,
//! AddOffsetsToTxn, TxnOffsetCommit and EndTxn. The state they share is in `mock::txn`; the
//! markers go into the partition logs, which then hold the last stable offset and the aborted
//! transactions that Fetch and ListOffsets report.
//!
//! The mock finalizes no `transaction.version`, so clients run version 1 with it: partitions and
//! offsets are added explicitly, and the epoch moves only with InitProducerId (or a timeout).

use super::*;
use crate::mock::txn::Transaction;
use crate::protocol::add_offsets_to_txn::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};
use crate::protocol::add_partitions_to_txn::{AddPartitionsToTxnRequest, AddPartitionsToTxnResponse};
use crate::protocol::end_txn::{EndTxnRequest, EndTxnResponse};
use crate::protocol::partition_errors::PartitionErrors;
use crate::protocol::txn_offset_commit::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};

/// The largest transaction timeout accepted (Kafka's `transaction.max.timeout.ms` default).
const MAX_TIMEOUT_MS: i32 = 900_000;

/// Checks that `producer_id` and `epoch` are `id`'s current producer: an older epoch was
/// fenced by a newer InitProducerId (or a timeout).
fn current(st: &State, id: &str, producer_id: i64, epoch: i16) -> Result<(), ErrorCode> {
    let t = st.txns.get(id).filter(|t| t.producer_id == producer_id).ok_or(ErrorCode::INVALID_PRODUCER_ID_MAPPING)?;
    match epoch.cmp(&t.epoch) {
        std::cmp::Ordering::Less => Err(ErrorCode::PRODUCER_FENCED),
        std::cmp::Ordering::Greater => Err(ErrorCode::INVALID_PRODUCER_EPOCH),
        std::cmp::Ordering::Equal => Ok(()),
    }
}

/// The state, locked after expiring overdue transactions, and the checks every transaction
/// request passes: an injected fault, `key`'s coordinator is this broker, and the producer is
/// `id`'s current one.
fn checked<'a>(
    ctx: &Ctx<'a>,
    fault: Option<ErrorCode>,
    key: &str,
    id: &str,
    (producer_id, epoch): (i64, i16),
) -> (MutexGuard<'a, State>, Result<(), ErrorCode>) {
    let mut st = ctx.shared.lock();
    st.expire_transactions(Instant::now());
    let ok =
        injected(fault).and_then(|()| coordinates(ctx, &st, key)).and_then(|()| current(&st, id, producer_id, epoch));
    (st, ok)
}

/// InitProducerId with a transactional id, at its coordinator (without one, a fresh idempotent
/// producer id: see `data::init_producer_id`).
///
/// Behavior:
/// - A new transactional id gets a new producer id at epoch 0; a known one keeps its producer
///   id with the next epoch, which fences the producer that had it, and a transaction it left
///   open is aborted first (markers written, offsets dropped).
/// - NOT_COORDINATOR away from the id's coordinator; INVALID_TRANSACTION_TIMEOUT outside
///   1 ms to 15 minutes; PRODUCER_FENCED when re-initialising (v3+) with an epoch that is not
///   the current one.
pub(super) fn init_transactional(
    ctx: &Ctx<'_>,
    id: &str,
    req: &InitProducerIdRequest,
) -> Result<(i64, i16), ErrorCode> {
    let mut st = ctx.shared.lock();
    st.expire_transactions(Instant::now());
    coordinates(ctx, &st, id)?;
    if !(1..=MAX_TIMEOUT_MS).contains(&req.transaction_timeout_ms) {
        return Err(ErrorCode::INVALID_TRANSACTION_TIMEOUT);
    }
    let timeout = Duration::from_millis(req.transaction_timeout_ms as u64);
    if req.producer_id >= 0 {
        current(&st, id, req.producer_id, req.producer_epoch)?;
    }
    if st.txns.get(id).is_some_and(Transaction::is_open) {
        st.end_transaction(id, false);
    }
    let next_id = st.next_producer_id + 1;
    let t = st.txns.entry(id.to_string()).or_insert_with(|| Transaction::new(next_id, timeout));
    if t.producer_id == next_id {
        st.next_producer_id = next_id;
    } else if t.epoch >= i16::MAX - 1 {
        // The epochs of this producer id are spent: the next one starts again at 0.
        t.producer_id = next_id;
        t.epoch = 0;
        st.next_producer_id = next_id;
    } else {
        t.epoch += 1;
    }
    let t = &mut st.txns.get_mut(id).expect("inserted");
    t.timeout = timeout;
    t.last_commit = None;
    let ids = (t.producer_id, t.epoch);
    drop(st);
    ctx.shared.changed.notify_all();
    Ok(ids)
}

/// AddPartitionsToTxn, v0–v3.
///
/// Behavior:
/// - Adds the partitions to the producer's transaction, which begins with the first.
/// - NOT_COORDINATOR away from the id's coordinator; PRODUCER_FENCED for an older epoch,
///   INVALID_PRODUCER_ID_MAPPING for a producer id the transactional id doesn't have;
///   UNKNOWN_TOPIC_OR_PARTITION for a partition that doesn't exist, the others then
///   OPERATION_NOT_ATTEMPTED and nothing added.
pub(super) fn add_partitions_to_txn(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: AddPartitionsToTxnRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<AddPartitionsToTxnResponse> {
    let id = &req.transactional_id;
    let (mut st, checked) = checked(ctx, fault, id, id, (req.producer_id, req.producer_epoch));
    let exists =
        |t: &str, p: i32| st.topics.get(t).is_some_and(|x| usize::try_from(p).is_ok_and(|i| i < x.partitions.len()));
    let any_unknown = req.topics.iter().any(|(t, ps)| ps.iter().any(|&p| !exists(t, p)));
    let results: PartitionErrors = req
        .topics
        .iter()
        .map(|(t, ps)| {
            let codes = ps
                .iter()
                .map(|&p| {
                    let code = match checked {
                        Err(c) => c,
                        Ok(()) if !exists(t, p) => ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                        Ok(()) if any_unknown => ErrorCode::OPERATION_NOT_ATTEMPTED,
                        Ok(()) => ErrorCode::NONE,
                    };
                    (p, code.code())
                })
                .collect();
            (t.clone(), codes)
        })
        .collect();
    if checked.is_ok() && !any_unknown {
        let t = st.txns.get_mut(id).expect("checked");
        t.began.get_or_insert_with(Instant::now);
        t.partitions.extend(req.topics.iter().flat_map(|(name, ps)| ps.iter().map(move |&p| (name.clone(), p))));
    }
    Some(AddPartitionsToTxnResponse { throttle_time_ms: 0, results })
}

/// AddOffsetsToTxn, v0–v4.
///
/// Behavior:
/// - Adds the group to the producer's transaction (which begins if it hadn't), so that
///   TxnOffsetCommit may write its offsets. The same producer checks as AddPartitionsToTxn.
pub(super) fn add_offsets_to_txn(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: AddOffsetsToTxnRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<AddOffsetsToTxnResponse> {
    let id = &req.transactional_id;
    let (mut st, checked) = checked(ctx, fault, id, id, (req.producer_id, req.producer_epoch));
    if checked.is_ok() {
        let t = st.txns.get_mut(id).expect("checked");
        t.began.get_or_insert_with(Instant::now);
        t.groups.insert(req.group_id);
    }
    Some(AddOffsetsToTxnResponse { throttle_time_ms: 0, error_code: code_of(checked) })
}

/// TxnOffsetCommit, v0–v5, at the group's coordinator.
///
/// Behavior:
/// - Holds the offsets until the transaction ends: applied if it commits, dropped if it
///   aborts. Until then OffsetFetch answers the group's previous offsets.
/// - The producer checks of AddPartitionsToTxn; INVALID_TXN_STATE unless AddOffsetsToTxn added
///   the group to the open transaction; with a generation or member id (v3+), the member checks
///   of OffsetCommit (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID: KIP-447).
pub(super) fn txn_offset_commit(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: TxnOffsetCommitRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<TxnOffsetCommitResponse> {
    let (id, group) = (&req.transactional_id, &req.group_id);
    let (mut st, checked) = checked(ctx, fault, group, id, (req.producer_id, req.producer_epoch));
    let checked = checked
        .and_then(|()| match st.txns.get(id) {
            Some(t) if t.is_open() && t.groups.contains(group) => Ok(()),
            _ => Err(ErrorCode::INVALID_TXN_STATE),
        })
        .and_then(|()| {
            if req.generation_id >= 0 || !req.member_id.is_empty() {
                check_member(&st, group, &req.member_id, req.group_instance_id.as_deref(), req.generation_id)
            } else {
                Ok(())
            }
        });
    let topics: PartitionErrors = req
        .topics
        .iter()
        .map(|(t, ps)| (t.clone(), ps.iter().map(|p| (p.partition, code_of(checked))).collect()))
        .collect();
    if checked.is_ok() {
        let t = st.txns.get_mut(id).expect("checked");
        for (topic, ps) in req.topics {
            for p in ps {
                t.offsets.insert((group.clone(), topic.clone(), p.partition), p.offset);
            }
        }
    }
    Some(TxnOffsetCommitResponse { throttle_time_ms: 0, topics })
}

/// EndTxn, v0–v5.
///
/// Behavior:
/// - Commits or aborts the open transaction: a marker (control batch) at the end of each of
///   its partitions, which moves their last stable offset; its offsets applied or dropped.
/// - A retry of the EndTxn that ended the last transaction gets the same success;
///   INVALID_TXN_STATE with no transaction open otherwise. The producer checks of
///   AddPartitionsToTxn. v5 answers the same producer id and epoch (the mock runs transaction
///   version 1, which no client sends v5 for).
pub(super) fn end_txn(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: EndTxnRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<EndTxnResponse> {
    let id = &req.transactional_id;
    let (mut st, checked) = checked(ctx, fault, id, id, (req.producer_id, req.producer_epoch));
    let checked = checked.and_then(|()| {
        let t = &st.txns[id];
        match (t.is_open(), t.last_commit) {
            (true, _) => Ok(true),
            (false, Some(c)) if c == req.committed => Ok(false),
            _ => Err(ErrorCode::INVALID_TXN_STATE),
        }
    });
    if checked == Ok(true) {
        st.end_transaction(id, req.committed);
    }
    let ids = st.txns.get(id).map_or((-1, -1), |t| (t.producer_id, t.epoch));
    drop(st);
    ctx.shared.changed.notify_all();
    Some(EndTxnResponse {
        throttle_time_ms: 0,
        error_code: code_of(checked.map(drop)),
        producer_id: ids.0,
        producer_epoch: ids.1,
    })
}

/// Where a transactional batch of `producer_id` may go: its transaction is open and holds
/// `topic`/`partition` (KIP-890's verification, which Kafka 3.6+ does too).
pub(super) fn may_write(st: &State, producer_id: i64, topic: &str, partition: i32) -> Result<(), ErrorCode> {
    match st.transaction_of(producer_id) {
        Some((_, t)) if t.is_open() && t.partitions.contains(&(topic.to_string(), partition)) => Ok(()),
        _ => Err(ErrorCode::INVALID_TXN_STATE),
    }
}
