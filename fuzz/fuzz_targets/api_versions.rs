//! The `api_versions` target: see `plainkafka::fuzzing::api_versions` for what the bytes mean and what is checked.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(Err(e)) = plainkafka::fuzzing::run("api_versions", data) {
        panic!("api_versions: {e}");
    }
});
