//! TLS for broker connections, through rustls (feature `tls`). Settings are turned into one
//! rustls client configuration when the client is built; each connection then runs its
//! handshake within the connect timeout and names the broker in any failure.

use super::security::{CaRoots, TlsConfig};
use crate::error::{Error, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme, StreamOwned};
use std::io;
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

impl TlsConfig {
    /// Loads the files and builds the rustls configuration.
    pub(crate) fn connector(&self) -> Result<TlsConnector> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        match &self.ca {
            CaRoots::WebPki => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            CaRoots::Platform => {
                let found = rustls_native_certs::load_native_certs();
                for e in &found.errors {
                    log::warn!("platform CA store: {e}");
                }
                let (added, _) = roots.add_parsable_certificates(found.certs);
                if added == 0 {
                    return Err(Error::Config("no CA certificates found in the platform store".into()));
                }
            }
            CaRoots::File(path) => {
                let certs = read_certs(path, "ssl.ca.location")?;
                for c in certs {
                    roots.add(c).map_err(|e| {
                        Error::Config(format!("ssl.ca.location {}: unusable CA certificate: {e}", path.display()))
                    })?;
                }
            }
        }
        let roots = Arc::new(roots);
        let verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::clone(&roots), provider.clone())
                .build()
                .map_err(|e| Error::Config(format!("TLS: {e}")))?;
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Config(format!("TLS: {e}")))?;
        let builder = if self.verify_hostname {
            builder.with_webpki_verifier(verifier)
        } else {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(AnyName(verifier)))
        };
        let config = match &self.client_cert {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = read_certs(cert, "ssl.certificate.location")?;
                let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                    Error::Config(format!("ssl.key.location {}: no unencrypted PEM private key: {e}", key.display()))
                })?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| Error::Config(format!("TLS client certificate: {e}")))?
            }
        };
        Ok(TlsConnector(Arc::new(config)))
    }
}

fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let bad = |e: &dyn std::fmt::Display| Error::Config(format!("{what} {}: {e}", path.display()));
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(&e))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| bad(&e))?;
    if certs.is_empty() {
        return Err(bad(&"no PEM certificate in the file"));
    }
    Ok(certs)
}

/// A verifier that checks the chain but not the name (the explicit opt-out).
#[derive(Debug)]
struct AnyName(Arc<rustls::client::WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        use rustls::CertificateError::{NotValidForName, NotValidForNameContext};
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(NotValidForName | NotValidForNameContext { .. })) => {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// A built rustls client configuration, shared by every connection.
#[derive(Clone)]
pub(crate) struct TlsConnector(Arc<ClientConfig>);

impl std::fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsConnector")
    }
}

/// A TLS session over a TCP connection.
pub(crate) type TlsStream = StreamOwned<ClientConnection, TcpStream>;

impl TlsConnector {
    /// Runs the handshake with the broker at `addr` ("host:port"), verifying its certificate
    /// against the host part, within `deadline`.
    pub(crate) fn handshake(&self, addr: &str, mut tcp: TcpStream, deadline: Instant) -> Result<TlsStream> {
        let host = host_of(addr);
        let name = ServerName::try_from(host.to_string()).map_err(|_| Error::Tls {
            broker: addr.to_string(),
            message: format!("{host:?} is not a valid server name"),
        })?;
        let mut conn = ClientConnection::new(Arc::clone(&self.0), name)
            .map_err(|e| Error::Tls { broker: addr.to_string(), message: e.to_string() })?;
        while conn.is_handshaking() {
            let left = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero());
            let Some(left) = left else {
                return Err(Error::Tls { broker: addr.to_string(), message: "the TLS handshake timed out".into() });
            };
            let set = tcp.set_read_timeout(Some(left)).and_then(|_| tcp.set_write_timeout(Some(left)));
            if let Err(e) = set.and_then(|_| conn.complete_io(&mut tcp).map(drop)) {
                return Err(handshake_error(addr, e));
            }
        }
        Ok(StreamOwned::new(conn, tcp))
    }
}

/// A handshake failure, said plainly: a certificate problem names what was wrong, a closed
/// connection suggests the port does not speak TLS.
fn handshake_error(addr: &str, e: io::Error) -> Error {
    let message = match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)) => {
            "the broker's certificate was refused: UnknownIssuer, no trusted CA signed it (see ssl.ca.location)".into()
        }
        Some(rustls::Error::InvalidCertificate(c)) => format!("the broker's certificate was refused: {c}"),
        Some(other) => format!("TLS handshake failed: {other}"),
        None if e.kind() == io::ErrorKind::UnexpectedEof || e.kind() == io::ErrorKind::ConnectionReset => {
            "the broker closed the connection during the TLS handshake (is this a plaintext port?)".into()
        }
        None if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
            "the TLS handshake timed out (is this a plaintext port?)".into()
        }
        None => format!("TLS handshake failed: {e}"),
    };
    Error::Tls { broker: addr.to_string(), message }
}

/// The host part of "host:port" or "[v6]:port".
fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_part() {
        assert_eq!(host_of("broker-1.example:9093"), "broker-1.example");
        assert_eq!(host_of("127.0.0.1:9093"), "127.0.0.1");
        assert_eq!(host_of("[::1]:9093"), "::1");
    }

    #[test]
    fn missing_files_are_config_errors_naming_the_property() {
        let cfg = TlsConfig { ca: CaRoots::File("/nonexistent/ca.pem".into()), ..TlsConfig::default() };
        let err = cfg.connector().unwrap_err().to_string();
        assert!(err.contains("ssl.ca.location") && err.contains("/nonexistent/ca.pem"), "{err}");
        assert!(TlsConfig::default().connector().is_ok());
    }
}
