//! The job as persisted and as shown: one [`JobRecord`] per job, with its bounded log.
//!
//! The record is the single source of truth for a job: the REST views, the WebSocket updates and the job
//! file under `<state_dir>/jobs/` are all derived from it. Everything that grows while a job runs is bounded
//! here, so a chatty package manager cannot make a job file (or a `GET /jobs/{id}` answer) grow without
//! limit: at most [`MAX_LOG_LINES`] log lines of at most [`MAX_LOG_LINE_BYTES`] bytes and
//! [`MAX_LOG_BYTES`] in total (the oldest lines go first), and the last [`MAX_OUTPUT_BYTES`] of the
//! command's standard output and error.

use super::intent::Intent;
use super::update::{JobOperation, JobStatus, JobUpdate};
use crate::conn::ConnInfo;
use crate::http::envelope;
use lpa_protocol::PackageChange;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// Most log lines kept per job.
pub const MAX_LOG_LINES: usize = 500;
/// Longest log line kept (longer ones are cut).
pub const MAX_LOG_LINE_BYTES: usize = 1000;
/// Most log bytes kept per job.
pub const MAX_LOG_BYTES: usize = 64 * 1024;
/// Most bytes of captured stdout and of stderr kept per job (the end is kept: that is where errors are).
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;

/// Who asked for a job: the verified client certificate and the TCP peer, or the service itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requester {
    /// Subject CN of the client certificate.
    pub common_name: Option<String>,
    /// Subject alternative names.
    pub sans: Vec<String>,
    /// Certificate serial, colon hex.
    pub serial: Option<String>,
    /// SHA-256 of the certificate.
    pub fingerprint_sha256: Option<String>,
    /// TCP peer address.
    pub peer: Option<String>,
    /// For jobs the service started itself: why (for example `health check: package cache stale`).
    pub internal: Option<String>,
}

impl Requester {
    /// The client of `conn`.
    pub fn client(conn: &ConnInfo) -> Self {
        Requester {
            common_name: conn.identity.common_name.clone(),
            sans: conn.identity.sans.clone(),
            serial: Some(conn.identity.serial.clone()),
            fingerprint_sha256: Some(conn.identity.fingerprint_sha256.clone()),
            peer: Some(conn.peer.to_string()),
            internal: None,
        }
    }

    /// The service itself, for `reason`.
    pub fn internal(reason: &str) -> Self {
        Requester {
            internal: Some(reason.to_owned()),
            ..Requester::default()
        }
    }
}

/// One package whose installed version a job changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The package.
    pub name: String,
    /// Version before (`null`: newly installed).
    pub from: Option<String>,
    /// Version after (`null`: removed).
    pub to: Option<String>,
}

impl From<&PackageChange> for Change {
    fn from(c: &PackageChange) -> Self {
        Change {
            name: c.name.clone(),
            from: c.from.clone(),
            to: c.to.clone(),
        }
    }
}

/// A job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    /// UUID v7: sorts by creation time.
    pub job_id: Uuid,
    /// The operation.
    pub operation: JobOperation,
    /// The status.
    pub status: JobStatus,
    /// 0–100.
    pub progress: u8,
    /// What is happening, or how it ended.
    pub message: String,
    /// Packages named by the request.
    pub packages: Vec<String>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Time of the last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// End time.
    #[serde(with = "time::serde::rfc3339::option")]
    pub completed_at: Option<OffsetDateTime>,
    /// Why it failed.
    pub error: Option<String>,
    /// Job failure code of API.md.
    pub error_code: Option<String>,
    /// Exit code of the last command.
    pub exit_code: Option<i32>,
    /// Captured standard output (the last [`MAX_OUTPUT_BYTES`]).
    pub command_stdout: String,
    /// Captured standard error (the last [`MAX_OUTPUT_BYTES`]).
    pub command_stderr: String,
    /// Human-readable log lines (bounded).
    pub logs: Vec<String>,
    /// Packages whose installed version the job changed.
    pub changes: Vec<Change>,
    /// The client that asked.
    pub requested_by: Requester,
    /// The rollback of this job, once one exists (a later issue).
    pub rollback_job_id: Option<Uuid>,
    /// Whether the job runs in exclusive mode (rollbacks, a later issue).
    pub exclusive_mode: bool,
    /// What was intended.
    pub intent: Intent,
    /// The timeout this job runs under, in minutes (rounded up).
    pub timeout_minutes: u64,
    /// Set (and persisted) just before the request goes to the helper: a job found pending *with* this
    /// marker at start-up may have changed the host and is resolved by recovery, not re-run.
    pub started: bool,
    /// For a reboot: when the helper scheduled it.
    #[serde(with = "time::serde::rfc3339::option")]
    pub scheduled_at: Option<OffsetDateTime>,
}

impl JobRecord {
    /// A new pending job.
    pub fn new(intent: Intent, requested_by: Requester, timeout_minutes: u64) -> Self {
        let now = OffsetDateTime::now_utc();
        JobRecord {
            job_id: Uuid::now_v7(),
            operation: intent.job_operation(),
            status: JobStatus::Pending,
            progress: 0,
            message: "queued".into(),
            packages: intent.packages(),
            created_at: now,
            updated_at: now,
            completed_at: None,
            error: None,
            error_code: None,
            exit_code: None,
            command_stdout: String::new(),
            command_stderr: String::new(),
            logs: Vec::new(),
            changes: Vec::new(),
            requested_by,
            rollback_job_id: None,
            exclusive_mode: false,
            intent,
            timeout_minutes,
            started: false,
            scheduled_at: None,
        }
    }

    /// Appends a log line, cut to [`MAX_LOG_LINE_BYTES`], dropping the oldest lines beyond the limits.
    pub fn log(&mut self, line: &str) {
        let line = line.trim_end();
        self.logs
            .push(truncate_front(line, MAX_LOG_LINE_BYTES).to_owned());
        let mut total: usize = self.logs.iter().map(String::len).sum();
        while self.logs.len() > MAX_LOG_LINES || total > MAX_LOG_BYTES {
            total -= self.logs.remove(0).len();
        }
    }

    /// Stores the captured output, keeping the end of each stream.
    pub fn set_output(&mut self, stdout: &str, stderr: &str) {
        self.command_stdout = keep_tail(stdout, MAX_OUTPUT_BYTES).to_owned();
        self.command_stderr = keep_tail(stderr, MAX_OUTPUT_BYTES).to_owned();
    }

    /// Ends the job with `status`.
    pub fn finish(&mut self, status: JobStatus, message: impl Into<String>) {
        self.status = status;
        self.message = message.into();
        if status == JobStatus::Completed {
            self.progress = 100;
        }
        self.completed_at = Some(OffsetDateTime::now_utc());
    }

    /// Ends the job as failed with `code`.
    pub fn fail(&mut self, code: &str, message: impl Into<String>) {
        let message = message.into();
        self.error = Some(message.clone());
        self.error_code = Some(code.to_owned());
        self.finish(JobStatus::Failed, message);
    }

    /// The broadcast form of the record's current state.
    pub fn update(&self) -> JobUpdate {
        JobUpdate {
            job_id: self.job_id,
            operation: self.operation,
            status: self.status,
            progress: self.progress,
            message: self.message.clone(),
            timestamp: envelope::rfc3339(self.updated_at),
            error_code: self.error_code.clone(),
        }
    }
}

/// The first `max` bytes of `s`, cut at a character boundary.
fn truncate_front(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The last `max` bytes of `s`, cut at a character boundary.
fn keep_tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_are_bounded_in_count_and_bytes_and_lines_are_cut() {
        let mut r = JobRecord::new(Intent::CacheRefresh, Requester::internal("t"), 30);
        for i in 0..(MAX_LOG_LINES + 50) {
            r.log(&format!("line {i}"));
        }
        assert_eq!(r.logs.len(), MAX_LOG_LINES);
        assert_eq!(r.logs[0], "line 50", "the oldest lines go first");
        r.log(&"é".repeat(MAX_LOG_LINE_BYTES));
        assert!(r.logs.last().unwrap().len() <= MAX_LOG_LINE_BYTES);
        for _ in 0..200 {
            r.log(&"x".repeat(MAX_LOG_LINE_BYTES));
        }
        assert!(r.logs.iter().map(String::len).sum::<usize>() <= MAX_LOG_BYTES);
    }

    #[test]
    fn output_keeps_the_end_of_each_stream() {
        let mut r = JobRecord::new(Intent::CacheRefresh, Requester::internal("t"), 30);
        let long = format!("{}END", "a".repeat(MAX_OUTPUT_BYTES));
        r.set_output(&long, "short");
        assert_eq!(r.command_stdout.len(), MAX_OUTPUT_BYTES);
        assert!(r.command_stdout.ends_with("END"));
        assert_eq!(r.command_stderr, "short");
    }

    #[test]
    fn record_round_trips_through_json() {
        let r = JobRecord::new(
            Intent::Remove {
                name: lpa_protocol::PackageName::new("hello").unwrap(),
                purge: true,
            },
            Requester::internal("t"),
            30,
        );
        let text = serde_json::to_string(&r).unwrap();
        let back: JobRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.packages, ["hello"]);
    }
}
