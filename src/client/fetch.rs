//! Fetch as a typed operation, split in two so that one thread can have a Fetch outstanding at
//! every broker at once: [`send`] writes the request, [`read`] reads its answer.
//!
//! The consumer says which partitions from which offsets; this module fills in the rest of the
//! request, picks the version (v13+ name topics by id), keeps the incremental fetch session
//! with each broker ([`FetchSession`], KIP-227: after the first request only what changed is
//! sent, so a consumer of 600 partitions doesn't name them all in every Fetch), and turns each
//! partition's error code into a [`FetchOutcome`].

use super::pool::Dedicated;
use super::Client;
use crate::error::Context;
use crate::error::{Error, Result};
use crate::protocol::codec::FrameBytes;
use crate::protocol::error_code::ErrorCode;
use crate::protocol::fetch::{FetchPartition, FetchRequest, FetchTopic, ForgottenTopic};
use crate::protocol::ApiKey;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// What a broker's fetch session holds for one partition: the fields of its last request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Held {
    offset: i64,
    max_bytes: i32,
    leader_epoch: i32,
    last_fetched_epoch: i32,
}

type Key = (String, i32);

/// An incremental fetch session with one broker (KIP-227), as a state machine with no
/// sockets: which session, its next epoch, and what the broker holds for each partition.
/// Without one (id 0) every request is a full fetch asking for a session; a broker that
/// creates none (the MockCluster, a full session cache) answers id 0 and fetches stay full.
/// Any failure drops the session: the next request is full again.
#[derive(Debug, Default)]
pub(crate) struct FetchSession {
    id: i32,
    epoch: i32,
    held: HashMap<Key, Held>,
}

/// The session part of one request, applied to the session once the broker answered.
#[derive(Debug)]
struct SessionStep {
    id: i32,
    epoch: i32,
    /// What the broker holds once it has taken the request.
    held: HashMap<Key, Held>,
}

/// What to send: the session id and epoch, the partitions to name, those to forget.
#[derive(Debug)]
struct SessionPlan {
    step: SessionStep,
    send: Vec<(Key, Held)>,
    forget: Vec<Key>,
}

impl FetchSession {
    /// The request for `wanted` (every partition to read now): all of them without a session;
    /// within one, those whose fields changed, and the ones held but no longer wanted to forget
    /// (a partition left in the session would be answered, and wake the fetch, whenever data
    /// arrives for it).
    fn plan(&self, wanted: Vec<(Key, Held)>) -> SessionPlan {
        let held: HashMap<Key, Held> = wanted.iter().cloned().collect();
        if self.id == 0 {
            return SessionPlan { step: SessionStep { id: 0, epoch: 0, held }, send: wanted, forget: Vec::new() };
        }
        let send = wanted.into_iter().filter(|(k, h)| self.held.get(k) != Some(h)).collect();
        let mut forget: Vec<Key> = self.held.keys().filter(|k| !held.contains_key(*k)).cloned().collect();
        forget.sort();
        SessionPlan { step: SessionStep { id: self.id, epoch: self.epoch, held }, send, forget }
    }

    /// The broker answered `step` with session `id` (0: none).
    fn answered(&mut self, step: SessionStep, id: i32) {
        if id == 0 {
            *self = FetchSession::default();
            return;
        }
        // A new session starts at epoch 1; an existing one moves on (wrapping past 1, as 0
        // would ask for a new one).
        let epoch = if step.id == 0 || step.epoch == i32::MAX { 1 } else { step.epoch + 1 };
        *self = FetchSession { id, epoch, held: step.held };
    }

    /// Forgets the session: the next request is a full one.
    pub fn reset(&mut self) {
        *self = FetchSession::default();
    }
}

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
    /// The fetch session's step, applied when the answer is read (none before v7).
    step: Option<SessionStep>,
}

impl PendingFetch {
    /// The broker the request went to.
    pub fn broker(&self) -> i32 {
        self.broker
    }
}

/// One partition's answer.
#[derive(Debug)]
pub(crate) enum FetchOutcome {
    /// Record data (possibly none, or a partial batch), the partition's high watermark and
    /// last stable offset (-1 where the broker doesn't say), and the aborted transactions in the
    /// data: (producer id, first offset).
    Data { high_watermark: i64, last_stable_offset: i64, aborted: Vec<(i64, i64)>, records: FrameBytes },
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

/// Writes a Fetch for `parts` to broker `broker` on the thread's own connection, within
/// `session` (reset if the request cannot be written).
pub(crate) fn send(
    conns: &mut Dedicated,
    client: &Client,
    (broker, session): (i32, &mut FetchSession),
    params: &FetchParams,
    parts: &[PartitionFetch<'_>],
    deadline: Instant,
) -> Result<PendingFetch> {
    let r = write(conns, client, broker, session, params, parts, deadline);
    if r.is_err() {
        session.reset();
    }
    r
}

fn write(
    conns: &mut Dedicated,
    client: &Client,
    broker: i32,
    session: &FetchSession,
    params: &FetchParams,
    parts: &[PartitionFetch<'_>],
    deadline: Instant,
) -> Result<PendingFetch> {
    let wanted: Vec<(Key, Held)> = parts
        .iter()
        .map(|p| {
            let held = Held {
                offset: p.offset,
                max_bytes: saturating_i32(p.max_bytes),
                // The leader epoch the metadata names: a deposed leader then refuses the fetch
                // (FENCED_LEADER_EPOCH) instead of serving a log that may be cut back.
                leader_epoch: client.leader_epoch(p.topic, p.partition),
                last_fetched_epoch: p.last_fetched_epoch,
            };
            ((p.topic.to_string(), p.partition), held)
        })
        .collect();
    let mut req = FetchRequest {
        replica_id: -1,
        max_wait_ms: saturating_i32(params.wait.as_millis() as usize),
        min_bytes: saturating_i32(params.min_bytes),
        max_bytes: saturating_i32(params.max_bytes),
        isolation_level: i8::from(params.read_committed),
        session_id: 0,
        session_epoch: -1,
        topics: Vec::new(),
        forgotten: Vec::new(),
        rack_id: String::new(),
    };
    let conn = conns.get(broker, || client.open(broker))?;
    // Without topics the request asks for the broker's highest version: sessions need v7.
    let step = if conn.version_for(&req)? >= 7 {
        let plan = session.plan(wanted);
        req.session_id = plan.step.id;
        req.session_epoch = plan.step.epoch;
        req.topics = request_topics(client, &plan.send);
        let mut forgotten: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for (t, p) in &plan.forget {
            forgotten.entry(t).or_default().push(*p);
        }
        req.forgotten = forgotten
            .into_iter()
            .map(|(t, partitions)| ForgottenTopic {
                topic: t.to_string(),
                topic_id: client.topic_id(t).unwrap_or_default(),
                partitions,
            })
            .collect();
        Some(plan.step)
    } else {
        req.topics = request_topics(client, &wanted);
        None
    };
    // A topic whose id is unknown keeps the request at v12, which names topics.
    let version = conn.version_for(&req)?;
    let correlation = conn.write_request(&req, version, deadline)?;
    let asked = parts.iter().map(|p| (p.topic.to_string(), p.partition, p.offset)).collect();
    Ok(PendingFetch { broker, version, correlation, asked, step })
}

/// The request's topics for `parts`, by name and (where known) id.
fn request_topics(client: &Client, parts: &[(Key, Held)]) -> Vec<FetchTopic> {
    let mut topics: Vec<FetchTopic> = Vec::new();
    for ((topic, partition), h) in parts {
        let fp = FetchPartition {
            partition: *partition,
            current_leader_epoch: h.leader_epoch,
            fetch_offset: h.offset,
            last_fetched_epoch: h.last_fetched_epoch,
            log_start_offset: -1,
            partition_max_bytes: h.max_bytes,
        };
        match topics.iter_mut().find(|t| t.topic == *topic) {
            Some(t) => t.partitions.push(fp),
            None => topics.push(FetchTopic {
                topic: topic.clone(),
                topic_id: client.topic_id(topic).unwrap_or_default(),
                partitions: vec![fp],
            }),
        }
    }
    topics
}

/// Reads the answer to `pending`: one outcome per partition the broker answered for (within a
/// fetch session, the partitions with news: data, a new high watermark, an error). An error for
/// the whole request (a broken connection, a top-level error code such as a lost session) is
/// `Err`, and resets `session`.
pub(crate) fn read(
    conns: &mut Dedicated,
    client: &Client,
    mut pending: PendingFetch,
    deadline: Instant,
    session: &mut FetchSession,
) -> Result<Vec<PartitionOutcome>> {
    let resp = conns
        .written_on(pending.broker, ApiKey::Fetch)
        .and_then(|conn| conn.read_response::<FetchRequest>(pending.correlation, pending.version, deadline));
    let resp = match resp {
        Ok(r) => r,
        Err(e) => {
            session.reset();
            return Err(e);
        }
    };
    let top = ErrorCode::from_i16(resp.error_code);
    match pending.step.take() {
        Some(step) if top.is_ok() => session.answered(step, resp.session_id),
        _ => session.reset(),
    }
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
    for mut t in resp.responses {
        if pending.version >= 13 {
            let Some(name) = client.topic_name(&t.topic_id) else {
                log::info!(
                    "broker {}: a fetch answer names topic id {:02x?}, unknown here",
                    pending.broker,
                    t.topic_id
                );
                continue;
            };
            t.topic = name;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn held(offset: i64) -> Held {
        Held { offset, max_bytes: 1 << 20, leader_epoch: 0, last_fetched_epoch: -1 }
    }

    fn key(p: i32) -> Key {
        ("t".to_string(), p)
    }

    fn names(v: &[(Key, Held)]) -> Vec<i32> {
        v.iter().map(|((_, p), _)| *p).collect()
    }

    #[test]
    fn a_session_sends_only_what_changed_and_forgets_what_is_no_longer_wanted() {
        let mut s = FetchSession::default();
        let first = s.plan((0..4).map(|p| (key(p), held(0))).collect());
        assert_eq!(
            (first.step.id, first.step.epoch, names(&first.send)),
            (0, 0, vec![0, 1, 2, 3]),
            "full, asking for one"
        );
        s.answered(first.step, 77);
        // Partition 1 read something (its offset moved), partition 3 is paused (not wanted).
        let next = s.plan(vec![(key(0), held(0)), (key(1), held(5)), (key(2), held(0))]);
        assert_eq!((next.step.id, next.step.epoch), (77, 1));
        assert_eq!(names(&next.send), [1]);
        assert_eq!(next.forget, [key(3)]);
        s.answered(next.step, 77);
        let quiet = s.plan(vec![(key(0), held(0)), (key(1), held(5)), (key(2), held(0))]);
        assert_eq!(
            (quiet.step.epoch, quiet.send.len(), quiet.forget.len()),
            (2, 0, 0),
            "nothing changed: nothing named"
        );
        // Partition 3 comes back: named again, with its fields.
        let back = s.plan(vec![(key(0), held(0)), (key(3), held(9))]);
        assert_eq!(names(&back.send), [3]);
        assert_eq!(back.forget, [key(1), key(2)]);
    }

    #[test]
    fn no_session_or_a_lost_one_means_full_fetches() {
        let mut s = FetchSession::default();
        let first = s.plan(vec![(key(0), held(0))]);
        s.answered(first.step, 0);
        let again = s.plan(vec![(key(0), held(0))]);
        assert_eq!((again.step.id, again.step.epoch, again.send.len()), (0, 0, 1), "the broker made none");
        s.answered(again.step, 5);
        s.reset();
        let after = s.plan(vec![(key(0), held(0))]);
        assert_eq!((after.step.id, after.step.epoch, after.send.len()), (0, 0, 1), "a failure drops it");
        // The epoch wraps past 1: 0 would ask for a new session.
        let mut s = FetchSession { id: 3, epoch: i32::MAX, held: HashMap::new() };
        let step = s.plan(Vec::new()).step;
        s.answered(step, 3);
        assert_eq!(s.epoch, 1);
    }
}
