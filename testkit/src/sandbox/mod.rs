//! Sandbox package roots: a private dpkg database and apt configuration that real `apt-get` and `dpkg` use
//! instead of the host's.
//!
//! The recipe is TESTING.md §1: a root directory with apt's and dpkg's state directories, a static busybox as
//! `/bin/sh` (maintainer scripts run `chroot`ed into the root), `/dev/null`, the host's `os-release`, and an
//! `apt.conf` **outside** the root that moves `Dir` into it and passes `--root`/`--log` to dpkg. That file is
//! handed to apt through `APT_CONFIG` on each child only — never the kit's own environment — because `-o`/`-c`
//! are applied after the host's `apt.conf.d` hooks (gotcha A1). The host's `/var/lib/dpkg`, `/etc/apt` and
//! `/var/log/dpkg.log` are never touched.

mod any;
pub mod dnf;
mod lock_holder;
pub mod pacman;
mod status;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nix::sys::stat::{Mode, SFlag, makedev, mknod};

pub use any::{Sandbox, SandboxKind};
pub use lock_holder::LockHolder;
pub use status::{DpkgEntry, parse_status};

use crate::error::IoContext;
use crate::fixtures::apt::{AptFixtures, Snapshot};
use crate::fsutil::{chmod, dir_0755, read_to_string, utf8, write_public};
use crate::run::{checked, command, unchecked};
use crate::{Result, prereq};

/// Directories of a sandbox root (relative to it).
const ROOT_DIRS: &[&str] = &[
    "etc/apt/apt.conf.d",
    "etc/apt/sources.list.d",
    "etc/apt/preferences.d",
    "etc/apt/trusted.gpg.d",
    "var/lib/apt/lists/partial",
    "var/cache/apt/archives/partial",
    "var/lib/dpkg/info",
    "var/lib/dpkg/updates",
    "var/lib/dpkg/triggers",
    "var/log/apt",
    "bin",
    "dev",
    "tmp",
    "usr/share",
];

/// A sandbox root for apt/dpkg, pointed at one snapshot of the [`AptFixtures`].
#[derive(Debug)]
pub struct AptSandbox {
    dir: PathBuf,
    root: PathBuf,
    apt_conf: PathBuf,
    snapshot: Snapshot,
    fixtures: &'static AptFixtures,
}

impl AptSandbox {
    /// Creates `dir/root` and `dir/apt.conf`, points the sources at `snapshot`, runs `apt-get update` and then
    /// `apt-get install -y` of `preinstall` (skipped when empty). Every directory is 0755. An earlier sandbox
    /// in `dir` is replaced.
    pub fn create(dir: &Path, snapshot: Snapshot, preinstall: &[&str]) -> Result<AptSandbox> {
        let tools = prereq::tools()?;
        let fixtures = AptFixtures::get()?;
        dir_0755(dir)?;
        let root = dir.join("root");
        // A fixed directory (the demo's) may hold the sandbox of an earlier run: start from scratch.
        if root.exists() {
            fs::remove_dir_all(&root).context(|| format!("remove earlier {}", root.display()))?;
        }
        for rel in ROOT_DIRS {
            dir_0755(&root.join(rel))?;
        }
        chmod(&root.join("tmp"), 0o1777)?;
        for file in ["var/lib/dpkg/status", "var/lib/dpkg/available"] {
            write_public(&root.join(file), "")?;
        }
        install_busybox(&tools.busybox, &root)?;
        make_dev_null(&root)?;
        copy_os_release(&root)?;

        let apt_conf = dir.join("apt.conf");
        write_public(&apt_conf, apt_conf_text(&root)?)?;
        let sandbox = AptSandbox {
            dir: dir.to_path_buf(),
            root,
            apt_conf,
            snapshot,
            fixtures,
        };
        sandbox.write_sources(snapshot)?;
        sandbox.apt_get_checked(&["update"])?;
        if !preinstall.is_empty() {
            let mut args = vec!["install", "-y"];
            args.extend_from_slice(preinstall);
            sandbox.apt_get_checked(&args)?;
        }
        Ok(sandbox)
    }

    /// Points the sources at `snapshot` and runs `apt-get update` — "the vendor published updates".
    pub fn publish(&mut self, snapshot: Snapshot) -> Result<()> {
        self.write_sources(snapshot)?;
        self.snapshot = snapshot;
        self.apt_get_checked(&["update"])?;
        Ok(())
    }

    /// Replaces `sources.list` with `text` without refreshing (the next `apt-get update`, for example the
    /// one a patch job runs first, reads it) — for tests that serve a repository themselves.
    pub fn set_sources_list(&mut self, text: &str) -> Result<()> {
        write_public(&self.root.join("etc/apt/sources.list"), text)
    }

    /// The snapshot the sources currently point at.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot
    }

    /// The sandbox root (what the helper's `package_root` is set to).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory holding the root and `apt.conf`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The `apt.conf` to export as `APT_CONFIG` (the helper's `apt.config_file`).
    pub fn apt_config_path(&self) -> &Path {
        &self.apt_conf
    }

    /// The fixtures this sandbox uses.
    pub fn fixtures(&self) -> &'static AptFixtures {
        self.fixtures
    }

    /// A `Command` for `program` (e.g. `apt-get`, `apt-cache`, `dpkg-query`) with `APT_CONFIG` and
    /// `DEBIAN_FRONTEND=noninteractive` set on that child only.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = command(program);
        cmd.env("APT_CONFIG", &self.apt_conf)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .env("HOME", "/root");
        cmd
    }

    /// Runs `apt-get ARGS` against the sandbox and returns its output whatever the exit status, for tests that
    /// inspect failures as well as successes (e.g. `apt_get(&["-s", "dist-upgrade"])`).
    pub fn apt_get(&self, args: &[&str]) -> Result<Output> {
        let tools = prereq::tools()?;
        unchecked(self.command(&tools.apt_get).args(args))
    }

    /// Runs `apt-get ARGS` and fails with its output if it exits unsuccessfully.
    pub fn apt_get_checked(&self, args: &[&str]) -> Result<Output> {
        let tools = prereq::tools()?;
        checked(self.command(&tools.apt_get).args(args))
    }

    /// Every entry of the root's dpkg status database.
    pub fn dpkg_entries(&self) -> Result<Vec<DpkgEntry>> {
        Ok(parse_status(&read_to_string(
            &self.root.join("var/lib/dpkg/status"),
        )?))
    }

    /// The root's dpkg entry for `name`, in whatever state (installed, half-configured, config-files…).
    pub fn dpkg_entry(&self, name: &str) -> Result<Option<DpkgEntry>> {
        Ok(self.dpkg_entries()?.into_iter().find(|e| e.package == name))
    }

    /// The version of `name` if it is fully installed in the root; `None` if absent or not fully installed.
    ///
    /// Panics with the I/O error if the status file cannot be read: this is an assertion helper.
    pub fn installed_version(&self, name: &str) -> Option<String> {
        match self.dpkg_entry(name) {
            Ok(entry) => entry.filter(DpkgEntry::is_installed).map(|e| e.version),
            Err(e) => panic!("cannot read the sandbox's dpkg status: {e}"),
        }
    }

    fn write_sources(&self, snapshot: Snapshot) -> Result<()> {
        write_public(
            &self.root.join("etc/apt/sources.list"),
            self.fixtures.sources_list(snapshot),
        )
    }
}

/// The `apt.conf` of TESTING.md §1. It lives outside the root: at `$ROOT/etc/apt/apt.conf` apt would read it a
/// second time as `Dir::Etc::main` and pass `--root` to dpkg twice (gotcha A1).
fn apt_conf_text(root: &Path) -> Result<String> {
    let root = utf8(root)?;
    Ok(format!(
        "Dir \"{root}/\";\n\
         Dir::State::status \"{root}/var/lib/dpkg/status\";\n\
         APT::Sandbox::User \"root\";\n\
         Dpkg::Use-Pty \"false\";\n\
         DPkg::Options {{ \"--root={root}\"; \"--log={root}/var/log/dpkg.log\"; }};\n\
         Acquire::Languages \"none\";\n"
    ))
}

/// Programs linked to busybox in the root's `/bin`: a shell and the few utilities maintainer scripts commonly
/// call. Debian's static busybox does not run its own applets from `sh` unless they are found on `PATH`, so a
/// script calling `sleep` in a root without `/bin/sleep` would fail with "not found".
const BUSYBOX_LINKS: &[&str] = &[
    "sh", "sleep", "cat", "echo", "true", "false", "test", "rm", "mkdir", "ln", "mv", "cp",
    "chmod", "touch",
];

/// Copies the static busybox to `/bin/busybox` and links `/bin/sh` (and the rest of [`BUSYBOX_LINKS`]) to it:
/// maintainer scripts run chrooted into the root and need a shell there (gotcha A4).
fn install_busybox(busybox: &Path, root: &Path) -> Result<()> {
    let target = root.join("bin/busybox");
    fs::copy(busybox, &target)
        .context(|| format!("copy {} to {}", busybox.display(), target.display()))?;
    chmod(&target, 0o755)?;
    for name in BUSYBOX_LINKS {
        let link = root.join("bin").join(name);
        std::os::unix::fs::symlink("busybox", &link)
            .context(|| format!("symlink {}", link.display()))?;
    }
    Ok(())
}

/// `/dev/null` as the real character device (1,3), or as a plain file where mknod is not permitted.
fn make_dev_null(root: &Path) -> Result<()> {
    let null = root.join("dev/null");
    let mode = Mode::from_bits_truncate(0o666);
    if mknod(&null, SFlag::S_IFCHR, mode, makedev(1, 3)).is_ok() {
        chmod(&null, 0o666)
    } else {
        crate::fsutil::write_with_mode(&null, "", 0o666)
    }
}

/// The host's os-release, so the helper's `backend: auto` sees a Debian system in the root.
fn copy_os_release(root: &Path) -> Result<()> {
    let etc = root.join("etc");
    let target = etc.join("os-release");
    for source in ["/etc/os-release", "/usr/lib/os-release"] {
        if fs::copy(source, &target).is_ok() {
            return chmod(&target, 0o644);
        }
    }
    Err(crate::Error::Invalid(
        "neither /etc/os-release nor /usr/lib/os-release is readable".to_owned(),
    ))
}
