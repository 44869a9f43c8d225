//! Every request decoder (a broker-side reader's input), every implemented version.
#![no_main]
use libfuzzer_sys::fuzz_target;
use plainkafka::protocol::{check_request, ALL_KEYS};

fuzz_target!(|data: &[u8]| {
    if let [k, v, body @ ..] = data {
        let key = ALL_KEYS[*k as usize % ALL_KEYS.len()];
        let _ = check_request(key, i16::from(*v % 20), body);
    }
});
