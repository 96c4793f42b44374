//! A package name means exactly that package on apt (issue 11): real apt/dpkg on a sandbox root, through
//! the real helper, over real mTLS.
//!
//! apt-get reads an install argument that names no package as a regular expression (`hell.` → `hello`),
//! then as a glob, and a trailing `-`/`+` as remove/install. The first test shows this with the real
//! apt-get on the sandbox, so the others can fail: the agent must resolve each name against the dpkg
//! database and apt's lists and hand apt only the exact `NAME:ARCH[=VERSION]` of a record it found.

use lpa_testkit::fixtures::apt::{Snapshot, versions};
use lpa_tests::jobs::{install, install_refused, refused_not_found, send, wait};
use lpa_tests::stack;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// Names the apt grammar accepts that apt would widen to `hello` (or read as a modifier of it).
const WIDENING: &[&str] = &[
    "hell.", "hello-", "hello+", "h.llo", "hel+o", "hello.", "he..o",
];

fn dpkg_status(stack: &lpa_testkit::harness::Stack) -> String {
    let root = stack
        .sandbox()
        .apt()
        .expect("an apt sandbox")
        .root()
        .to_owned();
    std::fs::read_to_string(root.join("var/lib/dpkg/status")).expect("dpkg status")
}

/// `apt-get -s install -- ARG` on the sandbox: the `Inst`/`Remv` lines apt would carry out.
fn simulated(stack: &lpa_testkit::harness::Stack, arg: &str) -> Vec<String> {
    let out = stack
        .sandbox()
        .apt()
        .expect("an apt sandbox")
        .apt_get(&["-s", "-q", "install", "--", arg])
        .expect("apt-get runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("Inst ") || l.starts_with("Remv "))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn real_apt_widens_unknown_names_and_takes_the_exact_form_literally() {
    let stack = stack::with_pending_updates();
    // The defect is real: apt itself turns these into `hello`.
    for arg in ["hell.", "hell.:all", "hell.:all=1.0", "hello+"] {
        let plan = simulated(&stack, arg);
        assert!(
            plan.iter().any(|l| l.starts_with("Inst hello ")),
            "{arg}: {plan:?}"
        );
    }
    // The agent's form of a record that exists selects exactly it, and a pin exactly that version.
    assert_eq!(simulated(&stack, "hello:all").len(), 1);
    let pinned = simulated(&stack, &format!("hello:all={}", versions::HELLO_V1));
    assert_eq!(pinned.len(), 1, "{pinned:?}");
    assert!(pinned[0].starts_with("Inst hello (1.0 "), "{pinned:?}");
    // An install argument `demo-lib-` is apt's "remove demo-lib"; the agent's `demo-lib:all` is not.
    let plan = simulated(&stack, "demo-lib-");
    assert!(
        plan.iter().any(|l| l.starts_with("Remv demo-lib ")),
        "{plan:?}"
    );
    let plan = simulated(&stack, "demo-lib:all");
    assert!(
        plan.iter().all(|l| !l.starts_with("Remv")) && plan.len() == 1,
        "{plan:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn widening_forms_are_404_at_request_time_and_install_nothing() {
    let stack = stack::plain();
    let client = stack::client(&stack);
    let before = dpkg_status(&stack);
    // Reads too: apt-cache widens `hell.` to `hello`, the detail view must not.
    for name in WIDENING {
        let resp = send(
            &client,
            Method::GET,
            &format!("/api/v1/packages/{name}"),
            None,
        )
        .await;
        assert_eq!(resp.status, 404, "{name}: {:?}", resp.envelope);
        assert_eq!(resp.error_code(), Some("PKG_NOT_FOUND"), "{name}");
    }
    let resp = send(&client, Method::GET, "/api/v1/packages/hello", None).await;
    assert_eq!(resp.status, 200, "{:?}", resp.envelope);
    for name in WIDENING {
        install_refused(&client, name).await;
        assert_eq!(
            dpkg_status(&stack),
            before,
            "{name} changed the dpkg database"
        );
    }
    // Mixed with a real name, the whole request is refused: nothing of it is installed.
    refused_not_found(
        &client,
        Method::POST,
        "/api/v1/packages",
        Some(json!({"packages": [{"name": "demo-tool"}, {"name": "hell."}]})),
    )
    .await;
    assert_eq!(dpkg_status(&stack), before);
    // Positive control: the exact name installs.
    let id = install(&client, "hello").await;
    let job = wait(&client, &id, LIMIT).await;
    assert_eq!(job["status"], "completed", "{job}\n{}", stack.logs());
    assert_eq!(
        stack.sandbox().installed_version("hello").as_deref(),
        Some(versions::HELLO_V1)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn widening_forms_of_remove_and_update_are_404_and_change_nothing() {
    let stack = stack::with_pending_updates();
    let client = stack::client(&stack);
    let before = dpkg_status(&stack);
    for name in ["demo-lib-", "demo-lib+", "demo-li.", "demo-.ib"] {
        for (method, path) in [
            (
                Method::DELETE,
                format!("/api/v1/packages/{name}?purge=true"),
            ),
            (Method::PUT, format!("/api/v1/packages/{name}")),
        ] {
            refused_not_found(&client, method.clone(), &path, None).await;
            assert_eq!(dpkg_status(&stack), before, "{method} {path}");
        }
    }
    // Positive control: the exact name is removed.
    let resp = send(&client, Method::DELETE, "/api/v1/packages/demo-app", None).await;
    let job = wait(&client, resp.data()["job_id"].as_str().expect("id"), LIMIT).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(stack.sandbox().installed_version("demo-app"), None);
    assert_eq!(
        stack.sandbox().installed_version("demo-lib").as_deref(),
        Some(versions::DEMO_LIB_V1)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pinned_version_installs_exactly_that_version_or_fails() {
    let mut stack = stack::plain();
    stack
        .sandbox_mut()
        .publish(Snapshot::V2)
        .expect("publish v2");
    let client = stack::client(&stack);
    let before = dpkg_status(&stack);
    for version in ["1.2", "1", "1.0-0", "0:1.0"] {
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
        assert_eq!(dpkg_status(&stack), before, "{version}");
    }
    // v2 offers 1.0 and 1.1 (the candidate): the pin selects the older one, exactly.
    let resp = send(
        &client,
        Method::POST,
        "/api/v1/packages",
        Some(json!({"packages": [{"name": "hello", "version": versions::HELLO_V1}]})),
    )
    .await;
    let job = wait(&client, resp.data()["job_id"].as_str().expect("id"), LIMIT).await;
    assert_eq!(job["status"], "completed", "{job}\n{}", stack.logs());
    assert_eq!(
        stack.sandbox().installed_version("hello").as_deref(),
        Some(versions::HELLO_V1)
    );
    // An update to an exact version that does not exist changes nothing; to one that does, exactly it.
    let resp = send(
        &client,
        Method::PUT,
        "/api/v1/packages/hello",
        Some(json!({"version": "1.3"})),
    )
    .await;
    let job = wait(&client, resp.data()["job_id"].as_str().expect("id"), LIMIT).await;
    assert_eq!(job["error_code"], "PKG_NOT_FOUND", "{job}");
    let resp = send(
        &client,
        Method::PUT,
        "/api/v1/packages/hello",
        Some(json!({"version": versions::HELLO_V2})),
    )
    .await;
    let job = wait(&client, resp.data()["job_id"].as_str().expect("id"), LIMIT).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(
        stack.sandbox().installed_version("hello").as_deref(),
        Some(versions::HELLO_V2)
    );
}

/// How many times the launcher ran the entry `kind` so far, from the helper's whole log.
fn executed(stack: &lpa_testkit::harness::Stack, kind: &str) -> usize {
    let log = std::fs::read_to_string(stack.work_dir().join("helper.log")).expect("helper log");
    let exact = format!("kind=\"{kind}\"");
    let bare = format!("kind={kind} ");
    log.lines()
        .filter(|l| l.contains("executed") && (l.contains(&exact) || l.contains(&bare)))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_package_details_run_no_root_process_until_the_package_state_changes() {
    let stack = stack::plain();
    let client = stack::client(&stack);
    let first = send(&client, Method::GET, "/api/v1/packages/hello", None).await;
    assert_eq!(first.status, 200, "{:?}", first.envelope);
    let after_first = executed(&stack, "apt_cache_show");
    assert!(
        after_first >= 1,
        "the first read asked apt-cache: {}",
        stack.logs()
    );
    for _ in 0..5 {
        let again = send(&client, Method::GET, "/api/v1/packages/hello", None).await;
        assert_eq!(again.data(), first.data());
    }
    assert_eq!(
        executed(&stack, "apt_cache_show"),
        after_first,
        "repeated reads of the same state ran apt-cache again"
    );
    // A change of the package state is seen: the next read looks again.
    let job = wait(&client, &install(&client, "hello").await, LIMIT).await;
    assert_eq!(job["status"], "completed", "{job}");
    let after = send(&client, Method::GET, "/api/v1/packages/hello", None).await;
    assert_eq!(after.data()["status"], "installed", "{}", after.data());
    assert!(executed(&stack, "apt_cache_show") > after_first);
}
