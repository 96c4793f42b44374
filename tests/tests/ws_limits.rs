//! The WebSocket's per-session limits, end to end over real mTLS against the real frontend process: a peer
//! that floods pings and never reads is closed and costs the frontend no more than a few MiB, while a peer
//! that reads its pongs keeps its session.

use lpa_tests::stack;
use lpa_tests::ws_raw::{client_frame, open_session, rss_kib, until_pong};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// How much the frontend's resident set may grow while one peer floods pings (issue 12 measured 1.58 GB in
/// 10 s before the write buffer was bounded).
const RSS_GROWTH_LIMIT_KIB: u64 = 8 * 1024;
/// How long the flooding session may live (the server's own ping/pong check would need two 30 s intervals).
const CLOSE_LIMIT: Duration = Duration::from_secs(25);
const PING: u8 = 0x9;

#[tokio::test(flavor = "multi_thread")]
async fn a_ping_flood_from_a_peer_that_never_reads_is_closed_with_bounded_memory() {
    let stack = stack::plain();
    let pid = stack.frontend_pid().expect("the frontend runs");

    // Positive control, opened first and checked last: a session that reads its pongs.
    let mut control = open_session(&stack, &[])
        .await
        .expect("control session opens");
    control
        .write_all(&client_frame(PING, b"warm-up"))
        .await
        .unwrap();
    until_pong(&mut control, b"warm-up", Duration::from_secs(5))
        .await
        .expect("the control session answers");

    let before = rss_kib(pid);
    let mut flooder = open_session(&stack, &[])
        .await
        .expect("flood session opens");
    // 1,000 pings with the largest control payload (125 bytes) per write; the flooder never reads again.
    let burst: Vec<u8> = (0..1000)
        .flat_map(|_| client_frame(PING, &[b'x'; 125]))
        .collect();
    let started = Instant::now();
    let flood = tokio::spawn(async move {
        let mut sent: u64 = 0;
        loop {
            match tokio::time::timeout(Duration::from_secs(5), flooder.write_all(&burst)).await {
                Ok(Ok(())) => sent += 1000,
                // The server closed the connection (reset or broken pipe): the session ended.
                Ok(Err(e)) => return (sent, Some(e)),
                // The server stopped reading but kept the socket: only the deadline below ends it.
                Err(_) => {}
            }
            if started.elapsed() > CLOSE_LIMIT {
                return (sent, None);
            }
        }
    });

    // Meanwhile the control session keeps pinging in bursts and reads its pongs.
    let mut peak = before;
    let mut round = 0u32;
    while !flood.is_finished() {
        round += 1;
        let last = format!("burst-{round}");
        let mut burst = Vec::new();
        for i in 0..50 {
            burst.extend(client_frame(PING, format!("{round}-{i}").as_bytes()));
        }
        burst.extend(client_frame(PING, last.as_bytes()));
        control.write_all(&burst).await.unwrap();
        until_pong(&mut control, last.as_bytes(), Duration::from_secs(10))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "control session lost during the flood: {e}\n{}",
                    stack.logs()
                )
            });
        peak = peak.max(rss_kib(pid));
        assert!(
            peak - before <= RSS_GROWTH_LIMIT_KIB,
            "the frontend grew by {} KiB during the flood (limit {RSS_GROWTH_LIMIT_KIB} KiB)",
            peak - before
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (sent, ended) = flood.await.unwrap();
    let lived = started.elapsed();
    assert!(
        ended.is_some(),
        "the flooding session was still open after {lived:?} ({sent} pings sent)\n{}",
        stack.logs()
    );
    assert!(
        peak - before <= RSS_GROWTH_LIMIT_KIB,
        "the frontend grew by {} KiB during the flood",
        peak - before
    );
    eprintln!(
        "flood of {sent} pings closed after {lived:?}: {:?}; RSS {before} KiB -> peak {peak} KiB",
        ended
    );

    // The control session survived the whole flood and still answers.
    control
        .write_all(&client_frame(PING, b"alive"))
        .await
        .unwrap();
    until_pong(&mut control, b"alive", Duration::from_secs(5))
        .await
        .expect("the control session keeps its session");
    assert!(
        stack.logs().contains("client too slow"),
        "the frontend did not log the flooding session as too slow\n{}",
        stack.logs()
    );
}

/// The status and (for refusals) the envelope's error code of an upgrade carrying `extra` headers.
async fn upgrade_status(
    stack: &lpa_testkit::harness::Stack,
    host: &str,
    extra: &[&str],
) -> (u16, String) {
    use lpa_tests::ws_raw::{connect, read_head, upgrade_request};
    use tokio::io::AsyncReadExt;
    let mut tls = connect(stack).await.expect("TLS connection");
    tls.write_all(&upgrade_request(host, extra)).await.unwrap();
    tls.flush().await.unwrap();
    let (status, head) = read_head(&mut tls).await.expect("an answer");
    if status == 101 {
        return (status, String::new());
    }
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_owned())
        })
        .and_then(|v| v.parse().ok())
        .expect("content-length");
    let mut body = vec![0u8; length];
    tls.read_exact(&mut body).await.unwrap();
    let envelope: serde_json::Value = serde_json::from_slice(&body).expect("an envelope");
    (
        status,
        envelope["error"]["code"].as_str().unwrap_or("").to_owned(),
    )
}

fn stack_with_console_origin() -> lpa_testkit::harness::Stack {
    lpa_testkit::harness::Stack::start(lpa_testkit::harness::StackOptions {
        frontend_extra: "websocket:\n  allowed_origins: [\"https://console.example\"]\n".to_owned(),
        ..Default::default()
    })
    .expect("stack starts")
}

#[tokio::test(flavor = "multi_thread")]
async fn websocket_upgrades_from_the_own_or_a_configured_origin_are_accepted_others_refused() {
    let stack = stack_with_console_origin();
    let host = format!("127.0.0.1:{}", stack.port());
    let own_https = format!("Origin: https://{host}");
    let own_http = format!("Origin: http://{host}");
    let other_port = format!("Origin: https://127.0.0.1:{}", stack.port() + 1);
    // Positive controls: no Origin (operator tooling), the service's own origin, a configured one.
    for extra in [
        vec![],
        vec![own_https.as_str()],
        vec![own_http.as_str()],
        vec!["Origin: https://Console.example:443"],
    ] {
        assert_eq!(
            upgrade_status(&stack, &host, &extra).await,
            (101, String::new()),
            "{extra:?}\n{}",
            stack.logs()
        );
    }
    for refused in [
        "Origin: https://evil.example",
        other_port.as_str(),
        "Origin: https://console.example:8443",
        "Origin: null",
    ] {
        assert_eq!(
            upgrade_status(&stack, &host, &[refused]).await,
            (403, "ORIGIN_NOT_ALLOWED".to_owned()),
            "{refused}"
        );
    }
}

/// Python's websocket-client (Debian `python3-websocket`), a real third-party client, with its default
/// `Origin`: it subscribes and gets its pong; the same client with a foreign origin is refused with 403.
#[tokio::test(flavor = "multi_thread")]
async fn python_websocket_client_with_its_default_origin_is_served() {
    const PYTHON: &str = "/usr/bin/python3";
    let stack = stack_with_console_origin();
    let pki = stack.pki();
    let script = r#"
import json, ssl, sys, websocket
url, ca, cert, key, origin = sys.argv[1:6]
sslopt = {"ca_certs": ca, "certfile": cert, "keyfile": key, "cert_reqs": ssl.CERT_REQUIRED}
options = {} if origin == "-" else {"origin": origin}
try:
    ws = websocket.create_connection(url, sslopt=sslopt, timeout=10, **options)
except websocket.WebSocketBadStatusException as e:
    print("refused", e.status_code)
    sys.exit(0)
ws.send(json.dumps({"type": "subscribe_all"}))
subscribed = json.loads(ws.recv())
ws.send(json.dumps({"type": "ping"}))
pong = json.loads(ws.recv())
print("served", subscribed["event"], pong["event"])
ws.close()
"#;
    let url = format!("wss://127.0.0.1:{}/api/v1/ws/jobs", stack.port());
    let run = |origin: &str| {
        let out = lpa_testkit::run::command(PYTHON)
            .args(["-c", script, &url])
            .arg(&pki.ca_cert)
            .arg(&pki.client.cert)
            .arg(&pki.client.key)
            .arg(origin)
            .output()
            .expect("python3 runs (CI installs python3-websocket)");
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(
            out.status.success(),
            "python failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    assert_eq!(run("-"), "served subscribed pong", "{}", stack.logs());
    assert_eq!(run("https://evil.example"), "refused 403");
}
