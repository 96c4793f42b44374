//! Benchmark: a patch apply through the API against running the same `apt-get update && apt-get
//! dist-upgrade` directly on the same fixture (docs/benchmarks.md; target ≤ 1.1×).
//!
//! Run (as root): `cargo build --release --workspace --bins && target/release/bench-patch-apply`
//!
//! Each round builds two identical sandboxes (v1 installed: demo-lib, demo-app, demo-tool; v2 published, so
//! three updates are pending, one from the security suite). One is patched through the real stack
//! (`POST /api/v1/patches/apply`, which refreshes the package index first, then upgrades; timed from the
//! request until the job's `job_complete` arrives on the job WebSocket), the other directly with
//! `apt-get update && apt-get -y dist-upgrade` under the same `APT_CONFIG`. The rounds alternate which one
//! runs first. Before the clock starts, the API client lists the pending patches (`GET /api/v1/patches`) on
//! the kept-alive connection it then applies them with, as an operator's tool does; this also waits out the
//! service's start-up read of the pending updates. `BENCH_LOGS=1` (or `BENCH_LOGS=debug`) prints both processes'
//! logs of every API round.

use lpa_testkit::fixtures::apt::Snapshot;
use lpa_testkit::harness::{Stack, StackOptions};
use lpa_testkit::sandbox::AptSandbox;
use lpa_tests::jobs::submit;
use std::time::{Duration, Instant};

const ROUNDS: usize = 30;
const PREINSTALLED: [&str; 3] = ["demo-lib", "demo-app", "demo-tool"];
/// The options the helper's launcher gives every package-changing apt run (`privhelper/src/launcher/table/
/// change.rs`), with the status lines going to standard error instead of a pipe: the third series shows what
/// apt itself costs more with them.
const HELPER_OPTIONS: [&str; 12] = [
    "-q",
    "-o",
    "APT::Status-Fd=2",
    "-o",
    "Dpkg::Use-Pty=0",
    "-o",
    "DPkg::Lock::Timeout=60",
    "-o",
    "Dpkg::Options::=--force-confdef",
    "-o",
    "Dpkg::Options::=--force-confold",
    "--no-remove",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;

    // `BENCH_LOGS=1` (or a level: `BENCH_LOGS=debug`): both processes' logs, at level info unless given,
    // printed after every API round.
    let logs = std::env::var("BENCH_LOGS").ok();
    let show_logs = logs.is_some();
    let log_level = match logs.as_deref() {
        None => "warn",
        Some("1" | "") => "info",
        Some(level) => level,
    }
    .to_owned();
    let mut api = Vec::new();
    let mut direct = Vec::new();
    let mut optioned = Vec::new();
    for round in 0..ROUNDS {
        let run_api = || -> Result<Duration, Box<dyn std::error::Error>> {
            let mut stack = Stack::start(StackOptions {
                log_level: log_level.clone(),
                preinstall: PREINSTALLED.iter().map(|s| (*s).to_owned()).collect(),
                ..StackOptions::default()
            })?;
            stack.sandbox_mut().publish(Snapshot::V2)?;
            let client = lpa_tests::stack::client(&stack);
            let took = runtime.block_on(async {
                // The operator's tool lists the pending patches, then applies them, over one kept mTLS
                // connection (the handshake is not patching). The listing also means the service is past its
                // start-up read of the pending updates, which a service that has been running for a while
                // is. Not `/health`: on a never-refreshed cache it starts a background refresh the apply
                // would queue behind.
                client.get("/api/v1/patches").await?;
                // Completion is observed on the job WebSocket (subscribed before the clock starts), not by
                // polling, so the measurement adds no polling delay.
                let mut socket = client.job_socket().await?;
                socket.subscribe_all().await?;
                let start = Instant::now();
                let id = submit(
                    &client,
                    reqwest::Method::POST,
                    "/api/v1/patches/apply",
                    Some(serde_json::json!({"patches": [], "options": {}})),
                )
                .await;
                let job = loop {
                    if let lpa_client::ws::ServerFrame::JobComplete(e) = socket.next_frame().await?
                        && e.job_id == id
                    {
                        break e;
                    }
                };
                let took = start.elapsed();
                assert_eq!(job.status, "completed", "{job:?}");
                Ok::<_, Box<dyn std::error::Error>>(took)
            });
            if show_logs {
                println!("{}", stack.logs());
                if let Ok(t) = &took {
                    println!("ROUND {round} took {:.1}", t.as_secs_f64() * 1e3);
                }
            }
            took
        };
        let run_direct = |options: &[&str]| -> Result<Duration, Box<dyn std::error::Error>> {
            let dir = tempfile::tempdir()?;
            let mut sandbox =
                AptSandbox::create(&dir.path().join("sandbox"), Snapshot::V1, &PREINSTALLED)?;
            sandbox.publish(Snapshot::V2)?;
            let start = Instant::now();
            sandbox.apt_get_checked(&[options, &["update"]].concat())?;
            let mid = start.elapsed();
            sandbox.apt_get_checked(&[options, &["-y", "dist-upgrade"]].concat())?;
            if show_logs {
                println!(
                    "DIRECT{} update {:.1} upgrade {:.1}",
                    if options.is_empty() { "" } else { "+OPTIONS" },
                    mid.as_secs_f64() * 1e3,
                    (start.elapsed() - mid).as_secs_f64() * 1e3
                );
            }
            Ok(start.elapsed())
        };
        if round % 2 == 0 {
            api.push(run_api()?);
            direct.push(run_direct(&[])?);
            optioned.push(run_direct(&HELPER_OPTIONS)?);
        } else {
            optioned.push(run_direct(&HELPER_OPTIONS)?);
            direct.push(run_direct(&[])?);
            api.push(run_api()?);
        }
    }
    // Each round's API run and direct runs are adjacent in time: their ratio cancels the machine's drift
    // between rounds (disk and cache state), which the ratio of the two medians does not.
    let mut paired: Vec<f64> = api
        .iter()
        .zip(&direct)
        .map(|(a, d)| a.as_secs_f64() / d.as_secs_f64())
        .collect();
    paired.sort_by(f64::total_cmp);
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (a, d, o) = (median(&mut api), median(&mut direct), median(&mut optioned));
    let spread = |v: &[Duration]| {
        format!(
            "min {:.1} / p25 {:.1} / p75 {:.1} / max {:.1} ms",
            v[0].as_secs_f64() * 1e3,
            v[v.len() / 4].as_secs_f64() * 1e3,
            v[v.len() * 3 / 4].as_secs_f64() * 1e3,
            v[v.len() - 1].as_secs_f64() * 1e3
        )
    };
    println!("through the API: {}", spread(&api));
    println!("direct apt:      {}", spread(&direct));
    println!("direct, helper's apt options: {}", spread(&optioned));
    println!(
        "patch apply, {ROUNDS} rounds, medians: through the API {:.1} ms, apt-get update && dist-upgrade {:.1} ms, ratio {:.2}",
        a.as_secs_f64() * 1e3,
        d.as_secs_f64() * 1e3,
        a.as_secs_f64() / d.as_secs_f64()
    );
    println!(
        "per-round ratio (API / plain apt of the same round): median {:.2}, p25 {:.2}, p75 {:.2}",
        paired[paired.len() / 2],
        paired[paired.len() / 4],
        paired[paired.len() * 3 / 4]
    );
    println!(
        "direct with the helper's apt options: median {:.1} ms, {:.2}× plain apt; the API is {:.2}× it",
        o.as_secs_f64() * 1e3,
        o.as_secs_f64() / d.as_secs_f64(),
        a.as_secs_f64() / o.as_secs_f64()
    );
    Ok(())
}
