//! What the frontend may ask the broker to do.

use crate::names::{PackageName, ServiceName};
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
}

impl Operation {
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
        }
    }
}
