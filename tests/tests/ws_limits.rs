//! The WebSocket's per-session limits, end to end over real mTLS against the real frontend process: a peer
//! that floods pings and never reads is closed and costs the frontend no more than a few MiB, while a peer
//! that reads its pongs keeps its session.

use lpa_tests::stack;
use lpa_tests::ws_raw::{client_frame, open_session, rss_kib, until_pong};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// How much the frontend's resident set may grow while one peer floods pings (issue 12 measured 1.58 GB in
/// 10 s before the write buffer was bounded).
const RSS_GROWTH_LIMIT_KIB: u64 = 8 * 1024;
/// How long the flooding session may live (the server's own ping/pong check would need two 30 s intervals).
const CLOSE_LIMIT: Duration = Duration::from_secs(25);
const PING: u8 = 0x9;

#[tokio::test(flavor = "multi_thread")]
async fn a_ping_flood_from_a_peer_that_never_reads_is_closed_with_bounded_memory() {
    let stack = stack::plain();
    let pid = stack.frontend_pid().expect("the frontend runs");

    // Positive control, opened first and checked last: a session that reads its pongs.
    let mut control = open_session(&stack, &[])
        .await
        .expect("control session opens");
    control
        .write_all(&client_frame(PING, b"warm-up"))
        .await
        .unwrap();
    until_pong(&mut control, b"warm-up", Duration::from_secs(5))
        .await
        .expect("the control session answers");

    let before = rss_kib(pid);
    let mut flooder = open_session(&stack, &[])
        .await
        .expect("flood session opens");
    // 1,000 pings with the largest control payload (125 bytes) per write; the flooder never reads again.
    let burst: Vec<u8> = (0..1000)
        .flat_map(|_| client_frame(PING, &[b'x'; 125]))
        .collect();
    let started = Instant::now();
    let flood = tokio::spawn(async move {
        let mut sent: u64 = 0;
        loop {
            match tokio::time::timeout(Duration::from_secs(5), flooder.write_all(&burst)).await {
                Ok(Ok(())) => sent += 1000,
                // The server closed the connection (reset or broken pipe): the session ended.
                Ok(Err(e)) => return (sent, Some(e)),
                // The server stopped reading but kept the socket: only the deadline below ends it.
                Err(_) => {}
            }
            if started.elapsed() > CLOSE_LIMIT {
                return (sent, None);
            }
        }
    });

    // Meanwhile the control session keeps pinging in bursts and reads its pongs.
    let mut peak = before;
    let mut round = 0u32;
    while !flood.is_finished() {
        round += 1;
        let last = format!("burst-{round}");
        let mut burst = Vec::new();
        for i in 0..50 {
            burst.extend(client_frame(PING, format!("{round}-{i}").as_bytes()));
        }
        burst.extend(client_frame(PING, last.as_bytes()));
        control.write_all(&burst).await.unwrap();
        until_pong(&mut control, last.as_bytes(), Duration::from_secs(10))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "control session lost during the flood: {e}\n{}",
                    stack.logs()
                )
            });
        peak = peak.max(rss_kib(pid));
        assert!(
            peak - before <= RSS_GROWTH_LIMIT_KIB,
            "the frontend grew by {} KiB during the flood (limit {RSS_GROWTH_LIMIT_KIB} KiB)",
            peak - before
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (sent, ended) = flood.await.unwrap();
    let lived = started.elapsed();
    assert!(
        ended.is_some(),
        "the flooding session was still open after {lived:?} ({sent} pings sent)\n{}",
        stack.logs()
    );
    assert!(
        peak - before <= RSS_GROWTH_LIMIT_KIB,
        "the frontend grew by {} KiB during the flood",
        peak - before
    );
    eprintln!(
        "flood of {sent} pings closed after {lived:?}: {:?}; RSS {before} KiB -> peak {peak} KiB",
        ended
    );

    // The control session survived the whole flood and still answers.
    control
        .write_all(&client_frame(PING, b"alive"))
        .await
        .unwrap();
    until_pong(&mut control, b"alive", Duration::from_secs(5))
        .await
        .expect("the control session keeps its session");
    assert!(
        stack.logs().contains("client too slow"),
        "the frontend did not log the flooding session as too slow\n{}",
        stack.logs()
    );
}
