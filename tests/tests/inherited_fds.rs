//! The frontend closes descriptors it inherited (except sockets passed by systemd, proven by
//! `socket_activation.rs`): a file left open by the parent is not open in the running daemon.

use lpa_testkit::harness::{FRONTEND_BINARY, FRONTEND_ID};
use lpa_testkit::paths::binary_path;
use lpa_tests::stack;
use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use std::os::fd::AsRawFd;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The targets of the open descriptors of `pid`.
fn open_files(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .map(|t| t.display().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_frontend_closes_a_descriptor_its_parent_left_open() {
    let mut stack = stack::plain();
    stack.stop_frontend().expect("frontend stops");
    // A file the parent leaves open across exec (close-on-exec cleared).
    let leaked_path = stack.work_dir().join("leaked-secret.txt");
    let leaked = std::fs::File::create(&leaked_path).unwrap();
    fcntl(&leaked, FcntlArg::F_SETFD(FdFlag::empty())).unwrap();
    let fd = leaked.as_raw_fd();

    let setpriv = |program: &std::path::Path| {
        let mut cmd = lpa_testkit::run::command("/usr/bin/setpriv");
        cmd.args([
            format!("--reuid={FRONTEND_ID}"),
            format!("--regid={FRONTEND_ID}"),
            "--clear-groups".to_owned(),
            "--bounding-set=-all".to_owned(),
            "--".to_owned(),
        ])
        .arg(program);
        cmd
    };
    // Positive control: a child started the same way does hold the descriptor.
    let listing = setpriv(std::path::Path::new("/bin/ls"))
        .args(["-l", "/proc/self/fd/"])
        .output()
        .expect("ls runs");
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(
        listing.contains("leaked-secret.txt"),
        "the descriptor was not inherited at all: {listing}"
    );

    let log = std::fs::File::create(stack.work_dir().join("frontend-fds.log")).unwrap();
    let mut child = setpriv(&binary_path(FRONTEND_BINARY).unwrap())
        .arg("--config")
        .arg(stack.frontend_config_path())
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("frontend starts");
    drop(leaked);
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(stack.connect_addr()).is_err() {
        assert!(Instant::now() < deadline, "the frontend did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let files = open_files(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(stack.work_dir().join("frontend-fds.log")).unwrap();
    assert!(
        !files.iter().any(|f| f.contains("leaked-secret.txt")),
        "the frontend still holds the inherited file: {files:?}\n{log}"
    );
    let closed: Vec<i32> = log
        .lines()
        .find_map(|l| l.split_once("closed descriptors inherited from the parent: ["))
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list.split(", ").filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_default();
    assert!(
        closed.contains(&fd),
        "fd {fd} not among the closed {closed:?}
{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_helper_closes_a_descriptor_its_parent_left_open() {
    let mut stack = stack::plain();
    stack.stop_helper().expect("helper stops");
    let leaked_path = stack.work_dir().join("leaked-by-the-helpers-parent.txt");
    let leaked = std::fs::File::create(&leaked_path).unwrap();
    fcntl(&leaked, FcntlArg::F_SETFD(FdFlag::empty())).unwrap();
    let fd = leaked.as_raw_fd();
    // Positive control: a child started the same way holds it.
    let listing = lpa_testkit::run::command("/bin/ls")
        .args(["-l", "/proc/self/fd/"])
        .output()
        .expect("ls runs");
    assert!(
        String::from_utf8_lossy(&listing.stdout).contains("leaked-by-the-helpers-parent.txt"),
        "the descriptor was not inherited at all"
    );
    let log_path = stack.work_dir().join("helper-fds.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child =
        lpa_testkit::run::command(binary_path(lpa_testkit::harness::HELPER_BINARY).unwrap())
            .arg("--config")
            .arg(stack.helper_config_path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("helper starts");
    drop(leaked);
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::os::unix::net::UnixStream::connect(stack.helper_socket()).is_err() {
        assert!(Instant::now() < deadline, "the helper did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let files = open_files(child.id());
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = child.wait();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        !files
            .iter()
            .any(|f| f.contains("leaked-by-the-helpers-parent.txt")),
        "the helper still holds the inherited file: {files:?}\n{log}"
    );
    let closed: Vec<i32> = log
        .lines()
        .filter(|l| l.contains("closed descriptors inherited from the parent"))
        .find_map(|l| l.split_once("fds=["))
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list.split(", ").filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_default();
    assert!(
        closed.contains(&fd),
        "fd {fd} not among the closed {closed:?}\n{log}"
    );
}
