//! A package name means exactly that package on dnf and yum (issue 11): real dnf/rpm on a sandbox root,
//! through the real helper, over real mTLS, once per front end.
//!
//! dnf reads `hello-1.1` as hello at version 1.1 (a NEVRA form), and an argument naming no package as a
//! provide or file. The first test shows the widening with the real dnf, so the others can fail.

use lpa_testkit::fixtures::apt::Snapshot;
use lpa_testkit::sandbox::SandboxKind;
use lpa_tests::jobs::{install_refused, refused_not_found, send, wait};
use lpa_tests::scenario_dnf::{evr, start};
use lpa_tests::stack;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(90);

/// Names dnf's grammar accepts that dnf would widen to `hello` (name-version and name.arch forms).
const WIDENING: &[&str] = &[
    "hello-1.0",
    "hello-1.0-1",
    "hello.noarch",
    "hello-1.0-1.noarch",
];

async fn total_installed(client: &lpa_client::ApiClient) -> serde_json::Value {
    let resp = send(
        client,
        Method::GET,
        "/api/v1/packages?status=installed",
        None,
    )
    .await;
    assert_eq!(resp.status, 200, "{:?}", resp.envelope);
    resp.data()["total"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn real_dnf_widens_name_version_forms() {
    let stack = start(SandboxKind::Dnf, &[]);
    let dnf = stack.sandbox().dnf().expect("a dnf sandbox");
    for arg in ["hello-1.0", "hello.noarch"] {
        let out = dnf
            .dnf(&["--assumeno", "install", "--", arg])
            .expect("dnf runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with("hello ") && l.contains("1.0-1")),
            "{arg}: {text}"
        );
    }
    // The agent's pinned form selects exactly that record.
    let out = dnf
        .dnf(&["--assumeno", "install", "--", "hello-0:1.0-1"])
        .expect("dnf runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1.0-1"), "{text}");
}

async fn widening_forms_install_nothing(kind: SandboxKind) {
    let mut stack = start(kind, &[]);
    stack
        .sandbox_mut()
        .publish(Snapshot::V2)
        .expect("publish v2");
    let client = stack::client(&stack);
    let before = total_installed(&client).await;
    for name in WIDENING {
        install_refused(&client, name).await;
        assert_eq!(stack.sandbox().installed_version("hello"), None, "{name}");
        assert_eq!(total_installed(&client).await, before, "{name}");
    }
    for version in ["1.3", "1", "1.0-2", "1:1.0-1"] {
        let resp = send(
            &client,
            Method::POST,
            "/api/v1/packages",
            Some(json!({"packages": [{"name": "hello", "version": version}]})),
        )
        .await;
        assert_eq!(resp.status, 202, "{version}: {:?}", resp.envelope);
        let job = wait(&client, resp.data()["job_id"].as_str().expect("id"), LIMIT).await;
        assert_eq!(job["error_code"], "PKG_NOT_FOUND", "{version}: {job}");
        assert_eq!(
            stack.sandbox().installed_version("hello"),
            None,
            "{version}"
        );
    }
    // Positive controls: v2 offers hello 1.0 and 1.1; a pin selects the older one exactly, and an
    // update to an exact version moves to exactly that one.
    let resp = send(
        &client,
        Method::POST,
        "/api/v1/packages",
        Some(json!({"packages": [{"name": "hello", "version": "1.0"}]})),
    )
    .await;
    let job = wait(&client, resp.data()["job_id"].as_str().expect("id"), LIMIT).await;
    assert_eq!(job["status"], "completed", "{job}\n{}", stack.logs());
    assert_eq!(
        stack.sandbox().installed_version("hello").as_deref(),
        Some(evr::HELLO_V1_EVR)
    );
    let resp = send(
        &client,
        Method::PUT,
        "/api/v1/packages/hello",
        Some(json!({"version": "1.1-1"})),
    )
    .await;
    let job = wait(&client, resp.data()["job_id"].as_str().expect("id"), LIMIT).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(
        stack.sandbox().installed_version("hello").as_deref(),
        Some(evr::HELLO_V2_EVR)
    );
    // Removing or updating a widening form is refused at request time and changes nothing.
    for name in ["hello-1.1", "hello.noarch"] {
        for method in [Method::DELETE, Method::PUT] {
            refused_not_found(&client, method, &format!("/api/v1/packages/{name}"), None).await;
        }
        assert_eq!(
            stack.sandbox().installed_version("hello").as_deref(),
            Some(evr::HELLO_V2_EVR)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dnf_widening_forms_install_and_remove_nothing_and_pins_are_exact() {
    widening_forms_install_nothing(SandboxKind::Dnf).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn yum_widening_forms_install_and_remove_nothing_and_pins_are_exact() {
    widening_forms_install_nothing(SandboxKind::Yum).await;
}
