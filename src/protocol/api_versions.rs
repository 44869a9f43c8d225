//! ApiVersions (key 18), v0–v3: which versions of each API a broker speaks (KIP-35, KIP-511).
//!
//! A broker that does not speak the requested ApiVersions version answers
//! UNSUPPORTED_VERSION with a v0 body that still lists its ranges, so that the client can
//! retry at a version it knows; [`ApiVersionsResponse::decode_any`] reads such answers, and the
//! librdkafka mock's non-standard one (a compact array in an otherwise v0 body).
//!
//! v3 answers carry the cluster's finalized features in a tagged field (KIP-584): a client
//! learns there, for instance, whether transactions run version 2 (`transaction.version`).

use super::codec::{DecodeResult, Decoder, Encoder};
use super::error_code::ErrorCode;
use super::{ApiKey, Request, Response, VersionRange};

/// ApiVersions request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiVersionsRequest {
    /// v3+: the client's name (KIP-511).
    pub client_software_name: String,
    /// v3+: the client's version.
    pub client_software_version: String,
}

/// One API's advertised range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiVersion {
    /// Raw API key (brokers advertise APIs plainkafka doesn't speak).
    pub api_key: i16,
    /// Lowest version.
    pub min_version: i16,
    /// Highest version.
    pub max_version: i16,
}

/// ApiVersions response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiVersionsResponse {
    /// Top-level error.
    pub error_code: i16,
    /// The advertised ranges.
    pub api_keys: Vec<ApiVersion>,
    /// v1+: throttle time.
    pub throttle_time_ms: i32,
    /// v3+ (tagged field 2): the cluster's finalized features.
    pub finalized_features: Vec<FinalizedFeature>,
}

/// A feature the cluster finalized, with its level range (KIP-584).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalizedFeature {
    /// The feature's name, e.g. `transaction.version`.
    pub name: String,
    /// The highest level finalized: the one in force.
    pub max_version_level: i16,
    /// The lowest level finalized.
    pub min_version_level: i16,
}

/// The tag of FinalizedFeatures in a v3+ answer.
const FINALIZED_FEATURES_TAG: u32 = 2;

fn encode_features(e: &mut Encoder, features: &[FinalizedFeature]) {
    e.array(features, true, |e, f| {
        e.string(&f.name, true);
        e.i16(f.max_version_level);
        e.i16(f.min_version_level);
        e.tagged_fields(true);
    });
}

fn decode_features(d: &mut Decoder<'_>) -> DecodeResult<Vec<FinalizedFeature>> {
    d.array(true, 6, |d| {
        let name = d.string(true)?;
        let max_version_level = d.i16()?;
        let min_version_level = d.i16()?;
        d.skip_tagged_fields(true)?;
        Ok(FinalizedFeature { name, max_version_level, min_version_level })
    })
}

impl Request for ApiVersionsRequest {
    const KEY: ApiKey = ApiKey::ApiVersions;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 3;
    const FIRST_FLEXIBLE: i16 = 3;
    type Response = ApiVersionsResponse;

    fn encode(&self, e: &mut Encoder, version: i16) {
        if version >= 3 {
            e.string(&self.client_software_name, true);
            e.string(&self.client_software_version, true);
            e.tagged_fields(true);
        }
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let mut req = ApiVersionsRequest::default();
        if version >= 3 {
            req.client_software_name = d.string(true)?;
            req.client_software_version = d.string(true)?;
            d.skip_tagged_fields(true)?;
        }
        Ok(req)
    }
}

impl Response for ApiVersionsResponse {
    fn encode(&self, e: &mut Encoder, version: i16) {
        let flexible = version >= 3;
        e.i16(self.error_code);
        e.array(&self.api_keys, flexible, |e, k| {
            e.i16(k.api_key);
            e.i16(k.min_version);
            e.i16(k.max_version);
            e.tagged_fields(flexible);
        });
        if version >= 1 {
            e.i32(self.throttle_time_ms);
        }
        if flexible && !self.finalized_features.is_empty() {
            let mut field = Encoder::new();
            encode_features(&mut field, &self.finalized_features);
            let field = field.into_inner();
            e.uvarint(1);
            e.uvarint(FINALIZED_FEATURES_TAG);
            e.uvarint(u32::try_from(field.len()).unwrap_or(u32::MAX));
            e.raw(&field);
        } else {
            e.tagged_fields(flexible);
        }
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flexible = version >= 3;
        let error_code = d.i16()?;
        let api_keys = d.array(flexible, 6, |d| {
            let k = ApiVersion { api_key: d.i16()?, min_version: d.i16()?, max_version: d.i16()? };
            d.skip_tagged_fields(flexible)?;
            Ok(k)
        })?;
        let throttle_time_ms = if version >= 1 { d.i32()? } else { 0 };
        let mut finalized_features = Vec::new();
        if flexible {
            for _ in 0..d.uvarint()? {
                let tag = d.uvarint()?;
                let len = d.uvarint()? as usize;
                let field = d.take(len, "tagged field")?;
                if tag == FINALIZED_FEATURES_TAG {
                    let mut f = Decoder::new(field);
                    finalized_features = decode_features(&mut f)?;
                    f.finish("ApiVersions finalized features")?;
                }
            }
        }
        Ok(ApiVersionsResponse { error_code, api_keys, throttle_time_ms, finalized_features })
    }
}

impl ApiVersionsResponse {
    /// Reads a response body to a request of `version`, falling back to the v0 layout (and the
    /// compact-array variant) that brokers use when they refused the version we asked for.
    pub fn decode_any(body: &[u8], version: i16) -> DecodeResult<Self> {
        let strict = |v: i16| {
            let mut d = Decoder::new(body);
            let r = ApiVersionsResponse::decode(&mut d, v)?;
            d.finish("ApiVersions response")?;
            Ok(r)
        };
        let first = strict(version);
        if matches!(&first, Ok(r) if r.error_code == 0) {
            return first;
        }
        // Refusals come as v0 (Kafka) or with a compact array (librdkafka's mock).
        for alt in [0, 3] {
            if let Ok(r) = strict(alt) {
                return Ok(r);
            }
        }
        // librdkafka's mock refuses v3+ with a one-byte plain count and entries without tagged
        // fields, then the throttle time.
        let mut d = Decoder::new(body);
        let mock = (|| -> DecodeResult<ApiVersionsResponse> {
            let error_code = d.i16()?;
            let n = d.i8()? as u8 as usize;
            let mut api_keys = Vec::with_capacity(n.min(d.remaining() / 6));
            for _ in 0..n {
                api_keys.push(ApiVersion { api_key: d.i16()?, min_version: d.i16()?, max_version: d.i16()? });
            }
            let throttle_time_ms = d.i32()?;
            d.finish("ApiVersions response")?;
            Ok(ApiVersionsResponse { error_code, api_keys, throttle_time_ms, finalized_features: Vec::new() })
        })();
        mock.or(first)
    }

    /// The error.
    pub fn error(&self) -> ErrorCode {
        ErrorCode::from_i16(self.error_code)
    }

    /// The broker's range for an API, if advertised.
    pub fn range(&self, key: ApiKey) -> Option<VersionRange> {
        self.api_keys
            .iter()
            .find(|k| k.api_key == key.code())
            .map(|k| VersionRange { min: k.min_version, max: k.max_version })
    }

    /// The level in force of a finalized feature (`None`: not finalized, or a broker too old
    /// to say).
    pub fn feature_level(&self, name: &str) -> Option<i16> {
        self.finalized_features.iter().find(|f| f.name == name).map(|f| f.max_version_level)
    }
}

/// An ApiVersions answer read as the connection's handshake reads it (`frame` after the size
/// prefix, asked at `version`), then every API's version negotiated against what it offers.
/// Any input must decode or fail cleanly, and a negotiated version must lie in both ranges.
/// For the fuzz targets (feature `unstable`) and the unit tests.
#[cfg(any(test, feature = "unstable"))]
pub fn check_handshake_answer(version: i16, frame: &[u8]) -> Result<(), String> {
    use super::frame::decode_response_header;
    use super::versions::negotiate;
    let version = version.clamp(ApiVersionsRequest::MIN_VERSION, ApiVersionsRequest::MAX_VERSION);
    let Ok((_, d)) = decode_response_header::<ApiVersionsRequest>(frame, version) else { return Ok(()) };
    let Ok(resp) = ApiVersionsResponse::decode_any(d.rest(), version) else { return Ok(()) };
    let _ = resp.error();
    for key in super::ALL_KEYS {
        let (Some(ours), Some(theirs)) = (super::implemented(key), resp.range(key)) else { continue };
        if let Some(v) = negotiate(key, ours, theirs) {
            if v < ours.min || v > ours.max || v < theirs.min || v > theirs.max {
                return Err(format!("{key:?}: v{v} is outside ours {ours:?} or theirs {theirs:?}"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::{assert_every_prefix_fails, round_trip_response};

    fn sample() -> ApiVersionsResponse {
        ApiVersionsResponse {
            error_code: 0,
            api_keys: vec![
                ApiVersion { api_key: 1, min_version: 4, max_version: 17 },
                ApiVersion { api_key: 18, min_version: 0, max_version: 4 },
            ],
            throttle_time_ms: 0,
            finalized_features: Vec::new(),
        }
    }

    #[test]
    fn round_trips_every_version_and_rejects_every_truncation() {
        for v in 0..=3 {
            let bytes = round_trip_response::<ApiVersionsRequest>(&sample(), v);
            assert_every_prefix_fails::<ApiVersionsRequest>(&bytes, v);
        }
        let mut with_features = sample();
        with_features.finalized_features = vec![
            FinalizedFeature { name: "metadata.version".into(), max_version_level: 27, min_version_level: 1 },
            FinalizedFeature { name: "transaction.version".into(), max_version_level: 2, min_version_level: 0 },
        ];
        let bytes = round_trip_response::<ApiVersionsRequest>(&with_features, 3);
        assert_every_prefix_fails::<ApiVersionsRequest>(&bytes, 3);
        let r = ApiVersionsResponse::decode(&mut Decoder::new(&bytes), 3).unwrap();
        assert_eq!(r.feature_level("transaction.version"), Some(2));
        assert_eq!(r.feature_level("group.version"), None);
    }

    #[test]
    fn kafka_4_answer_with_supported_and_finalized_features_is_read() {
        // The tagged section of a Kafka 4 answer: SupportedFeatures (tag 0), the features
        // epoch (tag 1), then FinalizedFeatures (tag 2), each skipped or read by its tag.
        let mut e = Encoder::new();
        e.i16(0);
        e.array(&sample().api_keys, true, |e, k| {
            e.i16(k.api_key);
            e.i16(k.min_version);
            e.i16(k.max_version);
            e.tagged_fields(true);
        });
        e.i32(0);
        e.uvarint(3);
        let supported = [
            2u8, 20, b't', b'r', b'a', b'n', b's', b'a', b'c', b't', b'i', b'o', b'n', b'.', b'v', b'e', b'r', b's',
            b'i', b'o', b'n', 0, 0, 0, 2, 0,
        ];
        e.uvarint(0);
        e.uvarint(supported.len() as u32);
        e.raw(&supported);
        e.uvarint(1);
        e.uvarint(8);
        e.i64(42);
        let mut f = Encoder::new();
        encode_features(
            &mut f,
            &[FinalizedFeature { name: "transaction.version".into(), max_version_level: 2, min_version_level: 2 }],
        );
        let f = f.into_inner();
        e.uvarint(2);
        e.uvarint(f.len() as u32);
        e.raw(&f);
        let body = e.into_inner();
        let r = ApiVersionsResponse::decode_any(&body, 3).unwrap();
        assert_eq!(r.feature_level("transaction.version"), Some(2));
        assert_eq!(r.range(ApiKey::ApiVersions), Some(VersionRange { min: 0, max: 4 }));
    }

    #[test]
    fn unsupported_version_answer_in_v0_layout_is_understood() {
        let mut refusal = sample();
        refusal.error_code = 35;
        let mut e = Encoder::new();
        refusal.encode(&mut e, 0);
        let body = e.into_inner();
        let r = ApiVersionsResponse::decode_any(&body, 3).unwrap();
        assert_eq!(r.error(), ErrorCode::UNSUPPORTED_VERSION);
        assert_eq!(r.range(ApiKey::ApiVersions), Some(VersionRange { min: 0, max: 4 }));
    }

    #[test]
    fn librdkafka_mock_refusal_is_understood() {
        // Captured from librdkafka 2.12's mock cluster answering ApiVersions v3.
        let body = [0x00, 0x23, 0x01, 0x00, 0x12, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00];
        let r = ApiVersionsResponse::decode_any(&body, 3).unwrap();
        assert_eq!(r.error(), ErrorCode::UNSUPPORTED_VERSION);
        assert_eq!(r.range(ApiKey::ApiVersions), Some(VersionRange { min: 0, max: 2 }));
        // The refusal layouts overlap (a prefix can be a valid empty v3 refusal), so a prefix
        // may decode; it must never panic nor yield the full answer.
        for n in 0..body.len() {
            let r = ApiVersionsResponse::decode_any(&body[..n], 3);
            assert!(r.map_or(true, |r| r.range(ApiKey::ApiVersions).is_none()), "prefix {n}");
        }
    }
}
