//! Waiting for a job to end: live events from the WebSocket, with `GET /jobs/{id}` as the source of truth
//! and the fallback.
//!
//! Order matters: the socket subscribes *before* the first `GET`, so a job that ends between the two is seen
//! either in the answer or as an event, never missed. If the socket cannot be opened or breaks, waiting goes
//! on by polling. A `job_complete` event is always followed by a `GET`, whose answer (with logs, changes and
//! the captured output) is what [`ApiClient::wait_for_job`] returns.

use crate::api::{ApiClient, ApiResponse, ClientError};
use crate::ws::{JobEvent, JobSocket, WsError};
use serde_json::Value;
use std::time::Duration;
use tokio::time::Instant;

/// How often the job is polled when no socket is available.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// The state of a job as both sources report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobProgress {
    /// The job status.
    pub status: String,
    /// 0–100.
    pub progress: u8,
    /// Current step.
    pub message: String,
    /// Failure code, if any.
    pub error_code: Option<String>,
}

impl JobProgress {
    /// Whether the status is terminal.
    pub fn is_terminal(&self) -> bool {
        !matches!(self.status.as_str(), "pending" | "running")
    }

    /// From a WebSocket event.
    pub fn from_event(event: &JobEvent) -> Self {
        JobProgress {
            status: event.status.clone(),
            progress: event.progress,
            message: event.message.clone(),
            error_code: event.error_code.clone(),
        }
    }

    /// From the `data` of `GET /jobs/{id}`.
    pub fn from_job(job: &Value) -> Self {
        let text = |key: &str| job[key].as_str().unwrap_or_default().to_owned();
        let progress = job["progress"]
            .as_u64()
            .or_else(|| job["progress_percent"].as_u64())
            .unwrap_or(0);
        JobProgress {
            status: text("status"),
            progress: u8::try_from(progress.min(100)).unwrap_or(100),
            message: text("message"),
            error_code: job["error_code"].as_str().map(str::to_owned),
        }
    }
}

/// Why waiting stopped without a finished job.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WaitError {
    /// The request could not be made.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// `GET /jobs/{id}` was refused (unknown job, invalid id, …).
    #[error("GET /jobs/ID: HTTP {status} {code}", status = .0.status, code = .0.error_code().unwrap_or("?"))]
    Refused(Box<ApiResponse>),
    /// The job did not end in time; the last state seen is attached.
    #[error("the job is still {} after the wait limit", .0.status)]
    TimedOut(JobProgress),
}

impl ApiClient {
    /// Opens the job events socket with this client's identity.
    pub async fn job_socket(&self) -> Result<JobSocket, WsError> {
        JobSocket::connect(self.base(), self.tls()).await
    }

    /// Opens the job events socket over `transport`, a byte stream the caller has already connected to the
    /// base URL's host and port (TLS and the WebSocket handshake are this client's, as for
    /// [`ApiClient::job_socket`]).
    pub async fn job_socket_over<T>(&self, transport: T) -> Result<JobSocket<T>, WsError>
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        JobSocket::over(self.base(), self.tls(), transport).await
    }

    /// Waits until job `id` ends or `limit` passes, calling `on_progress` with every state seen (events and
    /// polls, possibly repeated). Returns the `data` of the final `GET /jobs/{id}`.
    pub async fn wait_for_job(
        &self,
        id: &str,
        limit: Duration,
        mut on_progress: impl FnMut(&JobProgress),
    ) -> Result<Value, WaitError> {
        let deadline = Instant::now() + limit;
        let mut socket = match self.job_socket().await {
            Ok(mut socket) => socket.subscribe(id).await.ok().map(|()| socket),
            Err(_) => None,
        };
        loop {
            let job = self.job_data(id).await?;
            let state = JobProgress::from_job(&job);
            on_progress(&state);
            if state.is_terminal() {
                return Ok(job);
            }
            if Instant::now() >= deadline {
                return Err(WaitError::TimedOut(state));
            }
            // Wait for a reason to ask again: a terminal event, a broken socket, the deadline, or a poll tick.
            let mut drop_socket = false;
            if let Some(live) = socket.as_mut() {
                loop {
                    match tokio::time::timeout_at(deadline, live.next_job_event(id)).await {
                        Err(_) => break,
                        Ok(Ok(event)) => {
                            let seen = JobProgress::from_event(&event);
                            on_progress(&seen);
                            if seen.is_terminal() {
                                // Should the record lag behind the event, the next rounds poll.
                                drop_socket = true;
                                break;
                            }
                        }
                        Ok(Err(_)) => {
                            drop_socket = true;
                            break;
                        }
                    }
                }
            } else {
                let pause = POLL_INTERVAL.min(deadline.saturating_duration_since(Instant::now()));
                tokio::time::sleep(pause).await;
            }
            if drop_socket {
                socket = None;
            }
        }
    }

    async fn job_data(&self, id: &str) -> Result<Value, WaitError> {
        let resp = self.call(&crate::calls::job(id)).await?;
        if resp.status != 200 {
            return Err(WaitError::Refused(Box::new(resp)));
        }
        Ok(resp.envelope.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn progress_reads_the_job_record_and_the_event_alike() {
        let job = json!({"status": "failed", "progress": 100, "message": "dpkg failed", "error_code": "PKG_MANAGER_ERROR"});
        let from_job = JobProgress::from_job(&job);
        let event: JobEvent = serde_json::from_value(json!({
            "job_id": "j", "status": "failed", "progress": 100, "message": "dpkg failed",
            "timestamp": "t", "error_code": "PKG_MANAGER_ERROR"
        }))
        .unwrap();
        assert_eq!(from_job, JobProgress::from_event(&event));
        assert!(from_job.is_terminal());
        assert!(
            !JobProgress::from_job(&json!({"status": "running", "progress_percent": 40}))
                .is_terminal()
        );
        assert_eq!(
            JobProgress::from_job(&json!({"status": "running", "progress_percent": 40})).progress,
            40
        );
    }
}
