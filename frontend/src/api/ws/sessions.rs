//! Every open WebSocket session, so that graceful shutdown can end them.
//!
//! An upgraded connection leaves hyper: the listener's own task tracker no longer sees it. Sessions are
//! therefore spawned on this tracker, and [`Sessions::shutdown`] (called by the listener once its accept loop
//! has stopped) cancels them with close code 1001 and waits until they have ended. They also share the
//! fan-out [`Hub`], which encodes each job update once for all of them.
//!
//! They also count sessions per client certificate: one identity may hold at most
//! `websocket.max_sessions_per_identity` sessions ([`Sessions::admit`]), so a single client cannot take every
//! connection slot (an upgraded session keeps holding its `server.max_connections` slot).

use super::hub::{Fanned, Hub};
use crate::jobs::JobManager;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How often the server pings each client by default (API.md: every 30 s). A client that has not answered a
/// ping by the next one is dropped.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(30);
/// Default `websocket.max_sessions_per_identity`.
pub const DEFAULT_MAX_SESSIONS_PER_IDENTITY: usize = 128;

/// Open sessions per client identity (certificate fingerprint).
type PerIdentity = Arc<Mutex<HashMap<String, usize>>>;

/// One admitted session of an identity; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct IdentitySlot {
    identity: String,
    counts: PerIdentity,
}

impl Drop for IdentitySlot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.get_mut(&self.identity) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.identity);
            }
        }
    }
}

/// The tracker, the shutdown token and the ping interval of all sessions. Cheap to clone (shared handles).
#[derive(Debug, Clone)]
pub struct Sessions {
    tracker: TaskTracker,
    shutdown: CancellationToken,
    ping_interval_ms: Arc<AtomicU64>,
    hub: Hub,
    per_identity: PerIdentity,
    max_per_identity: Arc<AtomicUsize>,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions {
            tracker: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            ping_interval_ms: Arc::new(AtomicU64::new(millis(DEFAULT_PING_INTERVAL))),
            hub: Hub::default(),
            per_identity: PerIdentity::default(),
            max_per_identity: Arc::new(AtomicUsize::new(DEFAULT_MAX_SESSIONS_PER_IDENTITY)),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl Sessions {
    /// Number of open sessions.
    pub fn active(&self) -> usize {
        self.tracker.len()
    }

    /// Sets the ping interval of sessions opened from now on (tests use a short one).
    pub fn set_ping_interval(&self, interval: Duration) {
        self.ping_interval_ms
            .store(millis(interval), Ordering::Relaxed);
    }

    /// Sets how many sessions one client identity may hold (`websocket.max_sessions_per_identity`).
    pub fn set_max_per_identity(&self, max: usize) {
        self.max_per_identity.store(max.max(1), Ordering::Relaxed);
    }

    /// A place for one more session of `identity`, or the limit it has reached.
    pub(crate) fn admit(&self, identity: &str) -> Result<IdentitySlot, usize> {
        let max = self.max_per_identity.load(Ordering::Relaxed);
        let mut counts = self.per_identity.lock().unwrap_or_else(|p| p.into_inner());
        let n = counts.entry(identity.to_owned()).or_default();
        if *n >= max {
            return Err(max);
        }
        *n += 1;
        Ok(IdentitySlot {
            identity: identity.to_owned(),
            counts: self.per_identity.clone(),
        })
    }

    /// The current ping interval.
    pub fn ping_interval(&self) -> Duration {
        Duration::from_millis(self.ping_interval_ms.load(Ordering::Relaxed))
    }

    /// Cancelled when the service shuts down.
    pub(crate) fn shutdown_token(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Every job update from now on, encoded once by the shared hub (started by the first session).
    pub(crate) fn updates(&self, jobs: &JobManager) -> tokio::sync::broadcast::Receiver<Fanned> {
        self.hub.subscribe(jobs)
    }

    /// Runs a session on the tracker.
    pub(crate) fn spawn<F>(&self, session: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tracker.spawn(session);
    }

    /// Tells every session to close (code 1001) and waits until all have ended.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}
