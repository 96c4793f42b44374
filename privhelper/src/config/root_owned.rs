//! Files the root helper trusts must be root's alone.
//!
//! `helper.yaml` decides which package root, users and commands the helper uses, and the package-manager
//! configuration files it names (`apt.config_file`, `dnf.config_file`, `pacman.config_file`) can make apt,
//! dnf or pacman run hooks (`DPkg::Pre-Invoke`, plugins, `HookDir`) — as root. A file that another user owns,
//! or that a group or everyone may write, hands that user root. So the helper refuses to start unless each is
//! a regular file owned by uid 0 and not group- or world-writable (as it already requires of the reboot
//! command), and says which file and how to fix it.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Why a file is not safe for root to trust, with the fix.
#[derive(Debug, thiserror::Error)]
#[error("{path} must be owned by root and writable by root only, but {problem}; fix: {fix}")]
pub struct NotRootOwned {
    /// The file.
    pub path: String,
    /// What is wrong.
    pub problem: String,
    /// The commands that fix it.
    pub fix: String,
}

/// Checks that `path` is a regular file owned by uid 0 that neither its group nor others may write.
pub fn check(path: &Path) -> Result<(), NotRootOwned> {
    let shown = path.display().to_string();
    let wrong = |problem: String, fix: String| NotRootOwned {
        path: shown.clone(),
        problem,
        fix,
    };
    let meta = std::fs::metadata(path).map_err(|e| {
        wrong(
            format!("it cannot be read ({e})"),
            "create it as root, or correct the path".to_owned(),
        )
    })?;
    if !meta.is_file() {
        return Err(wrong(
            "it is not a regular file".into(),
            "point the setting at a regular file".into(),
        ));
    }
    if meta.uid() != 0 {
        return Err(wrong(
            format!("it is owned by uid {}", meta.uid()),
            format!("chown root {shown}"),
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(wrong(
            format!(
                "its mode {:o} lets group or others write it",
                meta.mode() & 0o7777
            ),
            format!("chmod go-w {shown}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn root_owned_private_files_pass_and_writable_or_foreign_ones_are_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("apt.conf");
        std::fs::write(&file, "").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        // The tests run as root, so the file is root's.
        check(&file).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o664)).unwrap();
        let err = check(&file).unwrap_err().to_string();
        assert!(err.contains("chmod go-w") && err.contains("664"), "{err}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        nix::unistd::chown(&file, Some(nix::unistd::Uid::from_raw(1000)), None).unwrap();
        let err = check(&file).unwrap_err().to_string();
        assert!(
            err.contains("uid 1000") && err.contains("chown root"),
            "{err}"
        );
        assert!(check(&dir.path().join("missing")).is_err());
        assert!(check(dir.path()).is_err(), "a directory");
    }
}
