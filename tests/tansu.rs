//! Against tansu, a Kafka-compatible broker written in Rust (a third implementation).

mod common;
use common::{init_logging, scenarios, tansu};

#[test]
fn guide_three_consumers() {
    init_logging();
    scenarios::guide_three_consumers(&tansu());
}

#[test]
fn start_rules() {
    init_logging();
    scenarios::start_rules(&tansu());
}

#[test]
fn round_trip_100k() {
    init_logging();
    scenarios::round_trip_100k(&tansu());
}

#[test]
fn rdkafka_data_exact() {
    init_logging();
    scenarios::rdkafka_data_exact(&tansu());
}

#[test]
fn topic_offsets() {
    init_logging();
    scenarios::topic_offsets(&tansu());
}

#[test]
fn stop_handle_unblocks() {
    init_logging();
    scenarios::stop_handle_unblocks(&tansu());
}

#[test]
fn batches_larger_than_the_fetch_size() {
    init_logging();
    scenarios::batches_larger_than_the_fetch_size(&tansu());
}
