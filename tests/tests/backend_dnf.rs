//! The dnf and yum backends end to end: real dnf/rpm on a sandbox root (yum: `/usr/bin/yum`, a link to dnf as
//! RHEL 8+ ships it), through the real helper and frontend, over real mTLS. Every scenario runs once per
//! front end.

use lpa_testkit::fixtures::apt::Snapshot;
use lpa_testkit::sandbox::SandboxKind;
use lpa_tests::jobs::{changes, install, send, submit, wait};
use lpa_tests::scenario_dnf::{ProcMount, evr, patch, start, status_field};
use lpa_tests::stack;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(90);

fn change(
    name: &str,
    from: Option<&str>,
    to: Option<&str>,
) -> (String, Option<String>, Option<String>) {
    (
        name.to_owned(),
        from.map(str::to_owned),
        to.map(str::to_owned),
    )
}

async fn finished(client: &lpa_client::ApiClient, resp: lpa_client::ApiResponse) -> Value {
    assert_eq!(resp.status, 202, "{:?}", resp.envelope);
    let id = resp.data()["job_id"].as_str().expect("job id").to_owned();
    wait(client, &id, LIMIT).await
}

async fn patches(client: &lpa_client::ApiClient) -> Value {
    let resp = send(client, Method::GET, "/api/v1/patches", None).await;
    assert_eq!(resp.status, 200, "{:?}", resp.envelope);
    resp.data().clone()
}

/// Install, list, failures (unknown, conflict, failing `%post`), cancel, publish, patches, apply all,
/// downgrade rules, remove.
async fn lifecycle(kind: SandboxKind) {
    let mut stack = start(kind, &["demo-lib", "demo-app", "demo-tool"]);
    let client = stack::client(&stack);

    let info = send(&client, Method::GET, "/api/v1/system/info", None).await;
    assert_eq!(info.status, 200, "{:?}", info.envelope);
    assert_eq!(
        info.data()["package_manager"],
        kind.name(),
        "{}",
        info.data()
    );

    // Install hello: completed, in the job's changes, in the package list.
    let job = wait(&client, &install(&client, "hello").await, LIMIT).await;
    assert_eq!(job["status"], "completed", "{job}\n{}", stack.logs());
    assert_eq!(job["progress"], 100, "{job}");
    assert_eq!(
        changes(&job),
        [change("hello", None, Some(evr::HELLO_V1_EVR))]
    );
    assert_eq!(
        stack.sandbox().installed_version("hello").as_deref(),
        Some(evr::HELLO_V1_EVR)
    );
    let listed = send(&client, Method::GET, "/api/v1/packages?name=hello", None).await;
    let list = listed.data()["packages"]
        .as_array()
        .expect("packages")
        .clone();
    assert_eq!(list.len(), 1, "{}", listed.data());
    assert_eq!(list[0]["version"], evr::HELLO_V1_EVR);
    assert_eq!(list[0]["status"], "installed");
    let one = client.package("demo-app").await.expect("answer");
    assert_eq!(
        one.data()["dependencies"],
        json!(["demo-lib"]),
        "{}",
        one.data()
    );

    // Unknown package.
    lpa_tests::jobs::install_refused(&client, "no-such-package").await;

    // A conflict is refused, never resolved by removing hello.
    let job = wait(&client, &install(&client, "demo-conflict").await, LIMIT).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["error_code"], "DEPENDENCY_CONFLICT", "{job}");
    assert!(changes(&job).is_empty(), "{job}");
    assert_eq!(
        stack.sandbox().installed_version("hello").as_deref(),
        Some(evr::HELLO_V1_EVR)
    );
    assert_eq!(stack.sandbox().installed_version("demo-conflict"), None);

    // A failing %post: dnf exits 0, the job still fails, with the output captured.
    let job = wait(&client, &install(&client, "demo-broken").await, LIMIT).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["error_code"], "PKG_MANAGER_ERROR", "{job}");
    assert_eq!(
        job["exit_code"], 0,
        "dnf exits 0 after a failing scriptlet: {job}"
    );
    let output = format!("{}{}", job["command_stdout"], job["command_stderr"]);
    assert!(
        output.contains("scriptlet failed"),
        "output captured: {job}"
    );
    let health = client.health().await.expect("answer");
    assert_eq!(health.data()["checks"]["helper"], "ok", "{}", health.data());

    // Cancel a pending job: removing hello waits behind demo-slow's 5 s %post.
    let slow = install(&client, "demo-slow").await;
    let queued = submit(&client, Method::DELETE, "/api/v1/packages/hello", None).await;
    let resp = send(
        &client,
        Method::DELETE,
        &format!("/api/v1/jobs/{queued}"),
        None,
    )
    .await;
    assert_eq!(resp.status, 200, "{:?}", resp.envelope);
    assert_eq!(resp.data()["previous_status"], "pending", "{}", resp.data());
    assert_eq!(resp.data()["current_status"], "cancelled");
    assert_eq!(wait(&client, &slow, LIMIT).await["status"], "completed");
    assert_eq!(wait(&client, &queued, LIMIT).await["status"], "cancelled");
    assert_eq!(
        stack.sandbox().installed_version("hello").as_deref(),
        Some(evr::HELLO_V1_EVR),
        "the cancelled job changed nothing"
    );

    // Nothing to patch on v1 (and the lists computed now must not outlive the publish below).
    assert_eq!(patches(&client).await["total"], 0);

    // The vendor publishes v2: four updates, one of them a security update.
    stack
        .sandbox_mut()
        .publish(Snapshot::V2)
        .expect("publish v2");
    let data = patches(&client).await;
    assert_eq!(data["total"], 4, "{data}");
    assert_eq!(data["security_updates"], 1, "{data}");
    let lib = patch(&data, "demo-lib");
    assert_eq!(lib["security"], true, "{lib}");
    assert_eq!(lib["current_version"], evr::DEMO_LIB_V1_EVR);
    assert_eq!(lib["available_version"], evr::DEMO_LIB_SECURITY_EVR);
    let hello = patch(&data, "hello");
    assert_eq!(hello["security"], false, "a bugfix advisory: {hello}");
    assert_eq!(hello["current_version"], evr::HELLO_V1_EVR);
    assert_eq!(hello["available_version"], evr::HELLO_V2_EVR);

    // Apply all: every update, each with from/to; nothing left.
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
            change(
                "demo-app",
                Some(evr::DEMO_APP_V1_EVR),
                Some(evr::DEMO_APP_V2_EVR)
            ),
            change(
                "demo-lib",
                Some(evr::DEMO_LIB_V1_EVR),
                Some(evr::DEMO_LIB_SECURITY_EVR)
            ),
            change(
                "demo-tool",
                Some(evr::DEMO_TOOL_V1_EVR),
                Some(evr::DEMO_TOOL_V2_EVR)
            ),
            change("hello", Some(evr::HELLO_V1_EVR), Some(evr::HELLO_V2_EVR)),
        ]
    );
    let after = patches(&client).await;
    assert_eq!(after["total"], 0, "nothing left to patch: {after}");

    // dnf would downgrade silently on `install hello-1.0`: an update refuses, an install needs the option.
    let job = finished(
        &client,
        send(
            &client,
            Method::PUT,
            "/api/v1/packages/hello",
            Some(json!({"version": evr::HELLO_V1_EVR})),
        )
        .await,
    )
    .await;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["error_code"], "PKG_MANAGER_ERROR", "{job}");
    let body = |allow: bool| {
        json!({"packages": [{"name": "hello", "version": evr::HELLO_V1_EVR}],
               "options": {"allow_downgrade": allow}})
    };
    let job = finished(
        &client,
        send(&client, Method::POST, "/api/v1/packages", Some(body(false))).await,
    )
    .await;
    assert_eq!(job["status"], "failed", "{job}");
    assert!(
        job["error"].to_string().contains("allow_downgrade"),
        "{job}"
    );
    assert_eq!(
        stack.sandbox().installed_version("hello").as_deref(),
        Some(evr::HELLO_V2_EVR)
    );
    let job = finished(
        &client,
        send(&client, Method::POST, "/api/v1/packages", Some(body(true))).await,
    )
    .await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(
        changes(&job),
        [change(
            "hello",
            Some(evr::HELLO_V2_EVR),
            Some(evr::HELLO_V1_EVR)
        )]
    );

    // Remove: gone from the rpm database and from the list.
    let job = finished(
        &client,
        send(&client, Method::DELETE, "/api/v1/packages/hello", None).await,
    )
    .await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(
        changes(&job),
        [change("hello", Some(evr::HELLO_V1_EVR), None)]
    );
    assert_eq!(stack.sandbox().installed_version("hello"), None);
    let listed = send(&client, Method::GET, "/api/v1/packages?name=hello", None).await;
    assert_eq!(listed.data()["total"], 0, "{}", listed.data());
}

/// `GET /api/v1/patches` carries the repository's advisory (id, severity, security flag, CVEs), and applying
/// the advisory's id upgrades what it covers.
async fn advisory(kind: SandboxKind) {
    let mut stack = start(kind, &["demo-lib", "hello"]);
    let client = stack::client(&stack);
    stack
        .sandbox_mut()
        .publish(Snapshot::V2)
        .expect("publish v2");
    let data = patches(&client).await;
    let lib = patch(&data, "demo-lib");
    assert_eq!(lib["id"], evr::SECURITY_ADVISORY, "{lib}");
    assert_eq!(lib["severity"], "high", "Important → high: {lib}");
    assert_eq!(lib["security"], true, "{lib}");
    assert!(
        lib["cve_ids"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c == "CVE-2026-0001")),
        "{lib}"
    );
    let hello = patch(&data, "hello");
    assert_eq!(hello["security"], false, "{hello}");
    assert_eq!(
        hello["severity"], "low",
        "the bugfix advisory's severity: {hello}"
    );

    // Applying the advisory by its id upgrades exactly the package it covers.
    let id = submit(
        &client,
        Method::POST,
        "/api/v1/patches/apply",
        Some(json!({"patches": [evr::SECURITY_ADVISORY]})),
    )
    .await;
    let job = wait(&client, &id, LIMIT).await;
    assert_eq!(job["status"], "completed", "{job}\n{}", stack.logs());
    assert_eq!(
        changes(&job),
        [change(
            "demo-lib",
            Some(evr::DEMO_LIB_V1_EVR),
            Some(evr::DEMO_LIB_SECURITY_EVR)
        )]
    );
    assert_eq!(
        stack.sandbox().installed_version("hello").as_deref(),
        Some(evr::HELLO_V1_EVR)
    );
}

/// The package manager's children (here a `%post` scriptlet) are not confined by the helper's own
/// confinement: no `no_new_privs`, no seccomp filter.
async fn unconfined(kind: SandboxKind) {
    let stack = start(kind, &[]);
    let client = stack::client(&stack);
    let root = stack.sandbox().root().to_owned();
    let job = {
        let _proc = ProcMount::at(&root);
        wait(&client, &install(&client, "demo-probe").await, LIMIT).await
    };
    assert_eq!(job["status"], "completed", "{job}\n{}", stack.logs());
    let status =
        std::fs::read_to_string(root.join("var/lib/demo-probe/status")).expect("the probe ran");
    assert_eq!(status_field(&status, "NoNewPrivs"), Some("0"), "{status}");
    assert_eq!(status_field(&status, "Seccomp"), Some("0"), "{status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn dnf_lifecycle_install_failures_cancel_patches_apply_downgrade_and_remove() {
    lifecycle(SandboxKind::Dnf).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn yum_lifecycle_install_failures_cancel_patches_apply_downgrade_and_remove() {
    lifecycle(SandboxKind::Yum).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dnf_patches_shows_advisory_id_severity_and_cves() {
    advisory(SandboxKind::Dnf).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn yum_patches_shows_advisory_id_severity_and_cves() {
    advisory(SandboxKind::Yum).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dnf_scriptlets_run_unconfined() {
    unconfined(SandboxKind::Dnf).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn yum_scriptlets_run_unconfined() {
    unconfined(SandboxKind::Yum).await;
}
