//! Against tansu, a Kafka-compatible broker written in Rust (a third implementation).

#[macro_use]
mod common;
use common::{groups, init_logging, scenarios, tansu};

every_broker_scenario!(let b = { init_logging(); tansu() }; b);
group_scenarios!(let b = { init_logging(); tansu() }; b);
