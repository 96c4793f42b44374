//! The frontend takes its listening socket from systemd socket activation (`LISTEN_FDS`), checked with the
//! real `systemd-socket-activate`: the configured port is deliberately busy, so only the passed socket can
//! serve.

use lpa_tests::stack;
use std::net::TcpListener;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn frontend_serves_on_the_socket_systemd_passes() {
    let stack = stack::plain();
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").expect("free port");
        probe.local_addr().expect("addr").port()
    };
    // Test code starting a process: the disallowed-methods lint guards product code, not tests.
    #[allow(clippy::disallowed_methods)]
    let mut child = std::process::Command::new("/usr/bin/setpriv")
        .args(["--reuid=61001", "--regid=61001", "--clear-groups", "--"])
        .arg("/usr/bin/systemd-socket-activate")
        .arg("-l")
        .arg(format!("127.0.0.1:{port}"))
        .arg(lpa_testkit::paths::binary_path("linux-patch-api").expect("binary"))
        .arg("--config")
        .arg(stack.frontend_config_path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("systemd-socket-activate runs (apt-get install systemd)");

    let mut creds = stack::credentials(&stack, &stack.pki().client);
    creds.url = format!("https://127.0.0.1:{port}");
    let client = lpa_client::ApiClient::new(&creds).expect("client");
    // systemd-socket-activate starts the daemon on the first connection; allow for that start-up.
    let deadline = Instant::now() + Duration::from_secs(15);
    let resp = loop {
        match client.health().await {
            Ok(resp) => break resp,
            Err(e) if Instant::now() > deadline => panic!("no answer on the activated socket: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    assert_eq!(resp.status, 200);
    assert_eq!(resp.data()["checks"]["helper"], "ok");
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let status = child.wait().expect("exits");
    assert!(status.success(), "frontend exit status {status}");
}
