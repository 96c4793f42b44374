//! The pending updates as last read from the helper, with the package-state fingerprint they were read under.
//!
//! `POST /patches/apply` answers `patches_count` from this view instead of asking the helper for the
//! upgradable list: on a cold helper cache that list costs an `apt-get -s dist-upgrade` (tens of
//! milliseconds of CPU), which would run alongside the job's own refresh and slow the job down. The count is
//! only taken from the view when the view's fingerprint equals the one the apply read *before* queueing its
//! job, so it always describes the package index the apply started from; otherwise the count is unknown
//! (`null`) rather than guessed or paid for with a competing simulation.
//!
//! The view is filled when the job manager starts (while nothing runs yet: one simulation at start-up, not
//! per apply) and whenever `GET /patches` reads the list. The fingerprint is read before the list, so a change
//! landing in between leaves an older fingerprint on the view, never a stale list under a current one.

use crate::helper_client::{HelperClient, HelperClientError};
use lpa_protocol::{Operation, Outcome, UpgradablePackage};
use std::sync::Arc;
use tokio::sync::{Mutex, OwnedMutexGuard};

type Entry = Option<(u64, Arc<Vec<UpgradablePackage>>)>;

/// The last upgradable list and its fingerprint.
#[derive(Debug, Default)]
pub struct PendingView {
    entry: Arc<Mutex<Entry>>,
}

impl PendingView {
    /// Reads the fingerprint, then the list, records both and returns the list. Holds the view while it
    /// reads, so a concurrent [`Self::at`] waits for this fresher answer instead of missing it.
    pub async fn fetch(
        &self,
        helper: &HelperClient,
    ) -> Result<Arc<Vec<UpgradablePackage>>, HelperClientError> {
        let guard = self.entry.clone().lock_owned().await;
        fill(guard, helper).await
    }

    /// Starts filling the view in the background, unless something holds it already. Returns at once; the
    /// view is taken before returning, so an [`Self::at`] issued afterwards waits for this fill.
    pub fn fill_in_background(&self, helper: Arc<HelperClient>) {
        let Ok(guard) = self.entry.clone().try_lock_owned() else {
            return;
        };
        tokio::spawn(async move {
            if let Err(e) = fill(guard, &helper).await {
                tracing::debug!(error = %e, "pending updates not read at start-up");
            }
        });
    }

    /// The list recorded under `stamp` (waiting for a fill in progress), or `None`.
    pub async fn at(&self, stamp: u64) -> Option<Arc<Vec<UpgradablePackage>>> {
        let entry = self.entry.lock().await;
        entry
            .as_ref()
            .filter(|(recorded, _)| *recorded == stamp)
            .map(|(_, list)| list.clone())
    }
}

/// The helper's current package-state fingerprint.
pub async fn stamp(helper: &HelperClient) -> Result<u64, HelperClientError> {
    match helper.call(Operation::PackageStateStamp).await? {
        Outcome::PackageStateStamp(stamp) => Ok(stamp),
        other => Err(unexpected("package state stamp", &other)),
    }
}

async fn fill(
    mut guard: OwnedMutexGuard<Entry>,
    helper: &HelperClient,
) -> Result<Arc<Vec<UpgradablePackage>>, HelperClientError> {
    let stamp = stamp(helper).await?;
    let list = match helper.call(Operation::ListUpgradable).await? {
        Outcome::Upgradable(list) => Arc::new(list),
        other => return Err(unexpected("upgradable list", &other)),
    };
    *guard = Some((stamp, list.clone()));
    Ok(list)
}

fn unexpected(what: &str, outcome: &Outcome) -> HelperClientError {
    HelperClientError::Protocol(format!(
        "expected the {what}, got {}",
        outcome_kind(outcome)
    ))
}

fn outcome_kind(outcome: &Outcome) -> String {
    let text = format!("{outcome:?}");
    text.split(['(', ' ', '{'])
        .next()
        .unwrap_or_default()
        .to_owned()
}
