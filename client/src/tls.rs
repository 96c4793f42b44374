//! The client's TLS configuration: TLS 1.3 only, ring, only the configured CA, client certificate always.

use crate::api::ClientError;
use crate::credentials::Credentials;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;

/// Builds a rustls client configuration from the credential files.
pub(crate) fn client_config(creds: &Credentials) -> Result<rustls::ClientConfig, ClientError> {
    let file_err = |path: &std::path::Path, e: &dyn std::fmt::Display| {
        ClientError::Credentials(format!("{}: {e}", path.display()))
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in
        CertificateDer::pem_file_iter(&creds.ca_cert).map_err(|e| file_err(&creds.ca_cert, &e))?
    {
        let cert = cert.map_err(|e| file_err(&creds.ca_cert, &e))?;
        roots.add(cert).map_err(|e| file_err(&creds.ca_cert, &e))?;
    }
    let chain = CertificateDer::pem_file_iter(&creds.cert)
        .map_err(|e| file_err(&creds.cert, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(&creds.cert, &e))?;
    let key = PrivateKeyDer::from_pem_file(&creds.key).map_err(|e| file_err(&creds.key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| ClientError::Credentials(e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| ClientError::Credentials(format!("client certificate and key: {e}")))
}
