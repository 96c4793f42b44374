//! The broker ⇄ launcher conversation over the socketpair the launcher created before forking the broker.
//!
//! The broker never sends a program path or an argv. It sends an [`Invocation`]: a typed entry of the
//! launcher's fixed command table whose arguments are validated newtypes. The launcher re-validates them
//! (the newtypes' `Deserialize` does) and builds the argv itself from absolute paths, fixed options, a
//! literal `--`, then the values. That is DESIGN invariant 2 expressed in types.

use crate::change::PackageSpec;
use crate::names::{Architecture, PackageName, RepoName, ServiceName, Version};
use serde::{Deserialize, Serialize};

/// One package as apt must see it: a name the broker found in the dpkg database or in apt's own package
/// lists, the architecture of that record, and optionally the exact version.
///
/// The launcher joins it as `NAME:ARCH` or `NAME:ARCH=VERSION`. apt treats an argument that names no
/// package as a regular expression or glob, and a trailing `-`/`+` as remove/install; an exact name that
/// exists is always taken literally (see `docs/backends/apt.md`). The architecture suffix means the
/// argument never ends in a `-`/`+` of the name, and [`crate::Backend::check_version`] refuses versions
/// ending in `-`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AptTarget {
    /// The package, exactly as it is named in the database.
    pub name: PackageName,
    /// The record's architecture (`all` for architecture-independent packages).
    pub arch: Architecture,
    /// The exact version to select, or the candidate when `None`.
    pub version: Option<Version>,
}

/// One package as pacman must see it: the repository whose sync database lists a package of exactly this
/// name (found by the broker), the name, and optionally the exact version.
///
/// The launcher joins it as `REPO/NAME` or `REPO/NAME=VERSION`. pacman installs a group or a provider for
/// a name that is no package, even with the `REPO/` prefix (see `docs/backends/pacman.md`); an exact name
/// that exists is taken literally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacmanTarget {
    /// The sync repository.
    pub repo: RepoName,
    /// The package, exactly as the repository names it.
    pub name: PackageName,
    /// The exact version (`[EPOCH:]PKGVER-PKGREL`), or whatever the repository has when `None`.
    pub version: Option<Version>,
}

/// Identifies one execution on the socketpair, chosen by the broker.
pub type ExecId = u64;

/// One entry of the command table, with its validated arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Invocation {
    /// `apt-get -s dist-upgrade`: what an upgrade would do, with the origin of every candidate.
    AptSimulateDistUpgrade,
    /// `apt-cache show --no-all-versions -- NAME`: the candidate record of a package.
    AptCacheShow {
        /// The package.
        name: PackageName,
    },
    /// `apt-cache show -- NAME`: every version apt knows of a package. apt-cache widens an unknown name
    /// like apt-get does; the broker keeps only the records whose `Package:` is exactly NAME.
    AptCacheShowAll {
        /// The package.
        name: PackageName,
    },
    /// `apt-cache policy -- NAME`: installed and candidate versions with their origins.
    AptCachePolicy {
        /// The package.
        name: PackageName,
    },
    /// `systemctl show --property=… -- NAME`.
    SystemctlShow {
        /// The unit.
        name: ServiceName,
    },
    /// `rc-service -- NAME status` (OpenRC hosts).
    RcServiceStatus {
        /// The service.
        name: ServiceName,
    },
    /// `apt-get update`.
    AptGetUpdate,
    /// `apt-get install --no-remove … -- NAME:ARCH[=VERSION]…`; the launcher joins the parts itself.
    AptGetInstall {
        /// What to install (at least one), resolved by the broker.
        #[serde(deserialize_with = "crate::list::deserialize")]
        packages: Vec<AptTarget>,
        /// `--no-install-recommends`.
        no_recommends: bool,
        /// `--allow-downgrades`.
        allow_downgrades: bool,
        /// `--reinstall`.
        reinstall: bool,
    },
    /// `apt-get install --only-upgrade --no-remove … -- NAME:ARCH…`: upgrades installed packages only.
    AptGetOnlyUpgrade {
        /// The installed packages (at least one; versions are not used).
        #[serde(deserialize_with = "crate::list::deserialize")]
        names: Vec<AptTarget>,
    },
    /// `apt-get remove` (or `purge`) `-- NAME:ARCH…`.
    AptGetRemove {
        /// The installed packages (at least one; versions are not used).
        #[serde(deserialize_with = "crate::list::deserialize")]
        names: Vec<AptTarget>,
        /// `purge` instead of `remove`.
        purge: bool,
    },
    /// `apt-get --no-remove … dist-upgrade`: upgrade everything upgradable (new dependencies allowed, held
    /// packages kept back), never removing a package. Used when every update is wanted, so no simulation
    /// has to run first.
    AptGetDistUpgrade,
    /// The reboot command of the helper's configuration, with the delay in whole minutes
    /// (`shutdown -r +N`).
    Reboot {
        /// Delay in minutes (0 = now).
        delay_minutes: u32,
    },
    // apk (Alpine). The global options (`--root`, repositories file, keys dir, lock wait) come from the
    // helper's settings, never from a request; names and pins are checked against apk's own grammar.
    /// `apk list --upgradable`: installed packages with a newer version in the repositories.
    ApkListUpgradable,
    /// `apk version -l <`: installed and available versions of outdated packages.
    ApkVersionOutdated,
    /// `apk upgrade --simulate`: what upgrading everything would do, without doing it.
    ApkSimulateUpgrade,
    /// `apk policy -- NAME`: every version of a package and where it comes from.
    ApkPolicy {
        /// The package.
        name: PackageName,
    },
    /// `apk info -a -- NAME`: the fields of a package, one block per version apk prints.
    ApkInfo {
        /// The package.
        name: PackageName,
    },
    /// `apk update`: refresh the repository indexes.
    ApkUpdate,
    /// `apk add -- NAME[=VERSION]…`; the launcher joins name and version itself.
    ApkAdd {
        /// What to install (at least one).
        #[serde(deserialize_with = "crate::list::deserialize")]
        packages: Vec<PackageSpec>,
    },
    /// `apk fix --reinstall -- NAME…`: the API's `force` for packages already installed.
    ApkReinstall {
        /// The packages (at least one).
        #[serde(deserialize_with = "crate::list::deserialize")]
        names: Vec<PackageName>,
    },
    /// `apk upgrade -- NAME…`: upgrades these installed packages only.
    ApkUpgradeSelected {
        /// The packages (at least one).
        #[serde(deserialize_with = "crate::list::deserialize")]
        names: Vec<PackageName>,
    },
    /// `apk upgrade`: upgrade everything upgradable.
    ApkUpgradeAll,
    /// `apk del -- NAME…` (with the global `--purge` when asked).
    ApkDel {
        /// The packages (at least one).
        #[serde(deserialize_with = "crate::list::deserialize")]
        names: Vec<PackageName>,
        /// Also remove modified configuration files.
        purge: bool,
    },
    // pacman (Arch). The global options (`--config`, `--root`, `--dbpath`) come from the helper's settings.
    // No entry ever runs `-Sy` without `-u` on the system's sync databases (no partial upgrades): the
    // listing entries use the helper's own listing database, the way Arch's `checkupdates` does.
    /// `pacman -Syy` into the helper's listing database (its `local` is the system's): refreshes what
    /// the listing entries see without touching the system's sync databases.
    PacmanRefresh,
    /// `pacman -Qu` against the listing database: installed packages with a newer version.
    PacmanQueryUpgrades,
    /// `pacman -Si -- NAME` against the listing database: the candidate record of a package.
    PacmanSyncInfo {
        /// The package.
        name: PackageName,
    },
    /// `pacman -Dk` on the system's local database: whether every installed package's dependencies are
    /// met (exit 1 with `error: missing 'X' dependency for 'Y'` when not).
    PacmanCheckLocal,
    /// `pacman -Si -- NAME` against the system's sync databases (the ones an install uses), never
    /// refreshed here: which repository has a package of exactly this name, at which version.
    PacmanSystemSyncInfo {
        /// The package.
        name: PackageName,
    },
    /// `pacman -Q -- NAME` on the system's local database: the installed package of exactly this name
    /// (`-Q` matches package names only, never a group or a provide). The launcher's removal guard.
    PacmanQueryInstalled {
        /// The package.
        name: PackageName,
    },
    /// `pacman -Su [--needed] -- REPO/NAME[=VERSION]…` on the system's databases, never refreshed here: if they
    /// are ahead of the installed system, the pending upgrade completes with the install.
    PacmanInstall {
        /// What to install (at least one), resolved by the broker.
        #[serde(deserialize_with = "crate::list::deserialize")]
        packages: Vec<PacmanTarget>,
        /// Reinstall packages already at the version (drops `--needed`).
        reinstall: bool,
    },
    /// `pacman -Syyu [--ignore=NAME]…`: refresh and full upgrade in one transaction.
    PacmanSysUpgrade {
        /// Installed packages to leave at their version (pacman's own `--ignore`).
        #[serde(deserialize_with = "crate::list::deserialize")]
        ignore: Vec<PackageName>,
    },
    /// `pacman -R[n] -- NAME…`: never cascades (`-c`) and never skips dependency checks.
    PacmanRemove {
        /// The packages (at least one).
        #[serde(deserialize_with = "crate::list::deserialize")]
        names: Vec<PackageName>,
        /// `-n`: also remove configuration files instead of saving them as `.pacsave`.
        nosave: bool,
    },
    // dnf and yum (RHEL family; yum is the same program, RHEL 8+ ships it as a link to dnf). The global
    // options (`--installroot`, `--config`, `--releasever`, `exit_on_lock`) come from the helper's settings;
    // no entry lowers signature checking or lets dnf erase packages to resolve conflicts (`--allowerasing`).
    /// `rpm -qa --qf FORMAT` with an explicit `--dbpath`: every installed package, in the helper's format.
    RpmQueryInstalled,
    /// `rpm -Va --nofiles --nodigest --nosignature --noscripts` with an explicit `--dbpath`: unmet
    /// dependencies of installed packages (`Unsatisfied dependencies for …`), nothing else.
    RpmVerifyDependencies,
    /// `rpm -q --qf '%{NAME}\n' -- NAME` with an explicit `--dbpath`: the name of each installed package
    /// NAME selects (rpm reads `NAME-VERSION` forms too, so the caller compares the printed names). The
    /// launcher's guard before a dnf removal or upgrade.
    RpmQueryName {
        /// The package.
        name: PackageName,
    },
    /// `dnf repoquery --upgrades --latest-limit=1 --qf FORMAT` from the cache: the newest upgrade of each
    /// installed package.
    DnfRepoqueryUpgrades,
    /// `dnf repoquery --available --latest-limit=1 --qf FORMAT -- NAME` from the cache: the candidate.
    DnfRepoqueryCandidate {
        /// The package.
        name: PackageName,
    },
    /// `dnf repoquery --available --qf FORMAT -- NAME` from the cache: every available version. dnf
    /// widens NAME (name-version forms, provides); the broker keeps only records named exactly NAME.
    DnfRepoqueryVersions {
        /// The package.
        name: PackageName,
    },
    /// `dnf updateinfo list --updates` from the cache: advisory id, type/severity and NEVRA per update.
    DnfUpdateinfoList,
    /// `dnf updateinfo info --updates` from the cache: every advisory's fields, including its CVE ids.
    DnfUpdateinfoInfo,
    /// `dnf makecache --refresh`: refresh the repository metadata.
    DnfMakecache,
    /// `dnf install -- NAME[-[EPOCH:]VERSION[-RELEASE]]…`; the launcher joins name and version itself.
    /// Installing an older version than the installed one downgrades silently in dnf 4: the broker must
    /// refuse that unless downgrades are allowed, and then use [`Invocation::DnfDowngrade`].
    DnfInstall {
        /// What to install (at least one).
        #[serde(deserialize_with = "crate::list::deserialize")]
        packages: Vec<PackageSpec>,
        /// `--setopt=install_weak_deps=False` (the API's `no_recommends`).
        no_weak_deps: bool,
    },
    /// `dnf reinstall -- SPEC…`: the API's `force`.
    DnfReinstall {
        /// The packages (at least one).
        #[serde(deserialize_with = "crate::list::deserialize")]
        packages: Vec<PackageSpec>,
    },
    /// `dnf downgrade -- SPEC…`: only when the request allows downgrades.
    DnfDowngrade {
        /// The packages (at least one).
        #[serde(deserialize_with = "crate::list::deserialize")]
        packages: Vec<PackageSpec>,
    },
    /// `dnf upgrade -- NAME…`: upgrades these installed packages only.
    DnfUpgrade {
        /// The packages (at least one).
        #[serde(deserialize_with = "crate::list::deserialize")]
        names: Vec<PackageName>,
    },
    /// `dnf upgrade`: upgrade everything upgradable.
    DnfUpgradeAll,
    /// `dnf remove --noautoremove -- NAME…`: removes these (and what depends on them), never dependencies
    /// that merely became unused.
    DnfRemove {
        /// The packages (at least one).
        #[serde(deserialize_with = "crate::list::deserialize")]
        names: Vec<PackageName>,
    },
}

impl Invocation {
    /// A short stable name for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Invocation::AptSimulateDistUpgrade => "apt_simulate_dist_upgrade",
            Invocation::AptCacheShow { .. } => "apt_cache_show",
            Invocation::AptCachePolicy { .. } => "apt_cache_policy",
            Invocation::AptCacheShowAll { .. } => "apt_cache_show_all",
            Invocation::SystemctlShow { .. } => "systemctl_show",
            Invocation::RcServiceStatus { .. } => "rc_service_status",
            Invocation::AptGetUpdate => "apt_get_update",
            Invocation::AptGetInstall { .. } => "apt_get_install",
            Invocation::AptGetOnlyUpgrade { .. } => "apt_get_only_upgrade",
            Invocation::AptGetRemove { .. } => "apt_get_remove",
            Invocation::AptGetDistUpgrade => "apt_get_dist_upgrade",
            Invocation::Reboot { .. } => "reboot",
            Invocation::ApkListUpgradable => "apk_list_upgradable",
            Invocation::ApkVersionOutdated => "apk_version_outdated",
            Invocation::ApkSimulateUpgrade => "apk_simulate_upgrade",
            Invocation::ApkPolicy { .. } => "apk_policy",
            Invocation::ApkInfo { .. } => "apk_info",
            Invocation::ApkUpdate => "apk_update",
            Invocation::ApkAdd { .. } => "apk_add",
            Invocation::ApkReinstall { .. } => "apk_reinstall",
            Invocation::ApkUpgradeSelected { .. } => "apk_upgrade_selected",
            Invocation::ApkUpgradeAll => "apk_upgrade_all",
            Invocation::ApkDel { .. } => "apk_del",
            Invocation::PacmanRefresh => "pacman_refresh",
            Invocation::PacmanQueryUpgrades => "pacman_query_upgrades",
            Invocation::PacmanSyncInfo { .. } => "pacman_sync_info",
            Invocation::PacmanSystemSyncInfo { .. } => "pacman_system_sync_info",
            Invocation::PacmanQueryInstalled { .. } => "pacman_query_installed",
            Invocation::PacmanCheckLocal => "pacman_check_local",
            Invocation::PacmanInstall { .. } => "pacman_install",
            Invocation::PacmanSysUpgrade { .. } => "pacman_sys_upgrade",
            Invocation::PacmanRemove { .. } => "pacman_remove",
            Invocation::RpmQueryInstalled => "rpm_query_installed",
            Invocation::RpmVerifyDependencies => "rpm_verify_dependencies",
            Invocation::RpmQueryName { .. } => "rpm_query_name",
            Invocation::DnfRepoqueryUpgrades => "dnf_repoquery_upgrades",
            Invocation::DnfRepoqueryCandidate { .. } => "dnf_repoquery_candidate",
            Invocation::DnfRepoqueryVersions { .. } => "dnf_repoquery_versions",
            Invocation::DnfUpdateinfoList => "dnf_updateinfo_list",
            Invocation::DnfUpdateinfoInfo => "dnf_updateinfo_info",
            Invocation::DnfMakecache => "dnf_makecache",
            Invocation::DnfInstall { .. } => "dnf_install",
            Invocation::DnfReinstall { .. } => "dnf_reinstall",
            Invocation::DnfDowngrade { .. } => "dnf_downgrade",
            Invocation::DnfUpgrade { .. } => "dnf_upgrade",
            Invocation::DnfUpgradeAll => "dnf_upgrade_all",
            Invocation::DnfRemove { .. } => "dnf_remove",
        }
    }
}

/// Broker → launcher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum LauncherRequest {
    /// Run one table entry and report its output.
    Exec {
        /// Echoed in the response.
        id: ExecId,
        /// What to run.
        invocation: Invocation,
    },
    /// Stop the execution with this id: SIGTERM to its process group, SIGKILL after a grace period. The
    /// execution then ends with its (signalled) `Finished`. Unknown or finished ids are ignored.
    Cancel {
        /// The execution to stop.
        id: ExecId,
    },
}

/// Launcher → broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum LauncherResponse {
    /// The execution with this id ended (or could not start).
    Finished {
        /// The request's id.
        id: ExecId,
        /// Its result.
        result: Result<ExecOutput, LaunchError>,
    },
    /// One line the package manager wrote to its status channel (apt's `APT::Status-Fd`), as it happens;
    /// any number precede `Finished`.
    Status {
        /// The execution's id.
        id: ExecId,
        /// The line, without its newline (size-limited).
        line: String,
    },
}

/// What a finished command produced. Output is captured up to a limit; `truncated` says whether it was cut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecOutput {
    /// Absolute path of the program that ran.
    pub program: String,
    /// Exit code, `None` when killed by a signal.
    pub exit_code: Option<i32>,
    /// Standard output (lossy UTF-8), at most the launcher's capture limit.
    pub stdout: String,
    /// Standard error (lossy UTF-8), at most the launcher's capture limit.
    pub stderr: String,
    /// True when stdout or stderr was cut at the limit.
    pub truncated: bool,
}

/// Why the launcher did not run an invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum LaunchError {
    /// The table entry does not exist on this host (program missing) or is refused by policy.
    #[error("command not available: {0}")]
    NotAvailable(String),
    /// The program exists but could not be started.
    #[error("could not start {program}: {reason}")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        reason: String,
    },
}
