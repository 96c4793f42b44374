//! Which backend drives this host: from the configuration, or detected from the package root's
//! os-release (`ID`, `ID_LIKE`) and the programs present.

use crate::config::BackendChoice;
use crate::system::os_release;
use lpa_protocol::{Backend, OsRelease};
use std::path::Path;

/// Why no backend could be chosen.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// The distribution family is known but its backend is not implemented yet.
    #[error("{os} uses {backend}, which this version of the helper does not support yet")]
    NotSupportedYet {
        /// The os-release ID.
        os: String,
        /// The package manager that family uses.
        backend: &'static str,
    },
    /// A Debian-family root, but apt-get is missing on this host.
    #[error("{os} is a Debian-family system but {apt_get} is missing")]
    AptMissing {
        /// The os-release ID.
        os: String,
        /// The path looked at.
        apt_get: &'static str,
    },
    /// Nothing recognisable.
    #[error(
        "cannot detect the package manager of {root}: {reason} (set `backend:` in helper.yaml)"
    )]
    Unknown {
        /// The package root.
        root: String,
        /// Why.
        reason: String,
    },
}

/// The apt-get the launcher would run.
pub const APT_GET: &str = "/usr/bin/apt-get";

/// Chooses the backend; `apt_get_present` says whether [`APT_GET`] exists on this host.
pub fn detect(
    choice: BackendChoice,
    root: &Path,
    apt_get_present: bool,
) -> Result<Backend, DetectError> {
    if choice == BackendChoice::Apt {
        return Ok(Backend::Apt);
    }
    let os = os_release::read(root).map_err(|e| DetectError::Unknown {
        root: root.display().to_string(),
        reason: format!("no readable etc/os-release or usr/lib/os-release ({e})"),
    })?;
    from_os_release(&os, apt_get_present).map_err(|e| match e {
        DetectError::Unknown { reason, .. } => DetectError::Unknown {
            root: root.display().to_string(),
            reason,
        },
        other => other,
    })
}

/// The family decision on a parsed os-release.
pub fn from_os_release(os: &OsRelease, apt_get_present: bool) -> Result<Backend, DetectError> {
    let ids: Vec<&str> = std::iter::once(os.id.as_str())
        .chain(os.id_like.iter().map(String::as_str))
        .collect();
    let is = |names: &[&str]| ids.iter().any(|i| names.contains(i));
    let not_yet = |backend| {
        Err(DetectError::NotSupportedYet {
            os: os.id.clone(),
            backend,
        })
    };
    if is(&["debian", "ubuntu"]) {
        return if apt_get_present {
            Ok(Backend::Apt)
        } else {
            Err(DetectError::AptMissing {
                os: os.id.clone(),
                apt_get: APT_GET,
            })
        };
    }
    if is(&["fedora", "rhel", "centos", "rocky", "almalinux"]) {
        return not_yet("dnf");
    }
    if is(&["arch"]) {
        return not_yet("pacman");
    }
    if is(&["alpine"]) {
        return not_yet("apk");
    }
    Err(DetectError::Unknown {
        root: String::new(),
        reason: format!("unrecognised distribution {:?}", os.id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(id: &str, like: &[&str]) -> OsRelease {
        OsRelease {
            id: id.into(),
            id_like: like.iter().map(|s| s.to_string()).collect(),
            ..OsRelease::default()
        }
    }

    #[test]
    fn debian_family_with_apt_get_is_apt() {
        assert_eq!(
            from_os_release(&os("debian", &[]), true).unwrap(),
            Backend::Apt
        );
        assert_eq!(
            from_os_release(&os("linuxmint", &["ubuntu", "debian"]), true).unwrap(),
            Backend::Apt
        );
        assert!(matches!(
            from_os_release(&os("debian", &[]), false),
            Err(DetectError::AptMissing { .. })
        ));
    }

    #[test]
    fn other_families_are_clearly_not_supported_yet() {
        for (id, like, be) in [
            ("fedora", &[][..], "dnf"),
            ("rocky", &["rhel", "centos", "fedora"][..], "dnf"),
            ("arch", &[][..], "pacman"),
            ("alpine", &[][..], "apk"),
        ] {
            let err = from_os_release(&os(id, like), true).unwrap_err();
            assert!(
                err.to_string().contains(be) && err.to_string().contains("not support yet"),
                "{err}"
            );
        }
        assert!(matches!(
            from_os_release(&os("plan9", &[]), true),
            Err(DetectError::Unknown { .. })
        ));
    }

    #[test]
    fn reads_the_package_root_and_explicit_apt_skips_detection() {
        let root = tempfile::tempdir().unwrap();
        assert!(detect(BackendChoice::Auto, root.path(), true).is_err());
        assert_eq!(
            detect(BackendChoice::Apt, root.path(), false).unwrap(),
            Backend::Apt
        );
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::fs::write(root.path().join("etc/os-release"), "ID=debian\n").unwrap();
        assert_eq!(
            detect(BackendChoice::Auto, root.path(), true).unwrap(),
            Backend::Apt
        );
    }
}
