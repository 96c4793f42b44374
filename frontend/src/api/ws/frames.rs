//! The WebSocket vocabulary: client requests as typed values, server frames as flat JSON objects.
//!
//! Client text frames: `{"type": "subscribe", "job_id": "uuid"}`, `{"type": "unsubscribe", "job_id": "uuid"}`,
//! `{"type": "subscribe_all"}`, `{"type": "ping"}`; `action` is a synonym of `type`, and `subscribe` without a
//! `job_id` means all jobs. `unsubscribe` without a `job_id` (an addition) drops every subscription. Anything
//! else is a [`FrameError`] that the session answers with an `error` frame; the connection stays open.

use crate::jobs::{JobOperation, JobStatus, JobUpdate};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// A valid client request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientRequest {
    /// Events of one job.
    Subscribe(Uuid),
    /// Events of every job.
    SubscribeAll,
    /// No more events of one job.
    Unsubscribe(Uuid),
    /// No more events at all.
    UnsubscribeAll,
    /// Answer with `pong`.
    Ping,
}

/// Why a client frame was refused; the text goes into the `error` frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FrameError {
    /// Not JSON.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// JSON, but not an object with a string `type`/`action`, or `job_id` not a string.
    #[error("{0}")]
    Shape(&'static str),
    /// `type` is not one this endpoint knows.
    #[error("unknown type {0:?}; expected subscribe, unsubscribe, subscribe_all or ping")]
    UnknownType(String),
    /// `job_id` is not a UUID.
    #[error("job_id is not a UUID")]
    BadJobId,
    /// A binary frame.
    #[error("binary frames are not supported; send JSON text frames")]
    Binary,
}

/// Longest type name quoted back in an error.
const MAX_QUOTED: usize = 32;

/// Parses one client text frame.
pub(crate) fn parse(text: &str) -> Result<ClientRequest, FrameError> {
    let value: Value = serde_json::from_str(text).map_err(|e| FrameError::Json(e.to_string()))?;
    let Value::Object(object) = value else {
        return Err(FrameError::Shape("a frame must be a JSON object"));
    };
    let kind = match (object.get("type"), object.get("action")) {
        (Some(Value::String(t)), _) | (None, Some(Value::String(t))) => t.as_str(),
        (None, None) => return Err(FrameError::Shape("missing \"type\" (or \"action\")")),
        _ => {
            return Err(FrameError::Shape(
                "\"type\" (or \"action\") must be a string",
            ));
        }
    };
    let job_id = match object.get("job_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(Uuid::parse_str(s).map_err(|_| FrameError::BadJobId)?),
        Some(_) => return Err(FrameError::Shape("\"job_id\" must be a string")),
    };
    Ok(match (kind, job_id) {
        ("subscribe", Some(id)) => ClientRequest::Subscribe(id),
        ("subscribe", None) | ("subscribe_all", _) => ClientRequest::SubscribeAll,
        ("unsubscribe", Some(id)) => ClientRequest::Unsubscribe(id),
        ("unsubscribe", None) => ClientRequest::UnsubscribeAll,
        ("ping", _) => ClientRequest::Ping,
        (other, _) => {
            return Err(FrameError::UnknownType(
                other.chars().take(MAX_QUOTED).collect(),
            ));
        }
    })
}

/// `job_status` while the job runs, `job_complete` once its status is terminal.
#[derive(Debug, Serialize)]
struct JobFrame<'a> {
    event: &'static str,
    job_id: Uuid,
    operation: JobOperation,
    status: JobStatus,
    progress: u8,
    message: &'a str,
    timestamp: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<Option<&'a str>>,
}

/// The frame for a job update.
pub(crate) fn job_update(update: &JobUpdate) -> String {
    let complete = update.status.is_terminal();
    let frame = JobFrame {
        event: if complete {
            "job_complete"
        } else {
            "job_status"
        },
        job_id: update.job_id,
        operation: update.operation,
        status: update.status,
        progress: update.progress,
        message: &update.message,
        timestamp: &update.timestamp,
        // `job_complete` always carries `error_code` (null on success); `job_status` never does.
        error_code: complete.then_some(update.error_code.as_deref()),
    };
    serde_json::to_string(&frame).unwrap_or_default()
}

/// `{"event": "subscribed" | "unsubscribed", "job_id"}`; `job_id` is null and `all` true for everything.
pub(crate) fn acknowledgement(event: &'static str, job_id: Option<Uuid>) -> String {
    match job_id {
        Some(id) => serde_json::json!({"event": event, "job_id": id}),
        None => serde_json::json!({"event": event, "job_id": null, "all": true}),
    }
    .to_string()
}

/// `{"event": "pong"}`.
pub(crate) fn pong() -> String {
    r#"{"event":"pong"}"#.to_owned()
}

/// `{"event": "error", "message"}`.
pub(crate) fn error(err: &FrameError) -> String {
    serde_json::json!({"event": "error", "message": err.to_string()}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_and_action_are_synonyms_and_subscribe_without_id_means_all() {
        let id = Uuid::new_v4();
        for key in ["type", "action"] {
            assert_eq!(
                parse(&format!(r#"{{"{key}":"subscribe","job_id":"{id}"}}"#)),
                Ok(ClientRequest::Subscribe(id))
            );
            assert_eq!(
                parse(&format!(r#"{{"{key}":"subscribe"}}"#)),
                Ok(ClientRequest::SubscribeAll)
            );
            assert_eq!(
                parse(&format!(r#"{{"{key}":"subscribe_all"}}"#)),
                Ok(ClientRequest::SubscribeAll)
            );
            assert_eq!(
                parse(&format!(r#"{{"{key}":"unsubscribe","job_id":"{id}"}}"#)),
                Ok(ClientRequest::Unsubscribe(id))
            );
            assert_eq!(
                parse(&format!(r#"{{"{key}":"ping"}}"#)),
                Ok(ClientRequest::Ping)
            );
        }
        assert_eq!(
            parse(r#"{"type":"unsubscribe"}"#),
            Ok(ClientRequest::UnsubscribeAll)
        );
    }

    #[test]
    fn malformed_frames_are_typed_errors() {
        assert!(matches!(parse("{"), Err(FrameError::Json(_))));
        assert!(matches!(parse("[1]"), Err(FrameError::Shape(_))));
        assert!(matches!(parse("{}"), Err(FrameError::Shape(_))));
        assert!(matches!(parse(r#"{"type":7}"#), Err(FrameError::Shape(_))));
        assert!(matches!(
            parse(r#"{"type":"subscribe","job_id":7}"#),
            Err(FrameError::Shape(_))
        ));
        assert_eq!(
            parse(r#"{"type":"subscribe","job_id":"not-a-uuid"}"#),
            Err(FrameError::BadJobId)
        );
        assert!(matches!(
            parse(r#"{"type":"launch_missiles"}"#),
            Err(FrameError::UnknownType(t)) if t == "launch_missiles"
        ));
    }

    #[test]
    fn terminal_updates_become_job_complete_with_error_code() {
        let mut update = JobUpdate {
            job_id: Uuid::new_v4(),
            operation: JobOperation::Install,
            status: JobStatus::Running,
            progress: 40,
            message: "Unpacking hello".into(),
            timestamp: "2026-05-27T14:00:00Z".into(),
            error_code: None,
        };
        let running: Value = serde_json::from_str(&job_update(&update)).unwrap();
        assert_eq!(running["event"], "job_status");
        assert_eq!(running["status"], "running");
        assert_eq!(running["progress"], 40);
        assert_eq!(running["message"], "Unpacking hello");
        assert_eq!(running["timestamp"], "2026-05-27T14:00:00Z");
        assert!(running.get("error_code").is_none());
        update.status = JobStatus::Failed;
        update.error_code = Some("DEPENDENCY_CONFLICT".into());
        let failed: Value = serde_json::from_str(&job_update(&update)).unwrap();
        assert_eq!(failed["event"], "job_complete");
        assert_eq!(failed["job_id"], update.job_id.to_string());
        assert_eq!(failed["error_code"], "DEPENDENCY_CONFLICT");
        update.status = JobStatus::Completed;
        update.error_code = None;
        let done: Value = serde_json::from_str(&job_update(&update)).unwrap();
        assert!(done["error_code"].is_null() && done.get("error_code").is_some());
    }
}
