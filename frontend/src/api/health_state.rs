//! What `/health` and `/system/info` answer from: state the frontend keeps current in the background.
//!
//! Monitoring polls `/health` on every host; asking the broker on each poll put the broker (the path package
//! jobs use) on the hot path of every probe, and a stuck broker made the probe itself hang. Instead:
//!
//! - **Liveness** comes from a dedicated connection ([`crate::helper_client::watch`]): the broker's exit is
//!   seen at once from the end of that stream, a stuck broker from a ping unanswered within
//!   [`PING_LIMIT`]. A broker that cannot be reached is retried every [`RECONNECT_EVERY`], so a restarted
//!   helper shows as `ok` again within a second.
//! - **Confinement** of the broker and launcher is fixed once they started: read once per broker
//!   connection (a new connection after a restart reads it again).
//! - **Host facts** (`SystemInfo`) and the **repair state** of the package database (`ListUpgradable`) are
//!   refreshed on (re)connect, after every job that ends, every [`REFRESH_EVERY`], and on
//!   [`HealthState::refresh_soon`]. The repair state is also updated by any read that meets it (the
//!   client records it: [`crate::helper_client::HelperClient::needs_repair`]). `uptime_seconds` is
//!   advanced locally from the time of the last read. A `/system/info` request that finds the facts older
//!   than the end of the last job reads them itself, so `reboot_required` right after a job is never stale.
//!
//! Until the first check finished (a moment after start) a health request waits for it, at most
//! [`FIRST_CHECK_WAIT`], so the first answer is not a spurious "unknown".

use super::confinement::Confinement;
use crate::helper_client::watch::Watch;
use crate::helper_client::{Answer, HelperClient, HelperClientError};
use crate::jobs::JobManager;
use lpa_protocol::{Backend, HostInfo, Operation, Outcome};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio::sync::{Notify, watch};

/// Time between pings on the liveness connection.
pub const PING_EVERY: Duration = Duration::from_millis(500);
/// A ping unanswered this long marks the helper unresponsive (generous: a busy 2-core host is not a dead one;
/// a broker that exits is seen at once from its socket instead).
pub const PING_LIMIT: Duration = Duration::from_secs(2);
/// How often an unreachable helper is tried again.
pub const RECONNECT_EVERY: Duration = Duration::from_millis(250);
/// Deadline of each background read (and of `/system/info`'s own read).
pub const READ_LIMIT: Duration = Duration::from_secs(5);
/// Periodic refresh of host facts and the repair state.
pub const REFRESH_EVERY: Duration = Duration::from_secs(60);
/// How long a request waits for the very first check.
pub const FIRST_CHECK_WAIT: Duration = Duration::from_secs(3);

/// Host facts as last read, and when.
#[derive(Debug, Clone)]
pub struct HostFacts {
    /// What the helper said.
    pub host: HostInfo,
    /// When it said it (to advance `uptime_seconds`).
    pub read_at: Instant,
    /// Wall-clock time just before the read was sent: a job that ended after it may have changed the facts.
    pub asked_at: OffsetDateTime,
}

impl HostFacts {
    /// The facts with `uptime_seconds` advanced to now.
    pub fn now(&self) -> HostInfo {
        let mut host = self.host.clone();
        host.uptime_seconds += self.read_at.elapsed().as_secs();
        host
    }
}

/// One consistent view of the helper.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// False until the first connection attempt finished.
    pub checked: bool,
    /// `Ok(backend)` while the liveness connection is up, else why not.
    pub helper: Option<Result<Backend, String>>,
    /// The broker's and the launcher's self-measurements (`None` where not reported).
    pub confinement: (Option<Confinement>, Option<Confinement>),
    /// The last host facts.
    pub host: Option<HostFacts>,
}

/// The kept state and its background tasks.
#[derive(Debug)]
pub struct HealthState {
    snapshot: watch::Sender<Snapshot>,
    refresh: Notify,
    started: AtomicBool,
    /// Ends the liveness watch and the refresher ([`HealthState::stop`]).
    stop: tokio_util::sync::CancellationToken,
}

impl Default for HealthState {
    fn default() -> Self {
        HealthState {
            snapshot: watch::channel(Snapshot::default()).0,
            refresh: Notify::new(),
            started: AtomicBool::new(false),
            stop: tokio_util::sync::CancellationToken::new(),
        }
    }
}

impl HealthState {
    /// Starts the liveness watch and the refresher. Idempotent; must be called inside a Tokio runtime.
    pub fn start(self: &Arc<Self>, helper: Arc<HelperClient>, jobs: Arc<JobManager>) {
        if self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let stop = self.stop.clone();
        let watch = self.clone().watch_liveness(helper.clone());
        tokio::spawn(async move { stop.run_until_cancelled(watch).await });
        let stop = self.stop.clone();
        let refresher = self.clone().refresher(helper, jobs);
        tokio::spawn(async move { stop.run_until_cancelled(refresher).await });
    }

    /// Stops watching the helper, for good: called first thing at shutdown. Under socket activation a
    /// connection attempt to the helper's socket starts the helper again, so a frontend that is going away
    /// must not reconnect (its watch would otherwise notice the helper stopping beside it and reconnect).
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// The current view; before the first check finished, waits for it (at most [`FIRST_CHECK_WAIT`]).
    pub async fn snapshot(&self) -> Snapshot {
        let mut rx = self.snapshot.subscribe();
        let _ = tokio::time::timeout(FIRST_CHECK_WAIT, rx.wait_for(|s| s.checked)).await;
        rx.borrow().clone()
    }

    /// Asks the refresher to re-read host facts and the repair state now (without waiting for it).
    pub fn refresh_soon(&self) {
        self.refresh.notify_one();
    }

    /// Stores host facts asked for at `asked_at` (by the refresher, or by a `/system/info` request that found
    /// none or found them older than the last job's end).
    pub fn store_host(&self, host: HostInfo, asked_at: OffsetDateTime) {
        self.snapshot.send_modify(|s| {
            s.host = Some(HostFacts {
                host,
                read_at: Instant::now(),
                asked_at,
            })
        });
    }

    async fn watch_liveness(self: Arc<Self>, helper: Arc<HelperClient>) {
        loop {
            let mut watch = match Watch::open(helper.socket(), PING_LIMIT).await {
                Ok(watch) => watch,
                Err(e) => {
                    self.set_down(&describe(e));
                    tokio::time::sleep(RECONNECT_EVERY).await;
                    continue;
                }
            };
            // A new broker (first start or restart): its confinement is read once, the rest refreshed.
            let confinement = read_confinement(&helper).await;
            let backend = watch.backend();
            if matches!(self.snapshot.borrow().helper, Some(Err(_))) {
                tracing::info!(backend = backend.as_str(), "the helper is available again");
            }
            self.snapshot.send_modify(|s| {
                s.checked = true;
                s.helper = Some(Ok(backend));
                s.confinement = confinement;
            });
            self.refresh_soon();
            let reason = loop {
                if let Err(e) = watch.beat(PING_EVERY, PING_LIMIT).await {
                    break describe(e);
                }
            };
            tracing::warn!(reason = %reason, "the helper is unavailable");
            self.set_down(&reason);
        }
    }

    fn set_down(&self, reason: &str) {
        self.snapshot.send_if_modified(|s| {
            let changed = !s.checked
                || s.helper
                    .as_ref()
                    .is_none_or(|h| h.as_ref().err().map(String::as_str) != Some(reason));
            s.checked = true;
            s.helper = Some(Err(reason.to_owned()));
            s.confinement = (None, None);
            changed
        });
    }

    async fn refresher(self: Arc<Self>, helper: Arc<HelperClient>, jobs: Arc<JobManager>) {
        let mut updates = jobs.subscribe();
        let mut tick = tokio::time::interval(REFRESH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = self.refresh.notified() => {}
                update = updates.recv() => match update {
                    Ok(update) if update.status.is_terminal() => {}
                    Ok(_) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
            }
            if !matches!(self.snapshot.borrow().helper, Some(Ok(_))) {
                continue;
            }
            let asked_at = OffsetDateTime::now_utc();
            if let Ok(Answer {
                outcome: Outcome::SystemInfo(host),
                ..
            }) = helper.call_within(Operation::SystemInfo, READ_LIMIT).await
            {
                self.store_host(host, asked_at);
            }
            // The client records the repair state from the answer ([`HelperClient::needs_repair`]).
            let _ = helper
                .call_within(Operation::ListUpgradable, READ_LIMIT)
                .await;
        }
    }
}

/// What `checks.helper` says about a failed liveness check.
fn describe(e: HelperClientError) -> String {
    match e {
        HelperClientError::Timeout(limit) => format!(
            "the helper is unresponsive: no answer within {} seconds",
            limit.as_secs()
        ),
        other => other.to_string(),
    }
}

/// The broker's and the launcher's self-measurements, `None` where the helper could not say.
async fn read_confinement(helper: &HelperClient) -> (Option<Confinement>, Option<Confinement>) {
    match helper.call_within(Operation::Confinement, READ_LIMIT).await {
        Ok(Answer {
            outcome: Outcome::Confinement(report),
            ..
        }) => (
            Some(Confinement::from(&report.broker)),
            report.launcher.as_ref().map(Confinement::from),
        ),
        Ok(other) => {
            tracing::warn!(outcome = ?other.outcome, "unexpected answer to a confinement request");
            (None, None)
        }
        Err(e) => {
            tracing::warn!(error = %e, "the helper did not report its confinement");
            (None, None)
        }
    }
}
