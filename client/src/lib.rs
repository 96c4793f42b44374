#![forbid(unsafe_code)]
//! Typed client of the linux-patch-api REST API, and the `linux-patch-ctl` command line.
//!
//! Principal types: [`Credentials`] (where the server is and which certificates prove who we are),
//! [`ApiClient`] (one mTLS connection pool, TLS 1.3 only, trusting only the configured CA) and
//! [`ApiResponse`] (status, `X-Request-Id` and the parsed [`Envelope`]). The end-to-end tests drive the
//! service through this library, so what an operator's tooling sees is what the tests assert.
//!
//! Jobs: [`calls`] builds the requests of the job API (install, update, remove, patches, jobs, reboot) as
//! plain values sent with [`ApiClient::call`]; [`ws`] is the WebSocket client of `/api/v1/ws/jobs`
//! ([`ws::JobSocket`], opened with [`ApiClient::job_socket`]); [`ApiClient::wait_for_job`] follows a job to
//! its end over the socket and falls back to polling; [`progress`] renders it for `linux-patch-ctl watch`.
//!
//! What this crate must never do: fall back to the system trust store or to TLS 1.2.

mod api;
pub mod calls;
pub mod cli;
mod credentials;
pub mod demo;
mod envelope;
pub mod progress;
mod tls;
mod wait;
pub mod ws;

pub use api::{ApiClient, ApiResponse, ClientError, PackageQuery};
pub use credentials::Credentials;
pub use envelope::{Envelope, ErrorBody};
pub use wait::{JobProgress, POLL_INTERVAL, WaitError};
