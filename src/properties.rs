//! Settings by name, as librdkafka (and kcat, and mostly the Java client) spell them, so that
//! existing configurations carry over: `set(name, value)` on [`crate::KafkaClientBuilder`],
//! [`crate::SimpleConsumerBuilder`], [`crate::BalancedConsumerBuilder`] and
//! [`crate::ProducerBuilder`], and the CLI's `-X name=value` and `-F file`.
//!
//! [`PROPERTIES`] lists every name plainkafka knows and which builders take it. A name no
//! builder knows is an error that lists them all; a known name given to a builder that doesn't
//! take it (`acks` to a consumer) is an error that says where it belongs. A few names are known
//! but not supported yet (rack awareness): setting them to
//! anything but their default is an error that says so, rather than a setting silently ignored.

use crate::error::{Error, Result};
use std::time::Duration;

/// A builder that takes properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// [`crate::KafkaClientBuilder`]: connections, security, metadata.
    Client,
    /// Both consumers' builders.
    Consumer,
    /// [`crate::BalancedConsumerBuilder`] only: group membership.
    Group,
    /// [`crate::ProducerBuilder`].
    Producer,
}

impl Target {
    fn describe(self) -> &'static str {
        match self {
            Target::Client => "a client property (KafkaClientBuilder)",
            Target::Consumer => "a consumer property (SimpleConsumerBuilder, BalancedConsumerBuilder)",
            Target::Group => "a consumer group property (BalancedConsumerBuilder)",
            Target::Producer => "a producer property (ProducerBuilder)",
        }
    }
}

/// A property name plainkafka knows.
#[derive(Debug)]
pub struct Property {
    /// The name, as librdkafka spells it.
    pub name: &'static str,
    /// The builders that take it.
    pub targets: &'static [Target],
    /// What it sets, and the builder method it stands for.
    pub meaning: &'static str,
}

const CLIENT: &[Target] = &[Target::Client];
const CONSUMER: &[Target] = &[Target::Consumer];
const GROUP: &[Target] = &[Target::Group];
const PRODUCER: &[Target] = &[Target::Producer];

const fn p(name: &'static str, targets: &'static [Target], meaning: &'static str) -> Property {
    Property { name, targets, meaning }
}

/// Every property name plainkafka knows, grouped by builder.
pub const PROPERTIES: &[Property] = &[
    p("bootstrap.servers", CLIENT, "the bootstrap brokers, host:port,... (KafkaClientBuilder::new)"),
    p("metadata.broker.list", CLIENT, "the same as bootstrap.servers"),
    p("client.id", CLIENT, "client_id"),
    p("socket.timeout.ms", CLIENT, "request_timeout"),
    p("socket.connection.setup.timeout.ms", CLIENT, "connect_timeout"),
    p("retry.backoff.ms", &[Target::Client, Target::Producer], "the pause before a retry (client: metadata and requests; producer: retry_backoff)"),
    p("allow.auto.create.topics", CLIENT, "allow_auto_create_topics"),
    p("security.protocol", CLIENT, "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"),
    p("ssl.ca.location", CLIENT, "a PEM file of CA certificates, or probe for the platform's store"),
    p("ssl.certificate.location", CLIENT, "the client's certificate chain (PEM), for mutual TLS"),
    p("ssl.key.location", CLIENT, "the client's private key (PEM), for mutual TLS"),
    p("ssl.endpoint.identification.algorithm", CLIENT, "https (check broker host names) or none"),
    p("sasl.mechanisms", CLIENT, "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"),
    p("sasl.mechanism", CLIENT, "the Java client's name for sasl.mechanisms"),
    p("sasl.username", CLIENT, "the SASL user"),
    p("sasl.password", CLIENT, "the SASL password"),
    p("sasl.oauthbearer.token.endpoint.url", CLIENT, "a file:// URL to read OAUTHBEARER tokens from"),
    p("enable.sasl.oauthbearer.unsecure.jwt", CLIENT, "make unsigned OAUTHBEARER tokens (development)"),
    p("sasl.oauthbearer.config", CLIENT, "principal=NAME [lifeSeconds=N], for unsecured tokens"),
    p("debug", CLIENT, "accepted for librdkafka configurations: plainkafka logs through the log crate (the CLI turns it into log levels)"),
    p("group.id", CONSUMER, "consumer_group (a BalancedConsumer's is given when it is made)"),
    p("fetch.wait.max.ms", CONSUMER, "fetch_wait_max"),
    p("fetch.min.bytes", CONSUMER, "fetch_min_bytes"),
    p("fetch.max.bytes", CONSUMER, "fetch_max_bytes"),
    p("max.partition.fetch.bytes", CONSUMER, "fetch_message_max_bytes"),
    p("fetch.message.max.bytes", CONSUMER, "the same as max.partition.fetch.bytes"),
    p("queued.max.messages.kbytes", CONSUMER, "queued_max_bytes_total, in KiB: the consumer-wide bound on prefetched messages"),
    p("auto.offset.reset", CONSUMER, "auto_offset_reset: earliest (smallest, beginning) or latest (largest, end)"),
    p("enable.auto.commit", CONSUMER, "auto_commit_enable"),
    p("auto.commit.interval.ms", CONSUMER, "auto_commit_interval"),
    p("statistics.interval.ms", &[Target::Consumer, Target::Producer], "statistics_interval: how often on_statistics gets a snapshot (0: never)"),
    p("isolation.level", CONSUMER, "isolation_level: read_committed (the default) or read_uncommitted"),
    p("group.instance.id", GROUP, "group_instance_id (static membership)"),
    p("session.timeout.ms", GROUP, "session_timeout"),
    p("heartbeat.interval.ms", GROUP, "heartbeat_interval"),
    p("max.poll.interval.ms", GROUP, "rebalance_timeout (the Java client's rebalance timeout)"),
    p("partition.assignment.strategy", GROUP, "assignors: range, roundrobin, cooperative-sticky, comma-separated"),
    p("group.protocol", GROUP, "group_protocol: classic (default) or consumer (KIP-848, Kafka 4.0+)"),
    p("group.remote.assignor", GROUP, "remote_assignor: the coordinator's assignor under the consumer protocol (uniform, range)"),
    p("client.rack", GROUP, "not supported yet (rack-aware fetching and assignment)"),
    p("acks", PRODUCER, "required_acks: 0, 1, all (-1)"),
    p("request.required.acks", PRODUCER, "the same as acks"),
    p("request.timeout.ms", PRODUCER, "ack_timeout"),
    p("linger.ms", PRODUCER, "linger"),
    p("queue.buffering.max.ms", PRODUCER, "the same as linger.ms"),
    p("batch.size", PRODUCER, "batch_size: the most record bytes per batch"),
    p("batch.num.messages", PRODUCER, "min_queued_messages: the most messages per batch"),
    p("compression.type", PRODUCER, "compression: none, gzip, snappy, lz4 (default), zstd"),
    p("compression.codec", PRODUCER, "the same as compression.type"),
    p("enable.idempotence", PRODUCER, "enable_idempotence"),
    p("message.max.bytes", PRODUCER, "max_request_size: the largest request, so the largest batch and message"),
    p("connections.per.broker", PRODUCER, "connections_per_broker: connections a round's requests are spread over (plainkafka's own)"),
    p("delivery.timeout.ms", PRODUCER, "delivery_timeout"),
    p("message.timeout.ms", PRODUCER, "the same as delivery.timeout.ms"),
    p("queue.buffering.max.messages", PRODUCER, "max_queued_messages"),
    p("queue.buffering.max.kbytes", PRODUCER, "max_queued_bytes, in KiB"),
    p("retries", PRODUCER, "max_retries"),
    p("message.send.max.retries", PRODUCER, "the same as retries"),
    p("retry.backoff.max.ms", PRODUCER, "retry_backoff_max"),
    p("partitioner", PRODUCER, "murmur2_random (the default), murmur2, consistent_random, random, crc32 (hashing)"),
    p("transactional.id", PRODUCER, "transactional_id: write in transactions (begin, commit, abort)"),
    p("transaction.timeout.ms", PRODUCER, "transaction_timeout: how long the coordinator lets a transaction stay open"),
];

/// The property of this name, if plainkafka knows it.
pub fn find(name: &str) -> Option<&'static Property> {
    PROPERTIES.iter().find(|p| p.name == name.trim())
}

/// Whether `target` takes the property `name`.
pub fn takes(target: Target, name: &str) -> bool {
    find(name).is_some_and(|p| p.targets.contains(&target))
}

/// The error for `name` given to a builder that doesn't take it: where it belongs, or, for a
/// name nobody knows, every name that is known.
pub(crate) fn misplaced(name: &str, here: Target) -> Error {
    match find(name) {
        Some(p) => Error::Config(format!(
            "{} is {}, not {}",
            p.name,
            p.targets.iter().map(|t| t.describe()).collect::<Vec<_>>().join(" and "),
            here.describe()
        )),
        None => Error::Config(format!(
            "unknown property {:?}; known: {}",
            name.trim(),
            PROPERTIES.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// A value in milliseconds.
pub(crate) fn millis(name: &str, value: &str) -> Result<Duration> {
    number::<u64>(name, value).map(Duration::from_millis)
}

/// A count or a size.
pub(crate) fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T> {
    value.trim().parse().map_err(|_| Error::Config(format!("{name} {value:?}: expected a whole number")))
}

/// `true` or `false`.
pub(crate) fn boolean(name: &str, value: &str) -> Result<bool> {
    match value.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(Error::Config(format!("{name} {other:?}: expected true or false"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_each_has_a_builder() {
        for (i, p) in PROPERTIES.iter().enumerate() {
            assert!(!p.targets.is_empty(), "{}", p.name);
            assert!(PROPERTIES[i + 1..].iter().all(|q| q.name != p.name), "{} twice", p.name);
        }
    }

    #[test]
    fn misplaced_names_say_where_they_belong_and_unknown_ones_list_every_name() {
        let acks = misplaced("acks", Target::Consumer).to_string();
        assert!(acks.contains("acks is a producer property (ProducerBuilder), not a consumer property"), "{acks}");
        let unknown = misplaced("foo", Target::Client).to_string();
        assert!(unknown.contains("unknown property \"foo\"; known: bootstrap.servers,"), "{unknown}");
        for p in PROPERTIES {
            assert!(unknown.contains(p.name), "{} is listed", p.name);
        }
        assert!(takes(Target::Producer, "retry.backoff.ms") && takes(Target::Client, "retry.backoff.ms"));
        assert!(!takes(Target::Consumer, "linger.ms"));
    }

    #[test]
    fn values_are_checked() {
        assert_eq!(millis("linger.ms", " 20 ").unwrap(), Duration::from_millis(20));
        assert!(millis("linger.ms", "-1")
            .unwrap_err()
            .to_string()
            .contains("linger.ms \"-1\": expected a whole number"));
        assert!(boolean("enable.auto.commit", "yes").is_err());
    }
}
