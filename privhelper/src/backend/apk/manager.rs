//! apk as a [`PackageManager`]: the installed database and world read directly (cached by their file
//! stamps), the upgradable list from `apk list --upgradable` (cached by [`ApkStamps`]), candidates from
//! `apk policy` and `apk info -a`, changes planned by [`super::plan`] and followed on apk's stdout.
//!
//! Reads never take the broker's change lock and never run a changing apk: the listing entries run with
//! `--no-network` on the indexes the last refresh left.

use super::classify::classify;
use super::detail::{candidate, parse_info, parse_policy};
use super::installed::{Installed, InstalledError};
use super::plan::{needs_indexes, plan};
use super::progress::ProgressTracker;
use super::stamp::{ApkStamps, InstalledStamps};
use super::upgradable::parse_list_upgradable;
use crate::backend::support::{blocking, exec_error};
use crate::backend::{BoxFuture, Change, Evidence, PackageManager, Phase, Tracker, Verdict};
use crate::broker::launcher_client::LauncherClient;
use crate::pkgdb::snapshot::Snapshot;
use lpa_protocol::launcher::Invocation;
use lpa_protocol::{
    Backend, HelperError, PackageDetail, PackageName, PackageRecord, UpgradablePackage,
};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The installed state last read, with the stamps it was read under.
type InstalledEntry = Option<(InstalledStamps, Arc<Installed>)>;

/// The apk backend of one package root.
pub struct ApkManager {
    root: PathBuf,
    launcher: LauncherClient,
    installed: Arc<Mutex<InstalledEntry>>,
    upgradable: tokio::sync::Mutex<Option<(ApkStamps, Arc<Vec<UpgradablePackage>>)>>,
}

impl ApkManager {
    /// apk on `root`, through `launcher`.
    pub fn new(root: &Path, launcher: LauncherClient) -> ApkManager {
        ApkManager {
            root: root.to_owned(),
            launcher,
            installed: Arc::default(),
            upgradable: tokio::sync::Mutex::new(None),
        }
    }

    /// The installed state, re-read only when the database or world file changed. Small files: read on
    /// the calling thread by [`PackageManager::plan`], off the async threads everywhere else.
    fn state(root: &Path, cache: &Mutex<InstalledEntry>) -> Result<Arc<Installed>, HelperError> {
        let stamps = InstalledStamps::of(root);
        let mut entry = cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((s, state)) = entry.as_ref()
            && *s == stamps
        {
            return Ok(state.clone());
        }
        let state = Arc::new(Installed::read(root).map_err(database_error)?);
        *entry = Some((stamps, state.clone()));
        Ok(state)
    }

    async fn installed_state(&self) -> Result<Arc<Installed>, HelperError> {
        let (root, cache) = (self.root.clone(), self.installed.clone());
        blocking(move || Self::state(&root, &cache)).await
    }

    async fn list_upgradable(&self) -> Result<Vec<UpgradablePackage>, HelperError> {
        let out = self.launcher.exec(Invocation::ApkListUpgradable).await?;
        if out.exit_code != Some(0) {
            return Err(exec_error(&out));
        }
        Ok(parse_list_upgradable(&out.stdout))
    }
}

fn database_error(e: InstalledError) -> HelperError {
    HelperError::Database {
        message: e.to_string(),
    }
}

/// The candidate record of a package from `apk policy` and, when it describes that version, `apk info -a`:
/// `info -a` prints every provider of the name (installed and repository versions alike), so its record is
/// used only when its version is the candidate's; otherwise the installed record's fields stand in when it
/// is the same version, and the policy's version and repository alone when not.
pub fn candidate_record(
    name: &str,
    installed: Option<&PackageRecord>,
    policy_stdout: &str,
    info_stdout: Option<&str>,
) -> Option<PackageRecord> {
    let versions = parse_policy(policy_stdout);
    let (version, source) = candidate(&versions)?;
    let described = info_stdout
        .and_then(parse_info)
        .filter(|r| r.name == name && r.version == version);
    let mut record = match (described, installed) {
        (Some(r), _) => r,
        (None, Some(i)) if i.version == version => i.clone(),
        (None, i) => PackageRecord {
            name: name.to_owned(),
            version: version.to_owned(),
            architecture: i.map(|i| i.architecture.clone()).unwrap_or_default(),
            ..PackageRecord::default()
        },
    };
    if record.architecture.is_empty()
        && let Some(i) = installed
    {
        record.architecture = i.architecture.clone();
    }
    record.installed_at = None;
    record.held = installed.is_some_and(|i| i.held);
    record.source = source.map(str::to_owned);
    Some(record)
}

impl PackageManager for ApkManager {
    fn backend(&self) -> Backend {
        Backend::Apk
    }

    fn installed(&self) -> BoxFuture<'_, Result<Arc<Vec<PackageRecord>>, HelperError>> {
        Box::pin(async move { Ok(Arc::new(self.installed_state().await?.package_records())) })
    }

    fn snapshot(&self) -> BoxFuture<'_, Result<Snapshot, HelperError>> {
        Box::pin(async move {
            let state = self.installed_state().await?;
            // apk keeps no configuration-only state: a removed package is gone from the database.
            Ok(Snapshot::from_entries(
                state.snapshot_entries(),
                BTreeSet::new(),
            ))
        })
    }

    fn state_stamp(&self) -> u64 {
        ApkStamps::of(&self.root).fingerprint()
    }

    fn detail(&self, name: PackageName) -> BoxFuture<'_, Result<PackageDetail, HelperError>> {
        Box::pin(async move {
            let installed = self.installed_state().await?.package(name.as_str());
            let policy = self
                .launcher
                .exec(Invocation::ApkPolicy { name: name.clone() })
                .await?;
            if policy.exit_code != Some(0) {
                return Err(exec_error(&policy));
            }
            if candidate(&parse_policy(&policy.stdout)).is_none() {
                return Ok(PackageDetail {
                    installed,
                    candidate: None,
                });
            }
            let info = self
                .launcher
                .exec(Invocation::ApkInfo { name: name.clone() })
                .await?;
            let info_stdout = (info.exit_code == Some(0)).then_some(info.stdout.as_str());
            let candidate = candidate_record(
                name.as_str(),
                installed.as_ref(),
                &policy.stdout,
                info_stdout,
            );
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
                return Ok(Arc::new(self.list_upgradable().await?));
            }
            let mut entry = self.upgradable.lock().await;
            let stamps = ApkStamps::of(&self.root);
            if let Some((s, list)) = entry.as_ref()
                && *s == stamps
            {
                return Ok(list.clone());
            }
            let list = Arc::new(self.list_upgradable().await?);
            *entry = Some((stamps, list.clone()));
            Ok(list)
        })
    }

    fn plan(&self, change: Change) -> Result<Invocation, HelperError> {
        let state = Self::state(&self.root, &self.installed)?;
        // Read per change (small files, like the database above): a change is rare and the indexes must be
        // the ones apk is about to use.
        let available = if needs_indexes(&change) {
            super::index::available(&self.root)
        } else {
            Vec::new()
        };
        plan(change, &state, &available)
    }

    fn tracker(&self, _phase: Phase) -> Box<dyn Tracker> {
        Box::new(ProgressTracker::new())
    }

    fn classify(&self, phase: Phase, evidence: &Evidence<'_>) -> Option<Verdict> {
        classify(phase, evidence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `apk policy demo-hello` recorded with apk 3.0.6 (installed 1.0-r0, v2 offers 1.1-r0).
    const POLICY: &str = "demo-hello policy:\n  1.0-r0:\n    lib/apk/db/installed\n    /f/apk/v2\n  1.1-r0:\n    /f/apk/v2\n";
    /// `apk info -a demo-app` recorded with apk 3.0.6 (shortened to the fields read).
    const INFO_APP: &str = "demo-app-1.0-r0 description:\ntest package demo-app\n\ndemo-app-1.0-r0 webpage:\nhttps://example.invalid\n\ndemo-app-1.0-r0 installed size:\n16 B\n\ndemo-app-1.0-r0 depends on:\ndemo-lib>=1.0\n\ndemo-app-1.0-r0 license:\nMIT\n\n";

    fn installed_hello() -> PackageRecord {
        PackageRecord {
            name: "demo-hello".into(),
            version: "1.0-r0".into(),
            architecture: "x86_64".into(),
            description: "test package demo-hello".into(),
            held: true,
            ..PackageRecord::default()
        }
    }

    #[test]
    fn the_candidate_is_the_newest_repository_version_with_its_repository() {
        let c = candidate_record("demo-hello", Some(&installed_hello()), POLICY, None).unwrap();
        assert_eq!(
            (c.version.as_str(), c.source.as_deref()),
            ("1.1-r0", Some("/f/apk/v2"))
        );
        // Not the installed version: none of the installed record's descriptive fields are borrowed.
        assert_eq!(c.description, "");
        assert_eq!(c.architecture, "x86_64");
        assert!(c.held, "a world pin holds the candidate back too");
    }

    #[test]
    fn info_fields_are_used_only_for_the_candidate_version() {
        let policy = "demo-app policy:\n  1.0-r0:\n    /f/apk/v1\n";
        let c = candidate_record("demo-app", None, policy, Some(INFO_APP)).unwrap();
        assert_eq!(c.description, "test package demo-app");
        assert_eq!(c.dependencies, ["demo-lib"]);
        assert_eq!(c.license.as_deref(), Some("MIT"));
        assert_eq!(c.source.as_deref(), Some("/f/apk/v1"));
        let newer = "demo-app policy:\n  1.1-r0:\n    /f/apk/v2\n";
        let c = candidate_record("demo-app", None, newer, Some(INFO_APP)).unwrap();
        assert_eq!((c.version.as_str(), c.description.as_str()), ("1.1-r0", ""));
    }

    #[test]
    fn a_package_no_repository_offers_has_no_candidate() {
        let only_installed = "demo-hello policy:\n  1.0-r0:\n    lib/apk/db/installed\n";
        assert_eq!(
            candidate_record("demo-hello", Some(&installed_hello()), only_installed, None),
            None
        );
        assert_eq!(candidate_record("nothing", None, "", None), None);
    }
}
