//! Package-changing jobs end to end: real apt/dpkg on a sandbox root, through the real helper, over real mTLS.

use lpa_testkit::fixtures::apt::{Snapshot, versions};
use lpa_tests::jobs::{changes, install, send, submit, wait, wait_until};
use lpa_tests::stack;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn some(s: &str) -> Option<String> {
    Some(s.to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn install_hello_completes_and_the_package_is_installed() {
    let stack = stack::plain();
    let client = stack::client(&stack);
    let resp = send(
        &client,
        Method::POST,
        "/api/v1/packages",
        Some(json!({"packages": [{"name": "hello", "version": null}]})),
    )
    .await;
    assert_eq!(resp.status, 202, "{:?}\n{}", resp.envelope, stack.logs());
    assert_eq!(resp.data()["operation"], "install");
    assert_eq!(resp.data()["packages"], json!(["hello"]));
    let id = resp.data()["job_id"].as_str().expect("job id").to_owned();

    let job = wait(&client, &id, LIMIT).await;
    assert_eq!(job["status"], "completed", "{job}\n{}", stack.logs());
    assert_eq!(job["progress"], 100);
    assert_eq!(
        changes(&job),
        [("hello".to_owned(), None, some(versions::HELLO_V1))]
    );
    assert_eq!(
        job["requested_by"]["common_name"],
        lpa_testkit::pki::CLIENT_CN,
        "{job}"
    );
    assert_eq!(
        stack.sandbox().installed_version("hello").as_deref(),
        Some(versions::HELLO_V1)
    );

    let listed = client.package("hello").await.expect("answer");
    assert_eq!(listed.data()["status"], "installed", "{}", listed.data());
}

#[tokio::test(flavor = "multi_thread")]
async fn published_updates_are_patches_and_apply_all_upgrades_every_one() {
    let stack = stack::with_pending_updates();
    let client = stack::client(&stack);
    let patches = send(&client, Method::GET, "/api/v1/patches", None).await;
    assert_eq!(patches.status, 200, "{:?}", patches.envelope);
    let data = patches.data();
    assert_eq!(data["total"], 3, "{data}");
    assert_eq!(data["security_updates"], 1, "{data}");
    let lib = data["patches"]
        .as_array()
        .expect("patches")
        .iter()
        .find(|p| p["name"] == "demo-lib")
        .expect("demo-lib");
    assert_eq!(lib["security"], true);
    assert_eq!(
        lib["severity"], "unknown",
        "apt repositories carry no severity: never guessed"
    );
    assert_eq!(lib["current_version"], versions::DEMO_LIB_V1);
    assert_eq!(lib["available_version"], versions::DEMO_LIB_SECURITY);
    let app = data["patches"]
        .as_array()
        .expect("patches")
        .iter()
        .find(|p| p["name"] == "demo-app")
        .expect("demo-app");
    assert_eq!(app["security"], false);

    let id = submit(
        &client,
        Method::POST,
        "/api/v1/patches/apply",
        Some(json!({"patches": [], "options": {}})),
    )
    .await;
    let job = wait(&client, &id, LIMIT).await;
    assert_eq!(job["status"], "completed", "{job}\n{}", stack.logs());
    assert_eq!(
        changes(&job),
        [
            (
                "demo-app".to_owned(),
                some(versions::DEMO_APP_V1),
                some(versions::DEMO_APP_V2)
            ),
            (
                "demo-lib".to_owned(),
                some(versions::DEMO_LIB_V1),
                some(versions::DEMO_LIB_SECURITY)
            ),
            (
                "demo-tool".to_owned(),
                some(versions::DEMO_TOOL_V1),
                some(versions::DEMO_TOOL_V2)
            ),
        ]
    );
    assert_eq!(
        stack.sandbox().installed_version("demo-lib").as_deref(),
        Some(versions::DEMO_LIB_SECURITY)
    );
    let after = send(&client, Method::GET, "/api/v1/patches", None).await;
    assert_eq!(
        after.data()["total"],
        0,
        "nothing left to patch: {}",
        after.data()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn excluding_everything_changes_nothing() {
    let stack = stack::with_pending_updates();
    let client = stack::client(&stack);
    for body in [
        json!({"patches": [], "options": {"exclude_packages": ["*"]}}),
        json!({"options": {"exclude_packages": ["*"]}}),
    ] {
        let id = submit(&client, Method::POST, "/api/v1/patches/apply", Some(body)).await;
        let job = wait(&client, &id, LIMIT).await;
        assert_eq!(job["status"], "completed", "{job}");
        assert!(changes(&job).is_empty(), "{job}");
        assert!(
            job["message"]
                .as_str()
                .unwrap_or("")
                .contains("nothing to apply"),
            "{job}"
        );
    }
    assert_eq!(
        stack.sandbox().installed_version("demo-app").as_deref(),
        Some(versions::DEMO_APP_V1)
    );
    assert_eq!(
        stack.sandbox().installed_version("demo-lib").as_deref(),
        Some(versions::DEMO_LIB_V1)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn second_apply_shape_with_a_selection_upgrades_only_that_package() {
    let stack = stack::with_pending_updates();
    let client = stack::client(&stack);
    let id = submit(
        &client,
        Method::POST,
        "/api/v1/patches/apply",
        Some(json!({"packages": ["demo-tool"], "allow_reboot": false})),
    )
    .await;
    let job = wait(&client, &id, LIMIT).await;
    assert_eq!(job["status"], "completed", "{job}\n{}", stack.logs());
    assert_eq!(
        changes(&job),
        [(
            "demo-tool".to_owned(),
            some(versions::DEMO_TOOL_V1),
            some(versions::DEMO_TOOL_V2)
        )]
    );
    assert_eq!(
        stack.sandbox().installed_version("demo-app").as_deref(),
        Some(versions::DEMO_APP_V1)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_postinst_fails_the_job_with_exit_code_and_stderr() {
    let stack = stack::plain();
    let client = stack::client(&stack);
    let id = install(&client, "demo-broken").await;
    let job = wait(&client, &id, LIMIT).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["error_code"], "PKG_MANAGER_ERROR", "{job}");
    assert_eq!(job["exit_code"], 100, "{job}");
    assert!(
        job["command_stderr"]
            .as_str()
            .unwrap_or("")
            .contains("demo-broken"),
        "stderr captured: {job}"
    );
    let health = client.health().await.expect("answer");
    assert_eq!(
        health.data()["checks"]["helper"],
        "ok",
        "service healthy afterwards"
    );
    // And it keeps working: the operator purges the broken package (apt would otherwise retry its
    // configuration on every run), and the next install succeeds.
    let resp = send(
        &client,
        Method::DELETE,
        "/api/v1/packages/demo-broken?purge=true",
        None,
    )
    .await;
    assert_eq!(resp.status, 202, "{:?}", resp.envelope);
    let purge = wait(&client, resp.data()["job_id"].as_str().expect("id"), LIMIT).await;
    assert_eq!(purge["status"], "completed", "{purge}");
    let id = install(&client, "hello").await;
    assert_eq!(wait(&client, &id, LIMIT).await["status"], "completed");
}

#[tokio::test(flavor = "multi_thread")]
async fn conflicting_install_fails_and_removes_nothing() {
    let stack = stack::plain();
    let client = stack::client(&stack);
    let id = install(&client, "hello").await;
    assert_eq!(wait(&client, &id, LIMIT).await["status"], "completed");
    let id = install(&client, "demo-conflict").await;
    let job = wait(&client, &id, LIMIT).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["error_code"], "DEPENDENCY_CONFLICT", "{job}");
    assert!(changes(&job).is_empty(), "{job}");
    assert_eq!(
        stack.sandbox().installed_version("hello").as_deref(),
        Some(versions::HELLO_V1)
    );
    assert_eq!(stack.sandbox().installed_version("demo-conflict"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_package_is_404_at_request_time_and_queues_nothing() {
    let stack = stack::plain();
    let client = stack::client(&stack);
    lpa_tests::jobs::install_refused(&client, "no-such-package").await;
    assert_eq!(stack.sandbox().installed_version("no-such-package"), None);
    // Positive control: a name apt knows is queued and installed.
    let id = install(&client, "hello").await;
    assert_eq!(wait(&client, &id, LIMIT).await["status"], "completed");
}

#[tokio::test(flavor = "multi_thread")]
async fn update_and_remove_hello() {
    let mut stack = stack::plain();
    let client = stack::client(&stack);
    let id = install(&client, "hello").await;
    assert_eq!(wait(&client, &id, LIMIT).await["status"], "completed");
    stack
        .sandbox_mut()
        .publish(Snapshot::V2)
        .expect("publish v2");

    let resp = send(&client, Method::PUT, "/api/v1/packages/hello", None).await;
    assert_eq!(resp.status, 202, "{:?}", resp.envelope);
    assert_eq!(resp.data()["operation"], "update");
    let job = wait(&client, resp.data()["job_id"].as_str().expect("id"), LIMIT).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(
        changes(&job),
        [(
            "hello".to_owned(),
            some(versions::HELLO_V1),
            some(versions::HELLO_V2)
        )]
    );

    let resp = send(
        &client,
        Method::DELETE,
        "/api/v1/packages/hello?purge=true",
        None,
    )
    .await;
    assert_eq!(resp.status, 202, "{:?}", resp.envelope);
    assert_eq!(resp.data()["operation"], "remove");
    let job = wait(&client, resp.data()["job_id"].as_str().expect("id"), LIMIT).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(
        changes(&job),
        [("hello".to_owned(), some(versions::HELLO_V2), None)]
    );
    assert_eq!(stack.sandbox().installed_version("hello"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn repository_change_between_refresh_and_download_is_retried() {
    let mut stack = stack::with_pending_updates();
    let client = stack::client(&stack);
    let fixtures = stack.sandbox().apt().expect("an apt sandbox").fixtures();
    let mirror =
        lpa_testkit::mirror::RotatingMirror::start(fixtures, stack.work_dir()).expect("mirror");
    let security = fixtures.repo(Snapshot::V2, lpa_testkit::fixtures::apt::Suite::Security);
    stack
        .sandbox_mut()
        .apt_mut()
        .expect("an apt sandbox")
        .set_sources_list(&format!(
            "{}deb [trusted=yes] file:{} ./\n",
            mirror.sources_line(),
            security.display()
        ))
        .expect("sources");
    let id = submit(
        &client,
        Method::POST,
        "/api/v1/patches/apply",
        Some(json!({"packages": [lpa_testkit::mirror::STALE_PACKAGE]})),
    )
    .await;
    let job = wait(&client, &id, LIMIT).await;
    assert!(
        mirror.switched(),
        "the first download hit the vanished file: {:?}",
        mirror.requests()
    );
    assert_eq!(job["status"], "completed", "{job}\n{}", stack.logs());
    assert_eq!(
        stack.sandbox().installed_version("demo-tool").as_deref(),
        Some(versions::DEMO_TOOL_V2)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_a_pending_job() {
    let stack = stack::plain();
    let client = stack::client(&stack);
    // demo-slow's postinst sleeps 5 s, so the second job is still pending behind it.
    let slow = install(&client, "demo-slow").await;
    let queued = install(&client, "hello").await;
    let resp = send(
        &client,
        Method::DELETE,
        &format!("/api/v1/jobs/{queued}"),
        None,
    )
    .await;
    assert_eq!(resp.status, 200, "{:?}", resp.envelope);
    assert_eq!(resp.data()["previous_status"], "pending");
    assert_eq!(resp.data()["current_status"], "cancelled");
    assert_eq!(resp.data()["action"], "cancelled");
    assert_eq!(wait(&client, &slow, LIMIT).await["status"], "completed");
    assert_eq!(wait(&client, &queued, LIMIT).await["status"], "cancelled");
    assert_eq!(
        stack.sandbox().installed_version("hello"),
        None,
        "the cancelled job changed nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reboot_is_refused_while_a_job_runs_and_recorded_otherwise() {
    let stack = stack::plain();
    let client = stack::client(&stack);
    let slow = install(&client, "demo-slow").await;
    let refused = send(
        &client,
        Method::POST,
        "/api/v1/system/reboot",
        Some(json!({"delay_seconds": 0, "reason": "kernel"})),
    )
    .await;
    assert_eq!(refused.status, 409, "{:?}", refused.envelope);
    assert_eq!(refused.error_code(), Some("REBOOT_BLOCKED"));
    assert_eq!(wait(&client, &slow, LIMIT).await["status"], "completed");
    let resp = send(
        &client,
        Method::POST,
        "/api/v1/system/reboot",
        Some(json!({"delay_seconds": 120, "reason": "kernel update"})),
    )
    .await;
    assert_eq!(resp.status, 202, "{:?}", resp.envelope);
    assert_eq!(resp.data()["operation"], "reboot");
    let job = wait(&client, resp.data()["job_id"].as_str().expect("id"), LIMIT).await;
    assert_eq!(job["status"], "completed", "{job}\n{}", stack.logs());
    let log = std::fs::read_to_string(stack.reboot_requests_log()).expect("the recorder ran");
    assert!(log.contains("-r +2"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_bodies_and_hostile_names_are_enveloped_400s() {
    let stack = stack::plain();
    let client = stack::client(&stack);
    for (body, code) in [
        (json!("not an object"), "INVALID_REQUEST"),
        (json!({"packages": "hello"}), "INVALID_REQUEST"),
        (json!({"packages": [{"name": 7}]}), "INVALID_REQUEST"),
        (json!({"packages": []}), "VALIDATION_ERROR"),
        (json!({"packages": [{"name": ""}]}), "VALIDATION_ERROR"),
        (
            json!({"packages": [{"name": "-oAPT::Update::Pre-Invoke::=x"}]}),
            "VALIDATION_ERROR",
        ),
        (
            json!({"packages": [{"name": "hello", "version": "1.0; rm -rf /"}]}),
            "VALIDATION_ERROR",
        ),
    ] {
        let resp = send(
            &client,
            Method::POST,
            "/api/v1/packages",
            Some(body.clone()),
        )
        .await;
        assert_eq!(resp.status, 400, "{body}: {:?}", resp.envelope);
        assert_eq!(resp.error_code(), Some(code), "{body}");
    }
    let pki = stack.pki();
    let cfg = lpa_tests::raw::tls_client(&pki.ca_cert, &pki.client.cert, &pki.client.key);
    let request = b"POST /api/v1/packages HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 8\r\nConnection: close\r\n\r\n{\"packag";
    let raw = lpa_tests::raw::tls_request(
        cfg,
        std::net::Ipv4Addr::LOCALHOST.into(),
        stack.connect_addr(),
        request,
    )
    .await
    .expect("answer");
    let (status, _, body) = lpa_tests::raw::parse_response(&raw);
    assert_eq!(status, 400);
    let env: serde_json::Value = serde_json::from_slice(&body).expect("envelope");
    assert_eq!(env["error"]["code"], "INVALID_REQUEST");
    for path in ["/api/v1/jobs/not-a-uuid"] {
        let resp = send(&client, Method::GET, path, None).await;
        assert_eq!(
            (resp.status, resp.error_code()),
            (400, Some("INVALID_JOB_ID"))
        );
    }
    let resp = send(
        &client,
        Method::GET,
        "/api/v1/jobs/00000000-0000-7000-8000-000000000000",
        None,
    )
    .await;
    assert_eq!(
        (resp.status, resp.error_code()),
        (404, Some("JOB_NOT_FOUND"))
    );
    let id = wait_until(&client, &install(&client, "hello").await, LIMIT, |j| {
        j["status"] == "completed"
    })
    .await;
    assert_eq!(id["status"], "completed");
}
