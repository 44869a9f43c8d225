//! The sender threads, one per broker: each takes batches from the queues of the partitions its
//! broker leads, writes them in Produce requests (several of a partition may be out at once, on
//! one connection), and settles each batch as its answer comes: acknowledged, retried with
//! backoff (at the front of its partition, same sequence numbers), or failed. A slow broker so
//! holds up only its own partitions. Partitions without a leader, or led by a
//! broker that has no thread (it joined later), go to the thread of the lowest broker id.

use super::accumulator::{Batch, BatchRules, ProducerIds, Ready, RetryRules, Route, Settled, State};
use super::config::ProducerConfig;
use super::record::Delivery;
use crate::client::pool::Dedicated;
use crate::client::produce::{self, PendingProduce, ProduceOutcome, ProduceParams};
use crate::client::Client;
use crate::error::{Context, Error, Retry};
use crate::protocol::codec::Encoder;
use crate::protocol::error_code::ErrorCode;
use crate::protocol::records::BatchSpec;
use crate::protocol::ApiKey;
use crate::retry::Backoff;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Bytes of a v2 batch outside its records, with room for the request around it.
pub(crate) const BATCH_OVERHEAD: usize = 61 + 128;
/// How long an idle sender sleeps when nothing wakes it.
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// Everything the producer handle and its sender share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub topic: Arc<str>,
    pub cfg: ProducerConfig,
    pub client: Arc<Client>,
    pub state: Mutex<State>,
    /// Signalled when there may be a batch to send (new messages, flush, close).
    pub work: Condvar,
    /// Signalled when messages finish: room in the queue, progress for `flush`.
    pub progress: Condvar,
    /// With a transactional id: its transactions run version 2 (KIP-890).
    pub transaction_v2: bool,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        // State updates are plain field writes; a panic elsewhere leaves it consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The most bytes of records one batch may carry.
    pub fn batch_budget(&self) -> usize {
        let by_request = self.cfg.max_request_size - BATCH_OVERHEAD;
        self.cfg.batch_size.map_or(by_request, |b| b.clamp(1, by_request))
    }

    /// A sender thread died: fail what it leaves behind and wake everyone who waits.
    pub fn fail_all(&self, e: Error) {
        self.lock().fail_all(e);
        self.progress.notify_all();
        self.work.notify_all();
    }

    /// The batching rules from the configuration.
    pub fn rules(&self) -> BatchRules {
        BatchRules {
            linger: self.cfg.linger,
            min_queued_messages: self.cfg.min_queued_messages,
            budget: self.batch_budget(),
            max_in_flight: self.cfg.max_in_flight,
        }
    }

    /// The retry rules from the configuration.
    pub fn retry_rules(&self) -> RetryRules {
        RetryRules {
            max_retries: self.cfg.max_retries,
            backoff: Backoff::new(self.cfg.retry_backoff, self.cfg.retry_backoff_max),
            delivery_timeout: self.cfg.delivery_timeout,
        }
    }
}

/// Which broker a sender thread serves, and which brokers have threads.
#[derive(Debug, Clone)]
pub(crate) struct Role {
    pub broker: i32,
    pub owners: Arc<Vec<i32>>,
}

impl Role {
    /// Whether this thread sends the batches of a partition led by `leader`.
    fn owns(&self, leader: Option<i32>) -> bool {
        let lowest = self.owners.first() == Some(&self.broker);
        match leader {
            Some(l) if l == self.broker => true,
            Some(l) => lowest && !self.owners.contains(&l),
            None => lowest,
        }
    }
}

/// A Produce request written and not yet answered.
#[derive(Debug)]
struct Sent {
    lane: usize,
    leader: i32,
    pending: PendingProduce,
    batches: Vec<Batch>,
    deadline: Instant,
}

/// Runs the sender of `role` until the producer closes and every request it wrote has its
/// answer. It writes whatever is ready (up to `max_in_flight` batches of a partition out at
/// once), and reads the oldest answer only when nothing more can go: the broker so has the
/// next request of a partition at hand while it appends the one before.
pub(crate) fn run(shared: Arc<Shared>, role: Role) {
    let mut lanes: Vec<Dedicated> = (0..shared.cfg.connections_per_broker).map(|_| Dedicated::default()).collect();
    let mut sent: VecDeque<Sent> = VecDeque::new();
    loop {
        match take_ready(&shared, &role, sent.is_empty()) {
            Some(batches) if !batches.is_empty() => {
                send(&shared, &mut lanes, &mut sent, batches);
                continue;
            }
            None if sent.is_empty() => return,
            _ => {}
        }
        if let Some(oldest) = sent.pop_front() {
            read_answer(&shared, &mut lanes, &mut sent, oldest);
        }
    }
}

/// A new idempotent producer id, epoch 0, for `topic`'s producer.
pub(crate) fn new_ids(client: &Client, topic: &str) -> Result<ProducerIds, Error> {
    produce::init_producer_id(client, topic).map(|(id, epoch)| ProducerIds { id, epoch })
}

/// After a failed batch, once nothing is in flight: the next epoch, or (the epoch exhausted) a
/// new producer id. Called with the state locked; gives it up while asking for an id.
fn bump_epoch<'a>(shared: &'a Shared, mut st: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
    if st.bump_epoch() {
        return st;
    }
    drop(st);
    let got = new_ids(&shared.client, &shared.topic);
    let mut st = shared.lock();
    match got {
        Ok(ids) if st.bump_needed => st.restart_ids(ids),
        Ok(_) => {}
        Err(e) => {
            drop(st);
            shared.fail_all(e);
            st = shared.lock();
        }
    }
    st
}

/// The batches of `role`'s partitions ready to go, each with the leader it goes to; `None`
/// once closing. With `block`, waits until there is one; else may return none.
fn take_ready(shared: &Shared, role: &Role, block: bool) -> Option<Vec<(Option<i32>, Batch)>> {
    let rules = shared.rules();
    let mut st = shared.lock();
    let ids: Vec<i32> = (0..st.parts.len() as i32).collect();
    loop {
        // Closing: what was queued has failed already, and nothing new goes out.
        if st.closing {
            return None;
        }
        // A transactional producer's epoch is the coordinator's: after a failed batch it waits
        // for the application to abort, which gets the next epoch from the coordinator.
        if st.bump_needed && shared.cfg.transactional_id.is_none() {
            st = bump_epoch(shared, st);
        }
        let now = Instant::now();
        let urgent = st.flushing > 0 || st.closing;
        let mut wake: Option<Instant> = None;
        let mut out = Vec::new();
        // Lock order: producer state, then the client's metadata (never the other way).
        let leaders = shared.client.leaders(&shared.topic, &ids);
        for (p, leader) in leaders.into_iter().enumerate() {
            if !role.owns(leader) {
                continue;
            }
            let route = Route { sender: role.broker, leader };
            loop {
                match st.take(p, now, urgent, &rules, route) {
                    Ready::Batch(b) => out.push((leader, b)),
                    Ready::WaitUntil(at) => {
                        wake = Some(wake.map_or(at, |w| w.min(at)));
                        break;
                    }
                    Ready::Nothing => break,
                }
            }
        }
        if !out.is_empty() || !block {
            return Some(out);
        }
        let wait = wake.map_or(IDLE_WAIT, |w| w.saturating_duration_since(now));
        st = shared.work.wait_timeout(st, wait).unwrap_or_else(|e| e.into_inner()).0;
    }
}

/// Writes a batch's records (encoded when they were queued) as one RecordBatch v2, compressed
/// here, on the sender's thread (or left plain when the codec wouldn't make them smaller).
fn encode(shared: &Shared, batch: &Batch) -> Result<Vec<u8>, Error> {
    let ProducerIds { id, epoch } = batch.producer;
    let spec = BatchSpec {
        base_offset: 0,
        compression: shared.cfg.compression,
        producer_id: id,
        producer_epoch: epoch,
        base_sequence: if id >= 0 { batch.base_sequence } else { -1 },
        transactional: shared.cfg.transactional_id.is_some(),
        control: false,
    };
    let mut e = Encoder::from_vec(Vec::with_capacity(batch.records.len() + BATCH_OVERHEAD));
    batch.records.write_compact(&mut e, spec).map_err(|c| Error::Config(format!("{}: {c}", shared.topic)))?;
    Ok(e.into_inner())
}

/// Writes `batches` to their leaders, in requests of at most `max_request_size` with at most
/// one batch of a partition each (Produce v3+). A partition's batches always travel on the same
/// connection to its leader (lane `partition % connections_per_broker`), in the order they were
/// taken, so the broker appends them in that order; different partitions spread over the lanes,
/// and a broker works through different connections at once. Answers are read later, by
/// [`read_answer`]; what fails here is settled at once.
fn send(shared: &Shared, lanes: &mut [Dedicated], sent: &mut VecDeque<Sent>, batches: Vec<(Option<i32>, Batch)>) {
    let cfg = &shared.cfg;
    let topic = &*shared.topic;
    let mut refresh = false;
    let mut routes: BTreeMap<(i32, usize), Vec<Batch>> = BTreeMap::new();
    for (leader, b) in batches {
        match leader {
            Some(l) => {
                let lane = usize::try_from(b.partition).unwrap_or(0) % lanes.len();
                routes.entry((l, lane)).or_default().push(b);
            }
            None => {
                let e = Error::broker(
                    ApiKey::Produce,
                    ErrorCode::LEADER_NOT_AVAILABLE,
                    Context::partition(topic, b.partition),
                    None,
                );
                refresh |= settle_error(shared, b, &e);
            }
        }
    }
    let deadline = Instant::now() + cfg.ack_timeout + shared.client.connection_config().request_timeout;
    let params = ProduceParams {
        topic,
        acks: cfg.required_acks.wire(),
        timeout: cfg.ack_timeout,
        compression: cfg.compression,
        transactional_id: cfg.transactional_id.as_deref(),
        transaction_v2: shared.transaction_v2,
    };
    for ((leader, lane), batches) in routes {
        let mut encoded = Vec::with_capacity(batches.len());
        for b in batches {
            match encode(shared, &b) {
                Ok(bytes) => encoded.push((b.partition, bytes.len() + BATCH_OVERHEAD, (bytes, b))),
                Err(e) => refresh |= settle_error(shared, b, &e),
            }
        }
        let requests = requests_in_order(encoded, cfg.max_request_size);
        log::trace!("{topic}: {} requests to broker {leader} on lane {lane}", requests.len());
        // A write that failed broke the connection, and the requests written on it before are
        // lost with it: they fail now, and so do the rest of these (a new connection would
        // carry them ahead of those requests' retries).
        let mut failed: Option<Error> = None;
        for request in requests {
            let (parts, batches): (Vec<(i32, Vec<u8>)>, Vec<Batch>) =
                request.into_iter().map(|(bytes, b)| ((b.partition, bytes), b)).unzip();
            let written = match &failed {
                Some(e) => Err(e.clone()),
                None => produce::send(&mut lanes[lane], &shared.client, leader, &params, parts, deadline),
            };
            match written {
                // With acks=0 the broker never answers: written is as good as it gets.
                Ok(None) => {
                    let mut st = shared.lock();
                    for b in batches {
                        let p = b.partition;
                        st.finish(b, |_| Ok(Delivery { partition: p, offset: None }));
                    }
                }
                Ok(Some(pending)) => sent.push_back(Sent { lane, leader, pending, batches, deadline }),
                Err(e) => {
                    // Refused before anything was written (a version the broker lacks): the
                    // requests out on the connection are unharmed.
                    if failed.is_none() && !lanes[lane].is_open(leader) {
                        refresh |= fail_connection(shared, sent, lane, leader, &e);
                        failed = Some(e.clone());
                    }
                    refresh |= settle_errors(shared, batches, &e);
                }
            }
        }
    }
    settled(shared, refresh);
}

/// Reads the answer to `oldest`, the first request still out, and settles its batches. A
/// failed read breaks the connection: the requests written on it after this one fail too.
fn read_answer(shared: &Shared, lanes: &mut [Dedicated], sent: &mut VecDeque<Sent>, oldest: Sent) {
    let Sent { lane, leader, pending, batches, deadline } = oldest;
    let mut refresh = false;
    match produce::read(&mut lanes[lane], pending, deadline) {
        Ok(mut results) => {
            for b in batches {
                let p = b.partition;
                match results.remove(&p) {
                    Some(ProduceOutcome::Written { base_offset: Some(base) }) => {
                        shared.lock().finish(b, |i| Ok(Delivery { partition: p, offset: Some(base + i as i64) }));
                    }
                    Some(ProduceOutcome::Written { base_offset: None }) => {
                        shared.lock().finish(b, |_| Ok(Delivery { partition: p, offset: None }));
                    }
                    Some(ProduceOutcome::Failed(e)) => refresh |= settle_error(shared, b, &e),
                    // produce::read answers for every partition sent.
                    None => {}
                }
            }
        }
        Err(e) => {
            refresh |= settle_errors(shared, batches, &e);
            refresh |= fail_connection(shared, sent, lane, leader, &e);
        }
    }
    settled(shared, refresh);
}

/// The connection of `lane` to `leader` broke with `e`: every request still out on it fails,
/// in the order written (so that their batches retry in that order).
fn fail_connection(shared: &Shared, sent: &mut VecDeque<Sent>, lane: usize, leader: i32, e: &Error) -> bool {
    let (lost, kept): (VecDeque<Sent>, VecDeque<Sent>) =
        sent.drain(..).partition(|s| s.lane == lane && s.leader == leader);
    *sent = kept;
    lost.into_iter().fold(false, |refresh, s| settle_errors(shared, s.batches, e) | refresh)
}

/// After batches settled: wakes `flush`, `send` and the senders (a settled batch may let its
/// partition send the next, whichever thread owns it now), and refreshes the metadata when an
/// error asked for it.
fn settled(shared: &Shared, refresh: bool) {
    shared.progress.notify_all();
    shared.work.notify_all();
    if refresh {
        if let Err(e) = shared.client.refresh_metadata(&[&*shared.topic]) {
            log::warn!("{}: metadata refresh failed: {e}", shared.topic);
        }
    }
}

/// Cuts one connection's batches (partition, size, item), in the order taken, into requests:
/// a partition's k-th batch goes in a request after its (k-1)-th, no request holds two batches
/// of a partition, and each is within `max` bytes (a larger batch goes alone).
fn requests_in_order<T>(items: Vec<(i32, usize, T)>, max: usize) -> Vec<Vec<T>> {
    let mut layers: Vec<Vec<(usize, T)>> = Vec::new();
    let mut seen: BTreeMap<i32, usize> = BTreeMap::new();
    for (partition, size, item) in items {
        let k = seen.entry(partition).or_default();
        if layers.len() <= *k {
            layers.push(Vec::new());
        }
        layers[*k].push((size, item));
        *k += 1;
    }
    layers.into_iter().flat_map(|layer| split_requests(layer, max)).collect()
}

/// Splits `items` (each with its size) into requests of at most `max` bytes, in order; an item
/// larger than `max` goes alone.
fn split_requests<T>(items: Vec<(usize, T)>, max: usize) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = Vec::new();
    let mut bytes = 0;
    for (size, item) in items {
        match out.last_mut() {
            Some(request) if bytes + size <= max => {
                bytes += size;
                request.push(item);
            }
            _ => {
                bytes = size;
                out.push(vec![item]);
            }
        }
    }
    out
}

/// Settles every batch of a request that failed with `e`, in order; whether metadata should be
/// refreshed.
fn settle_errors(shared: &Shared, batches: Vec<Batch>, e: &Error) -> bool {
    batches.into_iter().fold(false, |refresh, b| settle_error(shared, b, e) | refresh)
}

/// Retries `batch` after a backoff if `e` may pass and attempts remain, else fails its messages.
/// Returns whether metadata should be refreshed.
fn settle_error(shared: &Shared, batch: Batch, e: &Error) -> bool {
    let (partition, count) = (batch.partition, batch.len());
    let settled = shared.lock().on_failure(batch, e, &shared.retry_rules(), Instant::now());
    match settled {
        Settled::Retrying(wait) => {
            log::debug!("{}/{partition}: {e}; retry in {wait:?}", shared.topic);
            // The partition's owner may be another thread now.
            shared.work.notify_all();
            e.retry() != Retry::Backoff
        }
        Settled::Failed => {
            log::error!("{}/{partition}: {count} messages failed: {e}", shared.topic);
            shared.progress.notify_all();
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{requests_in_order, split_requests, Role};
    use std::sync::Arc;

    #[test]
    fn each_partition_has_exactly_one_sender() {
        let owners = Arc::new(vec![1, 2, 3]);
        let roles: Vec<Role> = owners.iter().map(|&b| Role { broker: b, owners: Arc::clone(&owners) }).collect();
        // Led by a sender's broker, by no one, by a broker that joined later.
        for (leader, owner) in [(Some(1), 1), (Some(2), 2), (Some(3), 3), (None, 1), (Some(9), 1)] {
            let who: Vec<i32> = roles.iter().filter(|r| r.owns(leader)).map(|r| r.broker).collect();
            assert_eq!(who, vec![owner], "leader {leader:?}");
        }
    }

    #[test]
    fn a_partitions_batches_go_in_later_requests_in_the_order_taken() {
        // (partition, size, name): partition 0's three batches, 1's two, 2's one.
        let items = vec![(0, 40, "a0"), (1, 40, "b0"), (0, 40, "a1"), (2, 40, "c0"), (0, 40, "a2"), (1, 40, "b1")];
        assert_eq!(
            requests_in_order(items.clone(), 100),
            vec![vec!["a0", "b0"], vec!["c0"], vec!["a1", "b1"], vec!["a2"]]
        );
        assert_eq!(requests_in_order(items, 1000), vec![vec!["a0", "b0", "c0"], vec!["a1", "b1"], vec!["a2"]]);
    }

    #[test]
    fn a_round_is_cut_into_requests_within_the_limit_in_order() {
        let cut = |sizes: &[usize], max| {
            let items = sizes.iter().enumerate().map(|(i, &s)| (s, i)).collect();
            split_requests(items, max)
        };
        assert_eq!(cut(&[], 100), Vec::<Vec<usize>>::new());
        assert_eq!(cut(&[40, 60, 1, 100, 30], 100), vec![vec![0, 1], vec![2], vec![3], vec![4]]);
        // A batch larger than the limit still goes, alone.
        assert_eq!(cut(&[10, 250, 10], 100), vec![vec![0], vec![1], vec![2]]);
        assert_eq!(cut(&[30; 7], 100), vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
    }
}
