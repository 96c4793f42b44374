//! Another process holding a package manager's lock in a sandbox root, as an operator's `dnf` or `pacman`
//! in a shell would, for the tests of how a change waits for it (`lock_timeout_seconds` of `helper.yaml`).
//!
//! Each holder follows the package manager's own lock protocol, so the real program sees a real holder:
//! - dnf: a pid file, `<cachedir>/metadata_lock.pid`, naming a live process (dnf's `ProcessLock`; a dead
//!   pid is taken over). The holder is a `sleep` process whose pid is written there; every dnf run, reads
//!   included, takes this lock while it loads its metadata.
//! - pacman: the file `<DBPath>/db.lck` exists (pacman creates it exclusively and removes it at exit).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use crate::Result;
use crate::error::IoContext;
use crate::run::command;

/// A process holding a package manager's lock until [`LockHolder::release`] or drop.
#[derive(Debug)]
pub struct LockHolder {
    child: Child,
    lock_file: PathBuf,
}

impl LockHolder {
    /// Holds dnf's metadata lock of the installroot `root` (cachedir `/var/cache/dnf` inside it).
    pub fn dnf_metadata(root: &Path) -> Result<LockHolder> {
        let lock_file = root.join("var/cache/dnf/metadata_lock.pid");
        let child = sleeper()?;
        fs::write(&lock_file, child.id().to_string())
            .context(|| format!("writing {}", lock_file.display()))?;
        Ok(LockHolder { child, lock_file })
    }

    /// Holds pacman's database lock, `db_path/db.lck`.
    pub fn pacman_db(db_path: &Path) -> Result<LockHolder> {
        let lock_file = db_path.join("db.lck");
        let child = sleeper()?;
        fs::write(&lock_file, "").context(|| format!("writing {}", lock_file.display()))?;
        Ok(LockHolder { child, lock_file })
    }

    /// The holder's pid (dnf names it in its message).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The lock file (pacman names it in its message).
    pub fn lock_file(&self) -> &Path {
        &self.lock_file
    }

    /// Lets go, as the holder's program does when it ends: the lock file is removed, then the process ends.
    pub fn release(mut self) {
        self.end();
    }

    fn end(&mut self) {
        let _ = fs::remove_file(&self.lock_file);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for LockHolder {
    fn drop(&mut self) {
        self.end();
    }
}

/// A process that lives until killed, standing in for the lock's owner.
fn sleeper() -> Result<Child> {
    command("sleep")
        .arg("3600")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context(|| "starting sleep, the lock's stand-in owner".to_owned())
}
