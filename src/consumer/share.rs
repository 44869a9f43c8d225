//! The share group consumer (KIP-932): a queue on top of a topic. Members of a share group
//! read the same partitions at once; each record is *acquired* for one member, which
//! acknowledges it (accept, release for another delivery, reject to archive) or, past the
//! acquisition lock timeout, loses it back to the group.
//!
//! The application's thread fetches: `consume` sends ShareFetch to each leader of the
//! assigned partitions (one share session per leader, its epoch counted here), carrying the
//! acknowledgements made since, and hands the acquired records out one by one. Membership is
//! the heartbeat thread's (`group::share`).

use crate::client::{share as calls, Client};
use crate::error::{Error, Result};
use crate::group::share::ShareMembership;
use crate::message::Message;
use crate::protocol::error_code::ErrorCode;
use crate::protocol::records;
use crate::protocol::share_acknowledge::ShareAcknowledgeRequest;
use crate::protocol::share_fetch::{AcknowledgementBatch, ShareFetchRequest, SharePartition, ShareTopic};
use crate::workers::Workers;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to do with a record of a share group ([`ShareConsumer::acknowledge`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acknowledge {
    /// Processed: never delivered again.
    Accept,
    /// Not processed: delivered again (to this member or another), its delivery count one up.
    Release,
    /// Unprocessable: archived, never delivered again.
    Reject,
    /// Still being processed: the record stays this member's and its acquisition lock starts
    /// again (KIP-1222, Kafka 4.2+), sent at once by [`ShareConsumer::commit`] or before the
    /// next fetch. It still awaits one of the other three.
    Renew,
}

impl Acknowledge {
    fn wire(self) -> i8 {
        match self {
            Acknowledge::Accept => ACCEPT,
            Acknowledge::Release => 2,
            Acknowledge::Reject => 3,
            Acknowledge::Renew => RENEW,
        }
    }
}

/// The acknowledgement of an offset the broker acquired but holds no record at (a transaction
/// marker, a compacted record).
const GAP: i8 = 0;
const ACCEPT: i8 = 1;
const RENEW: i8 = 4;

/// Acknowledgements (offset → type) as batches of consecutive offsets, one type for a whole
/// batch when its offsets agree.
fn ack_batches(acks: BTreeMap<i64, i8>) -> Vec<AcknowledgementBatch> {
    let mut batches: Vec<AcknowledgementBatch> = Vec::new();
    for (offset, kind) in acks {
        match batches.last_mut() {
            Some(b) if b.last_offset + 1 == offset => {
                b.last_offset = offset;
                b.acknowledge_types.push(kind);
            }
            _ => batches.push(AcknowledgementBatch {
                first_offset: offset,
                last_offset: offset,
                acknowledge_types: vec![kind],
            }),
        }
    }
    for b in &mut batches {
        if b.acknowledge_types.iter().all(|t| *t == b.acknowledge_types[0]) {
            b.acknowledge_types.truncate(1);
        }
    }
    batches
}

/// The inverse of [`ack_batches`], into `acks` (what is there already stays).
fn unbatch(acks: &mut BTreeMap<i64, i8>, batches: &[AcknowledgementBatch]) {
    for b in batches {
        for (i, offset) in (b.first_offset..=b.last_offset).enumerate() {
            let kind = b.acknowledge_types.get(i).or(b.acknowledge_types.first()).copied().unwrap_or(ACCEPT);
            acks.entry(offset).or_insert(kind);
        }
    }
}

/// Builds a [`ShareConsumer`]; get one from [`crate::KafkaClient::share_consumer`].
#[derive(Debug)]
pub struct ShareConsumerBuilder {
    client: Arc<Client>,
    group: String,
    topics: Vec<String>,
    consumer_timeout: Option<Duration>,
    explicit: bool,
    max_records: i32,
}

impl ShareConsumerBuilder {
    pub(crate) fn new(client: Arc<Client>, group: &str, topics: Vec<String>) -> ShareConsumerBuilder {
        ShareConsumerBuilder {
            client,
            group: group.to_string(),
            topics,
            consumer_timeout: None,
            explicit: false,
            max_records: 500,
        }
    }

    /// How long `consume` waits for a record before returning `Ok(None)`; `None` (the
    /// default) waits until the consumer is stopped.
    pub fn consumer_timeout(mut self, d: Option<Duration>) -> Self {
        self.consumer_timeout = d;
        self
    }

    /// Explicit acknowledgement (`share.acknowledgement.mode=explicit`): every record handed
    /// out must be acknowledged with [`ShareConsumer::acknowledge`]; one that isn't goes back to
    /// the group when its lock times out. By default (implicit) the next `consume` accepts
    /// every record handed out before that wasn't acknowledged otherwise.
    pub fn explicit_acknowledgement(mut self, on: bool) -> Self {
        self.explicit = on;
        self
    }

    /// About how many records one fetch acquires (`max.poll.records`), default 500.
    pub fn max_records(mut self, n: i32) -> Self {
        self.max_records = n.max(1);
        self
    }

    /// Creates the consumer; it joins the share group on the first `consume`.
    pub fn build(self) -> Result<ShareConsumer> {
        if self.group.is_empty() || self.topics.is_empty() {
            return Err(Error::Config("a share consumer needs a group and at least one topic".into()));
        }
        let membership = Arc::new(ShareMembership::new(Arc::clone(&self.client), &self.group, self.topics.clone()));
        Ok(ShareConsumer {
            client: self.client,
            group: self.group,
            topics: self.topics,
            membership,
            workers: Workers::new(),
            started: false,
            stopped: false,
            consumer_timeout: self.consumer_timeout,
            explicit: self.explicit,
            max_records: self.max_records,
            sessions: HashMap::new(),
            buffer: VecDeque::new(),
            delivered: Vec::new(),
            pending: BTreeMap::new(),
            failures: 0,
            lock_timeout: None,
        })
    }
}

/// The epoch after `epoch`: it wraps to 1, as 0 would open a new session.
fn next_epoch(epoch: i32) -> i32 {
    if epoch >= i32::MAX - 1 {
        1
    } else {
        epoch + 1
    }
}

/// A share session with one leader.
#[derive(Debug, Default)]
struct Session {
    /// The next request's epoch: 0 opens the session.
    epoch: i32,
    partitions: BTreeSet<Key>,
}

type Key = (Arc<str>, i32);

/// A member of a share group (KIP-932): reads its topics as a queue, each record acquired for
/// it alone until acknowledged. Create one with [`crate::KafkaClient::share_consumer`].
///
/// ```no_run
/// use plainkafka::KafkaClient;
///
/// fn main() -> plainkafka::Result<()> {
///     let client = KafkaClient::new("127.0.0.1:9092")?;
///     let mut jobs = client.share_consumer("workers", &["jobs"]).build()?;
///     for job in jobs.iter() {
///         let job = job?; // accepted at the next call, unless acknowledged otherwise
///         println!("{} (delivery {})", String::from_utf8_lossy(job.value().unwrap_or_default()), job.delivery_count().unwrap_or(1));
///     }
///     Ok(())
/// }
/// ```
#[derive(Debug)]
pub struct ShareConsumer {
    client: Arc<Client>,
    group: String,
    topics: Vec<String>,
    membership: Arc<ShareMembership>,
    workers: Workers,
    started: bool,
    stopped: bool,
    consumer_timeout: Option<Duration>,
    explicit: bool,
    max_records: i32,
    sessions: HashMap<i32, Session>,
    buffer: VecDeque<Message>,
    /// Handed out and not yet acknowledged.
    delivered: Vec<(Key, i64)>,
    /// Acknowledgements to send, by partition and offset.
    pending: BTreeMap<Key, BTreeMap<i64, i8>>,
    /// Fetch rounds failed in a row, for the backoff.
    failures: u32,
    /// The acquisition lock timeout the broker last stated.
    lock_timeout: Option<Duration>,
}

impl ShareConsumer {
    pub(crate) fn builder(client: Arc<Client>, group: &str, topics: Vec<String>) -> ShareConsumerBuilder {
        ShareConsumerBuilder::new(client, group, topics)
    }

    /// The share group.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The partitions the group assigns this member now.
    pub fn assignment(&self) -> BTreeMap<String, Vec<i32>> {
        self.membership.assignment()
    }

    /// A handle that stops this consumer from another thread: a `consume` waiting returns
    /// `None` (within half a second: a ShareFetch's wait); `close` still acknowledges and
    /// leaves.
    pub fn stop_handle(&self) -> crate::StopHandle {
        crate::StopHandle::for_share(Arc::clone(&self.membership))
    }

    /// An iterator over the records: `for rec in consumer.iter()`.
    pub fn iter(&mut self) -> ShareIter<'_> {
        ShareIter { consumer: self }
    }

    /// Acknowledges a record this consumer handed out: sent with the next fetch (or on
    /// `close`). Acknowledging a record twice, or one not handed out, is an error.
    pub fn acknowledge(&mut self, msg: &Message, how: Acknowledge) -> Result<()> {
        let at = self
            .delivered
            .iter()
            .position(|((t, p), o)| **t == *msg.topic() && *p == msg.partition() && *o == msg.offset())
            .ok_or_else(|| {
                Error::Config(format!(
                    "{}/{} @{}: not a record awaiting acknowledgement from this consumer",
                    msg.topic(),
                    msg.partition(),
                    msg.offset()
                ))
            })?;
        let (key, offset) =
            if how == Acknowledge::Renew { self.delivered[at].clone() } else { self.delivered.swap_remove(at) };
        self.pending.entry(key).or_default().insert(offset, how.wire());
        Ok(())
    }

    /// Sends every acknowledgement made since the last fetch now (ShareAcknowledge to each
    /// leader), rather than with the next fetch: what a renewal needs, and what an application
    /// that must know its acknowledgements landed calls. An acknowledgement the broker refuses
    /// is an error naming the partition; its record comes back to the group when its lock times
    /// out.
    pub fn commit(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let leaders = self.by_leader(&BTreeMap::new())?;
        let member_id = self.membership.member_id();
        let mut first_error = None;
        for (node, keys) in leaders {
            let Some(epoch) = self.sessions.get(&node).map(|s| s.epoch).filter(|e| *e > 0) else {
                // No session: these were acquired through one that is gone, and the broker
                // released them when it closed.
                for key in &keys {
                    self.pending.remove(key);
                }
                continue;
            };
            let mut topics: BTreeMap<[u8; 16], Vec<SharePartition>> = BTreeMap::new();
            let mut sent: Vec<(Key, Vec<AcknowledgementBatch>)> = Vec::new();
            for key in &keys {
                let Some(id) = self.client.topic_id(&key.0) else { continue };
                let acks = self.take_acks(key);
                if !acks.is_empty() {
                    topics
                        .entry(id)
                        .or_default()
                        .push(SharePartition { partition: key.1, acknowledgements: acks.clone() });
                    sent.push((key.clone(), acks));
                }
            }
            if sent.is_empty() {
                continue;
            }
            let is_renew_ack = sent.iter().any(|(_, acks)| acks.iter().any(|b| b.acknowledge_types.contains(&RENEW)));
            if is_renew_ack && !self.client.supports_api_version(node, crate::protocol::ApiKey::ShareAcknowledge, 2)? {
                for (key, acks) in sent {
                    self.restore_acks(key, &acks);
                }
                return Err(Error::Config(format!(
                    "share group {}: broker {node} cannot renew acquisition locks (ShareAcknowledge v2, KIP-1222, Kafka 4.2+)",
                    self.group
                )));
            }
            let req = ShareAcknowledgeRequest {
                group_id: Some(self.group.clone()),
                member_id: Some(member_id.clone()),
                share_session_epoch: epoch,
                is_renew_ack,
                topics: topics.into_iter().map(|(topic_id, partitions)| ShareTopic { topic_id, partitions }).collect(),
            };
            let resp = match calls::acknowledge(&self.client, node, &req) {
                Ok(r) => r,
                Err(e) => {
                    if matches!(
                        e.code(),
                        Some(ErrorCode::SHARE_SESSION_NOT_FOUND | ErrorCode::INVALID_SHARE_SESSION_EPOCH)
                    ) {
                        // The session is gone and with it the acquisitions.
                        self.sessions.remove(&node);
                    } else {
                        for (key, acks) in sent {
                            self.restore_acks(key, &acks);
                        }
                    }
                    return Err(e);
                }
            };
            if let Some(s) = self.sessions.get_mut(&node) {
                s.epoch = next_epoch(s.epoch);
            }
            if resp.acquisition_lock_timeout_ms > 0 {
                self.lock_timeout = Some(Duration::from_millis(resp.acquisition_lock_timeout_ms as u64));
            }
            for (topic_id, parts) in resp.responses {
                let topic = self.client.topic_name(&topic_id).unwrap_or_else(|| "?".into());
                for p in parts.into_iter().filter(|p| p.error_code != 0) {
                    let e = Error::broker(
                        crate::protocol::ApiKey::ShareAcknowledge,
                        ErrorCode::from_i16(p.error_code),
                        crate::error::Context::partition(&topic, p.partition).in_group(&self.group).on_broker(node),
                        p.error_message,
                    );
                    log::warn!("share group {}: {e}", self.group);
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// How long the broker keeps a record acquired for this member before it goes back to the
    /// group (`share.record.lock.duration.ms`), as its last answer said; `None` before the
    /// first fetch.
    pub fn acquisition_lock_timeout(&self) -> Option<Duration> {
        self.lock_timeout
    }

    fn start(&mut self) -> Result<()> {
        if self.started {
            return Ok(());
        }
        self.started = true;
        let (m, dead) = (Arc::clone(&self.membership), Arc::clone(&self.membership));
        self.workers.spawn(format!("plainkafka-share-heartbeat-{}", self.group), move || m.run(), move |e| dead.fail(e))
    }

    /// The next record; `Ok(None)` when `consumer_timeout` passes without one or the consumer
    /// is closed. In implicit mode, first accepts every record handed out before.
    pub fn consume(&mut self) -> Result<Option<Message>> {
        if self.stopped {
            return Ok(None);
        }
        self.start()?;
        if !self.explicit {
            self.accept_delivered();
        }
        let deadline = self.consumer_timeout.map(|d| Instant::now() + d);
        loop {
            if self.membership.is_stopped() {
                return Ok(None);
            }
            if let Some(e) = self.membership.take_fatal() {
                self.close();
                return Err(e);
            }
            if let Some(m) = self.buffer.pop_front() {
                self.delivered.push(((Arc::from(m.topic()), m.partition()), m.offset()));
                return Ok(Some(m));
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Ok(None);
            }
            let assigned = self.membership.assignment();
            if assigned.is_empty() && self.pending.is_empty() {
                let until = deadline.unwrap_or(now + Duration::from_secs(1)).min(now + Duration::from_secs(1));
                let v = self.membership.version();
                self.membership.wait_for_change(v, until);
                continue;
            }
            let wait = deadline
                .map_or(Duration::from_millis(500), |d| d.saturating_duration_since(now))
                .min(Duration::from_millis(500));
            if let Err(e) = self.fetch_round(&assigned, wait) {
                if !e.is_retriable() {
                    return Err(e);
                }
                log::info!("share group {}: fetch: {e}", self.group);
                let pause = self.client.backoff(crate::retry::REQUEST_MAX).delay(self.failures);
                self.failures += 1;
                std::thread::sleep(pause.min(deadline.map_or(pause, |d| d.saturating_duration_since(Instant::now()))));
            } else {
                self.failures = 0;
            }
        }
    }

    fn accept_delivered(&mut self) {
        for (key, offset) in self.delivered.drain(..) {
            // A renewal not yet sent is overtaken: the record is done with.
            let kind = self.pending.entry(key).or_default().entry(offset).or_insert(ACCEPT);
            if *kind == RENEW {
                *kind = ACCEPT;
            }
        }
    }

    /// The acknowledgements pending for `key`, taken out, as batches.
    fn take_acks(&mut self, key: &Key) -> Vec<AcknowledgementBatch> {
        self.pending.remove(key).map(ack_batches).unwrap_or_default()
    }

    /// Puts acknowledgements back after the request carrying them failed.
    fn restore_acks(&mut self, key: Key, batches: &[AcknowledgementBatch]) {
        unbatch(self.pending.entry(key).or_default(), batches);
    }

    /// The leader of each assigned partition, and of each partition with acknowledgements
    /// pending, looking leaders up when one is unknown.
    fn by_leader(&self, assigned: &BTreeMap<String, Vec<i32>>) -> Result<BTreeMap<i32, BTreeSet<Key>>> {
        let mut keys: BTreeSet<Key> =
            assigned.iter().flat_map(|(t, ps)| ps.iter().map(move |p| (Arc::<str>::from(t.as_str()), *p))).collect();
        keys.extend(self.pending.keys().cloned());
        if keys.iter().any(|(t, p)| self.client.leader(t, *p).is_none() || self.client.topic_id(t).is_none()) {
            let topics: BTreeSet<&str> = keys.iter().map(|(t, _)| &**t).collect();
            self.client.refresh_metadata(&topics.into_iter().collect::<Vec<_>>())?;
        }
        let mut out: BTreeMap<i32, BTreeSet<Key>> = BTreeMap::new();
        for k in keys {
            if let Some(leader) = self.client.leader(&k.0, k.1) {
                out.entry(leader).or_default().insert(k);
            }
        }
        Ok(out)
    }

    /// One ShareFetch per leader, acknowledgements included; what comes back is buffered.
    fn fetch_round(&mut self, assigned: &BTreeMap<String, Vec<i32>>, wait: Duration) -> Result<()> {
        // Renewals go by ShareAcknowledge: a ShareFetch carrying them would acquire nothing.
        if self.pending.values().any(|acks| acks.values().any(|k| *k == RENEW)) {
            self.commit()?;
        }
        let leaders = self.by_leader(assigned)?;
        // Several leaders are asked one after the other: none may hold the round for long.
        let wait = if leaders.len() > 1 { wait.min(Duration::from_millis(100)) } else { wait };
        let member_id = self.membership.member_id();
        for (node, keys) in leaders {
            let mut topics: BTreeMap<[u8; 16], Vec<SharePartition>> = BTreeMap::new();
            let mut sent: Vec<(Key, Vec<AcknowledgementBatch>)> = Vec::new();
            for key in &keys {
                let Some(id) = self.client.topic_id(&key.0) else { continue };
                let acks = self.take_acks(key);
                topics.entry(id).or_default().push(SharePartition { partition: key.1, acknowledgements: acks.clone() });
                sent.push((key.clone(), acks));
            }
            let session = self.sessions.entry(node).or_default();
            let forgotten: Vec<([u8; 16], Vec<i32>)> = if session.epoch > 0 {
                let mut gone: BTreeMap<[u8; 16], Vec<i32>> = BTreeMap::new();
                for (t, p) in session.partitions.difference(&keys) {
                    if let Some(id) = self.client.topic_id(t) {
                        gone.entry(id).or_default().push(*p);
                    }
                }
                gone.into_iter().collect()
            } else {
                Vec::new()
            };
            let req = ShareFetchRequest {
                group_id: Some(self.group.clone()),
                member_id: Some(member_id.clone()),
                share_session_epoch: session.epoch,
                max_wait_ms: i32::try_from(wait.as_millis()).unwrap_or(500),
                min_bytes: 1,
                max_bytes: 50 << 20,
                max_records: self.max_records,
                batch_size: self.max_records,
                topics: topics.into_iter().map(|(topic_id, partitions)| ShareTopic { topic_id, partitions }).collect(),
                forgotten,
            };
            let resp = match calls::fetch(&self.client, node, &req) {
                Ok(r) => r,
                Err(e) => {
                    for (key, acks) in sent {
                        self.restore_acks(key, &acks);
                    }
                    if matches!(
                        e.code(),
                        Some(ErrorCode::SHARE_SESSION_NOT_FOUND | ErrorCode::INVALID_SHARE_SESSION_EPOCH)
                    ) {
                        self.sessions.remove(&node);
                    }
                    return Err(e);
                }
            };
            let session = self.sessions.entry(node).or_default();
            session.epoch = next_epoch(session.epoch);
            session.partitions = keys;
            if resp.acquisition_lock_timeout_ms > 0 {
                self.lock_timeout = Some(Duration::from_millis(resp.acquisition_lock_timeout_ms as u64));
            }
            self.take_answer(resp)?;
        }
        Ok(())
    }

    /// Buffers the acquired records of a ShareFetch answer, with their delivery counts, and
    /// acknowledges as gaps the acquired offsets that hold no record.
    fn take_answer(&mut self, resp: crate::protocol::share_fetch::ShareFetchResponse) -> Result<()> {
        for (topic_id, parts) in resp.responses {
            let Some(name) = self.client.topic_name(&topic_id) else { continue };
            let topic: Arc<str> = Arc::from(name.as_str());
            for p in parts {
                if p.acknowledge_error_code != 0 {
                    log::warn!(
                        "share group {}: {topic}/{}: acknowledgements refused ({}); those records come back after their lock times out",
                        self.group,
                        p.partition,
                        ErrorCode::from_i16(p.acknowledge_error_code)
                    );
                }
                match ErrorCode::from_i16(p.error_code) {
                    ErrorCode::NONE => {}
                    code if code.is_retriable() || code == ErrorCode::NOT_LEADER_OR_FOLLOWER => {
                        log::info!(
                            "share group {}: {topic}/{}: {code}; looking the leader up again",
                            self.group,
                            p.partition
                        );
                        let _ = self.client.refresh_metadata(&[&topic]);
                        continue;
                    }
                    code => {
                        return Err(Error::broker(
                            crate::protocol::ApiKey::ShareFetch,
                            code,
                            crate::error::Context::partition(&topic, p.partition).in_group(&self.group),
                            p.error_message,
                        ))
                    }
                }
                if p.acquired.is_empty() {
                    continue;
                }
                let buf = Arc::new(p.records.unwrap_or_default());
                let first = p.acquired.iter().map(|a| a.first_offset).min().unwrap_or(0);
                let mut recs = Vec::new();
                if let Err(e) = records::decode(&buf, first, &mut recs) {
                    log::warn!("share group {}: {topic}/{}: {e}", self.group, p.partition);
                }
                let key: Key = (Arc::clone(&topic), p.partition);
                for a in &p.acquired {
                    let count = u16::try_from(a.delivery_count.max(1)).unwrap_or(1);
                    let mut present = BTreeSet::new();
                    for r in recs.iter().filter(|r| (a.first_offset..=a.last_offset).contains(&r.offset)) {
                        present.insert(r.offset);
                        self.buffer.push_back(Message::shared(Arc::clone(&topic), p.partition, r.clone(), count));
                    }
                    let gaps = self.pending.entry(key.clone()).or_default();
                    for offset in (a.first_offset..=a.last_offset).filter(|o| !present.contains(o)) {
                        gaps.insert(offset, GAP);
                    }
                }
            }
        }
        Ok(())
    }

    /// Accepts what was handed out (in implicit mode), sends every acknowledgement pending
    /// while closing each share session, and leaves the group, each within a request timeout.
    /// Records acquired and not acknowledged go back to the group. Calling it again does
    /// nothing.
    pub fn close(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        if !self.explicit {
            self.accept_delivered();
        }
        let assigned = self.membership.assignment();
        let leaders = self.by_leader(&assigned).unwrap_or_default();
        let member_id = self.membership.member_id();
        for (node, keys) in leaders {
            if !self.sessions.contains_key(&node) {
                continue;
            }
            let mut topics: BTreeMap<[u8; 16], Vec<SharePartition>> = BTreeMap::new();
            for key in &keys {
                let acks = self.take_acks(key);
                if let (false, Some(id)) = (acks.is_empty(), self.client.topic_id(&key.0)) {
                    topics.entry(id).or_default().push(SharePartition { partition: key.1, acknowledgements: acks });
                }
            }
            let req = ShareAcknowledgeRequest {
                group_id: Some(self.group.clone()),
                member_id: Some(member_id.clone()),
                share_session_epoch: -1,
                is_renew_ack: false,
                topics: topics.into_iter().map(|(topic_id, partitions)| ShareTopic { topic_id, partitions }).collect(),
            };
            if let Err(e) = calls::acknowledge(&self.client, node, &req) {
                log::warn!("share group {}: closing the session with broker {node}: {e}", self.group);
            }
        }
        self.sessions.clear();
        self.membership.stop();
        if let Err(e) = self.membership.leave() {
            log::warn!("share group {}: leaving: {e}", self.group);
        }
        let deadline = Instant::now() + self.client.connection_config().request_timeout;
        self.workers.join_by(deadline, &format!("share group {} heartbeat", self.group));
    }

    /// The topics subscribed to.
    pub fn topics(&self) -> &[String] {
        &self.topics
    }
}

impl Drop for ShareConsumer {
    fn drop(&mut self) {
        self.close();
    }
}

/// An iterator over a [`ShareConsumer`]'s records.
#[derive(Debug)]
pub struct ShareIter<'a> {
    consumer: &'a mut ShareConsumer,
}

impl Iterator for ShareIter<'_> {
    type Item = Result<Message>;
    fn next(&mut self) -> Option<Result<Message>> {
        self.consumer.consume().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledgements_go_out_as_ranges_of_consecutive_offsets() {
        let acks: BTreeMap<i64, i8> = [(3, ACCEPT), (4, ACCEPT), (5, GAP), (7, 2), (8, 2)].into();
        let batches = ack_batches(acks.clone());
        assert_eq!(
            batches,
            [
                AcknowledgementBatch { first_offset: 3, last_offset: 5, acknowledge_types: vec![ACCEPT, ACCEPT, GAP] },
                AcknowledgementBatch { first_offset: 7, last_offset: 8, acknowledge_types: vec![2] },
            ]
        );
        let mut back = BTreeMap::new();
        unbatch(&mut back, &batches);
        assert_eq!(back, acks, "what a failed request carried goes back as it was");
        assert!(ack_batches(BTreeMap::new()).is_empty());
    }
}
