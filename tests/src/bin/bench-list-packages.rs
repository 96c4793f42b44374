//! Benchmark: `GET /api/v1/packages` on a dpkg database of 3,000 installed packages, against running
//! `dpkg-query -W` on the same database, side by side in one run (docs/benchmarks.md).
//!
//! Run (as root, needs hyperfine and curl):
//! `cargo build --release --workspace --bins && target/release/bench-list-packages`
//!
//! Two measurements:
//! 1. hyperfine, process per sample: `curl` (new TLS 1.3 handshake with a client certificate, one GET of the
//!    first 1,000 packages — the API's page maximum — computed over all 3,000) against `dpkg-query -W`
//!    listing all 3,000. Both pay a process start, which is what a shell user pays.
//! 2. In-process: the same GET on a kept-alive mTLS connection with the `lpa_client` library, p50/p99 over
//!    many requests — what fleet tooling that keeps connections open sees.

use lpa_testkit::harness::{Stack, StackOptions};
use std::process::Command;
use std::time::{Duration, Instant};

const PACKAGES: usize = 3000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let stack = Stack::start(StackOptions {
        log_level: "warn".into(),
        ..StackOptions::default()
    })?;
    let root = stack.sandbox().root().to_path_buf();
    lpa_testkit::bulk::write_dpkg_status(&root, PACKAGES)?;
    let admindir = root.join("var/lib/dpkg");
    let pki = stack.pki();
    let url = format!("{}/api/v1/packages?limit=1000", stack.base_url());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let creds = lpa_tests::stack::credentials(&stack, &pki.client);
    let client = lpa_client::ApiClient::new(&creds)?;
    let total = runtime.block_on(async {
        let resp = client.get("/api/v1/packages?limit=1000").await?;
        Ok::<_, lpa_client::ClientError>(resp.data()["total"].clone())
    })?;
    assert_eq!(
        total, PACKAGES,
        "the API sees every package of the bulk database"
    );

    let curl = format!(
        "curl -sS -o /dev/null --fail --cacert {} --cert {} --key {} '{url}'",
        pki.ca_cert.display(),
        pki.client.cert.display(),
        pki.client.key.display()
    );
    let dpkg_query = format!("dpkg-query --admindir={} -W", admindir.display());
    let json = stack.work_dir().join("hyperfine.json");
    // Benchmark code starting a process: the disallowed-methods lint guards product code.
    #[allow(clippy::disallowed_methods)]
    let status = Command::new("hyperfine")
        .args([
            "--warmup",
            "5",
            "--runs",
            "100",
            "--style",
            "basic",
            "--export-json",
        ])
        .arg(&json)
        .args(["-n", "GET /api/v1/packages (curl, new TLS session)", &curl])
        .args(["-n", "dpkg-query -W", &dpkg_query])
        .status()?;
    if !status.success() {
        return Err("hyperfine failed (apt-get install hyperfine curl)".into());
    }
    let results: serde_json::Value = serde_json::from_slice(&std::fs::read(&json)?)?;
    let mean = |i: usize| results["results"][i]["mean"].as_f64().unwrap_or(f64::NAN);
    println!(
        "\nratio (API via curl / dpkg-query): {:.2}  (below 1 means the API is faster)",
        mean(0) / mean(1)
    );

    let samples = runtime.block_on(async {
        let mut samples = Vec::new();
        for _ in 0..200 {
            let start = Instant::now();
            let resp = client.get("/api/v1/packages?limit=1000").await?;
            assert_eq!(resp.status, 200);
            samples.push(start.elapsed());
        }
        Ok::<_, lpa_client::ClientError>(samples)
    })?;
    let mut sorted = samples;
    sorted.sort();
    let pct = |p: f64| sorted[((sorted.len() as f64 - 1.0) * p) as usize];
    println!(
        "in-process, kept-alive mTLS connection, 200 requests: p50 {:.2} ms, p99 {:.2} ms; dpkg-query mean {:.2} ms; ratio p50/dpkg-query {:.2}",
        ms(pct(0.5)),
        ms(pct(0.99)),
        mean(1) * 1000.0,
        pct(0.5).as_secs_f64() / mean(1)
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
