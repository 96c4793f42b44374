//! Strict parsing of JSON request bodies, and the validation of the names and versions inside them.
//!
//! Bodies are deserialized into request structs with `deny_unknown_fields`; names and versions are read as
//! plain strings and validated afterwards, so that the two kinds of failure get their own codes:
//! malformed JSON, a wrong type or an unknown field is 400 `INVALID_REQUEST`; a value of the right type that
//! fails its grammar (an empty name, `-oAPT::…`, `1.0; rm -rf /`) is 400 `VALIDATION_ERROR`.

use crate::http::AppState;
use crate::http::error::{ApiError, sanitize};
use lpa_protocol::{Glob, PackageName, Version};
use serde::de::DeserializeOwned;
use serde_json::json;

/// Parses `body` as `T`. An empty body is `empty` when given, else an error.
pub fn parse<T: DeserializeOwned>(body: &[u8], empty: Option<T>) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return empty.ok_or_else(|| ApiError::InvalidRequest {
            message: "a JSON request body is required".into(),
            details: None,
        });
    }
    serde_json::from_slice(body).map_err(|e| {
        let kind = match e.classify() {
            serde_json::error::Category::Data => "invalid request body",
            _ => "malformed JSON",
        };
        ApiError::InvalidRequest {
            message: format!("{kind}: {e}"),
            details: Some(json!({ "line": e.line(), "column": e.column() })),
        }
    })
}

/// A package name in the union grammar and, when the helper has announced its backend, the host's own.
pub async fn package_name(
    state: &AppState,
    field: &str,
    name: &str,
) -> Result<PackageName, ApiError> {
    let invalid = |why: String| ApiError::Validation {
        message: format!("{field}: invalid package name {}: {why}", sanitize(name)),
        details: Some(json!({ "field": field })),
    };
    let parsed = PackageName::new(name).map_err(|e| invalid(e.to_string()))?;
    // The broker checks again with its own grammar; checking here too gives a 400 instead of a failed job.
    if let Ok(backend) = state.helper.backend().await {
        backend
            .check_name(&parsed)
            .map_err(|e| invalid(e.to_string()))?;
    }
    Ok(parsed)
}

/// A version.
pub fn version(field: &str, version: &str) -> Result<Version, ApiError> {
    Version::new(version).map_err(|e| ApiError::Validation {
        message: format!("{field}: invalid version {}: {e}", sanitize(version)),
        details: Some(json!({ "field": field })),
    })
}

/// An exclusion pattern.
pub fn glob(field: &str, pattern: &str) -> Result<Glob, ApiError> {
    Glob::new(pattern).map_err(|e| ApiError::Validation {
        message: format!("{field}: invalid pattern {}: {e}", sanitize(pattern)),
        details: Some(json!({ "field": field })),
    })
}

/// Refuses a list longer than `max` (a request frame to the helper is at most 64 KiB).
pub fn bounded<T>(field: &str, list: &[T], max: usize) -> Result<(), ApiError> {
    if list.len() > max {
        return Err(ApiError::Validation {
            message: format!("{field}: at most {max} entries are accepted"),
            details: Some(json!({ "field": field, "max": max })),
        });
    }
    Ok(())
}

/// A validation error about `field`.
pub fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::Validation {
        message: format!("{field}: {message}"),
        details: Some(json!({ "field": field })),
    }
}
