//! SaslHandshake (key 17), v0–v1: picks the SASL mechanism and lists the broker's. plainkafka
//! sends v1 only, after which the exchange runs in SaslAuthenticate requests (KIP-152); v0's
//! raw, unframed tokens are not spoken.

use super::codec::{DecodeResult, Decoder, Encoder};
use super::{ApiKey, Request, Response};

/// SaslHandshake request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslHandshakeRequest {
    /// The mechanism, e.g. `SCRAM-SHA-512`.
    pub mechanism: String,
}

/// SaslHandshake response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslHandshakeResponse {
    /// UNSUPPORTED_SASL_MECHANISM when the broker doesn't offer the mechanism.
    pub error_code: i16,
    /// The mechanisms the broker offers on this listener.
    pub mechanisms: Vec<String>,
}

impl Request for SaslHandshakeRequest {
    const KEY: ApiKey = ApiKey::SaslHandshake;
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 1;
    const FIRST_FLEXIBLE: i16 = i16::MAX;
    type Response = SaslHandshakeResponse;

    fn encode(&self, e: &mut Encoder, _version: i16) {
        e.string(&self.mechanism, false);
    }

    fn decode(d: &mut Decoder<'_>, _version: i16) -> DecodeResult<Self> {
        Ok(SaslHandshakeRequest { mechanism: d.string(false)? })
    }
}

impl Response for SaslHandshakeResponse {
    fn encode(&self, e: &mut Encoder, _version: i16) {
        e.i16(self.error_code);
        e.array(&self.mechanisms, false, |e, m| e.string(m, false));
    }

    fn decode(d: &mut Decoder<'_>, _version: i16) -> DecodeResult<Self> {
        let error_code = d.i16()?;
        let mechanisms = d.array(false, 2, |d| d.string(false))?;
        Ok(SaslHandshakeResponse { error_code, mechanisms })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::*;

    #[test]
    fn round_trips_and_rejects_every_truncation() {
        let req = SaslHandshakeRequest { mechanism: "SCRAM-SHA-256".into() };
        let resp = SaslHandshakeResponse { error_code: 33, mechanisms: vec!["PLAIN".into(), "OAUTHBEARER".into()] };
        check_codec(&req, &resp, 1);
    }
}
