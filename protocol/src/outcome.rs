//! What the broker answers: typed results and typed errors.
//!
//! Values read *from* the host (package names in the dpkg database, descriptions, suites) are plain
//! strings: they are data to display, never arguments. Anything the frontend wants to act on is validated
//! again as a [`crate::PackageName`] when it comes back in a request.

use crate::change::{ChangeFailure, ChangeReport};
use crate::grammar::Backend;
use serde::{Deserialize, Serialize};

/// A successful result, one variant per [`crate::Operation`].
// Built once per request and moved into an encoder; boxing would only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Outcome {
    /// Answer to [`crate::Operation::Ping`].
    Pong,
    /// Answer to [`crate::Operation::SystemInfo`].
    SystemInfo(HostInfo),
    /// Answer to [`crate::Operation::ServiceStatus`].
    ServiceStatus(ServiceStatus),
    /// Answer to [`crate::Operation::ListInstalled`], sorted by name.
    Installed(Vec<PackageRecord>),
    /// Answer to [`crate::Operation::PackageDetail`].
    PackageDetail(PackageDetail),
    /// Answer to [`crate::Operation::ListUpgradable`], sorted by name.
    Upgradable(Vec<UpgradablePackage>),
    /// Answer to [`crate::Operation::PackageStateStamp`]: an opaque fingerprint, only compared for equality.
    PackageStateStamp(u64),
    /// Answer to [`crate::Operation::RefreshCache`].
    CacheRefreshed {
        /// Captured output of the refresh (size-limited), for the job log.
        stdout: String,
    },
    /// Answer to the package-changing operations.
    Changed(ChangeReport),
    /// Answer to [`crate::Operation::Reboot`]: the reboot command accepted the request.
    RebootScheduled {
        /// When the reboot will happen, Unix seconds.
        at_unix: i64,
    },
    /// Answer to [`crate::Operation::Confinement`].
    Confinement(ConfinementReport),
}

/// How confined the helper's two processes are, each as it measured itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfinementReport {
    /// The broker, measured when the request was answered.
    pub broker: ProcessConfinement,
    /// The launcher, measured by itself before it forked the broker (it changes nothing about itself
    /// afterwards); `None` if that measurement failed.
    pub launcher: Option<ProcessConfinement>,
}

/// One process's confinement: `/proc/self/status` plus the Landlock result the kernel returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessConfinement {
    /// Effective uid.
    pub uid: u32,
    /// Effective capability set (bit N = capability N).
    pub cap_effective: u64,
    /// Permitted capability set.
    pub cap_permitted: u64,
    /// Bounding capability set.
    pub cap_bounding: u64,
    /// `PR_SET_NO_NEW_PRIVS` is set.
    pub no_new_privs: bool,
    /// Seccomp mode: `disabled`, `strict` or `filter`.
    pub seccomp: String,
    /// Landlock as applied: `None` when the process applied no ruleset.
    pub landlock: Option<LandlockState>,
    /// Confinement steps that could not be applied (best-effort policy); empty when fully confined.
    pub degraded: Vec<String>,
}

/// The Landlock ruleset a process applied to itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LandlockState {
    /// The kernel's Landlock ABI; `None` when the kernel has no Landlock.
    pub abi: Option<u32>,
    /// `full`, `partial` or `none`.
    pub enforcement: String,
}

/// The host as the helper sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInfo {
    /// `gethostname(2)`.
    pub hostname: String,
    /// Parsed `/etc/os-release` of the package root.
    pub os: OsRelease,
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// Machine architecture (`uname -m`).
    pub architecture: String,
    /// Host uptime from `/proc/uptime`, whole seconds.
    pub uptime_seconds: u64,
    /// The package manager the helper drives.
    pub package_manager: Backend,
    /// Whether the host asks for a reboot.
    pub reboot_required: RebootRequired,
}

/// Fields of os-release(5) that the API reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsRelease {
    /// `ID`.
    pub id: String,
    /// `ID_LIKE`, split on whitespace.
    pub id_like: Vec<String>,
    /// `NAME` (or `PRETTY_NAME` when `NAME` is absent).
    pub name: String,
    /// `VERSION_ID` (or `VERSION`).
    pub version: Option<String>,
    /// `VERSION_CODENAME`.
    pub codename: Option<String>,
}

/// Tri-state reboot flag: an honest "unknown" beats a guessed "no".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RebootRequired {
    /// A reboot is required.
    Yes {
        /// Why (for example the packages listed in `/run/reboot-required.pkgs`).
        reason: String,
    },
    /// The distribution's mechanism says no reboot is needed.
    No,
    /// No mechanism to tell on this host.
    Unknown {
        /// Why it cannot be told.
        reason: String,
    },
}

/// State of one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStatus {
    /// The queried name.
    pub name: String,
    /// The unit's description.
    pub display_name: String,
    /// systemd `ActiveState` (OpenRC: `active`/`inactive`/`failed`).
    pub active_state: String,
    /// systemd `SubState` (OpenRC: its status word).
    pub sub_state: String,
    /// systemd `LoadState`.
    pub load_state: String,
    /// systemd `UnitFileState` (OpenRC: `enabled`/`disabled`).
    pub enabled_state: String,
    /// Main PID, if running.
    pub main_pid: Option<u32>,
    /// Shorthand for the service's health as [`ServiceState`].
    pub state: ServiceState,
}

/// Coarse health of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServiceState {
    /// Active and not failed.
    Healthy,
    /// Anything else.
    Unhealthy,
}

/// One package as a package database or repository index describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageRecord {
    /// Package name.
    pub name: String,
    /// Version string as the package manager prints it.
    pub version: String,
    /// Architecture (`all`, `amd64`, `noarch`, …).
    pub architecture: String,
    /// One-line summary.
    pub description: String,
    /// Installed size in bytes, when known.
    pub size_bytes: Option<u64>,
    /// Install time as Unix seconds, when known.
    pub installed_at: Option<i64>,
    /// Names of packages this one depends on (version constraints stripped).
    pub dependencies: Vec<String>,
    /// Whether the package is held (dpkg `hold` selection, pacman `IgnorePkg`, …).
    pub held: bool,
    /// Maintainer, when known.
    pub maintainer: Option<String>,
    /// Homepage, when known.
    pub homepage: Option<String>,
    /// License, when known.
    pub license: Option<String>,
    /// Repository or suite the record came from, when known.
    pub source: Option<String>,
}

/// The installed and the candidate record of one package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageDetail {
    /// What is installed, if anything.
    pub installed: Option<PackageRecord>,
    /// The version the package manager would install, if any repository offers one.
    pub candidate: Option<PackageRecord>,
}

/// A package with a newer candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradablePackage {
    /// Package name.
    pub name: String,
    /// Installed version, if any.
    pub current_version: Option<String>,
    /// Version that would be installed.
    pub available_version: String,
    /// Architecture, when reported.
    pub architecture: Option<String>,
    /// Suites or repositories offering the candidate (for apt: the `Suite` of each origin).
    pub sources: Vec<String>,
    /// True when the distribution's own data marks this update as a security update (for apt: an origin in
    /// a `-security` suite or with the `Debian-Security` label; for dnf/yum: a `security` advisory). Never
    /// guessed from names.
    pub security: bool,
    /// The distribution advisory that covers this update, where the distribution publishes one (dnf/yum
    /// `updateinfo`); `None` for apt, pacman and apk, whose repositories carry no advisories.
    pub advisory: Option<Advisory>,
}

/// A distribution advisory (an `updateinfo` entry): the only source of a patch's severity and CVE ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advisory {
    /// The advisory id, e.g. `FEDORA-2026-1a2b3c` or `RHSA-2026:0001`.
    pub id: String,
    /// Its type as published: `security`, `bugfix`, `enhancement`, `newpackage`.
    pub kind: String,
    /// Its severity, when the advisory states one.
    pub severity: Option<Severity>,
    /// CVE ids the advisory references.
    pub cve_ids: Vec<String>,
    /// Its title, if any.
    pub title: String,
}

/// A severity as the API spells it. Distribution terms map onto it (Red Hat: Critical → critical,
/// Important → high, Moderate → medium, Low → low).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Critical.
    Critical,
    /// High (Red Hat "Important").
    High,
    /// Medium (Red Hat "Moderate").
    Medium,
    /// Low.
    Low,
}

impl Severity {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }
}

/// A failed operation. Each variant maps to exactly one API error code in the frontend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum HelperError {
    /// The request carried a value the broker refused.
    #[error("invalid request: {message}")]
    Validation {
        /// What was wrong.
        message: String,
    },
    /// No such package, installed or available.
    #[error("package {name} not found")]
    PackageNotFound {
        /// The package.
        name: String,
    },
    /// No such service.
    #[error("service {name} not found")]
    ServiceNotFound {
        /// The service.
        name: String,
    },
    /// The host has no service manager that can be queried.
    #[error("no service manager available: {reason}")]
    ServiceManagerUnavailable {
        /// Why.
        reason: String,
    },
    /// The package database could not be read or parsed.
    #[error("package database unreadable: {message}")]
    Database {
        /// What failed.
        message: String,
    },
    /// A command from the table failed.
    #[error("{0}")]
    Exec(ExecFailure),
    /// The package database is inconsistent (e.g. an unmet dependency left by a failed install), so the
    /// package manager refuses to plan anything until it is repaired. `message` names what is broken.
    #[error("the package system needs repair: {message}")]
    NeedsRepair {
        /// What the package manager reports as broken.
        message: String,
    },
    /// The operation is not available on this backend.
    #[error("{operation} is not supported by the {backend} backend")]
    Unsupported {
        /// The operation.
        operation: String,
        /// The backend.
        backend: Backend,
    },
    /// A package-changing operation failed (or was cancelled before it changed anything).
    #[error("{} ({}): {}", .0.kind.code(), .0.exit_code.map_or("no exit code".to_owned(), |c| format!("exit code {c}")), .0.message)]
    Change(ChangeFailure),
    /// Anything else; the message is for logs.
    #[error("internal helper error: {message}")]
    Internal {
        /// What failed.
        message: String,
    },
}

/// How a command failed: its program, exit status and the tail of its standard error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{program} failed (exit code {exit_code:?}): {stderr}")]
pub struct ExecFailure {
    /// The program that ran (absolute path from the command table).
    pub program: String,
    /// Its exit code, or `None` if it was killed by a signal or could not start.
    pub exit_code: Option<i32>,
    /// The end of its standard error, size-limited.
    pub stderr: String,
}
