//! Benchmark: round trip of a no-op request (`Ping`) to the helper over its Unix socket, p50/p99
//! (docs/benchmarks.md). One kept connection, requests one after the other, like the frontend's pooled
//! connections; a second series opens a fresh connection (with its Hello) per request, the cost the frontend
//! pays when its pool is empty.
//!
//! Run (as root): `cargo build --release --workspace --bins && target/release/bench-helper-roundtrip`

use lpa_protocol::{ClientMessage, Operation, ServerMessage};
use lpa_testkit::harness::{Stack, StackOptions};
use lpa_tests::helper_socket;
use std::time::{Duration, Instant};

const WARMUP: usize = 200;
const SAMPLES: usize = 10_000;
const FRESH_SAMPLES: usize = 2_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let stack = Stack::start(StackOptions {
        log_level: "warn".into(),
        ..StackOptions::default()
    })?;
    let socket = stack.helper_socket().to_path_buf();

    let mut conn = helper_socket::handshake(&socket)?;
    let mut kept = Vec::with_capacity(SAMPLES);
    for i in 0..(WARMUP + SAMPLES) {
        let start = Instant::now();
        helper_socket::send(
            &mut conn,
            &ClientMessage::Request {
                id: i as u64,
                operation: Operation::Ping,
            },
        )?;
        match helper_socket::recv(&mut conn)? {
            Some(ServerMessage::Response { result: Ok(_), .. }) => {}
            other => return Err(format!("unexpected answer {other:?}").into()),
        }
        if i >= WARMUP {
            kept.push(start.elapsed());
        }
    }

    let mut fresh = Vec::with_capacity(FRESH_SAMPLES);
    for _ in 0..FRESH_SAMPLES {
        let start = Instant::now();
        helper_socket::call(&socket, Operation::Ping)?;
        fresh.push(start.elapsed());
    }

    report("kept connection", &mut kept);
    report("fresh connection + Hello", &mut fresh);
    Ok(())
}

fn report(what: &str, samples: &mut [Duration]) {
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p) as usize];
    println!(
        "helper Ping round trip, {what}: n={} p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        samples.len(),
        us(pct(0.50)),
        us(pct(0.99)),
        us(pct(1.0))
    );
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
