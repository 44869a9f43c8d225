//! What the client knows about the cluster: brokers, topic partitions and their leaders, group
//! coordinators; and a pool of connections for short requests (metadata, offsets, commits).
//!
//! Long-polling fetches run on connections of their own (see the consumer's fetchers) so that a
//! Fetch waiting for data never delays a commit.

use crate::error::{Error, Result, Retry};
use crate::net::{Connection, ConnectionConfig};
use crate::protocol::error_code::ErrorCode;
use crate::protocol::find_coordinator::FindCoordinatorRequest;
use crate::protocol::metadata::{MetadataRequest, MetadataResponse};
use crate::protocol::{ApiKey, Request};
use crate::retry;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A partition's leader and replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Partition id.
    pub partition: i32,
    /// Leader broker id; `None` while there is no leader.
    pub leader: Option<i32>,
    /// Leader epoch, -1 if the broker doesn't say.
    pub leader_epoch: i32,
    /// Replica broker ids.
    pub replicas: Vec<i32>,
    /// In-sync replica broker ids.
    pub isr: Vec<i32>,
}

#[derive(Debug, Default)]
struct Known {
    brokers: HashMap<i32, String>,
    topics: HashMap<String, BTreeMap<i32, PartitionInfo>>,
    coordinators: HashMap<String, i32>,
}

/// Cluster metadata and a connection pool. Shared between threads behind an `Arc`.
#[derive(Debug)]
pub struct Cluster {
    bootstrap: Vec<String>,
    conn_cfg: ConnectionConfig,
    retry_backoff: Duration,
    known: Mutex<Known>,
    /// One idle connection per broker address, taken out while a request is in flight.
    pool: Mutex<HashMap<String, Connection>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind, still consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Cluster {
    /// Connects to the first reachable bootstrap broker and loads the broker list.
    pub fn connect(bootstrap: &[String], conn_cfg: ConnectionConfig, retry_backoff: Duration) -> Result<Arc<Cluster>> {
        if bootstrap.is_empty() {
            return Err(Error::Config("no bootstrap brokers given".into()));
        }
        let cluster = Cluster {
            bootstrap: bootstrap.to_vec(),
            conn_cfg,
            retry_backoff,
            known: Mutex::new(Known::default()),
            pool: Mutex::new(HashMap::new()),
        };
        cluster.refresh_metadata(&[])?;
        Ok(Arc::new(cluster))
    }

    /// The connection settings.
    pub fn connection_config(&self) -> &ConnectionConfig {
        &self.conn_cfg
    }

    /// The configured backoff between retries.
    pub fn retry_backoff(&self) -> Duration {
        self.retry_backoff
    }

    /// Refreshes metadata for `topics` (none: every topic). Asks each known broker, then
    /// each bootstrap address, until one answers.
    pub fn refresh_metadata(&self, topics: &[&str]) -> Result<()> {
        // With no topic named, ask for all of them rather than for an empty list: librdkafka's
        // mock answers an empty list without any topics array, which no decoder can read.
        let req = MetadataRequest {
            topics: (!topics.is_empty()).then(|| topics.iter().map(|t| t.to_string()).collect()),
            allow_auto_topic_creation: true,
        };
        let mut addrs: Vec<String> = lock(&self.known).brokers.values().cloned().collect();
        addrs.sort();
        for b in &self.bootstrap {
            if !addrs.contains(b) {
                addrs.push(b.clone());
            }
        }
        let mut last = None;
        for addr in &addrs {
            match self.send_to_addr(addr, &req, Duration::ZERO) {
                Ok(resp) => {
                    self.absorb(resp, topics.is_empty());
                    return Ok(());
                }
                Err(e) => {
                    log::debug!("metadata from {addr} failed: {e}");
                    last = Some(e);
                }
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

    /// Takes in a Metadata answer; `complete` when it lists every topic, so that topics it
    /// doesn't mention are gone.
    fn absorb(&self, resp: MetadataResponse, complete: bool) {
        let mut k = lock(&self.known);
        if complete {
            k.topics.clear();
        }
        for b in resp.brokers {
            k.brokers.insert(b.node_id, format!("{}:{}", b.host, b.port));
        }
        for t in resp.topics {
            let Some(name) = t.name else { continue };
            let code = ErrorCode::from_i16(t.error_code);
            if !code.is_ok() {
                log::debug!("metadata for topic {name}: {code}");
                if code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION {
                    k.topics.remove(&name);
                }
                continue;
            }
            let parts = t
                .partitions
                .into_iter()
                .map(|p| {
                    let info = PartitionInfo {
                        partition: p.partition_index,
                        leader: (p.leader_id >= 0).then_some(p.leader_id),
                        leader_epoch: p.leader_epoch,
                        replicas: p.replica_nodes,
                        isr: p.isr_nodes,
                    };
                    (p.partition_index, info)
                })
                .collect();
            k.topics.insert(name, parts);
        }
    }

    /// The partitions of `topic`, loading metadata if needed. Retries while the topic is being
    /// created (leaders not yet elected) until `timeout`.
    pub fn partitions(&self, topic: &str, timeout: Duration) -> Result<Vec<PartitionInfo>> {
        let deadline = Instant::now() + timeout;
        let mut attempt = 0;
        // Known, with a leader for every partition.
        let ready = || {
            let k = lock(&self.known);
            let p = k.topics.get(topic)?;
            (!p.is_empty() && p.values().all(|p| p.leader.is_some())).then(|| p.values().cloned().collect())
        };
        loop {
            if let Some(p) = ready() {
                return Ok(p);
            }
            self.refresh_metadata(&[topic])?;
            if let Some(p) = ready() {
                return Ok(p);
            }
            if Instant::now() >= deadline {
                return Err(Error::UnknownTopicOrPartition { topic: topic.to_string(), partition: None });
            }
            std::thread::sleep(retry::backoff(self.retry_backoff, Duration::from_secs(1), attempt, retry::seed()));
            attempt += 1;
        }
    }

    /// The cached leader of a partition.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        lock(&self.known).topics.get(topic)?.get(&partition)?.leader
    }

    /// The cached leaders of `partitions` of `topic` (None where unknown).
    pub fn leaders(&self, topic: &str, partitions: &[i32]) -> Vec<Option<i32>> {
        let k = lock(&self.known);
        let t = k.topics.get(topic);
        partitions.iter().map(|p| t.and_then(|t| t.get(p)).and_then(|p| p.leader)).collect()
    }

    /// The cached leaders of `partitions` (topic, partition) of any topics, None where unknown.
    pub fn leaders_of<T: AsRef<str>>(&self, partitions: &[(T, i32)]) -> Vec<Option<i32>> {
        let k = lock(&self.known);
        partitions.iter().map(|(t, p)| k.topics.get(t.as_ref())?.get(p)?.leader).collect()
    }

    /// Every topic's name, from fresh metadata, sorted.
    pub fn topic_names(&self) -> Result<Vec<String>> {
        self.refresh_metadata(&[])?;
        let mut names: Vec<String> = lock(&self.known).topics.keys().cloned().collect();
        names.sort();
        Ok(names)
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

    /// Opens a dedicated connection to broker `node` (not pooled).
    pub fn open(&self, node: i32) -> Result<Connection> {
        let addr = self.broker_addr(node).ok_or_else(|| Error::Config(format!("unknown broker id {node}")))?;
        Connection::connect(&addr, &self.conn_cfg)
    }

    /// Sends `req` to broker `node` over a pooled connection.
    pub fn send_to<R: Request>(&self, node: i32, req: &R) -> Result<R::Response> {
        self.send_waiting(node, req, Duration::ZERO)
    }

    /// Like [`Cluster::send_to`], for a request the broker may hold for up to `extra` beyond
    /// the request timeout (JoinGroup and SyncGroup wait for the rest of the group).
    pub fn send_waiting<R: Request>(&self, node: i32, req: &R, extra: Duration) -> Result<R::Response> {
        let addr = self.broker_addr(node).ok_or_else(|| Error::Config(format!("unknown broker id {node}")))?;
        self.send_to_addr(&addr, req, extra)
    }

    fn send_to_addr<R: Request>(&self, addr: &str, req: &R, extra: Duration) -> Result<R::Response> {
        let pooled = lock(&self.pool).remove(addr);
        let mut conn = match pooled {
            Some(c) => c,
            None => Connection::connect(addr, &self.conn_cfg)?,
        };
        let r = conn.send(req, extra);
        if !conn.is_broken() {
            lock(&self.pool).insert(addr.to_string(), conn);
        }
        r
    }

    /// The coordinator of `group`, from cache or FindCoordinator.
    pub fn coordinator(&self, group: &str) -> Result<i32> {
        if let Some(n) = lock(&self.known).coordinators.get(group) {
            return Ok(*n);
        }
        let req = FindCoordinatorRequest { key: group.to_string(), key_type: 0 };
        let node = self.any_broker()?;
        let resp = self.send_to(node, &req)?;
        let c = resp.coordinators.into_iter().next().ok_or_else(|| Error::Broker {
            api: ApiKey::FindCoordinator,
            code: ErrorCode::COORDINATOR_NOT_AVAILABLE,
            context: format!("group {group}"),
            message: Some("empty coordinator list".into()),
        })?;
        let code = ErrorCode::from_i16(c.error_code);
        if !code.is_ok() {
            return Err(Error::Broker {
                api: ApiKey::FindCoordinator,
                code,
                context: format!("group {group}"),
                message: c.error_message,
            });
        }
        let mut k = lock(&self.known);
        k.brokers.entry(c.node_id).or_insert_with(|| format!("{}:{}", c.host, c.port));
        k.coordinators.insert(group.to_string(), c.node_id);
        Ok(c.node_id)
    }

    /// Forgets the cached coordinator of `group` (after NOT_COORDINATOR and the like).
    pub fn forget_coordinator(&self, group: &str) {
        lock(&self.known).coordinators.remove(group);
    }

    /// A known broker, varying between calls.
    pub(crate) fn any_broker(&self) -> Result<i32> {
        let k = lock(&self.known);
        let mut ids: Vec<i32> = k.brokers.keys().copied().collect();
        ids.sort_unstable();
        // Spread lookups over the brokers rather than always asking the lowest id.
        ids.get(retry::seed() as usize % ids.len().max(1))
            .copied()
            .ok_or_else(|| Error::Config("no brokers known".into()))
    }

    /// Runs `f` until it succeeds, fails for good, or `attempts` run out, backing off between
    /// tries and refreshing what `f`'s error says is stale (`topics`' metadata, `group`'s
    /// coordinator).
    pub fn with_retries<T>(
        &self,
        attempts: u32,
        topics: &[&str],
        group: Option<&str>,
        mut f: impl FnMut() -> Result<T>,
    ) -> Result<T> {
        let mut attempt = 0;
        loop {
            let err = match f() {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let how = err.retry();
            attempt += 1;
            if how == Retry::Never || attempt >= attempts {
                return Err(err);
            }
            log::debug!("retrying after ({how:?}): {err}");
            std::thread::sleep(retry::backoff(self.retry_backoff, Duration::from_secs(5), attempt - 1, retry::seed()));
            if how == Retry::RefreshMetadata || how == Retry::Reconnect {
                if let Some(g) = group {
                    self.forget_coordinator(g);
                }
                if let Err(e) = self.refresh_metadata(topics) {
                    log::debug!("metadata refresh failed: {e}");
                }
            }
        }
    }
}
