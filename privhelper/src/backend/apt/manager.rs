//! apt as a [`PackageManager`]: the dpkg database read directly, candidates from `apt-cache`, the
//! upgradable list from `apt-get -s dist-upgrade` (cached by the package-state stamps), changes through
//! `apt-get` with progress from its Status-Fd.

use super::classify::classify;
use super::exact::Lookup;
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
    candidates: CandidateCache,
}

/// Most names whose candidate is remembered per package state.
const CANDIDATE_CACHE_NAMES: usize = 1024;

/// Candidate record (or none) per package name.
type CandidateMap = std::collections::HashMap<String, Option<PackageRecord>>;

/// The candidate records `GET /packages/{name}` found, valid while the package state ([`Stamps`]: the dpkg
/// database, apt's lists and configuration) is unchanged, so a read of a name already looked up runs no
/// root `apt-cache` process (issue 11). Bounded: when full, the next state change or a new name starts a
/// fresh map.
#[derive(Default)]
struct CandidateCache {
    entry: std::sync::Mutex<Option<(Stamps, CandidateMap)>>,
}

impl CandidateCache {
    fn get(&self, stamps: Stamps, name: &str) -> Option<Option<PackageRecord>> {
        let entry = self.entry.lock().unwrap_or_else(|p| p.into_inner());
        entry
            .as_ref()
            .filter(|(s, _)| *s == stamps)
            .and_then(|(_, map)| map.get(name).cloned())
    }

    fn put(&self, stamps: Stamps, name: &str, candidate: Option<PackageRecord>) {
        let mut entry = self.entry.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = entry
            .as_ref()
            .is_none_or(|(s, map)| *s != stamps || map.len() >= CANDIDATE_CACHE_NAMES);
        if fresh {
            *entry = Some((stamps, std::collections::HashMap::new()));
        }
        if let Some((_, map)) = entry.as_mut() {
            map.insert(name.to_owned(), candidate);
        }
    }
}

impl AptManager {
    /// apt on `root`, through `launcher`.
    pub fn new(root: &Path, launcher: LauncherClient) -> AptManager {
        AptManager {
            root: root.to_owned(),
            launcher,
            dpkg: Arc::new(DpkgDb::new(root)),
            upgradable: UpgradableCache::default(),
            candidates: CandidateCache::default(),
        }
    }

    /// The records of `names`: from the dpkg database, and with `available` also from apt's cache
    /// (`apt-cache show -- NAME` for each, exact `Package:` matches only).
    async fn lookup<'n>(
        &self,
        names: impl IntoIterator<Item = &'n PackageName>,
        available: bool,
    ) -> Result<Lookup, HelperError> {
        let names: Vec<PackageName> = names.into_iter().cloned().collect();
        let root = self.root.clone();
        let strs: Vec<String> = names.iter().map(|n| n.as_str().to_owned()).collect();
        let mut found = blocking(move || {
            let refs: Vec<&str> = strs.iter().map(String::as_str).collect();
            Lookup::installed(&root, &refs)
        })
        .await?;
        if available {
            for name in names {
                let out = self
                    .launcher
                    .exec(Invocation::AptCacheShowAll { name: name.clone() })
                    .await?;
                match show::parse_show(&out) {
                    show::ShowResult::Found(_) => found.add_shown(name.as_str(), &out.stdout),
                    show::ShowResult::NotFound => {}
                    show::ShowResult::Failed => return Err(exec_error(&out)),
                }
            }
        }
        Ok(found)
    }

    async fn simulate(&self) -> Result<Vec<UpgradablePackage>, HelperError> {
        let out = self
            .launcher
            .exec(Invocation::AptSimulateDistUpgrade)
            .await?;
        if out.exit_code != Some(0) {
            if let Some(message) = simulate::unmet_dependencies(&out.stdout, &out.stderr) {
                return Err(HelperError::NeedsRepair { message });
            }
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
            // Taken before the reads: a change meanwhile makes the next read look again, never keeps a
            // stale record under a current stamp.
            let stamps = Stamps::of(&self.root);
            if let Some(candidate) = self.candidates.get(stamps, name.as_str()) {
                return Ok(PackageDetail {
                    installed,
                    candidate,
                });
            }
            let shown = self
                .launcher
                .exec(Invocation::AptCacheShow { name: name.clone() })
                .await?;
            let mut candidate = match show::parse_show(&shown) {
                // apt-cache widens an unknown name (`hell.` shows `hello`): only an exact record counts.
                show::ShowResult::Found(r) if r.name == name.as_str() => Some(*r),
                show::ShowResult::Found(_) => None,
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
            self.candidates
                .put(stamps, name.as_str(), candidate.clone());
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
        match change {
            Change::Refresh => Ok(Invocation::AptGetUpdate),
            Change::UpgradeAll => Ok(Invocation::AptGetDistUpgrade),
            other => Err(HelperError::Internal {
                message: format!(
                    "apt plans {other:?} only through plan_exact (names need resolving)"
                ),
            }),
        }
    }

    fn plan_exact(&self, change: Change) -> BoxFuture<'_, Result<Invocation, HelperError>> {
        // Every name becomes an exact identity found in the dpkg database or apt's cache (see `exact`):
        // apt would read a name it does not know as a regex, a glob or a remove/install modifier.
        Box::pin(async move {
            Ok(match change {
                Change::Install { packages, options } => {
                    let found = self.lookup(packages.iter().map(|p| &p.name), true).await?;
                    Invocation::AptGetInstall {
                        packages: packages
                            .iter()
                            .map(|p| found.install_target(p))
                            .collect::<Result<_, _>>()?,
                        no_recommends: options.no_recommends,
                        allow_downgrades: options.allow_downgrade,
                        reinstall: options.reinstall,
                    }
                }
                // An exact version; a lower one is refused by apt (no --allow-downgrades) with a clear
                // error.
                Change::Update {
                    name,
                    version: Some(version),
                } => {
                    let spec = PackageSpec {
                        name,
                        version: Some(version),
                    };
                    let found = self.lookup([&spec.name], true).await?;
                    Invocation::AptGetInstall {
                        packages: vec![found.install_target(&spec)?],
                        no_recommends: false,
                        allow_downgrades: false,
                        reinstall: false,
                    }
                }
                Change::Update {
                    name,
                    version: None,
                } => Invocation::AptGetOnlyUpgrade {
                    names: vec![self.lookup([&name], false).await?.installed_target(&name)?],
                },
                Change::Remove { name, purge } => Invocation::AptGetRemove {
                    names: vec![self.lookup([&name], false).await?.installed_target(&name)?],
                    purge,
                },
                Change::UpgradeSome { names, .. } => {
                    let found = self.lookup(names.iter(), false).await?;
                    Invocation::AptGetOnlyUpgrade {
                        names: names
                            .iter()
                            .map(|n| found.installed_target(n))
                            .collect::<Result<_, _>>()?,
                    }
                }
                other => self.plan(other)?,
            })
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
