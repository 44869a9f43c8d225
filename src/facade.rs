//! The entry point: a [`KafkaClient`] connected to a cluster, and the [`Topic`]s it hands out.
//! Every public method of both lives here; the work is done by the client layer
//! ([`crate::client`]) and by the consumers and producer these hand out.

use crate::client::admin::{self, ConfigEntry, ConfigResource};
use crate::client::offsets::{self as broker_offsets, ListAt, DEFAULT_ATTEMPTS};
use crate::client::{groups_admin, Client, PartitionInfo, TopicRef};
use crate::consumer::{BalancedConsumerBuilder, SimpleConsumerBuilder};
use crate::error::{Error, Result};
use crate::group::{GroupDescription, GroupListing};
use crate::net::security::SecuritySettings;
use crate::net::{ConnectionConfig, SecurityProtocol, TlsConfig};
use crate::offsets::IsolationLevel;
use crate::producer::ProducerBuilder;
use crate::sasl::{OAuthBearerToken, SaslMechanism, TokenProvider};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Settings for [`KafkaClient`].
#[derive(Debug, Clone)]
pub struct KafkaClientBuilder {
    hosts: Vec<String>,
    conn: ConnectionConfig,
    retry_backoff: Duration,
    security: SecuritySettings,
    auto_create_topics: bool,
}

impl KafkaClientBuilder {
    /// Starts from a comma-separated list of bootstrap brokers, `"host:port,host:port"`
    /// (PyKafka's `hosts`); a host without a port means Kafka's 9092, as in librdkafka.
    pub fn new(hosts: &str) -> KafkaClientBuilder {
        KafkaClientBuilder {
            hosts: hosts.split(',').map(str::trim).filter(|h| !h.is_empty()).map(with_default_port).collect(),
            conn: ConnectionConfig::default(),
            retry_backoff: Duration::from_millis(100),
            security: SecuritySettings::default(),
            auto_create_topics: true,
        }
    }

    /// `security.protocol`. Unless set, it follows from the other security settings: TLS
    /// settings mean SSL, a SASL mechanism means SASL_PLAINTEXT, both mean SASL_SSL.
    pub fn security_protocol(mut self, p: SecurityProtocol) -> Self {
        self.security.protocol(p);
        self
    }

    /// Connects with TLS (needs the `tls` feature): which CAs to trust, an optional client
    /// certificate, hostname verification.
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.security.tls(tls);
        self
    }

    /// Authenticates every connection with this SASL mechanism.
    pub fn sasl(mut self, mechanism: SaslMechanism) -> Self {
        self.security.sasl(mechanism);
        self
    }

    /// SASL PLAIN with a user name and password. Use it with TLS: PLAIN sends the password as
    /// it is. Without TLS settings, `security.protocol` must be set to `SASL_PLAINTEXT`
    /// explicitly, or building the client is a configuration error.
    pub fn sasl_plain(self, username: &str, password: &str) -> Self {
        self.sasl(SaslMechanism::Plain { username: username.into(), password: password.into() })
    }

    /// SASL OAUTHBEARER with tokens from `provider`, which is called at every authentication,
    /// re-authentications included, so it can return a fresh token each time.
    pub fn sasl_oauthbearer(
        mut self,
        provider: impl Fn() -> std::result::Result<OAuthBearerToken, String> + Send + Sync + 'static,
    ) -> Self {
        self.security.oauth(TokenProvider::new(provider));
        self
    }

    /// Sets a property by its librdkafka/kcat name, so existing configurations carry over
    /// ([`crate::properties`] lists every name and the builder that takes it):
    /// `bootstrap.servers`, `security.protocol`, `ssl.ca.location` (a PEM file, or `probe` for
    /// the platform's store), `ssl.certificate.location`, `ssl.key.location`,
    /// `ssl.endpoint.identification.algorithm` (`https` or `none`), `sasl.mechanisms`,
    /// `sasl.username`, `sasl.password`, `sasl.oauthbearer.token.endpoint.url` (a `file://`
    /// URL, read at every authentication), `enable.sasl.oauthbearer.unsecure.jwt` and
    /// `sasl.oauthbearer.config` (`principal=NAME [lifeSeconds=N]`, for development); also
    /// `client.id`, `allow.auto.create.topics`, `socket.timeout.ms`,
    /// `socket.connection.setup.timeout.ms`, `retry.backoff.ms` and `debug` (accepted; logs
    /// go through the `log` crate). A consumer's or producer's property is an error that says
    /// which builder takes it.
    pub fn set(mut self, name: &str, value: &str) -> Result<Self> {
        use crate::properties::{boolean, millis, misplaced, takes, Target};
        match name.trim() {
            "bootstrap.servers" | "metadata.broker.list" => self.hosts = KafkaClientBuilder::new(value).hosts,
            "client.id" => self.conn.client_id = value.trim().to_string(),
            "socket.timeout.ms" => self.conn.request_timeout = millis(name, value)?,
            "socket.connection.setup.timeout.ms" => self.conn.connect_timeout = millis(name, value)?,
            "retry.backoff.ms" => self.retry_backoff = millis(name, value)?,
            "allow.auto.create.topics" => self.auto_create_topics = boolean(name, value)?,
            "debug" => log::info!(
                "debug={value}: plainkafka logs through the log crate; have the logger show target plainkafka at debug level"
            ),
            other if takes(Target::Client, other) => self.security.set(name, value)?,
            other => return Err(misplaced(other, Target::Client)),
        }
        Ok(self)
    }

    /// Whether looking a topic up asks the broker to create it (where the broker allows,
    /// Kafka's `auto.create.topics.enable`), as PyKafka's `client.topics[name]` does; librdkafka
    /// and Java call it `allow.auto.create.topics`. Default true. Off, a topic the broker
    /// doesn't know is [`Error::UnknownTopicOrPartition`] at once.
    pub fn allow_auto_create_topics(mut self, on: bool) -> Self {
        self.auto_create_topics = on;
        self
    }

    /// The client id sent with every request. Default `"plainkafka"`.
    pub fn client_id(mut self, id: &str) -> Self {
        self.conn.client_id = id.to_string();
        self
    }

    /// Time allowed to open a connection: the TCP connect, then the TLS handshake and the
    /// ApiVersions exchange each (at most the request timeout). A broker that is still starting
    /// accepts connections before it answers; this bounds how long a client waits on it.
    /// Default 10 s.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.conn.connect_timeout = d;
        self
    }

    /// Time allowed for a request and its response (beyond a fetch's own wait). Default 30 s
    /// (PyKafka's `socket_timeout_ms`).
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.conn.request_timeout = d;
        self
    }

    /// The largest response accepted from a broker. Default 256 MiB.
    pub fn max_response_size(mut self, bytes: usize) -> Self {
        self.conn.max_response_size = bytes;
        self
    }

    /// The first pause between retries of a failed request; it doubles per attempt, up to a few
    /// seconds. Default 100 ms.
    pub fn retry_backoff(mut self, d: Duration) -> Self {
        self.retry_backoff = d;
        self
    }

    /// Connects to the first bootstrap broker that answers.
    pub fn build(self) -> Result<KafkaClient> {
        if self.conn.connect_timeout.is_zero() || self.conn.request_timeout.is_zero() {
            return Err(Error::Config("timeouts must be greater than zero".into()));
        }
        let mut conn = self.conn;
        conn.security = self.security.resolve()?;
        let client = Client::connect(&self.hosts, conn, self.retry_backoff, self.auto_create_topics)?;
        Ok(KafkaClient { client })
    }
}

/// A connection to a Kafka cluster (PyKafka's `KafkaClient`). Cheap to clone.
#[derive(Debug, Clone)]
pub struct KafkaClient {
    client: Arc<Client>,
}

impl KafkaClient {
    /// Connects with default settings to `hosts`, `"host:port[,host:port...]"`.
    pub fn new(hosts: &str) -> Result<KafkaClient> {
        KafkaClientBuilder::new(hosts).build()
    }

    /// Settings for a client.
    pub fn builder(hosts: &str) -> KafkaClientBuilder {
        KafkaClientBuilder::new(hosts)
    }

    /// A topic. Loads its metadata, waiting up to the request timeout for leaders if the broker
    /// is still creating it.
    pub fn topic(&self, name: &str) -> Result<Topic> {
        let partitions = self.client.partitions(name, self.client.connection_config().request_timeout)?;
        Ok(Topic { inner: TopicRef { client: Arc::clone(&self.client), name: Arc::from(name), partitions } })
    }

    /// Broker ids and addresses.
    pub fn brokers(&self) -> BTreeMap<i32, String> {
        self.client.brokers()
    }

    /// A [`crate::BalancedConsumer`] builder: a member of `group` reading `topics`.
    pub fn balanced_consumer(&self, group: &str, topics: &[&str]) -> BalancedConsumerBuilder {
        let topics = topics.iter().map(|t| t.to_string()).collect();
        BalancedConsumerBuilder::new(Arc::clone(&self.client), group, topics)
    }

    /// A [`crate::ShareConsumer`] builder: a member of share group `group` (KIP-932, Kafka
    /// 4.2+) reading `topics` as a queue.
    pub fn share_consumer(&self, group: &str, topics: &[&str]) -> crate::ShareConsumerBuilder {
        let topics = topics.iter().map(|t| t.to_string()).collect();
        crate::ShareConsumer::builder(Arc::clone(&self.client), group, topics)
    }

    /// Creates `topic` with `partitions` and `replication_factor` (-1 for the broker's
    /// defaults), and waits until its partitions have leaders.
    pub fn create_topic(&self, topic: &str, partitions: i32, replication_factor: i16) -> Result<()> {
        admin::create_topic(&self.client, topic, partitions, replication_factor)
    }

    /// Deletes `topic`.
    pub fn delete_topic(&self, topic: &str) -> Result<()> {
        admin::delete_topic(&self.client, topic)
    }

    /// Every setting of a topic, broker or group (DescribeConfigs), sorted by name.
    pub fn describe_configs(&self, resource: &ConfigResource) -> Result<Vec<ConfigEntry>> {
        admin::describe_configs(&self.client, resource)
    }

    /// Sets (`Some`) or deletes (`None`: back to the default) settings of a topic, broker or
    /// group, leaving the others as they are (IncrementalAlterConfigs): all or none. A share
    /// group starts reading where `share.auto.offset.reset` says, `latest` unless set:
    ///
    /// ```no_run
    /// use plainkafka::{ConfigResource, KafkaClient};
    ///
    /// # fn main() -> plainkafka::Result<()> {
    /// let client = KafkaClient::new("127.0.0.1:9092")?;
    /// let group = ConfigResource::Group("workers".into());
    /// client.alter_configs(&group, &[("share.auto.offset.reset", Some("earliest"))])?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn alter_configs(&self, resource: &ConfigResource, changes: &[(&str, Option<&str>)]) -> Result<()> {
        admin::alter_configs(&self.client, resource, changes)
    }

    /// Every topic's name, sorted (internal topics included).
    pub fn topics(&self) -> Result<Vec<String>> {
        self.client.topic_names()
    }

    /// Every group the cluster's brokers coordinate, sorted by id.
    pub fn list_groups(&self) -> Result<Vec<GroupListing>> {
        groups_admin::list_groups(&self.client)
    }

    /// A group's state and members with their assignments.
    pub fn describe_group(&self, group: &str) -> Result<GroupDescription> {
        groups_admin::describe_group(&self.client, group)
    }

    /// Every offset `group` has committed, by (topic, partition): the next offset to read.
    pub fn group_offsets(&self, group: &str) -> Result<BTreeMap<(String, i32), i64>> {
        groups_admin::group_offsets(&self.client, group)
    }
}

/// A topic (PyKafka's `Topic`): offsets, and the consumers that read it.
#[derive(Debug, Clone)]
pub struct Topic {
    inner: TopicRef,
}

impl Topic {
    /// The topic's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The partitions, with their leaders when the topic was loaded.
    pub fn partitions(&self) -> &[PartitionInfo] {
        &self.inner.partitions
    }

    fn offsets_at(&self, at: ListAt, isolation: IsolationLevel) -> Result<BTreeMap<i32, Option<i64>>> {
        let parts: Vec<(i32, ListAt)> = self.inner.partitions.iter().map(|p| (p.partition, at)).collect();
        broker_offsets::list_offsets(&self.inner.client, &self.inner.name, &parts, isolation, DEFAULT_ATTEMPTS)
    }

    /// The log start or end of every partition; a broker that names no offset is an error.
    fn bound(&self, at: ListAt, isolation: IsolationLevel) -> Result<BTreeMap<i32, i64>> {
        self.offsets_at(at, isolation)?
            .into_iter()
            .map(|(p, o)| {
                o.map(|o| (p, o)).ok_or_else(|| Error::UnknownTopicOrPartition {
                    topic: self.name().to_string(),
                    partition: Some(p),
                })
            })
            .collect()
    }

    /// The oldest offset still held, per partition (PyKafka's `earliest_available_offsets`).
    pub fn earliest_available_offsets(&self) -> Result<BTreeMap<i32, i64>> {
        self.bound(ListAt::Earliest, IsolationLevel::ReadUncommitted)
    }

    /// The next offset to be written, per partition: the high watermark (PyKafka's
    /// `latest_available_offsets`).
    pub fn latest_available_offsets(&self) -> Result<BTreeMap<i32, i64>> {
        self.bound(ListAt::Latest, IsolationLevel::ReadUncommitted)
    }

    /// The last stable offset, per partition: where the oldest transaction still open begins
    /// (the high watermark when none is), the end a read_committed consumer reads to.
    pub fn last_stable_offsets(&self) -> Result<BTreeMap<i32, i64>> {
        self.bound(ListAt::Latest, IsolationLevel::ReadCommitted)
    }

    /// Per partition, the first offset whose timestamp is at or after `millis`; `None` where no
    /// message is that recent.
    pub fn offsets_for_timestamp(&self, millis: i64) -> Result<BTreeMap<i32, Option<i64>>> {
        if millis < 0 {
            return Err(Error::Config(format!("timestamp {millis} is negative")));
        }
        self.offsets_at(ListAt::Time(millis), IsolationLevel::ReadUncommitted)
    }

    /// The offsets `group` has committed, per partition; `None` where it has none.
    pub fn committed_offsets(&self, group: &str) -> Result<BTreeMap<i32, Option<i64>>> {
        let parts: Vec<i32> = self.inner.partitions.iter().map(|p| p.partition).collect();
        broker_offsets::fetch_committed(&self.inner.client, group, &self.inner.name, &parts, DEFAULT_ATTEMPTS)
    }

    /// Commits `offsets` (partition, next offset to read) for `group`, outside any group
    /// membership: the coordinator accepts this only while the group has no running members.
    pub fn commit_offsets(&self, group: &str, offsets: &[(i32, i64)]) -> Result<()> {
        let list: Vec<(&str, i32, i64)> = offsets.iter().map(|&(p, o)| (&*self.inner.name, p, o)).collect();
        broker_offsets::commit(&self.inner.client, group, None, &list, DEFAULT_ATTEMPTS)
    }

    /// A [`crate::SimpleConsumer`] builder for this topic (PyKafka's `get_simple_consumer`).
    pub fn simple_consumer(&self) -> SimpleConsumerBuilder {
        SimpleConsumerBuilder::new(self.inner.clone())
    }

    /// A [`crate::BalancedConsumer`] builder: a member of `group` reading this topic (PyKafka's
    /// `get_balanced_consumer`). Add topics with [`BalancedConsumerBuilder::topic`].
    pub fn balanced_consumer(&self, group: &str) -> BalancedConsumerBuilder {
        BalancedConsumerBuilder::new(Arc::clone(&self.inner.client), group, vec![self.name().to_string()])
    }

    /// A [`crate::Producer`] builder for this topic (PyKafka's `get_producer`).
    pub fn producer(&self) -> ProducerBuilder {
        ProducerBuilder::new(self.inner.clone())
    }

    /// A builder for a producer whose `produce` waits for each acknowledgement (PyKafka's
    /// `get_sync_producer`).
    pub fn sync_producer(&self) -> ProducerBuilder {
        ProducerBuilder::new(self.inner.clone()).sync(true)
    }
}

/// `host` with `:9092` added when it names no port (`[v6]` literals included).
fn with_default_port(host: &str) -> String {
    let has_port = match host.strip_prefix('[') {
        Some(v6) => v6.contains("]:"),
        None => host.contains(':'),
    };
    if has_port {
        host.to_string()
    } else {
        format!("{host}:9092")
    }
}

#[cfg(test)]
mod tests {
    use super::with_default_port;

    #[test]
    fn a_host_without_a_port_gets_9092() {
        for (given, used) in [
            ("broker", "broker:9092"),
            ("broker:9093", "broker:9093"),
            ("10.0.0.1", "10.0.0.1:9092"),
            ("[::1]", "[::1]:9092"),
            ("[::1]:9093", "[::1]:9093"),
        ] {
            assert_eq!(with_default_port(given), used);
        }
    }
}
