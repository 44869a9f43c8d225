//! The fuzz targets' entry points (feature `unstable`): each takes the fuzzer's bytes, gives
//! them the structure its check wants, and runs a check that lives next to the code it
//! exercises. `fuzz/` runs them under libFuzzer (nightly); `tests/fuzz_corpus.rs` replays the
//! committed corpora (`fuzz/corpus/<target>/`) through the same functions on stable, so CI
//! checks every input the fuzzers kept.
//!
//! `Err` means an invariant broke (a fuzzer turns it into a crash); input a decoder refuses is
//! `Ok`, as refusing it is the right answer.

use crate::protocol::{self, consumer_protocol, records, ALL_KEYS};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

/// Every target's name, as `fuzz/Cargo.toml` and the corpus directories spell it.
pub const TARGETS: &[&str] = &[
    "responses",
    "requests",
    "records",
    "group_payloads",
    "sasl",
    "fetch_answer",
    "decompress",
    "api_versions",
    "assignors",
    "position_machine",
    "mock_requests",
];

/// Runs target `name` on `data`; `None` for an unknown name.
pub fn run(name: &str, data: &[u8]) -> Option<Result<(), String>> {
    Some(match name {
        "responses" => responses(data),
        "requests" => requests(data),
        "records" => records(data),
        "group_payloads" => group_payloads(data),
        "sasl" => sasl(data),
        "fetch_answer" => fetch_answer(data),
        "decompress" => decompress(data),
        "api_versions" => api_versions(data),
        "assignors" => assignors(data),
        "position_machine" => crate::consumer::check_position_machine(data),
        "mock_requests" => mock_requests(data),
        _ => return None,
    })
}

/// Every response decoder, every version: the first byte picks the API, the second the version.
pub fn responses(data: &[u8]) -> Result<(), String> {
    if let [k, v, body @ ..] = data {
        let _ = protocol::check_response(ALL_KEYS[*k as usize % ALL_KEYS.len()], i16::from(*v % 20), body);
    }
    Ok(())
}

/// Every request decoder (the mock's side), as `responses`.
pub fn requests(data: &[u8]) -> Result<(), String> {
    if let [k, v, body @ ..] = data {
        let _ = protocol::check_request(ALL_KEYS[*k as usize % ALL_KEYS.len()], i16::from(*v % 20), body);
    }
    Ok(())
}

/// RecordBatch v2 and legacy message sets, from offset 0.
pub fn records(data: &[u8]) -> Result<(), String> {
    let mut out = Vec::new();
    let _ = records::decode(&Arc::new(data.to_vec()), 0, &mut out);
    Ok(())
}

/// Consumer-group subscriptions and assignments.
pub fn group_payloads(data: &[u8]) -> Result<(), String> {
    let _ = consumer_protocol::Subscription::decode(data);
    let _ = consumer_protocol::Assignment::decode(data);
    Ok(())
}

/// SASL server messages as the client reads them: the bytes up to the first 0xFF are the
/// server's first message, the rest its second. SCRAM's key derivation is reached through a
/// first message that extends the client nonce `fuzz`.
pub fn sasl(data: &[u8]) -> Result<(), String> {
    use crate::sasl::{replay, OAuthBearerToken, SaslMechanism, TokenProvider};
    let (first, second) = match data.iter().position(|&b| b == 0xff) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    for name in ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] {
        // SCRAM is a feature: a build without it knows only PLAIN here.
        if let Ok(m) = SaslMechanism::from_name(name, "user", "pencil") {
            let _ = replay(&m, "fuzz", &[first, second]);
        }
    }
    let oauth = SaslMechanism::OAuthBearer(TokenProvider::new(|| Ok(OAuthBearerToken::new("t"))));
    let _ = replay(&oauth, "fuzz", &[first, second]);
    Ok(())
}

/// A Fetch answer's records through a partition's position machine: the first 8 bytes pick
/// the fetch offset, the 9th whether v2 checksums are made right first.
pub fn fetch_answer(data: &[u8]) -> Result<(), String> {
    let [o0, o1, o2, o3, o4, o5, o6, o7, fix, rest @ ..] = data else { return Ok(()) };
    let offset = i64::from_be_bytes([*o0, *o1, *o2, *o3, *o4, *o5, *o6, *o7]);
    crate::consumer::check_fetch_answer(rest, offset, fix & 1 == 1)
}

/// `decompress` and `decompress_legacy` called directly: the first byte's low 3 bits pick the
/// codec, the second byte is the legacy magic.
pub fn decompress(data: &[u8]) -> Result<(), String> {
    let [attributes, magic, rest @ ..] = data else { return Ok(()) };
    protocol::compression::check_decompress(*attributes, *magic as i8 % 2, rest)
}

/// ApiVersions answers as the handshake reads them: the first byte picks the version asked.
pub fn api_versions(data: &[u8]) -> Result<(), String> {
    let [v, frame @ ..] = data else { return Ok(()) };
    protocol::api_versions::check_handshake_answer(i16::from(*v % 5), frame)
}

/// Splits `data` into chunks, each behind a 2-byte length (a chunk cut short ends the list).
fn chunks(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let [a, b, rest @ ..] = data {
        let n = usize::from(u16::from_be_bytes([*a, *b]));
        let Some(chunk) = rest.get(..n) else { break };
        out.push(chunk);
        data = &rest[n..];
    }
    out
}

/// The group leader's assignment of hostile subscriptions: the first two bytes give the
/// partition counts of topics `x` and `y` (up to 63), the rest is each member's JoinGroup
/// payload behind a 2-byte length.
pub fn assignors(data: &[u8]) -> Result<(), String> {
    let [x, y, rest @ ..] = data else { return Ok(()) };
    let counts: BTreeMap<String, i32> =
        [("x".to_string(), i32::from(*x % 64)), ("y".to_string(), i32::from(*y % 64))].into_iter().collect();
    crate::group::assignors::check_leader_assignment(&chunks(rest), &counts)
}

/// Requests through the MockCluster's request path, as a connection thread serves them: the
/// first byte's low bit picks a cluster with SASL (PLAIN, SCRAM, OAUTHBEARER) or without; the
/// rest is request frames, each behind a 2-byte length.
#[cfg(feature = "mock")]
pub fn mock_requests(data: &[u8]) -> Result<(), String> {
    use crate::mock::MockCluster;
    use std::time::Duration;
    static PLAIN: OnceLock<MockCluster> = OnceLock::new();
    static SASL: OnceLock<MockCluster> = OnceLock::new();
    let [which, rest @ ..] = data else { return Ok(()) };
    let base = || MockCluster::builder().max_request_wait(Duration::ZERO).auto_create_topics(false);
    let cluster = if which & 1 == 0 {
        PLAIN.get_or_init(|| base().build().expect("a mock cluster"))
    } else {
        SASL.get_or_init(|| {
            base().sasl_user("user", "pencil").sasl_oauthbearer_token("token").build().expect("a mock cluster")
        })
    };
    cluster.check_request_path(&chunks(rest))
}

/// Without the mock there is no request path to fuzz.
#[cfg(not(feature = "mock"))]
pub fn mock_requests(_: &[u8]) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_has_an_entry_point_and_a_corpus_directory_name() {
        for t in TARGETS {
            assert!(run(t, &[]).is_some(), "{t}");
        }
        assert!(run("nope", &[]).is_none());
    }

    #[test]
    fn chunks_stop_at_a_cut() {
        assert_eq!(chunks(&[0, 1, 7, 0, 0, 0, 5, 1]), vec![&[7][..], &[][..]]);
    }
}
