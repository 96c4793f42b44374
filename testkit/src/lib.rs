//! The linux-patch-api test kit: real infrastructure for tests and the demo, never mocks.
//!
//! Everything the end-to-end tests need to run the product for real, built from scratch on each machine:
//!
//! - [`pki::TestPki`] — a per-run CA with server, client, second-client, foreign, expired and revoked
//!   certificates and a CRL, written to a directory (keys 0600).
//! - [`fixtures::apt::AptFixtures`] — apt repositories (snapshots v1 and v2, each with a `main` and a Debian-like
//!   `security` suite) built with `dpkg-deb` and `apt-ftparchive` once per target directory and shared by every
//!   test process.
//! - [`sandbox::AptSandbox`] — a private package root that real `apt-get`/`dpkg` operate on through an
//!   `APT_CONFIG` file, leaving the host's package state untouched; [`bulk::write_dpkg_status`] fills one with
//!   thousands of synthetic installed packages for benchmarks.
//! - [`harness::Stack`] — the helper (as root) and the frontend (as uid 61001) started like production on a
//!   sandbox, with logs and restart controls.
//! - [`prereq`] — which Debian tools are needed, and the `apt-get install` line when some are missing.
//!
//! # Using the harness
//!
//! Tests run as root (the helper must start as root and drops the frontend to uid 61001). Build the binaries
//! first with `cargo build --workspace --bins`: cargo builds binaries only for the integration tests of their
//! own package, so a test in another crate cannot rely on them being fresh. [`paths::binary_path`] finds them
//! (`LPA_BIN_DIR`, else next to the running test) and says how to build them when they are missing.
//!
//! ```no_run
//! use lpa_testkit::fixtures::apt::{Snapshot, versions};
//! use lpa_testkit::harness::{Stack, StackOptions};
//!
//! # fn main() -> lpa_testkit::Result<()> {
//! let mut stack = Stack::start(StackOptions {
//!     preinstall: vec!["hello".into(), "demo-app".into()],
//!     ..StackOptions::default()
//! })?;
//! // Talk to stack.base_url() with stack.pki().client.{cert,key} and stack.pki().ca_cert;
//! // on a failed assertion, print stack.logs().
//! assert_eq!(stack.sandbox().installed_version("hello").as_deref(), Some(versions::HELLO_V1));
//! stack.sandbox_mut().publish(Snapshot::V2)?; // the vendor published updates
//! stack.stop_helper()?;                        // the frontend now answers 503 HELPER_UNAVAILABLE
//! stack.start_helper()?;
//! # Ok(())
//! # }
//! ```
//!
//! Dropping the [`harness::Stack`] stops both processes (SIGTERM, SIGKILL after 5 s) and removes its temporary
//! work directory. For the demo, pass `work_dir: Some(dir)` (kept) and call [`harness::Stack::wait`].
//!
//! # What the kit must never do
//!
//! Touch the host's package state (`/var/lib/dpkg`, `/etc/apt`, `/var/log/dpkg.log`), add users to the host,
//! change its own process environment (`APT_CONFIG` is set on each child only), or download anything.
#![forbid(unsafe_code)]

pub mod bulk;
mod error;
pub mod fixtures;
pub mod fsutil;
pub mod harness;
pub mod mirror;
pub mod paths;
pub mod pki;
pub mod prereq;
pub mod run;
pub mod sandbox;

pub use error::{Error, Result};
pub use fixtures::apt::{AptFixtures, Snapshot, Suite};
pub use harness::{Stack, StackOptions};
pub use pki::TestPki;
pub use sandbox::AptSandbox;
