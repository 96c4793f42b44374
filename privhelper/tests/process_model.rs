//! The helper's processes: a root launcher, a broker under its own uid, peer admission by uid, and an
//! orderly stop on SIGTERM.

mod support;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::time::Duration;
use support::*;

#[test]
fn broker_runs_as_its_own_uid_without_groups_and_launcher_stays_root() {
    let h = Helper::start();
    let launcher = proc_status(h.pid()).unwrap();
    assert_eq!(launcher.uids, [0, 0, 0, 0]);
    let broker = broker_pid(h.pid());
    let st = settled_status(broker);
    assert_eq!(st.uids, [BROKER_UID; 4], "broker uids");
    assert_eq!(st.gids, [BROKER_UID; 4], "broker gids");
    assert!(
        st.groups.is_empty(),
        "supplementary groups: {:?}",
        st.groups
    );
    // Non-dumpable: its /proc entries belong to root, not to the broker's uid.
    let meta = std::fs::metadata(format!("/proc/{broker}/environ")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), 0);
}

/// The broker's status once it has left root. The socket accepts connections before the fork, so right
/// after start-up the broker may still be dropping its privileges; a broker that never drops them still
/// fails the caller's assertion after 5 s.
fn settled_status(broker: i32) -> ProcStatus {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let st = proc_status(broker).unwrap();
        if st.uids != [0; 4] || std::time::Instant::now() > deadline {
            return st;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Connects as `uid` (with the frontend's group, so the 0660 socket itself lets it in) using python3,
/// sends a Hello frame and prints how many bytes came back before the connection ended.
///
/// Why python3: the test needs a *separate process* with a different uid (SO_PEERCRED is per process and
/// credentials can only be changed for a whole process safely); `std::process::Command::uid/gid` does the
/// switch, and python3 (`/usr/bin/python3`, installed by `.ci/run`) has AF_UNIX sockets, which busybox `nc`
/// lacks.
// A separate process with another uid is the point of the test.
#[allow(clippy::disallowed_methods)]
fn bytes_received_as(h: &Helper, uid: u32) -> (u32, usize) {
    use std::os::unix::process::CommandExt;
    let hello = lpa_protocol::frame::encode(
        &lpa_protocol::ClientMessage::Hello(lpa_protocol::Hello::current()),
        lpa_protocol::frame::MAX_REQUEST_FRAME,
    )
    .unwrap();
    let mut framed = (hello.len() as u32).to_be_bytes().to_vec();
    framed.extend_from_slice(&hello);
    let hex: String = framed.iter().map(|b| format!("{b:02x}")).collect();
    let script = "import socket,sys\n\
        s=socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])\n\
        try:\n  s.sendall(bytes.fromhex(sys.argv[2]))\nexcept OSError:\n  pass\n\
        n=0\n\
        try:\n  while True:\n    b=s.recv(4096)\n    if not b: break\n    n+=len(b)\n    if n>=8: break\n\
        except ConnectionResetError:\n  pass\n\
        print(n)\n";
    let child = std::process::Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .arg(&h.socket)
        .arg(hex)
        .uid(uid)
        .gid(FRONTEND_UID)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir("/")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 is needed for this test");
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "probe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let n = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    (pid, n)
}

#[test]
fn peer_with_another_uid_gets_zero_bytes_and_is_logged() {
    let h = Helper::start();
    let (pid, n) = bytes_received_as(&h, OTHER_UID);
    assert_eq!(n, 0, "a refused peer must receive nothing");
    let log = h.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("refused peer") && l.contains(&format!("uid={OTHER_UID}")))
        .unwrap_or_else(|| panic!("no refusal logged:\n{log}"));
    assert!(line.contains(&format!("pid={pid}")), "{line}");
}

#[test]
fn frontend_uid_peer_is_served() {
    // The same probe as the refusal test, as the frontend's uid: it gets the HelloAck, so the zero above
    // is the broker's doing and not the probe's.
    let h = Helper::start();
    let (_, n) = bytes_received_as(&h, FRONTEND_UID);
    assert!(n >= 8, "got {n} bytes; log:\n{}", h.log_text());
}

#[test]
fn sigterm_to_the_launcher_stops_both_processes() {
    let mut h = Helper::start();
    let broker = broker_pid(h.pid());
    kill(Pid::from_raw(h.pid()), Signal::SIGTERM).unwrap();
    let status = h
        .wait_exit(Duration::from_secs(5))
        .expect("launcher did not stop");
    assert!(status.success(), "{status:?}; log:\n{}", h.log_text());
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{broker}")).exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "broker {broker} still alive"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn killing_the_broker_makes_the_launcher_exit_non_zero() {
    let mut h = Helper::start();
    let broker = broker_pid(h.pid());
    kill(Pid::from_raw(broker), Signal::SIGKILL).unwrap();
    let status = h
        .wait_exit(Duration::from_secs(5))
        .expect("launcher did not exit");
    assert!(!status.success(), "{status:?}");
}

#[test]
fn a_restarted_helper_replaces_the_stale_socket() {
    let mut h = Helper::start();
    kill(Pid::from_raw(h.pid()), Signal::SIGTERM).unwrap();
    h.wait_exit(Duration::from_secs(5))
        .expect("launcher did not stop");
    // A clean stop removes the socket it bound; a crash would leave it behind, which a bound and dropped
    // listener stands in for here.
    assert!(
        !h.socket.exists(),
        "the socket file stays behind after a clean stop"
    );
    drop(std::os::unix::net::UnixListener::bind(&h.socket).expect("a stale socket"));
    assert!(h.socket.exists(), "the stale socket is there");
    h.restart();
    let mut s = h.connect();
    assert!(matches!(
        request(&mut s, 1, lpa_protocol::Operation::Ping),
        lpa_protocol::ServerMessage::Response {
            result: Ok(lpa_protocol::Outcome::Pong),
            ..
        }
    ));
}

#[test]
fn non_root_start_is_refused_clearly_and_check_config_validates() {
    let h = Helper::start();
    let cfg = h.config.as_os_str();
    let out = run_helper_as(FRONTEND_UID, &["--config".as_ref(), cfg]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("must be started as root"), "{err}");
    let out = run_helper_as(0, &["--config".as_ref(), cfg, "--check-config".as_ref()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok (backend apt"));
    let out = run_helper_as(
        0,
        &["--config".as_ref(), "/nonexistent/helper.yaml".as_ref()],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/helper.yaml"));
}

#[test]
fn socket_activation_passes_the_listener_and_the_configured_path_is_not_bound() {
    // systemd-socket-activate execs the helper only at the first connection (TESTING.md §6, S1), and
    // Helper::start_with waits by connecting, which triggers it.
    let h = Helper::start_with(Activation::Systemd);
    let mut s = h.connect();
    assert!(matches!(
        request(&mut s, 1, lpa_protocol::Operation::Ping),
        lpa_protocol::ServerMessage::Response {
            result: Ok(lpa_protocol::Outcome::Pong),
            ..
        }
    ));
    assert!(
        h.log_text().contains("SocketActivation"),
        "log:\n{}",
        h.log_text()
    );
    assert!(
        !h.socket.with_file_name("helper.sock").exists(),
        "the configured path must stay unused"
    );
    let broker = broker_pid(h.pid());
    assert_eq!(settled_status(broker).uids, [BROKER_UID; 4]);
}
