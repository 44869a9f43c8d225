//! The consumer protocol's payloads, which arrive from other group members through the
//! coordinator: subscriptions (read by the leader) and assignments (read by every member).
#![no_main]
use libfuzzer_sys::fuzz_target;
use plainkafka::protocol::consumer_protocol::{Assignment, Subscription};

fuzz_target!(|data: &[u8]| {
    let _ = Subscription::decode(data);
    let _ = Assignment::decode(data);
});
