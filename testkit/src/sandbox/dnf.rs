//! Sandbox package roots for dnf/rpm: a private rpm database and dnf configuration that real `dnf` and
//! `rpm` use instead of the host's (TESTING.md §2).
//!
//! Layout of `dir`: `root/` (the installroot), `dnf.conf` and `repos.d/demo.repo` **outside** the root (with
//! `--config` and `reposdir` both given, dnf reads nothing of the host's configuration, gotcha D7), and
//! `bin/yum`, a symlink to the host's dnf exactly as RHEL 8+ ships `yum` (gotcha D8).
//!
//! The rpm database is `root/var/lib/rpm`, as on RHEL. Debian's rpm macros put it at `~/.rpmdb` instead
//! (gotcha D1); children run with `HOME=/root` (as the product's launcher sets), and `root/root/.rpmdb` is a
//! relative symlink to `../var/lib/rpm`, so dnf (which follows the macro) and `rpm --dbpath /var/lib/rpm` (which
//! the product passes explicitly) see the same database. The host's `~/.rpmdb` is never created.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::error::IoContext;
use crate::fixtures::apt::Snapshot;
use crate::fixtures::dnf::{DnfFixtures, DnfTools};
use crate::fsutil::{chmod, dir_0755, write_public};
use crate::run::{checked, command, unchecked};
use crate::{Error, Result};

/// The rpm database inside the root, as the product passes it to `rpm --dbpath`.
pub const RPM_DBPATH: &str = "/var/lib/rpm";

/// The `--releasever` every sandbox uses (the fixtures' repository ignores it).
pub const RELEASEVER: &str = "1";

/// Directories of a dnf sandbox root (relative to it).
const ROOT_DIRS: &[&str] = &[
    "var/lib/rpm",
    "var/lib/dnf",
    "var/cache/dnf",
    "var/log",
    "etc/dnf",
    "root",
    "dev",
    "tmp",
    "usr/share",
];

/// A sandbox root for dnf/rpm, pointed at one snapshot of the [`DnfFixtures`].
#[derive(Debug)]
pub struct DnfSandbox {
    dir: PathBuf,
    root: PathBuf,
    snapshot: Snapshot,
    fixtures: &'static DnfFixtures,
    tools: &'static DnfTools,
}

impl DnfSandbox {
    /// Creates `dir/root`, `dir/dnf.conf`, `dir/repos.d/demo.repo` (pointed at `snapshot`) and `dir/bin/yum`,
    /// then installs `demo-base` (the root's `/bin/sh`) and `preinstall` with dnf. An earlier sandbox in `dir`
    /// is replaced. Every directory is 0755.
    pub fn create(dir: &Path, snapshot: Snapshot, preinstall: &[&str]) -> Result<DnfSandbox> {
        let tools = DnfTools::get()?;
        let fixtures = DnfFixtures::get()?;
        dir_0755(dir)?;
        let root = dir.join("root");
        if root.exists() {
            fs::remove_dir_all(&root).context(|| format!("remove earlier {}", root.display()))?;
        }
        for rel in ROOT_DIRS {
            dir_0755(&root.join(rel))?;
        }
        chmod(&root.join("tmp"), 0o1777)?;
        let rpmdb_link = root.join("root/.rpmdb");
        std::os::unix::fs::symlink("../var/lib/rpm", &rpmdb_link)
            .context(|| format!("symlink {}", rpmdb_link.display()))?;
        super::make_dev_null(&root)?;
        write_public(&root.join("etc/os-release"), OS_RELEASE)?;
        dir_0755(&dir.join("repos.d"))?;
        write_public(&dir.join("dnf.conf"), dnf_conf_text(&dir.join("repos.d"))?)?;
        let bin = dir.join("bin");
        dir_0755(&bin)?;
        let yum = bin.join("yum");
        if fs::symlink_metadata(&yum).is_ok() {
            fs::remove_file(&yum).context(|| format!("remove {}", yum.display()))?;
        }
        std::os::unix::fs::symlink(&tools.dnf, &yum)
            .context(|| format!("symlink {}", yum.display()))?;
        let sandbox = DnfSandbox {
            dir: dir.to_path_buf(),
            root,
            snapshot,
            fixtures,
            tools,
        };
        sandbox.write_repo(snapshot)?;
        let mut args = vec!["install", "demo-base"];
        args.extend_from_slice(preinstall);
        sandbox.dnf_checked(&args)?;
        Ok(sandbox)
    }

    /// Points the repository at `snapshot` and refreshes the metadata — "the vendor published updates".
    pub fn publish(&mut self, snapshot: Snapshot) -> Result<()> {
        self.write_repo(snapshot)?;
        self.snapshot = snapshot;
        self.dnf_checked(&["makecache"])?;
        Ok(())
    }

    /// The snapshot the repository currently points at.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot
    }

    /// The installroot (the helper's `package_root`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory holding the root and the configuration.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The `dnf.conf` passed with `--config` (the helper's `dnf.config_file`).
    pub fn dnf_config_path(&self) -> PathBuf {
        self.dir.join("dnf.conf")
    }

    /// The directory holding `demo.repo` (`reposdir` of [`Self::dnf_config_path`]).
    pub fn repos_dir(&self) -> PathBuf {
        self.dir.join("repos.d")
    }

    /// `yum`: a symlink to the host's dnf, as RHEL 8+ ships it.
    pub fn yum_path(&self) -> PathBuf {
        self.dir.join("bin/yum")
    }

    /// The fixtures this sandbox uses.
    pub fn fixtures(&self) -> &'static DnfFixtures {
        self.fixtures
    }

    /// The options every dnf run against this sandbox gets, in the product's order.
    pub fn dnf_options(&self) -> Vec<String> {
        vec![
            "-y".into(),
            format!("--installroot={}", self.root.display()),
            format!("--config={}", self.dnf_config_path().display()),
            format!("--releasever={RELEASEVER}"),
        ]
    }

    /// A `Command` for `program` with the launcher's environment (`HOME=/root`, `LC_ALL=C`, fixed `PATH`).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = command(program);
        cmd.env("HOME", "/root");
        cmd
    }

    /// Runs `dnf OPTIONS ARGS` and returns its output whatever the exit status.
    pub fn dnf(&self, args: &[&str]) -> Result<Output> {
        unchecked(
            self.command(&self.tools.dnf)
                .args(self.dnf_options())
                .args(args),
        )
    }

    /// Runs `yum OPTIONS ARGS` (the symlink) and returns its output whatever the exit status.
    pub fn yum(&self, args: &[&str]) -> Result<Output> {
        unchecked(
            self.command(self.yum_path())
                .args(self.dnf_options())
                .args(args),
        )
    }

    /// Runs `dnf OPTIONS ARGS` and fails with its output if it exits unsuccessfully.
    pub fn dnf_checked(&self, args: &[&str]) -> Result<Output> {
        checked(
            self.command(&self.tools.dnf)
                .args(self.dnf_options())
                .args(args),
        )
    }

    /// Runs `rpm --root ROOT --dbpath /var/lib/rpm ARGS` and returns its output whatever the exit status.
    pub fn rpm(&self, args: &[&str]) -> Result<Output> {
        unchecked(
            self.command(&self.tools.rpm)
                .arg(format!("--root={}", self.root.display()))
                .arg(format!("--dbpath={RPM_DBPATH}"))
                .args(args),
        )
    }

    /// The installed `[epoch:]version-release` of `name` (several architectures: the first rpm lists), or
    /// `None` when it is not installed.
    pub fn installed_version(&self, name: &str) -> Option<String> {
        let out = self
            .rpm(&[
                "-q",
                "--qf",
                "%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n",
                "--",
                name,
            ])
            .ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .map(str::to_owned)
    }

    fn write_repo(&self, snapshot: Snapshot) -> Result<()> {
        write_public(
            &self.repos_dir().join("demo.repo"),
            self.fixtures.repo_file(snapshot),
        )
    }
}

/// A RHEL-like os-release, so the helper's `backend: auto` sees a dnf host in the root.
const OS_RELEASE: &str = "NAME=\"linux-patch-api dnf sandbox\"\nID=\"almalinux\"\n\
    ID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\nPRETTY_NAME=\"linux-patch-api dnf sandbox\"\n";

/// `dnf.conf` as TESTING.md §2 verified it: nothing of the host's configuration is read.
fn dnf_conf_text(repos_dir: &Path) -> Result<String> {
    let repos = repos_dir
        .to_str()
        .ok_or_else(|| Error::Invalid(format!("{} is not UTF-8", repos_dir.display())))?;
    Ok(format!(
        "[main]\ngpgcheck=0\ninstallonly_limit=3\nclean_requirements_on_remove=True\nbest=False\n\
         skip_if_unavailable=False\ninstall_weak_deps=False\nreposdir={repos}\n"
    ))
}
