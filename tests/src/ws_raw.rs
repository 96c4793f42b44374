//! A WebSocket client written byte for byte over real mTLS, for tests that must misbehave in ways a real
//! client library will not (flood pings and never read, send chosen `Origin` headers), and a reader of the
//! frontend process's memory.

use crate::raw::{connect_from, tls_client};
use lpa_testkit::harness::Stack;
use lpa_testkit::pki::CertFiles;
use rustls::pki_types::ServerName;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// The one WebSocket path of the API.
pub const WS_PATH: &str = "/api/v1/ws/jobs";

/// An upgrade request for [`WS_PATH`] with `Host` and any `extra` header lines (`"Name: value"`).
pub fn upgrade_request(host: &str, extra: &[&str]) -> Vec<u8> {
    let mut request = format!(
        "GET {WS_PATH} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    );
    for line in extra {
        request.push_str(line);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request.into_bytes()
}

/// A TLS connection of the stack's `test-operator` client from 127.0.0.1.
pub async fn connect(stack: &Stack) -> io::Result<TlsStream<TcpStream>> {
    connect_as(stack, &stack.pki().client).await
}

/// A TLS connection presenting `cert` from 127.0.0.1.
pub async fn connect_as(stack: &Stack, cert: &CertFiles) -> io::Result<TlsStream<TcpStream>> {
    let pki = stack.pki();
    let config = tls_client(&pki.ca_cert, &cert.cert, &cert.key);
    let addr = stack.connect_addr();
    let tcp = connect_from(IpAddr::V4(Ipv4Addr::LOCALHOST), addr).await?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    connector
        .connect(ServerName::IpAddress(addr.ip().into()), tcp)
        .await
}

/// Reads a response head (up to the blank line) and returns its status and the head's text. Reads byte by
/// byte so nothing after the head (the first WebSocket frames) is consumed.
pub async fn read_head(stream: &mut (impl AsyncRead + Unpin)) -> io::Result<(u16, String)> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        if stream.read(&mut byte).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "connection closed inside the response head: {:?}",
                    String::from_utf8_lossy(&head)
                ),
            ));
        }
        head.push(byte[0]);
        if head.len() > 64 * 1024 {
            return Err(io::Error::other("response head over 64 KiB"));
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("no status line in {text:?}")))?;
    Ok((status, text))
}

/// Opens a session: TLS, the upgrade request with `extra` headers, and its `101` answer.
pub async fn open_session(stack: &Stack, extra: &[&str]) -> io::Result<TlsStream<TcpStream>> {
    open_session_as(stack, &stack.pki().client, extra).await
}

/// [`open_session`] presenting `cert`.
pub async fn open_session_as(
    stack: &Stack,
    cert: &CertFiles,
    extra: &[&str],
) -> io::Result<TlsStream<TcpStream>> {
    let mut tls = connect_as(stack, cert).await?;
    let host = format!("localhost:{}", stack.port());
    tls.write_all(&upgrade_request(&host, extra)).await?;
    tls.flush().await?;
    let (status, head) = read_head(&mut tls).await?;
    if status != 101 {
        return Err(io::Error::other(format!("upgrade answered {head:?}")));
    }
    Ok(tls)
}

/// A masked client frame (`opcode` 0x1 text, 0x9 ping, 0x8 close) carrying `payload` (under 126 bytes).
pub fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126, "short frames only");
    let mask = [0x5a, 0xa5, 0x3c, 0xc3];
    let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// One frame from the server (unmasked): (opcode, payload).
pub async fn read_frame(stream: &mut (impl AsyncRead + Unpin)) -> io::Result<(u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).await?;
    let len = match head[1] & 0x7f {
        126 => u64::from(stream.read_u16().await?),
        127 => stream.read_u64().await?,
        n => u64::from(n),
    };
    if len > 16 * 1024 * 1024 {
        return Err(io::Error::other(format!("server frame of {len} bytes")));
    }
    let mut payload = vec![0u8; len as usize];
    stream.read_exact(&mut payload).await?;
    Ok((head[0] & 0x0f, payload))
}

/// Reads frames until a pong carrying `payload` arrives (other frames, e.g. earlier pongs, are skipped).
pub async fn until_pong(
    stream: &mut (impl AsyncRead + Unpin),
    payload: &[u8],
    limit: Duration,
) -> io::Result<()> {
    tokio::time::timeout(limit, async {
        loop {
            let (opcode, data) = read_frame(stream).await?;
            if opcode == 0xA && data == payload {
                return Ok(());
            }
            if opcode == 0x8 {
                return Err(io::Error::other(format!("closed by the server: {data:?}")));
            }
        }
    })
    .await
    .map_err(|_| io::Error::other("no pong in time"))?
}

/// The resident set size of process `pid` in KiB (`VmRSS` of `/proc/<pid>/status`).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line")
}
