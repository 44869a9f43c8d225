//! The `records` target: see `plainkafka::fuzzing::records` for what the bytes mean and what is checked.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(Err(e)) = plainkafka::fuzzing::run("records", data) {
        panic!("records: {e}");
    }
});
