//! OAUTHBEARER (RFC 7628 as Kafka uses it, KIP-255 and KIP-342): the client sends
//! `n,,^Aauth=Bearer <token>^A[key=value^A...]^A`. A broker that refuses the token answers with
//! a JSON error instead of an empty message; the client then sends a lone `^A` and the broker
//! fails the exchange.

use super::{Exchange, Step};
use std::fmt;
use std::sync::Arc;

const SEP: u8 = 0x01;

/// A bearer token and its SASL extensions (KIP-342).
#[derive(Clone, Default)]
pub struct OAuthBearerToken {
    value: String,
    extensions: Vec<(String, String)>,
}

impl OAuthBearerToken {
    /// A token, as the identity provider issued it (a JWT for Kafka's default validator).
    pub fn new(value: impl Into<String>) -> OAuthBearerToken {
        OAuthBearerToken { value: value.into(), extensions: Vec::new() }
    }

    /// Adds a SASL extension (`key=value`), which some brokers require (Confluent Cloud's
    /// `logicalCluster`, `identityPoolId`).
    pub fn extension(mut self, key: impl Into<String>, value: impl Into<String>) -> OAuthBearerToken {
        self.extensions.push((key.into(), value.into()));
        self
    }
}

impl fmt::Debug for OAuthBearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OAuthBearerToken {{ value: <hidden>, extensions: {:?} }}", self.extensions)
    }
}

/// Where OAUTHBEARER tokens come from: a closure called at every authentication, including
/// each re-authentication (KIP-368), so it can hand out a fresh token.
#[derive(Clone)]
pub struct TokenProvider(Arc<dyn Fn() -> Result<OAuthBearerToken, String> + Send + Sync>);

impl TokenProvider {
    /// Wraps `f`. An `Err` from it fails the authentication with that message.
    pub fn new(f: impl Fn() -> Result<OAuthBearerToken, String> + Send + Sync + 'static) -> TokenProvider {
        TokenProvider(Arc::new(f))
    }

    /// Reads the token from `path` at every authentication, so that whatever renews the file
    /// (a sidecar, a cron job) is picked up (`sasl.oauthbearer.token.endpoint.url=file://...`,
    /// as the Java client takes it).
    pub fn from_file(path: impl Into<std::path::PathBuf>) -> TokenProvider {
        let path = path.into();
        TokenProvider::new(move || {
            let text = std::fs::read_to_string(&path).map_err(|e| format!("token file {}: {e}", path.display()))?;
            match text.trim() {
                "" => Err(format!("token file {} is empty", path.display())),
                token => Ok(OAuthBearerToken::new(token)),
            }
        })
    }

    /// Makes a fresh unsecured JWT (`alg: none`) for `principal` at every authentication, valid
    /// for `lifetime`: what Kafka's default OAUTHBEARER validator accepts, for development only
    /// (librdkafka's `enable.sasl.oauthbearer.unsecure.jwt`).
    #[cfg(feature = "scram")]
    #[cfg_attr(docsrs, doc(cfg(feature = "scram")))]
    pub fn unsecured_jwt(principal: &str, lifetime: std::time::Duration) -> TokenProvider {
        let principal = principal.to_string();
        TokenProvider::new(move || unsecured_jwt(&principal, lifetime).map(OAuthBearerToken::new))
    }

    pub(crate) fn token(&self) -> Result<OAuthBearerToken, String> {
        (self.0)().map_err(|e| format!("the OAUTHBEARER token provider failed: {e}"))
    }
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenProvider(<closure>)")
    }
}

/// An unsecured JWT (`{"alg":"none"}`, no signature) with claims `sub`, `iat` and `exp`.
#[cfg(feature = "scram")]
#[cfg_attr(docsrs, doc(cfg(feature = "scram")))]
pub fn unsecured_jwt(principal: &str, lifetime: std::time::Duration) -> Result<String, String> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine;
    if principal.is_empty() || principal.chars().any(|c| c.is_control() || c == '"' || c == '\\') {
        return Err(format!("{principal:?} is not a usable principal name"));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| format!("the clock is before 1970: {e}"))?
        .as_secs();
    let exp = now
        .checked_add(lifetime.as_secs().max(1))
        .filter(|e| i64::try_from(*e).is_ok())
        .ok_or_else(|| format!("a token lifetime of {}s ends past any date a JWT can hold", lifetime.as_secs()))?;
    let claims = format!(r#"{{"sub":"{principal}","iat":{now},"exp":{exp}}}"#);
    Ok(format!("{}.{}.", B64.encode(r#"{"alg":"none"}"#), B64.encode(claims)))
}

pub(crate) struct OAuthBearer {
    token: OAuthBearerToken,
    refused: Option<String>,
}

impl OAuthBearer {
    pub(crate) fn new(token: OAuthBearerToken) -> OAuthBearer {
        OAuthBearer { token, refused: None }
    }
}

impl Exchange for OAuthBearer {
    fn first(&mut self) -> Vec<u8> {
        let mut m = format!("n,,\u{1}auth=Bearer {}\u{1}", self.token.value).into_bytes();
        for (k, v) in &self.token.extensions {
            m.extend_from_slice(format!("{k}={v}").as_bytes());
            m.push(SEP);
        }
        m.push(SEP);
        m
    }

    fn next(&mut self, server: &[u8]) -> Result<Step, String> {
        if let Some(why) = self.refused.take() {
            return Err(why);
        }
        if server.is_empty() {
            return Ok(Step::Done);
        }
        // The JSON error (RFC 7628 §3.2.2); the exchange must be finished with a lone ^A.
        self.refused = Some(format!("the broker refused the token: {}", String::from_utf8_lossy(server)));
        Ok(Step::Send(vec![SEP]))
    }
}

/// The token in a client's first message (the mock's side).
// The mock is the only caller outside tests.
#[cfg_attr(not(feature = "mock"), allow(dead_code))]
pub(crate) fn parse(message: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(message).ok()?;
    let rest = text.strip_prefix("n,")?;
    let (_authzid, kvs) = rest.split_once(",\u{1}")?;
    kvs.split('\u{1}').find_map(|kv| kv.strip_prefix("auth=Bearer ")).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_message_layout_and_refusal() {
        let tok = OAuthBearerToken::new("abc.def.").extension("logicalCluster", "lkc-1");
        let mut x = OAuthBearer::new(tok.clone());
        let m = x.first();
        assert_eq!(m, b"n,,\x01auth=Bearer abc.def.\x01logicalCluster=lkc-1\x01\x01");
        assert_eq!(parse(&m).as_deref(), Some("abc.def."));
        assert_eq!(x.next(b"").unwrap(), Step::Done);

        let mut x = OAuthBearer::new(tok);
        x.first();
        assert_eq!(x.next(br#"{"status":"invalid_token"}"#).unwrap(), Step::Send(vec![1]));
        let err = x.next(b"").unwrap_err();
        assert!(err.contains("invalid_token"), "{err}");
        assert!(!format!("{:?}", OAuthBearerToken::new("secret-token")).contains("secret"));
    }

    #[test]
    fn tokens_from_a_file_are_read_at_every_authentication() {
        let path = std::env::temp_dir().join(format!("plainkafka-token-{}", std::process::id()));
        let p = TokenProvider::from_file(&path);
        assert!(p.token().unwrap_err().contains("token file"));
        std::fs::write(&path, "first\n").unwrap();
        assert_eq!(p.token().unwrap().value, "first");
        std::fs::write(&path, "second").unwrap();
        assert_eq!(p.token().unwrap().value, "second");
        std::fs::write(&path, " \n").unwrap();
        assert!(p.token().unwrap_err().contains("empty"));
        std::fs::remove_file(&path).unwrap();
    }

    #[cfg(feature = "scram")]
    #[test]
    fn unsecured_jwts_name_the_principal() {
        use base64::Engine;
        let jwt = unsecured_jwt("alice", std::time::Duration::from_secs(60)).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!((parts.len(), parts[2]), (3, ""));
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[1]).unwrap();
        let claims = String::from_utf8(claims).unwrap();
        assert!(claims.starts_with(r#"{"sub":"alice","iat":"#), "{claims}");
        assert!(unsecured_jwt("a\"b", std::time::Duration::from_secs(60)).is_err());
        assert!(unsecured_jwt("alice", std::time::Duration::MAX).is_err(), "a lifetime past any date");
    }
}
