//! Metadata, FindCoordinator, CreateTopics and DeleteTopics: what the cluster holds and who leads it.

use super::*;

/// Metadata, v1–v12.
///
/// Behavior:
/// - Lists the brokers that are up, and the topics asked for (all of them for a null list), by
///   name or (v10+) by topic id; an unknown id is UNKNOWN_TOPIC_ID.
/// - Creates an unknown topic with the default partition count when the request allows it
///   and the cluster auto-creates; otherwise UNKNOWN_TOPIC_OR_PARTITION (INVALID_TOPIC_EXCEPTION
///   for a name Kafka would refuse).
/// - One replica per partition, its leader; a partition whose leader is down has no leader
///   (LEADER_NOT_AVAILABLE). Leader epochs are 0; no authorized operations.
pub(super) fn metadata(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: MetadataRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<MetadataResponse> {
    let shared = ctx.shared;
    let mut st = shared.lock();
    let mut names: Vec<String> = match &req.topics {
        Some(list) => list.clone(),
        None => st.topics.keys().cloned().collect(),
    };
    let mut unknown_ids = Vec::new();
    for id in &req.topic_ids {
        match st.topics.iter().find(|(_, t)| t.id == *id) {
            Some((name, _)) => names.push(name.clone()),
            None => unknown_ids.push(*id),
        }
    }
    let up = |id: i32| shared.brokers.iter().any(|b| b.id == id && b.up.load(Ordering::Acquire));
    let mut topics = Vec::new();
    for name in names {
        let mut error = fault;
        if error.is_none() && !st.topics.contains_key(&name) {
            if !valid_topic_name(&name) {
                error = Some(ErrorCode::INVALID_TOPIC_EXCEPTION);
            } else if req.allow_auto_topic_creation && shared.cfg.auto_create {
                error = shared.create_topic(&mut st, &name, shared.cfg.partitions).err();
            } else {
                error = Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
            }
        }
        let topic = match (error, st.topics.get(&name)) {
            (None, Some(t)) => MetadataTopic {
                error_code: 0,
                name: Some(name),
                topic_id: t.id,
                is_internal: false,
                partitions: t
                    .partitions
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let live = up(p.leader);
                        MetadataPartition {
                            error_code: if live { 0 } else { ErrorCode::LEADER_NOT_AVAILABLE.code() },
                            partition_index: i as i32,
                            leader_id: if live { p.leader } else { -1 },
                            leader_epoch: 0,
                            replica_nodes: vec![p.leader],
                            isr_nodes: if live { vec![p.leader] } else { vec![] },
                            offline_replicas: if live { vec![] } else { vec![p.leader] },
                        }
                    })
                    .collect(),
                topic_authorized_operations: i32::MIN,
            },
            (e, _) => MetadataTopic {
                error_code: e.unwrap_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION).code(),
                name: Some(name),
                topic_id: [0; 16],
                is_internal: false,
                partitions: Vec::new(),
                topic_authorized_operations: i32::MIN,
            },
        };
        topics.push(topic);
    }
    topics.extend(unknown_ids.into_iter().map(|id| MetadataTopic {
        error_code: ErrorCode::UNKNOWN_TOPIC_ID.code(),
        name: None,
        topic_id: id,
        is_internal: false,
        partitions: Vec::new(),
        topic_authorized_operations: i32::MIN,
    }));
    let brokers: Vec<MetadataBroker> = shared
        .brokers
        .iter()
        .filter(|b| b.up.load(Ordering::Acquire))
        .map(|b| MetadataBroker { node_id: b.id, host: "127.0.0.1".into(), port: i32::from(b.port), rack: None })
        .collect();
    Some(MetadataResponse {
        throttle_time_ms: 0,
        controller_id: brokers.first().map_or(-1, |b| b.node_id),
        brokers,
        cluster_id: Some("plainkafka-mock".into()),
        topics,
        cluster_authorized_operations: i32::MIN,
    })
}

/// FindCoordinator, v0–v4.
///
/// Behavior:
/// - Groups and transactional ids map to a broker by a hash of the key, unless moved with
///   [`crate::mock::MockCluster::move_coordinator`]; COORDINATOR_NOT_AVAILABLE while that broker is
///   down. v4 answers the first key asked (plainkafka asks one at a time).
pub(super) fn find_coordinator(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: FindCoordinatorRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<FindCoordinatorResponse> {
    let st = ctx.shared.lock();
    let id = ctx.shared.coordinator(&st, &req.key);
    // A coordinator moved to a broker id that doesn't exist is as good as down.
    let broker = ctx.shared.brokers.iter().find(|b| b.id == id && b.up.load(Ordering::Acquire));
    let code = fault.or(broker.is_none().then_some(ErrorCode::COORDINATOR_NOT_AVAILABLE));
    let port = broker.map_or(-1, |b| i32::from(b.port));
    Some(FindCoordinatorResponse {
        throttle_time_ms: 0,
        coordinators: vec![Coordinator {
            key: req.key,
            node_id: if code.is_some() { -1 } else { id },
            host: if code.is_some() { String::new() } else { "127.0.0.1".into() },
            port: if code.is_some() { -1 } else { port },
            error_code: code.map_or(0, ErrorCode::code),
            error_message: None,
        }],
    })
}

/// CreateTopics, v2–v7.
///
/// Behavior:
/// - Creates each topic with its partition count (-1: the cluster default), leaders spread
///   over the brokers. TOPIC_ALREADY_EXISTS, INVALID_TOPIC_EXCEPTION, INVALID_PARTITIONS, and
///   INVALID_REPLICATION_FACTOR past the broker count (there is one replica whatever is asked);
///   INVALID_PARTITIONS past the cluster's `max_partitions`.
/// - Manual assignments and configs are accepted and ignored; `validate_only` creates nothing.
pub(super) fn create_topics(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: CreateTopicsRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<CreateTopicsResponse> {
    let shared = ctx.shared;
    let mut st = shared.lock();
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let partitions = if t.num_partitions == -1 { shared.cfg.partitions } else { t.num_partitions };
            let rf = if t.replication_factor == -1 { 1 } else { t.replication_factor };
            let mut check = injected(fault).and_then(|_| {
                if !valid_topic_name(&t.name) {
                    Err(ErrorCode::INVALID_TOPIC_EXCEPTION)
                } else if st.topics.contains_key(&t.name) {
                    Err(ErrorCode::TOPIC_ALREADY_EXISTS)
                } else if partitions <= 0 {
                    Err(ErrorCode::INVALID_PARTITIONS)
                } else if rf <= 0 || rf as usize > shared.brokers.len() {
                    Err(ErrorCode::INVALID_REPLICATION_FACTOR)
                } else {
                    Ok(())
                }
            });
            if check.is_ok() && !req.validate_only {
                check = shared.create_topic(&mut st, &t.name, partitions);
            }
            CreatableTopicResult {
                topic_id: st.topics.get(&t.name).map_or([0; 16], |x| x.id),
                error_code: code_of(check),
                error_message: check.err().map(|c| topic_message(c, &t.name)),
                num_partitions: if check.is_ok() { partitions } else { -1 },
                replication_factor: if check.is_ok() { rf } else { -1 },
                name: t.name,
            }
        })
        .collect();
    Some(CreateTopicsResponse { throttle_time_ms: 0, topics })
}

/// DeleteTopics, v1–v6.
///
/// Behavior:
/// - Deletes each topic, its data and the offsets committed for it, at once.
///   UNKNOWN_TOPIC_OR_PARTITION for a topic that doesn't exist. By name only (not by topic id).
pub(super) fn delete_topics(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: DeleteTopicsRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<DeleteTopicsResponse> {
    let mut st = ctx.shared.lock();
    let responses = req
        .names
        .into_iter()
        .map(|name| {
            let check = fault
                .map_or(Ok(()), Err)
                .and_then(|_| st.topics.remove(&name).map(|t| t.id).ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
            if check.is_ok() {
                st.offsets.retain(|k, _| k.1 != name);
            }
            DeletableTopicResult {
                topic_id: check.unwrap_or([0; 16]),
                error_code: code_of(check.map(drop)),
                error_message: check.err().map(|c| topic_message(c, &name)),
                name,
            }
        })
        .collect();
    ctx.shared.changed.notify_all();
    Some(DeleteTopicsResponse { throttle_time_ms: 0, responses })
}

/// An error message for `topic` in Kafka's words where it has its own (the code's description
/// otherwise).
fn topic_message(code: ErrorCode, topic: &str) -> String {
    match code {
        ErrorCode::TOPIC_ALREADY_EXISTS => format!("Topic '{topic}' already exists."),
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION => format!("This server does not host topic '{topic}'."),
        other => other.description().to_string(),
    }
}
