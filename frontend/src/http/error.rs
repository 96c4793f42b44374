//! Every error the API can answer with, and the one place that maps failures to HTTP.
//!
//! A handler returns `Result<_, ApiError>`; the envelope turns the error into status, `code`, `message`,
//! `details` and `retryable` through the methods below. Typed helper failures ([`HelperError`]) and helper
//! connection failures ([`HelperClientError`]) are converted here too, so no handler decides a status code on
//! its own.
//!
//! Messages may quote what the client sent (a parameter name, a package name) but only through
//! [`sanitize`], which keeps a short prefix and escapes anything outside a conservative character set.

use crate::helper_client::HelperClientError;
use http::{Method, StatusCode};
use lpa_protocol::HelperError;
use serde_json::{Value, json};

/// How many characters of client input a message may quote.
const MAX_QUOTED: usize = 64;
/// How many characters of helper-provided text (stderr tails, reasons) a message may carry.
const MAX_HELPER_TEXT: usize = 2000;

/// `Retry-After` of 429 `QUEUE_FULL`: jobs take seconds to minutes; a client should not poll faster.
const QUEUE_FULL_RETRY_AFTER: u64 = 30;
/// `Retry-After` of 503 `TOO_MANY_SESSIONS`: sessions end when their clients close them.
const SESSIONS_RETRY_AFTER: u64 = 30;
/// `Retry-After` of 503 `HELPER_UNAVAILABLE`: a restarting helper is back within seconds.
const HELPER_RETRY_AFTER: u64 = 5;

/// An API failure. Each variant has exactly one stable code and status.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// 400 `INVALID_REQUEST`: malformed input, unknown query parameters or values.
    #[error("{message}")]
    InvalidRequest {
        /// What was wrong.
        message: String,
        /// Machine-readable specifics (for example the parameter and its allowed values).
        details: Option<Value>,
    },
    /// 400 `VALIDATION_ERROR`: a value (package name, …) fails its grammar.
    #[error("{message}")]
    Validation {
        /// What was wrong.
        message: String,
        /// Machine-readable specifics.
        details: Option<Value>,
    },
    /// 400 `INVALID_SERVICE_NAME`: the path under `/system/services/` is not one valid name.
    #[error("{message}")]
    InvalidServiceName {
        /// What was wrong.
        message: String,
    },
    /// 404 `NOT_FOUND`: no route for this path.
    #[error("no such endpoint")]
    NotFound,
    /// 404 `PKG_NOT_FOUND`.
    #[error("package {} is neither installed nor available", sanitize(.name))]
    PackageNotFound {
        /// The package.
        name: String,
    },
    /// 404 `SERVICE_NOT_FOUND`.
    #[error("service {} not found", sanitize(.name))]
    ServiceNotFound {
        /// The service.
        name: String,
    },
    /// 405 `METHOD_NOT_ALLOWED`, with an `Allow` header.
    #[error("method {} is not allowed on this endpoint", sanitize(.method))]
    MethodNotAllowed {
        /// The method used.
        method: String,
        /// The methods the route supports.
        allow: Vec<Method>,
    },
    /// 413 `PAYLOAD_TOO_LARGE`.
    #[error("request body exceeds the limit of {limit} bytes")]
    PayloadTooLarge {
        /// `server.max_body_bytes`.
        limit: usize,
    },
    /// 431 `HEADERS_TOO_LARGE` (an addition to the contract): the request head has more than
    /// [`super::MAX_HEADERS`] lines or [`super::MAX_HEAD_BYTES`] bytes.
    #[error("request head exceeds the limit of {max_headers} header lines or {max_bytes} bytes")]
    HeadersTooLarge {
        /// Most header lines.
        max_headers: usize,
        /// Most bytes of request line and headers.
        max_bytes: usize,
    },
    /// 415 `UNSUPPORTED_MEDIA_TYPE` (an addition to the contract): a request body that is not declared
    /// `application/json`.
    #[error("request bodies must be application/json")]
    UnsupportedMediaType,
    /// 408 `REQUEST_TIMEOUT` (an addition to the contract): the body did not arrive in time.
    #[error("request body was not received within {seconds} seconds")]
    RequestTimeout {
        /// `server.request_timeout_seconds`.
        seconds: u64,
    },
    /// 503 `HELPER_UNAVAILABLE`: the helper cannot be reached or did not answer.
    #[error("{message}")]
    HelperUnavailable {
        /// Why.
        message: String,
    },
    /// 503 `SERVICE_UNHEALTHY`: no service manager can be queried on this host.
    #[error("{message}")]
    ServiceUnhealthy {
        /// Why.
        message: String,
    },
    /// 500 `PKG_MANAGER_ERROR`: the package manager or its database failed.
    #[error("{message}")]
    PackageManager {
        /// What failed.
        message: String,
        /// Program, exit code and stderr tail, when a command failed.
        details: Option<Value>,
    },
    /// 409 `SYSTEM_NEEDS_REPAIR`: the package database is inconsistent (an unmet dependency), so the
    /// package manager cannot plan anything until an administrator repairs it.
    #[error("{message}")]
    NeedsRepair {
        /// What is broken.
        message: String,
    },
    /// 500 `INTERNAL_ERROR`.
    #[error("{message}")]
    Internal {
        /// What failed.
        message: String,
    },
    /// 400 `INVALID_JOB_ID`: the path segment is not a UUID.
    #[error("invalid job id {}: a job id is a UUID", sanitize(.id))]
    InvalidJobId {
        /// What was sent.
        id: String,
    },
    /// 404 `JOB_NOT_FOUND`.
    #[error("job {id} not found")]
    JobNotFound {
        /// The job.
        id: String,
    },
    /// 429 `QUEUE_FULL` (retryable).
    #[error("{message}")]
    QueueFull {
        /// Why.
        message: String,
        /// `jobs.max_queue_depth`.
        depth: usize,
    },
    /// 503 `TOO_MANY_SESSIONS` (an addition to the contract, retryable, with `Retry-After`): this client
    /// certificate already holds `websocket.max_sessions_per_identity` WebSocket sessions.
    #[error("this client already holds {limit} WebSocket sessions; close one or retry later")]
    TooManySessions {
        /// `websocket.max_sessions_per_identity`.
        limit: usize,
    },
    /// 409 `JOB_NOT_CANCELLABLE`.
    #[error("{message}")]
    JobNotCancellable {
        /// Why.
        message: String,
    },
    /// 409 `REBOOT_BLOCKED`.
    #[error("{message}")]
    RebootBlocked {
        /// Why.
        message: String,
        /// Package jobs pending or running.
        active_jobs: usize,
    },
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidRequest { .. }
            | ApiError::Validation { .. }
            | ApiError::InvalidServiceName { .. }
            | ApiError::InvalidJobId { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound
            | ApiError::PackageNotFound { .. }
            | ApiError::ServiceNotFound { .. }
            | ApiError::JobNotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::QueueFull { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::JobNotCancellable { .. }
            | ApiError::RebootBlocked { .. }
            | ApiError::NeedsRepair { .. } => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::HelperUnavailable { .. }
            | ApiError::ServiceUnhealthy { .. }
            | ApiError::TooManySessions { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::PackageManager { .. } | ApiError::Internal { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidRequest { .. } => "INVALID_REQUEST",
            ApiError::Validation { .. } => "VALIDATION_ERROR",
            ApiError::InvalidServiceName { .. } => "INVALID_SERVICE_NAME",
            ApiError::NotFound => "NOT_FOUND",
            ApiError::PackageNotFound { .. } => "PKG_NOT_FOUND",
            ApiError::ServiceNotFound { .. } => "SERVICE_NOT_FOUND",
            ApiError::MethodNotAllowed { .. } => "METHOD_NOT_ALLOWED",
            ApiError::PayloadTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            ApiError::RequestTimeout { .. } => "REQUEST_TIMEOUT",
            ApiError::HeadersTooLarge { .. } => "HEADERS_TOO_LARGE",
            ApiError::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ApiError::HelperUnavailable { .. } => "HELPER_UNAVAILABLE",
            ApiError::ServiceUnhealthy { .. } => "SERVICE_UNHEALTHY",
            ApiError::PackageManager { .. } => "PKG_MANAGER_ERROR",
            ApiError::NeedsRepair { .. } => "SYSTEM_NEEDS_REPAIR",
            ApiError::Internal { .. } => "INTERNAL_ERROR",
            ApiError::InvalidJobId { .. } => "INVALID_JOB_ID",
            ApiError::JobNotFound { .. } => "JOB_NOT_FOUND",
            ApiError::QueueFull { .. } => "QUEUE_FULL",
            ApiError::JobNotCancellable { .. } => "JOB_NOT_CANCELLABLE",
            ApiError::RebootBlocked { .. } => "REBOOT_BLOCKED",
            ApiError::TooManySessions { .. } => "TOO_MANY_SESSIONS",
        }
    }

    /// Whether repeating the same request later may succeed.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            ApiError::HelperUnavailable { .. }
                | ApiError::PackageManager { .. }
                | ApiError::RequestTimeout { .. }
                | ApiError::QueueFull { .. }
                | ApiError::TooManySessions { .. }
        )
    }

    /// Seconds for the `Retry-After` header (and `details.retry_after_seconds`) of answers that ask the client
    /// to come back later: 429 and the 503s that a retry can cure.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::QueueFull { .. } => Some(QUEUE_FULL_RETRY_AFTER),
            ApiError::TooManySessions { .. } => Some(SESSIONS_RETRY_AFTER),
            ApiError::HelperUnavailable { .. } => Some(HELPER_RETRY_AFTER),
            _ => None,
        }
    }

    /// Machine-readable specifics, or `None` (serialised as `null`).
    pub fn details(&self) -> Option<Value> {
        match self {
            ApiError::InvalidRequest { details, .. }
            | ApiError::Validation { details, .. }
            | ApiError::PackageManager { details, .. } => details.clone(),
            ApiError::MethodNotAllowed { allow, .. } => Some(json!({
                "allowed_methods": allow.iter().map(Method::as_str).collect::<Vec<_>>()
            })),
            ApiError::PayloadTooLarge { limit } => Some(json!({ "max_body_bytes": limit })),
            ApiError::HeadersTooLarge {
                max_headers,
                max_bytes,
            } => Some(json!({ "max_headers": max_headers, "max_head_bytes": max_bytes })),
            ApiError::QueueFull { depth, .. } => Some(json!({
                "max_queue_depth": depth,
                "retry_after_seconds": QUEUE_FULL_RETRY_AFTER,
            })),
            ApiError::TooManySessions { limit } => Some(json!({
                "max_sessions_per_identity": limit,
                "retry_after_seconds": SESSIONS_RETRY_AFTER,
            })),
            ApiError::RebootBlocked { active_jobs, .. } => {
                Some(json!({ "active_package_jobs": active_jobs }))
            }
            _ => None,
        }
    }

    /// The value of the `Allow` header, for 405 answers.
    pub fn allow_header(&self) -> Option<String> {
        match self {
            ApiError::MethodNotAllowed { allow, .. } => Some(
                allow
                    .iter()
                    .map(Method::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            _ => None,
        }
    }

    /// 400 `INVALID_REQUEST` about one query parameter.
    pub fn bad_parameter(parameter: &str, problem: &str, allowed: Option<&[&str]>) -> Self {
        let parameter = sanitize(parameter);
        let mut message = format!("query parameter {parameter}: {problem}");
        if let Some(allowed) = allowed {
            message.push_str(&format!(" (allowed: {})", allowed.join(", ")));
        }
        ApiError::InvalidRequest {
            message,
            details: Some(json!({ "parameter": parameter, "allowed": allowed })),
        }
    }
}

impl From<HelperError> for ApiError {
    fn from(e: HelperError) -> Self {
        match e {
            HelperError::Validation { message } => ApiError::Validation {
                message: helper_text(&message),
                details: None,
            },
            HelperError::PackageNotFound { name } => ApiError::PackageNotFound { name },
            HelperError::ServiceNotFound { name } => ApiError::ServiceNotFound { name },
            HelperError::ServiceManagerUnavailable { reason } => ApiError::ServiceUnhealthy {
                message: format!(
                    "no service manager can be queried on this host: {}",
                    helper_text(&reason)
                ),
            },
            HelperError::Database { message } => ApiError::PackageManager {
                message: format!("package database unreadable: {}", helper_text(&message)),
                details: None,
            },
            HelperError::NeedsRepair { message } => ApiError::NeedsRepair {
                message: format!(
                    "the package system needs repair before updates can be computed: {}",
                    helper_text(&message)
                ),
            },
            HelperError::Exec(failure) => ApiError::PackageManager {
                message: format!(
                    "{} failed (exit code {})",
                    helper_text(&failure.program),
                    failure
                        .exit_code
                        .map_or_else(|| "none: killed".to_owned(), |c| c.to_string())
                ),
                details: Some(json!({
                    "program": helper_text(&failure.program),
                    "exit_code": failure.exit_code,
                    "stderr": helper_text(&failure.stderr),
                })),
            },
            other => ApiError::Internal {
                message: helper_text(&other.to_string()),
            },
        }
    }
}

impl From<crate::jobs::queue::SubmitError> for ApiError {
    fn from(e: crate::jobs::queue::SubmitError) -> Self {
        use crate::jobs::queue::SubmitError;
        match e {
            SubmitError::QueueFull { depth } => ApiError::QueueFull {
                message: e.to_string(),
                depth,
            },
            SubmitError::RebootBlocked { active } => ApiError::RebootBlocked {
                message: e.to_string(),
                active_jobs: active,
            },
        }
    }
}

impl From<crate::jobs::cancel::CancelError> for ApiError {
    fn from(e: crate::jobs::cancel::CancelError) -> Self {
        use crate::jobs::cancel::CancelError;
        match e {
            CancelError::NotFound(id) => ApiError::JobNotFound { id: id.to_string() },
            CancelError::NotCancellable { .. } => ApiError::JobNotCancellable {
                message: e.to_string(),
            },
        }
    }
}

impl From<HelperClientError> for ApiError {
    fn from(e: HelperClientError) -> Self {
        match e {
            HelperClientError::Helper(inner) => inner.into(),
            other => ApiError::HelperUnavailable {
                message: helper_text(&other.to_string()),
            },
        }
    }
}

/// Quotes client input safely: at most 64 characters, each outside
/// `[A-Za-z0-9._+~:@^*?=-]` written as `\u{..}`, wrapped in double quotes, `…` when cut.
pub fn sanitize(input: &str) -> String {
    let mut out = String::from("\"");
    for (i, c) in input.chars().enumerate() {
        if i == MAX_QUOTED {
            out.push('…');
            break;
        }
        if c.is_ascii_alphanumeric() || "._+~:@^*?=-".contains(c) {
            out.push(c);
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    out.push('"');
    out
}

/// Helper-provided text (reasons, stderr tails): control characters replaced, length capped.
fn helper_text(input: &str) -> String {
    let mut out: String = input
        .chars()
        .take(MAX_HELPER_TEXT)
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .collect();
    if input.chars().count() > MAX_HELPER_TEXT {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests;
