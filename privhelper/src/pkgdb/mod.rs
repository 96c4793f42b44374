//! Direct readers of package databases (no process needed): the dpkg status file, and the deb822
//! paragraph format it shares with `apt-cache show`; [`snapshot`] holds the before/after versions of a
//! change.

pub mod deb822;
pub mod dpkg;
pub mod snapshot;
