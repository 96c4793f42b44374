//! The job manager: queue, execution through the helper, persistence, recovery, timeouts, cancellation.
//!
//! - [`record`]: the job as persisted and shown; [`intent`]: what it was asked to do.
//! - [`store`]: one JSON file per job, written atomically; corrupt files set aside.
//! - [`queue`]: admission (`QUEUE_FULL`, `REBOOT_BLOCKED`) and the FIFO of package-changing jobs.
//! - [`runner`]: drives one job through the helper, events → progress/log, outcome → status.
//! - [`timeout`]: the job deadline and `Abort`.
//! - [`cancel`]: `DELETE /jobs/{id}`.
//! - [`recovery`]: jobs found running or started at start-up.
//! - [`cache`]: the package cache state behind `/health`.
//! - [`pending`]: the pending updates last read, by package-state fingerprint (`patches_count`).
//!
//! The manager owns every record in memory (behind one mutex, held only for short, non-blocking sections)
//! and mirrors each status change to disk. [`JobManager::publish`] broadcasts a [`JobUpdate`] on every
//! change of status, progress or message, for the WebSocket hub.

pub mod cache;
pub mod cancel;
pub mod intent;
pub mod pending;
pub mod queue;
pub mod record;
pub mod recovery;
pub mod runner;
pub mod store;
pub mod timeout;
mod update;

pub use update::{JobOperation, JobStatus, JobUpdate};

use crate::helper_client::HelperClient;
use cache::CacheState;
use cancel::CancelRequest;
use intent::Intent;
use queue::{Queue, SubmitError};
use record::{JobRecord, Requester};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use store::JobStore;
use tokio::sync::{Notify, Semaphore, broadcast, mpsc, watch};
use uuid::Uuid;

/// Capacity of the update channel. A subscriber that falls further behind gets `Lagged` and is dropped by the
/// WebSocket hub rather than allowed to grow memory.
pub const UPDATE_CHANNEL_CAPACITY: usize = 1024;

/// Progress-only changes are written to disk at most this often (status changes always are).
const PROGRESS_PERSIST_INTERVAL: Duration = Duration::from_secs(1);

/// What the job manager needs from the configuration.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// The frontend's state directory (`jobs/` and `state/cache.json` live below it); `None` keeps
    /// everything in memory (only for tests of other parts).
    pub state_dir: Option<PathBuf>,
    /// `jobs.max_concurrent`: read-only helper work at once.
    pub max_concurrent: usize,
    /// `jobs.max_queue_depth`.
    pub max_queue_depth: usize,
    /// `jobs.timeout_minutes` (or `jobs.timeout_seconds`).
    pub timeout: Duration,
    /// `jobs.history_limit`: finished jobs kept.
    pub history_limit: usize,
    /// `cache.stale_after_hours`.
    pub cache_stale_after: Duration,
    /// Longest a package cache refresh may take.
    pub refresh_timeout: Duration,
    /// How long to wait for the helper's final answer after `Abort`.
    pub abort_grace: Duration,
    /// How long `DELETE /jobs/{id}` waits for the helper to accept or refuse a cancellation.
    pub cancel_wait: Duration,
    /// First delay between attempts to reach the helper for recovery (doubles up to 30 s).
    pub recovery_retry: Duration,
    /// How long after a `DELETE` cancelled a job further `DELETE`s answer that cancellation instead of
    /// deleting the record (`cancel` module docs).
    pub cancel_answer_window: Duration,
}

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings {
            state_dir: None,
            max_concurrent: 5,
            max_queue_depth: 100,
            timeout: Duration::from_secs(30 * 60),
            history_limit: 1000,
            cache_stale_after: Duration::from_secs(4 * 3600),
            refresh_timeout: Duration::from_secs(120),
            abort_grace: Duration::from_secs(60),
            cancel_wait: Duration::from_secs(15),
            recovery_retry: Duration::from_secs(1),
            cancel_answer_window: cancel::CANCEL_ANSWER_WINDOW,
        }
    }
}

/// The mutable part, behind one mutex.
#[derive(Debug, Default)]
struct Jobs {
    records: HashMap<Uuid, JobRecord>,
    queue: Queue,
    /// Jobs found running (or started) at start-up and not yet resolved.
    recovering: HashSet<Uuid>,
    /// The running job and where to send cancel requests for it.
    running: Option<(Uuid, mpsc::Sender<CancelRequest>)>,
    last_persist: HashMap<Uuid, Instant>,
    /// Jobs a `DELETE` cancelled, with when and their status before (`cancel` module docs).
    cancelled_by_delete: HashMap<Uuid, (Instant, JobStatus)>,
}

/// Owns every job; cheap to share (`Arc`).
#[derive(Debug)]
pub struct JobManager {
    updates: broadcast::Sender<JobUpdate>,
    settings: JobSettings,
    helper: Arc<HelperClient>,
    store: Option<JobStore>,
    jobs: Mutex<Jobs>,
    wake: Notify,
    recovered: watch::Sender<bool>,
    read_slots: Semaphore,
    cache: CacheState,
    pending: pending::PendingView,
    problems: Mutex<Vec<String>>,
    persist_lock: Mutex<()>,
    started: AtomicBool,
}

impl Default for JobManager {
    /// An in-memory manager with default settings and a helper at the default socket path; nothing runs
    /// until [`JobManager::start`].
    fn default() -> Self {
        let helper = HelperClient::new(
            PathBuf::from("/run/linux-patch-api/helper.sock"),
            Duration::from_secs(120),
        );
        JobManager::new(JobSettings::default(), Arc::new(helper))
    }
}

impl JobManager {
    /// Loads the history (never fatal: problems are logged and reported by [`Self::health_check`]) and
    /// prepares recovery. Nothing runs until [`Self::start`].
    pub fn new(settings: JobSettings, helper: Arc<HelperClient>) -> Self {
        let mut problems = Vec::new();
        let store = settings.state_dir.as_deref().and_then(|dir| {
            JobStore::open(dir)
                .map_err(|e| {
                    let line =
                        format!("job history unavailable (jobs are kept in memory only): {e}");
                    tracing::error!("{line}");
                    problems.push(line);
                })
                .ok()
        });
        let mut jobs = Jobs::default();
        if let Some(store) = &store {
            match store.load() {
                Ok(loaded) => {
                    problems.extend(loaded.problems);
                    recovery::prepare(
                        &mut jobs.records,
                        &mut jobs.queue,
                        &mut jobs.recovering,
                        loaded.jobs,
                    );
                }
                Err(e) => {
                    let line = format!("job history unreadable: {e}");
                    tracing::error!("{line}");
                    problems.push(line);
                }
            }
        }
        let cache = CacheState::load(settings.state_dir.as_deref(), settings.cache_stale_after);
        let manager = JobManager {
            updates: broadcast::channel(UPDATE_CHANNEL_CAPACITY).0,
            read_slots: Semaphore::new(settings.max_concurrent.max(1)),
            recovered: watch::channel(jobs.recovering.is_empty()).0,
            settings,
            helper,
            store,
            jobs: Mutex::new(jobs),
            wake: Notify::new(),
            cache,
            pending: pending::PendingView::default(),
            problems: Mutex::new(problems),
            persist_lock: Mutex::new(()),
            started: AtomicBool::new(false),
        };
        let changed: Vec<Uuid> = manager.lock().recovering.iter().copied().collect();
        for id in changed {
            manager.persist(id);
        }
        manager.prune_history();
        manager
    }

    /// Starts the worker and, if needed, recovery. Idempotent; must be called inside a Tokio runtime.
    pub fn start(self: &Arc<Self>) {
        if self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let (recovering, queued) = {
            let jobs = self.lock();
            (!jobs.recovering.is_empty(), !jobs.queue.is_empty())
        };
        if recovering {
            tokio::spawn(recovery::run(self.clone()));
        } else if !queued {
            // Read the pending updates now, while nothing runs, so that an apply can count them without a
            // simulation competing with its job (see `pending`).
            self.pending.fill_in_background(self.helper.clone());
        }
        tokio::spawn(runner::worker(self.clone()));
    }

    /// A receiver of every job update from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<JobUpdate> {
        self.updates.subscribe()
    }

    /// Broadcasts `update` to every subscriber (no subscriber is fine).
    pub fn publish(&self, update: JobUpdate) {
        let _ = self.updates.send(update);
    }

    /// The settings.
    pub fn settings(&self) -> &JobSettings {
        &self.settings
    }

    /// The package cache state.
    pub fn cache(&self) -> &CacheState {
        &self.cache
    }

    /// The pending updates last read from the helper.
    pub fn pending(&self) -> &pending::PendingView {
        &self.pending
    }

    /// The helper client.
    pub fn helper(&self) -> &HelperClient {
        &self.helper
    }

    /// A permit for read-only helper work (`jobs.max_concurrent` at once).
    pub async fn read_slot(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.read_slots.acquire().await.ok()
    }

    /// Admits a job and queues it. Returns the new record.
    pub fn submit(
        &self,
        intent: Intent,
        requested_by: Requester,
    ) -> Result<JobRecord, SubmitError> {
        let timeout_minutes = self.settings.timeout.as_secs().div_ceil(60);
        let record = JobRecord::new(intent, requested_by, timeout_minutes);
        {
            let mut jobs = self.lock();
            queue::admit(
                &record.intent,
                jobs.records.values(),
                self.settings.max_queue_depth,
            )?;
            jobs.queue.push(record.job_id);
            jobs.records.insert(record.job_id, record.clone());
        }
        tracing::info!(
            job_id = %record.job_id,
            operation = ?record.operation,
            packages = ?record.packages,
            client_cn = record.requested_by.common_name.as_deref().unwrap_or("-"),
            internal = record.requested_by.internal.as_deref().unwrap_or("-"),
            "job queued"
        );
        // Published before the write, as in `modify`: subscribers do not wait for the disk (two fsyncs, which
        // queue behind dpkg's when a job is changing packages). The caller's 202 still follows the write.
        self.publish(record.update());
        self.persist(record.job_id);
        self.wake.notify_one();
        Ok(record)
    }

    /// A copy of job `id`.
    pub fn get(&self, id: Uuid) -> Option<JobRecord> {
        self.lock().records.get(&id).cloned()
    }

    /// Runs `f` over every job (under the lock: keep it short, no awaiting).
    pub fn with_jobs<R>(
        &self,
        f: impl FnOnce(std::collections::hash_map::Values<'_, Uuid, JobRecord>) -> R,
    ) -> R {
        let jobs = self.lock();
        f(jobs.records.values())
    }

    /// The `job_queue` health check: `ok`, or what is wrong.
    pub fn health_check(&self) -> String {
        let mut lines = self.problems.lock().map(|p| p.clone()).unwrap_or_default();
        let recovering = self.lock().recovering.len();
        if recovering > 0 {
            lines.push(format!(
                "{recovering} job(s) interrupted by a restart are waiting for the helper to be resolved"
            ));
        }
        if lines.is_empty() {
            "ok".to_owned()
        } else {
            lines.join("; ")
        }
    }

    /// Starts one background cache refresh if the cache is stale or unknown and none is queued or running.
    /// Returns whether one was started.
    pub fn refresh_cache_if_stale(&self) -> bool {
        use cache::CacheStatus;
        if !matches!(
            self.cache.status(),
            CacheStatus::Stale | CacheStatus::Unknown
        ) {
            return false;
        }
        let busy = self.with_jobs(|mut jobs| {
            jobs.any(|j| j.operation == JobOperation::CacheRefresh && !j.status.is_terminal())
        });
        if busy {
            return false;
        }
        self.submit(
            Intent::CacheRefresh,
            Requester::internal("health check: package cache stale or never refreshed"),
        )
        .is_ok()
    }

    fn lock(&self) -> MutexGuard<'_, Jobs> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `change` to job `id`: bumps `updated_at`, publishes when status, progress or message changed,
    /// then persists on a status change (and progress at a bounded rate). Returns the record after the change.
    pub(crate) fn modify(
        &self,
        id: Uuid,
        change: impl FnOnce(&mut JobRecord),
    ) -> Option<JobRecord> {
        let (after, publish, persist) = {
            let mut jobs = self.lock();
            let record = jobs.records.get_mut(&id)?;
            let before = (record.status, record.progress, record.message.clone());
            change(record);
            record.updated_at = time::OffsetDateTime::now_utc();
            let after = record.clone();
            let status_changed = before.0 != after.status;
            let publish = status_changed || before.1 != after.progress || before.2 != after.message;
            let due = jobs
                .last_persist
                .get(&id)
                .is_none_or(|t| t.elapsed() >= PROGRESS_PERSIST_INTERVAL);
            (after, publish, status_changed || due)
        };
        // Published first: the record in memory (which `GET /jobs` serves) already has the change, and a
        // subscriber should not wait for the disk (a job file write is two fsyncs).
        if publish {
            self.publish(after.update());
        }
        if persist {
            self.persist(id);
        }
        Some(after)
    }

    /// Writes the *current* record of `id` (so a slower writer never overwrites a newer state).
    pub(crate) fn persist(&self, id: Uuid) {
        let Some(store) = &self.store else { return };
        let _serial = self.persist_lock.lock().unwrap_or_else(|p| p.into_inner());
        let record = {
            let mut jobs = self.lock();
            jobs.last_persist.insert(id, Instant::now());
            jobs.records.get(&id).cloned()
        };
        let Some(record) = record else { return };
        if let Err(e) = store.save(&record) {
            let line = format!("cannot save job {id}: {e}");
            tracing::error!("{line}");
            if let Ok(mut problems) = self.problems.lock() {
                problems.retain(|p| !p.starts_with("cannot save job"));
                problems.push(line);
            }
        }
    }

    /// Removes job `id` from memory and disk.
    pub(crate) fn forget(&self, id: Uuid) {
        let _serial = self.persist_lock.lock().unwrap_or_else(|p| p.into_inner());
        {
            let mut jobs = self.lock();
            jobs.records.remove(&id);
            jobs.last_persist.remove(&id);
            jobs.cancelled_by_delete.remove(&id);
        }
        if let Some(store) = &self.store
            && let Err(e) = store.delete(id)
        {
            tracing::error!("cannot delete job {id}: {e}");
        }
    }

    /// Keeps at most `jobs.history_limit` finished jobs, removing the oldest.
    pub(crate) fn prune_history(&self) {
        let doomed: Vec<Uuid> = {
            let jobs = self.lock();
            let mut finished: Vec<&JobRecord> = jobs
                .records
                .values()
                .filter(|j| j.status.is_terminal())
                .collect();
            let excess = finished.len().saturating_sub(self.settings.history_limit);
            finished.sort_by_key(|j| (j.created_at, j.job_id));
            finished.iter().take(excess).map(|j| j.job_id).collect()
        };
        for id in doomed {
            self.forget(id);
        }
    }

    /// Takes the next queued job, marks it running, and registers its cancel channel. `None` when nothing is
    /// queued.
    fn take_next(&self) -> Option<(JobRecord, mpsc::Receiver<CancelRequest>)> {
        let (id, rx) = {
            let mut jobs = self.lock();
            loop {
                let id = jobs.queue.pop()?;
                let Some(record) = jobs.records.get(&id) else {
                    continue;
                };
                if record.status != JobStatus::Pending || jobs.recovering.contains(&id) {
                    continue;
                }
                let (tx, rx) = mpsc::channel(4);
                jobs.running = Some((id, tx));
                break (id, rx);
            }
        };
        let record = self.modify(id, |r| {
            r.status = JobStatus::Running;
            r.message = "running".into();
            r.started = true;
        })?;
        Some((record, rx))
    }

    fn clear_running(&self, id: Uuid) {
        let mut jobs = self.lock();
        if jobs.running.as_ref().is_some_and(|(r, _)| *r == id) {
            jobs.running = None;
        }
    }
}

#[cfg(test)]
mod tests;
