//! The fan-out hub: turns each job update into its WebSocket frame once, for every session.
//!
//! Without it every session would receive its own copy of the [`JobUpdate`] (the broadcast channel clones
//! the value per receiver, strings included) and serialize it again: with 1,000 subscribers, 1,000 JSON
//! encodings and 2,000 allocations per event. The hub is the only subscriber of the job manager's channel;
//! it encodes each update once into a reference-counted [`Utf8Bytes`] and rebroadcasts that, so a session
//! only bumps a reference count and queues the same bytes for its socket (the per-socket work left is
//! framing and TLS, which cannot be shared).
//!
//! The hub starts with the first session of an [`super::Sessions`] and lives while the job manager does.
//! If the hub itself falls behind the job manager's channel (the host is overloaded), the updates it missed
//! cannot be recovered, so it tells every session ([`Fanned::Lost`]) and the sessions close with 1008 "too
//! slow", as a lagging session does; clients reconnect and re-read the jobs.

use super::frames;
use crate::jobs::{JobManager, JobUpdate};
use hyper_tungstenite::tungstenite::Utf8Bytes;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;
use uuid::Uuid;

/// What the hub sends to every session.
#[derive(Debug, Clone)]
pub(crate) enum Fanned {
    /// One job update, already encoded as its `job_status` / `job_complete` frame.
    Update {
        /// The job, for the session's subscription filter.
        job_id: Uuid,
        /// The frame's text, shared by every session.
        text: Utf8Bytes,
    },
    /// The hub missed updates: every session must end.
    Lost,
}

/// The hub's sender, created with the first session (shared by the clones of one `Sessions`).
#[derive(Debug, Default, Clone)]
pub(crate) struct Hub {
    sender: Arc<Mutex<Option<broadcast::Sender<Fanned>>>>,
}

impl Hub {
    /// A receiver of every update from now on, starting the hub on first use.
    pub(crate) fn subscribe(&self, jobs: &JobManager) -> broadcast::Receiver<Fanned> {
        let mut slot = self.sender.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = slot.as_ref() {
            return sender.subscribe();
        }
        let (sender, receiver) = broadcast::channel(crate::jobs::UPDATE_CHANNEL_CAPACITY);
        *slot = Some(sender.clone());
        tokio::spawn(run(jobs.subscribe(), sender, self.sender.clone()));
        receiver
    }
}

/// The frame of `update`, encoded once.
pub(crate) fn fanned(update: &JobUpdate) -> Fanned {
    Fanned::Update {
        job_id: update.job_id,
        text: Utf8Bytes::from(frames::job_update(update)),
    }
}

async fn run(
    mut updates: broadcast::Receiver<JobUpdate>,
    sender: broadcast::Sender<Fanned>,
    slot: Arc<Mutex<Option<broadcast::Sender<Fanned>>>>,
) {
    loop {
        let fanned = match updates.recv().await {
            Ok(update) => fanned(&update),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(
                    missed,
                    "WebSocket hub fell behind the job updates; closing sessions"
                );
                Fanned::Lost
            }
            Err(broadcast::error::RecvError::Closed) => break,
        };
        // No session listening is fine.
        let _ = sender.send(fanned);
    }
    // The job manager is gone: drop every sender so that sessions see the channel closed.
    slot.lock().unwrap_or_else(|p| p.into_inner()).take();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{JobOperation, JobStatus};

    fn update(job_id: Uuid) -> JobUpdate {
        JobUpdate {
            job_id,
            operation: JobOperation::PatchApply,
            status: JobStatus::Running,
            progress: 10,
            message: "refreshing the package cache".into(),
            timestamp: "2026-11-28T16:00:00Z".into(),
            error_code: None,
        }
    }

    fn received(fanned: Fanned) -> (Uuid, Utf8Bytes) {
        match fanned {
            Fanned::Update { job_id, text } => (job_id, text),
            Fanned::Lost => panic!("unexpected Lost"),
        }
    }

    #[tokio::test]
    async fn every_session_gets_the_same_encoded_bytes_of_an_update() {
        let jobs = JobManager::default();
        let hub = Hub::default();
        let mut first = hub.subscribe(&jobs);
        let mut second = hub.subscribe(&jobs);
        let job = Uuid::new_v4();
        jobs.publish(update(job));
        let (id_a, a) = received(first.recv().await.unwrap());
        let (id_b, b) = received(second.recv().await.unwrap());
        assert_eq!((id_a, id_b), (job, job));
        assert_eq!(a.as_str(), frames::job_update(&update(job)));
        assert_eq!(
            a.as_str().as_ptr(),
            b.as_str().as_ptr(),
            "one encoding shared, not one per session"
        );
    }

    #[tokio::test]
    async fn sessions_are_told_when_the_hub_missed_updates() {
        let jobs = JobManager::default();
        let hub = Hub::default();
        let mut session = hub.subscribe(&jobs);
        // The hub task has not run yet (current-thread runtime): it falls behind the job manager's channel.
        for _ in 0..=crate::jobs::UPDATE_CHANNEL_CAPACITY {
            jobs.publish(update(Uuid::new_v4()));
        }
        let mut lost = false;
        for _ in 0..=crate::jobs::UPDATE_CHANNEL_CAPACITY {
            if matches!(session.recv().await, Ok(Fanned::Lost)) {
                lost = true;
                break;
            }
        }
        assert!(lost, "a hub that lagged announces it");
    }
}
