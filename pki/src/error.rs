//! The one error type of the crate.

/// Everything that can go wrong while creating, loading or using the CA.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// rcgen refused the parameters, a key or a certificate.
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// `not_after` is not later than `not_before`.
    #[error("validity window is empty: not_after {not_after} is not after not_before {not_before}")]
    EmptyValidity {
        /// Start of the requested window.
        not_before: time::OffsetDateTime,
        /// End of the requested window.
        not_after: time::OffsetDateTime,
    },
    /// A CA certificate in PEM could not be parsed as X.509.
    #[error("the CA certificate is not valid PEM/X.509: {0}")]
    BadCertificate(String),
    /// The certificate is not a CA certificate.
    #[error("the certificate is not a CA certificate (basicConstraints cA is not set)")]
    NotACa,
    /// The private key does not belong to the certificate.
    #[error("the private key does not match the CA certificate's public key")]
    KeyMismatch,
    /// A server certificate was requested without any name to put in its subjectAltName.
    #[error("a server certificate needs at least one DNS name or IP address")]
    NoServerNames,
    /// A serial number given as text is not 1 to 20 bytes of hex.
    #[error("invalid serial number {0:?}: expected 1 to 20 bytes of hex (colons allowed)")]
    BadSerial(String),
}
