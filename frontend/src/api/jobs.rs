//! `GET /jobs`, `GET /jobs/{id}`, `DELETE /jobs/{id}`, and the 202 answer of every job-creating endpoint.

use super::{Data, Reply, data};
use crate::http::envelope::rfc3339;
use crate::http::query::Query;
use crate::http::{ApiError, AppState};
use crate::jobs::intent::Intent;
use crate::jobs::record::{Change, JobRecord, Requester};
use crate::jobs::{JobOperation, JobStatus};
use http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

/// Parameters of `GET /jobs`.
pub const PARAMETERS: &[&str] = &["status", "operation", "limit", "offset", "sort", "order"];
const STATUSES: &[&str] = &[
    "pending",
    "running",
    "completed",
    "failed",
    "cancelled",
    "timeout",
];
const OPERATIONS: &[&str] = &[
    "install",
    "update",
    "remove",
    "patch_apply",
    "reboot",
    "rollback",
    "cache_refresh",
];

/// A job in a list.
#[derive(Debug, Serialize)]
pub struct Summary<'a> {
    job_id: Uuid,
    operation: JobOperation,
    status: JobStatus,
    progress_percent: u8,
    packages: &'a [String],
    created_at: String,
    updated_at: String,
    completed_at: Option<String>,
    error_code: Option<&'a str>,
}

impl<'a> Summary<'a> {
    /// The summary of `job`.
    pub fn of(job: &'a JobRecord) -> Self {
        Summary {
            job_id: job.job_id,
            operation: job.operation,
            status: job.status,
            progress_percent: job.progress,
            packages: &job.packages,
            created_at: rfc3339(job.created_at),
            updated_at: rfc3339(job.updated_at),
            completed_at: job.completed_at.map(rfc3339),
            error_code: job.error_code.as_deref(),
        }
    }
}

/// One job with everything `GET /jobs/{id}` shows.
#[derive(Debug, Serialize)]
pub struct Detail<'a> {
    #[serde(flatten)]
    summary: Summary<'a>,
    progress: u8,
    message: &'a str,
    logs: &'a [String],
    error: Option<&'a str>,
    exit_code: Option<i32>,
    command_stdout: &'a str,
    command_stderr: &'a str,
    changes: &'a [Change],
    requested_by: &'a Requester,
    rollback_job_id: Option<Uuid>,
    exclusive_mode: bool,
    timeout_minutes: u64,
    scheduled_at: Option<String>,
    reason: Option<&'a str>,
}

impl<'a> Detail<'a> {
    /// The detail of `job`.
    pub fn of(job: &'a JobRecord) -> Self {
        Detail {
            summary: Summary::of(job),
            progress: job.progress,
            message: &job.message,
            logs: &job.logs,
            error: job.error.as_deref(),
            exit_code: job.exit_code,
            command_stdout: &job.command_stdout,
            command_stderr: &job.command_stderr,
            changes: &job.changes,
            requested_by: &job.requested_by,
            rollback_job_id: job.rollback_job_id,
            exclusive_mode: job.exclusive_mode,
            timeout_minutes: job.timeout_minutes,
            scheduled_at: job.scheduled_at.map(rfc3339),
            reason: match &job.intent {
                Intent::Reboot { reason, .. } => reason.as_deref(),
                _ => None,
            },
        }
    }
}

#[derive(Serialize)]
struct ListData<'a> {
    jobs: Vec<Summary<'a>>,
    total: usize,
    limit: u64,
    offset: u64,
}

/// `GET /jobs`: filtered by status and operation, sorted (newest first by default), paged.
pub fn list(state: &AppState, query: &Query) -> Result<Data, ApiError> {
    query.only(PARAMETERS)?;
    let status = query
        .get("status")
        .map(|_| query.choice("status", STATUSES, ""))
        .transpose()?;
    let operation = query
        .get("operation")
        .map(|_| query.choice("operation", OPERATIONS, ""))
        .transpose()?;
    let limit = query.integer("limit", 1, 1000, 100)?;
    let offset = query.integer("offset", 0, u64::MAX, 0)?;
    let sort = query.choice(
        "sort",
        &["created_at", "updated_at", "status"],
        "created_at",
    )?;
    let descending = query.choice("order", &["asc", "desc"], "desc")? == "desc";
    state.jobs.with_jobs(|jobs| {
        let mut selected: Vec<&JobRecord> = jobs
            .filter(|j| status.is_none_or(|s| j.status.as_str() == s))
            .filter(|j| operation.is_none_or(|o| j.operation.as_str() == o))
            .collect();
        selected.sort_by(|a, b| {
            let primary = match sort {
                "updated_at" => a.updated_at.cmp(&b.updated_at),
                "status" => a.status.as_str().cmp(b.status.as_str()),
                _ => std::cmp::Ordering::Equal,
            };
            let ord = primary
                .then(a.created_at.cmp(&b.created_at))
                .then(a.job_id.cmp(&b.job_id));
            if descending { ord.reverse() } else { ord }
        });
        let total = selected.len();
        let page = selected
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(Summary::of)
            .collect();
        data(&ListData {
            jobs: page,
            total,
            limit,
            offset,
        })
    })
}

/// `GET /jobs/{id}`.
pub fn detail(state: &AppState, id: Uuid) -> Result<Data, ApiError> {
    let job = state
        .jobs
        .get(id)
        .ok_or(ApiError::JobNotFound { id: id.to_string() })?;
    data(&Detail::of(&job))
}

/// `DELETE /jobs/{id}`.
pub async fn cancel(state: &AppState, id: Uuid) -> Result<Data, ApiError> {
    let outcome = state.jobs.cancel(id).await?;
    data(&outcome)
}

/// The 202 answer for a new job: `job_id`, `status`, `operation`, `packages`, `created_at`, plus `extra`.
pub fn accepted(job: &JobRecord, extra: Value) -> Result<Reply, ApiError> {
    let mut map = Map::new();
    map.insert("job_id".into(), Value::String(job.job_id.to_string()));
    map.insert("status".into(), Value::from(job.status.as_str()));
    map.insert("operation".into(), Value::from(job.operation.as_str()));
    map.insert("packages".into(), Value::from(job.packages.clone()));
    map.insert("created_at".into(), Value::String(rfc3339(job.created_at)));
    if let Value::Object(extra) = extra {
        map.extend(extra);
    }
    Ok(Reply {
        status: StatusCode::ACCEPTED,
        data: data(&map)?,
    })
}
