//! Consumers. [`SimpleConsumer`] reads chosen partitions of one topic (PyKafka's
//! SimpleConsumer); [`BalancedConsumer`] shares topics' partitions with the other members of a
//! consumer group (PyKafka's BalancedConsumer). Background fetcher threads fill bounded
//! per-partition queues and the application drains them with `consume` or `iter`.

mod balanced;
mod balanced_config;
mod config;
mod engine;
mod fetcher;
mod position;
mod share;
mod simple;
mod state;

pub use balanced::{BalancedConsumer, BalancedIter};
pub use balanced_config::{BalancedConsumerBuilder, RebalanceCallback};
pub use config::SimpleConsumerBuilder;
/// For fuzz targets (feature `unstable`): a Fetch answer's records fed to a partition's
/// position machine, with its invariants checked.
#[cfg(feature = "unstable")]
#[doc(hidden)]
pub use position::{check_fetch_answer, check_position_machine};
pub use share::{Acknowledge, ShareConsumer, ShareConsumerBuilder, ShareIter};
pub use simple::{Iter, SimpleConsumer, StopHandle};
