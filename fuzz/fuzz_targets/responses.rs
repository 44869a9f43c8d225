//! Every response decoder, every implemented version: the first byte picks the API, the second
//! the version; no input may panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use plainkafka::protocol::{check_response, ALL_KEYS};

fuzz_target!(|data: &[u8]| {
    if let [k, v, body @ ..] = data {
        let key = ALL_KEYS[*k as usize % ALL_KEYS.len()];
        let _ = check_response(key, i16::from(*v % 20), body);
    }
});
