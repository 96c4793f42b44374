//! The apk backend (Alpine): what apk's output and files mean.
//!
//! apk cannot run on the project's machines (no registry ships it), so every parser here is tested against
//! real output recorded from apk-tools 2.14.9 and 3.0.6 (`tests/data/apk/`) and against real apk-format
//! files written by the test kit. The pieces:
//!
//! - [`db`]: the package-record format of `lib/apk/db/installed` and `APKINDEX`; [`installed`] reads the
//!   installed database and `/etc/apk/world` ([`world`]) of a root directly, no process needed;
//! - [`pkginfo`]: a package's `.PKGINFO`;
//! - [`upgradable`]: `apk list --upgradable` and `apk version -l '<'`;
//! - [`detail`]: `apk policy` and `apk info -a` (the candidate and its fields);
//! - apk's version ordering (upgrade or downgrade, newest candidate) is `lpa_protocol::order::apk`;
//! - [`index`]: the repository indexes (`APKINDEX.tar.gz`) a root's apk reads, read directly;
//!   [`exact`]: every requested name resolved exactly against the database and those indexes (issue 11);
//! - [`plan`]: which command-table entry performs a change, refusing silent downgrades;
//! - [`progress`]: job events from apk's stdout during a change; [`classify`]: why a change failed;
//! - [`manager`]: all of the above as the broker's [`crate::backend::PackageManager`], with the file
//!   [`stamp`]s its caches and the package-state stamp follow.

pub mod classify;
pub mod db;
pub mod detail;
pub mod exact;
pub mod index;
pub mod installed;
pub mod manager;
pub mod pkginfo;
pub mod plan;
pub mod progress;
// Test-only modules live in `test_*.rs` files, which the architecture test reads as test code.
#[cfg(test)]
#[path = "test_replay.rs"]
mod replay;
pub mod stamp;
#[cfg(test)]
#[path = "test_transcript.rs"]
mod transcript;
pub mod upgradable;
pub mod world;
