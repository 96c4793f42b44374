//! The apt backend: output parsers for `apt-get -s dist-upgrade`, `apt-cache show` and
//! `apt-cache policy`, the cache of the upgradable list, and for package-changing runs the Status-Fd
//! parser ([`status_fd`]) and the failure classification ([`classify`]).

pub mod classify;
pub mod exact;
mod manager;
pub mod policy;
#[cfg(test)]
mod recorded;
pub mod show;
pub mod simulate;
pub mod status_fd;

pub use manager::AptManager;
pub use simulate::UpgradableCache;
