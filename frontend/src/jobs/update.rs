//! The job vocabulary shared by the REST API, the job store and the WebSocket hub, and the update that the
//! job manager broadcasts on every change of a job.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Job status; the same spelling in REST and WebSocket (API.md "Jobs").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Queued.
    Pending,
    /// Running.
    Running,
    /// Ended successfully.
    Completed,
    /// Ended with an error.
    Failed,
    /// Cancelled before it changed anything.
    Cancelled,
    /// Ran longer than the configured timeout.
    Timeout,
}

impl JobStatus {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Running => "running",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
            JobStatus::Timeout => "timeout",
        }
    }

    /// Whether the job has ended.
    pub fn is_terminal(self) -> bool {
        !matches!(self, JobStatus::Pending | JobStatus::Running)
    }
}

/// Job operation; the same spelling everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobOperation {
    /// `POST /packages`.
    Install,
    /// `PUT /packages/{name}`.
    Update,
    /// `DELETE /packages/{name}`.
    Remove,
    /// `POST /patches/apply`.
    PatchApply,
    /// `POST /system/reboot`.
    Reboot,
    /// `POST /jobs/{id}/rollback` (a later issue).
    Rollback,
    /// A package index refresh.
    CacheRefresh,
}

impl JobOperation {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            JobOperation::Install => "install",
            JobOperation::Update => "update",
            JobOperation::Remove => "remove",
            JobOperation::PatchApply => "patch_apply",
            JobOperation::Reboot => "reboot",
            JobOperation::Rollback => "rollback",
            JobOperation::CacheRefresh => "cache_refresh",
        }
    }
}

/// What the job manager broadcasts whenever a job's status, progress or message changes. The WebSocket hub
/// turns it into `job_status` / `job_complete` frames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobUpdate {
    /// The job.
    pub job_id: Uuid,
    /// Its operation.
    pub operation: JobOperation,
    /// Its status after the change.
    pub status: JobStatus,
    /// Progress 0–100.
    pub progress: u8,
    /// Current message.
    pub message: String,
    /// RFC 3339 UTC time of the change.
    pub timestamp: String,
    /// The job `error_code` when it failed.
    pub error_code: Option<String>,
}
