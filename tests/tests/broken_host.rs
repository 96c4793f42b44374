//! A broken host degrades, it does not fail the reads (issue 11, item 4): real apt/dpkg on a sandbox root
//! whose dpkg database has an unmet dependency (demo-app installed, demo-lib removed with
//! `--force-depends`, what a failed or forced operation leaves behind), through the real helper.

use lpa_tests::jobs::{install, send, wait};
use lpa_tests::stack;
use reqwest::Method;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn dpkg_status(stack: &lpa_testkit::harness::Stack) -> String {
    let root = stack
        .sandbox()
        .apt()
        .expect("an apt sandbox")
        .root()
        .to_owned();
    std::fs::read_to_string(root.join("var/lib/dpkg/status")).expect("dpkg status")
}

/// Removes demo-lib behind apt's back, leaving demo-app's dependency unmet.
fn break_the_database(stack: &lpa_testkit::harness::Stack) {
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
    let check = apt
        .apt_get(&["-s", "-q", "dist-upgrade"])
        .expect("apt-get runs");
    assert_eq!(
        check.status.code(),
        Some(100),
        "apt itself refuses: {check:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unmet_dependency_degrades_health_and_patches_but_the_list_still_answers() {
    let stack = stack::with_pending_updates();
    let client = stack::client(&stack);
    // Positive control: healthy before.
    let health = client.health().await.expect("answer");
    assert_eq!(health.data()["status"], "healthy", "{}", health.data());
    let listed = send(&client, Method::GET, "/api/v1/packages?name=demo-app", None).await;
    assert_eq!(
        listed.data()["packages"][0]["upgradable"],
        true,
        "{}",
        listed.data()
    );

    break_the_database(&stack);

    // The list answers 200 from the database; whether anything is upgradable is unknown (null).
    let listed = send(&client, Method::GET, "/api/v1/packages", None).await;
    assert_eq!(
        listed.status,
        200,
        "{:?}\n{}",
        listed.envelope,
        stack.logs()
    );
    let packages = listed.data()["packages"]
        .as_array()
        .expect("packages")
        .clone();
    let app = packages
        .iter()
        .find(|p| p["name"] == "demo-app")
        .expect("demo-app listed");
    assert_eq!(app["status"], "installed", "{app}");
    assert!(app["upgradable"].is_null(), "{app}");
    assert!(app["available_version"].is_null(), "{app}");
    assert!(
        packages.iter().all(|p| p["name"] != "demo-lib"),
        "{packages:?}"
    );

    // Health names the breakage and is degraded (still HTTP 200).
    let health = client.health().await.expect("answer");
    assert_eq!(health.status, 200);
    assert_eq!(health.data()["status"], "degraded", "{}", health.data());
    let pm = health.data()["checks"]["package_manager"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(pm.contains("demo-app") && pm.contains("demo-lib"), "{pm}");

    // Patches: a typed error that says the system needs repair.
    let patches = send(&client, Method::GET, "/api/v1/patches", None).await;
    assert_eq!(patches.status, 409, "{:?}", patches.envelope);
    assert_eq!(patches.error_code(), Some("SYSTEM_NEEDS_REPAIR"));

    // A change fails cleanly and changes nothing.
    let before = dpkg_status(&stack);
    let job = wait(&client, &install(&client, "hello").await, LIMIT).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(stack.sandbox().installed_version("hello"), None);
    assert_eq!(dpkg_status(&stack), before, "nothing changed");
    let apply = send(
        &client,
        Method::POST,
        "/api/v1/patches/apply",
        Some(serde_json::json!({"packages": ["demo-tool"]})),
    )
    .await;
    assert_eq!(apply.status, 202, "{:?}", apply.envelope);
    let job = wait(&client, apply.data()["job_id"].as_str().expect("id"), LIMIT).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["error_code"], "DEPENDENCY_CONFLICT", "{job}");
    assert_eq!(dpkg_status(&stack), before, "nothing changed");
}

#[tokio::test(flavor = "multi_thread")]
async fn pacman_with_an_unmet_dependency_degrades_the_same_way() {
    let stack =
        lpa_tests::scenario::start(lpa_testkit::sandbox::SandboxKind::Pacman, &["demo-app"]);
    let client = stack::client(&stack);
    let health = client.health().await.expect("answer");
    assert_eq!(health.data()["status"], "healthy", "{}", health.data());
    // demo-lib removed behind pacman's dependency checks (`-Rdd`), demo-app still needs it.
    let p = stack.sandbox().pacman().expect("a pacman sandbox");
    p.pacman_checked(&["-Rdd", "demo-lib"])
        .expect("forced removal");
    let local = || {
        std::fs::read_dir(stack.sandbox().root().join("var/lib/pacman/local"))
            .expect("local db")
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect::<std::collections::BTreeSet<_>>()
    };
    let before = local();

    let listed = send(&client, Method::GET, "/api/v1/packages", None).await;
    assert_eq!(
        listed.status,
        200,
        "{:?}\n{}",
        listed.envelope,
        stack.logs()
    );
    let packages = listed.data()["packages"]
        .as_array()
        .expect("packages")
        .clone();
    let app = packages
        .iter()
        .find(|p| p["name"] == "demo-app")
        .expect("demo-app listed");
    assert!(app["upgradable"].is_null(), "{app}");

    let health = client.health().await.expect("answer");
    assert_eq!(health.data()["status"], "degraded", "{}", health.data());
    let pm = health.data()["checks"]["package_manager"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(pm.contains("demo-lib") && pm.contains("demo-app"), "{pm}");

    let patches = send(&client, Method::GET, "/api/v1/patches", None).await;
    assert_eq!(patches.status, 409, "{:?}", patches.envelope);
    assert_eq!(patches.error_code(), Some("SYSTEM_NEEDS_REPAIR"));

    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/packages",
            Some(serde_json::json!({"packages": [{"name": "hello"}]})),
        ),
        (
            Method::POST,
            "/api/v1/patches/apply",
            Some(serde_json::json!({})),
        ),
    ] {
        let resp = send(&client, method, path, body).await;
        assert_eq!(resp.status, 202, "{path}: {:?}", resp.envelope);
        let job = wait(&client, resp.data()["job_id"].as_str().expect("id"), LIMIT).await;
        assert_eq!(job["status"], "failed", "{path}: {job}");
        assert_eq!(job["error_code"], "DEPENDENCY_CONFLICT", "{path}: {job}");
        assert_eq!(local(), before, "{path} changed nothing");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dnf_with_an_unmet_dependency_degrades_the_same_way() {
    let stack =
        lpa_tests::scenario_dnf::start(lpa_testkit::sandbox::SandboxKind::Dnf, &["demo-app"]);
    let client = stack::client(&stack);
    let health = client.health().await.expect("answer");
    assert_eq!(health.data()["status"], "healthy", "{}", health.data());
    // demo-lib erased behind rpm's dependency checks (`--nodeps`), demo-app still requires it.
    let dnf = stack.sandbox().dnf().expect("a dnf sandbox");
    let root = stack.sandbox().root().display().to_string();
    let out = dnf
        .command("rpm")
        .args([
            format!("--root={root}"),
            "--dbpath=/var/lib/rpm".to_owned(),
            "-e".to_owned(),
            "--nodeps".to_owned(),
            "demo-lib".to_owned(),
        ])
        .output()
        .expect("rpm runs");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stack.sandbox().installed_version("demo-lib"), None);

    let listed = send(&client, Method::GET, "/api/v1/packages", None).await;
    assert_eq!(
        listed.status,
        200,
        "{:?}\n{}",
        listed.envelope,
        stack.logs()
    );
    let packages = listed.data()["packages"]
        .as_array()
        .expect("packages")
        .clone();
    let app = packages
        .iter()
        .find(|p| p["name"] == "demo-app")
        .expect("demo-app listed");
    assert!(app["upgradable"].is_null(), "{app}");

    let health = client.health().await.expect("answer");
    assert_eq!(health.data()["status"], "degraded", "{}", health.data());
    let pm = health.data()["checks"]["package_manager"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(pm.contains("demo-lib") && pm.contains("demo-app"), "{pm}");

    let patches = send(&client, Method::GET, "/api/v1/patches", None).await;
    assert_eq!(patches.status, 409, "{:?}", patches.envelope);
    assert_eq!(patches.error_code(), Some("SYSTEM_NEEDS_REPAIR"));

    let job = wait(&client, &install(&client, "hello").await, LIMIT).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["error_code"], "DEPENDENCY_CONFLICT", "{job}");
    assert_eq!(
        stack.sandbox().installed_version("hello"),
        None,
        "nothing changed"
    );
}
