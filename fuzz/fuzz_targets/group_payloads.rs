//! The `group_payloads` target: see `plainkafka::fuzzing::group_payloads` for what the bytes mean and what is checked.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(Err(e)) = plainkafka::fuzzing::run("group_payloads", data) {
        panic!("group_payloads: {e}");
    }
});
