//! The helper going away and coming back: the frontend answers 503 `HELPER_UNAVAILABLE` (retryable) while it
//! is down and recovers by itself — no frontend restart — when it returns.

use lpa_tests::stack;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn helper_restart_gives_503_then_recovers_without_a_frontend_restart() {
    let mut stack = stack::with_pending_updates();
    let client = stack::client(&stack);
    let frontend_pid = stack.frontend_pid();
    assert_eq!(
        client
            .packages(&Default::default())
            .await
            .expect("answer")
            .status,
        200
    );

    stack.stop_helper().expect("helper stops");
    let down = client.packages(&Default::default()).await.expect("answer");
    assert_eq!(down.status, 503, "{}", stack.logs());
    assert_eq!(down.error_code(), Some("HELPER_UNAVAILABLE"));
    assert_eq!(
        down.envelope.error.as_ref().map(|e| e.retryable),
        Some(true)
    );
    let health = client.health().await.expect("answer");
    assert_eq!(health.status, 200, "health stays 200 when degraded");
    assert_eq!(health.data()["status"], "degraded");
    assert_ne!(health.data()["checks"]["helper"], "ok");

    stack.start_helper().expect("helper starts again");
    let deadline = Instant::now() + Duration::from_secs(10);
    let recovered = loop {
        let resp = client.packages(&Default::default()).await.expect("answer");
        if resp.status == 200 || Instant::now() > deadline {
            break resp;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(recovered.status, 200, "{}", stack.logs());
    assert_eq!(recovered.data()["total"], 3);
    assert_eq!(
        stack.frontend_pid(),
        frontend_pid,
        "the frontend was not restarted"
    );
    // Health learns of the return from its own liveness connection, within its reconnect interval.
    let deadline = Instant::now() + Duration::from_secs(2);
    let health = loop {
        let health = client.health().await.expect("answer");
        if health.data()["status"] == "healthy" || Instant::now() > deadline {
            break health;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(health.data()["status"], "healthy", "{}", health.data());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clean_stop_removes_the_helper_socket_and_a_restart_binds_it_again() {
    let mut stack = stack::plain();
    let socket = stack.helper_socket().to_path_buf();
    // Positive control: the socket is there while the helper runs.
    assert!(
        socket.exists(),
        "{} missing while the helper runs",
        socket.display()
    );
    let status = stack
        .stop_helper()
        .expect("helper stops")
        .expect("it was running");
    assert!(
        status.success(),
        "SIGTERM is a clean stop: {status:?}\n{}",
        stack.logs()
    );
    assert!(
        !socket.exists(),
        "{} left behind after a clean stop",
        socket.display()
    );
    stack.start_helper().expect("helper starts again");
    assert!(socket.exists());
}

/// `helper.yaml` and the apt configuration it names must be root's alone: otherwise the helper refuses to
/// start, naming the file and the fix; once fixed it starts (the positive control).
#[tokio::test(flavor = "multi_thread")]
async fn root_configuration_others_may_write_stops_the_helper_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let mut stack = stack::plain();
    let helper_yaml = stack.helper_config_path().to_path_buf();
    let apt_conf = stack
        .sandbox()
        .apt()
        .expect("an apt sandbox")
        .apt_config_path()
        .to_path_buf();
    let log = stack.work_dir().join("helper.log");
    let chmod = |path: &std::path::Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    stack.stop_helper().expect("helper stops");

    chmod(&helper_yaml, 0o664);
    assert!(
        stack.start_helper().is_err(),
        "the helper started with a group-writable helper.yaml"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains(&format!("chmod go-w {}", helper_yaml.display())),
        "no fix named:\n{text}"
    );
    chmod(&helper_yaml, 0o644);

    nix::unistd::chown(&apt_conf, Some(nix::unistd::Uid::from_raw(61001)), None).unwrap();
    assert!(
        stack.start_helper().is_err(),
        "the helper started with an apt.conf owned by another user"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("apt.config_file")
            && text.contains(&format!("chown root {}", apt_conf.display())),
        "no fix named:\n{text}"
    );
    nix::unistd::chown(&apt_conf, Some(nix::unistd::Uid::from_raw(0)), None).unwrap();

    // Positive control: fixed, it starts and serves.
    stack
        .start_helper()
        .expect("the helper starts once both files are root's alone");
    let client = stack::client(&stack);
    assert_eq!(
        client
            .packages(&Default::default())
            .await
            .expect("answer")
            .status,
        200
    );
}
