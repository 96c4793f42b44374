//! Start-up recovery: a job the previous process left running is resolved from the package database.
//!
//! At start-up, a job persisted as `running`, or `pending` with its `started` marker (the request may have
//! reached the helper), may or may not have changed the host. It is never shown as `running` by the new
//! process and never re-run: it is shown as `pending` with the message [`RECOVERING_MESSAGE`] while the
//! frontend asks the helper for the installed packages and the pending updates, then compared with what it
//! intended ([`resolve`]):
//!
//! - every intended target is present at the intended version → `completed`, with a message saying it was
//!   recovered after a restart (its `changes` are unknown and stay empty);
//! - otherwise → `failed` with `error_code` `INTERRUPTED`.
//!
//! If the helper cannot be reached, recovery retries in the background (1 s, doubling to 30 s); the jobs stay
//! `pending`/"recovering" until it answers, and no new job starts before that (a new change on top of an
//! unresolved one would make the comparison meaningless). A job that was merely pending (never started)
//! simply goes back into the queue, in creation order.

use super::JobManager;
use super::intent::Intent;
use super::queue::Queue;
use super::record::JobRecord;
use super::update::JobStatus;
use crate::helper_client::HelperClientError;
use lpa_protocol::{Operation, Outcome, PackageRecord, UpgradablePackage};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// The message of a job waiting to be recovered.
pub const RECOVERING_MESSAGE: &str = "recovering: interrupted by a restart of the service; waiting to compare with the package database";

/// Longest pause between recovery attempts.
const MAX_RETRY: Duration = Duration::from_secs(30);

/// Sorts the loaded `jobs` into `records`, the `queue` and the `recovering` set (see the module docs).
pub fn prepare(
    records: &mut HashMap<Uuid, JobRecord>,
    queue: &mut Queue,
    recovering: &mut HashSet<Uuid>,
    jobs: Vec<JobRecord>,
) {
    // `jobs` is sorted by creation time, so the queue keeps the original order.
    for mut job in jobs {
        match job.status {
            JobStatus::Running => {
                job.status = JobStatus::Pending;
                job.message = RECOVERING_MESSAGE.into();
                recovering.insert(job.job_id);
            }
            JobStatus::Pending if job.started => {
                job.message = RECOVERING_MESSAGE.into();
                recovering.insert(job.job_id);
            }
            JobStatus::Pending => queue.push(job.job_id),
            _ => {}
        }
        records.insert(job.job_id, job);
    }
}

/// Whether the package database shows `intent` done: `Ok(why)` or `Err(why not)`.
pub fn resolve(
    intent: &Intent,
    installed: &[PackageRecord],
    upgradable: &[UpgradablePackage],
) -> Result<String, String> {
    let version_of = |name: &str| {
        installed
            .iter()
            .find(|r| r.name == name)
            .map(|r| r.version.as_str())
    };
    let upgradable_now = |name: &str| upgradable.iter().any(|u| u.name == name);
    match intent {
        Intent::Install { packages, .. } => {
            for p in packages {
                match (version_of(p.name.as_str()), &p.version) {
                    (None, _) => return Err(format!("{} is not installed", p.name)),
                    (Some(have), Some(want)) if have != want.as_str() => {
                        return Err(format!("{} is at {have}, not {want}", p.name));
                    }
                    _ => {}
                }
            }
            Ok("every requested package is installed".into())
        }
        Intent::Update { name, version } => match (version_of(name.as_str()), version) {
            (None, _) => Err(format!("{name} is not installed")),
            (Some(have), Some(want)) if have != want.as_str() => {
                Err(format!("{name} is at {have}, not {want}"))
            }
            (Some(_), None) if upgradable_now(name.as_str()) => {
                Err(format!("{name} still has an update pending"))
            }
            (Some(have), _) => Ok(format!("{name} is at {have}")),
        },
        Intent::Remove { name, .. } => match version_of(name.as_str()) {
            Some(have) => Err(format!("{name} is still installed at {have}")),
            None => Ok(format!("{name} is not installed")),
        },
        Intent::PatchApply {
            selection, exclude, ..
        } => {
            let left: Vec<&str> = upgradable
                .iter()
                .map(|u| u.name.as_str())
                .filter(|n| match selection {
                    Some(names) => names.iter().any(|s| s.as_str() == *n),
                    None => true,
                })
                .filter(|n| !exclude.iter().any(|g| g.matches(n)))
                .collect();
            if left.is_empty() {
                Ok("no selected update is pending any more".into())
            } else {
                Err(format!("updates still pending for {}", left.join(", ")))
            }
        }
        Intent::Reboot { .. } | Intent::CacheRefresh => {
            Err("its effect cannot be verified from the package database".into())
        }
    }
}

/// Resolves every recovering job, retrying until the helper answers, then lets the worker start.
pub async fn run(manager: Arc<JobManager>) {
    let mut delay = manager.settings.recovery_retry;
    let (installed, upgradable) = loop {
        match look_up(&manager).await {
            Ok(found) => break found,
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    retry_in = ?delay,
                    "cannot reach the helper to recover interrupted jobs; retrying"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_RETRY);
            }
        }
    };
    let ids: Vec<Uuid> = manager.lock().recovering.iter().copied().collect();
    for id in ids {
        let Some(job) = manager.get(id) else { continue };
        let verdict = resolve(&job.intent, &installed, &upgradable);
        manager.modify(id, |r| match &verdict {
            Ok(why) => {
                r.log(&format!("recovered after a restart: {why}"));
                r.finish(
                    JobStatus::Completed,
                    format!("recovered after a restart of the service: {why}"),
                );
            }
            Err(why) => {
                r.log(&format!("interrupted by a restart: {why}"));
                r.fail(
                    "INTERRUPTED",
                    format!("interrupted by a restart of the service: {why}"),
                );
            }
        });
        manager.lock().recovering.remove(&id);
        tracing::info!(job_id = %id, verdict = ?verdict, "interrupted job resolved");
    }
    manager.prune_history();
    manager.recovered.send_replace(true);
}

/// The installed packages and the pending updates, as the helper reads them now.
pub(super) async fn look_up(
    manager: &JobManager,
) -> Result<(Vec<PackageRecord>, Vec<UpgradablePackage>), HelperClientError> {
    let _slot = manager.read_slot().await;
    let helper = manager.helper();
    let installed = match helper.call(Operation::ListInstalled).await? {
        Outcome::Installed(list) => list,
        _ => {
            return Err(HelperClientError::Protocol(
                "expected the installed list".into(),
            ));
        }
    };
    let upgradable = match helper.call(Operation::ListUpgradable).await? {
        Outcome::Upgradable(list) => list,
        _ => {
            return Err(HelperClientError::Protocol(
                "expected the upgradable list".into(),
            ));
        }
    };
    Ok((installed, upgradable))
}
