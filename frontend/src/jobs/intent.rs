//! What a job was asked to do, in a form that survives a restart.
//!
//! The intent is persisted with the job, so that recovery after a crash knows what was *intended* and can
//! compare it with the package database, and so that a pending job can be sent to the helper after a
//! restart. Every value in it is a validated protocol type: a job file edited on disk cannot smuggle an
//! invalid name into a request (it fails to load and is set aside as corrupt).

use super::update::JobOperation;
use lpa_protocol::{Glob, InstallOptions, Operation, PackageName, PackageSpec, Version};
use serde::{Deserialize, Serialize};

/// The intended operation of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Intent {
    /// Install packages.
    Install {
        /// What to install.
        packages: Vec<PackageSpec>,
        /// Install options.
        options: InstallOptions,
    },
    /// Update one package.
    Update {
        /// The package.
        name: PackageName,
        /// Exact target version, or the candidate.
        version: Option<Version>,
    },
    /// Remove one package.
    Remove {
        /// The package.
        name: PackageName,
        /// Also remove configuration files.
        purge: bool,
    },
    /// Refresh the package cache, then upgrade.
    PatchApply {
        /// The packages to upgrade, or every upgradable one (`None`).
        selection: Option<Vec<PackageName>>,
        /// Packages to leave alone.
        exclude: Vec<Glob>,
        /// Queue a reboot with this delay (seconds) after a successful apply.
        reboot_after_seconds: Option<u32>,
    },
    /// Reboot the host.
    Reboot {
        /// Delay before the reboot.
        delay_seconds: u32,
        /// Admitted although package jobs were queued or running.
        force: bool,
        /// Why, as the client said (audited).
        reason: Option<String>,
    },
    /// Refresh the package cache.
    CacheRefresh,
}

impl Intent {
    /// The job operation shown in the API.
    pub fn job_operation(&self) -> JobOperation {
        match self {
            Intent::Install { .. } => JobOperation::Install,
            Intent::Update { .. } => JobOperation::Update,
            Intent::Remove { .. } => JobOperation::Remove,
            Intent::PatchApply { .. } => JobOperation::PatchApply,
            Intent::Reboot { .. } => JobOperation::Reboot,
            Intent::CacheRefresh => JobOperation::CacheRefresh,
        }
    }

    /// The package names the job is about (the job's `packages`).
    pub fn packages(&self) -> Vec<String> {
        match self {
            Intent::Install { packages, .. } => {
                packages.iter().map(|p| p.name.to_string()).collect()
            }
            Intent::Update { name, .. } | Intent::Remove { name, .. } => vec![name.to_string()],
            Intent::PatchApply { selection, .. } => selection
                .iter()
                .flatten()
                .map(ToString::to_string)
                .collect(),
            Intent::Reboot { .. } | Intent::CacheRefresh => Vec::new(),
        }
    }

    /// The helper operation that carries out the intent (for a patch apply: the upgrade itself; the cache
    /// refresh before it is a separate request).
    pub fn operation(&self) -> Operation {
        match self.clone() {
            Intent::Install { packages, options } => Operation::Install { packages, options },
            Intent::Update { name, version } => Operation::Update { name, version },
            Intent::Remove { name, purge } => Operation::Remove { name, purge },
            Intent::PatchApply {
                selection, exclude, ..
            } => Operation::ApplyUpdates { selection, exclude },
            Intent::Reboot { delay_seconds, .. } => Operation::Reboot { delay_seconds },
            Intent::CacheRefresh => Operation::RefreshCache,
        }
    }

    /// Whether the job changes packages (and so blocks a reboot that is not forced). A cache refresh and a
    /// reboot itself do not.
    pub fn changes_packages(&self) -> bool {
        !matches!(self, Intent::Reboot { .. } | Intent::CacheRefresh)
    }

    /// A patch apply with no selection whose exclusions match every name (`["*"]`): it completes at once
    /// with "nothing to apply", without even refreshing the cache.
    pub fn excludes_everything(&self) -> bool {
        match self {
            Intent::PatchApply {
                selection, exclude, ..
            } => {
                selection.as_ref().is_none_or(Vec::is_empty)
                    && exclude.iter().any(|g| g.as_str().chars().all(|c| c == '*'))
            }
            _ => false,
        }
    }
}
