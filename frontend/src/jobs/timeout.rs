//! The job deadline: `jobs.timeout_minutes` after a job starts running (or `jobs.timeout_seconds`).
//!
//! When the deadline passes while a helper request is in flight, the runner sends `Abort`: the broker stops
//! the package manager's process group (SIGTERM, then SIGKILL after a grace period) and answers with a
//! `Timeout` failure whose `changes` say what the package database shows was changed anyway. The job then
//! ends with status `timeout`, `error_code` `TIMEOUT`, and those changes, so its record stays truthful. If
//! the helper does not answer within [`super::JobSettings::abort_grace`] the job still ends `timeout`, with
//! no changes known (the log says so).

use crate::helper_client::{ChangeCall, ChangeControl, ChangeMessage};
use lpa_protocol::{HelperError, Outcome};
use std::time::Duration;

/// Sends `Abort` for `call` and waits up to `grace` for its final answer. `None` when none came (or the
/// abort could not be sent).
pub async fn abort(
    call: &mut ChangeCall,
    control: &ChangeControl,
    grace: Duration,
) -> Option<Result<Outcome, HelperError>> {
    if let Err(e) = control.abort().await {
        tracing::warn!(error = %e, "could not send Abort to the helper");
        return None;
    }
    let answer = async {
        loop {
            match call.next().await {
                Ok(ChangeMessage::Finished(result)) => return Some(result),
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "helper connection lost while aborting");
                    return None;
                }
            }
        }
    };
    tokio::time::timeout(grace, answer).await.ok().flatten()
}

/// The message of a timed-out job.
pub fn message(limit: Duration) -> String {
    let secs = limit.as_secs();
    if secs >= 60 && secs.is_multiple_of(60) {
        format!(
            "the job ran longer than its timeout of {} minute(s) and was stopped",
            secs / 60
        )
    } else {
        format!("the job ran longer than its timeout of {secs} second(s) and was stopped")
    }
}
