//! The dnf backend (also yum's: same grammar, same output, the `yum` program): parsers for `rpm -qa --qf`
//! ([`installed`]), `dnf repoquery` ([`repoquery`]) and `dnf updateinfo` ([`updateinfo`]), the EVR order
//! (`lpa_protocol::order::rpm`) the broker needs to refuse a silent downgrade, and for package-changing runs the stdout progress
//! tracker ([`progress`]) and the failure classification ([`classify`]).
//!
//! Every parser reads a format the helper chose itself ([`query`]) or dnf's stable `LC_ALL=C` output, and is
//! tested against output recorded from real dnf 4.14 / rpm 4.18 on the test kit's fixtures
//! (`tests/data/dnf/`).
//!
//! [`DnfManager`] puts them together as the broker's [`crate::backend::PackageManager`] for dnf and yum:
//! [`plan`] maps each change to its command-table entry (refusing silent downgrades), [`stamp`] says when the
//! cached lists are stale.

pub mod classify;
pub mod exact;
pub mod installed;
pub mod manager;
pub mod plan;
pub mod progress;
pub mod query;
#[cfg(test)]
mod recorded;
pub mod repoquery;
pub mod stamp;
pub mod updateinfo;

pub use manager::DnfManager;
