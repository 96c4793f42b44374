#![forbid(unsafe_code)]
//! Typed client of the linux-patch-api REST API, and the `linux-patch-ctl` command line.
//!
//! Principal types: [`Credentials`] (where the server is and which certificates prove who we are),
//! [`ApiClient`] (one mTLS connection pool, TLS 1.3 only, trusting only the configured CA) and
//! [`ApiResponse`] (status, `X-Request-Id` and the parsed [`Envelope`]). The end-to-end tests drive the
//! service through this library, so what an operator's tooling sees is what the tests assert.
//!
//! What this crate must never do: fall back to the system trust store or to TLS 1.2.

mod api;
mod credentials;
pub mod demo;
mod envelope;
mod tls;

pub use api::{ApiClient, ApiResponse, ClientError, PackageQuery};
pub use credentials::Credentials;
pub use envelope::{Envelope, ErrorBody};
