//! Live job progress over the WebSocket, end to end: real jobs on real apt, real mTLS.

use lpa_client::ws::ServerFrame;
use lpa_tests::jobs::install;
use lpa_tests::stack;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// Reads frames until `job_id` completes; returns every job event seen (of any job).
async fn until_complete(
    socket: &mut lpa_client::ws::JobSocket,
    job_id: &str,
) -> Vec<(bool, lpa_client::ws::JobEvent)> {
    let mut seen = Vec::new();
    tokio::time::timeout(LIMIT, async {
        loop {
            match socket.next_frame().await.expect("socket stays open") {
                ServerFrame::JobStatus(e) => seen.push((false, e)),
                ServerFrame::JobComplete(e) => {
                    let done = e.job_id == job_id;
                    seen.push((true, e));
                    if done {
                        return;
                    }
                }
                _ => {}
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("job {job_id} did not complete on the socket: {seen:?}"));
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribers_get_their_jobs_events_and_nobody_elses() {
    let stack = stack::plain();
    let client = stack::client(&stack);
    let mut idle = client.job_socket().await.expect("socket");

    // demo-slow's postinst takes 5 s, so its job is still running when the subscription is in place.
    let slow = install(&client, "demo-slow").await;
    let mut watcher = client.job_socket().await.expect("socket");
    watcher.subscribe(&slow).await.expect("subscribed");
    let hello = install(&client, "hello").await;
    let mut other = client.job_socket().await.expect("socket");
    other.subscribe(&hello).await.expect("subscribed");

    let seen = until_complete(&mut watcher, &slow).await;
    assert!(
        seen.iter().all(|(_, e)| e.job_id == slow),
        "foreign events reached the watcher: {seen:?}"
    );
    assert!(
        seen.iter()
            .any(|(complete, e)| !complete && e.status == "running"),
        "no job_status while running: {seen:?}"
    );
    let (_, last) = seen.last().expect("events");
    assert_eq!(last.status, "completed", "{seen:?}\n{}", stack.logs());
    assert_eq!(last.progress, 100);

    let seen = until_complete(&mut other, &hello).await;
    assert!(
        seen.iter().all(|(_, e)| e.job_id == hello),
        "foreign events reached the second subscriber: {seen:?}"
    );
    assert_eq!(seen.last().expect("events").1.status, "completed");

    // A socket that subscribed to nothing got nothing: the first frame after a ping is the pong.
    idle.ping().await.expect("pong");
    idle.send_text(r#"{"type":"ping"}"#).await.expect("send");
    match tokio::time::timeout(Duration::from_secs(5), idle.next_frame()).await {
        Ok(Ok(ServerFrame::Pong)) => {}
        other => panic!("an unsubscribed socket received {other:?}"),
    }
}
