//! What the frontend may ask the broker to do.

use crate::change::{InstallOptions, PackageSpec};
use crate::names::{Glob, PackageName, ServiceName, Version};
use serde::{Deserialize, Serialize};

/// One operation. Closed: the broker has a handler for each variant and nothing else can be expressed.
///
/// New variants are appended (bincode encodes the variant index) and bump [`crate::PROTOCOL_VERSION`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Operation {
    /// Answered by the broker itself; used for liveness and round-trip benchmarks.
    Ping,
    /// Operating system, kernel, host uptime, reboot-required state.
    SystemInfo,
    /// State of one service from the host's service manager.
    ServiceStatus {
        /// The unit or service name.
        name: ServiceName,
    },
    /// Every installed package, read directly from the package database.
    ListInstalled,
    /// One package, installed or available.
    PackageDetail {
        /// The package.
        name: PackageName,
    },
    /// Packages with a newer candidate version, with their origin (so security updates can be marked).
    ListUpgradable,
    /// A cheap fingerprint of everything [`Operation::ListInstalled`] and [`Operation::ListUpgradable`]
    /// depend on (package database and repository index files). Equal fingerprints mean both lists are
    /// unchanged, so the frontend can serve its copy instead of moving thousands of records again.
    PackageStateStamp,
    /// Refresh the package index (`apt-get update`). Answered with [`crate::Outcome::CacheRefreshed`] or
    /// [`crate::HelperError::Change`] (kind `CacheRefresh`).
    RefreshCache,
    /// Install packages. Streams [`crate::JobEvent`]s; answered with [`crate::Outcome::Changed`].
    Install {
        /// What to install (at least one).
        #[serde(deserialize_with = "crate::list::deserialize")]
        packages: Vec<PackageSpec>,
        /// Options.
        options: InstallOptions,
    },
    /// Update one installed package to its candidate or to an exact version.
    Update {
        /// The package.
        name: PackageName,
        /// Exact target version, or the candidate.
        version: Option<Version>,
    },
    /// Remove one package, optionally purging its configuration.
    Remove {
        /// The package.
        name: PackageName,
        /// Also remove configuration files.
        purge: bool,
    },
    /// Upgrade installed packages: the named ones (`Some`) or every upgradable one (`None`), minus those
    /// matching an exclusion pattern. Never removes packages.
    ApplyUpdates {
        /// Packages to upgrade; `None` means all upgradable packages.
        #[serde(deserialize_with = "crate::list::optional")]
        selection: Option<Vec<PackageName>>,
        /// Patterns of packages to leave alone.
        #[serde(deserialize_with = "crate::list::deserialize")]
        exclude: Vec<Glob>,
    },
    /// Reboot the host after `delay_seconds`, with the reboot command of the helper's own configuration.
    Reboot {
        /// Delay before the reboot.
        delay_seconds: u32,
    },
    /// How confined the broker and the launcher are, each as it measured itself; answered by the broker
    /// with [`crate::Outcome::Confinement`].
    Confinement,
}

impl Operation {
    /// Whether this operation may change the host. Such operations run one at a time (DESIGN invariant 10)
    /// and are never retried automatically.
    pub fn changes_host(&self) -> bool {
        matches!(
            self,
            Operation::RefreshCache
                | Operation::Install { .. }
                | Operation::Update { .. }
                | Operation::Remove { .. }
                | Operation::ApplyUpdates { .. }
                | Operation::Reboot { .. }
        )
    }

    /// A short stable name for logs and the audit trail.
    pub fn kind(&self) -> &'static str {
        match self {
            Operation::Ping => "ping",
            Operation::SystemInfo => "system_info",
            Operation::ServiceStatus { .. } => "service_status",
            Operation::ListInstalled => "list_installed",
            Operation::PackageDetail { .. } => "package_detail",
            Operation::ListUpgradable => "list_upgradable",
            Operation::PackageStateStamp => "package_state_stamp",
            Operation::RefreshCache => "refresh_cache",
            Operation::Install { .. } => "install",
            Operation::Update { .. } => "update",
            Operation::Remove { .. } => "remove",
            Operation::ApplyUpdates { .. } => "apply_updates",
            Operation::Reboot { .. } => "reboot",
            Operation::Confinement => "confinement",
        }
    }
}
