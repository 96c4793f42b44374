//! The apt backend: output parsers for `apt-get -s dist-upgrade`, `apt-cache show` and
//! `apt-cache policy`, and the cache of the upgradable list.

pub mod policy;
pub mod show;
pub mod simulate;

pub use simulate::UpgradableCache;
