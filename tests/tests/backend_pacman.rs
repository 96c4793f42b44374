//! The pacman backend end to end: real pacman on a sandbox root, through the real helper and frontend, over
//! real mTLS.
//!
//! pacman differs from apt and dnf in one way the scenario shows: "publishing" v2 only points the sandbox's
//! repository at it. The agent sees the updates after its own refresh (which syncs its listing database,
//! never the system's sync databases), and every upgrade — one package, a selection, or all — is a full
//! `-Syyu`, holding back what was not asked for with `--ignore`.

use lpa_testkit::fixtures::apt::Snapshot;
use lpa_testkit::fixtures::pacman::{PROBE_FILE, versions as v};
use lpa_testkit::sandbox::SandboxKind;
use lpa_tests::jobs::{changes, install, send, submit, wait};
use lpa_tests::scenario::{ProcMount, patch, start, status_field};
use lpa_tests::stack;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(90);

type Change = (String, Option<String>, Option<String>);

fn change(name: &str, from: Option<&str>, to: Option<&str>) -> Change {
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

/// The never-refreshed cache makes `GET /health` start a `cache_refresh` job (on pacman: a sync of the
/// agent's listing database); waits for it to complete, and checks the service is healthy.
async fn refresh_through_health(client: &lpa_client::ApiClient) {
    let health = client.health().await.expect("answer");
    assert_eq!(
        health.data()["cache_status"],
        "unknown",
        "{}",
        health.data()
    );
    let deadline = Instant::now() + LIMIT;
    loop {
        let resp = send(
            client,
            Method::GET,
            "/api/v1/jobs?operation=cache_refresh",
            None,
        )
        .await;
        let jobs = resp.data()["jobs"].as_array().cloned().unwrap_or_default();
        if let Some(job) = jobs.first() {
            let id = job["job_id"].as_str().expect("id");
            let job = wait(client, id, LIMIT).await;
            assert_eq!(job["status"], "completed", "{job}");
            let health = client.health().await.expect("answer");
            assert_eq!(health.data()["status"], "healthy", "{}", health.data());
            assert_eq!(health.data()["cache_status"], "fresh", "{}", health.data());
            return;
        }
        assert!(Instant::now() < deadline, "no cache_refresh job started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Install, list, failures (unknown, conflict, failing `post_install`), cancel, publish + refresh, patches,
/// update one package, apply the rest, remove.
#[tokio::test(flavor = "multi_thread")]
async fn pacman_lifecycle_install_failures_cancel_patches_update_apply_and_remove() {
    let mut stack = start(SandboxKind::Pacman, &["demo-lib", "demo-app", "demo-tool"]);
    let client = stack::client(&stack);

    let info = send(&client, Method::GET, "/api/v1/system/info", None).await;
    assert_eq!(info.data()["package_manager"], "pacman", "{}", info.data());

    // Install hello: completed, in the job's changes, in the package list.
    let job = wait(&client, &install(&client, "hello").await, LIMIT).await;
    assert_eq!(job["status"], "completed", "{job}\n{}", stack.logs());
    assert_eq!(changes(&job), [change("hello", None, Some(v::HELLO_V1))]);
    assert_eq!(
        stack.sandbox().installed_version("hello").as_deref(),
        Some(v::HELLO_V1)
    );
    let listed = send(&client, Method::GET, "/api/v1/packages?name=hello", None).await;
    assert_eq!(listed.data()["total"], 1, "{:?}", listed.envelope);
    assert_eq!(listed.data()["packages"][0]["version"], v::HELLO_V1);
    let app = client.package("demo-app").await.expect("answer");
    assert_eq!(
        app.data()["dependencies"],
        json!(["demo-lib"]),
        "{}",
        app.data()
    );

    // Unknown package.
    lpa_tests::jobs::install_refused(&client, "no-such-package").await;

    // A conflict is refused (pacman's default answer), never resolved by removing hello.
    let job = wait(&client, &install(&client, "demo-conflict").await, LIMIT).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["error_code"], "DEPENDENCY_CONFLICT", "{job}");
    assert!(changes(&job).is_empty(), "{job}");
    assert_eq!(
        stack.sandbox().installed_version("hello").as_deref(),
        Some(v::HELLO_V1)
    );

    // A failing post_install: pacman exits 0, the job still fails, with the output captured.
    let job = wait(&client, &install(&client, "demo-broken").await, LIMIT).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["error_code"], "PKG_MANAGER_ERROR", "{job}");
    assert_eq!(
        job["exit_code"], 0,
        "pacman exits 0 after a failing scriptlet: {job}"
    );
    assert!(
        job["command_stderr"]
            .to_string()
            .contains("command failed to execute correctly"),
        "{job}"
    );
    // The service keeps answering (health is checked after the publish below: its first call starts the
    // agent's first refresh).
    let info = send(&client, Method::GET, "/api/v1/system/info", None).await;
    assert_eq!(info.status, 200, "{:?}", info.envelope);

    // Cancel a pending job: removing hello waits behind demo-slow's 5 s post_install.
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
    assert_eq!(wait(&client, &slow, LIMIT).await["status"], "completed");
    assert_eq!(wait(&client, &queued, LIMIT).await["status"], "cancelled");
    assert_eq!(
        stack.sandbox().installed_version("hello").as_deref(),
        Some(v::HELLO_V1),
        "the cancelled job changed nothing"
    );
    assert_eq!(patches(&client).await["total"], 0);

    // The vendor publishes v2; the agent sees it after its refresh. pacman has no security data.
    stack
        .sandbox_mut()
        .publish(Snapshot::V2)
        .expect("publish v2");
    refresh_through_health(&client).await;
    let data = patches(&client).await;
    assert_eq!(data["total"], 4, "{data}");
    assert_eq!(data["security_updates"], 0, "{data}");
    let lib = patch(&data, "demo-lib");
    assert_eq!(lib["current_version"], v::DEMO_LIB_V1, "{lib}");
    assert_eq!(lib["available_version"], v::DEMO_LIB_V2, "{lib}");
    assert_eq!(
        (lib["security"].clone(), lib["severity"].clone()),
        (json!(false), json!("unknown"))
    );

    // Updating one package is a full upgrade that ignores the others: only hello changes.
    let job = finished(
        &client,
        send(&client, Method::PUT, "/api/v1/packages/hello", None).await,
    )
    .await;
    assert_eq!(job["status"], "completed", "{job}\n{}", stack.logs());
    assert_eq!(
        changes(&job),
        [change("hello", Some(v::HELLO_V1), Some(v::HELLO_V2))]
    );
    assert_eq!(
        stack.sandbox().installed_version("demo-lib").as_deref(),
        Some(v::DEMO_LIB_V1)
    );

    // Apply all: the other three, each with from/to; nothing left.
    let id = submit(
        &client,
        Method::POST,
        "/api/v1/patches/apply",
        Some(json!({"packages": null})),
    )
    .await;
    let job = wait(&client, &id, LIMIT).await;
    assert_eq!(job["status"], "completed", "{job}\n{}", stack.logs());
    assert_eq!(
        changes(&job),
        [
            change("demo-app", Some(v::DEMO_APP_V1), Some(v::DEMO_APP_V2)),
            change("demo-lib", Some(v::DEMO_LIB_V1), Some(v::DEMO_LIB_V2)),
            change("demo-tool", Some(v::DEMO_TOOL_V1), Some(v::DEMO_TOOL_V2)),
        ]
    );
    assert_eq!(patches(&client).await["total"], 0, "nothing left to patch");

    // Remove: gone from the local database and from the list.
    let job = finished(
        &client,
        send(&client, Method::DELETE, "/api/v1/packages/hello", None).await,
    )
    .await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(changes(&job), [change("hello", Some(v::HELLO_V2), None)]);
    assert_eq!(stack.sandbox().installed_version("hello"), None);
}

/// pacman's scriptlets are not confined by the helper's own confinement: no `no_new_privs`, no seccomp.
#[tokio::test(flavor = "multi_thread")]
async fn pacman_scriptlets_run_unconfined() {
    let stack = start(SandboxKind::Pacman, &[]);
    let client = stack::client(&stack);
    let root = stack.sandbox().root().to_owned();
    let job = {
        let _proc = ProcMount::at(&root);
        wait(&client, &install(&client, "demo-probe").await, LIMIT).await
    };
    assert_eq!(job["status"], "completed", "{job}\n{}", stack.logs());
    let status = std::fs::read_to_string(root.join(PROBE_FILE)).expect("the probe ran");
    assert_eq!(status_field(&status, "NoNewPrivs"), Some("0"), "{status}");
    assert_eq!(status_field(&status, "Seccomp"), Some("0"), "{status}");
}
