//! Size-prefixed frames and the request/response headers.
//!
//! Every Kafka message travels as an int32 size followed by that many bytes. Requests carry
//! header v1 (api key, version, correlation id, client id) or, on flexible versions, header v2
//! (v1 plus tagged fields). Responses carry header v0 (correlation id) or v1 (plus tagged
//! fields); ApiVersions responses always use v0 so that a client can read them before it knows
//! what the broker speaks.

use super::codec::{DecodeErrorKind, DecodeResult, Decoder, Encoder};
use super::{ApiKey, Request, Response};

/// The largest response frame accepted unless configured otherwise: a Fetch response is bounded
/// by the request's max bytes, so anything past this is a corrupt or hostile stream.
pub const DEFAULT_MAX_FRAME: usize = 256 * 1024 * 1024;

/// Reads a frame's size prefix and checks it against `max`.
pub fn frame_len(prefix: [u8; 4], max: usize) -> DecodeResult<usize> {
    let n = i32::from_be_bytes(prefix);
    if n < 0 || n as u64 > max as u64 {
        return Err(Decoder::new(&[]).error("frame size", DecodeErrorKind::BadLength(i64::from(n))));
    }
    Ok(n as usize)
}

/// Whether a request of this API and version uses header v2 (flexible) or v1.
fn request_header_flexible<R: Request>(version: i16) -> bool {
    R::flexible(version)
}

/// Whether a response of this API and version carries header v1 (tagged fields).
pub fn response_header_flexible(key: ApiKey, flexible: bool) -> bool {
    // ApiVersions answers with header v0 at every version (KIP-511).
    flexible && key != ApiKey::ApiVersions
}

/// Encodes a complete request frame: size, header, body.
pub fn encode_request<R: Request>(
    buf: Vec<u8>,
    req: &R,
    version: i16,
    correlation_id: i32,
    client_id: &str,
) -> Vec<u8> {
    let mut e = Encoder::from_vec(buf);
    let size_at = e.reserve_i32();
    e.i16(R::KEY.code());
    e.i16(version);
    e.i32(correlation_id);
    // The client id keeps its int16-prefixed form even in header v2.
    e.nullable_string(Some(client_id), false);
    e.tagged_fields(request_header_flexible::<R>(version));
    req.encode(&mut e, version);
    let size = (e.len() - size_at - 4) as i32;
    e.patch_i32(size_at, size);
    e.into_inner()
}

/// A decoded request header (for a broker-side reader).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeader {
    /// The raw API key.
    pub api_key: i16,
    /// The requested version.
    pub api_version: i16,
    /// The correlation id to echo.
    pub correlation_id: i32,
    /// The client id, if sent.
    pub client_id: Option<String>,
}

impl RequestHeader {
    /// Reads the fixed part of a request header (api key, version, correlation id, client id).
    /// The caller skips the tagged fields once it knows whether the version is flexible.
    pub fn decode(d: &mut Decoder<'_>) -> DecodeResult<RequestHeader> {
        Ok(RequestHeader {
            api_key: d.i16()?,
            api_version: d.i16()?,
            correlation_id: d.i32()?,
            client_id: d.nullable_string(false)?,
        })
    }
}

/// Encodes a complete response frame: size, header, body.
pub fn encode_response<R: Request>(resp: &R::Response, version: i16, correlation_id: i32) -> Vec<u8> {
    let mut e = Encoder::new();
    let size_at = e.reserve_i32();
    e.i32(correlation_id);
    e.tagged_fields(response_header_flexible(R::KEY, R::flexible(version)));
    resp.encode(&mut e, version);
    let size = (e.len() - size_at - 4) as i32;
    e.patch_i32(size_at, size);
    e.into_inner()
}

/// Reads the response header from a frame body (without its size prefix) and returns the
/// correlation id and a decoder positioned at the body.
pub fn decode_response_header<R: Request>(frame: &[u8], version: i16) -> DecodeResult<(i32, Decoder<'_>)> {
    let mut d = Decoder::new(frame);
    let correlation_id = d.i32()?;
    d.skip_tagged_fields(response_header_flexible(R::KEY, R::flexible(version)))?;
    Ok((correlation_id, d))
}

/// Decodes a response body of `version`. Bytes after a complete body are ignored, as the Java
/// client and librdkafka do: librdkafka's mock, for one, ends flexible Metadata responses with a
/// second tagged-field section. The count of ignored bytes is returned for logging.
pub fn decode_response_body<R: Request>(mut d: Decoder<'_>, version: i16) -> DecodeResult<(R::Response, usize)> {
    let resp = R::Response::decode(&mut d, version)?;
    Ok((resp, d.remaining()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_len_rejects_negative_and_oversized() {
        assert_eq!(frame_len(10i32.to_be_bytes(), 100).unwrap(), 10);
        assert!(frame_len((-1i32).to_be_bytes(), 100).is_err());
        assert!(frame_len(101i32.to_be_bytes(), 100).is_err());
    }
}
