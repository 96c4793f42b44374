//! Drives jobs: the worker takes queued jobs one at a time and runs each through the helper.
//!
//! A job goes `pending → running → completed | failed | cancelled | timeout`. While its helper request runs,
//! events become the job's state: `Progress` sets progress and message, `Log` appends a log line,
//! `ChangesStarted` records that cancelling is no longer possible. Every change is published
//! ([`JobManager::modify`]); status changes are persisted at once, progress at a bounded rate.
//!
//! How each operation runs:
//! - install/update/remove/reboot: one request.
//! - cache refresh: one `RefreshCache`, bounded by [`super::JobSettings::refresh_timeout`], recorded in the
//!   cache state.
//! - patch apply: a refresh first (failure fails the job with `CACHE_REFRESH_ERROR`), then the upgrade; if
//!   that fails with kind `Network` (a file vanished between refresh and download), one more refresh and
//!   one retry. No selection with an exclusion of `*` completes at once with "nothing to apply". After a
//!   successful apply with `reboot`, a reboot job is queued with the requested delay.
//!
//! If the connection to the helper breaks after the package manager started changing the system (the
//! helper was restarted: its units never kill a running dpkg or rpm), an install or update is settled from
//! the package database rather than failed: see [`confirm_after_loss`].

use super::cancel::{CancelReply, CancelRequest};
use super::intent::Intent;
use super::record::{Change, JobRecord};
use super::update::JobStatus;
use super::{JobManager, timeout};
use crate::helper_client::{ChangeMessage, HelperClientError};
use lpa_protocol::{FailureKind, HelperError, JobEvent, Operation, Outcome};
use std::sync::Arc;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio::time::Instant;
use uuid::Uuid;

/// Runs queued jobs one at a time, forever. Waits for start-up recovery first.
pub async fn worker(manager: Arc<JobManager>) {
    let mut recovered = manager.recovered.subscribe();
    let _ = recovered.wait_for(|done| *done).await;
    loop {
        match manager.take_next() {
            Some((record, mut cancels)) => {
                let id = record.job_id;
                run(&manager, record, &mut cancels).await;
                manager.clear_running(id);
                manager.prune_history();
            }
            None => manager.wake.notified().await,
        }
    }
}

/// How one helper request ended.
// One value per helper request, consumed at once; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum CallEnd {
    /// The helper's final answer.
    Answer(Result<Outcome, HelperError>),
    /// Cancelled on request before anything changed.
    Cancelled,
    /// The limit passed; the request was aborted. `job_deadline` tells the job's own timeout from a
    /// shorter limit of the step (the cache refresh's).
    Expired {
        /// The helper's `Timeout` failure, when it answered in time.
        failure: Option<lpa_protocol::ChangeFailure>,
        /// Whether the job's deadline (not a step's limit) passed.
        job_deadline: bool,
    },
    /// The helper could not be reached, or the connection broke (outcome unknown).
    Lost(HelperClientError),
}

/// One running job's context.
struct Drive<'a> {
    manager: &'a JobManager,
    id: Uuid,
    cancels: &'a mut mpsc::Receiver<CancelRequest>,
    deadline: Instant,
    changes_started: bool,
    /// Progress of the current step maps into this range of the job's progress.
    span: (u8, u8),
}

async fn run(manager: &JobManager, record: JobRecord, cancels: &mut mpsc::Receiver<CancelRequest>) {
    let mut drive = Drive {
        manager,
        id: record.job_id,
        cancels,
        deadline: Instant::now() + manager.settings.timeout,
        changes_started: false,
        span: (0, 99),
    };
    tracing::info!(job_id = %record.job_id, operation = ?record.operation, "job started");
    match &record.intent {
        intent if intent.excludes_everything() => {
            manager.modify(record.job_id, |r| {
                r.log("every package is excluded: nothing to apply");
                r.finish(JobStatus::Completed, "nothing to apply");
            });
        }
        Intent::PatchApply {
            reboot_after_seconds,
            ..
        } => {
            patch_apply(&mut drive, &record.intent).await;
            if let Some(delay) = reboot_after_seconds {
                queue_reboot(manager, &record, *delay);
            }
        }
        Intent::CacheRefresh => {
            drive.span = (0, 99);
            refresh(&mut drive, true).await;
        }
        intent => match drive.call(intent.operation(), None).await {
            CallEnd::Lost(lost)
                if drive.changes_started
                    && matches!(intent, Intent::Install { .. } | Intent::Update { .. }) =>
            {
                confirm_after_loss(&mut drive, intent, &lost).await;
            }
            end => settle(&drive, end),
        },
    }
    if let Some(done) = manager.get(record.job_id) {
        tracing::info!(
            job_id = %done.job_id,
            status = ?done.status,
            error_code = done.error_code.as_deref().unwrap_or("-"),
            changes = done.changes.len(),
            "job finished"
        );
    }
}

async fn patch_apply(drive: &mut Drive<'_>, intent: &Intent) {
    // The refresh's record reaches the disk after the upgrade, not in the middle of dpkg's fsyncs.
    let _quiet = drive.manager.cache().quiet();
    drive.span = (0, 10);
    if !refresh(drive, false).await {
        return;
    }
    drive.span = (10, 99);
    drive.message("applying updates");
    let mut end = drive.call(intent.operation(), None).await;
    if let CallEnd::Answer(Err(HelperError::Change(f))) = &end
        && f.kind == FailureKind::Network
    {
        let first = f.message.clone();
        drive.manager.modify(drive.id, |r| {
            r.log(&format!(
                "download failed ({first}); refreshing the package cache again and retrying once"
            ));
        });
        drive.span = (10, 20);
        if !refresh(drive, false).await {
            return;
        }
        drive.span = (20, 99);
        drive.message("applying updates (retry)");
        end = drive.call(intent.operation(), None).await;
    }
    settle(drive, end);
}

/// Refreshes the package cache as a step of the job. Returns true on success; otherwise the job has been
/// finished (failed with `CACHE_REFRESH_ERROR`, timed out, cancelled, or helper unavailable).
async fn refresh(drive: &mut Drive<'_>, finish_on_success: bool) -> bool {
    drive.message("refreshing the package cache");
    let settings = drive.manager.settings();
    let limit = Instant::now() + settings.refresh_timeout;
    let refresh_limit = settings.refresh_timeout;
    let end = drive.call(Operation::RefreshCache, Some(limit)).await;
    let cache = drive.manager.cache();
    let now = OffsetDateTime::now_utc();
    match end {
        CallEnd::Answer(Ok(Outcome::CacheRefreshed { stdout })) => {
            cache.record_success(now);
            drive.manager.modify(drive.id, |r| {
                r.log("package cache refreshed");
                if finish_on_success {
                    r.set_output(&stdout, "");
                    r.finish(JobStatus::Completed, "package cache refreshed");
                }
            });
            true
        }
        CallEnd::Answer(Err(HelperError::Change(f))) if f.kind == FailureKind::Cancelled => {
            settle(drive, CallEnd::Cancelled);
            false
        }
        CallEnd::Answer(Err(e)) => {
            let message = format!("refreshing the package cache failed: {e}");
            cache.record_failure(now, &message);
            drive.manager.modify(drive.id, |r| {
                if let HelperError::Change(f) = &e {
                    r.exit_code = f.exit_code;
                    r.set_output(&f.stdout, &f.stderr);
                }
                r.fail("CACHE_REFRESH_ERROR", message);
            });
            false
        }
        CallEnd::Expired {
            job_deadline: false,
            ..
        } => {
            let message = format!(
                "refreshing the package cache took longer than {} seconds and was stopped",
                refresh_limit.as_secs()
            );
            cache.record_failure(now, &message);
            drive
                .manager
                .modify(drive.id, |r| r.fail("CACHE_REFRESH_ERROR", message));
            false
        }
        other @ CallEnd::Expired { .. } => {
            cache.record_failure(now, "the refresh was stopped by the job timeout");
            settle(drive, other);
            false
        }
        CallEnd::Answer(Ok(_)) => {
            drive.manager.modify(drive.id, |r| {
                r.fail(
                    "UNKNOWN_ERROR",
                    "the helper answered a cache refresh with an unexpected outcome",
                )
            });
            false
        }
        other => {
            settle(drive, other);
            false
        }
    }
}

/// Ends the job according to `end`.
fn settle(drive: &Drive<'_>, end: CallEnd) {
    let timeout = drive.manager.settings().timeout;
    drive.manager.modify(drive.id, |r| match end {
        CallEnd::Answer(Ok(Outcome::Changed(report))) => {
            r.changes = report.changes.iter().map(Change::from).collect();
            r.exit_code = report.exit_code;
            r.set_output(&report.stdout, &report.stderr);
            let message = if report.message.is_empty() {
                "completed".to_owned()
            } else {
                report.message
            };
            r.finish(JobStatus::Completed, message);
        }
        CallEnd::Answer(Ok(Outcome::RebootScheduled { at_unix })) => {
            let at = OffsetDateTime::from_unix_timestamp(at_unix).ok();
            r.scheduled_at = at;
            let when = at.map_or_else(|| at_unix.to_string(), crate::http::envelope::rfc3339);
            r.log(&format!("reboot scheduled for {when}"));
            r.finish(JobStatus::Completed, format!("reboot scheduled for {when}"));
        }
        CallEnd::Answer(Ok(Outcome::CacheRefreshed { stdout })) => {
            r.set_output(&stdout, "");
            r.finish(JobStatus::Completed, "package cache refreshed");
        }
        CallEnd::Answer(Ok(_)) => {
            r.fail(
                "UNKNOWN_ERROR",
                "the helper answered with an unexpected outcome",
            );
        }
        CallEnd::Answer(Err(HelperError::Change(f))) => {
            r.changes = f.changes.iter().map(Change::from).collect();
            r.exit_code = f.exit_code;
            r.set_output(&f.stdout, &f.stderr);
            match f.kind {
                FailureKind::Cancelled => r.finish(
                    JobStatus::Cancelled,
                    "cancelled before anything was changed",
                ),
                FailureKind::Timeout => {
                    r.error = Some(f.message.clone());
                    r.error_code = Some("TIMEOUT".into());
                    r.finish(JobStatus::Timeout, f.message);
                }
                kind => r.fail(kind.code(), f.message),
            }
        }
        CallEnd::Answer(Err(e)) => r.fail(error_code(&e), e.to_string()),
        CallEnd::Cancelled => {
            r.log("cancelled on request");
            r.finish(
                JobStatus::Cancelled,
                "cancelled before anything was changed",
            );
        }
        CallEnd::Expired { failure, .. } => {
            let message = timeout::message(timeout);
            match failure {
                Some(f) => {
                    r.changes = f.changes.iter().map(Change::from).collect();
                    r.exit_code = f.exit_code;
                    r.set_output(&f.stdout, &f.stderr);
                    r.log(&format!("helper: {}", f.message));
                }
                None => r.log("the helper did not confirm the abort; the changes made are unknown"),
            }
            r.error = Some(message.clone());
            r.error_code = Some("TIMEOUT".into());
            r.finish(JobStatus::Timeout, message);
        }
        CallEnd::Lost(e) => r.fail("HELPER_UNAVAILABLE", e.to_string()),
    });
}

/// How often the package database is read while a job waits to be confirmed after losing the helper.
const CONFIRM_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Settles an install or update whose helper connection broke after the package manager started changing
/// the system. The package manager it started keeps running (a helper restart never kills it), so the
/// outcome is not known yet, and failing the job would be untrue if it then succeeds. The job stays
/// `running` and the helper (started again on demand) is asked for the installed packages every
/// [`CONFIRM_INTERVAL`]: once every target is installed at the intended version the job is `completed`. A
/// package dpkg or rpm has not finished configuring is not "installed", so an unfinished run never reads as
/// done. Past the job's deadline it ends `failed` with `INTERRUPTED`, naming what is missing. Only install
/// and update are settled this way: for them "done" cannot be seen before the package manager has finished.
async fn confirm_after_loss(drive: &mut Drive<'_>, intent: &Intent, lost: &HelperClientError) {
    drive.manager.modify(drive.id, |r| {
        r.log(&format!(
            "the connection to the helper was lost while the package manager was changing the system ({lost}); \
             waiting for the package database to show the outcome"
        ));
        r.message = "waiting for the package manager to finish (the helper was restarted)".into();
    });
    let mut last = format!("the connection to the helper was lost: {lost}");
    loop {
        if let Ok((installed, upgradable)) = super::recovery::look_up(drive.manager).await {
            match super::recovery::resolve(intent, &installed, &upgradable) {
                Ok(why) => {
                    drive.manager.modify(drive.id, |r| {
                        r.log(&format!("confirmed from the package database: {why}"));
                        r.finish(
                            JobStatus::Completed,
                            format!(
                                "completed (confirmed from the package database after the helper was restarted): {why}"
                            ),
                        );
                    });
                    return;
                }
                Err(why) => last = why,
            }
        }
        if Instant::now() >= drive.deadline {
            drive.manager.modify(drive.id, |r| {
                r.log(&format!("not confirmed by the job's deadline: {last}"));
                r.fail(
                    "INTERRUPTED",
                    format!(
                        "the helper was restarted while the package manager was running, and by the job's deadline the package database does not show the change: {last}"
                    ),
                );
            });
            return;
        }
        let next = (Instant::now() + CONFIRM_INTERVAL).min(drive.deadline);
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            Some(request) = drive.cancels.recv() => {
                let _ = request.send(CancelReply::Refused(
                    "the package manager has started changing the system".into(),
                ));
            }
        }
    }
}

/// The job `error_code` of a typed helper failure that is not a `Change` failure.
fn error_code(e: &HelperError) -> &'static str {
    match e {
        HelperError::PackageNotFound { .. } => "PKG_NOT_FOUND",
        HelperError::Exec(_) | HelperError::Database { .. } => "PKG_MANAGER_ERROR",
        // An unmet dependency in the database: the change was refused before anything ran.
        HelperError::NeedsRepair { .. } => "DEPENDENCY_CONFLICT",
        HelperError::Change(f) => f.kind.code(),
        _ => "UNKNOWN_ERROR",
    }
}

fn queue_reboot(manager: &JobManager, apply: &JobRecord, delay_seconds: u32) {
    let Some(done) = manager.get(apply.job_id) else {
        return;
    };
    if done.status != JobStatus::Completed {
        manager.modify(apply.job_id, |r| {
            r.log("no reboot: the apply did not complete")
        });
        return;
    }
    let intent = Intent::Reboot {
        delay_seconds,
        force: true,
        reason: Some(format!("requested with patch apply {}", apply.job_id)),
    };
    let line = match manager.submit(intent, apply.requested_by.clone()) {
        Ok(reboot) => format!(
            "reboot job {} queued (delay {delay_seconds} s)",
            reboot.job_id
        ),
        Err(e) => format!("reboot not queued: {e}"),
    };
    manager.modify(apply.job_id, |r| r.log(&line));
}

impl Drive<'_> {
    fn message(&self, message: &str) {
        self.manager
            .modify(self.id, |r| r.message = message.to_owned());
    }

    fn event(&mut self, event: JobEvent) {
        let (lo, hi) = self.span;
        match event {
            JobEvent::Progress { percent, message } => {
                let scaled = lo + ((u16::from(percent.min(100)) * u16::from(hi - lo)) / 100) as u8;
                self.manager.modify(self.id, |r| {
                    r.progress = r.progress.max(scaled);
                    r.message = message;
                });
            }
            JobEvent::ChangesStarted => {
                self.changes_started = true;
                self.manager.modify(self.id, |r| {
                    r.log("the package manager started changing the system");
                    r.message = "changing the system".into();
                });
            }
            JobEvent::Log { line } => {
                self.manager.modify(self.id, |r| r.log(&line));
            }
            _ => {}
        }
    }

    /// Runs `operation` until its answer, the job deadline or `limit`, answering cancel requests.
    async fn call(&mut self, operation: Operation, limit: Option<Instant>) -> CallEnd {
        let mut call = match self.manager.helper().start_change(operation).await {
            Ok(call) => call,
            Err(e) => return CallEnd::Lost(e),
        };
        let control = call.control();
        let until = limit.map_or(self.deadline, |l| l.min(self.deadline));
        let job_deadline = until == self.deadline;
        let mut pending: Option<CancelRequest> = None;
        let refuse = |p: &mut Option<CancelRequest>, why: &str| {
            if let Some(tx) = p.take() {
                let _ = tx.send(CancelReply::Refused(why.to_owned()));
            }
        };
        loop {
            tokio::select! {
                msg = call.next() => match msg {
                    Ok(ChangeMessage::Event(event)) => self.event(event),
                    Ok(ChangeMessage::CancelRefused) => refuse(
                        &mut pending,
                        "the package manager has started changing the system",
                    ),
                    Ok(ChangeMessage::Finished(Err(HelperError::Change(f))))
                        if f.kind == FailureKind::Cancelled =>
                    {
                        if let Some(tx) = pending.take() {
                            let _ = tx.send(CancelReply::Cancelled);
                        }
                        return CallEnd::Cancelled;
                    }
                    Ok(ChangeMessage::Finished(result)) => {
                        refuse(&mut pending, "the job has finished");
                        return CallEnd::Answer(result);
                    }
                    Err(e) => {
                        refuse(&mut pending, "the connection to the helper was lost");
                        return CallEnd::Lost(e);
                    }
                },
                Some(request) = self.cancels.recv() => {
                    if self.changes_started {
                        let _ = request.send(CancelReply::Refused(
                            "the package manager has started changing the system".into(),
                        ));
                    } else if pending.is_some() {
                        let _ = request.send(CancelReply::Refused(
                            "a cancellation is already in progress".into(),
                        ));
                    } else if let Err(e) = control.cancel().await {
                        let _ = request.send(CancelReply::Refused(format!(
                            "the cancellation could not be sent to the helper: {e}"
                        )));
                    } else {
                        pending = Some(request);
                    }
                },
                _ = tokio::time::sleep_until(until) => {
                    refuse(&mut pending, "the job timed out");
                    let grace = self.manager.settings().abort_grace;
                    return match timeout::abort(&mut call, &control, grace).await {
                        Some(Ok(outcome)) => CallEnd::Answer(Ok(outcome)),
                        Some(Err(HelperError::Change(f))) if f.kind == FailureKind::Timeout => {
                            CallEnd::Expired { failure: Some(f), job_deadline }
                        }
                        Some(Err(other)) => CallEnd::Answer(Err(other)),
                        None => CallEnd::Expired { failure: None, job_deadline },
                    };
                },
            }
        }
    }
}
