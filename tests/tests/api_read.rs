//! Read endpoints over real mTLS against the real two processes and the sandbox's real dpkg database.

use lpa_testkit::fixtures::apt::versions;
use lpa_tests::stack;
use serde_json::Value;

fn assert_envelope(resp: &lpa_client::ApiResponse) {
    let env = &resp.envelope;
    assert_eq!(
        resp.request_id_header.as_deref(),
        Some(env.request_id.as_str()),
        "X-Request-Id equals request_id"
    );
    assert_eq!(
        env.request_id.len(),
        36,
        "request_id is a UUID: {}",
        env.request_id
    );
    assert!(
        env.timestamp.ends_with('Z'),
        "RFC 3339 UTC: {}",
        env.timestamp
    );
    assert_eq!(env.success, (200..300).contains(&resp.status));
    assert_eq!(env.success, env.error.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn health_is_enveloped_at_both_paths_and_reports_the_helper() {
    let stack = stack::plain();
    let client = stack::client(&stack);
    for path in ["/health", "/api/v1/health"] {
        let resp = client.get(path).await.expect("answer");
        assert_eq!(resp.status, 200, "{path}\n{}", stack.logs());
        assert_envelope(&resp);
        let data = resp.data();
        assert_eq!(data["status"], "healthy", "{data}");
        assert_eq!(data["checks"]["helper"], "ok", "{data}");
        assert_eq!(data["checks"]["package_manager"], "apt", "{data}");
        assert_eq!(data["confinement"]["frontend"]["uid"], 61001, "{data}");
        assert_eq!(
            data["confinement"]["frontend"]["capabilities"],
            serde_json::json!([]),
            "{data}"
        );
        assert!(data["uptime_seconds"].is_u64(), "{data}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn system_info_reports_the_host_and_the_package_manager() {
    let stack = stack::plain();
    let resp = stack::client(&stack).system_info().await.expect("answer");
    assert_eq!(resp.status, 200, "{}", stack.logs());
    assert_envelope(&resp);
    let data = resp.data();
    let uname = nix::sys::utsname::uname().expect("uname");
    assert_eq!(data["kernel"], uname.release().to_string_lossy().as_ref());
    assert_eq!(
        data["architecture"],
        uname.machine().to_string_lossy().as_ref()
    );
    assert_eq!(data["package_manager"], "apt");
    assert_eq!(data["api_version"], "v1");
    assert!(
        !data["os"]["id"].as_str().unwrap_or("").is_empty(),
        "{data}"
    );
    assert!(data["uptime_seconds"].as_u64().unwrap_or(0) > 0, "{data}");
    let reboot = &data["reboot_required"];
    assert!(reboot.is_boolean() || reboot.is_null(), "{data}");
    assert!(data["reboot_required_reason"].is_string() || reboot == &Value::Bool(false));
}

#[tokio::test(flavor = "multi_thread")]
async fn package_list_matches_the_sandbox_dpkg_database() {
    let stack = stack::with_pending_updates();
    let resp = stack::client(&stack)
        .packages(&Default::default())
        .await
        .expect("answer");
    assert_eq!(resp.status, 200, "{}", stack.logs());
    assert_envelope(&resp);
    let data = resp.data();
    let installed: Vec<_> = stack
        .sandbox()
        .apt()
        .expect("an apt sandbox")
        .dpkg_entries()
        .expect("dpkg status")
        .into_iter()
        .filter(|e| e.is_installed())
        .collect();
    assert_eq!(data["total"], installed.len(), "{data}");
    let packages = data["packages"].as_array().expect("packages");
    for entry in &installed {
        let p = packages
            .iter()
            .find(|p| p["name"] == entry.package.as_str())
            .unwrap_or_else(|| panic!("{} missing from {data}", entry.package));
        assert_eq!(p["version"], entry.version.as_str());
    }
    let app = packages
        .iter()
        .find(|p| p["name"] == "demo-app")
        .expect("demo-app");
    assert_eq!(app["version"], versions::DEMO_APP_V1);
    assert_eq!(app["status"], "upgradable");
    assert_eq!(app["upgradable"], true);
    assert_eq!(app["available_version"], versions::DEMO_APP_V2);
    assert_eq!(app["dependencies"], serde_json::json!(["demo-lib"]));
    assert!(
        packages.iter().all(|p| p["name"] != "hello"),
        "hello is not installed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn upgradable_filter_sort_and_pagination() {
    let stack = stack::with_pending_updates();
    let client = stack::client(&stack);
    let query = lpa_client::PackageQuery {
        status: Some("upgradable".into()),
        sort: Some("name".into()),
        order: Some("desc".into()),
        ..Default::default()
    };
    let resp = client.packages(&query).await.expect("answer");
    assert_eq!(resp.status, 200, "{}", stack.logs());
    let names: Vec<_> = resp.data()["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| p["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(names, ["demo-tool", "demo-lib", "demo-app"]);

    let page = client
        .packages(&lpa_client::PackageQuery {
            limit: Some(1),
            offset: Some(1),
            ..query.clone()
        })
        .await
        .expect("answer");
    assert_eq!(page.data()["total"], 3);
    assert_eq!(page.data()["limit"], 1);
    assert_eq!(page.data()["offset"], 1);
    assert_eq!(page.data()["packages"][0]["name"], "demo-lib");
    assert_eq!(
        page.data()["packages"][0]["available_version"],
        versions::DEMO_LIB_SECURITY
    );
    assert_eq!(page.data()["packages"][0]["source"], "bookworm-security");

    let glob = client
        .packages(&lpa_client::PackageQuery {
            name: Some("demo-?ib*".into()),
            ..Default::default()
        })
        .await
        .expect("answer");
    assert_eq!(glob.data()["total"], 1, "{}", glob.data());
}

#[tokio::test(flavor = "multi_thread")]
async fn package_detail_of_installed_and_available_packages() {
    let stack = stack::with_pending_updates();
    let client = stack::client(&stack);

    let lib = client.package("demo-lib").await.expect("answer");
    assert_eq!(lib.status, 200, "{}", stack.logs());
    assert_envelope(&lib);
    assert_eq!(lib.data()["version"], versions::DEMO_LIB_V1);
    assert_eq!(lib.data()["status"], "upgradable");
    assert_eq!(lib.data()["available_version"], versions::DEMO_LIB_SECURITY);
    assert!(lib.data()["maintainer"].is_string(), "{}", lib.data());

    let hello = client.package("hello").await.expect("answer");
    assert_eq!(hello.status, 200, "{}", stack.logs());
    assert_eq!(hello.data()["status"], "available");
    assert_eq!(hello.data()["upgradable"], false);
    assert_eq!(hello.data()["available_version"], versions::HELLO_V2);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_package_is_pkg_not_found() {
    let stack = stack::plain();
    let resp = stack::client(&stack)
        .package("no-such-package")
        .await
        .expect("answer");
    assert_eq!(resp.status, 404, "{}", stack.logs());
    assert_envelope(&resp);
    assert_eq!(resp.error_code(), Some("PKG_NOT_FOUND"));
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_route_and_wrong_method_are_enveloped() {
    let stack = stack::plain();
    let client = stack::client(&stack);
    let resp = client.get("/api/v1/nope").await.expect("answer");
    assert_eq!(resp.status, 404);
    assert_envelope(&resp);
    assert_eq!(resp.error_code(), Some("NOT_FOUND"));

    let resp = client
        .request(reqwest::Method::PATCH, "/api/v1/packages", &[], None)
        .await
        .expect("answer");
    assert_eq!(resp.status, 405);
    assert_envelope(&resp);
    assert_eq!(resp.error_code(), Some("METHOD_NOT_ALLOWED"));
    let allow = resp.allow_header.expect("Allow header");
    assert!(allow.contains("GET"), "{allow}");
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_query_values_are_invalid_request() {
    let stack = stack::plain();
    let client = stack::client(&stack);
    for (k, v) in [
        ("status", "bogus"),
        ("limit", "0"),
        ("limit", "1001"),
        ("limit", "ten"),
        ("offset", "-1"),
        ("sort", "colour"),
        ("order", "up"),
    ] {
        let resp = client
            .request(
                reqwest::Method::GET,
                "/api/v1/packages",
                &[(k, v.to_owned())],
                None,
            )
            .await
            .expect("answer");
        assert_eq!(resp.status, 400, "{k}={v}");
        assert_envelope(&resp);
        assert_eq!(resp.error_code(), Some("INVALID_REQUEST"), "{k}={v}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn service_status_answers_truthfully_for_this_host() {
    let stack = stack::plain();
    let resp = stack::client(&stack).service("ssh").await.expect("answer");
    assert_envelope(&resp);
    let has_manager = std::path::Path::new("/run/systemd/system").exists()
        || std::path::Path::new("/run/openrc").exists();
    if has_manager {
        assert!(
            matches!(
                (resp.status, resp.error_code()),
                (200, None) | (404, Some("SERVICE_NOT_FOUND"))
            ),
            "{} {:?}",
            resp.status,
            resp.error_code()
        );
    } else {
        assert_eq!(resp.status, 503, "{}", stack.logs());
        assert_eq!(resp.error_code(), Some("SERVICE_UNHEALTHY"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn helper_marks_only_security_suite_updates_as_security() {
    use lpa_protocol::{Operation, Outcome, ServerMessage};
    let stack = stack::with_pending_updates();
    let answer = lpa_tests::helper_socket::call(stack.helper_socket(), Operation::ListUpgradable)
        .expect("helper answers");
    let ServerMessage::Response {
        result: Ok(Outcome::Upgradable(list)),
        ..
    } = answer
    else {
        panic!("unexpected answer {answer:?}\n{}", stack.logs());
    };
    let summary: Vec<_> = list
        .iter()
        .map(|u| {
            (
                u.name.as_str(),
                u.current_version.as_deref(),
                u.available_version.as_str(),
                u.security,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "demo-app",
                Some(versions::DEMO_APP_V1),
                versions::DEMO_APP_V2,
                false
            ),
            (
                "demo-lib",
                Some(versions::DEMO_LIB_V1),
                versions::DEMO_LIB_SECURITY,
                true
            ),
            (
                "demo-tool",
                Some(versions::DEMO_TOOL_V1),
                versions::DEMO_TOOL_V2,
                false
            ),
        ]
    );
    let lib = list
        .iter()
        .find(|u| u.name == "demo-lib")
        .expect("demo-lib");
    assert_eq!(lib.sources, ["bookworm-security"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn package_list_follows_changes_to_the_database() {
    // The frontend reuses its merged list while the helper's package-state fingerprint is unchanged; a
    // change to the real dpkg database must show up in the very next request.
    let stack = stack::with_pending_updates();
    let client = stack::client(&stack);
    let before = client.packages(&Default::default()).await.expect("answer");
    assert_eq!(before.data()["total"], 3, "{}", stack.logs());
    lpa_testkit::bulk::write_dpkg_status(stack.sandbox().root(), 50).expect("bulk entries");
    let after = client.packages(&Default::default()).await.expect("answer");
    assert_eq!(after.status, 200, "{}", stack.logs());
    assert_eq!(after.data()["total"], 53, "{}", after.data());
}
