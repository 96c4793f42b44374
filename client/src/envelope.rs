//! The response envelope every API answer carries (API.md "Envelope").

use serde::Deserialize;

/// `{"success", "request_id", "timestamp", "data", "error"}`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Envelope {
    /// True for 2xx answers.
    pub success: bool,
    /// The request's id (also in `X-Request-Id`).
    pub request_id: String,
    /// RFC 3339 UTC.
    pub timestamp: String,
    /// The payload (null on errors).
    pub data: serde_json::Value,
    /// The error (null on success).
    pub error: Option<ErrorBody>,
}

/// `error` of a failed request.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ErrorBody {
    /// Stable code such as `PKG_NOT_FOUND`.
    pub code: String,
    /// Human-readable text.
    pub message: String,
    /// Extra structured information.
    #[serde(default)]
    pub details: serde_json::Value,
    /// Whether retrying may succeed.
    pub retryable: bool,
}
