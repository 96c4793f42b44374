//! The real `linux-patch-api` binary: refusing root, `--check-config`, start-up and SIGTERM.
//!
//! These tests run as root (as CI does) and start the binary as uid/gid 61001, the frontend's test identity
//! (a numeric id with no passwd entry, so nothing is added to the host).
#![forbid(unsafe_code)]

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const FRONTEND_UID: u32 = 61001;
const BIN: &str = env!("CARGO_BIN_EXE_linux-patch-api");

/// A 0755 directory with a CA, a server certificate, a whitelist and a config.yaml whose extra text is
/// `extra` (appended verbatim).
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(port: u16, extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut ca_params = CertificateParams::default();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "CLI Test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let server_params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let server_cert = server_params
            .signed_by(&server_key, &Issuer::from_params(&ca_params, &ca_key))
            .unwrap();
        let write = |name: &str, content: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, content).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        };
        write("ca.pem", &ca_cert.pem());
        write("server.pem", &server_cert.pem());
        write("server.key", &server_key.serialize_pem());
        write("whitelist.yaml", "allowed: [\"127.0.0.1\", \"::1\"]\n");
        let d = dir.path().display();
        write(
            "config.yaml",
            &format!(
                "server:\n  bind: 127.0.0.1\n  port: {port}\ntls:\n  ca_cert: {d}/ca.pem\n  server_cert: {d}/server.pem\n  \
                 server_key: {d}/server.key\nwhitelist:\n  path: {d}/whitelist.yaml\nhelper:\n  socket: {d}/helper.sock\n\
                 state_dir: {d}\n{extra}"
            ),
        );
        Setup { dir }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("config.yaml")
    }
}

fn assert_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "these tests start the daemon as another uid and check the root refusal: run them as root (CI does)"
    );
}

/// A command for the daemon binary running as the frontend's test uid.
// Tests must start the real binary; only test code and the helper's launcher may spawn processes.
#[allow(clippy::disallowed_methods)]
fn as_frontend_user(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .uid(FRONTEND_UID)
        .gid(FRONTEND_UID)
        .env_remove("RUST_LOG");
    cmd
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

// Tests must start the real binary; only test code and the helper's launcher may spawn processes.
#[allow(clippy::disallowed_methods)]
#[test]
fn refuses_to_run_as_root_before_reading_the_config() {
    assert_root();
    let output = Command::new(BIN)
        .args(["--config", "/nonexistent/config.yaml"])
        .output()
        .unwrap();
    let text = text(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("root"), "{text}");
    assert!(
        !text.contains("/nonexistent"),
        "the config was read before the uid check: {text}"
    );
}

#[test]
fn check_config_accepts_a_valid_configuration() {
    assert_root();
    let setup = Setup::new(12443, "");
    let config = setup.config();
    let output = as_frontend_user(&["--config", config.to_str().unwrap(), "--check-config"])
        .output()
        .unwrap();
    let text = text(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("configuration OK"), "{text}");
}

#[test]
fn check_config_with_unknown_key_exits_nonzero_naming_key_and_line() {
    assert_root();
    // The generated file has 12 lines before `extra`, so `levle` is on line 14.
    let setup = Setup::new(12443, "logging:\n  levle: debug\n");
    let config = setup.config();
    let output = as_frontend_user(&["--config", config.to_str().unwrap(), "--check-config"])
        .output()
        .unwrap();
    let text = text(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("logging.levle"), "{text}");
    assert!(text.contains("line 14"), "{text}");
    assert!(text.contains(&config.display().to_string()), "{text}");
}

#[test]
fn check_config_with_invalid_value_exits_one_naming_key_and_line() {
    assert_root();
    let setup = Setup::new(0, "");
    let config = setup.config();
    let output = as_frontend_user(&["--config", config.to_str().unwrap(), "--check-config"])
        .output()
        .unwrap();
    let text = text(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("line 3") && text.contains("server.port"),
        "{text}"
    );
}

#[test]
fn daemon_listens_and_exits_zero_on_sigterm() {
    assert_root();
    // A port unlikely to be taken, different per test process.
    let port = 20000 + (std::process::id() % 20000) as u16;
    let setup = Setup::new(port, "logging:\n  level: info\n");
    let config = setup.config();
    let mut child = as_frontend_user(&["--config", config.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let listening = loop {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => {
                let found = line.contains(&format!("listening on 127.0.0.1:{port}"));
                seen.push(line);
                if found {
                    break true;
                }
            }
            Err(_) => break false,
        }
    };
    if !listening {
        let _ = child.kill();
    }
    assert!(listening, "no 'listening on' line: {seen:#?}");
    std::net::TcpStream::connect(("127.0.0.1", port)).expect("daemon does not accept connections");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = wait_with_timeout(&mut child, Duration::from_secs(20));
    assert_eq!(status, Some(0), "{seen:#?}");
}

fn wait_with_timeout(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    None
}

#[test]
fn without_a_server_certificate_the_daemon_refuses_with_one_line_naming_file_and_command() {
    assert_root();
    let setup = Setup::new(12443, "");
    let config = setup.config();
    let cert = setup.dir.path().join("server.pem");
    let pem = std::fs::read(&cert).unwrap();
    std::fs::remove_file(&cert).unwrap();
    for extra in [&[][..], &["--check-config"][..]] {
        let mut args = vec!["--config", config.to_str().unwrap()];
        args.extend_from_slice(extra);
        let output = as_frontend_user(&args).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{}", text(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        let line = lines
            .iter()
            .find(|l| l.contains("no server certificate"))
            .unwrap_or_else(|| panic!("{extra:?}: {stderr}"));
        assert!(line.contains(&cert.display().to_string()), "{line}");
        assert!(line.contains("linux-patch-ctl pki issue server"), "{line}");
        assert!(
            line.contains(&format!("--out {}", setup.dir.path().display())),
            "{line}"
        );
        // The daemon itself says nothing else: that one line is the whole story.
        if extra.is_empty() {
            assert_eq!(lines.len(), 1, "{stderr}");
        }
    }
    // Positive control: with the certificate back, --check-config passes.
    std::fs::write(&cert, &pem).unwrap();
    std::fs::set_permissions(&cert, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = as_frontend_user(&["--config", config.to_str().unwrap(), "--check-config"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
}
