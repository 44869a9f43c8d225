//! SaslAuthenticate (key 36), v0–v2: carries one SASL token each way (KIP-152), and from v1
//! the session's lifetime, after which the client must authenticate again (KIP-368).

use super::codec::{DecodeResult, Decoder, Encoder};
use super::{ApiKey, Request, Response};

/// SaslAuthenticate request.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslAuthenticateRequest {
    /// The mechanism's next client message.
    pub auth_bytes: Vec<u8>,
}

/// Tokens carry passwords and proofs: Debug shows only their size.
impl std::fmt::Debug for SaslAuthenticateRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SaslAuthenticateRequest {{ auth_bytes: <{} bytes> }}", self.auth_bytes.len())
    }
}

/// SaslAuthenticate response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslAuthenticateResponse {
    /// SASL_AUTHENTICATION_FAILED (58) on a bad login.
    pub error_code: i16,
    /// The broker's explanation.
    pub error_message: Option<String>,
    /// The mechanism's next server message.
    pub auth_bytes: Vec<u8>,
    /// v1+: milliseconds until the session must be re-authenticated; 0 for never.
    pub session_lifetime_ms: i64,
}

impl Request for SaslAuthenticateRequest {
    const KEY: ApiKey = ApiKey::SaslAuthenticate;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 2;
    const FIRST_FLEXIBLE: i16 = 2;
    type Response = SaslAuthenticateResponse;

    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = Self::flexible(version);
        e.nullable_bytes(Some(&self.auth_bytes), flex);
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = Self::flexible(version);
        let auth_bytes = d.nullable_bytes(flex)?.unwrap_or_default().to_vec();
        d.skip_tagged_fields(flex)?;
        Ok(SaslAuthenticateRequest { auth_bytes })
    }
}

impl Response for SaslAuthenticateResponse {
    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = SaslAuthenticateRequest::flexible(version);
        e.i16(self.error_code);
        e.nullable_string(self.error_message.as_deref(), flex);
        e.nullable_bytes(Some(&self.auth_bytes), flex);
        if version >= 1 {
            e.i64(self.session_lifetime_ms);
        }
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = SaslAuthenticateRequest::flexible(version);
        let error_code = d.i16()?;
        let error_message = d.nullable_string(flex)?;
        let auth_bytes = d.nullable_bytes(flex)?.unwrap_or_default().to_vec();
        let session_lifetime_ms = if version >= 1 { d.i64()? } else { 0 };
        d.skip_tagged_fields(flex)?;
        Ok(SaslAuthenticateResponse { error_code, error_message, auth_bytes, session_lifetime_ms })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::*;

    #[test]
    fn round_trips_every_version_and_rejects_every_truncation() {
        for v in 0..=2 {
            let req = SaslAuthenticateRequest { auth_bytes: b"n,,n=user,r=abc".to_vec() };
            let resp = SaslAuthenticateResponse {
                error_code: 58,
                error_message: Some("bad".into()),
                auth_bytes: b"e=invalid-proof".to_vec(),
                session_lifetime_ms: if v >= 1 { 3_600_000 } else { 0 },
            };
            check_codec(&req, &resp, v);
        }
    }

    #[test]
    fn debug_hides_the_token() {
        let req = SaslAuthenticateRequest { auth_bytes: b"\0alice\0secret".to_vec() };
        let s = format!("{req:?}");
        assert!(!s.contains("secret") && s.contains("13 bytes"), "{s}");
    }
}
