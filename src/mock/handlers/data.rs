//! Produce, Fetch, ListOffsets and InitProducerId: the partition logs and the producer ids that write to them.

use super::*;

/// Produce, v3–v12.
///
/// Behavior:
/// - Stores each partition's RecordBatch v2 batches as sent, assigning offsets; checks every
///   batch's CRC-32C first and stores nothing of a partition whose data is bad
///   (CORRUPT_MESSAGE; magic other than 2: UNSUPPORTED_FOR_MESSAGE_FORMAT).
/// - Idempotent producers: a retry of one of the last five batches gets its first offset back
///   and is not stored again; a sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER.
/// - NOT_LEADER_OR_FOLLOWER unless this broker leads the partition; unknown topics are not
///   created here (Metadata creates them).
/// - Transactional batches only into a partition of their producer's open transaction
///   (INVALID_TXN_STATE otherwise); they hold the partition's last stable offset until the
///   transaction ends.
/// - acks=0 gets no response; otherwise the answer comes when the data is stored (there are no
///   replicas to wait for). No LogAppendTime.
pub(super) fn produce(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: ProduceRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<ProduceResponse> {
    let retention = ctx.shared.cfg.retention_bytes;
    let mut st = ctx.shared.lock();
    let mut responses = Vec::new();
    for t in req.topics {
        let mut partitions = Vec::new();
        for (index, records) in t.partitions {
            let result = injected(fault)
                .and_then(|_| leads(ctx, &st, &t.name, index))
                .and_then(|_| match log::transactional_producer(&records) {
                    Some(producer_id) => super::txn::may_write(&st, producer_id, &t.name, index),
                    None => Ok(()),
                })
                .and_then(|_| {
                    let p = &mut st.topics.get_mut(&t.name).expect("checked").partitions[index as usize];
                    p.log.append(&records, retention)
                });
            let log_start =
                st.topics.get(&t.name).and_then(|x| x.partitions.get(index as usize)).map_or(-1, |p| p.log.log_start);
            partitions.push(ProducePartitionResponse {
                index,
                error_code: code_of(result.map(drop)),
                base_offset: result.unwrap_or(-1),
                log_append_time_ms: -1,
                log_start_offset: log_start,
                record_errors: Vec::new(),
                error_message: None,
            });
        }
        responses.push(ProduceTopicResponse { name: t.name, partitions });
    }
    drop(st);
    ctx.shared.changed.notify_all();
    (req.acks != 0).then_some(ProduceResponse { responses, throttle_time_ms: 0 })
}

/// Fetch, v4–v17.
///
/// Behavior:
/// - Returns whole batches from the one holding the fetch offset, at least one per partition
///   even past `partition_max_bytes` (KIP-74), and stops adding partitions at `max_bytes`;
///   with `cut_batches`, cuts the data at `partition_max_bytes` wherever it falls.
/// - Answers at once when `min_bytes` are there; otherwise waits up to `max_wait_ms` for
///   produced data, answering as soon as enough arrives.
/// - OFFSET_OUT_OF_RANGE below the log start or past the high watermark.
/// - read_committed (isolation level 1) gets no batch from the last stable offset on (where
///   the oldest open transaction begins) and the list of aborted transactions in the range it
///   reads; read_uncommitted reads to the high watermark. Both learn the last stable offset.
/// - Topics by name or, from v13, by id (UNKNOWN_TOPIC_ID for an id no topic has).
/// - No fetch sessions (session id 0, which tells clients to send full fetches), no follower
///   fetching.
pub(super) fn fetch(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: FetchRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<FetchResponse> {
    // Taken before the state lock, which is never held while the faults' is taken.
    let raw = ctx.shared.faults().records.clone();
    let wait = Duration::from_millis(req.max_wait_ms.max(0) as u64).min(ctx.shared.cfg.max_request_wait);
    let deadline = Instant::now() + wait;
    let committed_only = req.isolation_level == 1;
    let mut st = ctx.shared.lock();
    let mut req = req;
    for t in req.topics.iter_mut().filter(|t| t.topic.is_empty()) {
        if let Some((name, _)) = st.topics.iter().find(|(_, x)| x.id == t.topic_id) {
            t.topic.clone_from(name);
        }
    }
    loop {
        st.expire_transactions(Instant::now());
        let mut available = 0usize;
        let mut answer_now = fault.is_some();
        for t in &req.topics {
            for p in &t.partitions {
                match leads(ctx, &st, &t.topic, p.partition) {
                    Ok(()) => {
                        let log = &st.topics[&t.topic].partitions[p.partition as usize].log;
                        if p.fetch_offset < log.log_start || p.fetch_offset > log.next_offset {
                            answer_now = true;
                        }
                        let end = if committed_only { log.last_stable_offset() } else { log.next_offset };
                        available += log.bytes_from(p.fetch_offset, end);
                    }
                    Err(_) => answer_now = true,
                }
            }
        }
        let now = Instant::now();
        if answer_now
            || available >= req.min_bytes.max(1) as usize
            || now >= deadline
            || ctx.shared.shutdown.load(Ordering::Acquire)
        {
            break;
        }
        st = ctx.shared.changed.wait_timeout(st, deadline - now).map(|(g, _)| g).unwrap_or_else(|e| e.into_inner().0);
    }
    let mut budget = req.max_bytes.max(0) as usize;
    let responses = req
        .topics
        .iter()
        .map(|t| FetchTopicResponse {
            topic: t.topic.clone(),
            topic_id: t.topic_id,
            partitions: t
                .partitions
                .iter()
                .map(|p| {
                    let mut r = FetchPartitionResponse {
                        partition_index: p.partition,
                        error_code: 0,
                        high_watermark: -1,
                        last_stable_offset: -1,
                        log_start_offset: -1,
                        aborted_transactions: None,
                        preferred_read_replica: -1,
                        records: None,
                        // The mock's logs are never truncated: no divergence to report.
                        diverging_epoch: None,
                    };
                    let checked = injected(fault).and_then(|_| match t.topic.is_empty() {
                        true => Err(ErrorCode::UNKNOWN_TOPIC_ID),
                        false => leads(ctx, &st, &t.topic, p.partition),
                    });
                    if let Err(code) = checked {
                        r.error_code = code.code();
                        return r;
                    }
                    let log = &st.topics[&t.topic].partitions[p.partition as usize].log;
                    (r.high_watermark, r.last_stable_offset, r.log_start_offset) =
                        (log.next_offset, log.last_stable_offset(), log.log_start);
                    let end = if committed_only { r.last_stable_offset } else { r.high_watermark };
                    if p.fetch_offset < log.log_start || p.fetch_offset > log.next_offset {
                        r.error_code = ErrorCode::OFFSET_OUT_OF_RANGE.code();
                    } else if let Some(raw) = raw.get(&(t.topic.clone(), p.partition)) {
                        r.high_watermark = r.high_watermark.max(1);
                        r.records = Some(raw.to_vec().into());
                    } else if budget > 0 {
                        let limit = (p.partition_max_bytes.max(0) as usize).min(budget);
                        let mut data = log.read(p.fetch_offset, limit, end);
                        if committed_only {
                            r.aborted_transactions = Some(
                                log.aborted_between(p.fetch_offset, end)
                                    .into_iter()
                                    .map(|(producer_id, first_offset)| AbortedTransaction { producer_id, first_offset })
                                    .collect(),
                            );
                        }
                        if ctx.shared.cfg.cut_batches {
                            data.truncate(limit);
                        }
                        budget = budget.saturating_sub(data.len());
                        r.records = Some(data.into());
                    } else {
                        r.records = Some(Vec::new().into());
                    }
                    r
                })
                .collect(),
        })
        .collect();
    Some(FetchResponse { throttle_time_ms: 0, error_code: 0, session_id: 0, responses })
}

/// ListOffsets, v1–v8.
///
/// Behavior:
/// - -2: the log start; -1: the high watermark; a timestamp: the first offset whose record
///   timestamp is at or after it (with that timestamp), or -1 when none is.
/// - -1 under read_committed (isolation level 1): the last stable offset.
/// - -3 (max timestamp) and other negative specs answer -1. NOT_LEADER_OR_FOLLOWER unless this
///   broker leads the partition.
pub(super) fn list_offsets(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: ListOffsetsRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<ListOffsetsResponse> {
    let mut st = ctx.shared.lock();
    st.expire_transactions(Instant::now());
    let committed_only = req.isolation_level == 1;
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let found = injected(fault).and_then(|_| leads(ctx, &st, &t.name, p.partition_index)).map(|_| {
                        let log = &st.topics[&t.name].partitions[p.partition_index as usize].log;
                        match p.timestamp {
                            -2 => (-1, log.log_start),
                            -1 if committed_only => (-1, log.last_stable_offset()),
                            -1 => (-1, log.next_offset),
                            ts if ts >= 0 => log.offset_for_time(ts).map_or((-1, -1), |(o, ts)| (ts, o)),
                            _ => (-1, -1),
                        }
                    });
                    let (timestamp, offset) = found.unwrap_or((-1, -1));
                    ListOffsetsPartitionResponse {
                        partition_index: p.partition_index,
                        error_code: code_of(found.map(drop)),
                        timestamp,
                        offset,
                        leader_epoch: 0,
                    }
                })
                .collect();
            ListOffsetsTopicResponse { name: t.name, partitions }
        })
        .collect();
    Some(ListOffsetsResponse { throttle_time_ms: 0, topics })
}

/// InitProducerId, v0–v4.
///
/// Behavior:
/// - Without a transactional id, a new producer id with epoch 0 for every request.
/// - With one, the transaction coordinator's answer (see `txn::init_transactional`).
pub(super) fn init_producer_id(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: InitProducerIdRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<InitProducerIdResponse> {
    let answer = |r: Result<(i64, i16), ErrorCode>| {
        let (producer_id, producer_epoch) = r.unwrap_or((-1, -1));
        Some(InitProducerIdResponse {
            throttle_time_ms: 0,
            error_code: code_of(r.map(drop)),
            producer_id,
            producer_epoch,
        })
    };
    if let Err(code) = injected(fault) {
        return answer(Err(code));
    }
    if let Some(id) = req.transactional_id.as_deref() {
        return answer(super::txn::init_transactional(ctx, id, &req));
    }
    let mut st = ctx.shared.lock();
    st.next_producer_id += 1;
    answer(Ok((st.next_producer_id, 0)))
}
