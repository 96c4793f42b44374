//! Package-changing operations: one at a time, each bracketed by a snapshot of the package database.
//!
//! [`Changer::handle`] validates the request, waits for the change lock (a `Cancel` or `Abort` while it
//! waits ends the request at once), snapshots installed versions, runs the backend's invocation of the
//! operation ([`run`]) and snapshots again; the diff is the request's `changes` on success *and* on
//! failure ([`report`]). Reads never take this lock (DESIGN invariant 10): they read the package database
//! directly or run reading commands, which do not take the package manager's lock. A run that failed only
//! because another process held the package manager's lock, on a package manager that does not wait for
//! it, runs again until the lock timeout ([`Changer::run`], [`crate::backend::lock_wait`]).

mod plan;
mod report;
mod run;

use super::control::{Control, Stop};
use super::launcher_client::LauncherClient;
use crate::backend::lock_wait::LockWait;
use crate::backend::{Change, Evidence, PackageManager, Phase, Verdict};
use crate::pkgdb::snapshot::Snapshot;
use lpa_protocol::launcher::Invocation;
use lpa_protocol::{
    ChangeReport, FailureKind, Glob, HelperError, Operation, Outcome, PackageName, RequestId,
    ServerMessage,
};
use plan::{plan_updates, with_notes};
use report::{conclude, early_failure, stopped, summarize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// What a package-changing request runs with: its id, where its events go, and its cancellation state.
pub struct RequestCtx {
    /// The request's id (events carry it).
    pub id: RequestId,
    /// The connection's outgoing messages.
    pub events: mpsc::Sender<ServerMessage>,
    /// Cancel/Abort state shared with the connection.
    pub control: Arc<Control>,
}

/// Runs package-changing operations, one at a time.
pub struct Changer {
    manager: Arc<dyn PackageManager>,
    launcher: LauncherClient,
    lock: tokio::sync::Mutex<()>,
    lock_timeout: Duration,
}

impl Changer {
    /// A changer for `manager`'s packages; a package manager's lock held by another process is waited
    /// out for at most `lock_timeout`.
    pub fn new(
        manager: Arc<dyn PackageManager>,
        launcher: LauncherClient,
        lock_timeout: Duration,
    ) -> Changer {
        Changer {
            manager,
            launcher,
            lock: tokio::sync::Mutex::new(()),
            lock_timeout,
        }
    }

    /// Handles one operation for which [`Operation::changes_host`] is true.
    pub async fn handle(&self, op: Operation, ctx: &RequestCtx) -> Result<Outcome, HelperError> {
        self.validate(&op)?;
        let _turn = tokio::select! {
            guard = self.lock.lock() => guard,
            stop = ctx.control.stopped() => return Err(stopped(stop, Vec::new(), None)),
        };
        match op {
            Operation::RefreshCache => self.refresh(ctx).await,
            Operation::Install { packages, options } => {
                let before = self.snapshot().await?;
                let inv = self
                    .plan(Change::Install { packages, options }, ctx)
                    .await?;
                self.change(inv, before, ctx).await.map(Outcome::Changed)
            }
            Operation::Update { name, version } => self
                .update(Change::Update { name, version }, ctx)
                .await
                .map(Outcome::Changed),
            Operation::Remove { name, purge } => {
                self.remove(name, purge, ctx).await.map(Outcome::Changed)
            }
            Operation::ApplyUpdates { selection, exclude } => self
                .apply_updates(selection, exclude, ctx)
                .await
                .map(Outcome::Changed),
            Operation::Reboot { delay_seconds } => self.reboot(delay_seconds).await,
            other => Err(HelperError::Internal {
                message: format!("{} is not a package-changing operation", other.kind()),
            }),
        }
    }

    /// Names outside the backend's grammar and empty lists are refused before the request queues.
    fn validate(&self, op: &Operation) -> Result<(), HelperError> {
        let check = |name: &PackageName| {
            self.manager
                .backend()
                .check_name(name)
                .map_err(|e| HelperError::Validation {
                    message: e.to_string(),
                })
        };
        match op {
            Operation::Install { packages, .. } => {
                if packages.is_empty() {
                    return Err(HelperError::Validation {
                        message: "install needs at least one package".into(),
                    });
                }
                packages.iter().try_for_each(|p| check(&p.name))
            }
            Operation::Update { name, .. } | Operation::Remove { name, .. } => check(name),
            Operation::ApplyUpdates {
                selection: Some(names),
                ..
            } => names.iter().try_for_each(check),
            _ => Ok(()),
        }
    }

    async fn snapshot(&self) -> Result<Snapshot, HelperError> {
        self.manager.snapshot().await
    }

    /// Runs one change bracketed by snapshots and concludes it.
    async fn change(
        &self,
        invocation: Invocation,
        before: Snapshot,
        ctx: &RequestCtx,
    ) -> Result<ChangeReport, HelperError> {
        let run = self.run(invocation, Phase::Change, ctx).await?;
        let after = self.snapshot().await?;
        conclude(
            self.judge(Phase::Change),
            &run,
            before.diff(&after),
            summarize,
        )
    }

    /// Runs `invocation` ([`run::run`]); while it fails only because another process holds the package
    /// manager's lock, and nothing started changing, runs it again after a pause until the lock timeout.
    /// The job's log and message say once per holder what it waits for; a stop during a pause ends the
    /// wait.
    async fn run(
        &self,
        invocation: Invocation,
        phase: Phase,
        ctx: &RequestCtx,
    ) -> Result<run::Run, HelperError> {
        let mut wait = LockWait::new(self.lock_timeout);
        let mut told = None;
        loop {
            let run = run::run(
                &self.launcher,
                invocation.clone(),
                self.manager.tracker(phase),
                ctx,
            )
            .await?;
            let Ok(out) = &run.result else {
                return Ok(run);
            };
            let evidence = Evidence::of(out, &run.pm_errors);
            if run.stop.is_some()
                || ctx.control.changes_started()
                || !self.manager.lock_was_busy(&evidence)
            {
                return Ok(run);
            }
            let Some(pause) = wait.next_pause() else {
                return Ok(run);
            };
            told = self.announce_wait(&evidence, told, ctx).await;
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                // The next try sees the stop and ends without starting anything.
                _ = ctx.control.stopped() => {}
            }
        }
    }

    /// Says once per lock holder, in the job's log and as its current message, that the request waits
    /// for the package manager's lock; returns the holder now announced.
    async fn announce_wait(
        &self,
        evidence: &Evidence<'_>,
        told: Option<String>,
        ctx: &RequestCtx,
    ) -> Option<String> {
        // The change phase's verdict names the holder (a refresh's is always CACHE_REFRESH_ERROR).
        let holder = self
            .manager
            .classify(Phase::Change, evidence)
            .map(|v| v.message);
        if told != holder {
            let line = format!(
                "waiting up to {} s for the package manager's lock: {}",
                self.lock_timeout.as_secs(),
                holder.as_deref().unwrap_or("held by another process")
            );
            tracing::info!(request = ctx.id, "{line}");
            // Also as the job's current message (progress 0 never lowers the job's progress).
            let progress = lpa_protocol::JobEvent::Progress {
                percent: 0,
                message: line.clone(),
            };
            run::send_event(ctx, progress).await;
            run::send_event(ctx, lpa_protocol::JobEvent::Log { line }).await;
        }
        holder
    }

    /// [`PackageManager::plan_exact`] of `change`. Resolving names may run a reading command of the
    /// package manager (dnf's repoquery) that meets its lock busy: that is waited out like a busy change
    /// ([`Self::run`]), and a failure is classified like one (a lock still held is `LOCK_TIMEOUT`).
    async fn plan(&self, change: Change, ctx: &RequestCtx) -> Result<Invocation, HelperError> {
        let mut wait = LockWait::new(self.lock_timeout);
        let mut told = None;
        loop {
            let failure = match self.manager.plan_exact(change.clone()).await {
                Err(HelperError::Exec(failure)) => failure,
                other => return other,
            };
            let evidence = Evidence {
                exit_code: failure.exit_code,
                stdout: "",
                stderr: &failure.stderr,
                pm_errors: &[],
            };
            let pause = self
                .manager
                .lock_was_busy(&evidence)
                .then(|| wait.next_pause())
                .flatten();
            let Some(pause) = pause else {
                return Err(self.planning_failed(HelperError::Exec(failure)));
            };
            told = self.announce_wait(&evidence, told, ctx).await;
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                stop = ctx.control.stopped() => return Err(stopped(stop, Vec::new(), None)),
            }
        }
    }

    /// The backend's classification of a run of `phase`.
    fn judge(&self, phase: Phase) -> impl FnOnce(&Evidence<'_>) -> Option<Verdict> + '_ {
        move |ev| self.manager.classify(phase, ev)
    }

    /// The job failure of an upgrade whose plan could not be computed (the listing command failed),
    /// classified like a change so a lock or a fetch error keeps its code.
    fn planning_failed(&self, e: HelperError) -> HelperError {
        let HelperError::Exec(failure) = e else {
            return e;
        };
        let evidence = Evidence {
            exit_code: failure.exit_code,
            stdout: "",
            stderr: &failure.stderr,
            pm_errors: &[],
        };
        let verdict = self.manager.classify(Phase::Change, &evidence);
        HelperError::Change(lpa_protocol::ChangeFailure {
            kind: verdict
                .as_ref()
                .map_or(FailureKind::PackageManager, |v| v.kind),
            message: format!(
                "planning the upgrade failed: {}",
                verdict.map_or_else(|| failure.stderr.clone(), |v| v.message)
            ),
            exit_code: failure.exit_code,
            stdout: String::new(),
            stderr: failure.stderr,
            changes: Vec::new(),
        })
    }

    async fn refresh(&self, ctx: &RequestCtx) -> Result<Outcome, HelperError> {
        let run = self
            .run(self.manager.plan(Change::Refresh)?, Phase::Refresh, ctx)
            .await?;
        conclude(self.judge(Phase::Refresh), &run, Vec::new(), |_, _| {
            String::new()
        })
        .map(|r| Outcome::CacheRefreshed { stdout: r.stdout })
    }

    async fn update(&self, change: Change, ctx: &RequestCtx) -> Result<ChangeReport, HelperError> {
        let before = self.snapshot().await?;
        if let Change::Update { name, .. } = &change
            && !before.is_present(name.as_str())
        {
            return Err(early_failure(
                FailureKind::PackageNotFound,
                format!("{name} is not installed, so it cannot be updated"),
            ));
        }
        if let Change::Update {
            name,
            version: None,
        } = &change
            && self.manager.updates_as_selection()
        {
            return self
                .apply_selection(before, vec![name.clone()], Vec::new(), ctx)
                .await;
        }
        let inv = self.plan(change, ctx).await?;
        self.change(inv, before, ctx).await
    }

    async fn remove(
        &self,
        name: PackageName,
        purge: bool,
        ctx: &RequestCtx,
    ) -> Result<ChangeReport, HelperError> {
        let before = self.snapshot().await?;
        let purgeable = purge && before.config_only.contains(name.as_str());
        if !before.is_present(name.as_str()) && !purgeable {
            return Err(early_failure(
                FailureKind::PackageNotFound,
                format!("{name} is not installed"),
            ));
        }
        let inv = self.plan(Change::Remove { name, purge }, ctx).await?;
        self.change(inv, before, ctx).await
    }

    async fn apply_updates(
        &self,
        selection: Option<Vec<PackageName>>,
        exclude: Vec<Glob>,
        ctx: &RequestCtx,
    ) -> Result<ChangeReport, HelperError> {
        let before = self.snapshot().await?;
        if selection.is_none() && exclude.is_empty() {
            // Every update is wanted: let apt plan it in the same run, as an administrator would with
            // `apt-get dist-upgrade`, instead of simulating first (half the cost of a small apply).
            let inv = self.plan(Change::UpgradeAll, ctx).await?;
            let mut report = self.change(inv, before, ctx).await?;
            if report.changes.is_empty() {
                report.message = "nothing to apply".into();
            }
            return Ok(report);
        }
        self.apply_selection(before, selection.unwrap_or_default(), exclude, ctx)
            .await
    }

    /// Upgrades `selection` (empty = every upgradable package) minus `exclude`, planned on a fresh
    /// upgradable list.
    async fn apply_selection(
        &self,
        before: Snapshot,
        selection: Vec<PackageName>,
        exclude: Vec<Glob>,
        ctx: &RequestCtx,
    ) -> Result<ChangeReport, HelperError> {
        let selection = (!selection.is_empty()).then_some(selection);
        // Fresh, not the read cache: the plan must match the metadata this change will use.
        let upgradable: Vec<String> = self
            .manager
            .upgradable(true)
            .await
            .map_err(|e| self.planning_failed(e))?
            .iter()
            .filter(|p| p.current_version.is_some())
            .map(|p| p.name.clone())
            .collect();
        let plan = plan_updates(&upgradable, selection.as_deref(), &exclude);
        if plan.names.is_empty() {
            return Ok(ChangeReport {
                changes: Vec::new(),
                message: with_notes("nothing to apply".into(), &plan),
                exit_code: None,
                stdout: String::new(),
                stderr: String::new(),
            });
        }
        let inv = self
            .plan(
                Change::UpgradeSome {
                    names: plan.names.clone(),
                    upgradable,
                },
                ctx,
            )
            .await?;
        let mut report = self.change(inv, before, ctx).await?;
        report.message = with_notes(report.message, &plan);
        Ok(report)
    }

    async fn reboot(&self, delay_seconds: u32) -> Result<Outcome, HelperError> {
        let delay_minutes = delay_seconds.div_ceil(60);
        let failed = |message: String, exit_code, stdout, stderr| {
            HelperError::Change(lpa_protocol::ChangeFailure {
                kind: FailureKind::Reboot,
                message,
                exit_code,
                stdout,
                stderr,
                changes: Vec::new(),
            })
        };
        let out = self
            .launcher
            .exec(Invocation::Reboot { delay_minutes })
            .await
            .map_err(|e| failed(e.to_string(), None, String::new(), String::new()))?;
        if out.exit_code != Some(0) {
            return Err(failed(
                format!("{} exited with {:?}", out.program, out.exit_code),
                out.exit_code,
                out.stdout,
                out.stderr,
            ));
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        Ok(Outcome::RebootScheduled {
            at_unix: now + i64::from(delay_minutes) * 60,
        })
    }
}

/// Stops the request behind `control` as asked; returns `false` when a `Cancel` comes too late.
pub async fn request_stop(
    launcher: &LauncherClient,
    control: &Control,
    stop: Stop,
) -> Result<bool, HelperError> {
    let exec = match stop {
        Stop::Cancel => match control.cancel() {
            super::control::CancelDecision::Accepted { exec } => exec,
            super::control::CancelDecision::Refused => return Ok(false),
        },
        Stop::Abort => control.abort(),
    };
    if let Some(exec) = exec {
        launcher.cancel(exec).await?;
    }
    Ok(true)
}
