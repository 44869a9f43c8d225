//! The producer (PyKafka's Producer, done the way a Kafka 4 broker expects): RecordBatch v2,
//! batching per partition, the four codecs, delivery reports, murmur2 partitioning like the
//! Java client, and idempotence.

mod accumulator;
mod config;
mod handle;
pub mod partitioner;
mod record;
mod sender;
mod transaction;

pub use config::{Acks, ProducerBuilder, DEFAULT_COMPRESSION};
pub use handle::Producer;
pub use partitioner::Partitioner;
pub use record::{BorrowedRecord, Delivery, DeliveryReport, ProducerRecord};
pub use transaction::Transaction;
