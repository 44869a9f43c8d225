//! How connections are secured: `security.protocol`, TLS settings and the SASL mechanism,
//! gathered from builder calls and librdkafka-style properties, then checked and resolved once
//! when the client is built. The resolution is a pure function of the settings.

use crate::error::{Error, Result};
use crate::sasl::{SaslMechanism, TokenProvider};
use std::path::PathBuf;
use std::sync::Arc;

/// `security.protocol`: whether connections use TLS and whether they authenticate with SASL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecurityProtocol {
    /// Neither.
    Plaintext,
    /// TLS.
    Ssl,
    /// SASL over plain TCP: PLAIN sends the password in the clear.
    SaslPlaintext,
    /// SASL over TLS: what managed Kafka services require.
    SaslSsl,
}

impl SecurityProtocol {
    /// Reads a `security.protocol` value (any case).
    pub fn parse(s: &str) -> Result<SecurityProtocol> {
        Ok(match s.trim().to_ascii_uppercase().as_str() {
            "PLAINTEXT" => SecurityProtocol::Plaintext,
            "SSL" => SecurityProtocol::Ssl,
            "SASL_PLAINTEXT" => SecurityProtocol::SaslPlaintext,
            "SASL_SSL" => SecurityProtocol::SaslSsl,
            other => {
                return Err(Error::Config(format!(
                    "security.protocol {other:?}: expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
                )))
            }
        })
    }

    /// Whether connections use TLS.
    pub fn tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// Whether connections authenticate with SASL.
    pub fn sasl(self) -> bool {
        matches!(self, SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl)
    }

    fn of(tls: bool, sasl: bool) -> SecurityProtocol {
        match (tls, sasl) {
            (false, false) => SecurityProtocol::Plaintext,
            (true, false) => SecurityProtocol::Ssl,
            (false, true) => SecurityProtocol::SaslPlaintext,
            (true, true) => SecurityProtocol::SaslSsl,
        }
    }
}

/// Where the certificates that may sign a broker's certificate come from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CaRoots {
    /// Mozilla's roots, compiled in (the webpki-roots crate). The default.
    WebPki,
    /// The operating system's store (rustls-native-certs; honours `SSL_CERT_FILE`).
    Platform,
    /// The PEM certificates in a file (`ssl.ca.location`).
    File(PathBuf),
}

/// TLS settings (`security.protocol` SSL or SASL_SSL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// Trusted roots.
    pub ca: CaRoots,
    /// A client certificate chain and its private key, PEM files, for brokers that require
    /// mutual TLS (`ssl.certificate.location`, `ssl.key.location`).
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Check that the broker's certificate names the host it was reached at. On by default;
    /// turn it off only with [`TlsConfig::dangerous_skip_hostname_verification`].
    pub verify_hostname: bool,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig { ca: CaRoots::WebPki, client_cert: None, verify_hostname: true }
    }
}

impl TlsConfig {
    /// Accepts a broker certificate issued for another name, as long as a trusted CA signed
    /// it (`ssl.endpoint.identification.algorithm=none`). Anyone holding any certificate from
    /// that CA can then pose as the broker: use it only where names can't be fixed.
    pub fn dangerous_skip_hostname_verification(mut self) -> TlsConfig {
        self.verify_hostname = false;
        self
    }

    /// Trusts the CA certificates in a PEM file (`ssl.ca.location`).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> TlsConfig {
        self.ca = CaRoots::File(path.into());
        self
    }

    /// Presents this certificate chain and key (PEM files) to brokers that ask for one.
    pub fn client_cert(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> TlsConfig {
        self.client_cert = Some((cert.into(), key.into()));
        self
    }
}

/// Security settings as given, before they are checked.
#[derive(Debug, Clone, Default)]
pub(crate) struct SecuritySettings {
    protocol: Option<SecurityProtocol>,
    tls: Option<TlsConfig>,
    sasl: Option<SaslMechanism>,
    mechanism_name: Option<String>,
    username: Option<String>,
    password: Option<Hidden>,
    oauth: Option<TokenProvider>,
    /// `sasl.oauthbearer.token.endpoint.url`: a `file://` URL to read tokens from.
    token_file: Option<PathBuf>,
    /// `enable.sasl.oauthbearer.unsecure.jwt` and `sasl.oauthbearer.config`'s `principal=` and
    /// `lifeSeconds=`.
    unsecure_jwt: bool,
    jwt_principal: Option<String>,
    jwt_lifetime_secs: Option<u64>,
}

/// A password that Debug output leaves out.
#[derive(Clone)]
struct Hidden(String);

impl std::fmt::Debug for Hidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<hidden>")
    }
}

/// Settings resolved for connections.
#[derive(Debug, Clone, Default)]
pub(crate) struct Security {
    #[cfg(feature = "tls")]
    pub tls: Option<super::tls::TlsConnector>,
    pub sasl: Option<Arc<SaslMechanism>>,
}

impl SecuritySettings {
    pub(crate) fn protocol(&mut self, p: SecurityProtocol) {
        self.protocol = Some(p);
    }

    pub(crate) fn tls(&mut self, t: TlsConfig) {
        self.tls = Some(t);
    }

    pub(crate) fn sasl(&mut self, m: SaslMechanism) {
        self.sasl = Some(m);
    }

    pub(crate) fn oauth(&mut self, p: TokenProvider) {
        self.oauth = Some(p);
    }

    fn tls_mut(&mut self) -> &mut TlsConfig {
        self.tls.get_or_insert_with(TlsConfig::default)
    }

    /// Takes one security property (see [`crate::properties`]).
    pub(crate) fn set(&mut self, name: &str, value: &str) -> Result<()> {
        let value = value.trim();
        match name.trim() {
            "security.protocol" => self.protocol = Some(SecurityProtocol::parse(value)?),
            "ssl.ca.location" => {
                self.tls_mut().ca = match value {
                    "probe" => CaRoots::Platform,
                    _ => CaRoots::File(PathBuf::from(value)),
                }
            }
            "ssl.certificate.location" => {
                let key = self.tls_mut().client_cert.take().map(|(_, k)| k).unwrap_or_default();
                self.tls_mut().client_cert = Some((PathBuf::from(value), key));
            }
            "ssl.key.location" => {
                let cert = self.tls_mut().client_cert.take().map(|(c, _)| c).unwrap_or_default();
                self.tls_mut().client_cert = Some((cert, PathBuf::from(value)));
            }
            "ssl.endpoint.identification.algorithm" => {
                self.tls_mut().verify_hostname = match value.to_ascii_lowercase().as_str() {
                    "https" => true,
                    "none" | "" => {
                        log::warn!(
                            "ssl.endpoint.identification.algorithm={value:?}: broker host names are not checked \
                             against their certificates, so any certificate the CA signed passes for any broker"
                        );
                        false
                    }
                    other => {
                        return Err(Error::Config(format!(
                            "ssl.endpoint.identification.algorithm {other:?}: expected https or none"
                        )))
                    }
                }
            }
            "sasl.mechanisms" | "sasl.mechanism" => self.mechanism_name = Some(value.to_string()),
            "sasl.username" => self.username = Some(value.to_string()),
            "sasl.password" => self.password = Some(Hidden(value.to_string())),
            "sasl.oauthbearer.token.endpoint.url" => match value.strip_prefix("file://") {
                Some(path) => self.token_file = Some(PathBuf::from(path)),
                None => {
                    return Err(Error::Config(format!(
                        "sasl.oauthbearer.token.endpoint.url {value:?}: only file:// URLs are read; fetch tokens \
                         over HTTP in a KafkaClientBuilder::sasl_oauthbearer closure"
                    )))
                }
            },
            "enable.sasl.oauthbearer.unsecure.jwt" => {
                self.unsecure_jwt = match value {
                    "true" => true,
                    "false" => false,
                    other => return Err(Error::Config(format!("{name} {other:?}: expected true or false"))),
                }
            }
            // librdkafka's form: space-separated name=value pairs.
            "sasl.oauthbearer.config" => {
                for pair in value.split_whitespace() {
                    match pair.split_once('=') {
                        Some(("principal", p)) => self.jwt_principal = Some(p.to_string()),
                        Some(("lifeSeconds", n)) => {
                            // A year at most: longer is a typo, and sums with the clock stay small.
                            let secs = n.parse::<u64>().ok().filter(|s| (1..=365 * 24 * 3600).contains(s));
                            self.jwt_lifetime_secs = Some(secs.ok_or_else(|| {
                                Error::Config(format!(
                                    "sasl.oauthbearer.config lifeSeconds {n:?}: expected seconds, 1 to 31536000"
                                ))
                            })?)
                        }
                        _ => {
                            return Err(Error::Config(format!(
                                "sasl.oauthbearer.config {pair:?}: only principal= and lifeSeconds= are understood"
                            )))
                        }
                    }
                }
            }
            other => return Err(crate::properties::misplaced(other, crate::properties::Target::Client)),
        }
        Ok(())
    }

    /// Checks the settings against each other and builds what connections use. The protocol,
    /// unless given, follows from what is set: TLS settings mean TLS, a mechanism means SASL.
    pub(crate) fn resolve(&self) -> Result<Security> {
        let sasl = self.mechanism()?;
        let protocol = self.protocol.unwrap_or(SecurityProtocol::of(self.tls.is_some(), sasl.is_some()));
        // PLAIN sends the password itself; over plain TCP only if the user says so, never by
        // inference from a username and password alone (Java and librdkafka want it explicit too).
        if self.protocol.is_none() && protocol == SecurityProtocol::SaslPlaintext {
            if let Some(m @ SaslMechanism::Plain { .. }) = &sasl {
                return Err(Error::Config(format!(
                    "SASL {} without TLS would send the password in the clear: set security.protocol=SASL_SSL \
                     (with TLS settings as needed), or security.protocol=SASL_PLAINTEXT to accept that",
                    m.name()
                )));
            }
        }
        match (&sasl, protocol.sasl()) {
            (Some(m), false) => {
                return Err(Error::Config(format!(
                    "SASL {} is configured but security.protocol {protocol:?} does not use SASL",
                    m.name()
                )))
            }
            (None, true) => {
                return Err(Error::Config(format!(
                "security.protocol {protocol:?} needs a SASL mechanism (sasl.mechanisms, sasl.username, sasl.password)"
            )))
            }
            _ => {}
        }
        if let Some(t) = &self.tls {
            if !protocol.tls() {
                return Err(Error::Config(format!(
                    "TLS settings are given but security.protocol {protocol:?} does not use TLS"
                )));
            }
            if let Some((c, k)) = &t.client_cert {
                if c.as_os_str().is_empty() || k.as_os_str().is_empty() {
                    return Err(Error::Config(
                        "a client certificate needs both ssl.certificate.location and ssl.key.location".into(),
                    ));
                }
            }
        }
        let sasl = sasl.map(Arc::new);
        if !protocol.tls() {
            return Ok(Security { sasl, ..Security::default() });
        }
        #[cfg(feature = "tls")]
        {
            let tls = self.tls.clone().unwrap_or_default().connector()?;
            Ok(Security { tls: Some(tls), sasl })
        }
        #[cfg(not(feature = "tls"))]
        Err(Error::Config(format!("security.protocol {protocol:?} needs TLS: build plainkafka with the `tls` feature")))
    }

    /// Where OAUTHBEARER tokens come from: the builder's closure, a token file, or (for
    /// development) unsecured JWTs made here.
    fn token_provider(&self) -> Result<TokenProvider> {
        if let Some(p) = &self.oauth {
            return Ok(p.clone());
        }
        if let Some(path) = &self.token_file {
            return Ok(TokenProvider::from_file(path.clone()));
        }
        if self.unsecure_jwt {
            let principal = self.jwt_principal.as_deref().ok_or_else(|| {
                Error::Config(
                    "enable.sasl.oauthbearer.unsecure.jwt needs sasl.oauthbearer.config=principal=NAME".into(),
                )
            })?;
            let lifetime = std::time::Duration::from_secs(self.jwt_lifetime_secs.unwrap_or(3600));
            #[cfg(feature = "scram")]
            return Ok(TokenProvider::unsecured_jwt(principal, lifetime));
            #[cfg(not(feature = "scram"))]
            return Err(Error::Config(format!(
                "unsecured JWTs for {principal} ({lifetime:?}) need plainkafka's `scram` feature (base64)"
            )));
        }
        Err(Error::Config(
            "sasl.mechanisms OAUTHBEARER needs tokens: KafkaClientBuilder::sasl_oauthbearer, \
             sasl.oauthbearer.token.endpoint.url=file://PATH, or enable.sasl.oauthbearer.unsecure.jwt=true"
                .into(),
        ))
    }

    /// The SASL mechanism: given whole, or made from the properties.
    fn mechanism(&self) -> Result<Option<SaslMechanism>> {
        if let Some(m) = &self.sasl {
            return Ok(Some(m.clone()));
        }
        let name = match &self.mechanism_name {
            Some(n) => n.clone(),
            None if self.username.is_some() || self.password.is_some() => "PLAIN".to_string(),
            None if self.oauth.is_some() || self.token_file.is_some() || self.unsecure_jwt => "OAUTHBEARER".to_string(),
            None => return Ok(None),
        };
        if name.trim().eq_ignore_ascii_case("OAUTHBEARER") {
            return self.token_provider().map(|p| Some(SaslMechanism::OAuthBearer(p)));
        }
        let (Some(user), Some(Hidden(pass))) = (&self.username, &self.password) else {
            return Err(Error::Config(format!("SASL {name} needs sasl.username and sasl.password")));
        };
        SaslMechanism::from_name(&name, user, pass).map(Some).map_err(Error::Config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(props: &[(&str, &str)]) -> Result<SecuritySettings> {
        let mut s = SecuritySettings::default();
        for (k, v) in props {
            s.set(k, v)?;
        }
        Ok(s)
    }

    #[test]
    fn the_protocol_follows_from_what_is_set() {
        let r = settings(&[]).unwrap().resolve().unwrap();
        assert!(r.sasl.is_none());
        let r = settings(&[("security.protocol", "sasl_plaintext"), ("sasl.username", "u"), ("sasl.password", "p")])
            .unwrap()
            .resolve()
            .unwrap();
        assert_eq!(r.sasl.unwrap().name(), "PLAIN");
        let s = settings(&[("sasl.mechanisms", "scram-sha-512"), ("sasl.username", "u"), ("sasl.password", "p")]);
        match s.unwrap().resolve() {
            Ok(r) => assert_eq!(r.sasl.unwrap().name(), "SCRAM-SHA-512"),
            Err(e) => assert!(!cfg!(feature = "scram") && e.to_string().contains("`scram` feature"), "{e}"),
        }
        let tls = settings(&[("security.protocol", "SSL")]).unwrap().resolve();
        assert_eq!(tls.is_ok(), cfg!(feature = "tls"), "{tls:?}");
    }

    #[test]
    fn contradictions_and_gaps_are_config_errors() {
        for (props, needle) in [
            (vec![("security.protocol", "SASL_SSL")], "needs a SASL mechanism"),
            (
                vec![("security.protocol", "PLAINTEXT"), ("sasl.username", "u"), ("sasl.password", "p")],
                "does not use SASL",
            ),
            (
                vec![
                    ("security.protocol", "SASL_PLAINTEXT"),
                    ("sasl.mechanisms", "SCRAM-SHA-256"),
                    ("sasl.username", "u"),
                ],
                "sasl.password",
            ),
            (vec![("security.protocol", "PLAINTEXT"), ("ssl.ca.location", "/x")], "does not use TLS"),
            (vec![("ssl.certificate.location", "/c.pem")], "ssl.key.location"),
            (
                vec![("sasl.mechanisms", "GSSAPI"), ("sasl.username", "u"), ("sasl.password", "p")],
                "unknown SASL mechanism",
            ),
            (vec![("sasl.mechanisms", "OAUTHBEARER")], "needs tokens"),
            (vec![("sasl.username", "u"), ("sasl.password", "p")], "password in the clear"),
            (vec![("enable.sasl.oauthbearer.unsecure.jwt", "true")], "principal=NAME"),
        ] {
            let err = settings(&props).unwrap().resolve().unwrap_err().to_string();
            assert!(err.contains(needle), "{props:?}: {err}");
        }
        let err = settings(&[("security.protocol", "TLS")]).unwrap_err().to_string();
        assert!(err.contains("SASL_SSL"), "{err}");
        let err = settings(&[("sasl.passwd", "x")]).unwrap_err().to_string();
        assert!(err.contains("unknown property") && err.contains("sasl.password"), "{err}");
        let err = settings(&[("ssl.endpoint.identification.algorithm", "dns")]).unwrap_err().to_string();
        assert!(err.contains("https or none"), "{err}");
        let err = settings(&[("sasl.oauthbearer.token.endpoint.url", "https://idp/token")]).unwrap_err().to_string();
        assert!(err.contains("only file://"), "{err}");
        let err = settings(&[("sasl.oauthbearer.config", "scope=x")]).unwrap_err().to_string();
        assert!(err.contains("principal="), "{err}");
    }

    #[test]
    fn oauthbearer_tokens_from_a_file_or_made_unsecured() {
        let s = settings(&[("sasl.oauthbearer.token.endpoint.url", "file:///run/token")]).unwrap();
        assert_eq!(s.resolve().unwrap().sasl.unwrap().name(), "OAUTHBEARER");
        let s = settings(&[
            ("enable.sasl.oauthbearer.unsecure.jwt", "true"),
            ("sasl.oauthbearer.config", "principal=alice lifeSeconds=60"),
        ])
        .unwrap();
        assert_eq!(s.resolve().map(|r| r.sasl.unwrap().name()).ok(), cfg!(feature = "scram").then_some("OAUTHBEARER"));
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        let s = settings(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.username", "alice"),
            ("sasl.password", "hunter2"),
        ])
        .unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
        let r = s.resolve().unwrap();
        let shown = format!("{r:?}");
        assert!(shown.contains("alice") && !shown.contains("hunter2"), "{shown}");
    }
}
