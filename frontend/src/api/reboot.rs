//! `POST /system/reboot`: queue a reboot job.
//!
//! Refused with 409 `REBOOT_BLOCKED` while package jobs are pending or running, unless `force` (the check
//! and the queueing are one atomic step in the job manager). The reboot itself is carried out by the
//! helper with the reboot command of its own root-owned configuration (the demo records it instead). The
//! reason is stored in the job and logged with the client identity.

use super::jobs::accepted;
use super::{Reply, Request, json};
use crate::http::envelope::rfc3339;
use crate::http::{ApiError, AppState};
use crate::jobs::intent::Intent;
use crate::jobs::record::Requester;
use serde::Deserialize;
use serde_json::json;

/// Longest accepted delay: one day.
pub const MAX_DELAY_SECONDS: u32 = 86_400;
/// Longest accepted reason.
pub const MAX_REASON_CHARS: usize = 500;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RebootBody {
    delay_seconds: u32,
    force: bool,
    reason: Option<String>,
}

/// `POST /system/reboot`.
pub fn reboot(state: &AppState, request: &Request<'_>) -> Result<Reply, ApiError> {
    let body: RebootBody = json::parse(request.body, Some(RebootBody::default()))?;
    if body.delay_seconds > MAX_DELAY_SECONDS {
        return Err(json::invalid("delay_seconds", "at most 86400 (one day)"));
    }
    if let Some(reason) = &body.reason {
        if reason.chars().count() > MAX_REASON_CHARS {
            return Err(json::invalid("reason", "at most 500 characters"));
        }
        if reason.chars().any(char::is_control) {
            return Err(json::invalid(
                "reason",
                "control characters are not accepted",
            ));
        }
    }
    let requester = Requester::client(request.conn);
    let job = state.jobs.submit(
        Intent::Reboot {
            delay_seconds: body.delay_seconds,
            force: body.force,
            reason: body.reason.clone(),
        },
        requester,
    )?;
    tracing::info!(
        job_id = %job.job_id,
        client_cn = request.conn.identity.common_name.as_deref().unwrap_or("-"),
        peer = %request.conn.peer,
        delay_seconds = body.delay_seconds,
        force = body.force,
        reason = body.reason.as_deref().unwrap_or("-"),
        "reboot requested"
    );
    let scheduled = job.created_at + time::Duration::seconds(i64::from(body.delay_seconds));
    accepted(
        &job,
        json!({
            "scheduled_at": rfc3339(scheduled),
            "delay_seconds": body.delay_seconds,
            "force": body.force,
            "reason": body.reason,
        }),
    )
}
