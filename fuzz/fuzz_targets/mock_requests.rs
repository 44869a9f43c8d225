//! The `mock_requests` target: see `plainkafka::fuzzing::mock_requests` for what the bytes mean and what is checked.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(Err(e)) = plainkafka::fuzzing::run("mock_requests", data) {
        panic!("mock_requests: {e}");
    }
});
