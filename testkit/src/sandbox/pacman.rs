//! Sandbox package roots for pacman: a private local database, cache and log inside a root, and a
//! `pacman.conf` outside it that points every path into the root (TESTING.md §3).
//!
//! The config says `SigLevel = Never`, because the fixtures are unsigned (gotcha P1). That line exists
//! only here, in the test kit's file: the product never sets a signature level. Install scriptlets run
//! chrooted into the root, so it gets busybox as `/bin/sh` and `/dev/null` (gotcha P3: without a shell a
//! scriptlet "fails" with pacman still exiting 0). The host's `/var/lib/pacman` is never touched.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::error::IoContext;
use crate::fixtures::apt::Snapshot;
use crate::fixtures::pacman::{PacmanFixtures, REPO_NAME, tools};
use crate::fsutil::{chmod, dir_0755, utf8, write_public};
use crate::run::{checked, command, unchecked};
use crate::{Result, prereq};

/// Directories of a sandbox root (relative to it).
const ROOT_DIRS: &[&str] = &[
    "var/lib/pacman/local",
    "var/cache/pacman/pkg",
    "var/log",
    "etc/pacman.d/hooks",
    "etc/pacman.d/gnupg",
    "bin",
    "dev",
    "tmp",
    "usr/share",
];

/// A sandbox root for pacman, pointed at one snapshot of the [`PacmanFixtures`].
#[derive(Debug)]
pub struct PacmanSandbox {
    dir: PathBuf,
    root: PathBuf,
    config: PathBuf,
    snapshot: Snapshot,
    fixtures: &'static PacmanFixtures,
}

impl PacmanSandbox {
    /// Creates `dir/root` and `dir/pacman.conf` on `snapshot`, syncs the root's databases (the system's
    /// initial state) and installs `preinstall` (skipped when empty). An earlier sandbox in `dir` is
    /// replaced.
    pub fn create(dir: &Path, snapshot: Snapshot, preinstall: &[&str]) -> Result<PacmanSandbox> {
        tools()?;
        let busybox = prereq::tools()?.busybox.clone();
        let fixtures = PacmanFixtures::get()?;
        dir_0755(dir)?;
        let root = dir.join("root");
        if root.exists() {
            std::fs::remove_dir_all(&root)
                .context(|| format!("remove earlier {}", root.display()))?;
        }
        for rel in ROOT_DIRS {
            dir_0755(&root.join(rel))?;
        }
        chmod(&root.join("tmp"), 0o1777)?;
        write_public(&root.join("var/lib/pacman/local/ALPM_DB_VERSION"), "9\n")?;
        write_public(&root.join("etc/os-release"), OS_RELEASE)?;
        super::install_busybox(&busybox, &root)?;
        super::make_dev_null(&root)?;
        let sandbox = PacmanSandbox {
            dir: dir.to_path_buf(),
            config: dir.join("pacman.conf"),
            root,
            snapshot,
            fixtures,
        };
        sandbox.write_config(snapshot)?;
        sandbox.pacman_checked(&["-Syy"])?;
        if !preinstall.is_empty() {
            let mut args = vec!["-S", "--needed", "--"];
            args.extend_from_slice(preinstall);
            sandbox.pacman_checked(&args)?;
        }
        Ok(sandbox)
    }

    /// Points `[demo]` at `snapshot` — "the vendor published updates". Nothing is synced: the product's
    /// refresh syncs its listing database, and its apply runs `-Syyu`.
    pub fn publish(&mut self, snapshot: Snapshot) -> Result<()> {
        self.write_config(snapshot)?;
        self.snapshot = snapshot;
        Ok(())
    }

    /// The snapshot `[demo]` points at.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot
    }

    /// The sandbox root (the helper's `package_root`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory holding the root and `pacman.conf`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The `pacman.conf` (the helper's `pacman.config_file`).
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// The root's database directory.
    pub fn db_path(&self) -> PathBuf {
        self.root.join("var/lib/pacman")
    }

    /// The fixtures this sandbox uses.
    pub fn fixtures(&self) -> &'static PacmanFixtures {
        self.fixtures
    }

    /// A `Command` running `pacman --config <pacman.conf> --noconfirm` (with `LC_ALL=C`).
    pub fn command(&self) -> Result<Command> {
        let mut cmd = command(tools()?.pacman);
        cmd.arg("--config")
            .arg(&self.config)
            .arg("--noconfirm")
            .env("HOME", "/root");
        Ok(cmd)
    }

    /// Runs pacman with `args` and returns its output whatever the exit status.
    pub fn pacman(&self, args: &[&str]) -> Result<Output> {
        unchecked(self.command()?.args(args))
    }

    /// Runs pacman with `args` and fails with its output if it exits unsuccessfully.
    pub fn pacman_checked(&self, args: &[&str]) -> Result<Output> {
        checked(self.command()?.args(args))
    }

    /// The installed version of `name`, read from the local database's `desc` files.
    ///
    /// Panics if the database cannot be read: this is an assertion helper.
    pub fn installed_version(&self, name: &str) -> Option<String> {
        let local = self.db_path().join("local");
        let entries = std::fs::read_dir(&local)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", local.display()));
        entries.flatten().find_map(|entry| {
            let text = std::fs::read_to_string(entry.path().join("desc")).ok()?;
            let field = |key: &str| {
                let mut lines = text.lines();
                lines.find(|l| *l == key)?;
                lines.next().map(str::to_owned)
            };
            (field("%NAME%").as_deref() == Some(name))
                .then(|| field("%VERSION%"))
                .flatten()
        })
    }

    fn write_config(&self, snapshot: Snapshot) -> Result<()> {
        write_public(
            &self.config,
            config_text(&self.root, &self.fixtures.repo(snapshot))?,
        )
    }
}

/// The `pacman.conf` of TESTING.md §3: every path inside the root, unsigned fixtures accepted.
fn config_text(root: &Path, repo: &Path) -> Result<String> {
    let root = utf8(root)?;
    let repo = utf8(repo)?;
    Ok(format!(
        "[options]\nRootDir = {root}\nDBPath = {root}/var/lib/pacman/\n\
         CacheDir = {root}/var/cache/pacman/pkg/\nLogFile = {root}/var/log/pacman.log\n\
         GPGDir = {root}/etc/pacman.d/gnupg/\nHookDir = {root}/etc/pacman.d/hooks/\n\
         Architecture = auto\nSigLevel = Never\n\n[{REPO_NAME}]\nSigLevel = Never\nServer = file://{repo}\n"
    ))
}

/// An Arch-like os-release, so the helper sees a pacman host in the root (`GET /system/info` reads it).
const OS_RELEASE: &str = "NAME=\"linux-patch-api pacman sandbox\"\nID=\"arch\"\n\
    PRETTY_NAME=\"linux-patch-api pacman sandbox\"\nBUILD_ID=\"rolling\"\n";
