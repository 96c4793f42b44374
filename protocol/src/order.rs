//! Each backend's own version order: one implementation per ordering, used wherever versions are
//! compared (the frontend's `upgradable`, `sort=version`, the broker's downgrade checks).
//!
//! - [`deb`]: dpkg's (apt hosts).
//! - [`rpm`]: rpm's `rpmvercmp` and EVR comparison (dnf and yum hosts).
//! - [`alpm`]: libalpm's `alpm_pkg_vercmp` (pacman hosts): rpm-like, but without `~`/`^` rules.
//! - [`apk`]: apk-tools' `apk_version_compare` (Alpine).

pub mod alpm;
pub mod apk;
pub mod deb;
pub mod rpm;

use crate::Backend;
use std::cmp::Ordering;

impl Backend {
    /// Compares two versions the way this backend's package manager does.
    pub fn compare_versions(self, a: &str, b: &str) -> Ordering {
        match self {
            Backend::Apt => deb::compare(a, b),
            Backend::Dnf | Backend::Yum => rpm::compare_evr(a, b),
            Backend::Pacman => alpm::compare(a, b),
            Backend::Apk => apk::compare(a, b),
        }
    }
}
