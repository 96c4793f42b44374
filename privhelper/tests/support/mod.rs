//! Starts the real helper binary as root on a throw-away package root and talks to it over its socket.
//!
//! Frontend uid/gid 61001, broker 61002 (numeric, no passwd entries), `allow_root_peer: true` so this
//! test code (root) may connect. Everything lives in one 0755 temporary directory.
#![allow(dead_code)]

pub mod sandbox;

use lpa_protocol::frame::{self, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME};
use lpa_protocol::{ClientMessage, Hello, Operation, ServerMessage};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const FRONTEND_UID: u32 = 61001;
pub const BROKER_UID: u32 = 61002;
pub const OTHER_UID: u32 = 61003;

/// A hand-written dpkg status: two installed packages (one held), one removed with config files left.
pub const STATUS: &str = "\
Package: demo-hello
Status: hold ok installed
Priority: optional
Section: misc
Installed-Size: 12
Maintainer: Demo Maintainer <demo@example.invalid>
Architecture: all
Version: 1.0
Description: demo package demo-hello
 A longer description.
Homepage: https://example.invalid/demo-hello

Package: demo-app
Status: install ok installed
Maintainer: Demo Maintainer <demo@example.invalid>
Architecture: amd64
Version: 2.1-3
Pre-Depends: libc6 (>= 2.34)
Depends: demo-lib (>= 1.0), demo-hello | demo-other
Description: demo application

Package: demo-removed
Status: deinstall ok config-files
Architecture: all
Version: 0.9
Description: removed, config files left
";

pub struct Helper {
    pub child: Child,
    pub config: PathBuf,
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    pub log: PathBuf,
    pub root: PathBuf,
}

// Tests must start the real helper binary as a separate process.
#[allow(clippy::disallowed_methods)]
fn spawn_helper(config: &Path, log: &Path) -> Child {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_linux-patch-api-helper"))
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .unwrap()
}

/// How the helper gets its listening socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// The helper binds the configured path.
    Bind,
    /// `systemd-socket-activate` binds another path and passes it as fd 3 (`LISTEN_FDS=1`).
    Systemd,
}

// Tests must start the real helper binary as a separate process.
#[allow(clippy::disallowed_methods)]
fn spawn_activated(config: &Path, log: &Path, socket: &Path) -> Child {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new("/usr/bin/systemd-socket-activate")
        .arg("-l")
        .arg(socket)
        .arg("-E")
        .arg("RUST_LOG=debug")
        .arg(env!("CARGO_BIN_EXE_linux-patch-api-helper"))
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .expect("/usr/bin/systemd-socket-activate (package systemd) is needed for this test")
}

/// Runs the helper binary to completion as `uid` (gid the same) with `args`.
// Tests must start the real helper binary as a separate process.
#[allow(clippy::disallowed_methods)]
pub fn run_helper_as(uid: u32, args: &[&std::ffi::OsStr]) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    Command::new(env!("CARGO_BIN_EXE_linux-patch-api-helper"))
        .args(args)
        .uid(uid)
        .gid(uid)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn mkdir_0755(p: &Path) {
    std::fs::create_dir_all(p).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

impl Helper {
    /// Starts the helper and waits until its socket accepts connections.
    pub fn start() -> Helper {
        Self::start_with(Activation::Bind)
    }

    /// Starts the helper with its socket either bound by itself or passed by `systemd-socket-activate`
    /// (TESTING.md §6), in which case `socket` is the activated path, not the configured one.
    pub fn start_with(activation: Activation) -> Helper {
        assert!(nix::unistd::geteuid().is_root(), "these tests run as root");
        let dir = tempfile::Builder::new()
            .prefix("lpa-helper-")
            .tempdir()
            .unwrap();
        mkdir_0755(dir.path());
        let root = dir.path().join("root");
        for d in [
            "var/lib/dpkg/info",
            "etc/apt/apt.conf.d",
            "etc/apt/preferences.d",
            "etc/apt/sources.list.d",
            "var/lib/apt/lists/partial",
            "var/cache/apt/archives/partial",
        ] {
            mkdir_0755(&root.join(d));
        }
        std::fs::write(root.join("var/lib/dpkg/status"), STATUS).unwrap();
        std::fs::write(root.join("var/lib/dpkg/info/demo-hello.list"), "/.\n").unwrap();
        std::fs::write(root.join("var/lib/dpkg/info/demo-app:amd64.list"), "/.\n").unwrap();
        std::fs::write(root.join("etc/apt/sources.list"), "").unwrap();
        std::fs::write(
            root.join("etc/os-release"),
            "PRETTY_NAME=\"Demo GNU/Linux 12\"\nNAME=\"Demo GNU/Linux\"\nVERSION_ID=\"12\"\n\
             VERSION_CODENAME=bookworm\nID=demo\nID_LIKE=debian\n",
        )
        .unwrap();
        // apt reads this before the host's apt.conf.d (TESTING.md §1, gotcha A1): no host state is used.
        let apt_conf = dir.path().join("apt.conf");
        std::fs::write(
            &apt_conf,
            format!(
                "Dir \"{r}/\";\nDir::State::status \"{r}/var/lib/dpkg/status\";\nAPT::Sandbox::User \"root\";\n\
                 Acquire::Languages \"none\";\n",
                r = root.display()
            ),
        )
        .unwrap();
        let sock_dir = dir.path().join("run");
        mkdir_0755(&sock_dir);
        let socket = sock_dir.join("helper.sock");
        let config = dir.path().join("helper.yaml");
        std::fs::write(
            &config,
            format!(
                "socket:\n  path: {}\nfrontend_user: {FRONTEND_UID}\nfrontend_group: {FRONTEND_UID}\n\
                 broker_user: {BROKER_UID}\nbroker_group: \"{BROKER_UID}\"\nallow_root_peer: true\n\
                 backend: auto\npackage_root: {}\napt:\n  config_file: {}\n",
                socket.display(),
                root.display(),
                apt_conf.display()
            ),
        )
        .unwrap();
        let log = dir.path().join("helper.log");
        let (child, socket) = match activation {
            Activation::Bind => (spawn_helper(&config, &log), socket),
            Activation::Systemd => {
                let activated = sock_dir.join("activated.sock");
                (spawn_activated(&config, &log, &activated), activated)
            }
        };
        let h = Helper {
            child,
            config,
            dir,
            socket,
            log,
            root,
        };
        h.wait_ready();
        h
    }

    /// Starts a new helper on the same configuration and socket path (after the old one stopped).
    pub fn restart(&mut self) {
        assert!(
            self.child.try_wait().unwrap().is_some(),
            "stop the old helper first"
        );
        self.child = spawn_helper(&self.config, &self.log);
        self.wait_ready();
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if UnixStream::connect(&self.socket).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("helper did not start; log:\n{}", self.log_text());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// A raw connection, nothing sent.
    pub fn connect_raw(&self) -> UnixStream {
        let s = UnixStream::connect(&self.socket).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s
    }

    /// A connection after a successful Hello.
    pub fn connect(&self) -> UnixStream {
        let mut s = self.connect_raw();
        match exchange(&mut s, &ClientMessage::Hello(Hello::current())) {
            Some(ServerMessage::HelloAck(_)) => s,
            other => panic!("no HelloAck: {other:?}\nlog:\n{}", self.log_text()),
        }
    }

    /// Waits for the launcher to exit, at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(st) = self.child.try_wait().unwrap() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid()),
            nix::sys::signal::Signal::SIGTERM,
        );
        if self.wait_exit(Duration::from_secs(5)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends one message and reads one answer; `None` when the helper closed the connection.
pub fn exchange(s: &mut UnixStream, msg: &ClientMessage) -> Option<ServerMessage> {
    send_payload(s, &frame::encode(msg, MAX_REQUEST_FRAME).unwrap());
    read_message(s)
}

/// Writes one frame with the given payload (length prefix added).
pub fn send_payload(s: &mut UnixStream, payload: &[u8]) {
    // The helper may already have closed the connection; the read that follows tells.
    let _ = frame::write_frame(s, payload);
}

/// Reads one message; `None` on end of stream or a reset.
pub fn read_message(s: &mut UnixStream) -> Option<ServerMessage> {
    match frame::read_frame(s, MAX_RESPONSE_FRAME) {
        Ok(Some(p)) => {
            Some(frame::decode(&p, MAX_RESPONSE_FRAME).expect("helper sent a valid frame"))
        }
        Ok(None) => None,
        Err(frame::FrameError::Io(e)) if e.kind() != std::io::ErrorKind::WouldBlock => None,
        Err(e) => panic!("unexpected read error: {e}"),
    }
}

/// One request on an established connection.
pub fn request(s: &mut UnixStream, id: u64, operation: Operation) -> ServerMessage {
    exchange(s, &ClientMessage::Request { id, operation }).expect("connection closed")
}

/// True when the helper closed `s` (end of stream or reset) within the read timeout.
pub fn is_closed(s: &mut UnixStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 64];
    loop {
        match std::io::Read::read(s, &mut buf) {
            Ok(0) => return true,
            Ok(_) => return false,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

/// A `Request { id, PackageDetail { name } }` hand-encoded like protocol's frame tests, so that names
/// the protocol types would refuse to construct can be sent.
pub fn raw_package_detail(id: u64, name: &str) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&1u32.to_le_bytes()); // ClientMessage::Request
    b.extend_from_slice(&id.to_le_bytes());
    b.extend_from_slice(&4u32.to_le_bytes()); // Operation::PackageDetail
    b.extend_from_slice(&(name.len() as u64).to_le_bytes());
    b.extend_from_slice(name.as_bytes());
    b
}

/// Writes raw bytes, ignoring a closed peer.
pub fn write_raw(s: &mut UnixStream, bytes: &[u8]) {
    let _ = s.write_all(bytes);
    let _ = s.flush();
}

/// `(Uid, PPid)` lines of /proc/<pid>/status: (real, effective, saved, fs uids), parent pid, groups.
pub struct ProcStatus {
    pub uids: Vec<u32>,
    pub gids: Vec<u32>,
    pub groups: Vec<u32>,
    pub ppid: i32,
}

pub fn proc_status(pid: i32) -> Option<ProcStatus> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |k: &str| -> Vec<u32> {
        text.lines()
            .find_map(|l| l.strip_prefix(k))
            .map(|v| {
                v.split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    Some(ProcStatus {
        uids: field("Uid:"),
        gids: field("Gid:"),
        groups: field("Groups:"),
        ppid: *field("PPid:").first()? as i32,
    })
}

/// Children of `parent` among all processes.
pub fn children_of(parent: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| proc_status(*pid).is_some_and(|s| s.ppid == parent))
        .collect()
}

/// The broker: the one child of the launcher, polled for briefly after start.
pub fn broker_pid(launcher: i32) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let kids = children_of(launcher);
        if kids.len() == 1 {
            return kids[0];
        }
        assert!(
            Instant::now() < deadline,
            "launcher {launcher} has children {kids:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
