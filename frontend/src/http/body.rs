//! Bounded request bodies: a size limit checked while reading, and a deadline.
//!
//! hyper neither limits nor times out bodies. A declared `Content-Length` above the limit is refused before
//! reading; a chunked body is cut off by [`http_body_util::Limited`] as soon as it passes the limit, and the
//! whole read runs under `tokio::time::timeout` so a slow sender cannot hold a connection slot forever.

use super::error::ApiError;
use bytes::Bytes;
use http::HeaderMap;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Body;
use std::time::Duration;

/// Refuses a request whose declared `Content-Length` exceeds `max`.
pub fn check_declared_length(headers: &HeaderMap, max: usize) -> Result<(), ApiError> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(len) if len > max as u64 => Err(ApiError::PayloadTooLarge { limit: max }),
        _ => Ok(()),
    }
}

/// Refuses a non-empty body not declared `application/json` (415): the API only parses JSON, and a body sent
/// as a form or as text is a client mistake better named than parsed as JSON by luck.
pub fn check_media_type(
    content_type: Option<&http::HeaderValue>,
    body: &[u8],
) -> Result<(), ApiError> {
    if body.is_empty() {
        return Ok(());
    }
    let essence = content_type
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    match essence.as_deref() {
        Some("application/json") => Ok(()),
        _ => Err(ApiError::UnsupportedMediaType),
    }
}

/// Reads the whole body, at most `max` bytes, within `timeout`.
pub async fn read<B>(body: B, max: usize, timeout: Duration) -> Result<Bytes, ApiError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match tokio::time::timeout(timeout, Limited::new(body, max).collect()).await {
        Err(_) => Err(ApiError::RequestTimeout {
            seconds: timeout.as_secs(),
        }),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::PayloadTooLarge { limit: max })
        }
        Ok(Err(e)) => Err(ApiError::InvalidRequest {
            message: format!("the request body could not be read: {e}"),
            details: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{Full, StreamBody};
    use hyper::body::Frame;

    #[tokio::test]
    async fn body_within_the_limit_is_returned() {
        let body = Full::new(Bytes::from_static(b"hello"));
        let got = read(body, 5, Duration::from_secs(1)).await.unwrap();
        assert_eq!(&got[..], b"hello");
    }

    #[tokio::test]
    async fn body_over_the_limit_is_payload_too_large() {
        // A streamed body, as with chunked transfer encoding: no declared length.
        let chunks =
            (0..10).map(|_| Ok::<_, std::io::Error>(Frame::data(Bytes::from_static(&[0u8; 1024]))));
        let body = StreamBody::new(futures_util::stream::iter(chunks));
        let err = read(body, 4096, Duration::from_secs(1)).await.unwrap_err();
        assert_eq!(err.code(), "PAYLOAD_TOO_LARGE");
        assert_eq!(err.status().as_u16(), 413);
    }

    #[tokio::test]
    async fn body_that_never_ends_times_out() {
        let stream = futures_util::stream::pending::<Result<Frame<Bytes>, std::io::Error>>();
        let err = read(StreamBody::new(stream), 4096, Duration::from_millis(50))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "REQUEST_TIMEOUT");
    }

    #[test]
    fn only_json_bodies_are_accepted_and_an_empty_body_needs_no_type() {
        let json = http::HeaderValue::from_static("application/json; charset=utf-8");
        check_media_type(Some(&json), b"{}").unwrap();
        check_media_type(None, b"").unwrap();
        let form = http::HeaderValue::from_static("application/x-www-form-urlencoded");
        assert_eq!(
            check_media_type(Some(&form), b"{}").unwrap_err().code(),
            "UNSUPPORTED_MEDIA_TYPE"
        );
        assert_eq!(
            check_media_type(None, b"{}").unwrap_err().code(),
            "UNSUPPORTED_MEDIA_TYPE"
        );
    }

    #[test]
    fn declared_length_over_the_limit_is_refused_before_reading() {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_LENGTH, "4097".parse().unwrap());
        assert_eq!(
            check_declared_length(&headers, 4096).unwrap_err().code(),
            "PAYLOAD_TOO_LARGE"
        );
        headers.insert(http::header::CONTENT_LENGTH, "4096".parse().unwrap());
        check_declared_length(&headers, 4096).unwrap();
    }
}
