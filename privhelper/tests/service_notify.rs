//! The real helper tells systemd it is ready (so its unit may be `Type=notify`) and that it stops: a datagram
//! socket set as `NOTIFY_SOCKET` receives `READY=1` once the helper's socket answers, and `STOPPING=1` on
//! SIGTERM.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::Helper;

#[test]
fn the_helper_sends_ready_and_stopping_to_notify_socket() {
    let mut h = Helper::start();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(h.pid()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(h.wait_exit(Duration::from_secs(10)).is_some());

    let notify = h.dir.path().join("notify");
    let rx = UnixDatagram::bind(&notify).unwrap();
    std::fs::set_permissions(&notify, std::fs::Permissions::from_mode(0o600)).unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // Tests must start the real helper binary as a separate process.
    #[allow(clippy::disallowed_methods)]
    let mut child = Command::new(env!("CARGO_BIN_EXE_linux-patch-api-helper"))
        .arg("--config")
        .arg(&h.config)
        .env("NOTIFY_SOCKET", &notify)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 256];
    let len = rx.recv(&mut buf).expect("READY=1 arrives");
    assert_eq!(&buf[..len], b"READY=1\n");
    // Ready means the socket answers.
    assert!(UnixStream::connect(&h.socket).is_ok());

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let len = rx.recv(&mut buf).expect("STOPPING=1 arrives");
    assert_eq!(&buf[..len], b"STOPPING=1\n");
    assert!(child.wait().unwrap().success());
}
