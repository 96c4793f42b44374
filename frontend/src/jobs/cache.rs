//! Package cache state: when the package index was last refreshed and how the last refresh went.
//!
//! Persisted atomically as `<state_dir>/state/cache.json` (DESIGN's layout), so a restart does not forget
//! that the cache is fresh. The service writes it in the background: memory (what `/health` reads) changes at
//! once, and a patch apply does not wait for the file between its refresh and its upgrade. While a patch
//! apply runs, the write waits until the job ends ([`CacheState::quiet`]): its fsyncs would otherwise land in
//! the middle of dpkg's own and slow the upgrade down (measured in docs/benchmarks.md).
//!
//! The status follows API.md: `failed` when the last refresh failed (whatever its age), `unknown` when no
//! refresh was ever recorded, `fresh` up to `cache.stale_after_hours` after the last successful refresh,
//! `stale` after that. An unreadable file is reported and treated as `unknown`.

use super::store::write_atomic;
use crate::http::envelope;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;

/// Freshness of the package cache, as `/health` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheStatus {
    /// Refreshed within the configured window.
    Fresh,
    /// Older than the window.
    Stale,
    /// Never refreshed (as far as this service knows).
    Unknown,
    /// The last refresh failed.
    Failed,
}

impl CacheStatus {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Fresh => "fresh",
            CacheStatus::Stale => "stale",
            CacheStatus::Unknown => "unknown",
            CacheStatus::Failed => "failed",
        }
    }
}

/// The content of `cache.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheFile {
    /// Last successful refresh.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_cache_update: Option<OffsetDateTime>,
    /// `ok` or `failed`: the result of the last attempt.
    pub last_result: Option<String>,
    /// When the last attempt ended.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_attempt: Option<OffsetDateTime>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// The cache state, in memory and on disk.
#[derive(Debug)]
pub struct CacheState {
    path: Option<PathBuf>,
    stale_after: Duration,
    file: Mutex<CacheFile>,
    disk: Arc<Disk>,
    deferred: Mutex<Deferred>,
}

/// Writes held back while a [`Quiet`] exists (locked after `CacheState::file` where both are taken).
#[derive(Debug, Default)]
struct Deferred {
    holders: usize,
    /// The newest version recorded meanwhile (it supersedes the older ones).
    pending: Option<(Result<Vec<u8>, String>, u64)>,
}

/// Holds back writes of the cache file while the package manager works; the newest state recorded meanwhile
/// is written when the last holder lets go. Memory, and so `/health`, changes at once regardless.
///
/// Why: `cache.json` is written atomically, with two fsyncs. Right after a patch apply's refresh, they would
/// run alongside dpkg, whose own fsyncs then wait for the same journal commits; on a disk-backed root this
/// cost the upgrade several milliseconds per job. A crash before the write only loses the refresh time,
/// which makes the cache look older than it is (the next check refreshes again): safe.
#[must_use = "writes are held back only while the guard lives"]
#[derive(Debug)]
pub struct Quiet<'a>(&'a CacheState);

impl Drop for Quiet<'_> {
    fn drop(&mut self) {
        let pending = {
            let mut deferred = lock(&self.0.deferred);
            deferred.holders -= 1;
            if deferred.holders == 0 {
                deferred.pending.take()
            } else {
                None
            }
        };
        if let Some((bytes, version)) = pending {
            self.0.write_out(bytes, version);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The writing side: the last problem, and which version of the file is on disk.
#[derive(Debug, Default)]
struct Disk {
    problem: Mutex<Option<String>>,
    /// Versions handed to writers (under `file`'s lock) and the newest one written (under its own lock,
    /// held while writing, so writes never interleave and an older version never replaces a newer one).
    issued: std::sync::atomic::AtomicU64,
    written: Mutex<u64>,
}

impl CacheState {
    /// Loads `<state_dir>/state/cache.json` (or starts empty; `state_dir` `None` keeps it in memory only).
    pub fn load(state_dir: Option<&Path>, stale_after: Duration) -> Self {
        let path = state_dir.map(|d| d.join("state").join("cache.json"));
        let mut problem = None;
        let file = match &path {
            None => CacheFile::default(),
            Some(path) => match std::fs::read(path) {
                Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                    let line = format!("{}: unreadable cache state ignored: {e}", path.display());
                    tracing::error!("{line}");
                    problem = Some(line);
                    CacheFile::default()
                }),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => CacheFile::default(),
                Err(e) => {
                    let line = format!("{}: {e}", path.display());
                    tracing::error!("{line}");
                    problem = Some(line);
                    CacheFile::default()
                }
            },
        };
        CacheState {
            path,
            stale_after,
            file: Mutex::new(file),
            disk: Arc::new(Disk {
                problem: Mutex::new(problem),
                ..Disk::default()
            }),
            deferred: Mutex::default(),
        }
    }

    /// Holds back writes of the file until the returned guard (and every other) is dropped.
    pub fn quiet(&self) -> Quiet<'_> {
        lock(&self.deferred).holders += 1;
        Quiet(self)
    }

    /// The status at `now`.
    pub fn status_at(&self, now: OffsetDateTime) -> CacheStatus {
        let file = self.snapshot();
        if file.last_result.as_deref() == Some("failed") {
            return CacheStatus::Failed;
        }
        match file.last_cache_update {
            None => CacheStatus::Unknown,
            Some(t) if now - t <= self.stale_after => CacheStatus::Fresh,
            Some(_) => CacheStatus::Stale,
        }
    }

    /// The status now.
    pub fn status(&self) -> CacheStatus {
        self.status_at(OffsetDateTime::now_utc())
    }

    /// `last_cache_update` as RFC 3339, or `None`.
    pub fn last_update(&self) -> Option<String> {
        self.snapshot().last_cache_update.map(envelope::rfc3339)
    }

    /// A copy of the state.
    pub fn snapshot(&self) -> CacheFile {
        self.file.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// A problem reading or writing the file, for the health check.
    pub fn problem(&self) -> Option<String> {
        self.disk.problem.lock().ok().and_then(|p| p.clone())
    }

    /// Records a successful refresh at `at`.
    pub fn record_success(&self, at: OffsetDateTime) {
        self.record(|f| {
            f.last_cache_update = Some(at);
            f.last_result = Some("ok".into());
            f.last_attempt = Some(at);
            f.last_error = None;
        });
    }

    /// Records a failed refresh at `at`.
    pub fn record_failure(&self, at: OffsetDateTime, error: &str) {
        self.record(|f| {
            f.last_result = Some("failed".into());
            f.last_attempt = Some(at);
            f.last_error = Some(error.to_owned());
        });
    }

    /// Changes the state in memory at once, and on disk: in the background on a multi-threaded runtime (the
    /// service), so a job does not wait for two fsyncs between its refresh and its upgrade; synchronously
    /// otherwise (tests, which read the file right after).
    fn record(&self, change: impl FnOnce(&mut CacheFile)) {
        let (bytes, version) = {
            let Ok(mut file) = self.file.lock() else {
                return;
            };
            change(&mut file);
            if self.path.is_none() {
                return;
            }
            let version = self.disk.issued.fetch_add(1, Ordering::SeqCst) + 1;
            let bytes = serde_json::to_vec_pretty(&*file).map_err(|e| e.to_string());
            // Still under the file's lock, so a held-back version is always the newest.
            let mut deferred = lock(&self.deferred);
            if deferred.holders > 0 {
                deferred.pending = Some((bytes, version));
                return;
            }
            (bytes, version)
        };
        self.write_out(bytes, version);
    }

    /// Writes version `version` of the file: in the background on the service's runtime, else at once.
    fn write_out(&self, bytes: Result<Vec<u8>, String>, version: u64) {
        let Some(path) = self.path.clone() else {
            return;
        };
        let disk = self.disk.clone();
        let write = move || disk.write(&path, bytes, version);
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                drop(tokio::task::spawn_blocking(write));
            }
            _ => write(),
        }
    }
}

impl Disk {
    fn write(&self, path: &Path, bytes: Result<Vec<u8>, String>, version: u64) {
        let Ok(mut written) = self.written.lock() else {
            return;
        };
        if *written > version {
            return; // a newer version is already on disk
        }
        let result = path
            .parent()
            .map_or(Ok(()), crate::private_state::create_private_dir)
            .map_err(|e| e.to_string())
            .and(bytes)
            .and_then(|bytes| write_atomic(path, &bytes).map_err(|e| e.to_string()));
        *written = version;
        let problem = result.err().map(|e| {
            let line = format!("cannot write the cache state: {e}");
            tracing::error!("{line}");
            line
        });
        if let Ok(mut p) = self.problem.lock() {
            *p = problem;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn status_moves_through_unknown_fresh_stale_and_failed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CacheState::load(Some(dir.path()), 4 * HOUR);
        let now = OffsetDateTime::now_utc();
        assert_eq!(cache.status_at(now), CacheStatus::Unknown);
        assert_eq!(cache.last_update(), None);
        cache.record_success(now);
        assert_eq!(cache.status_at(now), CacheStatus::Fresh);
        assert_eq!(cache.status_at(now + 4 * HOUR), CacheStatus::Fresh);
        assert_eq!(
            cache.status_at(now + 4 * HOUR + Duration::from_secs(1)),
            CacheStatus::Stale
        );
        cache.record_failure(now, "E: boom");
        assert_eq!(cache.status_at(now), CacheStatus::Failed);
        assert!(cache.last_update().is_some(), "the last success is kept");
        cache.record_success(now);
        assert_eq!(cache.status_at(now), CacheStatus::Fresh);
    }

    #[test]
    fn state_survives_a_restart_and_a_corrupt_file_is_reported_as_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::now_utc();
        CacheState::load(Some(dir.path()), 4 * HOUR).record_success(now);
        let again = CacheState::load(Some(dir.path()), 4 * HOUR);
        assert_eq!(again.status(), CacheStatus::Fresh);
        assert!(again.problem().is_none());
        std::fs::write(dir.path().join("state/cache.json"), b"{torn").unwrap();
        let broken = CacheState::load(Some(dir.path()), 4 * HOUR);
        assert_eq!(broken.status(), CacheStatus::Unknown);
        assert!(broken.problem().unwrap().contains("cache.json"));
    }

    #[test]
    fn while_quiet_memory_changes_at_once_and_the_file_only_when_the_last_holder_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("state/cache.json");
        let now = OffsetDateTime::now_utc();
        let cache = CacheState::load(Some(dir.path()), 4 * HOUR);
        let outer = cache.quiet();
        let inner = cache.quiet();
        cache.record_failure(now, "E: first");
        cache.record_success(now);
        assert_eq!(cache.status(), CacheStatus::Fresh, "memory at once");
        assert!(!file.exists(), "nothing written while quiet");
        drop(inner);
        assert!(!file.exists(), "another holder still holds");
        drop(outer);
        let reread = CacheState::load(Some(dir.path()), 4 * HOUR);
        assert_eq!(
            reread.status(),
            CacheStatus::Fresh,
            "the newest state written"
        );
        assert_eq!(reread.snapshot(), cache.snapshot());
        // Not quiet any more: written at once again.
        cache.record_failure(now, "E: later");
        let reread = CacheState::load(Some(dir.path()), 4 * HOUR);
        assert_eq!(reread.status(), CacheStatus::Failed);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_the_service_runtime_the_file_is_written_in_the_background_and_ends_newest() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CacheState::load(Some(dir.path()), 4 * HOUR);
        let now = OffsetDateTime::now_utc();
        for i in 0..20 {
            cache.record_success(now);
            cache.record_failure(now, &format!("E: {i}"));
        }
        assert_eq!(
            cache.status(),
            CacheStatus::Failed,
            "memory changes at once"
        );
        let path = dir.path().join("state/cache.json");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let last = loop {
            let on_disk: Option<CacheFile> = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            if let Some(f) = on_disk
                && f.last_error.as_deref() == Some("E: 19")
            {
                break f;
            }
            assert!(std::time::Instant::now() < deadline, "never written");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        let again: CacheFile = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(again, last, "an older version never replaces the newest");
        assert!(cache.problem().is_none());
    }
}
