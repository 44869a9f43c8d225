//! SASL authentication (KIP-43, KIP-152): the mechanisms as sans-io state machines that turn
//! the server's last message into the client's next one. The connection carries their
//! messages in SaslHandshake and SaslAuthenticate requests; nothing here touches a socket.
//!
//! - PLAIN (RFC 4616): one message, user and password in the clear (use it over TLS).
//! - SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), with the feature `scram`: the
//!   password never crosses the wire, and the client checks that the server knows it too.
//! - OAUTHBEARER (RFC 7628, KIP-255): a bearer token from a closure the user supplies, asked
//!   again on every (re-)authentication.

pub(crate) mod oauthbearer;
pub(crate) mod plain;
#[cfg(feature = "scram")]
pub(crate) mod scram;

#[cfg(feature = "scram")]
#[cfg_attr(docsrs, doc(cfg(feature = "scram")))]
#[cfg(feature = "unstable")]
pub use oauthbearer::unsecured_jwt;
pub use oauthbearer::{OAuthBearerToken, TokenProvider};
use std::fmt;

/// A SASL mechanism with its credentials. Debug output never shows a password or token.
#[derive(Clone)]
#[non_exhaustive]
pub enum SaslMechanism {
    /// PLAIN: user name and password, sent as they are.
    Plain {
        /// The user.
        username: String,
        /// The password.
        password: String,
    },
    /// SCRAM-SHA-256.
    #[cfg(feature = "scram")]
    ScramSha256 {
        /// The user.
        username: String,
        /// The password.
        password: String,
    },
    /// SCRAM-SHA-512.
    #[cfg(feature = "scram")]
    ScramSha512 {
        /// The user.
        username: String,
        /// The password.
        password: String,
    },
    /// OAUTHBEARER with tokens from a closure, called at every authentication.
    OAuthBearer(TokenProvider),
}

impl SaslMechanism {
    /// The mechanism's name as SaslHandshake sends it.
    pub fn name(&self) -> &'static str {
        match self {
            SaslMechanism::Plain { .. } => "PLAIN",
            #[cfg(feature = "scram")]
            SaslMechanism::ScramSha256 { .. } => "SCRAM-SHA-256",
            #[cfg(feature = "scram")]
            SaslMechanism::ScramSha512 { .. } => "SCRAM-SHA-512",
            SaslMechanism::OAuthBearer(_) => "OAUTHBEARER",
        }
    }

    /// Builds a mechanism from its name (`sasl.mechanisms`) and `sasl.username`/`sasl.password`.
    pub fn from_name(name: &str, username: &str, password: &str) -> Result<SaslMechanism, String> {
        let (username, password) = (username.to_string(), password.to_string());
        Ok(match name.trim().to_ascii_uppercase().as_str() {
            "PLAIN" => SaslMechanism::Plain { username, password },
            #[cfg(feature = "scram")]
            "SCRAM-SHA-256" => SaslMechanism::ScramSha256 { username, password },
            #[cfg(feature = "scram")]
            "SCRAM-SHA-512" => SaslMechanism::ScramSha512 { username, password },
            #[cfg(not(feature = "scram"))]
            "SCRAM-SHA-256" | "SCRAM-SHA-512" => {
                return Err(format!("{name} needs plainkafka's `scram` feature"));
            }
            "OAUTHBEARER" => {
                return Err("OAUTHBEARER needs a token provider: use KafkaClientBuilder::sasl_oauthbearer".into())
            }
            other => {
                return Err(format!(
                    "unknown SASL mechanism {other:?} (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER)"
                ))
            }
        })
    }

    /// Starts one authentication exchange; OAUTHBEARER asks its provider for a token here.
    pub(crate) fn start(&self) -> Result<Box<dyn Exchange>, String> {
        self.exchange(None)
    }

    /// The exchange, with SCRAM's client nonce as given, or fresh from the system's randomness.
    fn exchange(&self, nonce: Option<&str>) -> Result<Box<dyn Exchange>, String> {
        #[cfg(feature = "scram")]
        let nonce = || nonce.map_or_else(scram::nonce, |n| Ok(n.to_string()));
        #[cfg(not(feature = "scram"))]
        let _ = nonce;
        Ok(match self {
            SaslMechanism::Plain { username, password } => Box::new(plain::Plain::new(username, password)),
            #[cfg(feature = "scram")]
            SaslMechanism::ScramSha256 { username, password } => {
                Box::new(scram::ScramClient::new(scram::Hash::Sha256, username, password, &nonce()?))
            }
            #[cfg(feature = "scram")]
            SaslMechanism::ScramSha512 { username, password } => {
                Box::new(scram::ScramClient::new(scram::Hash::Sha512, username, password, &nonce()?))
            }
            SaslMechanism::OAuthBearer(provider) => Box::new(oauthbearer::OAuthBearer::new(provider.token()?)),
        })
    }
}

impl fmt::Debug for SaslMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SaslMechanism::Plain { username, .. } => {
                write!(f, "PLAIN {{ username: {username:?}, password: <hidden> }}")
            }
            #[cfg(feature = "scram")]
            SaslMechanism::ScramSha256 { username, .. } | SaslMechanism::ScramSha512 { username, .. } => {
                write!(f, "{} {{ username: {username:?}, password: <hidden> }}", self.name())
            }
            SaslMechanism::OAuthBearer(_) => write!(f, "OAUTHBEARER {{ token: <from provider> }}"),
        }
    }
}

/// Runs the client side of `mechanism` against scripted server messages and returns the
/// messages the client sent, or why it stopped: for fuzzing, and for checking a captured
/// exchange. SCRAM uses `nonce` as its client nonce instead of a random one; OAUTHBEARER calls
/// its token provider.
pub fn replay(mechanism: &SaslMechanism, nonce: &str, server: &[&[u8]]) -> Result<Vec<Vec<u8>>, String> {
    let mut exchange = mechanism.exchange(Some(nonce))?;
    let mut sent = vec![exchange.first()];
    for msg in server {
        match exchange.next(msg)? {
            Step::Send(m) => sent.push(m),
            Step::Done => return Ok(sent),
        }
    }
    Err("the server's messages ended before the exchange did".into())
}

/// Compares secrets in time that depends on their lengths only (a server's check of a
/// password or proof).
#[cfg(any(feature = "mock", feature = "scram"))]
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    diff == 0 && a.len() == b.len()
}

/// What a mechanism does with the server's latest message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Send this to the server.
    Send(Vec<u8>),
    /// Authenticated: nothing more to send.
    Done,
}

/// One client-side exchange. `first` gives the opening message; `next` takes each server
/// message and says what to send, or fails with a reason for the user.
pub(crate) trait Exchange: Send {
    fn first(&mut self) -> Vec<u8>;
    fn next(&mut self, server: &[u8]) -> Result<Step, String>;
}

#[cfg(all(test, feature = "scram"))]
mod tests {
    use super::*;

    #[test]
    #[cfg(any(feature = "mock", feature = "scram"))]
    fn constant_time_eq_compares_contents_and_lengths() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn replay_reproduces_the_rfc_7677_exchange() {
        let m = SaslMechanism::from_name("SCRAM-SHA-256", "user", "pencil").unwrap();
        let first: &[u8] = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let last: &[u8] = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
        let sent = replay(&m, "rOprNGfwEbeRWgbNEkqO", &[first, last]).unwrap();
        assert_eq!(sent[0], b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        assert!(sent[1].ends_with(b",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="));
        assert!(replay(&m, "rOprNGfwEbeRWgbNEkqO", &[first]).unwrap_err().contains("ended"));
        assert!(format!("{m:?}").contains("<hidden>") && !format!("{m:?}").contains("pencil"));
    }
}
