//! TLS for the mock's listeners (feature `tls`), and, with the feature `mock-tls`, a small
//! certificate authority that issues certificates at run time, so that no test or example
//! keeps a key in the repository.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io;
use std::sync::Arc;

/// A certificate chain and its private key, PEM.
#[derive(Clone)]
pub struct MockTls {
    pub(crate) chain_pem: String,
    pub(crate) key_pem: String,
}

impl std::fmt::Debug for MockTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MockTls { chain: <pem>, key: <hidden> }")
    }
}

fn invalid(what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("{what}: {e}"))
}

impl MockTls {
    /// The rustls server configuration for these files; with `client_ca_pem`, clients must
    /// present a certificate signed by one of those CAs.
    pub(crate) fn server_config(&self, client_ca_pem: Option<&str>) -> io::Result<Arc<rustls::ServerConfig>> {
        let chain = CertificateDer::pem_slice_iter(self.chain_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid("mock TLS certificate chain", e))?;
        if chain.is_empty() {
            return Err(invalid("mock TLS certificate chain", "no certificate"));
        }
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).map_err(|e| invalid("mock TLS key", e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid("mock TLS", e))?;
        let builder = match client_ca_pem {
            None => builder.with_no_client_auth(),
            Some(pem) => {
                let mut roots = rustls::RootCertStore::empty();
                for ca in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                    roots
                        .add(ca.map_err(|e| invalid("mock TLS client CA", e))?)
                        .map_err(|e| invalid("mock TLS client CA", e))?;
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .map_err(|e| invalid("mock TLS client CA", e))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let cfg = builder.with_single_cert(chain, key).map_err(|e| invalid("mock TLS certificate", e))?;
        Ok(Arc::new(cfg))
    }
}

/// A throwaway certificate authority: a self-signed CA certificate whose key lives only in
/// memory, issuing server and client certificates for tests.
#[cfg(feature = "mock-tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock-tls")))]
pub struct CertificateAuthority {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

/// A certificate issued by a [`CertificateAuthority`], with its private key (PKCS#8), PEM.
#[cfg(feature = "mock-tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock-tls")))]
#[derive(Clone)]
pub struct IssuedCertificate {
    /// The certificate.
    pub cert_pem: String,
    /// Its private key.
    pub key_pem: String,
}

#[cfg(feature = "mock-tls")]
impl std::fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IssuedCertificate { cert: <pem>, key: <hidden> }")
    }
}

#[cfg(feature = "mock-tls")]
impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CertificateAuthority { key: <hidden> }")
    }
}

#[cfg(feature = "mock-tls")]
impl CertificateAuthority {
    /// A new CA with a fresh key.
    pub fn generate(name: &str) -> io::Result<CertificateAuthority> {
        let key = rcgen::KeyPair::generate().map_err(|e| invalid("CA key", e))?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| invalid("CA", e))?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).map_err(|e| invalid("CA", e))?;
        Ok(CertificateAuthority { cert, key })
    }

    /// The CA certificate, PEM: what clients trust (`ssl.ca.location`).
    pub fn ca_pem(&self) -> String {
        self.cert.pem()
    }

    /// A certificate for `names` (DNS names or IP addresses), good for a server and a client.
    pub fn issue(&self, names: &[&str]) -> io::Result<IssuedCertificate> {
        let key = rcgen::KeyPair::generate().map_err(|e| invalid("key", e))?;
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = rcgen::CertificateParams::new(names.clone()).map_err(|e| invalid("certificate", e))?;
        params.distinguished_name.push(rcgen::DnType::CommonName, names.first().cloned().unwrap_or_default());
        params.extended_key_usages =
            vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth, rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.cert, &self.key).map_err(|e| invalid("certificate", e))?;
        Ok(IssuedCertificate { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }
}

#[cfg(all(test, feature = "mock-tls"))]
mod tests {
    use super::*;

    #[test]
    fn an_issued_certificate_makes_a_server_config() {
        let ca = CertificateAuthority::generate("test CA").unwrap();
        let leaf = ca.issue(&["localhost", "127.0.0.1"]).unwrap();
        let tls = MockTls { chain_pem: leaf.cert_pem.clone(), key_pem: leaf.key_pem.clone() };
        assert!(tls.server_config(None).is_ok());
        assert!(!format!("{leaf:?}{tls:?}").contains("PRIVATE"));
        assert!(tls.server_config(Some(&ca.ca_pem())).is_ok());
        let broken = MockTls { chain_pem: String::new(), key_pem: leaf.key_pem };
        assert!(broken.server_config(None).is_err());
    }
}
