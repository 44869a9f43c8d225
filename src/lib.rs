//! plainkafka: a synchronous Kafka client. Plain `std::net` sockets and threads, no async
//! runtime, no C library; PyKafka's consumer model (SimpleConsumer, BalancedConsumer, Producer);
//! Kafka 0.11 through 4.x.
//!
//! ```no_run
//! use plainkafka::{KafkaClient, OffsetReset};
//! use std::time::Duration;
//!
//! fn main() -> plainkafka::Result<()> {
//!     let client = KafkaClient::new("127.0.0.1:9092")?;
//!     let topic = client.topic("orders")?;
//!     let mut consumer = topic
//!         .simple_consumer()
//!         .consumer_group("billing")
//!         .auto_offset_reset(OffsetReset::Earliest)
//!         .consumer_timeout(Some(Duration::from_secs(5)))
//!         .build()?;
//!     for msg in consumer.iter() {
//!         let msg = msg?;
//!         println!("{}/{} @{}: {:?}", msg.topic(), msg.partition(), msg.offset(), msg.value());
//!     }
//!     consumer.commit_offsets()?; // commits last consumed + 1 per partition
//!     Ok(())
//! }
//! ```
//!
//! (The example needs a broker, so the doctest only compiles it; `scripts/quickstart.sh` runs
//! the full walk-through against a local Kafka.)
//!
//! # Where a consumer starts
//!
//! Each partition's start is decided lazily, when the consumer is first polled, by PyKafka's
//! rules ([`offsets`]): with `reset_offset_on_start` it starts at `auto_offset_reset`; otherwise
//! at the group's committed offset if there is one; otherwise at `auto_offset_reset`. Kafka
//! stores the next offset to read, so a consumer that read offset 4 commits 5 and the next one
//! starts at 5 — the usage guide's "last committed offset 4 → starts at 5". Each partition keeps
//! the [`StartDecision`] that placed it: [`SimpleConsumer::start_decisions`].
//!
//! If the position later falls outside the log (retention, truncation), the partition moves to
//! `auto_offset_reset` again and logs a warning; with `reset_offset_on_fetch(false)` the
//! iterator yields [`Error::OffsetOutOfRange`] once instead and the partition pauses.
//!
//! # Features
//!
//! | feature | default | C compiler | what it adds |
//! |---|---|---|---|
//! | `gzip`, `snappy`, `lz4`, `zstd` | on | no | the compression codecs, all pure Rust (a build without one reports [`Error::Records`] with [`RecordsErrorKind::UnsupportedCompression`] for data that uses it) |
//! | `zstd-c` | off | yes | zstd through the reference C library: better ratios and faster compression than the pure-Rust `zstd` (with both, the C library does the work) |
//! | `mock` | on | no | [`mock::MockCluster`], an in-process Kafka cluster for tests |
//! | `scram` | on | no | SASL SCRAM-SHA-256/512 |
//! | `tls` | off | yes (ring) | TLS (rustls on its `ring` backend; no cmake, no system OpenSSL) |
//! | `mock-tls` | off | yes | TLS listeners with a generated certificate for the mock |
//! | `cli` | off | yes | the `plainkafka` command-line tool (brings `tls` and `mock-tls`) |
//! | `unstable` | off | no | the wire protocol, connections and SASL mechanisms as public modules (`protocol`, `net`, `sasl`), with no semver promise |
//!
//! The default features build with no C compiler at all (CI builds them with `CC=false`).
//!
//! How the crate is built inside — the layers, the data flow of a fetch and of a produce,
//! where each kind of change lands — is in `ARCHITECTURE.md` at the top of the repository.
//!
//! # Consumer groups
//!
//! [`Topic::balanced_consumer`] makes a member of a consumer group that shares the topic's
//! partitions with the other members ([`BalancedConsumer`]). The start rules above apply to each
//! assigned partition; `reset_offset_on_start` only to the member's first assignment.
//!
//! # TLS and SASL
//!
//! [`KafkaClientBuilder::set`] takes librdkafka's property names (`security.protocol`,
//! `ssl.ca.location`, `sasl.mechanisms`, `sasl.username`, `sasl.password`, ...), and the builder
//! has the same as methods ([`KafkaClientBuilder::tls`], [`KafkaClientBuilder::sasl`],
//! [`KafkaClientBuilder::sasl_oauthbearer`]). TLS is the feature `tls` (rustls); SASL PLAIN,
//! SCRAM-SHA-256/512 (feature `scram`, on by default) and OAUTHBEARER are [`SaslMechanism`]s. A refused
//! login is [`Error::AuthenticationFailed`], a refused certificate [`Error::Tls`]; neither is
//! retried.
//!
//! # Transactions
//!
//! Consumers read committed records only ([`IsolationLevel::ReadCommitted`], the default, as
//! in librdkafka): aborted transactions are skipped, commit and abort markers are never
//! delivered, and reading stops at the last stable offset. A producer with a
//! [`ProducerBuilder::transactional_id`] writes in transactions
//! ([`Producer::begin_transaction`], [`Producer::commit_transaction`],
//! [`Producer::abort_transaction`]), fencing older producers with the same id.
//!
//! # Settings by name, and statistics
//!
//! Every builder takes librdkafka's property names through `set(name, value)`
//! ([`properties`] lists them and which builder takes each), so configurations carry over.
//! `stats()` on the consumers and the producer returns a typed snapshot ([`stats`]); with
//! `statistics_interval` and `on_statistics` one arrives periodically, as librdkafka's
//! `stats_cb`.
//!
//! Every blocking call has a deadline, network input never panics, and errors are one type,
//! [`Error`], carrying the broker, API, topic, partition and offset they concern.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

mod client;
pub mod consumer;
pub mod error;
mod facade;
#[cfg(feature = "unstable")]
#[cfg_attr(docsrs, doc(cfg(feature = "unstable")))]
pub mod fuzzing;
pub mod group;
pub mod message;
#[cfg(feature = "mock")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock")))]
pub mod mock;
// The wire protocol, connections and SASL mechanisms are the crate's insides: public only with
// the `unstable` feature (fuzz targets, advanced users), with no semver promise. Their codecs
// are complete both ways, so a build without the mock leaves half of them unused.
#[cfg(feature = "unstable")]
#[cfg_attr(docsrs, doc(cfg(feature = "unstable")))]
pub mod net;
#[cfg(not(feature = "unstable"))]
#[allow(dead_code, unreachable_pub)]
mod net;
pub mod offsets;
pub mod producer;
pub mod properties;
#[cfg(feature = "unstable")]
#[cfg_attr(docsrs, doc(cfg(feature = "unstable")))]
pub mod protocol;
#[cfg(not(feature = "unstable"))]
#[allow(dead_code, unreachable_pub)]
mod protocol;
mod retry;
#[cfg(feature = "unstable")]
#[cfg_attr(docsrs, doc(cfg(feature = "unstable")))]
pub mod sasl;
#[cfg(not(feature = "unstable"))]
#[allow(dead_code, unreachable_pub)]
mod sasl;
pub mod stats;
mod workers;

pub use client::admin::{ConfigEntry, ConfigResource};
pub use client::PartitionInfo;
pub use consumer::{
    Acknowledge, BalancedConsumer, BalancedConsumerBuilder, ShareConsumer, ShareConsumerBuilder, SimpleConsumer,
    SimpleConsumerBuilder, StopHandle,
};
pub use error::{Context, Error, Result, Retry};
pub use facade::{KafkaClient, KafkaClientBuilder, Topic};
pub use group::Assignor;
pub use message::{Message, Timestamp};
pub use net::{CaRoots, SecurityProtocol, TlsConfig};
pub use offsets::{IsolationLevel, OffsetReset, OffsetSpec, StartDecision, StartRule};
pub use producer::{
    Acks, BorrowedRecord, Delivery, DeliveryReport, Partitioner, Producer, ProducerBuilder, ProducerRecord,
    Transaction, DEFAULT_COMPRESSION,
};
pub use protocol::codec::DecodeError;
pub use protocol::compression::CodecError;
pub use protocol::consumer_protocol::TopicPartitions;
pub use protocol::error_code::ErrorCode;
pub use protocol::records::{Compression, Header, RecordsError, RecordsErrorKind, TimestampType};
pub use protocol::{ApiKey, VersionRange};
pub use sasl::{OAuthBearerToken, SaslMechanism, TokenProvider};
