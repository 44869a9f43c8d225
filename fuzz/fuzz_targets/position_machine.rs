//! The `position_machine` target: see `plainkafka::consumer::check_position_machine` for what the bytes mean and what is checked.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(Err(e)) = plainkafka::fuzzing::run("position_machine", data) {
        panic!("position_machine: {e}");
    }
});
