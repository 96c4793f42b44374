//! The job manager: queue, execution through the helper, persistence, recovery, timeouts, cancellation.
//! (Being written; the broadcast channel below is the fixed interface for the WebSocket hub.)

mod update;

pub use update::{JobOperation, JobStatus, JobUpdate};

use tokio::sync::broadcast;

/// Capacity of the update channel. A subscriber that falls further behind gets `Lagged` and is dropped by the
/// WebSocket hub rather than allowed to grow memory.
pub const UPDATE_CHANNEL_CAPACITY: usize = 1024;

/// Owns every job; cheap to share (`Arc`).
#[derive(Debug)]
pub struct JobManager {
    updates: broadcast::Sender<JobUpdate>,
}

impl Default for JobManager {
    fn default() -> Self {
        JobManager {
            updates: broadcast::channel(UPDATE_CHANNEL_CAPACITY).0,
        }
    }
}

impl JobManager {
    /// A receiver of every job update from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<JobUpdate> {
        self.updates.subscribe()
    }

    /// Broadcasts `update` to every subscriber (no subscriber is fine).
    pub fn publish(&self, update: JobUpdate) {
        let _ = self.updates.send(update);
    }
}
