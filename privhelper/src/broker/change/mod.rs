//! Package-changing operations: one at a time, each bracketed by a snapshot of the dpkg database.
//!
//! [`Changer::handle`] validates the request, waits for the change lock (a `Cancel` or `Abort` while it
//! waits ends the request at once), snapshots installed versions, runs the apt invocation of the operation
//! ([`run`]) and snapshots again; the diff is the request's `changes` on success *and* on failure
//! ([`report`]). Reads never take this lock (DESIGN invariant 10): they read the dpkg database directly or
//! run reading commands, which apt does not lock.

mod plan;
mod report;
mod run;

use super::control::{Control, Stop};
use super::launcher_client::LauncherClient;
use crate::backend::apt::classify::{Evidence, Phase, classify};
use crate::backend::apt::simulate;
use crate::backend::apt::status_fd::ProgressTracker;
use crate::pkgdb::snapshot::Snapshot;
use lpa_protocol::launcher::Invocation;
use lpa_protocol::{
    Backend, ChangeReport, FailureKind, Glob, HelperError, InstallOptions, Operation, Outcome,
    PackageName, PackageSpec, RequestId, ServerMessage, Version,
};
use plan::{plan_updates, with_notes};
use report::{conclude, early_failure, stopped, summarize};
use std::path::PathBuf;
use std::sync::Arc;
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
    backend: Backend,
    package_root: PathBuf,
    launcher: LauncherClient,
    lock: tokio::sync::Mutex<()>,
}

impl Changer {
    /// A changer for `package_root`.
    pub fn new(backend: Backend, package_root: PathBuf, launcher: LauncherClient) -> Changer {
        Changer {
            backend,
            package_root,
            launcher,
            lock: tokio::sync::Mutex::new(()),
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
            Operation::Install { packages, options } => self
                .install(packages, options, ctx)
                .await
                .map(Outcome::Changed),
            Operation::Update { name, version } => {
                self.update(name, version, ctx).await.map(Outcome::Changed)
            }
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
            self.backend
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
        let root = self.package_root.clone();
        tokio::task::spawn_blocking(move || Snapshot::read(&root))
            .await
            .map_err(|e| HelperError::Internal {
                message: format!("worker failed: {e}"),
            })?
    }

    /// Runs one apt change bracketed by snapshots and concludes it.
    async fn change(
        &self,
        invocation: Invocation,
        before: Snapshot,
        ctx: &RequestCtx,
    ) -> Result<ChangeReport, HelperError> {
        let run = run::run(
            &self.launcher,
            invocation,
            ProgressTracker::for_change(),
            ctx,
        )
        .await?;
        let after = self.snapshot().await?;
        conclude(Phase::Change, &run, before.diff(&after), summarize)
    }

    async fn refresh(&self, ctx: &RequestCtx) -> Result<Outcome, HelperError> {
        let run = run::run(
            &self.launcher,
            Invocation::AptGetUpdate,
            ProgressTracker::for_refresh(),
            ctx,
        )
        .await?;
        conclude(Phase::Refresh, &run, Vec::new(), |_, _| String::new())
            .map(|r| Outcome::CacheRefreshed { stdout: r.stdout })
    }

    async fn install(
        &self,
        packages: Vec<PackageSpec>,
        options: InstallOptions,
        ctx: &RequestCtx,
    ) -> Result<ChangeReport, HelperError> {
        let before = self.snapshot().await?;
        let inv = Invocation::AptGetInstall {
            packages,
            no_recommends: options.no_recommends,
            allow_downgrades: options.allow_downgrade,
            reinstall: options.reinstall,
        };
        self.change(inv, before, ctx).await
    }

    async fn update(
        &self,
        name: PackageName,
        version: Option<Version>,
        ctx: &RequestCtx,
    ) -> Result<ChangeReport, HelperError> {
        let before = self.snapshot().await?;
        if !before.is_present(name.as_str()) {
            return Err(early_failure(
                FailureKind::PackageNotFound,
                format!("{name} is not installed, so it cannot be updated"),
            ));
        }
        let inv = match version {
            // An exact version; a lower one is refused by apt (no --allow-downgrades) with a clear error.
            Some(version) => Invocation::AptGetInstall {
                packages: vec![PackageSpec {
                    name,
                    version: Some(version),
                }],
                no_recommends: false,
                allow_downgrades: false,
                reinstall: false,
            },
            None => Invocation::AptGetOnlyUpgrade { names: vec![name] },
        };
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
        let inv = Invocation::AptGetRemove {
            names: vec![name],
            purge,
        };
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
            let mut report = self
                .change(Invocation::AptGetDistUpgrade, before, ctx)
                .await?;
            if report.changes.is_empty() {
                report.message = "nothing to apply".into();
            }
            return Ok(report);
        }
        // Fresh, not the read cache: the plan must match the index this change will use.
        let sim = self
            .launcher
            .exec(Invocation::AptSimulateDistUpgrade)
            .await?;
        let evidence = Evidence {
            exit_code: sim.exit_code,
            stdout: &sim.stdout,
            stderr: &sim.stderr,
            pm_errors: &[],
        };
        if let Some(v) = classify(Phase::Change, &evidence) {
            return Err(HelperError::Change(lpa_protocol::ChangeFailure {
                kind: v.kind,
                message: format!("planning the upgrade failed: {}", v.message),
                exit_code: sim.exit_code,
                stdout: sim.stdout,
                stderr: sim.stderr,
                changes: Vec::new(),
            }));
        }
        let upgradable: Vec<String> = simulate::parse_simulation(&sim.stdout)
            .into_iter()
            .filter(|p| p.current_version.is_some())
            .map(|p| p.name)
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
        let inv = Invocation::AptGetOnlyUpgrade {
            names: plan.names.clone(),
        };
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
