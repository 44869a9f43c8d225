//! ApiVersions (key 18), v0–v3: which versions of each API a broker speaks (KIP-35, KIP-511).
//!
//! A broker that does not speak the requested ApiVersions version answers
//! UNSUPPORTED_VERSION with a v0 body that still lists its ranges, so that the client can
//! retry at a version it knows; [`ApiVersionsResponse::decode_any`] reads such answers, and the
//! librdkafka mock's non-standard one (a compact array in an otherwise v0 body).

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
        e.tagged_fields(flexible);
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
        d.skip_tagged_fields(flexible)?;
        Ok(ApiVersionsResponse { error_code, api_keys, throttle_time_ms })
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
            Ok(ApiVersionsResponse { error_code, api_keys, throttle_time_ms })
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
        }
    }

    #[test]
    fn round_trips_every_version_and_rejects_every_truncation() {
        for v in 0..=3 {
            let bytes = round_trip_response::<ApiVersionsRequest>(&sample(), v);
            assert_every_prefix_fails::<ApiVersionsRequest>(&bytes, v);
        }
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
