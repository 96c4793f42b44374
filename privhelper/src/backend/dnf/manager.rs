//! dnf (and yum) as a [`PackageManager`]: the installed list and the snapshot from one `rpm -qa`, candidates
//! and upgrades from `dnf repoquery` on the metadata cache, advisories from `dnf updateinfo`, changes through
//! `dnf` with progress from its stdout.
//!
//! The installed list is cached by the rpm database's stamp, the upgradable list (with its advisories) by the
//! stamps of the rpm database and dnf's cache ([`super::stamp`]). Reads run `rpm -q` and `dnf -C`, never the
//! change lock; neither takes the rpmdb's transaction lock, but every dnf run takes dnf's metadata lock for
//! a moment, so a dnf read that meets it busy (a change, or an operator's dnf, loading its metadata) tries
//! again until the lock timeout ([`crate::backend::lock_wait`]).

use super::classify::{classify, lock_busy};
use super::exact::{self, Evr};
use super::installed::{parse_installed, snapshot_entries};
use super::plan::plan;
use super::progress::ProgressTracker;
use super::repoquery;
use super::stamp::Stamps;
use super::updateinfo;
use crate::backend::lock_wait::LockWait;
use crate::backend::support::{blocking, exec_error};
use crate::backend::{BoxFuture, Change, Evidence, PackageManager, Phase, Tracker, Verdict};
use crate::broker::launcher_client::LauncherClient;
use crate::pkgdb::snapshot::Snapshot;
use lpa_protocol::launcher::{ExecOutput, Invocation};
use lpa_protocol::{
    Backend, HelperError, JobEvent, PackageDetail, PackageName, PackageRecord, PackageSpec,
    UpgradablePackage,
};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `(name, architecture, [epoch:]version-release)` of each installed package.
type Entries = Vec<(String, String, String)>;

/// One reading of the rpm database: the API's list and the snapshot entries.
#[derive(Debug)]
struct InstalledState {
    records: Arc<Vec<PackageRecord>>,
    entries: Arc<Entries>,
}

/// The dnf or yum backend of one package root.
pub struct DnfManager {
    backend: Backend,
    root: PathBuf,
    launcher: LauncherClient,
    /// How long a read waits out a busy dnf lock.
    lock_timeout: Duration,
    /// The last rpm database reading, valid while its stamp holds.
    installed: Mutex<Option<(u64, Arc<InstalledState>)>>,
    /// The last upgradable list, valid while both stamps hold.
    upgradable: tokio::sync::Mutex<Option<(Stamps, Arc<Vec<UpgradablePackage>>)>>,
}

impl DnfManager {
    /// `backend` ([`Backend::Dnf`] or [`Backend::Yum`]: the launcher picks the program) on `root`, through
    /// `launcher`; a read waits out a busy dnf lock for at most `lock_timeout`.
    pub fn new(
        backend: Backend,
        root: &Path,
        launcher: LauncherClient,
        lock_timeout: Duration,
    ) -> DnfManager {
        DnfManager {
            backend,
            root: root.to_owned(),
            launcher,
            lock_timeout,
            installed: Mutex::new(None),
            upgradable: tokio::sync::Mutex::new(None),
        }
    }

    /// The current stamps, read off the async threads (a directory walk).
    async fn stamps(&self) -> Stamps {
        let root = self.root.clone();
        blocking(move || Ok(Stamps::of(&root)))
            .await
            .unwrap_or(Stamps { rpmdb: 0, cache: 0 })
    }

    /// Runs a reading entry and returns its stdout, or the failure; a busy dnf lock is waited out.
    async fn read(&self, inv: Invocation) -> Result<ExecOutput, HelperError> {
        let mut wait = LockWait::new(self.lock_timeout);
        loop {
            let out = self.launcher.exec(inv.clone()).await?;
            if out.exit_code == Some(0) {
                return Ok(out);
            }
            let Some(pause) = lock_busy(&Evidence::of(&out, &[]))
                .then(|| wait.next_pause())
                .flatten()
            else {
                return Err(exec_error(&out));
            };
            tracing::debug!(kind = inv.kind(), ?pause, "dnf lock busy; reading again");
            tokio::time::sleep(pause).await;
        }
    }

    /// The rpm database now (one `rpm -qa`), remembered for [`Self::cached_installed`] and [`Self::plan`].
    async fn read_installed(&self) -> Result<Arc<InstalledState>, HelperError> {
        let stamp = self.stamps().await.rpmdb;
        let out = self.read(Invocation::RpmQueryInstalled).await?;
        let state = Arc::new(InstalledState {
            records: Arc::new(parse_installed(&out.stdout)),
            entries: Arc::new(snapshot_entries(&out.stdout)),
        });
        if let Ok(mut slot) = self.installed.lock() {
            *slot = Some((stamp, state.clone()));
        }
        Ok(state)
    }

    /// The rpm database, from the cache while its stamp holds.
    async fn cached_installed(&self) -> Result<Arc<InstalledState>, HelperError> {
        let stamp = self.stamps().await.rpmdb;
        let cached = self.installed.lock().ok().and_then(|slot| {
            slot.as_ref()
                .filter(|(s, _)| *s == stamp)
                .map(|(_, st)| st.clone())
        });
        match cached {
            Some(state) => Ok(state),
            None => self.read_installed().await,
        }
    }

    /// The upgradable list now: repoquery against the installed entries, annotated with the advisories.
    /// `rpm -Va` of dependencies only: `Err(NeedsRepair)` naming the unmet ones (what `rpm -e --nodeps`
    /// or an interrupted transaction leaves behind), so updates are not computed or applied on them.
    async fn check_rpmdb(&self) -> Result<(), HelperError> {
        let out = self
            .launcher
            .exec(Invocation::RpmVerifyDependencies)
            .await?;
        if out.exit_code == Some(0) {
            return Ok(());
        }
        let problems: Vec<String> = out
            .stdout
            .lines()
            .chain(out.stderr.lines())
            .map(str::trim)
            .filter(|l| l.contains(" is needed by ") || l.starts_with("Unsatisfied dependencies"))
            .filter(|l| !l.starts_with("Unsatisfied dependencies"))
            .take(10)
            .map(str::to_owned)
            .collect();
        if problems.is_empty() {
            // Some other verification complaint: not this check's business.
            return Ok(());
        }
        Err(HelperError::NeedsRepair {
            message: format!(
                "unmet dependencies in the rpm database: {}",
                problems.join("; ")
            ),
        })
    }

    async fn compute_upgradable(&self) -> Result<Vec<UpgradablePackage>, HelperError> {
        self.check_rpmdb().await?;
        let installed = self.cached_installed().await?;
        let upgrades = self.read(Invocation::DnfRepoqueryUpgrades).await?;
        let mut list = repoquery::upgradable(&upgrades.stdout, &installed.entries);
        if list.is_empty() {
            return Ok(list);
        }
        let advisories = self.read(Invocation::DnfUpdateinfoList).await?;
        let info = self.read(Invocation::DnfUpdateinfoInfo).await?;
        let advisories = updateinfo::merge(
            updateinfo::parse_list(&advisories.stdout),
            &updateinfo::parse_info(&info.stdout),
        );
        updateinfo::annotate(&mut list, &advisories);
        Ok(list)
    }
}

impl Tracker for ProgressTracker {
    fn feed(&mut self, line: &str) -> Vec<JobEvent> {
        ProgressTracker::feed(self, line)
    }

    fn errors(&self) -> &[String] {
        ProgressTracker::errors(self)
    }
}

impl PackageManager for DnfManager {
    fn backend(&self) -> Backend {
        self.backend
    }

    fn installed(&self) -> BoxFuture<'_, Result<Arc<Vec<PackageRecord>>, HelperError>> {
        Box::pin(async move { Ok(self.cached_installed().await?.records.clone()) })
    }

    fn snapshot(&self) -> BoxFuture<'_, Result<Snapshot, HelperError>> {
        // Always read now: the before/after diff of a change must not trust a stamp.
        Box::pin(async move {
            let state = self.read_installed().await?;
            let entries = state.entries.as_ref().clone();
            blocking(move || Ok(Snapshot::from_entries(entries, BTreeSet::new()))).await
        })
    }

    fn state_stamp(&self) -> u64 {
        Stamps::of(&self.root).fingerprint()
    }

    fn detail(&self, name: PackageName) -> BoxFuture<'_, Result<PackageDetail, HelperError>> {
        Box::pin(async move {
            let installed = self
                .cached_installed()
                .await?
                .records
                .iter()
                .find(|p| p.name == name.as_str())
                .cloned();
            let out = self
                .read(Invocation::DnfRepoqueryCandidate { name })
                .await?;
            let candidate = repoquery::candidate(&out.stdout, std::env::consts::ARCH);
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
            if fresh {
                return Ok(Arc::new(self.compute_upgradable().await?));
            }
            // Holding the lock while computing, so concurrent readers share one run.
            let mut slot = self.upgradable.lock().await;
            let stamps = self.stamps().await;
            if let Some((s, list)) = slot.as_ref()
                && *s == stamps
            {
                return Ok(list.clone());
            }
            let list = Arc::new(self.compute_upgradable().await?);
            // Keyed by the stamps from before the reads: if anything changed meanwhile (reads do not take
            // the change lock), the next call recomputes instead of trusting a list of a mixed state.
            *slot = Some((stamps, list.clone()));
            Ok(list)
        })
    }

    fn plan(&self, change: Change) -> Result<Invocation, HelperError> {
        // The broker takes a snapshot right before planning a change, so this is the current database.
        let entries = self
            .installed
            .lock()
            .ok()
            .and_then(|slot| slot.as_ref().map(|(_, st)| st.entries.clone()));
        match (entries, &change) {
            (Some(entries), _) => plan(change, &entries),
            // Nothing read yet: only a change that cannot be a downgrade is planned blind.
            (
                None,
                Change::Install { .. }
                | Change::Update {
                    version: Some(_), ..
                },
            ) => Err(HelperError::Internal {
                message: "the installed packages were not read before planning".into(),
            }),
            (None, _) => plan(change, &[]),
        }
    }

    fn plan_exact(&self, change: Change) -> BoxFuture<'_, Result<Invocation, HelperError>> {
        // Installs name packages exactly (see `exact`): dnf would widen an unknown name to a
        // name-version form, a provide or a file. Updates and removals of a name are only planned for
        // installed names (the broker checks the rpm database first), which dnf matches by name.
        Box::pin(async move {
            // A change on a database with unmet dependencies is refused before it starts; removing a
            // package (which may be the repair) and refreshing stay possible.
            if !matches!(change, Change::Remove { .. } | Change::Refresh) {
                self.check_rpmdb().await?;
            }
            let specs: Vec<PackageSpec> = match &change {
                Change::Install { packages, .. } => packages.clone(),
                Change::Update {
                    name,
                    version: Some(v),
                } => vec![PackageSpec {
                    name: name.clone(),
                    version: Some(v.clone()),
                }],
                _ => return self.plan(change),
            };
            let state = self.read_installed().await?;
            let mut resolved = Vec::with_capacity(specs.len());
            for spec in &specs {
                // Not `read`: a busy lock is waited out by the broker's planning loop, which says so in
                // the job's log.
                let out = self
                    .launcher
                    .exec(Invocation::DnfRepoqueryVersions {
                        name: spec.name.clone(),
                    })
                    .await?;
                if out.exit_code != Some(0) {
                    return Err(exec_error(&out));
                }
                let installed: Vec<Evr> = state
                    .entries
                    .iter()
                    .filter(|(n, _, _)| n == spec.name.as_str())
                    .map(|(_, _, v)| Evr::parse(v))
                    .collect();
                let available = exact::available(spec.name.as_str(), &out.stdout);
                resolved.push(exact::resolve(spec, &installed, &available)?);
            }
            let change = match change {
                Change::Install { options, .. } => Change::Install {
                    packages: resolved,
                    options,
                },
                Change::Update { name, .. } => Change::Update {
                    name,
                    version: resolved.into_iter().next().and_then(|s| s.version),
                },
                other => other,
            };
            self.plan(change)
        })
    }

    fn tracker(&self, _phase: Phase) -> Box<dyn Tracker> {
        Box::new(ProgressTracker::new())
    }

    fn classify(&self, phase: Phase, evidence: &Evidence<'_>) -> Option<Verdict> {
        classify(phase, evidence)
    }

    fn lock_was_busy(&self, evidence: &Evidence<'_>) -> bool {
        lock_busy(evidence)
    }
}
