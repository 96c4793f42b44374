//! hyper's automatic 431, enveloped.
//!
//! A request head hyper cannot parse within its buffer (over 64 KiB, or more header lines than its parser
//! ceiling) never reaches the service: hyper answers it itself with a bare
//! `HTTP/1.1 431 Request Header Fields Too Large` and `content-length: 0`, and closes. The API promises an
//! envelope on every error (heads between [`crate::http::MAX_HEAD_BYTES`] and 64 KiB already get one from
//! [`crate::http::check_head`]). hyper offers no hook for that answer, so this wrapper sits between hyper and
//! the TLS stream and replaces exactly that response on its way out with the enveloped 431 the service gives
//! for smaller heads (`HEADERS_TOO_LARGE`, a fresh request id, `connection: close`).
//!
//! How it is recognised: hyper writes it only before any other part of the current response (its state is
//! "nothing written"), as one buffer holding only a head, status 431, with `content-length: 0`. The service
//! itself never answers 431 without its envelope body, so a bodiless 431 head at the start of a write can
//! only be hyper's. Everything else passes through untouched.

use crate::http::{ApiError, MAX_HEAD_BYTES, MAX_HEADERS, envelope};
use futures_util::FutureExt;
use http_body_util::BodyExt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The first bytes of hyper's automatic 431.
const HYPER_431: &[u8] = b"HTTP/1.1 431 ";

/// A stream that envelopes hyper's automatic 431 (module docs).
#[derive(Debug)]
pub struct Enveloped<S> {
    inner: S,
    /// The replacement still to be written, and how much of it is, for the write that carried hyper's 431.
    replacing: Option<(Vec<u8>, usize)>,
}

impl<S> Enveloped<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Enveloped {
            inner,
            replacing: None,
        }
    }
}

/// True when `buf` is exactly one bodiless 431 response head.
pub fn is_automatic_431(buf: &[u8]) -> bool {
    if !buf.starts_with(HYPER_431) || !buf.ends_with(b"\r\n\r\n") {
        return false;
    }
    let head = &buf[..buf.len() - 4];
    if head.windows(4).any(|w| w == b"\r\n\r\n") {
        return false;
    }
    head.split(|&b| b == b'\n').any(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        line.eq_ignore_ascii_case(b"content-length: 0")
    })
}

/// The enveloped 431 as bytes on the wire, closing the connection.
pub fn enveloped_431() -> Vec<u8> {
    let err = ApiError::HeadersTooLarge {
        max_headers: MAX_HEADERS,
        max_bytes: MAX_HEAD_BYTES,
    };
    let response = envelope::failure(uuid::Uuid::new_v4(), &err);
    let (parts, body) = response.into_parts();
    // `Full` yields its one frame at once.
    let body = body
        .collect()
        .now_or_never()
        .and_then(Result::ok)
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        parts.status.as_str(),
        parts.status.canonical_reason().unwrap_or("")
    )
    .into_bytes();
    for (name, value) in &parts.headers {
        if name == hyper::header::CONTENT_LENGTH || name == hyper::header::CONNECTION {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    out.extend_from_slice(b"connection: close\r\n\r\n");
    out.extend_from_slice(&body);
    out
}

impl<S: AsyncRead + Unpin> AsyncRead for Enveloped<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Enveloped<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.replacing.is_none() && is_automatic_431(buf) {
            tracing::debug!("enveloping hyper's automatic 431");
            this.replacing = Some((enveloped_431(), 0));
        }
        let Some((replacement, done)) = &mut this.replacing else {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        };
        // hyper retries the same buffer after `Pending`; it is reported written once the replacement is.
        while *done < replacement.len() {
            let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &replacement[*done..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *done += n;
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        // One buffer at a time, so the check above sees each head whole (hyper puts a head in one slice).
        let buf = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &**b);
        self.poll_write(cx, buf)
    }

    fn is_write_vectored(&self) -> bool {
        false
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bodiless_431_head_is_recognised() {
        let hyper = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Fri, 04 Dec 2026 18:00:00 GMT\r\n\r\n";
        assert!(is_automatic_431(hyper));
        // The service's own 431 carries its envelope.
        let ours = enveloped_431();
        assert!(!is_automatic_431(&ours));
        assert!(!is_automatic_431(
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"
        ));
        assert!(!is_automatic_431(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 12\r\n\r\n"
        ));
        assert!(!is_automatic_431(
            b"HTTP/1.1 431 X\r\ncontent-length: 0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"
        ));
    }

    #[test]
    fn the_replacement_is_an_enveloped_431_that_closes() {
        let out = String::from_utf8(enveloped_431()).expect("utf-8");
        let (head, body) = out.split_once("\r\n\r\n").expect("head and body");
        assert!(
            head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            "{head}"
        );
        assert!(head.contains("connection: close"), "{head}");
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        assert!(head.contains("x-request-id: "), "{head}");
        let v: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(v["success"], false);
        assert_eq!(v["error"]["code"], "HEADERS_TOO_LARGE");
        assert_eq!(v["request_id"].as_str().map(str::len), Some(36));
    }
}
