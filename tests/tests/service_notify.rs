//! The real, confined frontend tells systemd when it is ready and when it stops (`Type=notify`): a datagram
//! socket set as `NOTIFY_SOCKET` receives `READY=1` once the port answers over mTLS, and `STOPPING=1` on
//! SIGTERM — for a pathname socket and for an abstract one (which Landlock's scoping would refuse to a
//! socket created after confinement).

use lpa_testkit::harness::{FRONTEND_ID, Stack};
use lpa_tests::stack;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::process::{Child, Stdio};
use std::time::Duration;

/// Starts the frontend of `stack` as the harness does (uid 61001, empty bounding set), with `NOTIFY_SOCKET`.
fn spawn_frontend(stack: &Stack, notify_socket: &str) -> Child {
    let log = std::fs::File::create(stack.work_dir().join("notify-frontend.log")).expect("log");
    // Test code starting the real binary: the disallowed-methods lint guards product code.
    #[allow(clippy::disallowed_methods)]
    std::process::Command::new("/usr/bin/setpriv")
        .args([
            format!("--reuid={FRONTEND_ID}"),
            format!("--regid={FRONTEND_ID}"),
            "--clear-groups".to_owned(),
            "--bounding-set=-all".to_owned(),
            "--inh-caps=-all".to_owned(),
            "--".to_owned(),
        ])
        .arg(lpa_testkit::paths::binary_path("linux-patch-api").expect("binary"))
        .arg("--config")
        .arg(stack.frontend_config_path())
        .env("NOTIFY_SOCKET", notify_socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("frontend starts")
}

fn receive(rx: &UnixDatagram, stack: &Stack) -> String {
    let mut buf = [0u8; 4096];
    let len = rx.recv(&mut buf).unwrap_or_else(|e| {
        panic!(
            "no notification: {e}\n{}",
            std::fs::read_to_string(stack.work_dir().join("notify-frontend.log"))
                .unwrap_or_default()
        )
    });
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

async fn ready_then_stopping(stack: &Stack, rx: &UnixDatagram, notify_socket: &str) {
    rx.set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let mut child = spawn_frontend(stack, notify_socket);
    let ready = receive(rx, stack);
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready:?}");
    assert!(ready.contains("STATUS=serving on 127.0.0.1:"), "{ready:?}");
    // READY means serving: the very next request is answered, over mTLS, by the confined daemon.
    let health = stack::client(stack)
        .health()
        .await
        .expect("answer after READY=1");
    assert_eq!(health.status, 200);

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    let stopping = receive(rx, stack);
    assert_eq!(stopping, "STOPPING=1\n");
    let status = child.wait().expect("exits");
    assert!(status.success(), "exit status {status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_confined_frontend_sends_ready_and_stopping_to_notify_socket() {
    let mut stack = stack::plain();
    stack.stop_frontend().expect("stop the harness's frontend");

    // A pathname socket, as systemd's /run/systemd/notify: the frontend's uid needs write permission on it.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = dir.path().join("notify");
    let rx = UnixDatagram::bind(&path).expect("bind");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    ready_then_stopping(&stack, &rx, path.to_str().expect("utf-8")).await;

    // An abstract socket (`@name`).
    let name = format!("lpa-notify-e2e-{}", std::process::id());
    let rx =
        UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).expect("addr"))
            .expect("bind abstract");
    ready_then_stopping(&stack, &rx, &format!("@{name}")).await;
}
