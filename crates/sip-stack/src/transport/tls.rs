//! TLS settings for the stream transport (RFC 3261 §26.2, `sips:`): a certificate chain
//! and key to serve with, and the roots to verify peers against when connecting out.
//! One crypto provider (ring) for the whole binary; configs are built once at startup,
//! never per connection.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls;

/// Errors loading TLS material; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// rustls refused the material.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// Built TLS configurations for serving and for connecting out.
#[derive(Clone)]
pub struct TlsSettings {
    /// Server side (our certificate).
    pub server: Arc<rustls::ServerConfig>,
    /// Client side (roots to verify peers).
    pub client: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsSettings")
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TlsSettings {
    /// Builds from PEM data: our chain and key, and the CA certificates we trust.
    pub fn from_pem(chain: &[u8], key: &[u8], roots: &[u8]) -> Result<TlsSettings, TlsError> {
        let bad = |what: &str, reason: String| TlsError::File {
            path: what.to_owned(),
            reason,
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain)
            .collect::<Result<_, _>>()
            .map_err(|e| bad("certificate", e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("certificate", "no certificate in PEM".into()));
        }
        let key =
            PrivateKeyDer::from_pem_slice(key).map_err(|e| bad("private key", e.to_string()))?;
        let server = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
        let mut store = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(roots) {
            let c = c.map_err(|e| bad("CA certificates", e.to_string()))?;
            store.add(c)?;
        }
        let client = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(store)
            .with_no_client_auth();
        Ok(TlsSettings {
            server: Arc::new(server),
            client: Arc::new(client),
        })
    }

    /// Builds from PEM files.
    pub fn from_files(chain: &Path, key: &Path, roots: &Path) -> Result<TlsSettings, TlsError> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|e| TlsError::File {
                path: p.display().to_string(),
                reason: e.to_string(),
            })
        };
        Self::from_pem(&read(chain)?, &read(key)?, &read(roots)?)
    }
}
