//! plainkafka's one public error type, and how each error should be retried.

use crate::protocol::codec::DecodeError;
use crate::protocol::error_code::ErrorCode;
use crate::protocol::records::RecordsError;
use crate::protocol::{ApiKey, VersionRange};
use std::fmt;
use std::io;
use std::time::Duration;

/// Everything that can go wrong. Each variant carries the context needed to act on it: the
/// broker, the API and version, the topic, partition and offset.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A socket error talking to `broker`.
    Io {
        /// The broker address.
        broker: String,
        /// The API being sent, if any.
        api: Option<ApiKey>,
        /// The cause.
        source: io::Error,
    },
    /// A deadline passed.
    Timeout {
        /// The broker address.
        broker: String,
        /// The API being sent, if any (connecting otherwise).
        api: Option<ApiKey>,
        /// The time allowed.
        after: Duration,
    },
    /// A broker's bytes did not parse.
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
    CorrelationMismatch {
        /// The broker address.
        broker: String,
        /// The id sent.
        expected: i32,
        /// The id received.
        received: i32,
    },
    /// The broker and plainkafka share no version of an API.
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
    Broker {
        /// The API.
        api: ApiKey,
        /// The code.
        code: ErrorCode,
        /// What the request was about: a topic-partition, a group.
        context: String,
        /// The broker's message, when it sent one.
        message: Option<String>,
    },
    /// Record data in a fetch response could not be read.
    Records {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The cause, with the offset.
        source: RecordsError,
    },
    /// The fetch position is outside the partition's log and `reset_offset_on_fetch` is off.
    OffsetOutOfRange {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The position that was out of range.
        offset: i64,
    },
    /// A single record batch is larger than the largest fetch size allowed.
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
    UnknownTopicOrPartition {
        /// Topic.
        topic: String,
        /// The partition, when one was named.
        partition: Option<i32>,
    },
    /// None of the bootstrap brokers could be reached.
    NoBrokerReachable {
        /// The addresses tried.
        tried: Vec<String>,
        /// The last error seen.
        last: Box<Error>,
    },
    /// A message is larger than a batch may be (`max_request_size`).
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
    QueueFull {
        /// Topic.
        topic: String,
        /// Messages outstanding.
        queued: usize,
    },
    /// Messages were not acknowledged in time (`flush`, `close`, `send`).
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
    AuthenticationFailed {
        /// The broker address.
        broker: String,
        /// The SASL mechanism.
        mechanism: String,
        /// The broker's message, or what was wrong with its answer.
        message: String,
    },
    /// The broker does not offer the configured SASL mechanism on this listener.
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
    Tls {
        /// The broker address.
        broker: String,
        /// What went wrong.
        message: String,
    },
    /// A configuration value is invalid.
    Config(String),
    /// The consumer or producer was stopped.
    Stopped,
}

/// What a caller should do before trying a failed request again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
            Error::UnknownTopicOrPartition { .. } => Retry::RefreshMetadata,
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
                if let Some(m) = message {
                    write!(f, " ({m})")?;
                }
                Ok(())
            }
            Error::Records { topic, partition, source } => write!(f, "{topic}/{partition}: {source}"),
            Error::OffsetOutOfRange { topic, partition, offset } => write!(
                f,
                "{topic}/{partition}: offset {offset} is out of range and reset_offset_on_fetch is off"
            ),
            Error::RecordTooLarge { topic, partition, offset, size, max } => write!(
                f,
                "{topic}/{partition}: the batch at offset {offset} is {size} bytes, more than the largest fetch size {max}"
            ),
            Error::UnknownTopicOrPartition { topic, partition: Some(p) } => {
                write!(f, "topic {topic} has no partition {p}")
            }
            Error::UnknownTopicOrPartition { topic, partition: None } => write!(f, "topic {topic} does not exist"),
            Error::NoBrokerReachable { tried, last } => {
                write!(f, "no bootstrap broker reachable (tried {}): {last}", tried.join(", "))
            }
            Error::MessageTooLarge { topic, size, max } => {
                write!(f, "{topic}: a message of {size} bytes exceeds the largest batch ({max} bytes, max_request_size)")
            }
            Error::QueueFull { topic, queued } => write!(f, "{topic}: the producer queue is full ({queued} messages)"),
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
            Error::Config(m) => write!(f, "invalid configuration: {m}"),
            Error::Stopped => write!(f, "stopped"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Decode { source, .. } => Some(source),
            Error::Records { source, .. } => Some(source),
            Error::NoBrokerReachable { last, .. } => Some(last.as_ref()),
            _ => None,
        }
    }
}

impl Clone for Error {
    /// io::Error can't be cloned; the copy keeps its kind and message. Used where one failure
    /// concerns several partitions, each of which reports it.
    fn clone(&self) -> Error {
        match self {
            Error::Io { broker, api, source } => Error::Io {
                broker: broker.clone(),
                api: *api,
                source: io::Error::new(source.kind(), source.to_string()),
            },
            Error::Timeout { broker, api, after } => {
                Error::Timeout { broker: broker.clone(), api: *api, after: *after }
            }
            Error::Decode { broker, api, version, source } => {
                Error::Decode { broker: broker.clone(), api: *api, version: *version, source: source.clone() }
            }
            Error::CorrelationMismatch { broker, expected, received } => {
                Error::CorrelationMismatch { broker: broker.clone(), expected: *expected, received: *received }
            }
            Error::NoCommonVersion { broker, api, ours, broker_range } => {
                Error::NoCommonVersion { broker: broker.clone(), api: *api, ours: *ours, broker_range: *broker_range }
            }
            Error::Broker { api, code, context, message } => {
                Error::Broker { api: *api, code: *code, context: context.clone(), message: message.clone() }
            }
            Error::Records { topic, partition, source } => {
                Error::Records { topic: topic.clone(), partition: *partition, source: source.clone() }
            }
            Error::OffsetOutOfRange { topic, partition, offset } => {
                Error::OffsetOutOfRange { topic: topic.clone(), partition: *partition, offset: *offset }
            }
            Error::RecordTooLarge { topic, partition, offset, size, max } => Error::RecordTooLarge {
                topic: topic.clone(),
                partition: *partition,
                offset: *offset,
                size: *size,
                max: *max,
            },
            Error::UnknownTopicOrPartition { topic, partition } => {
                Error::UnknownTopicOrPartition { topic: topic.clone(), partition: *partition }
            }
            Error::NoBrokerReachable { tried, last } => {
                Error::NoBrokerReachable { tried: tried.clone(), last: last.clone() }
            }
            Error::MessageTooLarge { topic, size, max } => {
                Error::MessageTooLarge { topic: topic.clone(), size: *size, max: *max }
            }
            Error::QueueFull { topic, queued } => Error::QueueFull { topic: topic.clone(), queued: *queued },
            Error::DeliveryTimeout { topic, outstanding, after } => {
                Error::DeliveryTimeout { topic: topic.clone(), outstanding: *outstanding, after: *after }
            }
            Error::AuthenticationFailed { broker, mechanism, message } => Error::AuthenticationFailed {
                broker: broker.clone(),
                mechanism: mechanism.clone(),
                message: message.clone(),
            },
            Error::SaslMechanismNotOffered { broker, wanted, offered } => Error::SaslMechanismNotOffered {
                broker: broker.clone(),
                wanted: wanted.clone(),
                offered: offered.clone(),
            },
            Error::Tls { broker, message } => Error::Tls { broker: broker.clone(), message: message.clone() },
            Error::Config(m) => Error::Config(m.clone()),
            Error::Stopped => Error::Stopped,
        }
    }
}

/// plainkafka's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn broker(code: ErrorCode) -> Error {
        Error::Broker { api: ApiKey::Fetch, code, context: "t/0".into(), message: None }
    }

    #[test]
    fn retry_classification() {
        assert_eq!(broker(ErrorCode::NOT_LEADER_OR_FOLLOWER).retry(), Retry::RefreshMetadata);
        assert_eq!(broker(ErrorCode::NOT_COORDINATOR).retry(), Retry::RefreshMetadata);
        assert_eq!(broker(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS).retry(), Retry::Backoff);
        assert_eq!(broker(ErrorCode::REQUEST_TIMED_OUT).retry(), Retry::Backoff);
        assert_eq!(broker(ErrorCode::TOPIC_AUTHORIZATION_FAILED).retry(), Retry::Never);
        let io = Error::Io { broker: "b".into(), api: None, source: io::ErrorKind::ConnectionReset.into() };
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
        assert!(s.contains("Fetch") && s.contains("t/0") && s.contains("OFFSET_OUT_OF_RANGE"), "{s}");
    }
}
