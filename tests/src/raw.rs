//! Raw TCP/TLS probes: a request written byte for byte (no URL normalisation), and a byte counter for
//! connections that must receive nothing at all.
//!
//! A refusal test must be able to tell "the server refused" from "the harness is broken" (a wrong address, a
//! bad client configuration): both look like silence. So the probes report each stage ([`Probe`]: TCP
//! connected, handshake completed, plaintext received, the error), and every "gets nothing" test first runs
//! the same probe where it must succeed ([`assert_served`], [`client_hello_from`] from a whitelisted
//! address).

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

fn roots(ca: &Path) -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).expect("ca file") {
        roots.add(c.expect("ca pem")).expect("ca cert");
    }
    roots
}

fn tls13_builder(
    ca: &Path,
) -> rustls::ConfigBuilder<rustls::ClientConfig, rustls::client::WantsClientCert> {
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("tls13")
        .with_root_certificates(roots(ca))
}

/// A TLS 1.3 client configuration trusting `ca` and presenting `cert`/`key`.
pub fn tls_client(ca: &Path, cert: &Path, key: &Path) -> rustls::ClientConfig {
    let chain = CertificateDer::pem_file_iter(cert)
        .expect("cert file")
        .collect::<Result<Vec<_>, _>>()
        .expect("cert pem");
    let key = PrivateKeyDer::from_pem_file(key).expect("key pem");
    tls13_builder(ca)
        .with_client_auth_cert(chain, key)
        .expect("client auth")
}

/// A TLS 1.3 client configuration trusting `ca` that presents no certificate at all.
pub fn tls_client_without_certificate(ca: &Path) -> rustls::ClientConfig {
    tls13_builder(ca).with_no_client_auth()
}

/// What a probe got to, stage by stage.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    /// The TCP connection was established.
    pub connected: bool,
    /// The TLS handshake completed (as far as the client can tell).
    pub handshake: bool,
    /// Plaintext received after the handshake.
    pub plaintext: Vec<u8>,
    /// The first error met, if any.
    pub error: Option<String>,
}

impl Probe {
    /// The HTTP status of the answer, if one came back.
    pub fn http_status(&self) -> Option<u16> {
        if !self.plaintext.starts_with(b"HTTP/") {
            return None;
        }
        Some(parse_response(&self.plaintext).0)
    }
}

/// Sends `GET /health` over TLS from `source` and reports how far it got.
pub async fn probe_health(config: rustls::ClientConfig, source: IpAddr, addr: SocketAddr) -> Probe {
    let mut probe = Probe::default();
    let tcp = match connect_from(source, addr).await {
        Ok(tcp) => tcp,
        Err(e) => {
            probe.error = Some(format!("TCP connect: {e}"));
            return probe;
        }
    };
    probe.connected = true;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = ServerName::IpAddress(addr.ip().into());
    let mut tls = match connector.connect(name, tcp).await {
        Ok(tls) => tls,
        Err(e) => {
            probe.error = Some(format!("TLS handshake: {e}"));
            return probe;
        }
    };
    probe.handshake = true;
    if let Err(e) = async {
        tls.write_all(&get_request("/health")).await?;
        tls.flush().await
    }
    .await
    {
        probe.error = Some(format!("write: {e}"));
    }
    probe.plaintext = read_all(&mut tls, Duration::from_secs(10)).await;
    probe
}

/// Positive control: `GET /health` with `config` from `source` is answered 200. Panics with every stage
/// otherwise, so a broken harness is never mistaken for a refusal.
pub async fn assert_served(config: rustls::ClientConfig, source: IpAddr, addr: SocketAddr) {
    let probe = probe_health(config, source, addr).await;
    assert_eq!(
        probe.http_status(),
        Some(200),
        "positive control failed: the probe that should be served was not: {probe:?}"
    );
}

/// Sends `GET /health` over TLS from 127.0.0.1 and returns whatever plaintext came back (nothing when the
/// connection is refused at any stage). Pair it with [`assert_served`], or use [`probe_health`] to see where
/// a refusal happened.
pub async fn health_over_tls(config: rustls::ClientConfig, addr: SocketAddr) -> Vec<u8> {
    probe_health(config, IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), addr)
        .await
        .plaintext
}

/// Connects from `source`, writes a real ClientHello made with `config`, and returns every byte that came
/// back within `limit` (a whitelisted peer gets a ServerHello; a denied one nothing). Errors only when the
/// TCP connection itself fails.
pub async fn client_hello_from(
    config: rustls::ClientConfig,
    source: IpAddr,
    addr: SocketAddr,
    limit: Duration,
) -> io::Result<Vec<u8>> {
    let mut tcp = connect_from(source, addr).await?;
    let mut conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::IpAddress(addr.ip().into()))
            .map_err(io::Error::other)?;
    let mut hello = Vec::new();
    conn.write_tls(&mut hello)?;
    tcp.write_all(&hello).await?;
    Ok(read_all(&mut tcp, limit).await)
}

/// Connects to `addr` from the local address `source` (any 127.0.0.0/8 address works on Linux loopback).
pub async fn connect_from(source: IpAddr, addr: SocketAddr) -> io::Result<TcpStream> {
    let socket = match source {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.bind(SocketAddr::new(source, 0))?;
    socket.connect(addr).await
}

/// Reads until the peer closes (or `limit` passes) and returns everything received.
pub async fn read_all(stream: &mut (impl AsyncReadExt + Unpin), limit: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(limit, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    out
}

/// Sends `request` (a complete HTTP/1.1 request, with `Connection: close`) over TLS and returns the raw
/// response bytes.
pub async fn tls_request(
    config: rustls::ClientConfig,
    source: IpAddr,
    addr: SocketAddr,
    request: &[u8],
) -> io::Result<Vec<u8>> {
    let tcp = connect_from(source, addr).await?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = ServerName::IpAddress(addr.ip().into());
    let mut tls = connector.connect(name, tcp).await?;
    tls.write_all(request).await?;
    tls.flush().await?;
    Ok(read_all(&mut tls, Duration::from_secs(10)).await)
}

/// `GET path` written verbatim (the path is not normalised, so `..` reaches the server as sent).
pub fn get_request(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").into_bytes()
}

/// Splits a raw HTTP/1.1 response into (status, lower-cased headers, body).
pub fn parse_response(raw: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let text_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8_lossy(&raw[..text_end]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[text_end + 4..].to_vec();
    if headers_say_chunked(&head) {
        body = dechunk(&body);
    }
    (status, headers, body)
}

fn headers_say_chunked(head: &str) -> bool {
    head.to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = body.windows(2).position(|w| w == b"\r\n") {
        let len =
            usize::from_str_radix(String::from_utf8_lossy(&body[..pos]).trim(), 16).unwrap_or(0);
        if len == 0 {
            break;
        }
        let start = pos + 2;
        out.extend_from_slice(&body[start..start + len]);
        body = &body[start + len + 2..];
    }
    out
}
