//! The client layer: the only code above `net` that builds or reads Kafka requests.
//!
//! [`Client`] owns what every feature shares — the metadata cache ([`metadata`]), the pool of
//! short-request connections ([`pool`]), the backoff policy — and the typed operations take and
//! return domain types: [`fetch`], [`produce`], [`offsets`] (ListOffsets, OffsetFetch,
//! OffsetCommit), [`group`] (JoinGroup, SyncGroup, Heartbeat, LeaveGroup), [`admin`] (topics,
//! groups seen from outside, producer ids). Version choice, sentinels (`replica_id: -1`, …),
//! correlation and the conversion of error codes into [`Error`]s with their context happen
//! here and nowhere else, so the consumer, the producer and the group never see a wire struct.
//!
//! Long-polling fetches and produces run on per-thread connections ([`pool::Dedicated`]) so a
//! Fetch waiting for data never delays a commit.

pub(crate) mod admin;
pub(crate) mod fetch;
pub(crate) mod group;
pub(crate) mod groups_admin;
pub(crate) mod metadata;
pub(crate) mod offsets;
pub(crate) mod pool;
pub(crate) mod produce;
pub(crate) mod share;
pub(crate) mod txn;

use crate::error::{Context, Error, Result, Retry};
use crate::net::{Connection, ConnectionConfig};
use crate::protocol::error_code::ErrorCode;
use crate::protocol::find_coordinator::FindCoordinatorRequest;
use crate::protocol::metadata::MetadataRequest;
use crate::protocol::{ApiKey, Request};
use crate::retry::{self, Backoff};
use metadata::Metadata;
pub use metadata::PartitionInfo;
use pool::Pool;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A topic as the features above see it: the client, its name, its partitions when loaded.
#[derive(Debug, Clone)]
pub(crate) struct TopicRef {
    pub client: Arc<Client>,
    pub name: Arc<str>,
    pub partitions: Vec<PartitionInfo>,
}

/// Which coordinator FindCoordinator looks for.
#[derive(Debug, Clone, Copy)]
enum Coordinator {
    Group,
    Transaction,
}

/// Cluster metadata, a connection pool and the retry policy. Shared between threads behind an
/// `Arc`.
#[derive(Debug)]
pub(crate) struct Client {
    bootstrap: Vec<String>,
    conn_cfg: ConnectionConfig,
    retry_backoff: Duration,
    /// Whether metadata requests ask the broker to create the topics they name.
    auto_create_topics: bool,
    known: Mutex<Metadata>,
    pool: Arc<Pool>,
}

/// How long a metadata request has to itself before the next address is asked as well: a
/// silent broker then costs a second, not a request timeout per address.
const METADATA_STAGGER: Duration = Duration::from_secs(1);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind, still consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Client {
    /// Connects to the first reachable bootstrap broker and loads the broker list.
    pub fn connect(
        bootstrap: &[String],
        conn_cfg: ConnectionConfig,
        retry_backoff: Duration,
        auto_create_topics: bool,
    ) -> Result<Arc<Client>> {
        if bootstrap.is_empty() {
            return Err(Error::Config("no bootstrap brokers given".into()));
        }
        let client = Client {
            bootstrap: bootstrap.to_vec(),
            conn_cfg,
            retry_backoff,
            auto_create_topics,
            known: Mutex::new(Metadata::default()),
            pool: Arc::default(),
        };
        client.refresh_metadata(&[])?;
        Ok(Arc::new(client))
    }

    /// The connection settings.
    pub fn connection_config(&self) -> &ConnectionConfig {
        &self.conn_cfg
    }

    /// The backoff policy from the configured first pause up to `max` (one of
    /// [`crate::retry`]'s caps).
    pub fn backoff(&self, max: Duration) -> Backoff {
        Backoff::new(self.retry_backoff, max)
    }

    /// Refreshes metadata for `topics` (none: every topic). Asks each known broker, then each
    /// bootstrap address (KIP-1102: when every known broker is gone, the configured list
    /// still is), until one answers: the next address is asked when the last one failed or
    /// has not answered within a second, so silent brokers cost about a second each, and the
    /// whole refresh at most the request timeout past the last start.
    pub fn refresh_metadata(&self, topics: &[&str]) -> Result<()> {
        // With no topic named, ask for all of them rather than for an empty list: librdkafka's
        // mock answers an empty list without any topics array, which no decoder can read.
        let req = Arc::new(MetadataRequest {
            topics: (!topics.is_empty()).then(|| topics.iter().map(|t| t.to_string()).collect()),
            topic_ids: Vec::new(),
            allow_auto_topic_creation: self.auto_create_topics,
        });
        let addrs = lock(&self.known).metadata_targets(&self.bootstrap);
        let (tx, rx) = std::sync::mpsc::channel();
        let mut started = 0;
        let mut failed = 0;
        let mut last = None;
        while failed < addrs.len() {
            if started < addrs.len() {
                let addr = addrs[started].clone();
                let (pool, cfg) = (Arc::clone(&self.pool), self.conn_cfg.clone());
                let (request, answers) = (Arc::clone(&req), tx.clone());
                let ask = move || {
                    let r = pool.send(&addr, &cfg, &*request, Duration::ZERO);
                    let _ = answers.send((addr, r));
                };
                if let Err(e) = std::thread::Builder::new().name("plainkafka-metadata".into()).spawn(ask) {
                    log::debug!("metadata: no thread ({e}); asking {} in line", addrs[started]);
                    let r = self.pool.send(&addrs[started], &self.conn_cfg, &*req, Duration::ZERO);
                    let _ = tx.send((addrs[started].clone(), r));
                }
                started += 1;
            }
            // Every attempt ends by itself (connect and request timeouts).
            let answer = if started < addrs.len() { rx.recv_timeout(METADATA_STAGGER).ok() } else { rx.recv().ok() };
            match answer {
                Some((_, Ok(resp))) => {
                    lock(&self.known).absorb(resp, topics.is_empty());
                    return Ok(());
                }
                Some((addr, Err(e))) => {
                    log::debug!("metadata from {addr} failed: {e}");
                    failed += 1;
                    last = Some(e);
                }
                None if started < addrs.len() => {}
                None => break,
            }
        }
        // A refused login or certificate is the answer to give, not "unreachable".
        if let Some(e) = last.as_ref().filter(|e| e.is_security()) {
            return Err(e.clone());
        }
        Err(Error::NoBrokerReachable {
            tried: addrs,
            last: Box::new(last.unwrap_or_else(|| Error::Config("no broker addresses".into()))),
        })
    }

    /// The partitions of `topic`, loading metadata if needed. Retries while the topic is being
    /// created (leaders not yet elected) until `timeout`.
    pub fn partitions(&self, topic: &str, timeout: Duration) -> Result<Vec<PartitionInfo>> {
        self.await_partitions(topic, timeout, !self.auto_create_topics)
    }

    /// [`Client::partitions`]; `unknown_is_final` says whether a broker that doesn't know the
    /// topic ends the wait. After CreateTopics it doesn't: the new topic reaches the metadata
    /// a moment later (a 600-partition topic was answered unknown right after its creation).
    pub(crate) fn await_partitions(
        &self,
        topic: &str,
        timeout: Duration,
        unknown_is_final: bool,
    ) -> Result<Vec<PartitionInfo>> {
        let deadline = Instant::now() + timeout;
        let backoff = self.backoff(retry::TOPIC_READY_MAX);
        let mut attempt = 0;
        loop {
            if let Some(p) = lock(&self.known).ready_partitions(topic) {
                return Ok(p);
            }
            self.refresh_metadata(&[topic])?;
            let known = lock(&self.known);
            if let Some(p) = known.ready_partitions(topic) {
                return Ok(p);
            }
            // Without auto-creation a topic the broker doesn't know won't appear by waiting.
            let missing = unknown_is_final && known.unknown.contains(topic);
            drop(known);
            if missing || Instant::now() >= deadline {
                return Err(Error::UnknownTopicOrPartition { topic: topic.to_string(), partition: None });
            }
            std::thread::sleep(backoff.delay(attempt));
            attempt += 1;
        }
    }

    /// The cached leader of a partition.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        lock(&self.known).leader(topic, partition)
    }

    /// The cached leader epoch of a partition, -1 if unknown (as the Fetch field wants it).
    pub fn leader_epoch(&self, topic: &str, partition: i32) -> i32 {
        lock(&self.known).topics.get(topic).and_then(|ps| ps.get(&partition)).map_or(-1, |p| p.leader_epoch)
    }

    /// The cached leaders of `partitions` of `topic` (None where unknown).
    pub fn leaders(&self, topic: &str, partitions: &[i32]) -> Vec<Option<i32>> {
        let k = lock(&self.known);
        partitions.iter().map(|p| k.leader(topic, *p)).collect()
    }

    /// The cached leaders of `partitions` (topic, partition) of any topics, None where unknown.
    pub fn leaders_of<T: AsRef<str>>(&self, partitions: &[(T, i32)]) -> Vec<Option<i32>> {
        let k = lock(&self.known);
        partitions.iter().map(|(t, p)| k.leader(t.as_ref(), *p)).collect()
    }

    /// Every topic's name, from fresh metadata, sorted.
    pub fn topic_names(&self) -> Result<Vec<String>> {
        self.refresh_metadata(&[])?;
        let mut names: Vec<String> = lock(&self.known).topics.keys().cloned().collect();
        names.sort();
        Ok(names)
    }

    /// The id of `topic`, as far as the metadata cache knows (brokers before Kafka 2.8 give
    /// none).
    pub fn topic_id(&self, topic: &str) -> Option<[u8; 16]> {
        lock(&self.known).topic_ids.get(topic).copied()
    }

    /// The topic whose id is `id`, as far as the metadata cache knows.
    pub fn topic_name(&self, id: &[u8; 16]) -> Option<String> {
        lock(&self.known).topic_names.get(id).cloned()
    }

    /// The cached partition count of `topic`.
    pub fn partition_count(&self, topic: &str) -> Option<i32> {
        lock(&self.known).topics.get(topic).map(|p| p.len() as i32)
    }

    /// The address of broker `node`.
    pub fn broker_addr(&self, node: i32) -> Option<String> {
        lock(&self.known).brokers.get(&node).cloned()
    }

    /// Every known broker, by id.
    pub fn brokers(&self) -> BTreeMap<i32, String> {
        lock(&self.known).brokers.iter().map(|(k, v)| (*k, v.clone())).collect()
    }

    /// Every broker's traffic (see [`crate::stats`]), and the requests retried.
    pub fn broker_stats(&self) -> (Vec<crate::stats::BrokerStats>, u64) {
        (self.conn_cfg.meters.brokers(&self.brokers()), self.conn_cfg.meters.retries())
    }

    /// Opens a dedicated connection to broker `node` (not pooled).
    pub fn open(&self, node: i32) -> Result<Connection> {
        let addr = self.broker_addr(node).ok_or(Error::UnknownBroker { id: Some(node) })?;
        Connection::connect(&addr, &self.conn_cfg)
    }

    /// Sends `req` to broker `node` over a pooled connection.
    pub(crate) fn send_to<R: Request>(&self, node: i32, req: &R) -> Result<R::Response> {
        self.send_waiting(node, req, Duration::ZERO)
    }

    /// Like [`Client::send_to`], for a request the broker may hold for up to `extra` beyond
    /// the request timeout (JoinGroup and SyncGroup wait for the rest of the group).
    pub(crate) fn send_waiting<R: Request>(&self, node: i32, req: &R, extra: Duration) -> Result<R::Response> {
        let addr = self.broker_addr(node).ok_or(Error::UnknownBroker { id: Some(node) })?;
        self.pool.send(&addr, &self.conn_cfg, req, extra)
    }

    /// Whether broker `node` offers `api` at all.
    pub(crate) fn supports_api(&self, node: i32, api: crate::protocol::ApiKey) -> Result<bool> {
        let addr = self.broker_addr(node).ok_or(Error::UnknownBroker { id: Some(node) })?;
        self.pool.with(&addr, &self.conn_cfg, |c| c.speaks(api).is_some())
    }

    /// Whether broker `node` speaks `api` at `version` or higher.
    pub(crate) fn supports_api_version(&self, node: i32, api: crate::protocol::ApiKey, version: i16) -> Result<bool> {
        let addr = self.broker_addr(node).ok_or(Error::UnknownBroker { id: Some(node) })?;
        self.pool.with(&addr, &self.conn_cfg, |c| c.speaks(api).is_some_and(|r| r.max >= version))
    }

    /// Whether broker `node` finalized `feature` at `level` or higher, and speaks `api` at
    /// `version` or higher: what a protocol change behind a feature flag needs (KIP-584).
    pub(crate) fn supports_feature(
        &self,
        node: i32,
        feature: &str,
        level: i16,
        api: crate::protocol::ApiKey,
        version: i16,
    ) -> Result<bool> {
        let addr = self.broker_addr(node).ok_or(Error::UnknownBroker { id: Some(node) })?;
        self.pool.with(&addr, &self.conn_cfg, |c| {
            c.feature_level(feature).is_some_and(|l| l >= level) && c.speaks(api).is_some_and(|r| r.max >= version)
        })
    }

    /// The coordinator of `group`, from cache or FindCoordinator.
    pub fn coordinator(&self, group: &str) -> Result<i32> {
        self.find_coordinator(group, Coordinator::Group)
    }

    /// The transaction coordinator of `transactional_id`, from cache or FindCoordinator.
    pub fn txn_coordinator(&self, transactional_id: &str) -> Result<i32> {
        self.find_coordinator(transactional_id, Coordinator::Transaction)
    }

    fn find_coordinator(&self, key: &str, kind: Coordinator) -> Result<i32> {
        let cached = |k: &Metadata| match kind {
            Coordinator::Group => k.coordinators.get(key).copied(),
            Coordinator::Transaction => k.txn_coordinators.get(key).copied(),
        };
        if let Some(n) = cached(&lock(&self.known)) {
            return Ok(n);
        }
        let key_type = match kind {
            Coordinator::Group => 0,
            Coordinator::Transaction => 1,
        };
        let req = FindCoordinatorRequest { key: key.to_string(), key_type };
        let node = self.any_broker()?;
        let resp = self.send_to(node, &req)?;
        let context = || match kind {
            Coordinator::Group => Context::group(key).on_broker(node),
            Coordinator::Transaction => Context::broker(node),
        };
        let c = resp.coordinators.into_iter().next().ok_or_else(|| {
            Error::broker(
                ApiKey::FindCoordinator,
                ErrorCode::COORDINATOR_NOT_AVAILABLE,
                context(),
                Some("empty coordinator list".into()),
            )
        })?;
        let code = ErrorCode::from_i16(c.error_code);
        if !code.is_ok() {
            return Err(Error::broker(ApiKey::FindCoordinator, code, context(), c.error_message));
        }
        let mut k = lock(&self.known);
        k.brokers.entry(c.node_id).or_insert_with(|| format!("{}:{}", c.host, c.port));
        match kind {
            Coordinator::Group => k.coordinators.insert(key.to_string(), c.node_id),
            Coordinator::Transaction => k.txn_coordinators.insert(key.to_string(), c.node_id),
        };
        Ok(c.node_id)
    }

    /// Forgets the cached coordinator of `group` (after NOT_COORDINATOR and the like).
    pub fn forget_coordinator(&self, group: &str) {
        lock(&self.known).coordinators.remove(group);
    }

    /// Forgets the cached transaction coordinator of `transactional_id`.
    pub fn forget_txn_coordinator(&self, transactional_id: &str) {
        lock(&self.known).txn_coordinators.remove(transactional_id);
    }

    /// A known broker, varying between calls.
    pub(crate) fn any_broker(&self) -> Result<i32> {
        let k = lock(&self.known);
        let mut ids: Vec<i32> = k.brokers.keys().copied().collect();
        ids.sort_unstable();
        // Spread lookups over the brokers rather than always asking the lowest id.
        ids.get(retry::seed() as usize % ids.len().max(1)).copied().ok_or(Error::UnknownBroker { id: None })
    }

    /// Runs `f` until it succeeds, fails for good, or `attempts` run out, backing off between
    /// tries and refreshing what `f`'s error says is stale (`topics`' metadata, `group`'s
    /// coordinator). With one attempt it never sleeps: a caller with a retry loop of its own
    /// (a fetcher) passes 1, and still gets a stale coordinator forgotten.
    ///
    /// No retry starts later than one request timeout after the first attempt did, so a
    /// retried call against silent brokers ends within about twice the request timeout, however
    /// many attempts were allowed (closing a consumer commits this way).
    pub fn with_retries<T>(
        &self,
        attempts: u32,
        topics: &[&str],
        group: Option<&str>,
        mut f: impl FnMut() -> Result<T>,
    ) -> Result<T> {
        let backoff = self.backoff(retry::REQUEST_MAX);
        let last_start = Instant::now() + self.conn_cfg.request_timeout;
        let mut attempt = 0;
        loop {
            let err = match f() {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let how = err.retry();
            let stale = how == Retry::RefreshMetadata || how == Retry::Reconnect;
            if let (true, Some(g)) = (stale, group) {
                self.forget_coordinator(g);
            }
            attempt += 1;
            let pause = backoff.delay(attempt - 1);
            if how == Retry::Never || attempt >= attempts || Instant::now() + pause > last_start {
                return Err(err);
            }
            log::debug!("retrying after ({how:?}): {err}");
            self.conn_cfg.meters.retried();
            std::thread::sleep(pause);
            if stale {
                if let Err(e) = self.refresh_metadata(topics) {
                    log::debug!("metadata refresh failed: {e}");
                }
            }
        }
    }
}
