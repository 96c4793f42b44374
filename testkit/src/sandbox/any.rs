//! One sandbox type for the harness and the demo, whatever the package manager: the operations every
//! end-to-end test needs (root, publish, installed version) and the `helper.yaml` lines that point the
//! helper at it.

use std::path::Path;

use super::AptSandbox;
use super::dnf::{DnfSandbox, RELEASEVER};
use super::pacman::PacmanSandbox;
use crate::Result;
use crate::fixtures::apt::Snapshot;
use crate::fsutil::utf8;
use crate::harness::config::quoted;

/// Which package manager a sandbox is for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SandboxKind {
    /// apt/dpkg.
    #[default]
    Apt,
    /// dnf/rpm.
    Dnf,
    /// The dnf sandbox driven through `yum` (`/usr/bin/yum` → dnf, as RHEL 8+ ships it).
    Yum,
    /// pacman.
    Pacman,
}

impl SandboxKind {
    /// Every kind, for tests that run one scenario on each.
    pub const ALL: [SandboxKind; 4] = [
        SandboxKind::Apt,
        SandboxKind::Dnf,
        SandboxKind::Yum,
        SandboxKind::Pacman,
    ];

    /// The backend name (`helper.yaml`'s `backend`, the API's `package_manager`).
    pub fn name(self) -> &'static str {
        match self {
            SandboxKind::Apt => "apt",
            SandboxKind::Dnf => "dnf",
            SandboxKind::Yum => "yum",
            SandboxKind::Pacman => "pacman",
        }
    }

    /// The kind named `name`, if any.
    pub fn from_name(name: &str) -> Option<SandboxKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// A sandbox package root of any kind.
#[derive(Debug)]
pub enum Sandbox {
    /// apt/dpkg.
    Apt(AptSandbox),
    /// dnf/rpm, driven by `dnf` or (`yum: true`) by `yum`.
    Dnf {
        /// The sandbox.
        sandbox: DnfSandbox,
        /// Whether the helper is configured for yum.
        yum: bool,
    },
    /// pacman.
    Pacman(PacmanSandbox),
}

impl Sandbox {
    /// Creates a sandbox of `kind` in `dir` on `snapshot` with `preinstall` installed.
    pub fn create(
        kind: SandboxKind,
        dir: &Path,
        snapshot: Snapshot,
        preinstall: &[&str],
    ) -> Result<Sandbox> {
        Ok(match kind {
            SandboxKind::Apt => Sandbox::Apt(AptSandbox::create(dir, snapshot, preinstall)?),
            SandboxKind::Dnf | SandboxKind::Yum => Sandbox::Dnf {
                sandbox: DnfSandbox::create(dir, snapshot, preinstall)?,
                yum: kind == SandboxKind::Yum,
            },
            SandboxKind::Pacman => {
                Sandbox::Pacman(PacmanSandbox::create(dir, snapshot, preinstall)?)
            }
        })
    }

    /// Its kind.
    pub fn kind(&self) -> SandboxKind {
        match self {
            Sandbox::Apt(_) => SandboxKind::Apt,
            Sandbox::Dnf { yum: false, .. } => SandboxKind::Dnf,
            Sandbox::Dnf { yum: true, .. } => SandboxKind::Yum,
            Sandbox::Pacman(_) => SandboxKind::Pacman,
        }
    }

    /// The package root (the helper's `package_root`).
    pub fn root(&self) -> &Path {
        match self {
            Sandbox::Apt(s) => s.root(),
            Sandbox::Dnf { sandbox, .. } => sandbox.root(),
            Sandbox::Pacman(s) => s.root(),
        }
    }

    /// Points the repositories at `snapshot` and refreshes — "the vendor published updates".
    pub fn publish(&mut self, snapshot: Snapshot) -> Result<()> {
        match self {
            Sandbox::Apt(s) => s.publish(snapshot),
            Sandbox::Dnf { sandbox, .. } => sandbox.publish(snapshot),
            Sandbox::Pacman(s) => s.publish(snapshot),
        }
    }

    /// The installed version of `name` as the package database says, or `None`.
    pub fn installed_version(&self, name: &str) -> Option<String> {
        match self {
            Sandbox::Apt(s) => s.installed_version(name),
            Sandbox::Dnf { sandbox, .. } => sandbox.installed_version(name),
            Sandbox::Pacman(s) => s.installed_version(name),
        }
    }

    /// The apt sandbox, for apt-only tests.
    pub fn apt(&self) -> Option<&AptSandbox> {
        match self {
            Sandbox::Apt(s) => Some(s),
            _ => None,
        }
    }

    /// The apt sandbox, mutably.
    pub fn apt_mut(&mut self) -> Option<&mut AptSandbox> {
        match self {
            Sandbox::Apt(s) => Some(s),
            _ => None,
        }
    }

    /// The dnf sandbox, for dnf/yum-only tests.
    pub fn dnf(&self) -> Option<&DnfSandbox> {
        match self {
            Sandbox::Dnf { sandbox, .. } => Some(sandbox),
            _ => None,
        }
    }

    /// The pacman sandbox, for pacman-only tests.
    pub fn pacman(&self) -> Option<&PacmanSandbox> {
        match self {
            Sandbox::Pacman(s) => Some(s),
            _ => None,
        }
    }

    /// The `helper.yaml` lines that select this backend and point it at the sandbox. apt stays on
    /// `backend: auto`, so detection from the root's os-release is exercised by every apt test.
    pub fn helper_yaml(&self) -> Result<String> {
        Ok(match self {
            Sandbox::Apt(s) => format!(
                "backend: auto\napt:\n  config_file: {}\n",
                quoted(utf8(s.apt_config_path())?)
            ),
            Sandbox::Dnf { sandbox, yum } => format!(
                "backend: {}\ndnf:\n  config_file: {}\n  releasever: {}\n",
                if *yum { "yum" } else { "dnf" },
                quoted(utf8(&sandbox.dnf_config_path())?),
                quoted(RELEASEVER),
            ),
            Sandbox::Pacman(s) => format!(
                "backend: pacman\npacman:\n  config_file: {}\n",
                quoted(utf8(s.config_path())?)
            ),
        })
    }
}
