//! Small file system helpers with explicit modes.
//!
//! Everything the kit creates must be traversable by the test uids 61001/61002 (so directories are 0755, not
//! tempfile's 0700) and every private key must be 0600, whatever the process umask is.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::error::{IoContext, Result};

/// Creates `dir` and any missing ancestors, each with mode 0755, and sets 0755 on `dir` itself even if it
/// existed (a `tempfile::TempDir` starts as 0700).
pub fn dir_0755(dir: &Path) -> Result<()> {
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(p) = cur {
        if p.as_os_str().is_empty() || p.exists() {
            break;
        }
        missing.push(p);
        cur = p.parent();
    }
    for p in missing.iter().rev() {
        match fs::create_dir(p) {
            Ok(()) => {}
            // Another thread or process created it in between: fine.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).context(|| format!("create directory {}", p.display())),
        }
        chmod(p, 0o755)?;
    }
    chmod(dir, 0o755)
}

/// Sets the permission bits of `path`.
pub fn chmod(path: &Path, mode: u32) -> Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .context(|| format!("chmod {mode:o} {}", path.display()))
}

/// Writes `contents` to `path` (replacing it) and leaves it with exactly `mode`.
///
/// The file is created with `mode` already, so a key is never readable by others, not even briefly.
pub fn write_with_mode(path: &Path, contents: impl AsRef<[u8]>, mode: u32) -> Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .context(|| format!("create {}", path.display()))?;
    file.write_all(contents.as_ref())
        .context(|| format!("write {}", path.display()))?;
    chmod(path, mode)
}

/// Writes a world-readable (0644) file.
pub fn write_public(path: &Path, contents: impl AsRef<[u8]>) -> Result<()> {
    write_with_mode(path, contents, 0o644)
}

/// Changes owner and group of `path` (numeric ids; the test uids have no passwd entry).
pub fn chown(path: &Path, uid: u32, gid: u32) -> Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .context(|| format!("chown {uid}:{gid} {}", path.display()))
}

/// Reads a file to a string, with the path in the error.
pub fn read_to_string(path: &Path) -> Result<String> {
    fs::read_to_string(path).context(|| format!("read {}", path.display()))
}

/// Returns `path` as UTF-8 text; configuration files the kit writes need text paths.
pub fn utf8(path: &Path) -> Result<&str> {
    path.to_str()
        .ok_or_else(|| crate::Error::Invalid(format!("path is not UTF-8: {}", path.display())))
}

/// The last `lines` lines of a text file, or a note that it could not be read.
pub fn tail(path: &Path, lines: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => tail_of(&String::from_utf8_lossy(&bytes), lines),
        Err(e) => format!("<cannot read {}: {e}>", path.display()),
    }
}

/// The last `lines` lines of `text`.
pub fn tail_of(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn dir_0755_creates_every_missing_level_traversable() {
        let tmp = tempfile::tempdir().unwrap();
        let deep = tmp.path().join("a/b/c");
        dir_0755(&deep).unwrap();
        for p in [
            tmp.path().to_path_buf(),
            tmp.path().join("a"),
            tmp.path().join("a/b"),
            deep,
        ] {
            assert_eq!(
                fs::metadata(&p).unwrap().mode() & 0o7777,
                0o755,
                "{}",
                p.display()
            );
        }
    }

    #[test]
    fn write_with_mode_leaves_exact_mode() {
        let tmp = tempfile::tempdir().unwrap();
        let key = tmp.path().join("k");
        write_with_mode(&key, "x", 0o600).unwrap();
        assert_eq!(fs::metadata(&key).unwrap().mode() & 0o7777, 0o600);
    }

    #[test]
    fn tail_keeps_only_the_last_lines() {
        assert_eq!(tail_of("1\n2\n3\n", 2), "2\n3");
        assert_eq!(tail_of("1", 5), "1");
    }
}
