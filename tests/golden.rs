//! Golden bytes from real brokers (captured by `scripts/golden/capture.sh` from Kafka 4.4 and
//! 3.9 into `tests/golden/VERSION/`): plainkafka's client and its MockCluster share one codec,
//! so a field laid out wrong on both sides would pass every round trip. Here the other side is
//! Kafka and the Java client:
//! - every answer Kafka gave (to plainkafka and to the Java client, at versions plainkafka
//!   speaks) decodes, and encodes back to the same bytes, as the MockCluster would write it;
//! - every request the Java client sent at a version plainkafka speaks decodes, as the
//!   MockCluster reads it, and encodes back to the same bytes, as plainkafka would write it;
//! - plainkafka's own requests, which Kafka answered, decode and encode back the same.
#![cfg(feature = "unstable")]

use plainkafka::protocol::{implemented, reencode_request, reencode_response, ApiKey, ALL_KEYS};
use std::path::Path;

fn key_named(name: &str) -> ApiKey {
    *ALL_KEYS.iter().find(|k| format!("{k:?}") == name).unwrap_or_else(|| panic!("unknown API {name}"))
}

/// Answers whose fields plainkafka reads past without keeping, so the MockCluster's answer is
/// shorter than Kafka's; each is checked to differ only there.
/// - ApiVersions v3+: of the top-level tagged fields, only the finalized features (tag 2, the
///   last Kafka writes) are kept: the re-encoding's tag section holds that one field, and
///   Kafka's ends with the same bytes after its supported features and features epoch.
/// - CreateTopics v5+: each created topic's configs, which Kafka lists in full: the
///   re-encoding matches up to the first topic's configs.
fn known_gap(key: ApiKey, version: i16, kafka: &[u8], ours: &[u8]) -> bool {
    match (key, version) {
        (ApiKey::ApiVersions, 3..) => {
            let at = kafka.iter().zip(ours).take_while(|(a, b)| a == b).count();
            at < ours.len() && kafka.len() > ours.len() && (ours[at..] == [0] || kafka.ends_with(&ours[at + 1..]))
        }
        (ApiKey::CreateTopics, 5..) => {
            let same = kafka.iter().zip(ours).take_while(|(a, b)| a == b).count();
            // throttle (4) + correlation (4) + tags (1) + count (1) + name, id, error, message,
            // partitions, replication factor: the configs come after the topic's fixed part.
            same >= 30 && kafka.len() > ours.len()
        }
        _ => false,
    }
}

/// The first difference between two byte strings, for the failure message.
fn diff(a: &[u8], b: &[u8]) -> String {
    let at = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    format!("{} vs {} bytes, first difference at byte {at}", a.len(), b.len())
}

#[test]
fn kafka_answers_and_java_requests_match_plainkafkas_codec() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut checked = Vec::new();
    let mut failures = Vec::new();
    for version_dir in ["4.4.0", "3.9.1"] {
        let dir = root.join(version_dir);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok()?.file_name().into_string().ok()?.strip_suffix(".req").map(str::to_string))
            .collect();
        names.sort();
        assert!(names.len() >= 25, "{version_dir}: only {} exchanges captured", names.len());
        for name in names {
            // <client>-<Api>-v<version>
            let mut parts = name.splitn(3, '-');
            let (client, api, v) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
            let key = key_named(api);
            let version: i16 = v.trim_start_matches('v').parse().expect("version");
            let req = std::fs::read(dir.join(format!("{name}.req"))).expect("request");
            let resp = std::fs::read(dir.join(format!("{name}.resp"))).expect("response");
            let ours = implemented(key).is_some_and(|r| (r.min..=r.max).contains(&version));
            if client == "plainkafka" {
                assert!(ours, "{version_dir} {name}: plainkafka sent a version it doesn't implement");
            }
            if !ours {
                continue;
            }
            let label = format!("{version_dir} {name}");
            match reencode_response(key, version, &resp) {
                Some(Ok(again)) if again == resp || known_gap(key, version, &resp, &again) => {}
                Some(Ok(again)) => failures.push(format!("{label} answer re-encoded differs: {}", diff(&resp, &again))),
                Some(Err(e)) => failures.push(format!("{label} answer does not decode: {e}")),
                None => unreachable!("implemented"),
            }
            match reencode_request(&req) {
                Some(Ok(again)) if again == req => {}
                Some(Ok(again)) => failures.push(format!("{label} request re-encoded differs: {}", diff(&req, &again))),
                Some(Err(e)) => failures.push(format!("{label} request does not decode: {e}")),
                None => unreachable!("implemented"),
            }
            checked.push(label);
        }
    }
    eprintln!("{} exchanges checked: {checked:?}", checked.len());
    assert!(failures.is_empty(), "{} of {}:\n{}", failures.len(), checked.len(), failures.join("\n"));
    // The Java client's requests at versions plainkafka speaks are among them.
    assert!(checked.iter().any(|c| c.contains("java-JoinGroup")), "{checked:?}");
}
