//! Which package manager a host uses, and the name grammar each one imposes on top of [`PackageName`].

mod apk;
mod deb;
mod dnf;
mod pacman;

use crate::names::{PackageName, ValidationError, Version};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The package-manager family of a host. Reported in `/system/info` as `package_manager`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Backend {
    /// Debian and derivatives: apt + dpkg.
    Apt,
    /// Fedora, RHEL 8+ and rebuilds.
    Dnf,
    /// RHEL 7 family and hosts where `yum` is the front end (dnf's grammar).
    Yum,
    /// Alpine.
    Apk,
    /// Arch.
    Pacman,
}

impl Backend {
    /// The lowercase name used in the API and in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Apt => "apt",
            Backend::Dnf => "dnf",
            Backend::Yum => "yum",
            Backend::Apk => "apk",
            Backend::Pacman => "pacman",
        }
    }

    /// Checks `name` against this backend's own grammar.
    ///
    /// - apt: Debian policy §5.6.1, `[a-z0-9][a-z0-9+.-]+` (at least two characters, lowercase).
    /// - dnf/yum: RPM names, the union grammar minus a trailing `.rpm` (a local file to dnf).
    /// - pacman: `[a-z0-9@._+-]`, not starting with `-` or `.`; we additionally refuse `@`.
    /// - apk: `[A-Za-z0-9._+-]`, which already excludes apk's special forms `!name`, `name@tag`, `name>ver`
    ///   and file paths; we additionally refuse `.apk` anywhere, which apk reads as a package file.
    pub fn check_name(self, name: &PackageName) -> Result<(), ValidationError> {
        let s = name.as_str();
        let refuse = |rule| {
            Err(ValidationError::Backend {
                kind: "package name",
                backend: self.as_str(),
                rule,
            })
        };
        match self {
            Backend::Apt => {
                if s.len() < 2 {
                    return refuse("Debian package names have at least two characters");
                }
                if s.bytes()
                    .any(|b| !(b.is_ascii_lowercase() || b.is_ascii_digit() || b"+.-".contains(&b)))
                {
                    return refuse("Debian package names use only a-z, 0-9, '+', '-' and '.'");
                }
                Ok(())
            }
            Backend::Pacman => pacman::check_name(s).or_else(refuse),
            Backend::Apk => apk::check_name(s).or_else(refuse),
            Backend::Dnf | Backend::Yum => dnf::check_name(s).or_else(refuse),
        }
    }

    /// Checks `version` against this backend's own version grammar, for pins such as apk's `name=VERSION`.
    ///
    /// - apk: apk-tools' version grammar (see the `apk` module): no epoch, `-rN` release.
    /// - pacman: `[EPOCH:]PKGVER[-PKGREL]` (see the `pacman` module).
    /// - dnf/yum: `[EPOCH:]VERSION[-RELEASE]` (see the `dnf` module).
    /// - apt: Debian's `[EPOCH:]UPSTREAM[-REVISION]` (see the `deb` module): never ends in `-`, which apt
    ///   would read as "remove".
    pub fn check_version(self, version: &Version) -> Result<(), ValidationError> {
        let refuse = |rule| {
            Err(ValidationError::Backend {
                kind: "version",
                backend: self.as_str(),
                rule,
            })
        };
        match self {
            Backend::Apk => apk::check_version(version.as_str()).or_else(refuse),
            Backend::Pacman => pacman::check_version(version.as_str()).or_else(refuse),
            Backend::Dnf | Backend::Yum => dnf::check_version(version.as_str()).or_else(refuse),
            Backend::Apt => deb::check_version(version.as_str()).or_else(refuse),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "apt" => Ok(Backend::Apt),
            "dnf" => Ok(Backend::Dnf),
            "yum" => Ok(Backend::Yum),
            "apk" => Ok(Backend::Apk),
            "pacman" => Ok(Backend::Pacman),
            other => Err(format!(
                "unknown package manager {other:?} (expected apt, dnf, yum, apk or pacman)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> PackageName {
        PackageName::new(s).expect("union grammar")
    }

    #[test]
    fn apt_follows_debian_policy() {
        assert!(Backend::Apt.check_name(&name("libstdc++6")).is_ok());
        assert!(Backend::Apt.check_name(&name("Hello")).is_err());
        assert!(Backend::Apt.check_name(&name("a")).is_err());
        assert!(Backend::Apt.check_name(&name("a_b")).is_err());
        assert!(Backend::Dnf.check_name(&name("NetworkManager")).is_ok());
    }
}
