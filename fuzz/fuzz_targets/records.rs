//! Record data as a Fetch response carries it: batches v2, message sets v0/v1, partial tails.
#![no_main]
use libfuzzer_sys::fuzz_target;
use plainkafka::protocol::records;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let _ = records::decode(&Arc::new(data.to_vec()), 0, &mut out);
});
