//! The internal certificate authority of linux-patch-api.
//!
//! The service authenticates every client with mutual TLS against one CA that the operator controls. This crate
//! is that CA, small and typed, on top of `rcgen`:
//!
//! - [`Ca`] — a CA certificate and its key: [`Ca::generate`] a new one or load it with [`Ca::from_pem`].
//! - [`Ca::issue_server`] / [`Ca::issue_client`] — leaf certificates with the matching extended key usage
//!   (`serverAuth` or `clientAuth`), returned as an [`IssuedCert`].
//! - [`Ca::crl`] — a signed certificate revocation list naming revoked [`Serial`]s.
//! - [`CertInfo`] — serial, name and expiry read back from a certificate (to revoke one given as a file).
//! - [`Validity`] — an explicit `not_before`/`not_after` window; nothing here picks a date for you, so tests can
//!   issue certificates that are already expired or not yet valid.
//!
//! Why the defaults are what they are: rcgen's own defaults (a "rcgen self signed cert" subject, a validity of
//! 1975–4096, a serial derived from the public key) are all replaced, because an operator reading an audit log
//! must be able to tell certificates apart by serial and name, and a revocation list is useless when two
//! certificates share a serial. Serials are 16 random bytes; keys are ECDSA P-256 in PKCS#8 PEM.
//!
//! This crate never writes files: callers decide where PEM goes and with which mode (keys must be 0600).
#![forbid(unsafe_code)]

mod ca;
mod error;
mod inspect;
mod serial;
mod validity;

pub use ca::{Ca, IssuedCert};
pub use error::PkiError;
pub use inspect::CertInfo;
pub use serial::Serial;
pub use validity::Validity;
