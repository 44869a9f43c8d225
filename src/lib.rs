//! plainkafka
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod client;
pub mod cluster;
pub mod consumer;
pub mod error;
pub mod message;
pub mod net;
mod offset_requests;
pub mod offsets;
pub mod protocol;
mod retry;

pub use client::{KafkaClient, KafkaClientBuilder, Topic};
pub use consumer::{SimpleConsumer, SimpleConsumerBuilder, StopHandle};
pub use error::{Error, Result, Retry};
pub use message::{Message, Timestamp};
pub use offsets::{OffsetReset, OffsetSpec, StartDecision, StartRule};
