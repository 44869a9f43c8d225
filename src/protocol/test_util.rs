//! Shared checks for the codec tests: round trips and truncation.

use super::codec::{Decoder, Encoder};
use super::{Request, Response};
use std::fmt::Debug;

/// Encodes `resp` at `version`, decodes it back, checks equality and returns the bytes.
pub fn round_trip_response<R: Request>(resp: &R::Response, version: i16) -> Vec<u8>
where
    R::Response: PartialEq + Debug,
{
    let mut e = Encoder::new();
    resp.encode(&mut e, version);
    let bytes = e.into_inner();
    let mut d = Decoder::new(&bytes);
    let back = R::Response::decode(&mut d, version).unwrap_or_else(|e| panic!("v{version}: {e}"));
    d.finish("response").unwrap();
    assert_eq!(&back, resp, "v{version}");
    bytes
}

/// Encodes `req` at `version`, decodes it back, checks equality and returns the bytes.
pub fn round_trip_request<R: Request + PartialEq + Debug>(req: &R, version: i16) -> Vec<u8> {
    let mut e = Encoder::new();
    req.encode(&mut e, version);
    let bytes = e.into_inner();
    let mut d = Decoder::new(&bytes);
    let back = R::decode(&mut d, version).unwrap_or_else(|e| panic!("v{version}: {e}"));
    d.finish("request").unwrap();
    assert_eq!(&back, req, "v{version}");
    bytes
}

/// Every strict prefix of a valid response body must fail to decode (never panic).
pub fn assert_every_prefix_fails<R: Request>(bytes: &[u8], version: i16) {
    for n in 0..bytes.len() {
        let mut d = Decoder::new(&bytes[..n]);
        let r = R::Response::decode(&mut d, version).and_then(|_| d.finish("response"));
        assert!(r.is_err(), "v{version}: prefix of {n}/{} bytes decoded", bytes.len());
    }
}

/// Every strict prefix of a valid request body must fail to decode (never panic).
pub fn assert_every_request_prefix_fails<R: Request>(bytes: &[u8], version: i16) {
    for n in 0..bytes.len() {
        let mut d = Decoder::new(&bytes[..n]);
        let r = R::decode(&mut d, version).and_then(|_| d.finish("request"));
        assert!(r.is_err(), "v{version}: prefix of {n}/{} bytes decoded", bytes.len());
    }
}

/// The whole check for one API at one version: request and response each round-trip, and every
/// truncation of either fails.
pub fn check_codec<R: Request + PartialEq + Debug>(req: &R, resp: &R::Response, version: i16)
where
    R::Response: PartialEq + Debug,
{
    let bytes = round_trip_request(req, version);
    assert_every_request_prefix_fails::<R>(&bytes, version);
    let bytes = round_trip_response::<R>(resp, version);
    assert_every_prefix_fails::<R>(&bytes, version);
}
