//! The state directory is private to the daemon: `0700` directories and `0600` files.
//!
//! Job records carry the requester's certificate identity and the package managers' output, and
//! `cache.json` tells when the host was last refreshed: nothing another local user should read. Three layers
//! keep it private:
//! - [`restrict_umask`] sets the process umask to `077` at start, so nothing the daemon creates is group or
//!   world accessible even where a path forgets to ask;
//! - the writers ask anyway (`jobs::store::write_atomic` creates files `0600`, [`create_private_dir`] makes
//!   `0700` directories);
//! - [`make_private`] tightens what an earlier version, the packaging (`StateDirectory=` defaults to `0755`)
//!   or an administrator left behind, once at start, before confinement (the seccomp filter has no `chmod`).

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// Mode of every directory under the state directory, the state directory included.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file under the state directory.
pub const FILE_MODE: u32 = 0o600;

/// Sets the process umask to `077`.
pub fn restrict_umask() {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
}

/// Creates `dir` and its missing parents with mode `0700`.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
}

/// Creates `state_dir` if missing and sets `0700` on it and every directory below, `0600` on every file
/// (symbolic links are left alone and not followed). Returns the paths it could not fix, with why.
pub fn make_private(state_dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    if let Err(e) = create_private_dir(state_dir) {
        problems.push(format!("{}: {e}", state_dir.display()));
        return problems;
    }
    walk(state_dir, &mut problems);
    problems
}

fn walk(dir: &Path, problems: &mut Vec<String>) {
    set_mode(dir, DIR_MODE, problems);
    let Ok(entries) = fs::read_dir(dir) else {
        problems.push(format!("{}: cannot be listed", dir.display()));
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(&path, problems),
            Ok(t) if t.is_file() => set_mode(&path, FILE_MODE, problems),
            _ => {}
        }
    }
}

fn set_mode(path: &Path, mode: u32, problems: &mut Vec<String>) {
    let current = match fs::symlink_metadata(path) {
        Ok(meta) => meta.permissions().mode() & 0o7777,
        Err(e) => {
            problems.push(format!("{}: {e}", path.display()));
            return;
        }
    };
    if current != mode
        && let Err(e) = fs::set_permissions(path, fs::Permissions::from_mode(mode))
    {
        problems.push(format!("{}: cannot set mode {mode:o}: {e}", path.display()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_state_directory_is_made_private_throughout() {
        let root = tempfile::tempdir().unwrap();
        let state = root.path().join("state");
        fs::create_dir_all(state.join("jobs")).unwrap();
        fs::set_permissions(&state, fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(state.join("jobs/a.json"), b"{}").unwrap();
        fs::set_permissions(state.join("jobs/a.json"), fs::Permissions::from_mode(0o644)).unwrap();
        assert!(make_private(&state).is_empty());
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&state), 0o700);
        assert_eq!(mode(&state.join("jobs")), 0o700);
        assert_eq!(mode(&state.join("jobs/a.json")), 0o600);
        // A missing directory is created private.
        let fresh = root.path().join("fresh/state");
        assert!(make_private(&fresh).is_empty());
        assert_eq!(mode(&fresh), 0o700);
    }
}
