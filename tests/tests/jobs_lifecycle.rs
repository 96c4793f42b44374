//! Jobs across time limits, queue limits and a frontend crash, against the real stack and real apt.

use lpa_testkit::harness::{JobSettings, Stack, StackOptions};
use lpa_tests::jobs::{job, send, submit, wait, wait_until};
use lpa_tests::stack;
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

fn with_jobs(jobs: JobSettings) -> Stack {
    Stack::start(StackOptions {
        jobs,
        ..StackOptions::default()
    })
    .expect("stack starts")
}

fn install(name: &str) -> Option<serde_json::Value> {
    Some(json!({"packages": [{"name": name}]}))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_longer_than_the_timeout_ends_as_timeout() {
    // demo-slow's postinst sleeps 5 s; the job may run 2 s.
    let stack = with_jobs(JobSettings {
        timeout_seconds: Some(2),
        ..JobSettings::default()
    });
    let client = stack::client(&stack);
    let id = submit(
        &client,
        Method::POST,
        "/api/v1/packages",
        install("demo-slow"),
    )
    .await;
    let job = wait(&client, &id, LIMIT).await;
    assert_eq!(job["status"], "timeout", "{job}\n{}", stack.logs());
    assert_eq!(job["error_code"], "TIMEOUT", "{job}");
    // The package manager was stopped, and the service goes on serving.
    let health = client.health().await.expect("answer");
    assert_eq!(health.data()["checks"]["helper"], "ok", "{}", health.data());
    let next = submit(&client, Method::POST, "/api/v1/packages", install("hello")).await;
    let next = wait(&client, &next, LIMIT).await;
    assert_ne!(next["status"], "running", "{next}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_queue_answers_429_queue_full() {
    let stack = with_jobs(JobSettings {
        max_queue_depth: 1,
        ..JobSettings::default()
    });
    let client = stack::client(&stack);
    let mut answers = Vec::new();
    for name in ["demo-slow", "hello", "demo-tool", "demo-lib"] {
        let resp = send(&client, Method::POST, "/api/v1/packages", install(name)).await;
        if resp.status == 429 {
            // The client is told when to come back, in the header and in the details.
            assert_eq!(resp.retry_after_header.as_deref(), Some("30"), "{resp:?}");
            assert_eq!(
                resp.envelope
                    .error
                    .as_ref()
                    .map(|e| e.details["retry_after_seconds"].clone()),
                Some(serde_json::json!(30)),
                "{resp:?}"
            );
        }
        answers.push((resp.status, resp.error_code().map(str::to_owned)));
    }
    let full = answers
        .iter()
        .find(|(status, _)| *status == 429)
        .unwrap_or_else(|| panic!("no 429 with a queue of depth 1: {answers:?}"));
    assert_eq!(full.1.as_deref(), Some("QUEUE_FULL"), "{answers:?}");
    assert_eq!(answers[0].0, 202, "{answers:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frontend_killed_mid_job_resolves_the_job_truthfully_after_restart() {
    let mut stack = stack::plain();
    let client = stack::client(&stack);
    let id = submit(
        &client,
        Method::POST,
        "/api/v1/packages",
        install("demo-slow"),
    )
    .await;
    // Wait until dpkg is at work (the postinst sleeps 5 s), then kill the frontend without warning.
    wait_until(&client, &id, LIMIT, |j| {
        j["status"] == "running" && j["progress"].as_u64().unwrap_or(0) > 0
    })
    .await;
    let pid = stack.frontend_pid().expect("frontend runs");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill");
    let _ = stack.stop_frontend();
    stack.start_frontend().expect("frontend restarts");

    // The helper finished the install on its own; the new frontend must never show the job as running and
    // must end with what the package database says.
    let client = stack::client(&stack);
    let deadline = Instant::now() + LIMIT;
    let resolved = loop {
        let current = job(&client, &id).await;
        assert_ne!(
            current["status"], "running",
            "a recovered job is never shown running: {current}"
        );
        if !matches!(current["status"].as_str(), Some("pending")) {
            break current;
        }
        assert!(
            Instant::now() < deadline,
            "not resolved: {current}\n{}",
            stack.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let installed = stack.sandbox().installed_version("demo-slow");
    match resolved["status"].as_str() {
        Some("completed") => assert!(
            installed.is_some(),
            "completed but not installed: {resolved}"
        ),
        Some("failed") => {
            assert_eq!(resolved["error_code"], "INTERRUPTED", "{resolved}");
            assert!(
                installed.is_none(),
                "failed although the database shows it installed: {resolved}"
            );
        }
        other => panic!("unexpected status {other:?}: {resolved}"),
    }
}
