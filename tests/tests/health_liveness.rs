//! `/health` answers from state the frontend keeps current (issue 17): a helper that dies shows within one
//! second, a helper that is stuck (stopped with SIGSTOP) never makes the health check hang, and both recover
//! by themselves when the helper is back.

use lpa_tests::stack;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::time::{Duration, Instant};

/// A health answer this slow counts as hanging (the old check waited 5 s on a stuck helper).
const PROMPT: Duration = Duration::from_secs(1);

/// The helper's processes: the launcher and every process whose parent it is (the broker).
fn helper_processes(launcher: u32) -> Vec<i32> {
    let mut pids = vec![i32::try_from(launcher).expect("pid")];
    for entry in std::fs::read_dir("/proc").expect("/proc") {
        let Ok(entry) = entry else { continue };
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The parent pid is the second field after the parenthesised command name.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(launcher) {
            pids.push(pid);
        }
    }
    pids
}

/// One health answer, with how long it took; panics if it takes longer than [`PROMPT`].
async fn timed_health(client: &lpa_client::ApiClient) -> (serde_json::Value, Duration) {
    let started = Instant::now();
    let answer = tokio::time::timeout(PROMPT, client.health())
        .await
        .unwrap_or_else(|_| panic!("/health did not answer within {PROMPT:?}"))
        .expect("answer");
    assert_eq!(answer.status, 200, "health stays 200 when degraded");
    (answer.data().clone(), started.elapsed())
}

/// Polls `/health` until `done` holds or `limit` passes; returns the last document and when the request that
/// first satisfied `done` was sent (relative to `since`).
async fn poll_until(
    client: &lpa_client::ApiClient,
    since: Instant,
    limit: Duration,
    done: impl Fn(&serde_json::Value) -> bool,
) -> (serde_json::Value, Option<Duration>) {
    loop {
        let sent = since.elapsed();
        let (doc, _) = timed_health(client).await;
        if done(&doc) {
            return (doc, Some(sent));
        }
        if since.elapsed() > limit {
            return (doc, None);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_helper_shows_in_health_within_a_second_and_recovers() {
    let mut stack = stack::plain();
    let client = stack::client(&stack);
    // Positive control: healthy, helper ok.
    let (doc, _) = timed_health(&client).await;
    assert_eq!(doc["status"], "healthy", "{doc}");
    assert_eq!(doc["checks"]["helper"], "ok", "{doc}");

    let launcher = stack.helper_pid().expect("helper runs");
    let pids = helper_processes(launcher);
    assert!(pids.len() >= 2, "launcher and broker: {pids:?}");
    let killed = Instant::now();
    for pid in pids.iter().rev() {
        let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
    }
    let (doc, seen) = poll_until(&client, killed, Duration::from_secs(5), |d| {
        d["checks"]["helper"] != "ok"
    })
    .await;
    let seen = seen.unwrap_or_else(|| panic!("the dead helper never showed: {doc}"));
    assert!(
        seen < Duration::from_secs(1),
        "the dead helper showed only after {seen:?}: {doc}"
    );
    assert_eq!(doc["status"], "degraded", "{doc}");
    assert!(doc["confinement"]["broker"].is_null(), "{doc}");

    // Back: healthy again without a frontend restart.
    let _ = stack.stop_helper();
    stack.start_helper().expect("helper starts again");
    let back = Instant::now();
    let (doc, seen) = poll_until(&client, back, Duration::from_secs(5), |d| {
        d["status"] == "healthy"
    })
    .await;
    assert!(
        seen.is_some(),
        "never healthy again: {doc}\n{}",
        stack.logs()
    );
    assert_eq!(doc["checks"]["helper"], "ok", "{doc}");
    assert!(doc["confinement"]["broker"].is_object(), "{doc}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_helper_never_makes_health_hang() {
    let stack = stack::plain();
    let client = stack::client(&stack);
    let (doc, _) = timed_health(&client).await;
    assert_eq!(doc["status"], "healthy", "{doc}");
    let info = client.system_info().await.expect("answer");
    assert_eq!(info.status, 200, "positive control");

    let pids = helper_processes(stack.helper_pid().expect("helper runs"));
    let stopped = Instant::now();
    // A short-lived child of the launcher (a package manager run) may be gone by now: ESRCH is fine.
    let stopped_count = pids
        .iter()
        .filter(|pid| kill(Pid::from_raw(**pid), Signal::SIGSTOP).is_ok())
        .count();
    assert!(stopped_count >= 2, "launcher and broker stopped: {pids:?}");
    // Every answer is prompt (timed_health panics otherwise), and the stuck helper shows as unresponsive.
    let (doc, seen) = poll_until(&client, stopped, Duration::from_secs(8), |d| {
        d["checks"]["helper"] != "ok"
    })
    .await;
    // While it is stuck, system info answers promptly too: 503, retryable.
    let info = tokio::time::timeout(PROMPT, client.system_info()).await;
    let api_health = tokio::time::timeout(PROMPT, client.get("/api/v1/health")).await;
    for pid in &pids {
        let _ = kill(Pid::from_raw(*pid), Signal::SIGCONT);
    }
    assert!(seen.is_some(), "the stopped helper never showed: {doc}");
    let info = info.expect("system info answers promptly").expect("answer");
    assert_eq!(info.status, 503, "{:?}", info.envelope);
    assert_eq!(info.error_code(), Some("HELPER_UNAVAILABLE"));
    let api_health = api_health
        .expect("/api/v1/health answers promptly")
        .expect("answer");
    assert_eq!(api_health.data()["status"], "degraded");
    assert_eq!(doc["status"], "degraded", "{doc}");
    let helper = doc["checks"]["helper"].as_str().unwrap_or_default();
    assert!(
        helper.contains("unresponsive"),
        "says the helper is unresponsive: {helper}"
    );
    // Resumed: healthy again by itself.
    let (doc, seen) = poll_until(&client, Instant::now(), Duration::from_secs(8), |d| {
        d["status"] == "healthy"
    })
    .await;
    assert!(
        seen.is_some(),
        "never healthy again: {doc}\n{}",
        stack.logs()
    );
}

/// The package database's repair state is refreshed in the background, not only when a read meets it: the
/// database is broken behind the service's back (demo-lib removed with `--force-depends`, demo-app's
/// dependency unmet) and no package list is read; after the next job ends, `/health` names the breakage.
#[tokio::test(flavor = "multi_thread")]
async fn a_database_broken_behind_the_services_back_shows_after_the_next_job() {
    let stack = stack::with_pending_updates();
    let client = stack::client(&stack);
    // Positive control: healthy before.
    let (doc, _) = timed_health(&client).await;
    assert_eq!(doc["status"], "healthy", "{doc}");

    let apt = stack.sandbox().apt().expect("an apt sandbox");
    let root = apt.root().display().to_string();
    let out = apt
        .command("dpkg")
        .args([
            format!("--root={root}"),
            format!("--log={root}/var/log/dpkg.log"),
            "--force-depends".to_owned(),
            "-r".to_owned(),
            "demo-lib".to_owned(),
        ])
        .output()
        .expect("dpkg runs");
    assert!(out.status.success(), "{out:?}");

    let job = lpa_tests::jobs::wait(
        &client,
        &lpa_tests::jobs::install(&client, "hello").await,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(job["status"], "failed", "{job}");
    let (doc, seen) = poll_until(&client, Instant::now(), Duration::from_secs(5), |d| {
        d["status"] == "degraded"
    })
    .await;
    assert!(seen.is_some(), "never degraded: {doc}\n{}", stack.logs());
    let pm = doc["checks"]["package_manager"]
        .as_str()
        .unwrap_or_default();
    assert!(pm.contains("demo-app") && pm.contains("demo-lib"), "{pm}");
    assert_eq!(doc["checks"]["helper"], "ok", "{doc}");
}
