//! pacman as a [`PackageManager`]: the installed list read from the local database files, candidates and
//! upgrades from the helper's *listing* database (synced by a refresh, never the system's sync databases),
//! changes through `pacman` with progress from its stdout.
//!
//! No partial upgrade, ever: a refresh syncs only the listing database; installing runs `-Su` against the
//! system's sync databases as the last full upgrade left them; every upgrade — all, a selection, or one
//! package (`PUT /packages/{name}`) — is `-Syyu`, a selection ignoring the other upgradable packages with
//! `--ignore` (pacman's own mechanism for holding packages back). See `docs/backends/pacman.md`.
//!
//! The installed list is cached by the local database directory's stamp (pacman adds and removes one
//! directory per package version, so every change moves it), the upgradable list by that and the listing
//! database's sync files ([`crate::backend::file_stamp`]).

use super::classify::classify;
use super::progress::ProgressTracker;
use super::{exact, info, localdb, upgrades};
use crate::backend::file_stamp::tree;
use crate::backend::support::{blocking, exec_error};
use crate::backend::{BoxFuture, Change, Evidence, PackageManager, Phase, Tracker, Verdict};
use crate::broker::launcher_client::LauncherClient;
use crate::launcher::table::pacman::PacmanSettings;
use crate::pkgdb::dpkg::Stamp;
use crate::pkgdb::snapshot::Snapshot;
use lpa_protocol::launcher::Invocation;
use lpa_protocol::{
    Backend, HelperError, PackageDetail, PackageName, PackageRecord, PackageSpec, UpgradablePackage,
};
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A reading of the local database and the stamp it was read at (`None`: not stampable, never cached).
type InstalledCache = Option<(Option<Stamp>, Arc<Vec<PackageRecord>>)>;

/// The pacman backend of one package root.
pub struct PacmanManager {
    /// The system's database directory (`local/` holds the installed packages).
    db_path: PathBuf,
    /// The helper's listing database (its `sync/` holds what the last refresh fetched).
    listing_db: PathBuf,
    launcher: LauncherClient,
    installed: Mutex<InstalledCache>,
    upgradable: tokio::sync::Mutex<Option<(u64, Arc<Vec<UpgradablePackage>>)>>,
}

impl PacmanManager {
    /// pacman on `root` with the database locations the launcher's table uses, through `launcher`.
    pub fn new(root: &Path, launcher: LauncherClient) -> PacmanManager {
        let settings = PacmanSettings::default();
        PacmanManager {
            db_path: settings.db_path(root),
            listing_db: settings.listing_db(root),
            launcher,
            installed: Mutex::new(None),
            upgradable: tokio::sync::Mutex::new(None),
        }
    }

    fn local_stamp(&self) -> Option<Stamp> {
        Stamp::of(&self.db_path.join("local"))
    }

    fn read_local(db_path: &Path) -> Result<Vec<PackageRecord>, HelperError> {
        localdb::read_installed(db_path).map_err(|e| HelperError::Database {
            message: e.to_string(),
        })
    }

    /// Runs `-Qu` on the listing database. Exit 1 with nothing on stdout means "nothing to upgrade" — also
    /// when stderr only warns that a repository's database was never fetched (no refresh yet: nothing is
    /// known to be upgradable, and `/health` reports the cache as `unknown` and starts a refresh).
    /// `pacman -Dk`: `Err(NeedsRepair)` naming the unmet dependencies when the local database has any
    /// (what `-Rdd` or a failed transaction leaves behind), so updates are not computed or applied on it.
    async fn check_local(&self) -> Result<(), HelperError> {
        let out = self.launcher.exec(Invocation::PacmanCheckLocal).await?;
        if out.exit_code == Some(0) {
            return Ok(());
        }
        let problems: Vec<&str> = out
            .stdout
            .lines()
            .chain(out.stderr.lines())
            .map(str::trim)
            .filter(|l| l.starts_with("error: missing") || l.contains("dependency for"))
            .take(10)
            .collect();
        if problems.is_empty() {
            return Err(exec_error(&out));
        }
        Err(HelperError::NeedsRepair {
            message: format!(
                "unmet dependencies in the pacman database: {}",
                problems.join("; ")
            ),
        })
    }

    async fn query_upgrades(&self) -> Result<Vec<UpgradablePackage>, HelperError> {
        let out = self.launcher.exec(Invocation::PacmanQueryUpgrades).await?;
        let only_warnings = out
            .stderr
            .lines()
            .all(|l| l.trim().is_empty() || l.starts_with("warning: "));
        match out.exit_code {
            Some(0) => Ok(upgrades::parse(&out.stdout)),
            Some(1) if out.stdout.trim().is_empty() && only_warnings => Ok(Vec::new()),
            _ => Err(exec_error(&out)),
        }
    }
}

impl PackageManager for PacmanManager {
    fn backend(&self) -> Backend {
        Backend::Pacman
    }

    fn installed(&self) -> BoxFuture<'_, Result<Arc<Vec<PackageRecord>>, HelperError>> {
        Box::pin(async move {
            let stamp = self.local_stamp();
            if let Ok(cache) = self.installed.lock()
                && let Some((cached, list)) = cache.as_ref()
                && stamp.is_some()
                && *cached == stamp
            {
                return Ok(list.clone());
            }
            let db = self.db_path.clone();
            let list = Arc::new(blocking(move || Self::read_local(&db)).await?);
            // Only cache a reading during which the database did not change.
            if stamp.is_some()
                && self.local_stamp() == stamp
                && let Ok(mut cache) = self.installed.lock()
            {
                *cache = Some((stamp, list.clone()));
            }
            Ok(list)
        })
    }

    fn snapshot(&self) -> BoxFuture<'_, Result<Snapshot, HelperError>> {
        let db = self.db_path.clone();
        Box::pin(blocking(move || {
            let records = Self::read_local(&db)?;
            Ok(Snapshot::from_entries(
                localdb::snapshot_entries(&records),
                BTreeSet::new(),
            ))
        }))
    }

    fn state_stamp(&self) -> u64 {
        let mut h = std::hash::DefaultHasher::new();
        self.local_stamp().hash(&mut h);
        tree(&self.listing_db.join("sync")).hash(&mut h);
        h.finish()
    }

    fn detail(&self, name: PackageName) -> BoxFuture<'_, Result<PackageDetail, HelperError>> {
        Box::pin(async move {
            let installed = self
                .installed()
                .await?
                .iter()
                .find(|p| p.name == name.as_str())
                .cloned();
            // The listing database first (what the upgradable list shows); if it has no such package, the
            // system's sync databases, which installs are planned against: the listing database is only
            // synced by a cache refresh, and a package an install would find must not be answered 404 (the
            // frontend refuses install/update/remove at request time on that answer).
            let mut candidate = None;
            for inv in [
                Invocation::PacmanSyncInfo { name: name.clone() },
                Invocation::PacmanSystemSyncInfo { name: name.clone() },
            ] {
                let out = self.launcher.exec(inv).await?;
                // `-Si` exits 1 with "error: package 'X' was not found" when no repository offers it.
                candidate = match out.exit_code {
                    Some(0) => info::parse(&out.stdout),
                    Some(1) if out.stderr.contains("was not found") => None,
                    _ => return Err(exec_error(&out)),
                };
                if candidate.as_ref().is_some_and(|c| c.name == name.as_str()) {
                    break;
                }
            }
            Ok(PackageDetail {
                installed,
                candidate,
            })
        })
    }

    fn upgradable(
        &self,
        fresh: bool,
    ) -> BoxFuture<'_, Result<Arc<Vec<UpgradablePackage>>, HelperError>> {
        Box::pin(async move {
            // The stamp is taken before the read: a change during it costs one more read, never a stale
            // list.
            let stamp = self.state_stamp();
            let mut cache = self.upgradable.lock().await;
            if !fresh
                && let Some((cached, list)) = cache.as_ref()
                && *cached == stamp
            {
                return Ok(list.clone());
            }
            self.check_local().await?;
            let list = Arc::new(self.query_upgrades().await?);
            *cache = Some((stamp, list.clone()));
            Ok(list)
        })
    }

    fn plan(&self, change: Change) -> Result<Invocation, HelperError> {
        Ok(match change {
            Change::Refresh => Invocation::PacmanRefresh,
            // Installs and exact-version updates name packages exactly: see `plan_exact`.
            change @ (Change::Install { .. } | Change::Update { .. }) => {
                return Err(HelperError::Internal {
                    message: format!("pacman plans {change:?} only through plan_exact"),
                });
            }
            Change::Remove { name, purge } => Invocation::PacmanRemove {
                names: vec![name],
                nosave: purge,
            },
            Change::UpgradeAll => Invocation::PacmanSysUpgrade { ignore: Vec::new() },
            Change::UpgradeSome { names, upgradable } => {
                let wanted: BTreeSet<&str> = names.iter().map(PackageName::as_str).collect();
                let ignore = upgradable
                    .iter()
                    .filter(|u| !wanted.contains(u.as_str()))
                    // Names come from pacman's own output; one outside the grammar cannot be passed on,
                    // and refusing the plan is safer than upgrading it by omission.
                    .map(|u| {
                        PackageName::new(u.as_str()).map_err(|e| HelperError::Internal {
                            message: format!("cannot hold back {u:?}: {e}"),
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Invocation::PacmanSysUpgrade { ignore }
            }
        })
    }

    fn plan_exact(&self, change: Change) -> BoxFuture<'_, Result<Invocation, HelperError>> {
        // pacman installs a group's members or a provider for a name that is no package, even as
        // `REPO/NAME`: every name is looked up first with `pacman -Si` (exact names only) and handed on as
        // `REPO/NAME[=VERSION]` of the repository that has it (see `exact`).
        Box::pin(async move {
            // A change on a database with unmet dependencies is refused before it starts; removing a
            // package (which may be the repair) and refreshing stay possible.
            if !matches!(change, Change::Remove { .. } | Change::Refresh) {
                self.check_local().await?;
            }
            let (specs, reinstall) = match change {
                Change::Install { packages, options } => (packages, options.reinstall),
                Change::Update {
                    name,
                    version: Some(version),
                } => (
                    vec![PackageSpec {
                        name,
                        version: Some(version),
                    }],
                    false,
                ),
                other => return self.plan(other),
            };
            let mut packages = Vec::with_capacity(specs.len());
            for spec in specs {
                let out = self
                    .launcher
                    .exec(Invocation::PacmanSystemSyncInfo {
                        name: spec.name.clone(),
                    })
                    .await?;
                let shown = match out.exit_code {
                    Some(0) => out.stdout.as_str(),
                    Some(1) if out.stderr.contains("was not found") => "",
                    _ => return Err(exec_error(&out)),
                };
                packages.push(exact::target(&spec, shown)?);
            }
            Ok(Invocation::PacmanInstall {
                packages,
                reinstall,
            })
        })
    }

    fn updates_as_selection(&self) -> bool {
        true
    }

    fn tracker(&self, _phase: Phase) -> Box<dyn Tracker> {
        Box::new(ProgressTracker::new())
    }

    fn classify(&self, phase: Phase, evidence: &Evidence<'_>) -> Option<Verdict> {
        classify(phase, evidence)
    }

    fn lock_was_busy(&self, evidence: &Evidence<'_>) -> bool {
        super::classify::lock_busy(evidence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lpa_protocol::InstallOptions;

    fn name(s: &str) -> PackageName {
        PackageName::new(s).unwrap()
    }

    /// A manager whose launcher is never used: `plan` is pure.
    fn manager() -> PacmanManager {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let launcher = rt.block_on(async { LauncherClient::start(a).unwrap() });
        PacmanManager::new(Path::new("/w/root"), launcher)
    }

    #[test]
    fn a_selection_is_a_full_upgrade_ignoring_every_other_upgradable_package() {
        let m = manager();
        let inv = m
            .plan(Change::UpgradeSome {
                names: vec![name("demo-lib")],
                upgradable: vec!["demo-app".into(), "demo-lib".into(), "hello".into()],
            })
            .unwrap();
        assert_eq!(
            inv,
            Invocation::PacmanSysUpgrade {
                ignore: vec![name("demo-app"), name("hello")]
            }
        );
        assert_eq!(
            m.plan(Change::UpgradeAll).unwrap(),
            Invocation::PacmanSysUpgrade { ignore: vec![] }
        );
        assert!(m.updates_as_selection());
    }

    #[test]
    fn install_remove_and_refresh_map_to_their_entries() {
        let m = manager();
        let spec = PackageSpec {
            name: name("hello"),
            version: None,
        };
        // Installs need their names resolved first (`plan_exact`, which asks pacman -Si): the plain
        // plan refuses rather than pass an unresolved name.
        assert!(
            m.plan(Change::Install {
                packages: vec![spec],
                options: InstallOptions {
                    reinstall: true,
                    ..InstallOptions::default()
                },
            })
            .is_err()
        );
        assert_eq!(
            m.plan(Change::Remove {
                name: name("hello"),
                purge: true
            })
            .unwrap(),
            Invocation::PacmanRemove {
                names: vec![name("hello")],
                nosave: true
            }
        );
        assert_eq!(m.plan(Change::Refresh).unwrap(), Invocation::PacmanRefresh);
    }

    #[test]
    fn the_state_stamp_follows_the_local_database_and_the_listing_sync_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let launcher = rt.block_on(async { LauncherClient::start(a).unwrap() });
        let m = PacmanManager::new(root, launcher);
        std::fs::create_dir_all(root.join("var/lib/pacman/local")).unwrap();
        let sync = root.join("var/lib/linux-patch-api/pacman-sync/sync");
        std::fs::create_dir_all(&sync).unwrap();
        let first = m.state_stamp();
        assert_eq!(m.state_stamp(), first);
        std::fs::write(sync.join("demo.db"), "v2").unwrap();
        let synced = m.state_stamp();
        assert_ne!(synced, first, "a sync of the listing database");
        std::fs::create_dir(root.join("var/lib/pacman/local/hello-1.0-1")).unwrap();
        assert_ne!(m.state_stamp(), synced, "an installed package");
    }
}
