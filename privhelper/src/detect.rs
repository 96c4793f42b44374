//! Which backend drives this host: from the configuration, or detected from the package root's
//! os-release (`ID`, `ID_LIKE`) and the programs present.

use crate::config::BackendChoice;
use crate::system::os_release;
use lpa_protocol::{Backend, OsRelease};
use std::path::Path;

/// Why no backend could be chosen.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// The backend's package manager is not installed on this host.
    #[error("{os} uses {backend}, but none of {looked_for} exists on this host")]
    ProgramMissing {
        /// The os-release ID, or `helper.yaml` for an explicit choice.
        os: String,
        /// The backend.
        backend: &'static str,
        /// The paths looked at.
        looked_for: String,
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

/// The absolute paths of the program that identifies each backend on a host, in the order the launcher's
/// table tries them.
pub fn program_candidates(backend: Backend) -> &'static [&'static str] {
    match backend {
        Backend::Apt => &["/usr/bin/apt-get"],
        Backend::Dnf => &["/usr/bin/dnf"],
        Backend::Yum => &["/usr/bin/yum"],
        Backend::Pacman => &["/usr/bin/pacman"],
        Backend::Apk => &["/sbin/apk", "/usr/sbin/apk", "/usr/bin/apk"],
        _ => &[],
    }
}

/// Chooses the backend; `present` says whether a path exists on this host (the real check is
/// [`exists`]).
pub fn detect(
    choice: BackendChoice,
    root: &Path,
    present: impl Fn(&str) -> bool,
) -> Result<Backend, DetectError> {
    let installed = |backend| program_candidates(backend).iter().any(|p| present(p));
    let missing = |os: &str, backend: Backend| DetectError::ProgramMissing {
        os: os.to_owned(),
        backend: backend.as_str(),
        looked_for: program_candidates(backend).join(", "),
    };
    if let Some(backend) = choice.backend() {
        return if installed(backend) {
            Ok(backend)
        } else {
            Err(missing("helper.yaml", backend))
        };
    }
    let os = os_release::read(root).map_err(|e| DetectError::Unknown {
        root: root.display().to_string(),
        reason: format!("no readable etc/os-release or usr/lib/os-release ({e})"),
    })?;
    let family = family(&os).ok_or_else(|| DetectError::Unknown {
        root: root.display().to_string(),
        reason: format!("unrecognised distribution {:?}", os.id),
    })?;
    match family {
        // RHEL 8+ ships both (`yum` is a link to dnf): dnf is the real front end; a RHEL 7 host has
        // only yum.
        Backend::Dnf if !installed(Backend::Dnf) && installed(Backend::Yum) => Ok(Backend::Yum),
        backend if installed(backend) => Ok(backend),
        backend => Err(missing(&os.id, backend)),
    }
}

/// Whether `path` exists as a regular, executable file.
pub fn exists(path: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The package-manager family of a parsed os-release (`ID`, then `ID_LIKE`), or `None`.
pub fn family(os: &OsRelease) -> Option<Backend> {
    const FAMILIES: [(&[&str], Backend); 4] = [
        (&["debian", "ubuntu"], Backend::Apt),
        (
            &[
                "fedora",
                "rhel",
                "centos",
                "rocky",
                "almalinux",
                "ol",
                "amzn",
            ],
            Backend::Dnf,
        ),
        (&["arch", "archlinux"], Backend::Pacman),
        (&["alpine"], Backend::Apk),
    ];
    std::iter::once(os.id.as_str())
        .chain(os.id_like.iter().map(String::as_str))
        .find_map(|id| {
            FAMILIES
                .iter()
                .find(|(ids, _)| ids.contains(&id))
                .map(|(_, b)| *b)
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

    fn root_with(id_line: &str) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::fs::write(root.path().join("etc/os-release"), id_line).unwrap();
        root
    }

    #[test]
    fn each_family_is_recognised_by_id_or_id_like() {
        for (id, like, be) in [
            ("debian", &[][..], Backend::Apt),
            ("linuxmint", &["ubuntu", "debian"][..], Backend::Apt),
            ("fedora", &[][..], Backend::Dnf),
            ("rocky", &["rhel", "centos", "fedora"][..], Backend::Dnf),
            ("arch", &[][..], Backend::Pacman),
            ("endeavouros", &["arch"][..], Backend::Pacman),
            ("alpine", &[][..], Backend::Apk),
        ] {
            assert_eq!(family(&os(id, like)), Some(be), "{id}");
        }
        assert_eq!(family(&os("plan9", &[])), None);
    }

    #[test]
    fn the_program_present_decides_between_dnf_and_yum() {
        let root = root_with("ID=\"rhel\"\n");
        let only = |p: &'static str| move |q: &str| q == p;
        assert_eq!(
            detect(BackendChoice::Auto, root.path(), only("/usr/bin/dnf")).unwrap(),
            Backend::Dnf
        );
        assert_eq!(
            detect(BackendChoice::Auto, root.path(), only("/usr/bin/yum")).unwrap(),
            Backend::Yum
        );
        let err = detect(BackendChoice::Auto, root.path(), |_| false).unwrap_err();
        assert!(
            matches!(err, DetectError::ProgramMissing { backend: "dnf", .. }),
            "{err}"
        );
        assert!(err.to_string().contains("/usr/bin/dnf"), "{err}");
    }

    #[test]
    fn an_explicit_choice_skips_detection_but_needs_its_program() {
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(
            detect(BackendChoice::Pacman, empty.path(), |p| p
                == "/usr/bin/pacman")
            .unwrap(),
            Backend::Pacman
        );
        let err = detect(BackendChoice::Apk, empty.path(), |_| false).unwrap_err();
        assert!(err.to_string().contains("helper.yaml uses apk"), "{err}");
    }

    #[test]
    fn an_unreadable_or_unknown_os_release_asks_for_an_explicit_backend() {
        let empty = tempfile::tempdir().unwrap();
        let err = detect(BackendChoice::Auto, empty.path(), |_| true).unwrap_err();
        assert!(err.to_string().contains("set `backend:`"), "{err}");
        let root = root_with("ID=plan9\n");
        let err = detect(BackendChoice::Auto, root.path(), |_| true).unwrap_err();
        assert!(err.to_string().contains("plan9"), "{err}");
    }
}
