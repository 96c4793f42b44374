//! The one interface the broker has to a package manager: what it reads, which command-table entry each
//! change becomes, and what the output of a change means.
//!
//! The broker's request handling ([`crate::broker`]) is written once against [`PackageManager`]; each
//! backend (apt, dnf/yum, pacman, apk) implements it with its own parsers. A backend never spawns anything
//! itself: it asks the launcher for [`Invocation`]s, which are entries of the launcher's fixed table.

use super::judge::{Evidence, Phase, Verdict};
use crate::pkgdb::snapshot::Snapshot;
use lpa_protocol::launcher::Invocation;
use lpa_protocol::{
    Backend, HelperError, InstallOptions, JobEvent, PackageDetail, PackageName, PackageRecord,
    PackageSpec, UpgradablePackage, Version,
};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed future, so that [`PackageManager`] can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A package change the broker wants, before it becomes a backend's command-table entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Refresh the repository metadata.
    Refresh,
    /// Install packages (with optional exact versions).
    Install {
        /// What to install (at least one).
        packages: Vec<PackageSpec>,
        /// The API's options (`force` = reinstall; never weaker signature checks).
        options: InstallOptions,
    },
    /// Update one installed package to its candidate or to an exact version.
    Update {
        /// The package.
        name: PackageName,
        /// The exact target version, if any.
        version: Option<Version>,
    },
    /// Remove one package.
    Remove {
        /// The package.
        name: PackageName,
        /// Also remove its configuration (where the package manager distinguishes).
        purge: bool,
    },
    /// Upgrade everything upgradable, planned by the package manager in the same run.
    UpgradeAll,
    /// Upgrade these installed packages (at least one).
    UpgradeSome {
        /// What to upgrade.
        names: Vec<PackageName>,
        /// Every package the fresh upgradable list named, for backends that express a selection as
        /// "all but these" (pacman's `--ignore`, since upgrading single packages would be a partial
        /// upgrade).
        upgradable: Vec<String>,
    },
}

/// Turns the status lines of one run into job events.
pub trait Tracker: Send {
    /// The events one line causes, in order (possibly none). [`JobEvent::ChangesStarted`] is sent at the
    /// first line that proves the package manager began changing the system: a cancel is refused from then.
    fn feed(&mut self, line: &str) -> Vec<JobEvent>;
    /// Structured error lines seen so far (see [`Evidence::pm_errors`]).
    fn errors(&self) -> &[String];
}

/// One package manager, as the broker uses it.
pub trait PackageManager: Send + Sync {
    /// Which backend this is (reported as `package_manager`).
    fn backend(&self) -> Backend;

    /// The installed packages.
    fn installed(&self) -> BoxFuture<'_, Result<Arc<Vec<PackageRecord>>, HelperError>>;

    /// The installed version of every package whose files are on disk, for the before/after diff of a
    /// change (a package left half-configured by a failed script counts: its files were replaced).
    fn snapshot(&self) -> BoxFuture<'_, Result<Snapshot, HelperError>>;

    /// A number that changes whenever the installed set or the repository metadata changes, so the
    /// frontend can cache lists and the broker can cache the upgradable list.
    fn state_stamp(&self) -> u64;

    /// The installed record and the candidate of `name` (already checked against the grammar); `None`
    /// for both is answered `PackageNotFound` by the caller.
    fn detail(&self, name: PackageName) -> BoxFuture<'_, Result<PackageDetail, HelperError>>;

    /// Installed packages with a newer candidate. With `fresh`, computed now rather than served from a
    /// cache (a change's plan must match the metadata the change will use).
    fn upgradable(
        &self,
        fresh: bool,
    ) -> BoxFuture<'_, Result<Arc<Vec<UpgradablePackage>>, HelperError>>;

    /// The command-table entry that performs `change`.
    fn plan(&self, change: Change) -> Result<Invocation, HelperError>;

    /// Like [`Self::plan`], after resolving every requested name to the exact identity of a package the
    /// package manager knows (issue 11: a package manager would otherwise widen an unknown name to a
    /// regex, glob, provide or group match). A name without such a package is `PackageNotFound` and
    /// nothing runs. The broker always plans through this; the default is [`Self::plan`] unchanged.
    fn plan_exact(&self, change: Change) -> BoxFuture<'_, Result<Invocation, HelperError>> {
        Box::pin(std::future::ready(self.plan(change)))
    }

    /// Whether updating one package to its candidate must be planned as a selective upgrade
    /// ([`Change::UpgradeSome`], with the fresh upgradable list) rather than as [`Change::Update`]: true
    /// for pacman, whose only way to upgrade a package from freshly synced repositories is a full upgrade
    /// that ignores the others (anything else would be a partial upgrade).
    fn updates_as_selection(&self) -> bool {
        false
    }

    /// Whether a run failed only because another process held the package manager's lock, for the
    /// package managers that fail at once then instead of waiting ([`super::lock_wait`]): the broker runs
    /// such a change again until the lock timeout. apt and apk wait by themselves, hence the default.
    fn lock_was_busy(&self, _evidence: &Evidence<'_>) -> bool {
        false
    }

    /// A tracker for one run of `phase`.
    fn tracker(&self, phase: Phase) -> Box<dyn Tracker>;

    /// Why a run failed, or `None` when it succeeded.
    fn classify(&self, phase: Phase, evidence: &Evidence<'_>) -> Option<Verdict>;
}
