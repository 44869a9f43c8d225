//! The `assignors` target: see `plainkafka::fuzzing::assignors` for what the bytes mean and what is checked.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(Err(e)) = plainkafka::fuzzing::run("assignors", data) {
        panic!("assignors: {e}");
    }
});
