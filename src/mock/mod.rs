//! An in-process Kafka cluster for tests, examples and benchmarks: N brokers, each on its own
//! loopback port, served by threads and `std::net`, speaking the wire protocol through this
//! crate's `protocol` module (requests decoded, responses encoded). Real clients
//! connect to it as to Kafka: plainkafka, librdkafka, the Java client.
//!
//! ```
//! use plainkafka::mock::MockCluster;
//! use plainkafka::{KafkaClient, ProducerRecord};
//!
//! let cluster = MockCluster::builder().brokers(3).partitions(2).build()?;
//! let topic = KafkaClient::new(&cluster.bootstrap())?.topic("events")?;
//! let at = topic.producer().build()?.send(ProducerRecord::new("hello").partition(1))?;
//! assert_eq!((at.partition, at.offset), (1, Some(0)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Each connection is served by a thread of its own: at most 1024 at once (more are closed on
//! arrival), a response write may take at most 30 s (a client that stops reading loses its
//! connection), and dropping the cluster closes every connection and waits for its thread.
//!
//! What it keeps: topics (created by CreateTopics, or on first use with the configured
//! partition count), partition logs of RecordBatch v2 batches as the producer wrote them (with
//! offsets assigned, idempotent sequence checks, size-based retention), committed offsets,
//! classic consumer groups (join, sync, heartbeat, leave, session expiry, static members),
//! consumer-protocol groups (KIP-848: a uniform server-side assignment handed over partition by
//! partition, member epochs), and transactions of version 1 (KIP-98: fencing by transactional id, markers, the last stable
//! offset and aborted lists for read_committed readers, offsets committed in transactions with
//! KIP-447's member checks, timeouts), so exactly-once code can be tested without a JVM. What it
//! doesn't: replication (every partition has one replica, its leader), transaction version 2,
//! ACLs, message formats v0/v1, fetch sessions, KRaft or ZooKeeper APIs.
//!
//! Security, to try a secure configuration locally: SASL PLAIN, SCRAM-SHA-256/512 and
//! OAUTHBEARER against a user list ([`MockClusterBuilder::sasl_user`]) with session lifetimes
//! (KIP-368), and TLS listeners (feature `tls`) with a given certificate or, with `mock-tls`,
//! one issued at start by a throwaway CA (`MockClusterBuilder::tls_generated`), optionally
//! requiring client certificates (`MockClusterBuilder::tls_client_ca`).
//!
//! Faults, in the spirit of librdkafka's mock and franz-go's kfake: [`MockCluster::control`]
//! registers a hook that sees each request of an API before its handler and may fail it,
//! delay it, cut its response off or close the connection ([`Control`]); the presets
//! [`MockCluster::fail_next`] (the next requests of an API get an error code),
//! [`MockCluster::delay`] and [`MockCluster::drop_next_response`] are built on it. State
//! changes: [`MockCluster::broker_down`] / [`MockCluster::broker_up`],
//! [`MockCluster::move_leader`], [`MockCluster::move_coordinator`] and
//! [`MockCluster::restrict_versions`].

mod auth;
mod consumer_group;
mod control;
mod group;
mod handlers;
mod log;
mod server;
mod share_group;
#[cfg(feature = "tls")]
mod tls;
mod txn;

#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub use tls::MockTls;
#[cfg(feature = "mock-tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock-tls")))]
pub use tls::{CertificateAuthority, IssuedCertificate};

use crate::protocol::error_code::ErrorCode;
use crate::protocol::{ApiKey, VersionRange};
use crate::workers::Workers;
use control::Controls;
pub use control::{Control, ControlId, Intercepted};
use group::Group;
use log::PartitionLog;
use std::collections::{BTreeMap, HashMap};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Settings for a [`MockCluster`].
#[derive(Debug, Clone)]
pub struct MockClusterBuilder {
    brokers: usize,
    port: Option<u16>,
    partitions: i32,
    auto_create: bool,
    retention_bytes: Option<usize>,
    max_request_size: usize,
    cut_batches: bool,
    max_request_wait: Duration,
    max_connections: usize,
    max_partitions: usize,
    sasl: Option<auth::SaslSettings>,
    #[cfg(feature = "tls")]
    tls: Option<MockTls>,
    #[cfg(feature = "tls")]
    tls_client_ca: Option<String>,
    tls_ca_pem: Option<String>,
}

impl MockClusterBuilder {
    /// How many brokers (ids 1..=N). Default 1.
    pub fn brokers(mut self, n: usize) -> Self {
        self.brokers = n;
        self
    }

    /// Listen on ports P, P+1, … instead of ports the system picks.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Partitions of a topic created on first use, or by CreateTopics asking for the default
    /// (-1). Default 1.
    pub fn partitions(mut self, n: i32) -> Self {
        self.partitions = n;
        self
    }

    /// Create a topic when a client first asks for it (Kafka's `auto.create.topics.enable`).
    /// Default true.
    pub fn auto_create_topics(mut self, on: bool) -> Self {
        self.auto_create = on;
        self
    }

    /// Keep at most this many bytes per partition, dropping the oldest batches and moving the
    /// log start (Kafka's `retention.bytes`). Default: keep everything.
    pub fn retention_bytes(mut self, bytes: Option<usize>) -> Self {
        self.retention_bytes = bytes;
        self
    }

    /// The largest request a broker reads; a larger size prefix closes the connection, as
    /// Kafka's `socket.request.max.bytes` does. Default 100 MiB (Kafka's). Memory is taken as
    /// the bytes arrive, not on the prefix's word.
    pub fn max_request_size(mut self, bytes: usize) -> Self {
        self.max_request_size = bytes;
        self
    }

    /// Cut Fetch answers at each partition's `partition_max_bytes`, even in the middle of a
    /// batch, as brokers before KIP-74 (Kafka 0.10.1) did and as Kafka still may at the end of
    /// a segment. A client must see the partial batch and fetch more. Default false: whole
    /// batches, at least one per partition.
    pub fn cut_batches(mut self, on: bool) -> Self {
        self.cut_batches = on;
        self
    }

    /// The longest a request is held: a Fetch's `max_wait_ms`, a member's rebalance timeout
    /// (a JoinGroup round, a SyncGroup waiting for the leader). A client asking for more is
    /// answered at this point, so no client can pin a connection thread for days. Default 5
    /// minutes.
    pub fn max_request_wait(mut self, d: Duration) -> Self {
        self.max_request_wait = d;
        self
    }

    /// The most connections the whole cluster serves at once; more are closed on arrival.
    /// Default 1024.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// The most partitions the cluster holds over all its topics: creating more is refused
    /// with INVALID_PARTITIONS, as each takes memory up front. Default 100,000.
    pub fn max_partitions(mut self, n: usize) -> Self {
        self.max_partitions = n;
        self
    }

    fn sasl_mut(&mut self) -> &mut auth::SaslSettings {
        self.sasl.get_or_insert_with(auth::SaslSettings::default)
    }

    /// Requires SASL on every connection and adds a user, who may log in with PLAIN,
    /// SCRAM-SHA-256 or SCRAM-SHA-512.
    pub fn sasl_user(mut self, username: &str, password: &str) -> Self {
        self.sasl_mut().users.insert(username.into(), password.into());
        self
    }

    /// Requires SASL and accepts this OAUTHBEARER token (compared as it is, not parsed).
    pub fn sasl_oauthbearer_token(mut self, token: &str) -> Self {
        self.sasl_mut().tokens.insert(token.into());
        self
    }

    /// The mechanisms offered. Default: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, and OAUTHBEARER
    /// when a token was added.
    pub fn sasl_mechanisms(mut self, mechanisms: &[&str]) -> Self {
        self.sasl_mut().mechanisms = Some(mechanisms.iter().map(|m| m.to_string()).collect());
        self
    }

    /// Sessions last this long (KIP-368): the client must re-authenticate before the end, or
    /// its next request closes the connection, as Kafka's `connections.max.reauth.ms` does.
    pub fn sasl_session_lifetime(mut self, d: Duration) -> Self {
        self.sasl_mut().session_lifetime = Some(d);
        self
    }

    /// Serves TLS with this certificate chain and private key (PEM).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(mut self, chain_pem: &str, key_pem: &str) -> Self {
        self.tls = Some(MockTls { chain_pem: chain_pem.into(), key_pem: key_pem.into() });
        self
    }

    /// Requires every client to present a certificate signed by one of these CAs (PEM), as
    /// Kafka's `ssl.client.auth=required` does. Goes with [`MockClusterBuilder::tls`] or
    /// `tls_generated`, in either order.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls_client_ca(mut self, ca_pem: &str) -> Self {
        self.tls_client_ca = Some(ca_pem.into());
        self
    }

    /// Serves TLS with a certificate for `localhost` and `127.0.0.1` issued at build time by a
    /// new CA, whose certificate [`MockCluster::tls_ca_pem`] returns for clients to trust.
    #[cfg(feature = "mock-tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "mock-tls")))]
    pub fn tls_generated(mut self) -> crate::Result<Self> {
        let ca = CertificateAuthority::generate("plainkafka mock CA")
            .map_err(|e| crate::Error::local("generating the mock's CA", e))?;
        let leaf = ca
            .issue(&["localhost", "127.0.0.1"])
            .map_err(|e| crate::Error::local("issuing the mock's certificate", e))?;
        self.tls_ca_pem = Some(ca.ca_pem());
        Ok(self.tls(&leaf.cert_pem, &leaf.key_pem))
    }

    /// Binds the brokers' ports and starts serving.
    pub fn build(self) -> crate::Result<MockCluster> {
        use crate::Error;
        if self.brokers == 0 || self.partitions <= 0 {
            return Err(Error::Config("a MockCluster needs at least 1 broker and 1 partition".into()));
        }
        if !(12..=i32::MAX as usize).contains(&self.max_request_size) {
            return Err(Error::Config(format!(
                "a MockCluster's max_request_size {} is out of range (12 bytes to 2 GiB)",
                self.max_request_size
            )));
        }
        let mut listeners = Vec::new();
        for i in 0..self.brokers {
            // Consecutive ports from `port`: all of them must exist (no wrapping to port 0 or 1).
            let port = match self.port {
                None => 0,
                Some(p) => u16::try_from(i).ok().and_then(|i| p.checked_add(i)).ok_or_else(|| {
                    Error::Config(format!("ports {p} and up have no room for {} brokers", self.brokers))
                })?,
            };
            let bound = TcpListener::bind(("127.0.0.1", port))
                .map_err(|e| Error::local(format!("binding 127.0.0.1:{port} for a mock broker"), e))?;
            listeners.push(bound);
        }
        let brokers = listeners
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let port = l.local_addr().map_err(|e| Error::local("reading a mock broker's port", e))?.port();
                Ok(BrokerInfo { id: i as i32 + 1, port, up: AtomicBool::new(true) })
            })
            .collect::<crate::Result<Vec<_>>>()?;
        #[cfg(feature = "tls")]
        let tls = match (&self.tls, &self.tls_client_ca) {
            (Some(t), ca) => Some(
                t.server_config(ca.as_deref()).map_err(|e| Error::Config(format!("the mock's TLS settings: {e}")))?,
            ),
            (None, Some(_)) => {
                return Err(Error::Config(
                    "tls_client_ca needs tls or tls_generated: the brokers' own certificate".into(),
                ))
            }
            (None, None) => None,
        };
        let sasl = self.sasl.as_ref().map(auth::SaslServer::new);
        let shared = Arc::new(Shared {
            sasl,
            #[cfg(feature = "tls")]
            tls,
            connections: AtomicUsize::new(0),
            panics: AtomicUsize::new(0),
            live: server::Live::default(),
            cfg: self,
            brokers,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            faults: Mutex::new(Faults::default()),
            shutdown: AtomicBool::new(false),
        });
        let mut workers = Workers::new();
        for (i, l) in listeners.into_iter().enumerate() {
            let s = Arc::clone(&shared);
            // A broker thread that dies leaves its port unanswered; the log says why.
            workers.spawn(format!("plainkafka-mock-broker-{}", i + 1), move || server::listen(s, i, l), drop)?;
        }
        let s = Arc::clone(&shared);
        workers.spawn("plainkafka-mock-janitor".into(), move || server::janitor(s), drop)?;
        Ok(MockCluster { shared, workers })
    }
}

/// An in-process Kafka cluster (see the [module docs](self)). Dropping it stops every broker.
#[derive(Debug)]
pub struct MockCluster {
    shared: Arc<Shared>,
    workers: Workers,
}

#[derive(Debug)]
pub(crate) struct BrokerInfo {
    pub id: i32,
    pub port: u16,
    pub up: AtomicBool,
}

#[derive(Debug)]
pub(crate) struct Partition {
    pub leader: i32,
    pub log: PartitionLog,
}

#[derive(Debug)]
pub(crate) struct Topic {
    pub id: [u8; 16],
    pub partitions: Vec<Partition>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub topics: BTreeMap<String, Topic>,
    pub groups: BTreeMap<String, Group>,
    /// (group, topic, partition) → next offset to read.
    pub offsets: BTreeMap<(String, String, i32), i64>,
    pub coordinators: HashMap<String, i32>,
    pub next_producer_id: i64,
    /// Consumer-protocol groups (KIP-848), by group id.
    pub consumer_groups: BTreeMap<String, consumer_group::ConsumerGroup>,
    /// Share groups (KIP-932), by group id; one exists once configured or joined.
    pub share_groups: BTreeMap<String, share_group::ShareGroup>,
    /// Share sessions, by (broker, group, member).
    pub share_sessions: HashMap<(i32, String, String), handlers::ShareSession>,
    /// Transactional id → its transaction state.
    pub txns: HashMap<String, txn::Transaction>,
    /// Numbers member ids, so that no two are ever alike.
    pub next_member: u64,
    next_topic: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Faults {
    pub controls: Controls,
    /// The hook of each broker's `delay`, to replace or remove.
    pub delays: HashMap<i32, ControlId>,
    pub versions: HashMap<ApiKey, VersionRange>,
    /// Requests answered, per API.
    pub served: HashMap<ApiKey, usize>,
    /// Records served for a partition instead of its log (`serve_records`).
    pub records: HashMap<(String, i32), Arc<Vec<u8>>>,
}

/// Everything the broker threads share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub cfg: MockClusterBuilder,
    pub brokers: Vec<BrokerInfo>,
    pub state: Mutex<State>,
    /// Signalled on every change a waiting request may care about: new data, group moves.
    pub changed: Condvar,
    pub faults: Mutex<Faults>,
    pub shutdown: AtomicBool,
    /// Logins are required when set.
    pub sasl: Option<auth::SaslServer>,
    #[cfg(feature = "tls")]
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Connections accepted so far, by every broker.
    pub connections: AtomicUsize,
    /// Connection threads that panicked.
    pub panics: AtomicUsize,
    /// The connections being served now.
    pub live: server::Live,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The coordinator of a group (or transactional id): moved by the test, or by hash.
    pub fn coordinator(&self, st: &State, key: &str) -> i32 {
        if let Some(b) = st.coordinators.get(key) {
            return *b;
        }
        // FNV-1a: stable across runs, unlike the standard hasher.
        let h = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        (h % self.brokers.len() as u64) as i32 + 1
    }

    /// Creates a topic with `partitions`, leaders spread over the brokers; INVALID_PARTITIONS
    /// when the cluster would hold more than its `max_partitions` (each partition takes memory
    /// up front: a request must not make the mock allocate gigabytes).
    pub fn create_topic(&self, st: &mut State, name: &str, partitions: i32) -> Result<(), ErrorCode> {
        let held: usize = st.topics.values().map(|t| t.partitions.len()).sum();
        if partitions <= 0 || held.saturating_add(partitions as usize) > self.cfg.max_partitions {
            return Err(ErrorCode::INVALID_PARTITIONS);
        }
        st.next_topic += 1;
        let n = self.brokers.len() as i32;
        let first = (st.next_topic as i32) % n;
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&st.next_topic.to_be_bytes());
        id[8..].copy_from_slice(&(name.len() as u64 | 0x4000_0000_0000_0000).to_be_bytes());
        let partitions =
            (0..partitions).map(|p| Partition { leader: (first + p) % n + 1, log: PartitionLog::default() }).collect();
        st.topics.insert(name.to_string(), Topic { id, partitions });
        Ok(())
    }
}

/// A topic's name is valid for Kafka: 1–249 of `[a-zA-Z0-9._-]`, not "." or "..".
pub(crate) fn valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

impl MockCluster {
    /// A one-broker cluster with default settings.
    pub fn new() -> crate::Result<MockCluster> {
        MockCluster::builder().build()
    }

    /// Settings for a cluster.
    pub fn builder() -> MockClusterBuilder {
        MockClusterBuilder {
            brokers: 1,
            port: None,
            partitions: 1,
            auto_create: true,
            retention_bytes: None,
            max_request_size: 100 * 1024 * 1024,
            cut_batches: false,
            max_request_wait: Duration::from_secs(300),
            max_connections: 1024,
            max_partitions: 100_000,
            sasl: None,
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            tls_client_ca: None,
            tls_ca_pem: None,
        }
    }

    /// `host:port,host:port…` of every broker, for a client's bootstrap list.
    pub fn bootstrap(&self) -> String {
        self.shared.brokers.iter().map(|b| format!("127.0.0.1:{}", b.port)).collect::<Vec<_>>().join(",")
    }

    /// Broker ids (1..=N) and ports.
    pub fn brokers(&self) -> Vec<(i32, u16)> {
        self.shared.brokers.iter().map(|b| (b.id, b.port)).collect()
    }

    /// Creates a topic. Returns false if it already exists.
    pub fn create_topic(&self, name: &str, partitions: i32) -> bool {
        let mut st = self.shared.lock();
        if st.topics.contains_key(name) || !valid_topic_name(name) {
            return false;
        }
        self.shared.create_topic(&mut st, name, partitions).is_ok()
    }

    /// Calls `hook` with every request of `api` (`None`: of every API) before its handler,
    /// until [`MockCluster::remove_control`]: the hook passes it on, fails it with an error
    /// code, delays its response, cuts the response off or closes the connection
    /// ([`Control`]). Hooks are asked in the order they were added; the first that returns
    /// `Fail`, `DropResponse` or `Close` decides, and delays add up. A hook runs on the thread
    /// of the request's connection with none of the cluster's locks held: a hook that blocks
    /// holds up only that connection.
    ///
    /// ```
    /// use plainkafka::mock::{Control, MockCluster};
    /// use plainkafka::{ApiKey, ErrorCode};
    ///
    /// let cluster = MockCluster::builder().brokers(2).build()?;
    /// // Every Fetch to broker 2 is refused as if its leadership moved.
    /// cluster.control(Some(ApiKey::Fetch), |req| match req.broker {
    ///     2 => Control::Fail(ErrorCode::NOT_LEADER_OR_FOLLOWER),
    ///     _ => Control::Pass,
    /// });
    /// # Ok::<(), plainkafka::Error>(())
    /// ```
    pub fn control(
        &self,
        api: Option<ApiKey>,
        hook: impl FnMut(&Intercepted<'_>) -> Control + Send + 'static,
    ) -> ControlId {
        self.shared.faults().controls.add(api, None, Box::new(hook))
    }

    /// Like [`MockCluster::control`], for a hook that is removed once it has acted (returned
    /// anything but `Pass`) `times` times.
    pub fn control_times(
        &self,
        api: Option<ApiKey>,
        times: usize,
        hook: impl FnMut(&Intercepted<'_>) -> Control + Send + 'static,
    ) -> ControlId {
        self.shared.faults().controls.add(api, Some(times), Box::new(hook))
    }

    /// Removes a hook; false if it was gone already (removed, or used up).
    pub fn remove_control(&self, id: ControlId) -> bool {
        self.shared.faults().controls.remove(id)
    }

    /// The next `count` requests of `api` (to any broker) fail with `code`. A preset of
    /// [`MockCluster::control_times`].
    pub fn fail_next(&self, api: ApiKey, code: ErrorCode, count: usize) {
        if count > 0 {
            self.control_times(Some(api), count, move |_| Control::Fail(code));
        }
    }

    /// Every response from `broker` is held back by `d` (zero to stop). A preset of
    /// [`MockCluster::control`].
    pub fn delay(&self, broker: i32, d: Duration) {
        let mut f = self.shared.faults();
        if let Some(old) = f.delays.remove(&broker) {
            f.controls.remove(old);
        }
        if !d.is_zero() {
            let hook =
                move |req: &Intercepted<'_>| if req.broker == broker { Control::Delay(d) } else { Control::Pass };
            let id = f.controls.add(None, None, Box::new(hook));
            f.delays.insert(broker, id);
        }
    }

    /// The next response to a request of `api` is cut off halfway and its connection closed.
    /// A preset of [`MockCluster::control_times`].
    pub fn drop_next_response(&self, api: ApiKey) {
        self.control_times(Some(api), 1, |_| Control::DropResponse);
    }

    /// Takes `broker` down: its connections close and new ones are refused (closed at once),
    /// and it leaves the cluster metadata, until [`MockCluster::broker_up`].
    pub fn broker_down(&self, broker: i32) {
        if let Some(b) = self.shared.brokers.iter().find(|b| b.id == broker) {
            b.up.store(false, Ordering::Release);
        }
    }

    /// Brings `broker` back.
    pub fn broker_up(&self, broker: i32) {
        if let Some(b) = self.shared.brokers.iter().find(|b| b.id == broker) {
            b.up.store(true, Ordering::Release);
        }
    }

    /// Makes `broker` the leader of a partition. Returns false for an unknown partition.
    pub fn move_leader(&self, topic: &str, partition: i32, broker: i32) -> bool {
        let mut st = self.shared.lock();
        match st.topics.get_mut(topic).and_then(|t| t.partitions.get_mut(partition as usize)) {
            Some(p) => {
                p.leader = broker;
                true
            }
            None => false,
        }
    }

    /// Makes `broker` the coordinator of `group`; members that were talking to the old one get
    /// NOT_COORDINATOR and must look it up again.
    pub fn move_coordinator(&self, group: &str, broker: i32) {
        self.shared.lock().coordinators.insert(group.to_string(), broker);
        self.shared.changed.notify_all();
    }

    /// Advertises and accepts only `min..=max` of `api` (a request outside it closes the
    /// connection, as Kafka does).
    pub fn restrict_versions(&self, api: ApiKey, min: i16, max: i16) {
        self.shared.faults().versions.insert(api, VersionRange { min, max });
    }

    /// Answers every Fetch of `partition` of `topic` with `records` as its records section,
    /// whatever the offset asked, instead of the log (`None` goes back to the log): crafted or
    /// corrupt batches, to test what a client does with data no honest broker sends. The high
    /// watermark stays the log's (at least 1, so the client fetches).
    pub fn serve_records(&self, topic: &str, partition: i32, records: Option<Vec<u8>>) {
        let key = (topic.to_string(), partition);
        let mut faults = self.shared.faults();
        match records {
            Some(r) => faults.records.insert(key, Arc::new(r)),
            None => faults.records.remove(&key),
        };
    }

    /// How many requests of `api` the brokers have handled so far: lets a test wait until a
    /// client has, say, looked its start offset up.
    pub fn requests_served(&self, api: ApiKey) -> usize {
        self.shared.faults().served.get(&api).copied().unwrap_or(0)
    }

    /// How many connections the brokers are serving now (at most 1024 at once; more are
    /// closed on arrival).
    pub fn connections_open(&self) -> usize {
        self.shared.live.count()
    }

    /// How many connection threads panicked (a bug in the mock: each closed its connection and
    /// logged its message). A test can check it is 0 at its end.
    pub fn panics(&self) -> usize {
        self.shared.panics.load(Ordering::Acquire)
    }

    /// How many connections the brokers have accepted so far.
    pub fn connections_accepted(&self) -> usize {
        self.shared.connections.load(Ordering::Acquire)
    }

    /// The CA certificate (PEM) that issued the brokers' certificate, when the cluster was built
    /// with `MockClusterBuilder::tls_generated`.
    pub fn tls_ca_pem(&self) -> Option<&str> {
        self.shared.cfg.tls_ca_pem.as_deref()
    }

    /// The high watermark (next offset) of a partition, if it exists.
    pub fn high_watermark(&self, topic: &str, partition: i32) -> Option<i64> {
        let st = self.shared.lock();
        st.topics.get(topic)?.partitions.get(partition as usize).map(|p| p.log.next_offset)
    }

    /// For the fuzz targets (feature `unstable`): forgets every topic, group and offset (a
    /// topic `fuzz` of 2 partitions remains, so runs don't pile state up), then serves
    /// `frames`, each a request as it follows its size prefix, in order on one new connection
    /// to broker 1, as a connection thread would, and checks what must hold for any input:
    /// no panic, and every answer decodes as the response to its request. A frame on which
    /// the broker closes the connection ends the run. Build the cluster with
    /// `max_request_wait(Duration::ZERO)`, or fetches and joins wait out their timeouts.
    #[cfg(feature = "unstable")]
    pub fn check_request_path(&self, frames: &[&[u8]]) -> Result<(), String> {
        {
            let mut st = self.shared.lock();
            *st = State::default();
            self.shared.create_topic(&mut st, "fuzz", 2).expect("room for two partitions");
        }
        for (request, answer) in server::serve_frames(&self.shared, 0, frames) {
            let mut d = crate::protocol::codec::Decoder::new(request);
            let Ok(hdr) = crate::protocol::frame::RequestHeader::decode(&mut d) else { continue };
            let Some(key) = ApiKey::from_code(hdr.api_key) else { continue };
            let Some(frame) = answer.get(4..) else { return Err(format!("{key:?}: an answer without a frame")) };
            // An ApiVersions refusal comes in v0 whatever was asked (KIP-511).
            if key == ApiKey::ApiVersions {
                continue;
            }
            if let Some(Err(e)) = crate::protocol::check_response_frame(key, hdr.api_version, frame) {
                return Err(format!("{key:?} v{}: the answer does not decode: {e}", hdr.api_version));
            }
        }
        Ok(())
    }
}

impl Drop for MockCluster {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Release);
        self.shared.changed.notify_all();
        // Wake the accept loops.
        for b in &self.shared.brokers {
            let _ = std::net::TcpStream::connect_timeout(
                &std::net::SocketAddr::from(([127, 0, 0, 1], b.port)),
                Duration::from_millis(200),
            );
        }
        self.workers.join_by(Instant::now() + Duration::from_secs(2), "mock cluster");
        let left = self.shared.live.close_all(Instant::now() + Duration::from_secs(2));
        if left > 0 {
            ::log::warn!("mock cluster: {left} connection threads did not end in time");
        }
    }
}
