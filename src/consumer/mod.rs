//! Consumers. [`SimpleConsumer`] reads chosen partitions of one topic (PyKafka's
//! SimpleConsumer); background fetcher threads fill bounded per-partition queues and the
//! application drains them with [`SimpleConsumer::consume`] or [`SimpleConsumer::iter`].

mod config;
mod fetcher;
mod simple;
mod state;

pub use config::SimpleConsumerBuilder;
pub use simple::{Iter, SimpleConsumer, StopHandle};
