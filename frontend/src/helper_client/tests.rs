use super::fake_broker::{FakeBroker, HelloMode, Reply};
use super::*;
use lpa_protocol::PackageName;

fn pong(_: &Operation) -> Reply {
    Reply::Answer(Ok(Outcome::Pong))
}

fn client(dir: &tempfile::TempDir) -> (PathBuf, HelperClient) {
    let socket = dir.path().join("helper.sock");
    (
        socket.clone(),
        HelperClient::new(socket, Duration::from_secs(5)),
    )
}

#[tokio::test]
async fn happy_path_round_trip_reports_backend_and_reuses_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let (socket, client) = client(&dir);
    let broker = FakeBroker::start(&socket, HelloMode::Ack(Backend::Pacman), pong);
    let answer = client.call_with_backend(Operation::Ping).await.unwrap();
    assert_eq!(answer.outcome, Outcome::Pong);
    assert_eq!(answer.backend, Backend::Pacman);
    assert_eq!(client.idle_connections(), 1);
    client.call(Operation::Ping).await.unwrap();
    client.call(Operation::ListInstalled).await.unwrap();
    assert_eq!(broker.connections(), 1, "the idle connection is reused");
    assert_eq!(broker.requests(), 3);
}

#[tokio::test]
async fn typed_helper_error_is_passed_through_and_keeps_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let (socket, client) = client(&dir);
    let broker = FakeBroker::start(&socket, HelloMode::Ack(Backend::Apt), |_| {
        Reply::Answer(Err(HelperError::PackageNotFound { name: "x".into() }))
    });
    let op = Operation::PackageDetail {
        name: PackageName::new("xx").unwrap(),
    };
    let err = client.call(op.clone()).await.unwrap_err();
    assert!(matches!(
        err,
        HelperClientError::Helper(HelperError::PackageNotFound { .. })
    ));
    client.call(op).await.unwrap_err();
    assert_eq!(broker.connections(), 1);
}

#[tokio::test]
async fn hello_refused_names_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let (socket, client) = client(&dir);
    let _broker = FakeBroker::start(&socket, HelloMode::Refuse(99), pong);
    let err = client.call(Operation::Ping).await.unwrap_err();
    assert!(
        matches!(err, HelperClientError::Refused { theirs: 99, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("99"), "{text}");
    assert!(
        text.contains(&lpa_protocol::PROTOCOL_VERSION.to_string()),
        "{text}"
    );
    assert_eq!(client.idle_connections(), 0);
}

#[tokio::test]
async fn missing_socket_is_a_connect_error() {
    let dir = tempfile::tempdir().unwrap();
    let (_, client) = client(&dir);
    let err = client.call(Operation::Ping).await.unwrap_err();
    assert!(matches!(err, HelperClientError::Connect { .. }), "{err:?}");
    assert!(matches!(
        client.backend().await,
        Err(HelperClientError::Connect { .. })
    ));
}

#[tokio::test]
async fn helper_restart_is_recovered_by_reconnecting_on_the_next_request() {
    let dir = tempfile::tempdir().unwrap();
    let (socket, client) = client(&dir);
    let first = FakeBroker::start(&socket, HelloMode::Ack(Backend::Apt), pong);
    client.call(Operation::Ping).await.unwrap();
    assert_eq!(client.idle_connections(), 1);
    drop(first); // closes the pooled connection's other end, like a helper restart

    // While the helper is down: a clear connect error, no stuck state.
    let err = client.call(Operation::Ping).await.unwrap_err();
    assert!(matches!(err, HelperClientError::Connect { .. }), "{err:?}");

    let second = FakeBroker::start(&socket, HelloMode::Ack(Backend::Dnf), pong);
    let answer = client.call_with_backend(Operation::Ping).await.unwrap();
    assert_eq!(answer.backend, Backend::Dnf);
    assert_eq!(second.connections(), 1);
}

#[tokio::test]
async fn stale_idle_connection_is_retried_once_on_a_fresh_one() {
    let dir = tempfile::tempdir().unwrap();
    let (socket, client) = client(&dir);
    let first = FakeBroker::start(&socket, HelloMode::Ack(Backend::Apt), pong);
    client.call(Operation::Ping).await.unwrap();
    drop(first);
    let second = FakeBroker::start(&socket, HelloMode::Ack(Backend::Apt), pong);
    // The pooled connection is dead; the request must still succeed, on a new connection.
    client.call(Operation::SystemInfo).await.unwrap();
    assert_eq!(second.connections(), 1);
    assert_eq!(second.requests(), 1);
}

#[tokio::test]
async fn connection_closed_mid_request_on_a_fresh_connection_is_an_error_not_a_loop() {
    let dir = tempfile::tempdir().unwrap();
    let (socket, client) = client(&dir);
    let broker = FakeBroker::start(&socket, HelloMode::Ack(Backend::Apt), |_| Reply::Close);
    let err = client.call(Operation::Ping).await.unwrap_err();
    assert!(matches!(err, HelperClientError::Closed), "{err:?}");
    assert_eq!(broker.connections(), 1);
    assert_eq!(client.idle_connections(), 0);
}

#[tokio::test]
async fn silent_helper_times_out_and_its_connection_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("helper.sock");
    let client = HelperClient::new(socket.clone(), Duration::from_millis(200));
    let _broker = FakeBroker::start(&socket, HelloMode::Ack(Backend::Apt), |_| Reply::Hang);
    let err = client.call(Operation::Ping).await.unwrap_err();
    assert!(matches!(err, HelperClientError::Timeout(_)), "{err:?}");
    assert_eq!(client.idle_connections(), 0);
}

#[tokio::test]
async fn answer_with_a_foreign_id_is_a_protocol_error() {
    let dir = tempfile::tempdir().unwrap();
    let (socket, client) = client(&dir);
    let _broker = FakeBroker::start(&socket, HelloMode::Ack(Backend::Apt), |_| Reply::WrongId);
    let err = client.call(Operation::Ping).await.unwrap_err();
    assert!(matches!(err, HelperClientError::Protocol(_)), "{err:?}");
    assert_eq!(client.idle_connections(), 0);
}

#[tokio::test]
async fn backend_comes_from_the_handshake_and_the_connection_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (socket, client) = client(&dir);
    let broker = FakeBroker::start(&socket, HelloMode::Ack(Backend::Apk), pong);
    assert_eq!(client.backend().await.unwrap(), Backend::Apk);
    client.call(Operation::Ping).await.unwrap();
    assert_eq!(broker.connections(), 1);
}

#[tokio::test]
async fn concurrent_requests_each_get_their_own_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (socket, client) = client(&dir);
    let _broker = FakeBroker::start(&socket, HelloMode::Ack(Backend::Apt), |op| {
        Reply::Answer(Ok(match op {
            Operation::ListInstalled => Outcome::Installed(vec![]),
            Operation::ListUpgradable => Outcome::Upgradable(vec![]),
            _ => Outcome::Pong,
        }))
    });
    let client = std::sync::Arc::new(client);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let op = if i % 2 == 0 {
                Operation::ListInstalled
            } else {
                Operation::ListUpgradable
            };
            (i, client.call(op).await.unwrap())
        }));
    }
    for task in tasks {
        let (i, outcome) = task.await.unwrap();
        if i % 2 == 0 {
            assert_eq!(outcome, Outcome::Installed(vec![]));
        } else {
            assert_eq!(outcome, Outcome::Upgradable(vec![]));
        }
    }
    assert!(client.idle_connections() <= MAX_IDLE);
}

#[tokio::test]
async fn call_within_uses_the_shorter_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let (socket, client) = client(&dir); // configured: 5 s
    let _broker = FakeBroker::start(&socket, HelloMode::Ack(Backend::Apt), |_| Reply::Hang);
    let start = std::time::Instant::now();
    let err = client
        .call_within(Operation::Ping, Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(matches!(err, HelperClientError::Timeout(d) if d == Duration::from_millis(100)));
    assert!(start.elapsed() < Duration::from_secs(2));
}

mod streamed {
    use super::*;
    use crate::helper_client::fake_broker::{Script, Step};
    use lpa_protocol::{FailureKind, JobEvent};

    fn install() -> Operation {
        Operation::Install {
            packages: vec![lpa_protocol::PackageSpec {
                name: PackageName::new("hello").unwrap(),
                version: None,
            }],
            options: Default::default(),
        }
    }

    #[tokio::test]
    async fn events_arrive_in_order_then_the_answer_on_a_connection_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let (socket, client) = client(&dir);
        let broker = FakeBroker::start(&socket, HelloMode::Ack(Backend::Apt), |_| {
            Reply::Script(Script::ok(
                vec![
                    Step::Event(JobEvent::Progress {
                        percent: 50,
                        message: "Unpacking".into(),
                    }),
                    Step::Event(JobEvent::ChangesStarted),
                ],
                vec![],
            ))
        });
        let mut call = client.start_change(install()).await.unwrap();
        assert!(matches!(
            call.next().await.unwrap(),
            ChangeMessage::Event(JobEvent::Progress { percent: 50, .. })
        ));
        assert_eq!(
            call.next().await.unwrap(),
            ChangeMessage::Event(JobEvent::ChangesStarted)
        );
        assert!(matches!(
            call.next().await.unwrap(),
            ChangeMessage::Finished(Ok(Outcome::Changed(_)))
        ));
        assert!(matches!(
            call.next().await,
            Err(HelperClientError::Protocol(_))
        ));
        assert_eq!(client.idle_connections(), 0, "never pooled");
        assert_eq!(broker.connections(), 1);
    }

    #[tokio::test]
    async fn cancel_before_changes_started_ends_cancelled_and_after_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (socket, client) = client(&dir);
        let _broker = FakeBroker::start(&socket, HelloMode::Ack(Backend::Apt), |_| {
            Reply::Script(Script::ok(
                vec![Step::Sleep(Duration::from_secs(5))],
                vec![],
            ))
        });
        let mut call = client.start_change(install()).await.unwrap();
        call.control().cancel().await.unwrap();
        match call.next().await.unwrap() {
            ChangeMessage::Finished(Err(HelperError::Change(f))) => {
                assert_eq!(f.kind, FailureKind::Cancelled)
            }
            other => panic!("{other:?}"),
        }

        let dir = tempfile::tempdir().unwrap();
        let (socket, client) = super::client(&dir);
        let _broker = FakeBroker::start(&socket, HelloMode::Ack(Backend::Apt), |_| {
            Reply::Script(Script::ok(
                vec![
                    Step::Event(JobEvent::ChangesStarted),
                    Step::Sleep(Duration::from_millis(300)),
                ],
                vec![],
            ))
        });
        let mut call = client.start_change(install()).await.unwrap();
        assert_eq!(
            call.next().await.unwrap(),
            ChangeMessage::Event(JobEvent::ChangesStarted)
        );
        call.control().cancel().await.unwrap();
        assert_eq!(call.next().await.unwrap(), ChangeMessage::CancelRefused);
        assert!(matches!(
            call.next().await.unwrap(),
            ChangeMessage::Finished(Ok(_))
        ));
    }

    #[tokio::test]
    async fn abort_ends_the_request_with_a_timeout_failure() {
        let dir = tempfile::tempdir().unwrap();
        let (socket, client) = client(&dir);
        let broker = FakeBroker::start(&socket, HelloMode::Ack(Backend::Apt), |_| {
            Reply::Script(Script::ok(
                vec![
                    Step::Event(JobEvent::ChangesStarted),
                    Step::Sleep(Duration::from_secs(30)),
                ],
                vec![],
            ))
        });
        let mut call = client.start_change(install()).await.unwrap();
        call.next().await.unwrap();
        call.control().abort().await.unwrap();
        match call.next().await.unwrap() {
            ChangeMessage::Finished(Err(HelperError::Change(f))) => {
                assert_eq!(f.kind, FailureKind::Timeout)
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(broker.controls(), ["abort"]);
    }

    #[tokio::test]
    async fn a_broken_connection_is_reported_and_the_change_is_never_resent() {
        let dir = tempfile::tempdir().unwrap();
        let (socket, client) = client(&dir);
        let broker = FakeBroker::start(&socket, HelloMode::Ack(Backend::Apt), |_| Reply::Close);
        let mut call = client.start_change(install()).await.unwrap();
        assert!(matches!(call.next().await, Err(HelperClientError::Closed)));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(broker.requests(), 1);
        assert_eq!(broker.connections(), 1);
        assert!(!is_retry_safe(&install()));
    }
}

/// `/health` shows the repair state from the client's record: any read answered with `NeedsRepair` sets it,
/// a successful `ListUpgradable` clears it, and other answers leave it alone.
#[tokio::test]
async fn the_repair_state_follows_the_brokers_answers() {
    let dir = tempfile::tempdir().unwrap();
    let (socket, client) = client(&dir);
    let broken = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flag = broken.clone();
    let _broker = FakeBroker::start(&socket, HelloMode::Ack(Backend::Apt), move |op| {
        let broken = flag.load(std::sync::atomic::Ordering::SeqCst);
        Reply::Answer(match op {
            Operation::ListUpgradable if broken => Err(HelperError::NeedsRepair {
                message: "demo-app depends on demo-lib".into(),
            }),
            Operation::ListUpgradable => Ok(Outcome::Upgradable(vec![])),
            _ => Ok(Outcome::Pong),
        })
    });
    assert_eq!(client.needs_repair(), None, "unknown is not broken");
    assert!(client.call(Operation::ListUpgradable).await.is_err());
    assert_eq!(
        client.needs_repair().as_deref(),
        Some("demo-app depends on demo-lib")
    );
    // A ping says nothing about the database.
    client.call(Operation::Ping).await.unwrap();
    assert!(client.needs_repair().is_some());
    broken.store(false, std::sync::atomic::Ordering::SeqCst);
    client.call(Operation::ListUpgradable).await.unwrap();
    assert_eq!(client.needs_repair(), None);
}
