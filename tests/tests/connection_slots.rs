//! Fair connection slots over real mTLS: upgraded WebSocket sessions keep counting against
//! `server.max_connections`, one certificate cannot hold more than `websocket.max_sessions_per_identity`
//! sessions, and one source holding silent connections cannot starve another client.

use lpa_testkit::harness::{Stack, StackOptions};
use lpa_tests::raw::{connect_from, health_over_tls, parse_response, read_all, tls_client};
use lpa_tests::ws_raw::{connect, open_session, open_session_as, read_head, upgrade_request};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Whether `GET /health` over a fresh connection from 127.0.0.1 is answered 200.
async fn health_answered(stack: &Stack) -> bool {
    let pki = stack.pki();
    let raw = health_over_tls(
        tls_client(&pki.ca_cert, &pki.client.cert, &pki.client.key),
        stack.connect_addr(),
    )
    .await;
    !raw.is_empty() && parse_response(&raw).0 == 200
}

#[tokio::test(flavor = "multi_thread")]
async fn websocket_sessions_keep_their_connection_slot() {
    let stack = Stack::start(StackOptions {
        max_connections: 6,
        ..StackOptions::default()
    })
    .expect("stack starts");
    // Positive control: the probe is answered while slots are free.
    assert!(health_answered(&stack).await, "{}", stack.logs());
    let mut sessions = Vec::new();
    for i in 0..6 {
        sessions.push(
            open_session(&stack, &[])
                .await
                .unwrap_or_else(|e| panic!("session {i}: {e}\n{}", stack.logs())),
        );
    }
    // Every slot is held by a session: a new connection is closed without a byte.
    assert!(
        !health_answered(&stack).await,
        "a seventh connection was served with max_connections 6 and six open sessions"
    );
    // Closing one session frees its slot.
    drop(sessions.pop());
    let freed = Instant::now();
    while !health_answered(&stack).await {
        assert!(
            freed.elapsed() < Duration::from_secs(10),
            "the closed session's slot was not freed\n{}",
            stack.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_over_the_per_identity_cap_get_an_enveloped_503_with_retry_after() {
    let stack = Stack::start(StackOptions {
        frontend_extra: "websocket:\n  max_sessions_per_identity: 2\n".to_owned(),
        ..StackOptions::default()
    })
    .expect("stack starts");
    let _first = open_session(&stack, &[]).await.expect("first session");
    let _second = open_session(&stack, &[]).await.expect("second session");

    let mut tls = connect(&stack).await.expect("TLS");
    let host = format!("127.0.0.1:{}", stack.port());
    tls.write_all(&upgrade_request(&host, &["Connection: close"]))
        .await
        .unwrap();
    let (status, head) = read_head(&mut tls).await.expect("an answer");
    assert_eq!(status, 503, "{head}");
    assert!(
        head.to_ascii_lowercase().contains("\r\nretry-after: "),
        "no Retry-After: {head}"
    );
    let mut body = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut body)).await;
    let envelope: serde_json::Value = serde_json::from_slice(&body).expect("an envelope");
    assert_eq!(envelope["error"]["code"], "TOO_MANY_SESSIONS");
    assert_eq!(envelope["error"]["retryable"], true);

    // Positive control: another certificate still gets a session.
    open_session_as(&stack, &stack.pki().client2, &[])
        .await
        .expect("another identity is not affected");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_source_holding_silent_connections_cannot_starve_another() {
    let stack = Stack::start(StackOptions {
        max_connections: 40,
        whitelist: vec!["127.0.0.0/8".to_owned()],
        ..StackOptions::default()
    })
    .expect("stack starts");
    // Positive control: the legitimate client is answered before the flood.
    assert!(health_answered(&stack).await, "{}", stack.logs());
    // A second loopback address opens as many bare TCP connections as there are slots and sends nothing.
    let hog = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let mut silent = Vec::new();
    for _ in 0..40 {
        silent.push(
            connect_from(hog, stack.connect_addr())
                .await
                .expect("TCP connect"),
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut answered = 0;
    for _ in 0..10 {
        if health_answered(&stack).await {
            answered += 1;
        }
    }
    assert_eq!(
        answered,
        10,
        "the legitimate client was refused while one source held silent connections\n{}",
        stack.logs()
    );
    // The hog's silent connections are closed (beyond its per-source share at once, the rest after the
    // silent timeout), each without a byte.
    let started = Instant::now();
    for mut tcp in silent {
        let received = read_all(&mut tcp, Duration::from_secs(10)).await;
        assert!(
            received.is_empty(),
            "a silent connection received {received:?}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "silent connections were held for {:?}",
        started.elapsed()
    );
}
