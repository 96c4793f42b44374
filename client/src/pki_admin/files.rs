//! Writing PKI outputs safely: keys are created with their final mode (never readable by others, not even
//! for a moment), ownership is changed on the open file (never by path, which would follow a symlink), and an
//! existing file is either refused or replaced atomically.

use anyhow::{Context, Result, bail};
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of private keys.
pub const KEY_MODE: u32 = 0o600;
/// Mode of certificates and CRLs: public by nature.
pub const PUBLIC_MODE: u32 = 0o644;

/// How to write one file.
#[derive(Debug, Clone, Copy)]
pub struct WriteSpec {
    /// Permission bits, set on the file descriptor (so the umask cannot widen or narrow them).
    pub mode: u32,
    /// New owner (uid, gid), set on the file descriptor.
    pub owner: Option<(u32, u32)>,
    /// Replace an existing file (atomically, via a temporary file and rename) instead of refusing.
    pub replace: bool,
}

/// Writes `contents` to `path` according to `spec`.
///
/// Without `replace`, the file is created with `O_EXCL` (which also refuses a symlink planted at `path`), so an
/// existing certificate or key is never overwritten by accident.
pub fn write(path: &Path, contents: &[u8], spec: WriteSpec) -> Result<()> {
    if spec.replace {
        let tmp = temp_name(path);
        let _ = fs::remove_file(&tmp);
        let result = create_and_fill(&tmp, contents, spec).and_then(|()| {
            fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
        });
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        return result;
    }
    match create_and_fill(path, contents, spec) {
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == ErrorKind::AlreadyExists) =>
        {
            bail!(
                "{} already exists; refusing to overwrite it (pass --force to replace it)",
                path.display()
            )
        }
        other => other,
    }
}

/// Creates `path` exclusively with `spec`'s mode and owner, writes and syncs it. On failure after creation
/// the half-written file is removed.
fn create_and_fill(path: &Path, contents: &[u8], spec: WriteSpec) -> Result<()> {
    let mut file: File = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(spec.mode)
        .open(path)
        .map_err(anyhow::Error::from)?;
    let filled = (|| -> std::io::Result<()> {
        file.set_permissions(Permissions::from_mode(spec.mode))?;
        if let Some((uid, gid)) = spec.owner {
            std::os::unix::fs::fchown(&file, Some(uid), Some(gid))?;
        }
        file.write_all(contents)?;
        file.sync_all()
    })();
    if let Err(e) = filled {
        let _ = fs::remove_file(path);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}

/// A sibling of `path` for atomic replacement: same directory, so `rename` cannot cross file systems.
fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Creates `dir` (and missing parents) if needed; a directory created here gets `mode`.
pub fn ensure_dir(dir: &Path, mode: u32) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))
}
