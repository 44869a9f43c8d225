//! The mock's SASL side: the configured users and mechanisms, and each connection's
//! authentication state. Before a connection authenticates, only ApiVersions, SaslHandshake
//! and SaslAuthenticate are served (anything else closes it, as Kafka does); a bad login gets
//! SASL_AUTHENTICATION_FAILED (58) and the connection closes after the answer.

use crate::protocol::error_code::ErrorCode;
use crate::protocol::sasl_authenticate::{SaslAuthenticateRequest, SaslAuthenticateResponse};
use crate::protocol::sasl_handshake::{SaslHandshakeRequest, SaslHandshakeResponse};
use crate::protocol::ApiKey;
use crate::sasl::oauthbearer;
use crate::sasl::plain;
#[cfg(feature = "scram")]
use crate::sasl::scram::{self, Credential, Hash, ScramServer};
#[cfg(feature = "scram")]
use std::collections::HashMap;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// A SASL listener's settings, as the builder gathers them.
#[derive(Clone, Default)]
pub(crate) struct SaslSettings {
    pub users: BTreeMap<String, String>,
    pub tokens: BTreeSet<String>,
    pub mechanisms: Option<Vec<String>>,
    pub session_lifetime: Option<Duration>,
}

impl std::fmt::Debug for SaslSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaslSettings")
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("tokens", &self.tokens.len())
            .field("mechanisms", &self.mechanisms)
            .field("session_lifetime", &self.session_lifetime)
            .finish()
    }
}

/// The mechanisms offered when none are named.
fn default_mechanisms(tokens: bool) -> Vec<String> {
    let mut m = vec!["PLAIN".to_string()];
    if cfg!(feature = "scram") {
        m.extend(["SCRAM-SHA-256".to_string(), "SCRAM-SHA-512".to_string()]);
    }
    if tokens {
        m.push("OAUTHBEARER".into());
    }
    m
}

/// What the brokers check logins against; SCRAM credentials are derived once, at start.
pub(crate) struct SaslServer {
    mechanisms: Vec<String>,
    passwords: BTreeMap<String, String>,
    #[cfg(feature = "scram")]
    scram: HashMap<(Hash, String), Credential>,
    tokens: BTreeSet<String>,
    lifetime: Option<Duration>,
}

impl SaslServer {
    pub(crate) fn new(s: &SaslSettings) -> SaslServer {
        #[cfg(feature = "scram")]
        let scram = {
            let mut creds = HashMap::new();
            for (user, pass) in &s.users {
                for hash in [Hash::Sha256, Hash::Sha512] {
                    let salt = scram::nonce().unwrap_or_else(|_| format!("salt-of-{user}"));
                    creds.insert(
                        (hash, user.clone()),
                        Credential::new(hash, pass, salt.as_bytes(), scram::MOCK_ITERATIONS),
                    );
                }
            }
            creds
        };
        SaslServer {
            mechanisms: s.mechanisms.clone().unwrap_or_else(|| default_mechanisms(!s.tokens.is_empty())),
            passwords: s.users.clone(),
            #[cfg(feature = "scram")]
            scram,
            tokens: s.tokens.clone(),
            lifetime: s.session_lifetime,
        }
    }
}

impl SaslServer {
    /// Whether a PLAIN login matches, in time that doesn't say how much of the password was
    /// right (an unknown user is compared against an empty password).
    fn plain_matches(&self, user: &str, pass: &str) -> bool {
        let known = self.passwords.get(user);
        let expected = known.map_or(&[][..], |p| p.as_bytes());
        crate::sasl::constant_time_eq(expected, pass.as_bytes()) && known.is_some()
    }
}

impl std::fmt::Debug for SaslServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaslServer").field("mechanisms", &self.mechanisms).finish_non_exhaustive()
    }
}

/// One connection's progress.
#[derive(Default)]
pub(crate) struct Session {
    mechanism: Option<String>,
    #[cfg(feature = "scram")]
    scram: Option<ScramServer>,
    oauth_refused: bool,
    /// `Some(deadline)` once authenticated; `Some(None)` for a session without end.
    authenticated: Option<Option<Instant>>,
}

impl Session {
    /// Whether a request of `key` may be served now.
    pub(crate) fn allows(&self, key: ApiKey) -> bool {
        match key {
            ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate => true,
            _ => self.authenticated.is_some_and(|until| until.is_none_or(|t| Instant::now() < t)),
        }
    }

    /// Behavior: picks the mechanism if offered, else UNSUPPORTED_SASL_MECHANISM with the
    /// list. A handshake on an authenticated connection starts a re-authentication.
    pub(crate) fn handshake(&mut self, server: &SaslServer, req: SaslHandshakeRequest) -> SaslHandshakeResponse {
        let offered = server.mechanisms.contains(&req.mechanism);
        self.mechanism = offered.then_some(req.mechanism);
        #[cfg(feature = "scram")]
        {
            self.scram = None;
        }
        self.oauth_refused = false;
        let error_code = if offered { 0 } else { ErrorCode::UNSUPPORTED_SASL_MECHANISM.code() };
        SaslHandshakeResponse { error_code, mechanisms: server.mechanisms.clone() }
    }

    /// Behavior: runs one step of the chosen mechanism. Returns the answer and whether the
    /// connection closes after it (a failed login).
    pub(crate) fn authenticate(
        &mut self,
        server: &SaslServer,
        req: SaslAuthenticateRequest,
    ) -> (SaslAuthenticateResponse, bool) {
        let step = match self.mechanism.as_deref() {
            None => Err("SaslAuthenticate before a successful SaslHandshake".to_string()),
            Some("PLAIN") => match plain::parse(&req.auth_bytes) {
                Some((user, pass)) if server.plain_matches(&user, &pass) => Ok(Vec::new()),
                _ => Err("Invalid username or password".into()),
            },
            #[cfg(feature = "scram")]
            Some(m @ ("SCRAM-SHA-256" | "SCRAM-SHA-512")) => {
                let hash = if m == "SCRAM-SHA-256" { Hash::Sha256 } else { Hash::Sha512 };
                self.scram_step(server, hash, &req.auth_bytes)
            }
            Some("OAUTHBEARER") => self.oauth_step(server, &req.auth_bytes),
            Some(other) => Err(format!("mechanism {other} is not implemented by the mock")),
        };
        let ok = |auth_bytes: Vec<u8>, lifetime_ms: i64| SaslAuthenticateResponse {
            error_code: 0,
            error_message: None,
            auth_bytes,
            session_lifetime_ms: lifetime_ms,
        };
        match step {
            // More to come.
            Ok(bytes) if self.authenticated_pending() => (ok(bytes, 0), false),
            Ok(bytes) => {
                let now = Instant::now();
                self.authenticated = Some(server.lifetime.map(|l| now + l));
                self.mechanism = None;
                let ms = server.lifetime.map_or(0, |l| l.as_millis() as i64);
                (ok(bytes, ms), false)
            }
            Err(why) => {
                self.authenticated = None;
                let resp = SaslAuthenticateResponse {
                    error_code: ErrorCode::SASL_AUTHENTICATION_FAILED.code(),
                    error_message: Some(format!("Authentication failed: {why}")),
                    auth_bytes: Vec::new(),
                    session_lifetime_ms: 0,
                };
                (resp, true)
            }
        }
    }

    /// True while a multi-step mechanism waits for the client's next message.
    fn authenticated_pending(&self) -> bool {
        #[cfg(feature = "scram")]
        if self.scram.is_some() {
            return true;
        }
        self.oauth_refused
    }

    #[cfg(feature = "scram")]
    fn scram_step(&mut self, server: &SaslServer, hash: Hash, msg: &[u8]) -> Result<Vec<u8>, String> {
        match self.scram.take() {
            None => {
                let mut s = ScramServer::new(hash);
                let nonce = scram::nonce()?;
                let first = s.challenge(msg, &nonce, |u| server.scram.get(&(hash, u.to_string())).cloned())?;
                self.scram = Some(s);
                Ok(first)
            }
            Some(mut s) => s.verify(msg).map(|(_, last)| last),
        }
    }

    fn oauth_step(&mut self, server: &SaslServer, msg: &[u8]) -> Result<Vec<u8>, String> {
        if std::mem::take(&mut self.oauth_refused) {
            return Err("invalid token".into());
        }
        match oauthbearer::parse(msg) {
            Some(token) if server.tokens.contains(&token) => Ok(Vec::new()),
            _ => {
                // RFC 7628: the error as JSON; the client answers ^A and then fails.
                self.oauth_refused = true;
                Ok(br#"{"status":"invalid_token"}"#.to_vec())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> SaslServer {
        let mut s = SaslSettings::default();
        s.users.insert("alice".into(), "pw".into());
        s.tokens.insert("tok".into());
        SaslServer::new(&s)
    }

    #[test]
    fn nothing_but_sasl_before_login_and_58_on_a_bad_one() {
        let srv = server();
        let mut s = Session::default();
        assert!(!s.allows(ApiKey::Metadata) && s.allows(ApiKey::ApiVersions));
        let hs = s.handshake(&srv, SaslHandshakeRequest { mechanism: "GSSAPI".into() });
        assert_eq!(hs.error_code, ErrorCode::UNSUPPORTED_SASL_MECHANISM.code());
        assert!(hs.mechanisms.contains(&"OAUTHBEARER".to_string()));
        s.handshake(&srv, SaslHandshakeRequest { mechanism: "PLAIN".into() });
        let (r, close) = s.authenticate(&srv, SaslAuthenticateRequest { auth_bytes: b"\0alice\0no".to_vec() });
        assert_eq!((r.error_code, close), (58, true));
        assert!(!s.allows(ApiKey::Metadata));
        s.handshake(&srv, SaslHandshakeRequest { mechanism: "PLAIN".into() });
        let (r, close) = s.authenticate(&srv, SaslAuthenticateRequest { auth_bytes: b"\0alice\0pw".to_vec() });
        assert_eq!((r.error_code, close), (0, false));
        assert!(s.allows(ApiKey::Metadata));
    }

    #[test]
    fn a_refused_token_gets_json_then_58() {
        let srv = server();
        let mut s = Session::default();
        s.handshake(&srv, SaslHandshakeRequest { mechanism: "OAUTHBEARER".into() });
        let (r, close) =
            s.authenticate(&srv, SaslAuthenticateRequest { auth_bytes: b"n,,\x01auth=Bearer bad\x01\x01".to_vec() });
        assert_eq!((r.error_code, close), (0, false));
        assert!(r.auth_bytes.starts_with(b"{"));
        let (r, close) = s.authenticate(&srv, SaslAuthenticateRequest { auth_bytes: vec![1] });
        assert_eq!((r.error_code, close), (58, true));
    }
}
