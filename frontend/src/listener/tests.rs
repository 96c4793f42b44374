//! Accept-loop behaviour over real loopback sockets: whitelist before TLS, cap, handshake timeout, HTTP.

use super::*;
use crate::config::TlsSection;
use crate::http::ApiSettings;
use crate::tls::test_pki::{Leaf, TestCa, write};
use arc_swap::ArcSwap;
use ipnet::IpNet;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

struct Harness {
    addr: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
    ca: TestCa,
    _dir: tempfile::TempDir,
}

const LIMITS: Limits = Limits {
    max_connections: 16,
    handshake_timeout: Duration::from_secs(5),
    request_timeout: Duration::from_secs(5),
    max_unauthenticated_per_source: 16,
    silent_timeout: Duration::from_secs(5),
};

async fn start(allowed: &[&str], limits: Limits) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Listener Test CA");
    let server = ca.server();
    let section = TlsSection {
        ca_cert: write(dir.path(), "ca.pem", &ca.cert_pem),
        server_cert: write(dir.path(), "server.pem", &server.cert_pem),
        server_key: write(dir.path(), "server.key", &server.key_pem),
        crl_path: None,
        crl_expired: Default::default(),
    };
    let tls = crate::tls::build_server_config(&section).unwrap();
    let state = AppState::new(ApiSettings {
        helper_socket: dir.path().join("no-helper.sock"),
        helper_timeout: Duration::from_secs(1),
        max_body_bytes: 1024,
        body_timeout: Duration::from_secs(1),
        server_cert_not_after: tls.server_cert_not_after,
        jobs: Default::default(),
        ..Default::default()
    });
    let nets: Vec<IpNet> = allowed.iter().map(|s| s.parse().unwrap()).collect();
    let ctx = Arc::new(Context {
        tls: Arc::new(ArcSwap::new(tls.config)),
        whitelist: Arc::new(Whitelist::new(nets)),
        state,
        limits,
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(serve(listener, ctx, shutdown.clone()));
    Harness {
        addr,
        shutdown,
        task,
        ca,
        _dir: dir,
    }
}

fn connector(ca: &TestCa, client: Option<&Leaf>) -> tokio_rustls::TlsConnector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.cert_pem.as_bytes()).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots);
    let cfg = match client {
        Some(leaf) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from(leaf.cert_der.clone())],
                PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

/// Reads until EOF, error or 5 s; returns whatever bytes arrived.
async fn read_all<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
    out
}

const REQUEST: &[u8] =
    b"GET /no-such-route HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

#[tokio::test]
async fn whitelisted_client_with_certificate_gets_http_response() {
    let h = start(&["127.0.0.1/32"], LIMITS).await;
    let client = h.ca.client("operator", vec![], 11);
    let tcp = TcpStream::connect(h.addr).await.unwrap();
    let mut tls = connector(&h.ca, Some(&client))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    tls.write_all(REQUEST).await.unwrap();
    let response = read_all(&mut tls).await;
    assert!(
        response.starts_with(b"HTTP/1.1 "),
        "{}",
        String::from_utf8_lossy(&response)
    );
}

#[tokio::test]
async fn non_whitelisted_peer_gets_zero_bytes() {
    let h = start(&["10.0.0.0/8", "::1/128"], LIMITS).await;
    let mut tcp = TcpStream::connect(h.addr).await.unwrap();
    let _ = tcp.write_all(REQUEST).await;
    let received = read_all(&mut tcp).await;
    assert!(received.is_empty(), "got {received:?}");
}

#[tokio::test]
async fn empty_whitelist_denies_loopback() {
    let h = start(&[], LIMITS).await;
    let client = h.ca.client("operator", vec![], 12);
    let tcp = TcpStream::connect(h.addr).await.unwrap();
    let result = connector(&h.ca, Some(&client))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await;
    assert!(result.is_err());
}

#[tokio::test]
async fn plain_http_gets_no_http_response() {
    let h = start(&["127.0.0.1/32"], LIMITS).await;
    let mut tcp = TcpStream::connect(h.addr).await.unwrap();
    tcp.write_all(REQUEST).await.unwrap();
    let received = read_all(&mut tcp).await;
    assert!(
        !received.windows(5).any(|w| w == b"HTTP/"),
        "{}",
        String::from_utf8_lossy(&received)
    );
}

#[tokio::test]
async fn client_without_certificate_gets_no_http_response() {
    let h = start(&["127.0.0.1/32"], LIMITS).await;
    let tcp = TcpStream::connect(h.addr).await.unwrap();
    // In TLS 1.3 the client finishes its side before the server has judged the certificate; the refusal shows
    // up as an alert on the first read.
    if let Ok(mut tls) = connector(&h.ca, None)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
    {
        let _ = tls.write_all(REQUEST).await;
        let received = read_all(&mut tls).await;
        assert!(
            received.is_empty(),
            "{}",
            String::from_utf8_lossy(&received)
        );
    }
}

#[tokio::test]
async fn silent_client_is_dropped_after_handshake_timeout() {
    let limits = Limits {
        handshake_timeout: Duration::from_millis(300),
        silent_timeout: Duration::from_millis(300),
        ..LIMITS
    };
    let h = start(&["127.0.0.1/32"], limits).await;
    let mut tcp = TcpStream::connect(h.addr).await.unwrap();
    let started = Instant::now();
    let received = read_all(&mut tcp).await;
    let waited = started.elapsed();
    assert!(received.is_empty(), "got {received:?}");
    assert!(
        waited >= Duration::from_millis(250),
        "closed too early: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(4),
        "not closed by the timeout: {waited:?}"
    );
}

#[tokio::test]
async fn connection_over_the_cap_is_dropped_without_bytes() {
    let limits = Limits {
        max_connections: 1,
        ..LIMITS
    };
    let h = start(&["127.0.0.1/32"], limits).await;
    // The first connection holds the only slot while it sits in the handshake.
    let _first = TcpStream::connect(h.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut second = TcpStream::connect(h.addr).await.unwrap();
    let started = Instant::now();
    let received = read_all(&mut second).await;
    assert!(received.is_empty(), "got {received:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "second connection was not dropped promptly"
    );
}

#[tokio::test]
async fn cancelling_shutdown_stops_the_accept_loop() {
    let h = start(&["127.0.0.1/32"], LIMITS).await;
    h.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), h.task)
        .await
        .expect("serve did not return after shutdown")
        .unwrap();
    assert!(TcpStream::connect(h.addr).await.is_err());
}
