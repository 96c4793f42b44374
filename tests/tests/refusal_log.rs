//! A flood of refused connections writes a bounded number of log lines (one when a source is first refused,
//! then one summary per source and interval), and `/health` counts every refusal.

use lpa_tests::raw::{assert_served, connect_from, tls_client};
use lpa_tests::stack;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

const OUTSIDER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const NOT_WHITELISTED: u64 = 10_000;
const GARBAGE: u64 = 500;

fn refusal_lines(log: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("connection refused") || l.contains("connections refused"))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_refused_connections_writes_a_bounded_number_of_lines() {
    let stack = stack::plain();
    let pki = stack.pki();
    let addr = stack.connect_addr();
    let log_path = stack.work_dir().join("frontend.log");
    let started = std::time::Instant::now();

    // 127.0.0.2 is not whitelisted: each connection is closed at accept.
    let flood = tokio::spawn(async move {
        for _ in 0..NOT_WHITELISTED {
            if let Ok(tcp) = connect_from(OUTSIDER, addr).await {
                drop(tcp);
            }
        }
    });
    // Whitelisted but garbage instead of a ClientHello: each fails its handshake.
    for _ in 0..GARBAGE {
        if let Ok(mut tcp) = connect_from(LOCAL, addr).await {
            let _ = tcp.write_all(b"GARBAGE GARBAGE GARBAGE\r\n\r\n").await;
        }
    }
    flood.await.unwrap();
    // Positive control: the legitimate client is still served.
    assert_served(
        tls_client(&pki.ca_cert, &pki.client.cert, &pki.client.key),
        LOCAL,
        addr,
    )
    .await;

    // Every refusal is counted: the garbage ones once their handshakes have failed, or as over the source's
    // share of unauthenticated connections when they arrive faster than handshakes fail.
    let client = stack::client(&stack);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let counts = loop {
        let health = client.health().await.expect("health");
        let counts = health.data()["refused_connections"].clone();
        let whitelisted_refusals = [
            "handshake_failed",
            "source_limit",
            "silent",
            "over_capacity",
        ]
        .iter()
        .map(|k| counts[k].as_u64().unwrap_or(0))
        .sum::<u64>();
        if counts["not_whitelisted"].as_u64() >= Some(NOT_WHITELISTED)
            && whitelisted_refusals >= GARBAGE
        {
            break counts;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "refusals not counted: {counts}\n{}",
            stack.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // After one summary interval the per-source summary lines are there, and few lines in all.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let log = std::fs::read_to_string(&log_path).expect("frontend.log");
    let lines = refusal_lines(&log);
    assert!(
        log.lines()
            .any(|l| l.contains("connections refused in the last") && l.contains("127.0.0.2")),
        "no summary line for 127.0.0.2 ({counts})\n{}",
        stack.logs()
    );
    // Per 10 s interval at most two lines per source (its first refusal, its summary): two sources here.
    let intervals = started.elapsed().as_secs() / 10 + 2;
    let bound = usize::try_from(2 * 2 * intervals).unwrap();
    assert!(
        lines <= bound,
        "{} refused connections wrote {lines} log lines in {intervals} intervals (bound {bound})",
        NOT_WHITELISTED + GARBAGE
    );
    eprintln!("{counts}: {lines} log lines in {:?}", started.elapsed());
}
