//! Benchmark: WebSocket fan-out of one job event to 1,000 subscribers (docs/benchmarks.md; target p99 ≤ 50 ms).
//!
//! Run (as root): `cargo build --release --workspace --bins && target/release/bench-ws-fanout`
//!
//! 1,000 mTLS WebSocket clients subscribe to all jobs. Then, for each of 20 rounds, one client submits a job
//! (`POST /api/v1/packages`), whose creation publishes a `job_status` event; every subscriber records when
//! that job's first event reaches it. Reported per round and over all rounds: the delivery latency measured
//! from just before the POST (an upper bound that includes the request itself), and the fan-out spread
//! (each delivery minus the first delivery of that event).

use lpa_client::ws::ServerFrame;
use lpa_testkit::harness::{Stack, StackOptions};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Barrier, mpsc};

const SUBSCRIBERS: usize = 1000;
const ROUNDS: usize = 20;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1,000 sockets here and as many in the frontend (which inherits this limit).
    let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)?;
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard)?;
    let stack = Stack::start(StackOptions {
        log_level: "warn".into(),
        max_connections: (SUBSCRIBERS + 64) as u32,
        ..StackOptions::default()
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(&stack))
}

async fn run(stack: &Stack) -> Result<(), Box<dyn std::error::Error>> {
    let client = lpa_tests::stack::client(stack);
    let (tx, mut rx) = mpsc::unbounded_channel::<(usize, String, Instant)>();
    let ready = Arc::new(Barrier::new(SUBSCRIBERS + 1));
    for i in 0..SUBSCRIBERS {
        let mut socket = client.job_socket().await?;
        socket.subscribe_all().await?;
        let (tx, ready) = (tx.clone(), ready.clone());
        tokio::spawn(async move {
            ready.wait().await;
            let mut seen = std::collections::HashSet::new();
            while let Ok(frame) = socket.next_frame().await {
                if let ServerFrame::JobStatus(e) | ServerFrame::JobComplete(e) = frame
                    && seen.insert(e.job_id.clone())
                    && tx.send((i, e.job_id, Instant::now())).is_err()
                {
                    return;
                }
            }
        });
    }
    ready.wait().await;
    println!("{SUBSCRIBERS} subscribers connected");

    let (mut latencies, mut spreads) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let start = Instant::now();
        let resp = client
            .request(
                reqwest::Method::POST,
                "/api/v1/packages",
                &[],
                Some(&serde_json::json!({"packages": [{"name": "hello"}]})),
            )
            .await?;
        let job_id = resp.data()["job_id"]
            .as_str()
            .ok_or("no job id")?
            .to_owned();
        let mut arrivals = Vec::with_capacity(SUBSCRIBERS);
        while arrivals.len() < SUBSCRIBERS {
            let (_, id, at) = tokio::time::timeout(Duration::from_secs(30), rx.recv())
                .await?
                .ok_or("subscribers gone")?;
            if id == job_id {
                arrivals.push(at);
            }
        }
        arrivals.sort();
        let first = arrivals[0];
        let round_lat: Vec<Duration> = arrivals.iter().map(|a| *a - start).collect();
        println!(
            "round {round:2}: p50 {:.1} ms, p99 {:.1} ms, spread p99 {:.1} ms",
            ms(pct(&round_lat, 0.5)),
            ms(pct(&round_lat, 0.99)),
            ms(arrivals[(SUBSCRIBERS * 99) / 100 - 1] - first)
        );
        latencies.extend(round_lat);
        spreads.extend(arrivals.iter().map(|a| *a - first));
        // Let the job finish so every round starts from an idle service.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    latencies.sort();
    spreads.sort();
    println!(
        "all rounds ({} deliveries): latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; fan-out spread p50 {:.1} ms, p99 {:.1} ms",
        latencies.len(),
        ms(pct(&latencies, 0.5)),
        ms(pct(&latencies, 0.99)),
        ms(pct(&latencies, 1.0)),
        ms(pct(&spreads, 0.5)),
        ms(pct(&spreads, 0.99)),
    );
    Ok(())
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let mut v = sorted.to_vec();
    v.sort();
    v[((v.len() as f64 - 1.0) * p) as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
