//! The `fetch_answer` target: see `plainkafka::fuzzing::fetch_answer` for what the bytes mean and what is checked.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(Err(e)) = plainkafka::fuzzing::run("fetch_answer", data) {
        panic!("fetch_answer: {e}");
    }
});
