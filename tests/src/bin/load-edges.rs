//! Load check of the frontend's edges (issue 12; docs/benchmarks.md "Edges under abuse"): not a timed test,
//! a documented command whose figures are recorded.
//!
//! Run (as root): `cargo build --release --workspace --bins && target/release/load-edges`
//!
//! Against one real stack (release builds when run as above) it holds, at the same time:
//! - 1,000 concurrent WebSocket sessions of one certificate (opened first, answering the server's pings,
//!   checked alive at the end),
//! - one source (127.0.0.3) holding 520 bare TCP connections that send nothing (reopened when closed),
//! - 10,000 refused connections from a source outside the whitelist (127.0.0.2),
//! - one client (a session) flooding pings without ever reading,
//!
//! while a legitimate client opens a fresh mTLS connection for `GET /health` every 100 ms. It prints the
//! probes answered / failed with p50/p99/max latency, the frontend's RSS (baseline after the sessions, peak
//! during the abuse), when the ping flooder was closed, how many sessions are alive at the end, and the
//! refusal counts from `/health`.

use lpa_testkit::harness::{Stack, StackOptions};
use lpa_tests::raw::{connect_from, probe_health, tls_client};
use lpa_tests::ws_raw::{client_frame, open_session, read_frame, rss_kib};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

const SESSIONS: usize = 1000;
const SILENT: usize = 520;
const REFUSED: usize = 10_000;
/// Shortest abuse phase (it also lasts until every refused connection was sent).
const ABUSE: Duration = Duration::from_secs(30);
const LEGIT: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const OUTSIDER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const HOG: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)?;
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard)?;
    let stack = Stack::start(StackOptions {
        log_level: "info".into(),
        max_connections: 1200,
        whitelist: vec!["127.0.0.1".into(), "127.0.0.3".into(), "::1".into()],
        frontend_extra: "websocket:\n  max_sessions_per_identity: 1100\n".into(),
        ..StackOptions::default()
    })?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(&stack))
}

/// Runs a session as a well-behaved client does: answers the server's pings. When `check` fires, pings the
/// server and resolves to whether the pong came back.
fn keep_alive(
    session: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    i: usize,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<bool>,
) {
    let (check_tx, mut check_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let (mut reader, mut writer) = tokio::io::split(session);
        let payload = format!("alive-{i}").into_bytes();
        let mut checking = false;
        loop {
            tokio::select! {
                frame = read_frame(&mut reader) => match frame {
                    Ok((0x9, data)) => {
                        if writer.write_all(&client_frame(0xA, &data)).await.is_err() {
                            return false;
                        }
                    }
                    Ok((0xA, data)) if checking && data == payload => return true,
                    Ok((0x8, _)) | Err(_) => return false,
                    Ok(_) => {}
                },
                _ = &mut check_rx, if !checking => {
                    checking = true;
                    if writer.write_all(&client_frame(0x9, &payload)).await.is_err() {
                        return false;
                    }
                }
            }
        }
    });
    (check_tx, task)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn run(stack: &Stack) -> Result<(), BoxError> {
    let pid = stack.frontend_pid().ok_or("no frontend")?;
    let addr = stack.connect_addr();
    let pki = stack.pki();
    let config = tls_client(&pki.ca_cert, &pki.client.cert, &pki.client.key);
    let started = Instant::now();
    let mut sessions = Vec::with_capacity(SESSIONS);
    for i in 0..SESSIONS {
        let session = open_session(stack, &[])
            .await
            .map_err(|e| format!("session {i}: {e}"))?;
        sessions.push(keep_alive(session, i));
    }
    println!("{SESSIONS} sessions open in {:?}", started.elapsed());
    let baseline = rss_kib(pid);
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(baseline));
    let abuse_started = Instant::now();

    // RSS sampler.
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    // The legitimate prober.
    let prober = {
        let (stop, config) = (stop.clone(), config.clone());
        tokio::spawn(async move {
            let (mut latencies, mut failures) = (Vec::new(), Vec::new());
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let probe = probe_health(config.clone(), LEGIT, addr).await;
                if probe.http_status() == Some(200) {
                    latencies.push(t.elapsed());
                } else {
                    failures.push(format!("{probe:?}"));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (latencies, failures)
        })
    };
    // The silent hog: 520 connections, reopened when the frontend closes them.
    let hog = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut opened = 0u64;
            let mut held = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                // Keep the ones the frontend has not closed yet (a read would block).
                held.retain(|t: &tokio::net::TcpStream| {
                    let mut b = [0u8; 1];
                    matches!(t.try_read(&mut b), Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock)
                });
                while held.len() < SILENT {
                    match connect_from(HOG, addr).await {
                        Ok(t) => {
                            held.push(t);
                            opened += 1;
                        }
                        Err(_) => break,
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            opened
        })
    };
    // The refused flood.
    let refused = tokio::spawn(async move {
        let t = Instant::now();
        for _ in 0..REFUSED {
            if let Ok(tcp) = connect_from(OUTSIDER, addr).await {
                drop(tcp);
            }
        }
        t.elapsed()
    });
    // The ping flooder.
    let flood = {
        let mut flooder = open_session(stack, &[]).await?;
        let burst: Vec<u8> = (0..1000)
            .flat_map(|_| client_frame(0x9, &[b'x'; 125]))
            .collect();
        let stop = stop.clone();
        tokio::spawn(async move {
            let t = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                match tokio::time::timeout(Duration::from_secs(5), flooder.write_all(&burst)).await
                {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return Some(t.elapsed()),
                    Err(_) => {}
                }
            }
            None
        })
    };

    // The abuse lasts until every refused connection was sent, and at least ABUSE.
    let refused_in = refused.await?;
    tokio::time::sleep(ABUSE.saturating_sub(abuse_started.elapsed())).await;
    let abuse = abuse_started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (mut latencies, failures) = prober.await?;
    sampler.await?;
    let hog_opened = hog.await?;
    let flood_closed = flood.await?;

    // Sessions still alive: every one answers a ping.
    let mut alive = 0;
    for (check, task) in sessions {
        let _ = check.send(());
        if matches!(
            tokio::time::timeout(Duration::from_secs(10), task).await,
            Ok(Ok(true))
        ) {
            alive += 1;
        }
    }
    let health = probe_health(config, LEGIT, addr).await;
    let refusals = lpa_tests::raw::parse_response(&health.plaintext).2;
    let refusals: serde_json::Value = serde_json::from_slice(&refusals)?;

    latencies.sort();
    let peak = peak.load(Ordering::Relaxed);
    println!(
        "health probes during {abuse:?} of abuse: {} answered, {} failed; latency p50 {:?} p99 {:?} max {:?}",
        latencies.len(),
        failures.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default()
    );
    for failure in failures.iter().take(5) {
        println!("  failed probe: {failure}");
    }
    println!(
        "frontend RSS: {baseline} KiB with {SESSIONS} sessions, peak {peak} KiB during the abuse (+{} KiB)",
        peak.saturating_sub(baseline)
    );
    println!("ping flooder closed after {flood_closed:?} (None: still open at the end)");
    println!("sessions alive at the end: {alive} of {SESSIONS}");
    println!(
        "silent hog opened {hog_opened} connections; {REFUSED} refused connections sent in {refused_in:?}"
    );
    println!(
        "/health refused_connections: {}",
        refusals["data"]["refused_connections"]
    );
    Ok(())
}
