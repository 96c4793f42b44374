//! A package name means exactly that package on pacman (issue 11): real pacman on a sandbox root, through
//! the real helper, over real mTLS.
//!
//! The fixture `demo-tool` is in group `demo-group` and provides `demo-virtual`. The first test shows with
//! the real pacman that `-S` installs demo-tool for either name, even with the `demo/` prefix, so the
//! others can fail.

use lpa_testkit::fixtures::pacman::versions as v;
use lpa_testkit::sandbox::SandboxKind;
use lpa_tests::jobs::{install_refused, refused_not_found, send, wait};
use lpa_tests::scenario::start;
use lpa_tests::stack;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// Names pacman's grammar accepts that pacman would widen to demo-tool: its group and its provide.
const WIDENING: &[&str] = &["demo-group", "demo-virtual"];

#[tokio::test(flavor = "multi_thread")]
async fn real_pacman_widens_groups_and_provides() {
    let stack = start(SandboxKind::Pacman, &[]);
    let p = stack.sandbox().pacman().expect("a pacman sandbox");
    p.pacman_checked(&["-Sy"]).expect("sync");
    let plan = |arg: &str| {
        let out = p
            .pacman(&["-S", "--print", "--print-format", "%n %v", "--", arg])
            .expect("pacman runs");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    for arg in [
        "demo-group",
        "demo-virtual",
        "demo/demo-group",
        "demo/demo-virtual",
    ] {
        assert_eq!(plan(arg), format!("demo-tool {}", v::DEMO_TOOL_V1), "{arg}");
    }
    // The agent's form of a package that exists selects exactly it.
    assert_eq!(
        plan(&format!("demo/demo-tool={}", v::DEMO_TOOL_V1)),
        format!("demo-tool {}", v::DEMO_TOOL_V1)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn groups_and_provides_install_and_remove_nothing_and_pins_are_exact() {
    let stack = start(SandboxKind::Pacman, &["hello"]);
    let client = stack::client(&stack);
    for name in WIDENING {
        install_refused(&client, name).await;
        assert_eq!(
            stack.sandbox().installed_version("demo-tool"),
            None,
            "{name}"
        );
        for method in [Method::DELETE, Method::PUT] {
            refused_not_found(&client, method, &format!("/api/v1/packages/{name}"), None).await;
        }
    }
    // A version the repository does not list installs nothing.
    let resp = send(
        &client,
        Method::POST,
        "/api/v1/packages",
        Some(json!({"packages": [{"name": "demo-tool", "version": v::DEMO_TOOL_V2}]})),
    )
    .await;
    let job = wait(&client, resp.data()["job_id"].as_str().expect("id"), LIMIT).await;
    assert_eq!(job["error_code"], "PKG_NOT_FOUND", "{job}");
    assert_eq!(stack.sandbox().installed_version("demo-tool"), None);
    // Positive controls: the exact name at the listed version installs, and hello is still there.
    let resp = send(
        &client,
        Method::POST,
        "/api/v1/packages",
        Some(json!({"packages": [{"name": "demo-tool", "version": v::DEMO_TOOL_V1}]})),
    )
    .await;
    let job = wait(&client, resp.data()["job_id"].as_str().expect("id"), LIMIT).await;
    assert_eq!(job["status"], "completed", "{job}\n{}", stack.logs());
    assert_eq!(
        stack.sandbox().installed_version("demo-tool").as_deref(),
        Some(v::DEMO_TOOL_V1)
    );
    assert_eq!(
        stack.sandbox().installed_version("hello").as_deref(),
        Some(v::HELLO_V1)
    );
}
