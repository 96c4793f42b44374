//! The pacman backend (Arch): the installed list read straight from the local database files
//! ([`localdb`]), parsers for `pacman -Qu` ([`upgrades`]) and `pacman -Si` ([`info`]), and for
//! package-changing runs a progress tracker over pacman's stdout lines ([`progress`]) and the failure
//! classification ([`classify`]).
//!
//! Listing never touches the system's sync databases: `-Syy` and `-Qu`/`-Si` run against the helper's
//! own listing database (see `launcher/table/pacman.rs`), so no `-Sy` is ever followed by an install
//! without `-u`. pacman's repositories carry no security data: every update is `security: false`.

pub mod classify;
pub mod exact;
pub mod info;
pub mod localdb;
mod manager;
pub mod progress;
#[cfg(test)]
mod recorded;
pub mod upgrades;

pub use manager::PacmanManager;
