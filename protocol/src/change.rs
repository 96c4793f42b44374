//! Operations that change the host: what they take, what they stream while running, and how they end.
//!
//! A package-changing request is answered by zero or more [`ServerMessage::Event`](crate::ServerMessage)
//! frames carrying a [`JobEvent`], then one `Response` whose result is a [`ChangeReport`] or a
//! [`ChangeFailure`]. The broker records the exact installed version of every package before and after, so
//! `changes` is what the package database says happened, not what the package manager claimed.

use crate::names::{PackageName, Version};
use serde::{Deserialize, Serialize};

/// One package to install, optionally at an exact version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageSpec {
    /// The package.
    pub name: PackageName,
    /// Exact version, or the candidate when `None`.
    pub version: Option<Version>,
}

/// Options of an install. Each defaults to `false`; none of them ever disables signature verification
/// (DESIGN invariant 7): there is deliberately no field that could.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallOptions {
    /// Do not install recommended packages.
    pub no_recommends: bool,
    /// Allow installing an older version than the installed one.
    pub allow_downgrade: bool,
    /// Reinstall packages that are already at the requested version (the API's `force`).
    pub reinstall: bool,
}

/// Progress of a running change, streamed to the frontend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum JobEvent {
    /// Overall progress (0–100) and what the package manager says it is doing.
    Progress {
        /// Percent done, 0–100.
        percent: u8,
        /// The package manager's message, e.g. `Unpacking demo-hello (all)`.
        message: String,
    },
    /// The package manager has started changing the system (dpkg is running). From here on the change
    /// cannot be cancelled safely; sent at most once.
    ChangesStarted,
    /// A line worth keeping in the job's log (size-limited by the broker).
    Log {
        /// The line.
        line: String,
    },
}

/// One package whose installed version changed. `from: None` is a new install, `to: None` a removal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageChange {
    /// The package.
    pub name: String,
    /// Version before, if it was installed.
    pub from: Option<String>,
    /// Version after, if it is installed.
    pub to: Option<String>,
}

/// The end of a successful change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeReport {
    /// Every package whose installed version changed, sorted by name.
    pub changes: Vec<PackageChange>,
    /// Human-readable summary, e.g. `3 packages upgraded` or `nothing to apply`.
    pub message: String,
    /// Exit code of the last command run.
    pub exit_code: Option<i32>,
    /// Captured standard output (size-limited).
    pub stdout: String,
    /// Captured standard error (size-limited).
    pub stderr: String,
}

/// Classification of a failed change; each maps to one job `error_code` of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FailureKind {
    /// `PKG_NOT_FOUND`.
    PackageNotFound,
    /// `DEPENDENCY_CONFLICT`.
    DependencyConflict,
    /// `NETWORK_ERROR`.
    Network,
    /// `CACHE_REFRESH_ERROR`.
    CacheRefresh,
    /// `GPG_ERROR`.
    Gpg,
    /// `LOCK_TIMEOUT`.
    LockTimeout,
    /// `PERMISSION_DENIED`.
    PermissionDenied,
    /// `COMMAND_NOT_FOUND`.
    CommandNotFound,
    /// `PKG_MANAGER_ERROR` (for example a failing maintainer script).
    PackageManager,
    /// `TIMEOUT`.
    Timeout,
    /// `REBOOT_ERROR`.
    Reboot,
    /// Cancelled on request before anything was changed.
    Cancelled,
    /// `UNKNOWN_ERROR`.
    Unknown,
}

impl FailureKind {
    /// The job `error_code` of API.md (for [`FailureKind::Cancelled`], `CANCELLED`, which only appears
    /// internally: a cancelled job has status `cancelled`, not an error code).
    pub fn code(self) -> &'static str {
        match self {
            FailureKind::PackageNotFound => "PKG_NOT_FOUND",
            FailureKind::DependencyConflict => "DEPENDENCY_CONFLICT",
            FailureKind::Network => "NETWORK_ERROR",
            FailureKind::CacheRefresh => "CACHE_REFRESH_ERROR",
            FailureKind::Gpg => "GPG_ERROR",
            FailureKind::LockTimeout => "LOCK_TIMEOUT",
            FailureKind::PermissionDenied => "PERMISSION_DENIED",
            FailureKind::CommandNotFound => "COMMAND_NOT_FOUND",
            FailureKind::PackageManager => "PKG_MANAGER_ERROR",
            FailureKind::Timeout => "TIMEOUT",
            FailureKind::Reboot => "REBOOT_ERROR",
            FailureKind::Cancelled => "CANCELLED",
            FailureKind::Unknown => "UNKNOWN_ERROR",
        }
    }
}

/// The end of a failed change. `changes` lists what *did* change before the failure (a failing postinst
/// still unpacked the package), so the job record and a later rollback stay truthful.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeFailure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// Human-readable reason, e.g. `E: Unable to locate package nosuch`.
    pub message: String,
    /// Exit code of the failing command, if it ran.
    pub exit_code: Option<i32>,
    /// Captured standard output (size-limited).
    pub stdout: String,
    /// Captured standard error (size-limited).
    pub stderr: String,
    /// Packages whose installed version changed anyway.
    pub changes: Vec<PackageChange>,
}
