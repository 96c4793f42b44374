//! apt as a [`PackageManager`]: the dpkg database read directly, candidates from `apt-cache`, the
//! upgradable list from `apt-get -s dist-upgrade` (cached by the package-state stamps), changes through
//! `apt-get` with progress from its Status-Fd.

use super::classify::classify;
use super::simulate::{self, Stamps, UpgradableCache};
use super::status_fd::ProgressTracker;
use super::{policy, show};
use crate::backend::support::{blocking, exec_error};
use crate::backend::{BoxFuture, Change, Evidence, PackageManager, Phase, Tracker, Verdict};
use crate::broker::launcher_client::LauncherClient;
use crate::pkgdb::dpkg::DpkgDb;
use crate::pkgdb::snapshot::Snapshot;
use lpa_protocol::launcher::Invocation;
use lpa_protocol::{
    Backend, HelperError, JobEvent, PackageDetail, PackageName, PackageRecord, PackageSpec,
    UpgradablePackage,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The apt backend of one package root.
pub struct AptManager {
    root: PathBuf,
    launcher: LauncherClient,
    dpkg: Arc<DpkgDb>,
    upgradable: UpgradableCache,
}

impl AptManager {
    /// apt on `root`, through `launcher`.
    pub fn new(root: &Path, launcher: LauncherClient) -> AptManager {
        AptManager {
            root: root.to_owned(),
            launcher,
            dpkg: Arc::new(DpkgDb::new(root)),
            upgradable: UpgradableCache::default(),
        }
    }

    async fn simulate(&self) -> Result<Vec<UpgradablePackage>, HelperError> {
        let out = self
            .launcher
            .exec(Invocation::AptSimulateDistUpgrade)
            .await?;
        if out.exit_code != Some(0) {
            return Err(exec_error(&out));
        }
        Ok(simulate::parse_simulation(&out.stdout))
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

impl PackageManager for AptManager {
    fn backend(&self) -> Backend {
        Backend::Apt
    }

    fn installed(&self) -> BoxFuture<'_, Result<Arc<Vec<PackageRecord>>, HelperError>> {
        let db = self.dpkg.clone();
        Box::pin(blocking(move || db.installed()))
    }

    fn snapshot(&self) -> BoxFuture<'_, Result<Snapshot, HelperError>> {
        let root = self.root.clone();
        Box::pin(blocking(move || Snapshot::read(&root)))
    }

    fn state_stamp(&self) -> u64 {
        Stamps::of(&self.root).fingerprint()
    }

    fn detail(&self, name: PackageName) -> BoxFuture<'_, Result<PackageDetail, HelperError>> {
        Box::pin(async move {
            let installed = self
                .installed()
                .await?
                .iter()
                .find(|p| p.name == name.as_str())
                .cloned();
            let shown = self
                .launcher
                .exec(Invocation::AptCacheShow { name: name.clone() })
                .await?;
            let mut candidate = match show::parse_show(&shown) {
                show::ShowResult::Found(r) => Some(*r),
                show::ShowResult::NotFound => None,
                show::ShowResult::Failed => return Err(exec_error(&shown)),
            };
            if let Some(c) = candidate.as_mut() {
                let pol = self
                    .launcher
                    .exec(Invocation::AptCachePolicy { name: name.clone() })
                    .await?;
                if pol.exit_code == Some(0) {
                    let p = policy::parse_policy(&pol.stdout);
                    c.source = p.candidate_sources.first().cloned();
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
            if fresh {
                return Ok(Arc::new(self.simulate().await?));
            }
            self.upgradable
                .get_or_compute(Stamps::of(&self.root), || self.simulate())
                .await
        })
    }

    fn plan(&self, change: Change) -> Result<Invocation, HelperError> {
        Ok(match change {
            Change::Refresh => Invocation::AptGetUpdate,
            Change::Install { packages, options } => Invocation::AptGetInstall {
                packages,
                no_recommends: options.no_recommends,
                allow_downgrades: options.allow_downgrade,
                reinstall: options.reinstall,
            },
            // An exact version; a lower one is refused by apt (no --allow-downgrades) with a clear error.
            Change::Update {
                name,
                version: Some(version),
            } => Invocation::AptGetInstall {
                packages: vec![PackageSpec {
                    name,
                    version: Some(version),
                }],
                no_recommends: false,
                allow_downgrades: false,
                reinstall: false,
            },
            Change::Update {
                name,
                version: None,
            } => Invocation::AptGetOnlyUpgrade { names: vec![name] },
            Change::Remove { name, purge } => Invocation::AptGetRemove {
                names: vec![name],
                purge,
            },
            Change::UpgradeAll => Invocation::AptGetDistUpgrade,
            Change::UpgradeSome { names, .. } => Invocation::AptGetOnlyUpgrade { names },
        })
    }

    fn tracker(&self, phase: Phase) -> Box<dyn Tracker> {
        Box::new(match phase {
            Phase::Refresh => ProgressTracker::for_refresh(),
            Phase::Change => ProgressTracker::for_change(),
        })
    }

    fn classify(&self, phase: Phase, evidence: &Evidence<'_>) -> Option<Verdict> {
        classify(phase, evidence)
    }
}
