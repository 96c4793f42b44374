//! The mTLS rejection matrix and the whitelist: every refused peer gets no HTTP response, and a peer outside
//! the whitelist gets zero bytes even with a valid certificate (DESIGN invariant 6).

use lpa_tests::{raw, stack};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

#[tokio::test(flavor = "multi_thread")]
async fn valid_client_gets_an_answer() {
    let stack = stack::plain();
    let resp = stack::client(&stack).health().await.expect("answer");
    assert_eq!(resp.status, 200, "{}", stack.logs());
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_certificates_get_no_http_response() {
    let stack = stack::plain();
    let pki = stack.pki();
    let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
    // Positive control: the same raw probe with the valid certificate is answered.
    raw::assert_served(
        raw::tls_client(&pki.ca_cert, &pki.client.cert, &pki.client.key),
        local,
        stack.connect_addr(),
    )
    .await;
    for (what, cert) in [
        ("foreign CA", &pki.foreign_client),
        ("expired", &pki.expired_client),
        ("revoked", &pki.revoked_client),
    ] {
        let result = stack::client_with(&stack, cert).health().await;
        assert!(
            result.is_err(),
            "{what}: got an HTTP answer: {:?}",
            result.map(|r| r.status)
        );
        // The same over a raw TLS connection: not a single byte of HTTP comes back.
        let cfg = raw::tls_client(&pki.ca_cert, &cert.cert, &cert.key);
        let probe = raw::probe_health(cfg, local, stack.connect_addr()).await;
        // Refused by the server's TLS, not lost before it: the TCP connection was made.
        assert!(probe.connected, "{what}: {probe:?}");
        assert!(
            probe.plaintext.is_empty(),
            "{what}: received {} bytes of plaintext",
            probe.plaintext.len()
        );
    }
    // Still serving the valid client afterwards.
    assert_eq!(
        stack::client(&stack).health().await.expect("answer").status,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn client_without_certificate_gets_no_http_response() {
    let stack = stack::plain();
    let pki = stack.pki();
    let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
    // Positive control: the same probe presenting the valid certificate is answered.
    raw::assert_served(
        raw::tls_client(&pki.ca_cert, &pki.client.cert, &pki.client.key),
        local,
        stack.connect_addr(),
    )
    .await;
    let cfg = raw::tls_client_without_certificate(&pki.ca_cert);
    let probe = raw::probe_health(cfg, local, stack.connect_addr()).await;
    assert!(probe.connected, "{probe:?}");
    assert!(
        probe.plaintext.is_empty(),
        "received {} bytes of plaintext",
        probe.plaintext.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tls12_and_plain_http_get_no_http_response() {
    let stack = stack::plain();
    let pki = stack.pki();
    // A real, independent TLS 1.2 client: curl with OpenSSL.
    // Test code starting a process: the disallowed-methods lint guards product code, not tests.
    #[allow(clippy::disallowed_methods)]
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "--tls-max",
            "1.2",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ])
        .arg("--cacert")
        .arg(&pki.ca_cert)
        .arg("--cert")
        .arg(&pki.client.cert)
        .arg("--key")
        .arg(&pki.client.key)
        .arg(format!("{}/health", stack.base_url()))
        .output()
        .expect("curl runs (apt-get install curl)");
    assert!(!out.status.success(), "TLS 1.2 was accepted");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "000",
        "an HTTP status came back"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("protocol version"),
        "expected a protocol_version alert: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Positive control: the same port answers over TLS (so silence below is a refusal, not a dead port).
    raw::assert_served(
        raw::tls_client(&pki.ca_cert, &pki.client.cert, &pki.client.key),
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        stack.connect_addr(),
    )
    .await;
    let mut tcp = tokio::net::TcpStream::connect(stack.connect_addr())
        .await
        .expect("connect");
    tcp.write_all(&raw::get_request("/health"))
        .await
        .expect("write");
    let bytes = raw::read_all(&mut tcp, Duration::from_secs(15)).await;
    assert!(
        !bytes.starts_with(b"HTTP/"),
        "plain HTTP got an HTTP response"
    );
    assert!(
        !String::from_utf8_lossy(&bytes).contains("HTTP/1"),
        "plain HTTP got an HTTP response"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn peer_outside_the_whitelist_receives_zero_bytes_even_with_a_valid_certificate() {
    let stack = stack::plain();
    let pki = stack.pki();
    let cfg = || raw::tls_client(&pki.ca_cert, &pki.client.cert, &pki.client.key);
    // Positive control: the same ClientHello from a whitelisted address gets the server's answer.
    let answered = raw::client_hello_from(
        cfg(),
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        stack.connect_addr(),
        Duration::from_secs(2),
    )
    .await
    .expect("TCP connects");
    assert!(
        !answered.is_empty(),
        "a whitelisted ClientHello got nothing"
    );
    // 127.0.0.2 is a local address but not whitelisted (the whitelist is 127.0.0.1 and ::1).
    let outsider = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    // A real ClientHello with a valid client identity; count what comes back.
    let bytes = raw::client_hello_from(
        cfg(),
        outsider,
        stack.connect_addr(),
        Duration::from_secs(5),
    )
    .await
    .expect("TCP connects");
    assert!(
        bytes.is_empty(),
        "a non-whitelisted peer received {} bytes",
        bytes.len()
    );
    // A whitelisted client is still served, and the denial was logged with the peer address.
    assert_eq!(
        stack::client(&stack).health().await.expect("answer").status,
        200
    );
    assert!(
        stack.logs().contains("127.0.0.2"),
        "denial not logged:\n{}",
        stack.logs()
    );
}

#[test]
fn frontend_refuses_to_run_as_root() {
    let stack = stack::plain();
    #[allow(clippy::disallowed_methods)]
    let out = std::process::Command::new(
        lpa_testkit::paths::binary_path("linux-patch-api").expect("binary"),
    )
    .arg("--config")
    .arg(stack.frontend_config_path())
    .output()
    .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("root"), "{stderr}");
}
