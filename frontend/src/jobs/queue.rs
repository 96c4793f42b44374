//! Admission and order: which job runs next, and when a new one is refused.
//!
//! Every job operation that exists today changes the host (install, update, remove, patch apply, reboot,
//! cache refresh), so they all go through one FIFO and one worker: they run one at a time, in creation
//! order (DESIGN invariant 10; the package manager's own lock would serialize them anyway, but queueing
//! here keeps the order and lets a pending job be cancelled without ever reaching the helper).
//! `jobs.max_concurrent` bounds the read-only helper work the job manager does on the side (recovery
//! look-ups), through [`super::JobManager::read_slot`].
//!
//! `jobs.max_queue_depth` counts every job not yet finished (pending, recovering and running); one more is
//! refused with 429 `QUEUE_FULL`.

use super::intent::Intent;
use super::record::JobRecord;
use std::collections::VecDeque;
use uuid::Uuid;

/// Why a job was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// `jobs.max_queue_depth` jobs are already waiting or running.
    #[error("the job queue is full ({depth} jobs pending or running); retry later")]
    QueueFull {
        /// The configured depth.
        depth: usize,
    },
    /// A reboot was requested without `force` while package jobs are pending or running.
    #[error(
        "a reboot is blocked while {active} package job(s) are pending or running; wait for them or \
         set force"
    )]
    RebootBlocked {
        /// How many package jobs are pending or running.
        active: usize,
    },
}

/// The pending jobs in the order they will run.
#[derive(Debug, Default)]
pub struct Queue {
    order: VecDeque<Uuid>,
}

impl Queue {
    /// Appends `id`.
    pub fn push(&mut self, id: Uuid) {
        self.order.push_back(id);
    }

    /// Removes `id` (a cancelled pending job); true when it was queued.
    pub fn remove(&mut self, id: Uuid) -> bool {
        let before = self.order.len();
        self.order.retain(|q| *q != id);
        self.order.len() != before
    }

    /// The next job to run.
    pub fn pop(&mut self) -> Option<Uuid> {
        self.order.pop_front()
    }

    /// Queued jobs.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// Checks whether `intent` may join `jobs` (every job the manager knows) with at most `depth` unfinished.
pub fn admit<'a>(
    intent: &Intent,
    jobs: impl Iterator<Item = &'a JobRecord>,
    depth: usize,
) -> Result<(), SubmitError> {
    let (mut active, mut package_jobs) = (0, 0);
    for job in jobs.filter(|j| !j.status.is_terminal()) {
        active += 1;
        if job.intent.changes_packages() {
            package_jobs += 1;
        }
    }
    if active >= depth {
        return Err(SubmitError::QueueFull { depth });
    }
    if let Intent::Reboot { force: false, .. } = intent
        && package_jobs > 0
    {
        return Err(SubmitError::RebootBlocked {
            active: package_jobs,
        });
    }
    Ok(())
}
