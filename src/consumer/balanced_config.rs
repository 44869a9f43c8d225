//! The BalancedConsumer's settings: PyKafka's group parameters, plus static membership and
//! more than one topic.

use super::config::{consumer_setters, ConsumerConfig};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::group::membership::GroupConfig;
use crate::group::{Assignor, GroupProtocol};
use crate::offsets::OffsetReset;
use std::sync::Arc;
use std::time::Duration;

/// A callback told about partitions gained or lost: (topic, partition) pairs.
pub type RebalanceCallback = Box<dyn FnMut(&[(String, i32)]) + Send>;

/// Builds a [`crate::BalancedConsumer`]; get one from [`crate::Topic::balanced_consumer`] or
/// [`crate::KafkaClient::balanced_consumer`]. Every setter names the PyKafka parameter it
/// mirrors and its default.
pub struct BalancedConsumerBuilder {
    pub(crate) client: Arc<Client>,
    pub(crate) cfg: ConsumerConfig,
    pub(crate) group: GroupConfig,
    pub(crate) on_assigned: Option<RebalanceCallback>,
    pub(crate) on_revoked: Option<RebalanceCallback>,
}

impl std::fmt::Debug for BalancedConsumerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BalancedConsumerBuilder").field("cfg", &self.cfg).field("group", &self.group).finish()
    }
}

impl BalancedConsumerBuilder {
    pub(crate) fn new(client: Arc<Client>, group: &str, topics: Vec<String>) -> Self {
        let cfg = ConsumerConfig {
            consumer_group: Some(group.to_string()),
            auto_commit_enable: true,
            ..ConsumerConfig::default()
        };
        BalancedConsumerBuilder {
            client,
            cfg,
            group: GroupConfig {
                group: group.to_string(),
                topics,
                assignors: vec![Assignor::Range],
                session_timeout: Duration::from_secs(30),
                rebalance_timeout: Duration::from_secs(60),
                heartbeat_interval: Duration::from_secs(3),
                group_instance_id: None,
                rebalance_max_retries: u32::MAX,
                rebalance_backoff: Duration::from_millis(100),
                protocol: GroupProtocol::Classic,
                remote_assignor: None,
                topic_regex: None,
            },
            on_assigned: None,
            on_revoked: None,
        }
    }

    /// Also read `topic` (the group divides the partitions of every subscribed topic).
    pub fn topic(mut self, topic: &str) -> Self {
        if !self.group.topics.iter().any(|t| t == topic) {
            self.group.topics.push(topic.to_string());
        }
        self
    }

    consumer_setters!();

    /// The assignors offered, in order of preference (PyKafka's `membership_protocol`). The
    /// coordinator picks the first one every member offers. Default `[Range]`. Rebalancing is
    /// cooperative (members keep reading what they keep) only when every assignor offered is
    /// [`Assignor::CooperativeSticky`].
    pub fn assignors(mut self, assignors: &[Assignor]) -> Self {
        self.group.assignors = assignors.to_vec();
        self
    }

    /// How often the heartbeat thread tells the coordinator this member is alive
    /// (`heartbeat_interval_ms`). Default 3 s; keep it under a third of the session timeout.
    pub fn heartbeat_interval(mut self, d: Duration) -> Self {
        self.group.heartbeat_interval = d;
        self
    }

    /// How long the coordinator waits for a heartbeat before it removes this member and hands
    /// its partitions to others (`zookeeper_connection_timeout_ms` in PyKafka's day;
    /// `session.timeout.ms`). Default 30 s. The broker bounds it (group.min/max.session.timeout.ms).
    pub fn session_timeout(mut self, d: Duration) -> Self {
        self.group.session_timeout = d;
        self
    }

    /// How long the coordinator waits for every member to rejoin once a rebalance starts
    /// (`rebalance.timeout.ms`). A member that doesn't call `consume` within it is removed.
    /// Default 60 s.
    pub fn rebalance_timeout(mut self, d: Duration) -> Self {
        self.group.rebalance_timeout = d;
        self
    }

    /// Failed join attempts tolerated before `consume` returns the error
    /// (`rebalance_max_retries`): attempts that found no coordinator or a transient error.
    /// The coordinator's own "join again" answers (a rebalance under way, an old generation,
    /// a forgotten member) are the protocol at work and never count. Default unlimited, as
    /// in the Java client: a member rides out a coordinator failover (PyKafka's 5 would give
    /// up within seconds). Meanwhile `consume` returns `None` at each `consumer_timeout` and
    /// the join goes on at the next call.
    pub fn rebalance_max_retries(mut self, n: u32) -> Self {
        self.group.rebalance_max_retries = n;
        self
    }

    /// Pause after a failed join attempt; it doubles per attempt up to a second
    /// (`rebalance_backoff_ms`). Default 100 ms, the Java client's `retry.backoff.ms` (PyKafka's
    /// 2 s would hold a member out of its group for seconds after a coordinator moved).
    pub fn rebalance_backoff(mut self, d: Duration) -> Self {
        self.group.rebalance_backoff = d;
        self
    }

    /// Static membership (KIP-345): a member that restarts with the same id within the session
    /// timeout gets its partitions back without a rebalance. Such a member does not send
    /// LeaveGroup when it stops. Default none.
    pub fn group_instance_id(mut self, id: &str) -> Self {
        self.group.group_instance_id = Some(id.to_string());
        self
    }

    /// The group protocol (`group.protocol`): [`GroupProtocol::Classic`] (the default, every
    /// Kafka) or [`GroupProtocol::Consumer`] (KIP-848, Kafka 4.0+), where the coordinator
    /// assigns and `assignors` are not used. The start-offset rules, auto-commit, the commit
    /// before partitions are given up and the callbacks are the same under both.
    pub fn group_protocol(mut self, protocol: GroupProtocol) -> Self {
        self.group.protocol = protocol;
        self
    }

    /// Under the consumer protocol: the coordinator's assignor to use
    /// (`group.remote.assignor`: `uniform` or `range` on Kafka 4); default the coordinator's
    /// (`uniform`).
    pub fn remote_assignor(mut self, name: &str) -> Self {
        self.group.remote_assignor = Some(name.to_string());
        self
    }

    /// Under the consumer protocol: subscribes to every topic whose name matches `regex`, as
    /// the coordinator matches it (RE2/J syntax, KIP-848), now and as topics are created; on
    /// top of the topics named, if any. The classic protocol has no such subscription.
    pub fn subscribe_regex(mut self, regex: &str) -> Self {
        self.group.topic_regex = Some(regex.to_string());
        self
    }

    /// Called with the partitions gained after each rebalance, before any of them is read
    /// (PyKafka's `post_rebalance_callback`, split in two as in the Java client).
    pub fn on_assigned(mut self, f: impl FnMut(&[(String, i32)]) + Send + 'static) -> Self {
        self.on_assigned = Some(Box::new(f));
        self
    }

    /// Called with the partitions about to be given up, after their offsets are committed
    /// (with auto-commit) and before another member can read them. With auto-commit off, what
    /// was consumed from them and not yet committed is replayed by their next owner; a
    /// partition the member gets straight back (the next generation) goes on where it was, and
    /// `commit_offsets` still commits it. A commit never covers a partition given up.
    pub fn on_revoked(mut self, f: impl FnMut(&[(String, i32)]) + Send + 'static) -> Self {
        self.on_revoked = Some(Box::new(f));
        self
    }

    /// Sets a property by its librdkafka name ([`crate::properties`]): the consumer's (as
    /// [`crate::SimpleConsumerBuilder::set`]) and the group's: `group.instance.id`,
    /// `session.timeout.ms`, `heartbeat.interval.ms`, `max.poll.interval.ms` (the rebalance
    /// timeout, as in the Java client), `partition.assignment.strategy` (`range`, `roundrobin`,
    /// `cooperative-sticky`, comma-separated, in order of preference), `group.protocol`
    /// (`classic` or `consumer`) and `group.remote.assignor`. `group.id` must name the group the
    /// consumer was made for.
    pub fn set(mut self, name: &str, value: &str) -> Result<Self> {
        use crate::properties::{millis, misplaced, Target};
        if self.cfg.set(name, value)? {
            return Ok(self);
        }
        match name.trim() {
            "group.id" if value.trim() == self.group.group => {}
            "group.id" => {
                return Err(Error::Config(format!(
                    "group.id {value:?}: this consumer was made for group {:?}; the group is given when it is made",
                    self.group.group
                )))
            }
            "group.instance.id" => self.group.group_instance_id = Some(value.trim().to_string()),
            "session.timeout.ms" => self.group.session_timeout = millis(name, value)?,
            "heartbeat.interval.ms" => self.group.heartbeat_interval = millis(name, value)?,
            "max.poll.interval.ms" => self.group.rebalance_timeout = millis(name, value)?,
            "partition.assignment.strategy" => {
                let assignors = value
                    .split(',')
                    .map(|n| {
                        Assignor::from_name(n.trim()).ok_or_else(|| {
                            Error::Config(format!(
                                "{name} {:?}: expected range, roundrobin or cooperative-sticky",
                                n.trim()
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                self.group.assignors = assignors;
            }
            "group.protocol" => {
                self.group.protocol = match value.trim().to_ascii_lowercase().as_str() {
                    "classic" => GroupProtocol::Classic,
                    "consumer" => GroupProtocol::Consumer,
                    other => return Err(Error::Config(format!("{name} {other:?}: expected classic or consumer"))),
                }
            }
            "group.remote.assignor" => {
                self.group.remote_assignor = Some(value.trim().to_string()).filter(|a| !a.is_empty());
            }
            "client.rack" => {
                return Err(Error::Config(
                    "client.rack: not supported yet (rack-aware fetching, KIP-392, and assignment)".into(),
                ))
            }
            other => return Err(misplaced(other, Target::Group)),
        }
        Ok(self)
    }

    /// Validates the settings and creates the consumer. It joins the group on the first
    /// `consume` (or `iter().next()`), not before.
    pub fn build(self) -> Result<crate::BalancedConsumer> {
        self.cfg.validate()?;
        let g = &self.group;
        if g.group.is_empty() {
            return Err(Error::Config("a balanced consumer needs a consumer_group".into()));
        }
        if g.topic_regex.is_some() && g.protocol != GroupProtocol::Consumer {
            return Err(Error::Config(
                "a regex subscription needs group_protocol(GroupProtocol::Consumer) (KIP-848)".into(),
            ));
        }
        if g.topics.is_empty() && g.topic_regex.is_none() {
            return Err(Error::Config("a balanced consumer needs at least one topic".into()));
        }
        if g.assignors.is_empty() {
            return Err(Error::Config("at least one assignor is needed".into()));
        }
        if g.heartbeat_interval.is_zero() || g.heartbeat_interval >= g.session_timeout {
            return Err(Error::Config("heartbeat_interval must be above zero and below session_timeout".into()));
        }
        let ms = |d: Duration| d.as_millis() <= i32::MAX as u128;
        if !ms(g.session_timeout) || !ms(g.rebalance_timeout) {
            return Err(Error::Config("session_timeout and rebalance_timeout must fit in i32 milliseconds".into()));
        }
        Ok(crate::BalancedConsumer::new(self))
    }
}
