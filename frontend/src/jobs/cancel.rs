//! `DELETE /jobs/{id}`: cancel a job, or delete a finished one from the history.
//!
//! - pending → cancelled at once; it never reaches the helper.
//! - running → the runner sends `Cancel` to the helper. Before the package manager starts changing the
//!   system the helper stops it and the job ends `cancelled`; after that (the runner has seen
//!   `ChangesStarted`, or the helper answers `CancelRefused`) the answer is 409 `JOB_NOT_CANCELLABLE` and the
//!   job runs to its end. A job being recovered after a restart is not cancellable either.
//! - finished → removed from memory and disk (`action: "deleted"`), except within
//!   `jobs::JobSettings::cancel_answer_window` (default [`CANCEL_ANSWER_WINDOW`]) after a `DELETE` cancelled it: then the answer is that cancellation again.
//!
//! Why the window: a cancel and a delete are different intentions that share one request. Without it, two
//! `DELETE`s of a pending job sent together (or a client retrying a cancel whose answer it missed) turned into
//! a cancel *and* the deletion of the record the cancel had just produced, and the others got 404. Within the
//! window every such `DELETE` is answered `cancelled` and the record stays; a delete is a later, separate
//! request.

use super::update::JobStatus;
use super::{JobManager, recovery};
use serde::Serialize;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use uuid::Uuid;

/// Default of [`super::JobSettings::cancel_answer_window`]: how long after a `DELETE` cancelled a job further
/// `DELETE`s answer that cancellation instead of deleting.
pub const CANCEL_ANSWER_WINDOW: Duration = Duration::from_secs(5);

/// A cancel request handed to the runner of the running job; it answers on the channel.
pub type CancelRequest = oneshot::Sender<CancelReply>;

/// The runner's answer to a cancel request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelReply {
    /// The helper stopped the request; the job is cancelled.
    Cancelled,
    /// Too late; why.
    Refused(String),
}

/// What `DELETE /jobs/{id}` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CancelOutcome {
    /// The job.
    pub job_id: Uuid,
    /// Its status before.
    pub previous_status: JobStatus,
    /// `cancelled`, or `deleted` when it was removed from the history.
    pub current_status: &'static str,
    /// `cancelled` or `deleted`.
    pub action: &'static str,
}

/// Why the job was not cancelled or deleted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CancelError {
    /// No such job.
    #[error("job {0} not found")]
    NotFound(Uuid),
    /// The job cannot be stopped safely any more.
    #[error("job {job_id} cannot be cancelled: {reason}")]
    NotCancellable {
        /// The job.
        job_id: Uuid,
        /// Why.
        reason: String,
    },
}

enum Plan {
    Done(CancelOutcome),
    AskRunner(tokio::sync::mpsc::Sender<CancelRequest>),
    Delete(JobStatus),
}

impl JobManager {
    /// Notes that a `DELETE` cancelled job `id` (older notes are dropped on the way: they only matter within
    /// the answer window).
    fn remember_cancel(&self, id: Uuid, previous: JobStatus) {
        let mut jobs = self.lock();
        let window = self.settings.cancel_answer_window;
        jobs.cancelled_by_delete
            .retain(|_, (at, _)| at.elapsed() < window);
        jobs.cancelled_by_delete
            .insert(id, (Instant::now(), previous));
    }

    /// Cancels or deletes job `id` (see the module docs).
    pub async fn cancel(&self, id: Uuid) -> Result<CancelOutcome, CancelError> {
        let plan = {
            let mut jobs = self.lock();
            let Some(record) = jobs.records.get(&id) else {
                return Err(CancelError::NotFound(id));
            };
            match record.status {
                _ if jobs.recovering.contains(&id) => {
                    return Err(CancelError::NotCancellable {
                        job_id: id,
                        reason: recovery::RECOVERING_MESSAGE.into(),
                    });
                }
                JobStatus::Pending => {
                    jobs.queue.remove(id);
                    Plan::Done(CancelOutcome {
                        job_id: id,
                        previous_status: JobStatus::Pending,
                        current_status: "cancelled",
                        action: "cancelled",
                    })
                }
                JobStatus::Running => match &jobs.running {
                    Some((running, tx)) if *running == id => Plan::AskRunner(tx.clone()),
                    _ => {
                        return Err(CancelError::NotCancellable {
                            job_id: id,
                            reason: "the job is just finishing".into(),
                        });
                    }
                },
                JobStatus::Cancelled => match jobs.cancelled_by_delete.get(&id) {
                    Some((at, previous)) if at.elapsed() < self.settings.cancel_answer_window => {
                        return Ok(CancelOutcome {
                            job_id: id,
                            previous_status: *previous,
                            current_status: "cancelled",
                            action: "cancelled",
                        });
                    }
                    _ => Plan::Delete(JobStatus::Cancelled),
                },
                finished => Plan::Delete(finished),
            }
        };
        match plan {
            Plan::Done(outcome) => {
                self.modify(id, |r| {
                    r.finish(JobStatus::Cancelled, "cancelled before it started")
                });
                self.remember_cancel(id, JobStatus::Pending);
                tracing::info!(job_id = %id, "pending job cancelled");
                self.prune_history();
                Ok(outcome)
            }
            Plan::Delete(previous) => {
                self.forget(id);
                tracing::info!(job_id = %id, "finished job deleted from the history");
                Ok(CancelOutcome {
                    job_id: id,
                    previous_status: previous,
                    current_status: "deleted",
                    action: "deleted",
                })
            }
            Plan::AskRunner(tx) => {
                let refused = |reason: &str| CancelError::NotCancellable {
                    job_id: id,
                    reason: reason.to_owned(),
                };
                let (reply_tx, reply_rx) = oneshot::channel();
                tx.send(reply_tx)
                    .await
                    .map_err(|_| refused("the job is just finishing"))?;
                match tokio::time::timeout(self.settings.cancel_wait, reply_rx).await {
                    Ok(Ok(CancelReply::Cancelled)) => {
                        self.remember_cancel(id, JobStatus::Running);
                        Ok(CancelOutcome {
                            job_id: id,
                            previous_status: JobStatus::Running,
                            current_status: "cancelled",
                            action: "cancelled",
                        })
                    }
                    Ok(Ok(CancelReply::Refused(reason))) => Err(refused(&reason)),
                    Ok(Err(_)) => Err(refused("the job is just finishing")),
                    Err(_) => Err(refused(
                        "the helper did not confirm the cancellation in time; the job keeps running",
                    )),
                }
            }
        }
    }
}
