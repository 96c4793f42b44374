//! The whole request path (`respond`) against a broker stand-in on a real Unix socket.

use super::*;
use crate::conn::{ClientIdentity, ConnInfo};
use crate::helper_client::fake_broker::{FakeBroker, HelloMode, Reply};
use http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use lpa_protocol::Operation;
use lpa_protocol::{
    Backend, HelperError, HostInfo, OsRelease, Outcome, PackageDetail, PackageRecord,
    RebootRequired, ServiceState, ServiceStatus, UpgradablePackage,
};
use serde_json::Value;

mod jobs;

struct Harness {
    dir: tempfile::TempDir,
    state: Arc<AppState>,
    conn: ConnInfo,
}

impl Harness {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::new(ApiSettings {
            helper_socket: dir.path().join("helper.sock"),
            helper_timeout: Duration::from_secs(5),
            max_body_bytes: 1024,
            body_timeout: Duration::from_secs(2),
            server_cert_not_after: Some(
                time::OffsetDateTime::now_utc() + time::Duration::days(365),
            ),
            jobs: crate::jobs::JobSettings {
                state_dir: Some(dir.path().join("state")),
                cancel_answer_window: Duration::from_millis(300),
                ..Default::default()
            },
            require_empty_bounding_set: false,
            ..Default::default()
        });
        let conn = ConnInfo {
            peer: "127.0.0.1:50000".parse().unwrap(),
            identity: Arc::new(ClientIdentity {
                common_name: Some("ops".into()),
                ..ClientIdentity::default()
            }),
            live: crate::reload::live::LiveEntry::detached(),
        };
        Harness { dir, state, conn }
    }

    fn broker(&self, backend: Backend) -> FakeBroker {
        FakeBroker::start(
            &self.dir.path().join("helper.sock"),
            HelloMode::Ack(backend),
            answer,
        )
    }

    async fn send(&self, method: Method, uri: &str) -> (StatusCode, http::HeaderMap, Value) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(http_body_util::Full::new(Bytes::new()))
            .unwrap();
        self.send_req(req).await
    }

    async fn send_req<B>(&self, req: Request<B>) -> (StatusCode, http::HeaderMap, Value)
    where
        B: Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let resp = respond(&self.state, &self.conn, req).await;
        let (parts, body) = resp.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let json: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            parts.headers["x-request-id"].to_str().unwrap(),
            json["request_id"].as_str().unwrap(),
            "X-Request-Id equals the envelope's request_id"
        );
        assert_eq!(json["success"], parts.status.is_success());
        (parts.status, parts.headers, json)
    }
}

fn record(name: &str, version: &str) -> PackageRecord {
    PackageRecord {
        name: name.into(),
        version: version.into(),
        architecture: "all".into(),
        description: "demo".into(),
        size_bytes: Some(10),
        ..PackageRecord::default()
    }
}

/// The broker stand-in's answers: a tiny host with three packages.
fn answer(op: &Operation) -> Reply {
    Reply::Answer(match op {
        Operation::Ping => Ok(Outcome::Pong),
        Operation::SystemInfo => Ok(Outcome::SystemInfo(HostInfo {
            hostname: "testhost".into(),
            os: OsRelease {
                id: "debian".into(),
                name: "Debian GNU/Linux".into(),
                version: Some("12".into()),
                codename: Some("bookworm".into()),
                ..OsRelease::default()
            },
            kernel: "6.18.0".into(),
            architecture: "x86_64".into(),
            uptime_seconds: 100,
            package_manager: Backend::Apt,
            reboot_required: RebootRequired::No,
        })),
        Operation::ServiceStatus { name } => match name.as_str() {
            "ssh" => Ok(Outcome::ServiceStatus(ServiceStatus {
                name: "ssh".into(),
                display_name: "OpenSSH".into(),
                active_state: "active".into(),
                sub_state: "running".into(),
                load_state: "loaded".into(),
                enabled_state: "enabled".into(),
                main_pid: Some(1),
                state: ServiceState::Healthy,
            })),
            "nosystemd" => Err(HelperError::ServiceManagerUnavailable {
                reason: "no systemd or OpenRC".into(),
            }),
            other => Err(HelperError::ServiceNotFound { name: other.into() }),
        },
        Operation::PackageStateStamp => Ok(Outcome::PackageStateStamp(1)),
        Operation::ListInstalled => Ok(Outcome::Installed(vec![
            record("demo-app", "1.0"),
            record("demo-hello", "1.0"),
            record("demo-lib", "1.0"),
        ])),
        Operation::ListUpgradable => Ok(Outcome::Upgradable(vec![UpgradablePackage {
            name: "demo-hello".into(),
            current_version: Some("1.0".into()),
            available_version: "1.1".into(),
            architecture: Some("all".into()),
            sources: vec!["security".into()],
            security: true,
            advisory: None,
        }])),
        Operation::PackageDetail { name } => match name.as_str() {
            "demo-hello" => Ok(Outcome::PackageDetail(PackageDetail {
                installed: Some(record("demo-hello", "1.0")),
                candidate: Some(record("demo-hello", "1.1")),
            })),
            // Available, not installed: what the job tests install.
            "hello" => Ok(Outcome::PackageDetail(PackageDetail {
                installed: None,
                candidate: Some(record("hello", "1.0")),
            })),
            "ghost" => Ok(Outcome::PackageDetail(PackageDetail {
                installed: None,
                candidate: None,
            })),
            other => Err(HelperError::PackageNotFound { name: other.into() }),
        },
        _ => Err(HelperError::Internal {
            message: "unexpected".into(),
        }),
    })
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn health_is_healthy_with_helper_and_reports_frontend_confinement() {
    let h = Harness::new();
    let _b = h.broker(Backend::Apt);
    for path in ["/health", "/api/v1/health"] {
        let (status, _, v) = h.send(Method::GET, path).await;
        assert_eq!(status, StatusCode::OK);
        let d = &v["data"];
        assert_eq!(d["status"], "healthy", "{d}");
        assert_eq!(d["checks"]["helper"], "ok");
        assert_eq!(d["checks"]["package_manager"], "apt");
        assert_eq!(d["checks"]["certificates"], "ok");
        assert_eq!(d["checks"]["config"], "ok");
        assert_eq!(d["checks"]["job_queue"], "ok");
        assert_eq!(d["cache_status"], "unknown");
        assert!(d["last_cache_update"].is_null());
        assert_eq!(d["version"], env!("CARGO_PKG_VERSION"));
        assert!(d["uptime_seconds"].is_u64());
        let fe = &d["confinement"]["frontend"];
        assert_eq!(fe["uid"], nix::unistd::geteuid().as_raw());
        assert!(fe["capabilities"].is_array());
        assert!(d["confinement"]["broker"].is_null());
        assert!(d["confinement"]["launcher"].is_null());
    }
}

#[tokio::test]
async fn health_with_helper_down_is_degraded_but_still_200() {
    let h = Harness::new();
    let (status, _, v) = h.send(Method::GET, "/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["data"]["status"], "degraded");
    let helper = v["data"]["checks"]["helper"].as_str().unwrap();
    assert!(helper.contains("cannot connect"), "{helper}");
}

/// `GET path` until it answers 200 or two seconds pass: the frontend notices a returned helper within
/// its reconnect interval (`api::health_state`), not on the very next request.
async fn get_until_ok(h: &Harness, path: &str) -> (StatusCode, Value) {
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        let (status, _, v) = h.send(Method::GET, path).await;
        if status == StatusCode::OK || std::time::Instant::now() > deadline {
            return (status, v);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn helper_restart_recovers_without_restarting_the_frontend() {
    let h = Harness::new();
    let (status, _, v) = h.send(Method::GET, "/api/v1/system/info").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(code(&v), "HELPER_UNAVAILABLE");
    assert_eq!(v["error"]["retryable"], true);
    let broker = h.broker(Backend::Apt);
    let (status, v) = get_until_ok(&h, "/api/v1/system/info").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["hostname"], "testhost");
    assert_eq!(v["data"]["reboot_required"], false);
    assert_eq!(v["data"]["api_version"], "v1");
    drop(broker);
    let _again = h.broker(Backend::Apt);
    let (status, v) = get_until_ok(&h, "/api/v1/system/info").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "stale pooled connection is replaced: {v}"
    );
}

#[tokio::test]
async fn unknown_route_is_404_and_wrong_method_is_405_with_allow() {
    let h = Harness::new();
    let (status, _, v) = h.send(Method::GET, "/api/v1/nothing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(code(&v), "NOT_FOUND");
    assert!(v["data"].is_null());
    let (status, headers, v) = h.send(Method::DELETE, "/api/v1/packages").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(code(&v), "METHOD_NOT_ALLOWED");
    assert_eq!(headers[header::ALLOW], "GET, POST");
}

#[tokio::test]
async fn traversal_under_services_is_invalid_service_name_never_routed() {
    let h = Harness::new();
    let _b = h.broker(Backend::Apt);
    for uri in [
        "/api/v1/system/services/../../etc/passwd",
        "/api/v1/system/services/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/system/services/",
        "/api/v1/system/services/ssh/../../info",
    ] {
        let (status, _, v) = h.send(Method::GET, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(code(&v), "INVALID_SERVICE_NAME", "{uri}");
    }
}

#[tokio::test]
async fn service_status_found_missing_and_no_service_manager() {
    let h = Harness::new();
    let _b = h.broker(Backend::Apt);
    let (status, _, v) = h.send(Method::GET, "/api/v1/system/services/ssh").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["data"]["healthy"], true);
    assert_eq!(v["data"]["active_state"], "active");
    let (status, _, v) = h.send(Method::GET, "/api/v1/system/services/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(code(&v), "SERVICE_NOT_FOUND");
    let (status, _, v) = h
        .send(Method::GET, "/api/v1/system/services/nosystemd")
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(code(&v), "SERVICE_UNHEALTHY");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("service manager")
    );
}

#[tokio::test]
async fn package_list_merges_filters_and_pages() {
    let h = Harness::new();
    let _b = h.broker(Backend::Apt);
    let (status, _, v) = h.send(Method::GET, "/api/v1/packages").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["data"]["total"], 3);
    assert_eq!(v["data"]["limit"], 100);
    assert_eq!(v["data"]["offset"], 0);
    let pkgs = v["data"]["packages"].as_array().unwrap();
    assert_eq!(pkgs[1]["name"], "demo-hello");
    assert_eq!(pkgs[1]["status"], "upgradable");
    assert_eq!(pkgs[1]["available_version"], "1.1");
    assert_eq!(pkgs[0]["status"], "installed");
    let (_, _, v) = h
        .send(Method::GET, "/api/v1/packages?status=upgradable")
        .await;
    assert_eq!(v["data"]["total"], 1);
    let (_, _, v) = h
        .send(
            Method::GET,
            "/api/v1/packages?name=demo-*&limit=1&offset=2&order=desc",
        )
        .await;
    assert_eq!(v["data"]["total"], 3);
    assert_eq!(v["data"]["packages"][0]["name"], "demo-app");
}

#[tokio::test]
async fn package_list_rejects_unknown_parameters_and_values() {
    let h = Harness::new();
    let _b = h.broker(Backend::Apt);
    for uri in [
        "/api/v1/packages?status=broken",
        "/api/v1/packages?limit=5000",
        "/api/v1/packages?colour=red",
        "/api/v1/packages?name=%3Cscript%3E",
    ] {
        let (status, _, v) = h.send(Method::GET, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(code(&v), "INVALID_REQUEST", "{uri}");
        assert!(!v["error"]["message"].as_str().unwrap().contains('<'));
    }
    let (status, _, v) = h.send(Method::GET, "/health?x=1").await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::BAD_REQUEST, "INVALID_REQUEST")
    );
}

#[tokio::test]
async fn package_detail_found_not_found_and_backend_grammar() {
    let h = Harness::new();
    let _b = h.broker(Backend::Apt);
    let (status, _, v) = h.send(Method::GET, "/api/v1/packages/demo-hello").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["data"]["status"], "upgradable");
    assert_eq!(v["data"]["available_version"], "1.1");
    assert!(v["data"].get("maintainer").is_some());
    for missing in ["nosuch", "ghost"] {
        let (status, _, v) = h
            .send(Method::GET, &format!("/api/v1/packages/{missing}"))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(code(&v), "PKG_NOT_FOUND");
    }
    // Valid in the union grammar, not in Debian's.
    let (status, _, v) = h.send(Method::GET, "/api/v1/packages/Hello").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&v), "VALIDATION_ERROR");
    assert_eq!(v["error"]["details"]["backend"], "apt");
}

#[tokio::test]
async fn package_detail_with_helper_down_validates_first_then_503() {
    let h = Harness::new();
    let (status, _, v) = h.send(Method::GET, "/api/v1/packages/-oAPT::x").await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
    let (status, _, v) = h.send(Method::GET, "/api/v1/packages/Hello").await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::SERVICE_UNAVAILABLE, "HELPER_UNAVAILABLE")
    );
}

#[tokio::test]
async fn oversized_bodies_are_413_declared_or_streamed() {
    let h = Harness::new();
    let _b = h.broker(Backend::Apt);
    let req = Request::builder()
        .method(Method::GET)
        .uri("/health")
        .header(header::CONTENT_LENGTH, "1025")
        .body(http_body_util::Full::new(Bytes::new()))
        .unwrap();
    let (status, _, v) = h.send_req(req).await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE")
    );
    assert_eq!(v["error"]["details"]["max_body_bytes"], 1024);
    let chunks = (0..4).map(|_| {
        Ok::<_, std::io::Error>(hyper::body::Frame::data(Bytes::from_static(&[b'x'; 512])))
    });
    let req = Request::builder()
        .method(Method::GET)
        .uri("/health")
        .body(http_body_util::StreamBody::new(futures_util::stream::iter(
            chunks,
        )))
        .unwrap();
    let (status, _, v) = h.send_req(req).await;
    assert_eq!(
        (status, code(&v)),
        (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE")
    );
}
