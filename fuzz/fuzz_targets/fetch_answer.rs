//! A Fetch answer's records fed to a partition's position machine, as the fetcher feeds them:
//! the first 8 bytes pick the fetch offset, the 9th whether v2 checksums are made right first
//! (so mutated batch headers get past the CRC), the rest are the records. Any input must leave
//! the machine consistent: no panic, no move backwards, records only with progress.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 9 {
        return;
    }
    let offset = i64::from_be_bytes(data[..8].try_into().unwrap());
    if let Err(e) = plainkafka::consumer::check_fetch_answer(&data[9..], offset, data[8] & 1 == 1) {
        panic!("{e}");
    }
});
