//! Benchmark: WebSocket fan-out of one job event to 1,000 subscribers (docs/benchmarks.md; target p99 ≤ 50 ms).
//!
//! Run (as root): `cargo build --release --workspace --bins && target/release/bench-ws-fanout`
//!
//! The 1,000 mTLS WebSocket subscribers run in separate client processes (this binary re-executed with
//! `--clients`; 4 processes of 250 by default, `BENCH_CLIENT_PROCS` to change), so that the measuring process
//! and the server do not share a runtime with the receiving clients. Every subscriber subscribes to all jobs.
//! Then, for each of 20 rounds, the measuring process submits a job (`POST /api/v1/packages`), whose creation
//! publishes a `job_status` event; every subscriber records two wall-clock times for that job's first event:
//! when the kernel received the segment carrying it (`SO_TIMESTAMPNS`, see [`arrival`]: the server's part) and
//! when the client had decoded it. Each client process (one thread) reports its arrivals in one line once all
//! of its subscribers have the event. Reported per round and over all rounds: the delivery latency from just
//! before the POST (an upper bound that includes the request itself), the fan-out spread (each delivery minus
//! the first delivery of that event), and the latency to decoding. The wall clock (`CLOCK_REALTIME`) is the one clock the processes share; a round
//! lasts milliseconds, far too short for clock adjustments to matter.

mod arrival;

use arrival::StampedTcp;
use lpa_client::ws::ServerFrame;
use lpa_client::{ApiClient, Credentials};
use lpa_testkit::harness::{Stack, StackOptions};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

const SUBSCRIBERS: usize = 1000;
const ROUNDS: usize = 20;
const DEFAULT_PROCESSES: usize = 4;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    // Enough sockets here, in the client processes and in the frontend (which inherit this limit).
    let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)?;
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard)?;
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--clients") {
        // One thread per client process: the clients stand in for remote subscribers, and every extra
        // runnable thread of theirs takes a scheduler share from the server being measured.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        return runtime.block_on(clients(&args[2..]));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let stack = Stack::start(StackOptions {
        log_level: "warn".into(),
        max_connections: (SUBSCRIBERS + 64) as u32,
        // Every subscriber is the same certificate from the same address, connecting at once.
        server_extra: vec![format!(
            "max_unauthenticated_per_source: {}",
            SUBSCRIBERS + 64
        )],
        frontend_extra: format!(
            "websocket:\n  max_sessions_per_identity: {}\n",
            SUBSCRIBERS + 64
        ),
        ..StackOptions::default()
    })?;
    runtime.block_on(measure(&stack))
}

/// Nanoseconds since the epoch: the clock every process shares.
fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

/// Client process: `--clients URL CA CERT KEY COUNT`. Opens COUNT subscribers, prints `ready`, then one line
/// `JOB KERNEL_NS:SEEN_NS …` per job once every subscriber has seen that job's first event: for each subscriber,
/// when the kernel received the segment carrying the event (see [`arrival`]) and when the client process had
/// decoded it.
async fn clients(args: &[String]) -> Result<(), BoxError> {
    let [url, ca, cert, key, count] = args else {
        return Err("usage: --clients URL CA CERT KEY COUNT".into());
    };
    let count: usize = count.parse()?;
    let client = ApiClient::new(&Credentials {
        url: url.clone(),
        ca_cert: PathBuf::from(ca),
        cert: PathBuf::from(cert),
        key: PathBuf::from(key),
    })?;
    let authority = url
        .strip_prefix("https://")
        .ok_or("expected https://IP:PORT")?
        .trim_end_matches('/');
    let address: std::net::SocketAddr = authority.parse()?;
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, u64, u128)>();
    let mut sockets = Vec::with_capacity(count);
    for _ in 0..count {
        let tcp = tokio::net::TcpStream::connect(address).await?;
        tcp.set_nodelay(true)?;
        let (tcp, arrival) = StampedTcp::new(tcp)?;
        let mut socket = client.job_socket_over(tcp).await?;
        socket.subscribe_all().await?;
        sockets.push((socket, arrival));
    }
    for (mut socket, arrival) in sockets {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut seen = std::collections::HashSet::new();
            while let Ok(frame) = socket.next_frame().await {
                let (kernel, decoded) = (arrival.latest_ns(), now_ns());
                if let ServerFrame::JobStatus(e) | ServerFrame::JobComplete(e) = frame
                    && seen.insert(e.job_id.clone())
                    && tx.send((e.job_id, kernel, decoded)).is_err()
                {
                    return;
                }
            }
        });
    }
    drop(tx);
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready")?;
    out.flush()?;
    let mut arrivals: HashMap<String, Vec<String>> = HashMap::new();
    while let Some((job, kernel, decoded)) = rx.recv().await {
        let list = arrivals.entry(job.clone()).or_default();
        list.push(format!("{kernel}:{decoded}"));
        if list.len() == count {
            writeln!(out, "{job} {}", list.join(" "))?;
            out.flush()?;
        }
    }
    Ok(())
}

/// Starts the client processes and waits until each has said `ready`; their report lines arrive on the
/// returned channel.
// The benchmark's own client processes (this binary again): measuring the server needs the receiving
// clients outside the measuring process, and only a process can be that.
#[allow(clippy::disallowed_methods)]
fn spawn_clients(
    stack: &Stack,
    processes: usize,
) -> Result<(Vec<Child>, std_mpsc::Receiver<String>), BoxError> {
    let exe = std::env::current_exe()?;
    let pki = stack.pki();
    let (tx, rx) = std_mpsc::channel();
    let mut children = Vec::new();
    for i in 0..processes {
        let count = SUBSCRIBERS / processes + usize::from(i < SUBSCRIBERS % processes);
        let mut child = std::process::Command::new(&exe)
            .arg("--clients")
            .arg(stack.base_url())
            .arg(&pki.ca_cert)
            .arg(&pki.client.cert)
            .arg(&pki.client.key)
            .arg(count.to_string())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        children.push(child);
    }
    for _ in 0..processes {
        let line = rx.recv_timeout(Duration::from_secs(120))?;
        if line != "ready" {
            return Err(format!("client process said {line:?}").into());
        }
    }
    Ok((children, rx))
}

async fn measure(stack: &Stack) -> Result<(), BoxError> {
    let processes = std::env::var("BENCH_CLIENT_PROCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_PROCESSES)
        .clamp(1, SUBSCRIBERS);
    let client = lpa_tests::stack::client(stack);
    let (mut children, reports) = spawn_clients(stack, processes)?;
    println!("{SUBSCRIBERS} subscribers connected in {processes} client processes");
    let result = rounds(&client, processes, &reports).await;
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }
    result
}

/// Deliveries of one event: per subscriber, the kernel's receive stamp and the time its process decoded it.
#[derive(Default)]
struct Deliveries {
    kernel: Vec<u128>,
    decoded: Vec<u128>,
}

impl Deliveries {
    /// Adds the `KERNEL_NS:SEEN_NS` fields of a client process's report line.
    fn add<'a>(&mut self, fields: impl Iterator<Item = &'a str>) -> Result<(), BoxError> {
        for field in fields {
            let (kernel, decoded) = field.split_once(':').ok_or("expected KERNEL:SEEN")?;
            self.kernel.push(kernel.parse()?);
            self.decoded.push(decoded.parse()?);
        }
        Ok(())
    }
}

/// Latency (time since `start`) and spread (time since the first delivery) of every delivery in `times`.
fn since(start: u128, times: &mut [u128]) -> (Vec<Duration>, Vec<Duration>) {
    times.sort_unstable();
    let first = times[0];
    let ns = |n: u128| Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX));
    (
        times.iter().map(|t| ns(t.saturating_sub(start))).collect(),
        times.iter().map(|t| ns(t - first)).collect(),
    )
}

async fn rounds(
    client: &ApiClient,
    processes: usize,
    reports: &std_mpsc::Receiver<String>,
) -> Result<(), BoxError> {
    let (mut arrived, mut spreads, mut decoded) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let start = now_ns();
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
        let mut deliveries = Deliveries::default();
        let mut reported = 0;
        while reported < processes {
            let line = reports.recv_timeout(Duration::from_secs(30))?;
            let mut fields = line.split(' ');
            if fields.next() != Some(job_id.as_str()) {
                continue; // a later event of an earlier job
            }
            deliveries.add(fields)?;
            reported += 1;
        }
        if deliveries.kernel.len() != SUBSCRIBERS {
            return Err(
                format!("{} deliveries, not {SUBSCRIBERS}", deliveries.kernel.len()).into(),
            );
        }
        // Every stamp must be a wall-clock time after the request: 0 means the segment came unstamped (the
        // kernel enables stamping in deferred work), anything else outside the round is not a receive time.
        if let Some(bad) = deliveries
            .kernel
            .iter()
            .find(|&&k| k < start || k > start + 30_000_000_000)
        {
            return Err(format!("a delivery whose kernel receive stamp ({bad}) is not a wall-clock time of this round").into());
        }
        let (round_arrived, round_spread) = since(start, &mut deliveries.kernel);
        let (round_decoded, _) = since(start, &mut deliveries.decoded);
        println!(
            "round {round:2}: arrived p50 {:.1} ms, p99 {:.1} ms; spread p99 {:.1} ms; decoded p99 {:.1} ms",
            ms(pct(&round_arrived, 0.5)),
            ms(pct(&round_arrived, 0.99)),
            ms(pct(&round_spread, 0.99)),
            ms(pct(&round_decoded, 0.99)),
        );
        arrived.extend(round_arrived);
        spreads.extend(round_spread);
        decoded.extend(round_decoded);
        // Let the job finish so every round starts from an idle service.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    println!(
        "all rounds ({} deliveries): arrived p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; fan-out spread p50 {:.1} ms, p99 {:.1} ms; decoded by the clients p50 {:.1} ms, p99 {:.1} ms",
        arrived.len(),
        ms(pct(&arrived, 0.5)),
        ms(pct(&arrived, 0.99)),
        ms(pct(&arrived, 1.0)),
        ms(pct(&spreads, 0.5)),
        ms(pct(&spreads, 0.99)),
        ms(pct(&decoded, 0.5)),
        ms(pct(&decoded, 0.99)),
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
