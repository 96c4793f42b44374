//! The rustls server configuration: TLS 1.3 only, a client certificate from the configured CA is mandatory,
//! optional CRL, ALPN `http/1.1`, no session resumption.
//!
//! Why these defaults:
//! - **TLS 1.3 only** (API.md): the version list is set explicitly, so even a build in which some dependency
//!   enables rustls' `tls12` feature cannot negotiate TLS 1.2.
//! - **The ring provider, passed explicitly** (`builder_with_provider`): the process-default provider panics
//!   when two providers end up in the dependency graph, and ring keeps the C surface small.
//! - **No tickets, no session cache**: every connection runs a full handshake and is checked against the
//!   *current* CA and CRL. A resumed session would skip client-certificate verification.
//! - **Revocation**: with a CRL, rustls-webpki's defaults apply: the whole chain is checked and an unknown
//!   status is a rejection, so the CRL must be the one issued by the configured CA.
//!
//! - **Stale CRL**: with `tls.crl_expired: refuse` (default) the verifier enforces `nextUpdate`, so a CRL past
//!   it fails every handshake (fail closed) until a fresh one is installed; `warn` only reports it.
//!
//! The result lives in an [`ArcSwap`] ([`SharedServerConfig`]); the listener loads it for every accepted
//! connection, and [`crate::reload`] stores a new one when the files change or on SIGHUP.

use crate::config::TlsSection;
use arc_swap::ArcSwap;
use rustls::server::{NoServerSessionStorage, VerifierBuilderError, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[cfg(test)]
pub(crate) mod test_pki;
#[cfg(test)]
mod tests;

/// The server configuration shared with the accept loop; swap it to reload.
pub type SharedServerConfig = Arc<ArcSwap<ServerConfig>>;

/// A built server configuration plus facts the health check reports.
#[derive(Debug)]
pub struct ServerTls {
    /// The rustls configuration.
    pub config: Arc<ServerConfig>,
    /// Expiry of the server's own certificate.
    pub server_cert_not_after: Option<time::OffsetDateTime>,
}

/// Why the TLS configuration could not be built. Every variant names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    #[error("{}: cannot read {what}: {source}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What the file should contain.
        what: &'static str,
        /// Why.
        source: rustls_pki_types::pem::Error,
    },
    /// A PEM file holds no item of the expected kind.
    #[error("{}: contains no {what}", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
        /// What was expected.
        what: &'static str,
    },
    /// A CA certificate was rejected as a trust anchor.
    #[error("{}: CA certificate rejected: {source}", path.display())]
    CaCert {
        /// The file.
        path: PathBuf,
        /// Why.
        source: rustls::Error,
    },
    /// The client-certificate verifier could not be built (bad CRL or CA).
    #[error("{}: {source}", path.display())]
    Verifier {
        /// The CRL file for CRL errors, else the CA file.
        path: PathBuf,
        /// Why.
        source: VerifierBuilderError,
    },
    /// The server certificate and key do not work together (mismatch, unsupported key type).
    #[error("{} / {}: server certificate or key rejected: {source}", cert.display(), key.display())]
    ServerCert {
        /// Certificate file.
        cert: PathBuf,
        /// Key file.
        key: PathBuf,
        /// Why.
        source: rustls::Error,
    },
    /// The provider does not support TLS 1.3 (cannot happen with ring; kept typed rather than unwrapped).
    #[error("TLS 1.3 not available: {0}")]
    Protocol(rustls::Error),
}

/// Builds the server configuration from the files named in `tls:`.
pub fn build_server_config(files: &TlsSection) -> Result<ServerTls, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());

    let mut roots = RootCertStore::empty();
    for ca in read_certs(&files.ca_cert, "CA certificates")? {
        roots.add(ca).map_err(|source| TlsError::CaCert {
            path: files.ca_cert.clone(),
            source,
        })?;
    }
    let mut verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
    if let Some(crl_path) = &files.crl_path {
        verifier = verifier.with_crls(read_crls(crl_path)?);
        if files.crl_expired == crate::config::CrlExpired::Refuse {
            // Checked at every handshake against the clock, so a CRL that goes stale while loaded refuses too.
            verifier = verifier.enforce_revocation_expiration();
        }
    }
    let verifier = verifier.build().map_err(|source| TlsError::Verifier {
        path: match (&source, &files.crl_path) {
            (VerifierBuilderError::InvalidCrl(_), Some(crl)) => crl.clone(),
            _ => files.ca_cert.clone(),
        },
        source,
    })?;

    let chain = read_certs(&files.server_cert, "server certificate")?;
    let server_cert_not_after = chain.first().and_then(|c| crate::identity::not_after(c));
    let key = PrivateKeyDer::from_pem_file(&files.server_key).map_err(|source| TlsError::Pem {
        path: files.server_key.clone(),
        what: "private key",
        source,
    })?;

    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(TlsError::Protocol)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|source| TlsError::ServerCert {
            cert: files.server_cert.clone(),
            key: files.server_key.clone(),
            source,
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.send_tls13_tickets = 0;
    config.session_storage = Arc::new(NoServerSessionStorage {});
    Ok(ServerTls {
        config: Arc::new(config),
        server_cert_not_after,
    })
}

fn read_certs(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    read_pem_objects(path, what)
}

fn read_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsError> {
    read_pem_objects(path, "certificate revocation list")
}

/// Every PEM object of type `T` in `path`; a file without any is an error naming it, not an empty trust set.
fn read_pem_objects<T: rustls::pki_types::pem::PemObject>(
    path: &Path,
    what: &'static str,
) -> Result<Vec<T>, TlsError> {
    let objects = T::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|source| TlsError::Pem {
            path: path.to_path_buf(),
            what,
            source,
        })?;
    if objects.is_empty() {
        return Err(TlsError::Empty {
            path: path.to_path_buf(),
            what,
        });
    }
    Ok(objects)
}
