//! plainkafka's one public error type, and how each error should be retried.

use crate::protocol::codec::DecodeError;
use crate::protocol::error_code::ErrorCode;
use crate::protocol::records::RecordsError;
use crate::protocol::{ApiKey, VersionRange};
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

/// What a broker's error concerns: the broker, the group, the topic, partition and offset —
/// whichever are known. Its `Display` reads like "group billing" or "orders/3 at offset 17 on
/// broker 2".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Context {
    /// The broker (its id or address).
    pub broker: Option<String>,
    /// The consumer group.
    pub group: Option<String>,
    /// The topic.
    pub topic: Option<String>,
    /// The partition (of `topic`).
    pub partition: Option<i32>,
    /// The offset.
    pub offset: Option<i64>,
    /// Further partitions the same request covered (a Fetch covers several at once).
    pub more_partitions: Vec<(String, i32)>,
}

impl Context {
    /// About a consumer group.
    pub fn group(group: &str) -> Context {
        Context { group: Some(group.to_string()), ..Context::default() }
    }

    /// About a topic.
    pub fn topic(topic: &str) -> Context {
        Context { topic: Some(topic.to_string()), ..Context::default() }
    }

    /// About one partition of a topic.
    pub fn partition(topic: &str, partition: i32) -> Context {
        Context { topic: Some(topic.to_string()), partition: Some(partition), ..Context::default() }
    }

    /// About a broker.
    pub fn broker(broker: impl fmt::Display) -> Context {
        Context::default().on_broker(broker)
    }

    /// The same, naming the broker.
    pub fn on_broker(mut self, broker: impl fmt::Display) -> Context {
        self.broker = Some(broker.to_string());
        self
    }

    /// The same, within a consumer group.
    pub fn in_group(mut self, group: &str) -> Context {
        self.group = Some(group.to_string());
        self
    }

    /// The same, at an offset.
    pub fn at_offset(mut self, offset: i64) -> Context {
        self.offset = Some(offset);
        self
    }
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if let Some(g) = &self.group {
            parts.push(format!("group {g}"));
        }
        match (&self.topic, self.partition) {
            (Some(t), Some(p)) => parts.push(format!("{t}/{p}")),
            (Some(t), None) => parts.push(format!("topic {t}")),
            _ => {}
        }
        for (t, p) in &self.more_partitions {
            parts.push(format!("{t}/{p}"));
        }
        let mut out = parts.join(", ");
        if let Some(o) = self.offset {
            out.push_str(&format!(" at offset {o}"));
        }
        if let Some(b) = &self.broker {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&format!("on broker {b}"));
        }
        f.write_str(if out.is_empty() { "the cluster" } else { &out })
    }
}

/// Everything that can go wrong. Each variant carries the context needed to act on it: the
/// broker, the API and version, the topic, partition and offset. Cloning is cheap: I/O causes
/// are shared.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// A socket error talking to `broker`.
    #[non_exhaustive]
    Io {
        /// The broker address.
        broker: String,
        /// The API being sent, if any.
        api: Option<ApiKey>,
        /// The cause.
        source: Arc<io::Error>,
    },
    /// An I/O error on this machine rather than with a broker: binding a port, reading a
    /// file, starting a thread.
    #[non_exhaustive]
    Local {
        /// What was being done.
        what: String,
        /// The cause.
        source: Arc<io::Error>,
    },
    /// A deadline passed.
    #[non_exhaustive]
    Timeout {
        /// The broker address.
        broker: String,
        /// The API being sent, if any (connecting otherwise).
        api: Option<ApiKey>,
        /// The time allowed.
        after: Duration,
    },
    /// A broker's bytes did not parse.
    #[non_exhaustive]
    Decode {
        /// The broker address.
        broker: String,
        /// The API.
        api: ApiKey,
        /// The version.
        version: i16,
        /// The cause.
        source: DecodeError,
    },
    /// A response answered a different request: the stream is out of step.
    #[non_exhaustive]
    CorrelationMismatch {
        /// The broker address.
        broker: String,
        /// The id sent.
        expected: i32,
        /// The id received.
        received: i32,
    },
    /// The broker and plainkafka share no version of an API.
    #[non_exhaustive]
    NoCommonVersion {
        /// The broker address.
        broker: String,
        /// The API.
        api: ApiKey,
        /// What plainkafka speaks (after the KIP-896 floor).
        ours: VersionRange,
        /// What the broker advertises; `None` if it doesn't list the API.
        broker_range: Option<VersionRange>,
    },
    /// The broker answered with an error code.
    #[non_exhaustive]
    Broker {
        /// The API.
        api: ApiKey,
        /// The code.
        code: ErrorCode,
        /// What the request was about: a topic-partition, a group, a broker (boxed, to keep
        /// `Result`s small).
        context: Box<Context>,
        /// The broker's message, when it sent one.
        message: Option<String>,
    },
    /// Record data in a fetch response could not be read.
    #[non_exhaustive]
    Records {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The cause, with the offset.
        source: RecordsError,
    },
    /// The fetch position is outside the partition's log and `reset_offset_on_fetch` is off.
    #[non_exhaustive]
    OffsetOutOfRange {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The position that was out of range.
        offset: i64,
    },
    /// The leader's log was cut back below the position (KIP-320: a new leader lacked records
    /// the old one had served) and `reset_offset_on_fetch` is off.
    #[non_exhaustive]
    LogTruncated {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The position the consumer had reached.
        offset: i64,
        /// Where the leader's log now ends for the epoch last read: the records from here to
        /// `offset` are gone.
        end_offset: i64,
    },
    /// A single record batch is larger than the largest fetch size allowed.
    #[non_exhaustive]
    RecordTooLarge {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The offset of the batch.
        offset: i64,
        /// The batch's size.
        size: usize,
        /// The largest fetch size allowed.
        max: usize,
    },
    /// The topic does not exist, or has no such partition.
    #[non_exhaustive]
    UnknownTopicOrPartition {
        /// Topic.
        topic: String,
        /// The partition, when one was named.
        partition: Option<i32>,
    },
    /// A broker id that the metadata no longer (or not yet) lists; `None`: no broker is known
    /// at all. Passes once metadata is refreshed.
    #[non_exhaustive]
    UnknownBroker {
        /// The broker id.
        id: Option<i32>,
    },
    /// None of the bootstrap brokers could be reached.
    #[non_exhaustive]
    NoBrokerReachable {
        /// The addresses tried.
        tried: Vec<String>,
        /// The last error seen.
        last: Box<Error>,
    },
    /// A message is larger than a batch may be (`max_request_size`).
    #[non_exhaustive]
    MessageTooLarge {
        /// Topic.
        topic: String,
        /// The message's size in a batch.
        size: usize,
        /// The most a batch may hold.
        max: usize,
    },
    /// The producer's queue is full and `block_on_queue_full` is off (or `pending_timeout`
    /// passed).
    #[non_exhaustive]
    QueueFull {
        /// Topic.
        topic: String,
        /// Messages outstanding.
        queued: usize,
        /// Their estimated bytes.
        bytes: usize,
        /// How long `produce` waited for room (`pending_timeout`).
        waited: Duration,
    },
    /// Messages were not acknowledged in time (`flush`, `close`, `send`).
    #[non_exhaustive]
    DeliveryTimeout {
        /// Topic.
        topic: String,
        /// Messages still outstanding.
        outstanding: usize,
        /// The time allowed.
        after: Duration,
    },
    /// The broker refused the SASL login (wrong credentials, a refused token), or proved not
    /// to know the password (SCRAM's server signature). Not retried: the same login fails the
    /// same way.
    #[non_exhaustive]
    AuthenticationFailed {
        /// The broker address.
        broker: String,
        /// The SASL mechanism.
        mechanism: String,
        /// The broker's message, or what was wrong with its answer.
        message: String,
    },
    /// The broker does not offer the configured SASL mechanism on this listener.
    #[non_exhaustive]
    SaslMechanismNotOffered {
        /// The broker address.
        broker: String,
        /// The mechanism configured.
        wanted: String,
        /// The mechanisms the broker offers.
        offered: Vec<String>,
    },
    /// TLS failed: the certificate was refused (unknown CA, wrong name, expired), the
    /// handshake failed, or TLS and plaintext were mixed up on a port.
    #[non_exhaustive]
    Tls {
        /// The broker address.
        broker: String,
        /// What went wrong.
        message: String,
    },
    /// A background thread of a consumer or producer (fetcher, heartbeat, sender) panicked: a
    /// bug in plainkafka. What it served fails with this error rather than waiting forever.
    #[non_exhaustive]
    BackgroundThread {
        /// The thread's name.
        thread: String,
        /// The panic's message.
        message: String,
    },
    /// A configuration value is invalid.
    Config(String),
    /// The consumer or producer was stopped.
    Stopped,
    /// The transaction was aborted before this message was sent (it was never written).
    TransactionAborted {
        /// The producer's transactional id.
        transactional_id: String,
    },
    /// A rebalance took partitions away from a consumer while messages consumed from them were
    /// part of an open transaction: their new owner reads them again, so the transaction was
    /// aborted ([`crate::Producer::transact_from`]). Running the transaction again is safe.
    Rebalanced {
        /// The consumer group.
        group: String,
    },
}

/// What a caller should do before trying a failed request again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Retry {
    /// Drop the connection and open a new one, then retry.
    Reconnect,
    /// Refresh metadata (leaders or coordinator moved), then retry.
    RefreshMetadata,
    /// Wait and retry as is.
    Backoff,
    /// Do not retry: the same request will fail the same way.
    Never,
}

impl Error {
    /// How to retry this error. Kept in one place so every retry loop agrees.
    pub fn retry(&self) -> Retry {
        match self {
            // A broken or out-of-step connection is never reused.
            Error::Io { .. } | Error::Timeout { .. } | Error::CorrelationMismatch { .. } | Error::Decode { .. } => {
                Retry::Reconnect
            }
            // When every broker refused the same login or certificate, trying again won't help.
            Error::NoBrokerReachable { last, .. } if last.retry() == Retry::Never && last.is_security() => Retry::Never,
            Error::NoBrokerReachable { .. } => Retry::Backoff,
            Error::Broker { code, .. } => match *code {
                ErrorCode::NOT_LEADER_OR_FOLLOWER
                | ErrorCode::LEADER_NOT_AVAILABLE
                | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                | ErrorCode::NOT_COORDINATOR
                | ErrorCode::COORDINATOR_NOT_AVAILABLE
                | ErrorCode::FENCED_LEADER_EPOCH
                | ErrorCode::UNKNOWN_LEADER_EPOCH
                | ErrorCode::REPLICA_NOT_AVAILABLE
                | ErrorCode::KAFKA_STORAGE_ERROR
                | ErrorCode::UNKNOWN_TOPIC_ID
                | ErrorCode::INCONSISTENT_TOPIC_ID
                | ErrorCode::LISTENER_NOT_FOUND => Retry::RefreshMetadata,
                c if c.is_retriable() => Retry::Backoff,
                _ => Retry::Never,
            },
            Error::UnknownTopicOrPartition { .. } | Error::UnknownBroker { .. } => Retry::RefreshMetadata,
            Error::Rebalanced { .. } => Retry::Backoff,
            _ => Retry::Never,
        }
    }

    /// True for authentication and TLS failures: configuration problems no retry can fix.
    pub fn is_security(&self) -> bool {
        matches!(self, Error::AuthenticationFailed { .. } | Error::SaslMechanismNotOffered { .. } | Error::Tls { .. })
            || matches!(self, Error::NoBrokerReachable { last, .. } if last.is_security())
    }

    /// True if retrying may succeed.
    pub fn is_retriable(&self) -> bool {
        self.retry() != Retry::Never
    }

    /// The broker error code, if this is a broker error.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Broker { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let api = |a: &Option<ApiKey>| a.map_or_else(|| "connect".to_string(), |a| a.to_string());
        match self {
            Error::Io { broker, api: a, source } => write!(f, "{} to broker {broker}: {source}", api(a)),
            Error::Local { what, source } => write!(f, "{what}: {source}"),
            Error::Timeout { broker, api: a, after } => {
                write!(f, "{} to broker {broker} timed out after {after:?}", api(a))
            }
            Error::Decode { broker, api, version, source } => {
                write!(f, "could not decode {api} v{version} response from broker {broker}: {source}")
            }
            Error::CorrelationMismatch { broker, expected, received } => write!(
                f,
                "broker {broker} answered correlation id {received} where {expected} was expected"
            ),
            Error::NoCommonVersion { broker, api, ours, broker_range } => match broker_range {
                Some(r) => write!(f, "broker {broker} speaks {api} {r}, plainkafka speaks {ours}: no common version"),
                None => write!(f, "broker {broker} does not offer {api} (plainkafka speaks {ours})"),
            },
            Error::Broker { api, code, context, message } => {
                write!(f, "{api} for {context}: {code}")?;
                // A broker message that only repeats the code's own words says nothing more.
                let repeats = |m: &str| m == code.description() || m == code.to_string();
                if let Some(m) = message.as_deref().filter(|m| !repeats(m)) {
                    write!(f, " ({m})")?;
                }
                Ok(())
            }
            Error::Records { topic, partition, source } => write!(f, "{topic}/{partition}: {source}"),
            Error::OffsetOutOfRange { topic, partition, offset } => write!(
                f,
                "{topic}/{partition}: offset {offset} is out of range and reset_offset_on_fetch is off"
            ),
            Error::LogTruncated { topic, partition, offset, end_offset } => write!(
                f,
                "{topic}/{partition}: the leader's log was cut back to offset {end_offset}, below the position \
                 {offset}, and reset_offset_on_fetch is off"
            ),
            Error::RecordTooLarge { topic, partition, offset, size, max } => write!(
                f,
                "{topic}/{partition}: the batch at offset {offset} is {size} bytes, more than the largest fetch size {max}"
            ),
            Error::UnknownTopicOrPartition { topic, partition: Some(p) } => {
                write!(f, "topic {topic} has no partition {p}")
            }
            Error::UnknownTopicOrPartition { topic, partition: None } => write!(f, "topic {topic} does not exist"),
            Error::UnknownBroker { id: Some(id) } => write!(f, "broker {id} is not in the cluster's metadata"),
            Error::UnknownBroker { id: None } => write!(f, "no broker is known: the metadata lists none"),
            Error::NoBrokerReachable { tried, last } => {
                write!(f, "no bootstrap broker reachable (tried {}): {last}", tried.join(", "))
            }
            Error::MessageTooLarge { topic, size, max } => {
                write!(f, "{topic}: a message of {size} bytes exceeds the largest batch ({max} bytes, max_request_size)")
            }
            Error::QueueFull { topic, queued, bytes, waited } => write!(
                f,
                "{topic}: the producer queue stayed full for {waited:?} ({queued} messages, {bytes} bytes; \
                 max_queued_messages, max_queued_bytes)"
            ),
            Error::DeliveryTimeout { topic, outstanding, after } => {
                write!(f, "{topic}: {outstanding} messages not acknowledged within {after:?}")
            }
            Error::AuthenticationFailed { broker, mechanism, message } => {
                write!(f, "SASL {mechanism} authentication with broker {broker} failed: {message}")
            }
            Error::SaslMechanismNotOffered { broker, wanted, offered } if offered.is_empty() => {
                write!(f, "broker {broker} offers no SASL on this port (SASL {wanted} was configured)")
            }
            Error::SaslMechanismNotOffered { broker, wanted, offered } => {
                write!(f, "broker {broker} does not offer SASL {wanted}; it offers {}", offered.join(", "))
            }
            Error::Tls { broker, message } => write!(f, "TLS with broker {broker}: {message}"),
            Error::BackgroundThread { thread, message } => {
                write!(f, "background thread {thread} died (a bug in plainkafka, please report it): {message}")
            }
            Error::Config(m) => write!(f, "invalid configuration: {m}"),
            Error::Stopped => write!(f, "stopped"),
            Error::TransactionAborted { transactional_id } => {
                write!(f, "transaction of {transactional_id:?} aborted before this message was sent")
            }
            Error::Rebalanced { group } => write!(
                f,
                "group {group}: a rebalance took partitions away during the transaction, which was aborted; \
                 their messages will be read again"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } | Error::Local { source, .. } => Some(source.as_ref()),
            Error::Decode { source, .. } => Some(source),
            Error::Records { source, .. } => Some(source),
            Error::NoBrokerReachable { last, .. } => Some(last.as_ref()),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    /// An I/O error of the application's own (so `?` works in a function returning
    /// [`Result`]): [`Error::Local`].
    fn from(source: io::Error) -> Error {
        Error::Local { what: "I/O".into(), source: Arc::new(source) }
    }
}

impl Error {
    /// A socket error talking to `broker`.
    pub(crate) fn io(broker: impl Into<String>, api: Option<ApiKey>, source: io::Error) -> Error {
        Error::Io { broker: broker.into(), api, source: Arc::new(source) }
    }

    /// A local I/O error while doing `what`.
    pub(crate) fn local(what: impl Into<String>, source: io::Error) -> Error {
        Error::Local { what: what.into(), source: Arc::new(source) }
    }

    /// A broker's error code about `context`.
    pub(crate) fn broker(api: ApiKey, code: ErrorCode, context: Context, message: Option<String>) -> Error {
        Error::Broker { api, code, context: Box::new(context), message }
    }

    /// What a broker error concerns.
    pub fn context(&self) -> Option<&Context> {
        match self {
            Error::Broker { context, .. } => Some(context),
            _ => None,
        }
    }
}

/// plainkafka's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn broker(code: ErrorCode) -> Error {
        Error::broker(ApiKey::Fetch, code, Context::partition("t", 0).on_broker(1), None)
    }

    #[test]
    fn retry_classification() {
        assert_eq!(broker(ErrorCode::NOT_LEADER_OR_FOLLOWER).retry(), Retry::RefreshMetadata);
        assert_eq!(broker(ErrorCode::NOT_COORDINATOR).retry(), Retry::RefreshMetadata);
        assert_eq!(broker(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS).retry(), Retry::Backoff);
        assert_eq!(broker(ErrorCode::REQUEST_TIMED_OUT).retry(), Retry::Backoff);
        assert_eq!(broker(ErrorCode::TOPIC_AUTHORIZATION_FAILED).retry(), Retry::Never);
        let io = Error::io("b", None, io::ErrorKind::ConnectionReset.into());
        assert_eq!(io.retry(), Retry::Reconnect);
        assert_eq!(Error::Config("x".into()).retry(), Retry::Never);
        let auth = Error::AuthenticationFailed { broker: "b".into(), mechanism: "PLAIN".into(), message: "no".into() };
        assert_eq!(auth.retry(), Retry::Never);
        let all = Error::NoBrokerReachable { tried: vec!["b".into()], last: Box::new(auth) };
        assert_eq!(all.retry(), Retry::Never);
        assert!(all.is_security());
        let down = Error::NoBrokerReachable { tried: vec!["b".into()], last: Box::new(io) };
        assert_eq!(down.retry(), Retry::Backoff);
    }

    #[test]
    fn display_names_the_context() {
        let s = broker(ErrorCode::OFFSET_OUT_OF_RANGE).to_string();
        assert!(s.contains("Fetch") && s.contains("t/0 on broker 1") && s.contains("OFFSET_OUT_OF_RANGE"), "{s}");
    }

    #[test]
    fn contexts_read_naturally() {
        assert_eq!(Context::group("g").to_string(), "group g");
        assert_eq!(Context::topic("t").to_string(), "topic t");
        assert_eq!(Context::partition("t", 3).at_offset(17).on_broker(2).to_string(), "t/3 at offset 17 on broker 2");
        let mut c = Context::partition("t", 0).on_broker("h:9092");
        c.more_partitions.push(("u".into(), 1));
        assert_eq!(c.to_string(), "t/0, u/1 on broker h:9092");
        assert_eq!(Context::default().to_string(), "the cluster");
        let commit = Context { group: Some("g".into()), ..Context::partition("t", 1) };
        assert_eq!(commit.to_string(), "group g, t/1");
    }

    #[test]
    fn clones_share_the_io_cause_and_question_mark_works() {
        fn read() -> Result<()> {
            Err(io::Error::new(io::ErrorKind::NotFound, "nope"))?;
            Ok(())
        }
        let e = read().unwrap_err();
        assert!(matches!(&e, Error::Local { source, .. } if source.kind() == io::ErrorKind::NotFound));
        let io = Error::io("b", None, io::ErrorKind::ConnectionReset.into());
        match (&io, &io.clone()) {
            (Error::Io { source: a, .. }, Error::Io { source: b, .. }) => assert!(Arc::ptr_eq(a, b)),
            _ => unreachable!(),
        }
    }
}
