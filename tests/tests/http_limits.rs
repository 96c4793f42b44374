//! Request limits answered honestly over real mTLS: a client that writes its whole request before reading (no
//! `Expect: 100-continue`, as Python `requests` and most HTTP libraries do) still receives the enveloped 413,
//! 431 or 408 instead of a connection reset; a non-JSON body is 415.

use lpa_testkit::harness::{Stack, StackOptions};
use lpa_tests::raw::parse_response;
use lpa_tests::stack;
use lpa_tests::ws_raw::connect;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Writes `parts` one after the other (pausing `pause` between them) and only then reads the answer, as
/// Python `requests` does. Like `requests`, it fails if the connection breaks while it is still writing: a
/// server that answers early and closes at once makes exactly that happen, and the client never sees the
/// answer.
async fn send_then_read(stack: &Stack, parts: &[Vec<u8>], pause: Duration) -> Vec<u8> {
    let mut tls = connect(stack).await.expect("TLS connection");
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(pause).await;
        }
        let written = async {
            tls.write_all(part).await?;
            tls.flush().await
        };
        if let Err(e) = written.await {
            panic!(
                "the connection broke while the request was still being written (part {i}): {e}\n{}",
                stack.logs()
            );
        }
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(15), tls.read_to_end(&mut answer)).await;
    answer
}

fn post_head(path: &str, headers: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n{headers}\r\n"
    )
    .into_bytes()
}

/// The envelope's error code of a raw response, with the status.
fn status_and_code(raw: &[u8]) -> (u16, String) {
    assert!(
        !raw.is_empty(),
        "no answer at all (connection reset or closed)"
    );
    let (status, _, body) = parse_response(raw);
    let envelope: serde_json::Value = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("not an envelope ({e}): {}", String::from_utf8_lossy(raw)));
    assert_eq!(envelope["success"], false, "{envelope}");
    (
        status,
        envelope["error"]["code"].as_str().unwrap_or("").to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_body_written_before_reading_gets_the_enveloped_413() {
    let stack = stack::plain();
    // Positive control: the same raw client with a small body is answered (a 400 for the empty object).
    let small = send_then_read(
        &stack,
        &[
            post_head(
                "/api/v1/packages",
                "Content-Length: 2\r\nConnection: close\r\n",
            ),
            b"{}".to_vec(),
        ],
        Duration::ZERO,
    )
    .await;
    assert_eq!(status_and_code(&small), (400, "INVALID_REQUEST".to_owned()));

    // 4 MiB declared and sent: four times `max_body_bytes`.
    let body = vec![b' '; 4 * 1024 * 1024];
    let declared = send_then_read(
        &stack,
        &[
            post_head(
                "/api/v1/packages",
                &format!("Content-Length: {}\r\n", body.len()),
            ),
            body.clone(),
        ],
        Duration::ZERO,
    )
    .await;
    assert_eq!(
        status_and_code(&declared),
        (413, "PAYLOAD_TOO_LARGE".to_owned()),
        "{}",
        stack.logs()
    );

    // The same body chunked: no declared length, cut off at the limit.
    let mut chunked = Vec::new();
    for piece in body.chunks(64 * 1024) {
        chunked.extend(format!("{:x}\r\n", piece.len()).into_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let streamed = send_then_read(
        &stack,
        &[
            post_head("/api/v1/packages", "Transfer-Encoding: chunked\r\n"),
            chunked,
        ],
        Duration::ZERO,
    )
    .await;
    assert_eq!(
        status_and_code(&streamed),
        (413, "PAYLOAD_TOO_LARGE".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_request_head_gets_the_enveloped_431() {
    let stack = stack::plain();
    // Positive control: a 4 KiB header is within the limit.
    let pad = "a".repeat(4 * 1024);
    let fine = send_then_read(
        &stack,
        &[format!(
            "GET /api/v1/jobs/nope HTTP/1.1\r\nHost: localhost\r\nX-Pad: {pad}\r\nConnection: close\r\n\r\n"
        )
        .into_bytes()],
        Duration::ZERO,
    )
    .await;
    assert_eq!(status_and_code(&fine), (400, "INVALID_JOB_ID".to_owned()));

    // 20 KiB in one header, followed by a body the client sends before reading.
    let pad = "a".repeat(20 * 1024);
    let big = send_then_read(
        &stack,
        &[
            post_head(
                "/api/v1/packages",
                &format!("X-Pad: {pad}\r\nContent-Length: 65536\r\n"),
            ),
            vec![b' '; 65536],
        ],
        Duration::ZERO,
    )
    .await;
    assert_eq!(
        status_and_code(&big),
        (431, "HEADERS_TOO_LARGE".to_owned()),
        "{}",
        stack.logs()
    );

    // 100 short header lines.
    let lines: String = (0..100).map(|i| format!("X-Line-{i}: x\r\n")).collect();
    let many = send_then_read(
        &stack,
        &[
            format!("GET /health HTTP/1.1\r\nHost: localhost\r\n{lines}Connection: close\r\n\r\n")
                .into_bytes(),
        ],
        Duration::ZERO,
    )
    .await;
    assert_eq!(
        status_and_code(&many),
        (431, "HEADERS_TOO_LARGE".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_arrives_too_slowly_gets_the_enveloped_408() {
    let stack = Stack::start(StackOptions {
        request_timeout_seconds: 2,
        ..StackOptions::default()
    })
    .expect("stack starts");
    let body = vec![b' '; 256 * 1024];
    // Positive control: the whole body at once, within the deadline (answered 400: blanks are not JSON).
    let quick = send_then_read(
        &stack,
        &[
            post_head(
                "/api/v1/packages",
                &format!("Content-Length: {}\r\nConnection: close\r\n", body.len()),
            ),
            body.clone(),
        ],
        Duration::ZERO,
    )
    .await;
    assert_eq!(status_and_code(&quick), (400, "INVALID_REQUEST".to_owned()));

    // A tenth now, the rest after the deadline: the client only reads once it has sent everything.
    let (first, rest) = body.split_at(body.len() / 10);
    let slow = send_then_read(
        &stack,
        &[
            post_head(
                "/api/v1/packages",
                &format!("Content-Length: {}\r\n", body.len()),
            ),
            first.to_vec(),
            rest.to_vec(),
        ],
        Duration::from_secs(3),
    )
    .await;
    assert_eq!(
        status_and_code(&slow),
        (408, "REQUEST_TIMEOUT".to_owned()),
        "{}",
        stack.logs()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_is_not_json_is_415() {
    let stack = stack::plain();
    let body = r#"{"packages":[{"name":"hello"}]}"#;
    let request = |content_type: &str| {
        format!(
            "POST /api/v1/packages HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    };
    for refused in ["application/x-www-form-urlencoded", "text/plain"] {
        let answer = send_then_read(&stack, &[request(refused)], Duration::ZERO).await;
        assert_eq!(
            status_and_code(&answer),
            (415, "UNSUPPORTED_MEDIA_TYPE".to_owned()),
            "{refused}"
        );
    }
    // Positive control: the same body declared as JSON creates a job.
    let answer = send_then_read(
        &stack,
        &[request("application/json; charset=utf-8")],
        Duration::ZERO,
    )
    .await;
    let (status, _, body) = parse_response(&answer);
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
}

/// Python `requests` (Debian `python3-requests`), a real third-party client with its defaults — no
/// `Expect: 100-continue`, the whole body written before the answer is read — over mTLS: an oversized body gets
/// the enveloped 413, not a connection error. Positive control: the same client with a small body gets the
/// handler's own answer (400 for the empty object).
#[tokio::test(flavor = "multi_thread")]
async fn python_requests_posting_an_oversized_body_gets_the_enveloped_413() {
    const PYTHON: &str = "/usr/bin/python3";
    let stack = stack::plain();
    let pki = stack.pki();
    let script = r#"
import json, sys, requests
url, ca, cert, key, size = sys.argv[1:6]
body = b"{" + b" " * (int(size) - 2) + b"}"
try:
    r = requests.post(url, data=body, headers={"Content-Type": "application/json"},
                      verify=ca, cert=(cert, key), timeout=30)
except requests.exceptions.RequestException as e:
    print("error", type(e).__name__, e)
    sys.exit(0)
envelope = r.json()
print(r.status_code, envelope["success"], envelope["error"]["code"])
"#;
    let url = format!("https://127.0.0.1:{}/api/v1/packages", stack.port());
    let run = |size: usize| {
        let out = lpa_testkit::run::command(PYTHON)
            .args(["-c", script, &url])
            .arg(&pki.ca_cert)
            .arg(&pki.client.cert)
            .arg(&pki.client.key)
            .arg(size.to_string())
            .output()
            .expect("python3 runs (CI installs python3-requests)");
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(
            out.status.success(),
            "python failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    assert_eq!(run(2), "400 False INVALID_REQUEST", "{}", stack.logs());
    // 4 MiB: four times `max_body_bytes`.
    assert_eq!(
        run(4 * 1024 * 1024),
        "413 False PAYLOAD_TOO_LARGE",
        "{}",
        stack.logs()
    );
}

/// A head beyond hyper's own 64 KiB buffer, or with more lines than its parser takes, never reaches the
/// service: hyper answers 431 itself. That answer is enveloped too (`listener::automatic`), with a request id
/// header, and the connection closes.
#[tokio::test(flavor = "multi_thread")]
async fn a_head_beyond_the_parsers_buffer_gets_the_enveloped_431() {
    let stack = stack::plain();
    // 80 KiB in one header, the client writing all of it before reading.
    let pad = "a".repeat(80 * 1024);
    let huge = send_then_read(
        &stack,
        &[format!(
            "GET /health HTTP/1.1\r\nHost: localhost\r\nX-Pad: {pad}\r\nConnection: close\r\n\r\n"
        )
        .into_bytes()],
        Duration::ZERO,
    )
    .await;
    assert_eq!(
        status_and_code(&huge),
        (431, "HEADERS_TOO_LARGE".to_owned()),
        "{}",
        stack.logs()
    );
    let (_, headers, _) = parse_response(&huge);
    let text = format!("{headers:?}").to_ascii_lowercase();
    assert!(text.contains("x-request-id"), "{text}");

    // 300 header lines: beyond the parser's line ceiling.
    let lines: String = (0..300).map(|i| format!("X-Line-{i}: x\r\n")).collect();
    let many = send_then_read(
        &stack,
        &[
            format!("GET /health HTTP/1.1\r\nHost: localhost\r\n{lines}Connection: close\r\n\r\n")
                .into_bytes(),
        ],
        Duration::ZERO,
    )
    .await;
    assert_eq!(
        status_and_code(&many),
        (431, "HEADERS_TOO_LARGE".to_owned())
    );

    // Positive control on the same stack: a normal request is answered by the service.
    let fine = send_then_read(
        &stack,
        &[b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".to_vec()],
        Duration::ZERO,
    )
    .await;
    let (status, _, _) = parse_response(&fine);
    assert_eq!(status, 200);
}
