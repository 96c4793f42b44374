//! The job endpoints through the whole request path, against the fake broker.

use super::{Harness, code};
use crate::helper_client::fake_broker::{FakeBroker, HelloMode, Reply, Script};
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use lpa_protocol::{Backend, Operation, Outcome, PackageChange};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

impl Harness {
    async fn send_json(&self, method: Method, uri: &str, body: &str) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(Bytes::from(body.to_owned())))
            .unwrap();
        let (status, _, v) = self.send_req(req).await;
        (status, v)
    }

    fn job_broker(&self) -> FakeBroker {
        FakeBroker::start(
            &self.dir.path().join("helper.sock"),
            HelloMode::Ack(Backend::Apt),
            |op| match op {
                Operation::RefreshCache => Reply::Answer(Ok(Outcome::CacheRefreshed {
                    stdout: String::new(),
                })),
                Operation::Install { .. } | Operation::ApplyUpdates { .. } => {
                    Reply::Script(Script::ok(
                        vec![],
                        vec![PackageChange {
                            name: "hello".into(),
                            from: None,
                            to: Some("1.0".into()),
                        }],
                    ))
                }
                other => super::answer(other),
            },
        )
    }

    async fn wait_job(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, _, v) = self.send(Method::GET, &format!("/api/v1/jobs/{id}")).await;
            assert_eq!(status, StatusCode::OK, "{v}");
            let job = v["data"].clone();
            if !matches!(job["status"].as_str(), Some("pending" | "running")) {
                return job;
            }
            assert!(Instant::now() < deadline, "{job}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn install_is_accepted_runs_and_is_listed_with_the_client_identity() {
    let h = Harness::new();
    let _b = h.job_broker();
    h.state.jobs.start();
    let (status, v) = h
        .send_json(
            Method::POST,
            "/api/v1/packages",
            r#"{"packages": [{"name": "hello", "version": null}]}"#,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    let d = &v["data"];
    assert_eq!(d["status"], "pending");
    assert_eq!(d["operation"], "install");
    assert_eq!(d["packages"], json!(["hello"]));
    assert!(d["created_at"].as_str().unwrap().ends_with('Z'));
    let id = d["job_id"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7);
    let job = h.wait_job(id).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["progress"], 100);
    assert_eq!(
        job["changes"],
        json!([{"name": "hello", "from": null, "to": "1.0"}])
    );
    assert_eq!(job["requested_by"]["common_name"], "ops");
    assert_eq!(job["requested_by"]["peer"], "127.0.0.1:50000");
    for key in [
        "logs",
        "error",
        "error_code",
        "exit_code",
        "command_stdout",
        "command_stderr",
        "rollback_job_id",
        "exclusive_mode",
        "completed_at",
    ] {
        assert!(job.get(key).is_some(), "{key} missing: {job}");
    }
    let (status, _, v) = h
        .send(
            Method::GET,
            "/api/v1/jobs?status=completed&operation=install",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["data"]["total"], 1);
    assert_eq!(v["data"]["jobs"][0]["job_id"], id);
    assert_eq!(v["data"]["jobs"][0]["progress_percent"], 100);
    let (_, _, v) = h.send(Method::GET, "/api/v1/jobs?status=failed").await;
    assert_eq!(v["data"]["total"], 0);
}

#[tokio::test]
async fn malformed_bodies_wrong_types_and_hostile_names_are_enveloped_400s() {
    let h = Harness::new();
    let _b = h.broker(Backend::Apt);
    for (uri, method, body, expected) in [
        ("/api/v1/packages", Method::POST, "", "INVALID_REQUEST"),
        (
            "/api/v1/packages",
            Method::POST,
            "{\"packag",
            "INVALID_REQUEST",
        ),
        (
            "/api/v1/packages",
            Method::POST,
            "\"not an object\"",
            "INVALID_REQUEST",
        ),
        (
            "/api/v1/packages",
            Method::POST,
            r#"{"packages": "hello"}"#,
            "INVALID_REQUEST",
        ),
        (
            "/api/v1/packages",
            Method::POST,
            r#"{"packages": [{"name": 7}]}"#,
            "INVALID_REQUEST",
        ),
        (
            "/api/v1/packages",
            Method::POST,
            r#"{"packages": [{"name": "hello"}], "colour": 1}"#,
            "INVALID_REQUEST",
        ),
        (
            "/api/v1/packages",
            Method::POST,
            r#"{"packages": [{"name": "hello"}], "options": {"force": "yes"}}"#,
            "INVALID_REQUEST",
        ),
        (
            "/api/v1/packages",
            Method::POST,
            r#"{"packages": []}"#,
            "VALIDATION_ERROR",
        ),
        (
            "/api/v1/packages",
            Method::POST,
            r#"{"packages": [{"name": ""}]}"#,
            "VALIDATION_ERROR",
        ),
        (
            "/api/v1/packages",
            Method::POST,
            r#"{"packages": [{"name": "-oAPT::Update::Pre-Invoke::=x"}]}"#,
            "VALIDATION_ERROR",
        ),
        (
            "/api/v1/packages",
            Method::POST,
            r#"{"packages": [{"name": "Hello"}]}"#,
            "VALIDATION_ERROR",
        ),
        (
            "/api/v1/packages",
            Method::POST,
            r#"{"packages": [{"name": "hello", "version": "1.0; rm -rf /"}]}"#,
            "VALIDATION_ERROR",
        ),
        (
            "/api/v1/packages",
            Method::POST,
            r#"{"packages": [{"name": "hello"}, {"name": "hello"}]}"#,
            "VALIDATION_ERROR",
        ),
        (
            "/api/v1/packages/hello",
            Method::PUT,
            r#"{"version": 1}"#,
            "INVALID_REQUEST",
        ),
        (
            "/api/v1/packages/hello",
            Method::PUT,
            r#"{"version": "-1"}"#,
            "VALIDATION_ERROR",
        ),
        (
            "/api/v1/packages/hello?purge=maybe",
            Method::DELETE,
            "",
            "INVALID_REQUEST",
        ),
        (
            "/api/v1/packages/hello",
            Method::DELETE,
            "{}",
            "INVALID_REQUEST",
        ),
        (
            "/api/v1/patches/apply",
            Method::POST,
            "[",
            "INVALID_REQUEST",
        ),
        (
            "/api/v1/patches/apply",
            Method::POST,
            r#"{"patches": ["a1"], "packages": ["b2"]}"#,
            "INVALID_REQUEST",
        ),
        (
            "/api/v1/patches/apply",
            Method::POST,
            r#"{"options": {"exclude_packages": "*"}}"#,
            "INVALID_REQUEST",
        ),
        (
            "/api/v1/patches/apply",
            Method::POST,
            r#"{"options": {"exclude_packages": ["-o*"]}}"#,
            "VALIDATION_ERROR",
        ),
        (
            "/api/v1/patches/apply",
            Method::POST,
            r#"{"packages": ["-oDebug::pkgProblemResolver=1"]}"#,
            "VALIDATION_ERROR",
        ),
        (
            "/api/v1/patches/apply",
            Method::POST,
            r#"{"packages": null, "reboot_delay_seconds": 999999}"#,
            "VALIDATION_ERROR",
        ),
        (
            "/api/v1/system/reboot",
            Method::POST,
            r#"{"delay_seconds": -1}"#,
            "INVALID_REQUEST",
        ),
        (
            "/api/v1/system/reboot",
            Method::POST,
            r#"{"reason": "a\nb"}"#,
            "VALIDATION_ERROR",
        ),
    ] {
        let (status, v) = h.send_json(method.clone(), uri, body).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{method} {uri} {body}: {v}"
        );
        assert_eq!(code(&v), expected, "{method} {uri} {body}: {v}");
    }
    assert_eq!(
        h.state.jobs.with_jobs(|j| j.count()),
        0,
        "nothing was queued"
    );
}

#[tokio::test]
async fn both_apply_shapes_are_accepted_and_everything_excluded_is_nothing_to_apply() {
    let h = Harness::new();
    let _b = h.job_broker();
    h.state.jobs.start();
    let (status, v) = h
        .send_json(
            Method::POST,
            "/api/v1/patches/apply",
            r#"{"patches": [], "options": {"reboot": false, "reboot_delay_minutes": 0, "exclude_packages": ["*"]}}"#,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["data"]["operation"], "patch_apply");
    assert_eq!(v["data"]["patches_count"], 0);
    assert_eq!(v["data"]["requires_reboot"], false);
    assert_eq!(v["data"]["auto_reboot"], false);
    let job = h.wait_job(v["data"]["job_id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "completed");
    assert_eq!(job["message"], "nothing to apply");

    let (status, v) = h
        .send_json(
            Method::POST,
            "/api/v1/patches/apply",
            r#"{"packages": ["demo-hello"], "allow_reboot": false, "reboot_delay_seconds": 0}"#,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["data"]["packages"], json!(["demo-hello"]));
    assert_eq!(v["data"]["patches_count"], 1);
    let job = h.wait_job(v["data"]["job_id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "completed", "{job}");

    let (status, v) = h.send_json(Method::POST, "/api/v1/patches/apply", "").await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "an empty body applies everything: {v}"
    );
    assert_eq!(v["data"]["patches_count"], 1);
}

#[tokio::test]
async fn patches_list_marks_security_and_never_guesses_severity() {
    let h = Harness::new();
    let _b = h.broker(Backend::Apt);
    let (status, _, v) = h.send(Method::GET, "/api/v1/patches").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let d = &v["data"];
    assert_eq!(d["total"], 1);
    assert_eq!(d["security_updates"], 1);
    assert_eq!(d["requires_reboot"], false);
    let p = &d["patches"][0];
    assert_eq!(p["id"], "demo-hello");
    assert_eq!(p["current_version"], "1.0");
    assert_eq!(p["available_version"], "1.1");
    assert_eq!(p["severity"], "unknown");
    assert_eq!(p["security"], true);
    assert_eq!(p["source"], "security-suite");
    assert_eq!(p["cve_ids"], json!([]));
    assert_eq!(p["description"], "demo");
    let (_, _, v) = h
        .send(Method::GET, "/api/v1/patches?severity=critical")
        .await;
    assert_eq!(v["data"]["total"], 0);
    let (status, _, v) = h.send(Method::GET, "/api/v1/patches?severity=severe").await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::BAD_REQUEST, "INVALID_REQUEST")
    );
}

#[tokio::test]
async fn job_ids_are_validated_and_unknown_jobs_are_404() {
    let h = Harness::new();
    for (method, path, expected) in [
        (Method::GET, "/api/v1/jobs/not-a-uuid", "INVALID_JOB_ID"),
        (Method::DELETE, "/api/v1/jobs/1234", "INVALID_JOB_ID"),
        (
            Method::GET,
            "/api/v1/jobs/00000000-0000-7000-8000-000000000000",
            "JOB_NOT_FOUND",
        ),
        (
            Method::DELETE,
            "/api/v1/jobs/00000000-0000-7000-8000-000000000000",
            "JOB_NOT_FOUND",
        ),
        (Method::GET, "/api/v1/jobs?status=done", "INVALID_REQUEST"),
        (Method::GET, "/api/v1/jobs?sort=name", "INVALID_REQUEST"),
    ] {
        let (_, _, v) = h.send(method.clone(), path).await;
        assert_eq!(code(&v), expected, "{method} {path}: {v}");
    }
}

#[tokio::test]
async fn reboot_is_409_while_a_package_job_is_pending_then_accepted_and_cancel_deletes() {
    let h = Harness::new();
    // Not started: the install stays pending.
    let (status, v) = h
        .send_json(
            Method::POST,
            "/api/v1/packages",
            r#"{"packages": [{"name": "hello"}]}"#,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    let install = v["data"]["job_id"].as_str().unwrap().to_owned();
    let (status, v) = h
        .send_json(
            Method::POST,
            "/api/v1/system/reboot",
            r#"{"delay_seconds": 0, "reason": "kernel"}"#,
        )
        .await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::CONFLICT, "REBOOT_BLOCKED"),
        "{v}"
    );
    let (status, v) = h
        .send_json(
            Method::POST,
            "/api/v1/system/reboot",
            r#"{"force": true, "reason": "kernel"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["data"]["operation"], "reboot");
    assert!(v["data"]["scheduled_at"].is_string());

    let (status, _, v) = h
        .send(Method::DELETE, &format!("/api/v1/jobs/{install}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["previous_status"], "pending");
    assert_eq!(v["data"]["current_status"], "cancelled");
    assert_eq!(v["data"]["action"], "cancelled");
    // A DELETE right after (concurrent, or a retry) answers the cancellation again; the record stays.
    let (_, _, v) = h
        .send(Method::DELETE, &format!("/api/v1/jobs/{install}"))
        .await;
    assert_eq!(v["data"]["action"], "cancelled", "{v}");
    assert_eq!(v["data"]["previous_status"], "pending", "{v}");
    let (status, _, v) = h
        .send(Method::GET, &format!("/api/v1/jobs/{install}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["status"], "cancelled");
    // Past the answer window, a DELETE is a delete.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (_, _, v) = h
        .send(Method::DELETE, &format!("/api/v1/jobs/{install}"))
        .await;
    assert_eq!(v["data"]["action"], "deleted");
    let (status, _, v) = h
        .send(Method::GET, &format!("/api/v1/jobs/{install}"))
        .await;
    assert_eq!((status, code(&v)), (StatusCode::NOT_FOUND, "JOB_NOT_FOUND"));
}

#[tokio::test]
async fn a_name_the_broker_does_not_know_is_404_at_request_time_and_queues_nothing() {
    let h = Harness::new();
    let _b = h.job_broker();
    let requests = [
        (
            Method::POST,
            "/api/v1/packages",
            r#"{"packages": [{"name": "hello"}, {"name": "no-such"}]}"#,
        ),
        (Method::PUT, "/api/v1/packages/no-such", ""),
        (Method::DELETE, "/api/v1/packages/no-such", ""),
    ];
    for (method, uri, body) in requests {
        let (status, v) = h.send_json(method.clone(), uri, body).await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::NOT_FOUND, "PKG_NOT_FOUND"),
            "{method} {uri}: {v}"
        );
        assert_eq!(v["error"]["retryable"], false, "{v}");
    }
    assert_eq!(h.state.jobs.with_jobs(|j| j.count()), 0);
    // Positive control: a name the broker knows is queued.
    let (status, v) = h
        .send_json(Method::DELETE, "/api/v1/packages/hello", "")
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    assert_eq!(h.state.jobs.with_jobs(|j| j.count()), 1);
}

#[tokio::test]
async fn with_the_helper_down_an_install_is_still_queued() {
    // The broker cannot tell whether the name exists: the job decides when it runs.
    let h = Harness::new();
    let (status, v) = h
        .send_json(
            Method::POST,
            "/api/v1/packages",
            r#"{"packages": [{"name": "no-such"}]}"#,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
}

#[tokio::test]
async fn queue_full_is_429_in_the_envelope() {
    let mut h = Harness::new();
    h.state = crate::http::AppState::new(crate::http::ApiSettings {
        helper_socket: h.dir.path().join("helper.sock"),
        jobs: crate::jobs::JobSettings {
            max_queue_depth: 1,
            ..Default::default()
        },
        ..Default::default()
    });
    let body = r#"{"packages": [{"name": "hello"}]}"#;
    let (status, _) = h.send_json(Method::POST, "/api/v1/packages", body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, v) = h.send_json(Method::POST, "/api/v1/packages", body).await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::TOO_MANY_REQUESTS, "QUEUE_FULL")
    );
    assert_eq!(v["error"]["retryable"], true);
    assert_eq!(v["error"]["details"]["max_queue_depth"], 1);
}

#[tokio::test]
async fn health_reports_the_cache_state_and_queues_one_refresh() {
    let h = Harness::new();
    let _b = h.job_broker();
    let (_, _, v) = h.send(Method::GET, "/health").await;
    assert_eq!(v["data"]["cache_status"], "unknown");
    assert!(v["data"]["last_cache_update"].is_null());
    h.send(Method::GET, "/health").await;
    let refreshes = h.state.jobs.with_jobs(|j| {
        j.filter(|r| r.operation == crate::jobs::JobOperation::CacheRefresh)
            .map(|r| r.job_id)
            .collect::<Vec<_>>()
    });
    assert_eq!(refreshes.len(), 1, "one refresh, not one per health check");
    h.state.jobs.start();
    let job = h.wait_job(&refreshes[0].to_string()).await;
    assert_eq!(job["status"], "completed", "{job}");
    let (_, _, v) = h.send(Method::GET, "/health").await;
    assert_eq!(v["data"]["cache_status"], "fresh");
    assert!(v["data"]["last_cache_update"].is_string());
    assert_eq!(v["data"]["status"], "healthy");
    h.state
        .jobs
        .cache()
        .record_failure(time::OffsetDateTime::now_utc(), "E: boom");
    let (_, _, v) = h.send(Method::GET, "/health").await;
    assert_eq!(v["data"]["cache_status"], "failed");
    assert_eq!(v["data"]["status"], "degraded");
}

/// `/system/info` answers from kept host facts (a change on the host alone is not re-read on every request),
/// but a job that ended after the facts were read makes the next request read them again: `reboot_required`
/// right after a job that needs a reboot is `true`, not the value from before the job.
#[tokio::test]
async fn system_info_is_kept_and_read_again_after_a_job_ends() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let h = Harness::new();
    let reboot = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let (flag, count) = (reboot.clone(), reads.clone());
    let _b = FakeBroker::start(
        &h.dir.path().join("helper.sock"),
        HelloMode::Ack(Backend::Apt),
        move |op| match op {
            Operation::SystemInfo => {
                count.fetch_add(1, Ordering::SeqCst);
                let Reply::Answer(Ok(Outcome::SystemInfo(mut host))) = super::answer(op) else {
                    unreachable!("the stand-in answers system info")
                };
                if flag.load(Ordering::SeqCst) {
                    host.reboot_required = lpa_protocol::RebootRequired::Yes {
                        reason: "linux-image".into(),
                    };
                }
                Reply::Answer(Ok(Outcome::SystemInfo(host)))
            }
            Operation::Install { .. } => Reply::Script(Script::ok(vec![], vec![])),
            other => super::answer(other),
        },
    );
    h.state.jobs.start();
    let (status, _, v) = h.send(Method::GET, "/api/v1/system/info").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["reboot_required"], false);
    // Let the background reads after connecting settle, then count from here.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = reads.load(Ordering::SeqCst);
    reboot.store(true, Ordering::SeqCst);
    for _ in 0..5 {
        let (_, _, v) = h.send(Method::GET, "/api/v1/system/info").await;
        assert_eq!(v["data"]["reboot_required"], false, "kept: {v}");
    }
    assert_eq!(
        reads.load(Ordering::SeqCst),
        before,
        "answered without the helper"
    );

    let (status, v) = h
        .send_json(
            Method::POST,
            "/api/v1/packages",
            r#"{"packages": [{"name": "hello", "version": null}]}"#,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    let job = h.wait_job(v["data"]["job_id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "completed", "{job}");
    let (_, _, v) = h.send(Method::GET, "/api/v1/system/info").await;
    assert_eq!(
        v["data"]["reboot_required"], true,
        "read again after the job: {v}"
    );
    assert_eq!(v["data"]["reboot_required_reason"], "linux-image");
}
