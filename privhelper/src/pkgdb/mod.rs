//! Direct readers of package databases (no process needed): the dpkg status file, and the deb822
//! paragraph format it shares with `apt-cache show`.

pub mod deb822;
pub mod dpkg;
