//! The client's WebSocket and job waiting against the real frontend (listener, mTLS, WebSocket hub, job
//! manager) on loopback. No helper runs: jobs fail with `HELPER_UNAVAILABLE`, which is a real job ending.

use arc_swap::ArcSwap;
use lpa_client::ws::{ServerFrame, WsError};
use lpa_client::{ApiClient, Credentials, WaitError, calls};
use lpa_frontend::config::TlsSection;
use lpa_frontend::http::{ApiSettings, AppState};
use lpa_frontend::jobs::{JobOperation, JobStatus, JobUpdate};
use lpa_frontend::listener::{self, Context, Limits};
use lpa_frontend::whitelist::Whitelist;
use lpa_pki::{Ca, Validity};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(10);

struct Agent {
    state: Arc<AppState>,
    client: ApiClient,
    creds: Credentials,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The frontend's listener with a fresh PKI on 127.0.0.1, and a client holding a valid certificate.
async fn agent() -> Agent {
    let dir = tempfile::tempdir().unwrap();
    let validity = Validity::days_from_now(30).unwrap();
    let ca = Ca::generate("WS Test CA", validity).unwrap();
    let server = ca
        .issue_server(&["127.0.0.1", "localhost"], validity)
        .unwrap();
    let client = ca.issue_client("ops", validity).unwrap();
    let ca_path = write(dir.path(), "ca.pem", ca.cert_pem());
    let tls = lpa_frontend::tls::build_server_config(&TlsSection {
        ca_cert: ca_path.clone(),
        server_cert: write(dir.path(), "server.pem", &server.cert_pem),
        server_key: write(dir.path(), "server.key", &server.key_pem),
        crl_path: None,
        crl_expired: Default::default(),
    })
    .unwrap();
    let state = AppState::new(ApiSettings {
        helper_socket: dir.path().join("no-helper.sock"),
        helper_timeout: Duration::from_secs(1),
        ..ApiSettings::default()
    });
    state.jobs.start();
    let ctx = Arc::new(Context {
        tls: Arc::new(ArcSwap::new(tls.config)),
        whitelist: Arc::new(Whitelist::new(vec!["127.0.0.1/32".parse().unwrap()])),
        state: state.clone(),
        limits: Limits {
            max_connections: 16,
            handshake_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(5),
            max_unauthenticated_per_source: 16,
            silent_timeout: Duration::from_secs(5),
        },
    });
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(listener::serve(tcp, ctx, shutdown.clone()));
    let creds = Credentials {
        url: format!("https://{addr}"),
        ca_cert: ca_path,
        cert: write(dir.path(), "client.pem", &client.cert_pem),
        key: write(dir.path(), "client.key", &client.key_pem),
    };
    Agent {
        state,
        client: ApiClient::new(&creds).unwrap(),
        creds,
        shutdown,
        _dir: dir,
    }
}

fn update(job: Uuid, status: JobStatus, progress: u8) -> JobUpdate {
    JobUpdate {
        job_id: job,
        operation: JobOperation::Install,
        status,
        progress,
        message: format!("{status:?} {progress}"),
        timestamp: "2026-05-27T14:00:00Z".into(),
        error_code: None,
    }
}

#[tokio::test]
async fn job_socket_over_mtls_delivers_only_the_subscribed_jobs_events() {
    let agent = agent().await;
    let mut socket = agent.client.job_socket().await.unwrap();
    let (mine, other) = (Uuid::new_v4(), Uuid::new_v4());
    socket.subscribe(&mine.to_string()).await.unwrap();
    socket.ping().await.unwrap();

    agent
        .state
        .jobs
        .publish(update(other, JobStatus::Running, 10));
    agent
        .state
        .jobs
        .publish(update(mine, JobStatus::Running, 40));
    agent
        .state
        .jobs
        .publish(update(other, JobStatus::Completed, 100));
    agent
        .state
        .jobs
        .publish(update(mine, JobStatus::Completed, 100));

    // The broadcast is ordered: any event of the other job would arrive before my last one.
    let first = tokio::time::timeout(WAIT, socket.next_frame())
        .await
        .unwrap()
        .unwrap();
    let ServerFrame::JobStatus(event) = first else {
        panic!("expected job_status of my job, got {first:?}");
    };
    assert_eq!(event.job_id, mine.to_string());
    assert_eq!(event.progress, 40);
    let last = tokio::time::timeout(WAIT, socket.next_frame())
        .await
        .unwrap()
        .unwrap();
    let ServerFrame::JobComplete(event) = last else {
        panic!("expected job_complete of my job, got {last:?}");
    };
    assert_eq!(event.job_id, mine.to_string());
    assert_eq!(event.status, "completed");
    socket.close().await.unwrap();
}

#[tokio::test]
async fn server_errors_reach_the_caller_and_the_socket_stays_usable() {
    let agent = agent().await;
    let mut socket = agent.client.job_socket().await.unwrap();
    let refused = socket.subscribe("not-a-uuid").await.unwrap_err();
    assert!(matches!(refused, WsError::Refused(_)), "{refused:?}");
    socket.send_text("garbage").await.unwrap();
    let reply = tokio::time::timeout(WAIT, socket.next_frame())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(reply, ServerFrame::Error(_)), "{reply:?}");
    socket.ping().await.unwrap();
}

#[tokio::test]
async fn graceful_shutdown_closes_the_socket_with_going_away() {
    let agent = agent().await;
    let mut socket = agent.client.job_socket().await.unwrap();
    socket.subscribe_all().await.unwrap();
    agent.shutdown.cancel();
    let end = tokio::time::timeout(WAIT, socket.next_frame())
        .await
        .unwrap();
    assert!(
        matches!(end, Err(WsError::Closed(Some((1001, _))))),
        "{end:?}"
    );
}

#[tokio::test]
async fn wait_for_job_follows_a_real_job_to_its_end_and_returns_the_record() {
    let agent = agent().await;
    let resp = agent
        .client
        .call(&calls::install(
            &[calls::PackageSpec::parse("hello")],
            calls::InstallOptions::default(),
        ))
        .await
        .unwrap();
    assert_eq!(resp.status, 202, "{:?}", resp.envelope);
    let id = resp.data()["job_id"].as_str().unwrap().to_owned();
    let mut seen = Vec::new();
    let job = agent
        .client
        .wait_for_job(&id, WAIT, |state| seen.push(state.clone()))
        .await
        .unwrap();
    assert_eq!(job["job_id"], id);
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["error_code"], "HELPER_UNAVAILABLE", "{job}");
    let last = seen.last().unwrap();
    assert_eq!(last.status, "failed");
    assert!(last.is_terminal());
}

#[tokio::test]
async fn waiting_for_an_unknown_job_is_refused_not_hung() {
    let agent = agent().await;
    let err = agent
        .client
        .wait_for_job(&Uuid::new_v4().to_string(), WAIT, |_| {})
        .await
        .unwrap_err();
    let WaitError::Refused(resp) = err else {
        panic!("{err:?}");
    };
    assert_eq!(resp.error_code(), Some("JOB_NOT_FOUND"));
}

#[tokio::test]
async fn ctl_install_with_wait_prints_plain_progress_and_exits_non_zero_for_a_failed_job() {
    let agent = agent().await;
    // The command line is a separate binary; running it is the only way to test its output and exit status.
    #[allow(clippy::disallowed_methods)]
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_linux-patch-ctl"))
        .arg("--url")
        .arg(&agent.creds.url)
        .arg("--cacert")
        .arg(&agent.creds.ca_cert)
        .arg("--cert")
        .arg(&agent.creds.cert)
        .arg("--key")
        .arg(&agent.creds.key)
        .args(["install", "hello", "--wait", "--wait-timeout", "10"])
        .env_remove("LPA_URL")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("\"job_id\""),
        "the 202 answer is printed first: {stdout}"
    );
    // Not a terminal: plain lines, no carriage returns, and the final state with its code.
    assert!(!stdout.contains('\r'), "{stdout:?}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("[failed") && l.contains("%] HELPER_UNAVAILABLE: ")),
        "{stdout}"
    );
    assert!(
        stdout.lines().last().unwrap_or("").contains(" failed"),
        "{stdout}"
    );
}
