//! The JSON envelope around every response body.
//!
//! `{"success", "request_id", "timestamp", "data", "error"}` — on success `error` is `null`, on failure
//! `data` is `null` and `error` is `{"code", "message", "details", "retryable"}`. The request id is a UUID v4,
//! also sent as `X-Request-Id`; the timestamp is RFC 3339 UTC with whole seconds.

use super::error::ApiError;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use serde::Serialize;
use serde_json::json;
use serde_json::value::RawValue;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// Name of the response header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Current time as RFC 3339 UTC, whole seconds (`2026-05-27T14:00:00Z`).
pub fn now_rfc3339() -> String {
    rfc3339(OffsetDateTime::now_utc())
}

/// Formats `t` as RFC 3339 UTC, whole seconds.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    // Formatting a UTC date between years 0 and 9999 cannot fail; fall back to the Unix epoch form.
    t.format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// The success envelope. `data` arrives already serialized, so a large payload (a page of 1,000 packages)
/// is written once, straight from its typed form, instead of going through a `serde_json::Value` tree.
#[derive(Serialize)]
struct SuccessEnvelope<'a> {
    success: bool,
    request_id: Uuid,
    timestamp: String,
    data: &'a RawValue,
    error: Option<()>,
}

/// A 200 answer carrying `data`.
pub fn success(request_id: Uuid, data: &RawValue) -> Response<Full<Bytes>> {
    success_with_status(StatusCode::OK, request_id, data)
}

/// A success answer with `status` (200, or 202 for an accepted job) carrying `data`.
pub fn success_with_status(
    status: StatusCode,
    request_id: Uuid,
    data: &RawValue,
) -> Response<Full<Bytes>> {
    build(
        status,
        request_id,
        &SuccessEnvelope {
            success: true,
            request_id,
            timestamp: now_rfc3339(),
            data,
            error: None,
        },
        None,
    )
}

/// The answer for `err`: its status, its `Allow` and `Retry-After` headers if any, and the error object.
pub fn failure(request_id: Uuid, err: &ApiError) -> Response<Full<Bytes>> {
    let mut response = build(
        err.status(),
        request_id,
        &json!({
            "success": false,
            "request_id": request_id,
            "timestamp": now_rfc3339(),
            "data": null,
            "error": {
                "code": err.code(),
                "message": err.to_string(),
                "details": err.details(),
                "retryable": err.retryable(),
            },
        }),
        err.allow_header(),
    );
    if let Some(seconds) = err.retry_after() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn build(
    status: StatusCode,
    request_id: Uuid,
    body: &impl Serialize,
    allow: Option<String>,
) -> Response<Full<Bytes>> {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(id) = HeaderValue::from_str(&request_id.to_string()) {
        headers.insert(REQUEST_ID_HEADER, id);
    }
    if let Some(allow) = allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
        headers.insert(header::ALLOW, allow);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use serde_json::Value;

    async fn body_json(resp: Response<Full<Bytes>>) -> Value {
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    fn assert_timestamp(v: &Value) {
        let ts = v["timestamp"].as_str().unwrap();
        let parsed = OffsetDateTime::parse(ts, &Rfc3339).unwrap();
        assert_eq!(parsed.offset(), time::UtcOffset::UTC);
        assert!(ts.ends_with('Z'), "{ts}");
        assert_eq!(parsed.nanosecond(), 0);
    }

    #[tokio::test]
    async fn success_envelope_has_all_five_keys_and_the_request_id_header() {
        let id = Uuid::new_v4();
        let data = serde_json::value::to_raw_value(&json!({"x": 1})).unwrap();
        let resp = success(id, &data);
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()[REQUEST_ID_HEADER], id.to_string().as_str());
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/json");
        let v = body_json(resp).await;
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys.len(),
            5,
            "exactly success, request_id, timestamp, data, error: {keys:?}"
        );
        assert_eq!(v["success"], true);
        assert_eq!(v["request_id"], id.to_string());
        assert_eq!(v["data"]["x"], 1);
        assert!(v["error"].is_null());
        assert_timestamp(&v);
        assert_eq!(
            Uuid::parse_str(v["request_id"].as_str().unwrap())
                .unwrap()
                .get_version_num(),
            4
        );
    }

    #[tokio::test]
    async fn failure_envelope_carries_code_message_details_retryable_and_null_data() {
        let id = Uuid::new_v4();
        let err = ApiError::HelperUnavailable {
            message: "down".into(),
        };
        let resp = failure(id, &err);
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()[REQUEST_ID_HEADER], id.to_string().as_str());
        let v = body_json(resp).await;
        assert_eq!(v["success"], false);
        assert!(v["data"].is_null());
        assert_eq!(v["error"]["code"], "HELPER_UNAVAILABLE");
        assert_eq!(v["error"]["message"], "down");
        assert!(v["error"]["details"].is_null());
        assert_eq!(v["error"]["retryable"], true);
        assert_eq!(v["error"].as_object().unwrap().len(), 4);
        assert_timestamp(&v);
    }

    #[tokio::test]
    async fn method_not_allowed_sets_the_allow_header() {
        let err = ApiError::MethodNotAllowed {
            method: "DELETE".into(),
            allow: vec![http::Method::GET, http::Method::POST],
        };
        let resp = failure(Uuid::new_v4(), &err);
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(resp.headers()[header::ALLOW], "GET, POST");
    }
}
