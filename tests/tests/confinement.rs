//! Confinement of a running stack, observed from outside through `/proc/PID/status` and through
//! `GET /health`, and the `security.confinement` policy when a step cannot be applied.
//!
//! The frontend is started the way systemd starts it (`CapabilityBoundingSet=` empty): through
//! `setpriv --bounding-set=-all` as uid/gid 61001, by the harness and by the policy tests here. An
//! unprivileged process cannot empty its own bounding set; the broker can, because it does so as root before
//! dropping its uid.

use lpa_testkit::harness::Stack;
use lpa_tests::stack;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A frontend this test started, killed when dropped.
struct Frontend {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Frontend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Frontend {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
    probe.local_addr().expect("addr").port()
}

/// A copy of the stack's `config.yaml` listening on `port`, with `extra` appended; written to the work dir.
fn config_with(stack: &Stack, name: &str, port: u16, extra: &str) -> PathBuf {
    let text = std::fs::read_to_string(stack.frontend_config_path()).expect("config.yaml");
    let old = format!("  port: {}\n", stack.port());
    assert!(text.contains(&old), "unexpected config layout:\n{text}");
    let text = text.replace(&old, &format!("  port: {port}\n")) + extra;
    let path = stack.work_dir().join(name);
    std::fs::write(&path, text).expect("write config");
    path
}

/// Starts the frontend as 61001 with an empty bounding set (as systemd would) on `config`.
fn start_frontend(stack: &Stack, config: &Path, port: u16, name: &str) -> Frontend {
    start_frontend_with(stack, config, port, name, true)
}

/// Starts the frontend as 61001 on `config`; with `empty_bounding_set` false the bounding set is left as
/// inherited from root (full), as when no service manager empties it.
fn start_frontend_with(
    stack: &Stack,
    config: &Path,
    port: u16,
    name: &str,
    empty_bounding_set: bool,
) -> Frontend {
    let log = stack.work_dir().join(format!("{name}.log"));
    let out = std::fs::File::create(&log).expect("log file");
    let mut args = vec!["--reuid=61001", "--regid=61001", "--clear-groups"];
    if empty_bounding_set {
        args.push("--bounding-set=-all");
    }
    args.extend(["--inh-caps=-all", "--"]);
    // Test code starting the product: the disallowed-methods lint guards product code, not tests.
    #[allow(clippy::disallowed_methods)]
    let child = std::process::Command::new("/usr/bin/setpriv")
        .args(args)
        .arg(lpa_testkit::paths::binary_path("linux-patch-api").expect("binary"))
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("dup"))
        .stderr(out)
        .spawn()
        .expect("setpriv runs");
    Frontend { child, port, log }
}

async fn health(stack: &Stack, frontend: &mut Frontend) -> serde_json::Value {
    let mut creds = stack::credentials(stack, &stack.pki().client);
    creds.url = format!("https://127.0.0.1:{}", frontend.port);
    let client = lpa_client::ApiClient::new(&creds).expect("client");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = frontend.child.try_wait().expect("try_wait") {
            panic!("frontend exited ({status}):\n{}", frontend.log());
        }
        match client.health().await {
            Ok(resp) => {
                assert_eq!(resp.status, 200, "{}", frontend.log());
                return resp.data().clone();
            }
            Err(e) if Instant::now() > deadline => {
                panic!("no health answer: {e}\n{}", frontend.log())
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The fields of `/proc/PID/status` that describe confinement.
#[derive(Debug)]
struct Status {
    uid: u32,
    cap_eff: u64,
    cap_bnd: u64,
    no_new_privs: u8,
    seccomp: u8,
}

fn proc_status(pid: u32) -> Status {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let field = |name: &str| -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
            .trim()
            .to_owned()
    };
    Status {
        uid: field("Uid")
            .split_whitespace()
            .nth(1)
            .expect("euid")
            .parse()
            .expect("uid"),
        cap_eff: u64::from_str_radix(&field("CapEff"), 16).expect("hex"),
        cap_bnd: u64::from_str_radix(&field("CapBnd"), 16).expect("hex"),
        no_new_privs: field("NoNewPrivs").parse().expect("nnp"),
        seccomp: field("Seccomp").parse().expect("seccomp"),
    }
}

/// The broker: the launcher's child running as the broker uid.
fn broker_pid(launcher: u32) -> u32 {
    for entry in std::fs::read_dir("/proc").expect("/proc") {
        let Ok(pid) = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .parse::<u32>()
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Field 4 (after the parenthesised command name) is the parent pid.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(launcher) && proc_status(pid).uid == lpa_testkit::harness::BROKER_ID {
            return pid;
        }
    }
    panic!("no broker child of launcher {launcher}");
}

fn assert_confined(what: &str, s: &Status, uid: u32) {
    assert_eq!(s.uid, uid, "{what}: {s:?}");
    assert_ne!(s.uid, 0, "{what}: {s:?}");
    assert_eq!(s.cap_eff, 0, "{what}: {s:?}");
    assert_eq!(s.cap_bnd, 0, "{what}: {s:?}");
    assert_eq!(s.no_new_privs, 1, "{what}: {s:?}");
    assert_eq!(s.seccomp, 2, "{what}: {s:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn frontend_and_broker_are_confined_the_launcher_is_not_and_health_reports_all_three() {
    let stack = stack::plain();
    // The harness starts the frontend as systemd would (empty bounding set, uid 61001).
    let data = lpa_tests::stack::client(&stack)
        .health()
        .await
        .expect("health")
        .data()
        .clone();
    let launcher = stack.helper_pid().expect("helper runs");
    let broker = broker_pid(launcher);
    assert_confined(
        "frontend",
        &proc_status(stack.frontend_pid().expect("frontend runs")),
        61001,
    );
    assert_confined(
        "broker",
        &proc_status(broker),
        lpa_testkit::harness::BROKER_ID,
    );
    let l = proc_status(launcher);
    assert_eq!(l.uid, 0, "launcher: {l:?}");
    assert_eq!(l.no_new_privs, 0, "launcher: {l:?}");
    assert_eq!(l.seccomp, 0, "launcher: {l:?}");
    assert_ne!(l.cap_eff, 0, "launcher: {l:?}");

    assert_eq!(data["status"], "healthy", "{data}");
    let c = &data["confinement"];
    for (name, uid) in [
        ("frontend", 61001),
        ("broker", lpa_testkit::harness::BROKER_ID),
    ] {
        let p = &c[name];
        assert_eq!(p["uid"], uid, "{name}: {data}");
        assert_eq!(p["capabilities"], serde_json::json!([]), "{name}: {data}");
        assert_eq!(p["bounding_hex"], "0000000000000000", "{name}: {data}");
        assert_eq!(p["no_new_privs"], true, "{name}: {data}");
        assert_eq!(p["seccomp"], "filter", "{name}: {data}");
        assert_eq!(p["landlock"]["enforcement"], "full", "{name}: {data}");
        assert!(
            p["landlock"]["abi"].as_u64().unwrap_or(0) >= 1,
            "{name}: {data}"
        );
        assert_eq!(p["degraded"], serde_json::json!([]), "{name}: {data}");
    }
    let l = &c["launcher"];
    assert_eq!(l["uid"], 0, "{data}");
    assert_eq!(l["no_new_privs"], false, "{data}");
    assert_eq!(l["seccomp"], "disabled", "{data}");
    assert!(l["landlock"].is_null(), "{data}");
    assert!(
        l["capabilities"]
            .as_array()
            .is_some_and(|caps| caps.iter().any(|c| c == "cap_sys_admin")),
        "{data}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn strict_confinement_with_an_impossible_step_refuses_to_start() {
    let stack = stack::plain();
    let port = free_port();
    let config = config_with(
        &stack,
        "config-strict.yaml",
        port,
        "security:\n  confinement: strict\n  landlock_min_abi: 99\n",
    );
    let mut fe = start_frontend(&stack, &config, port, "frontend-strict");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = fe.child.try_wait().expect("try_wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "still running:\n{}", fe.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!status.success(), "{status}\n{}", fe.log());
    let log = fe.log();
    assert!(log.contains("cannot confine the daemon"), "{log}");
    assert!(log.contains("refusing to start"), "{log}");
    assert!(log.contains("below the required 99"), "{log}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing may listen after a refused start"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn best_effort_confinement_with_an_impossible_step_starts_degraded() {
    let stack = stack::plain();
    let port = free_port();
    let config = config_with(
        &stack,
        "config-best-effort.yaml",
        port,
        "security:\n  confinement: best_effort\n  landlock_min_abi: 99\n",
    );
    let mut fe = start_frontend(&stack, &config, port, "frontend-best-effort");
    let data = health(&stack, &mut fe).await;
    assert_eq!(data["status"], "degraded", "{data}");
    let f = &data["confinement"]["frontend"];
    let degraded = f["degraded"].as_array().expect("degraded list");
    assert_eq!(degraded.len(), 1, "{data}");
    assert!(
        degraded[0]
            .as_str()
            .unwrap_or("")
            .contains("below the required 99"),
        "{data}"
    );
    // The other steps still apply.
    assert_eq!(f["seccomp"], "filter", "{data}");
    assert_eq!(f["no_new_privs"], true, "{data}");
    assert_eq!(
        data["confinement"]["broker"]["degraded"],
        serde_json::json!([]),
        "{data}"
    );
    let s = proc_status(fe.child.id());
    assert_eq!(s.seccomp, 2, "{s:?}");
    assert!(fe.log().contains("degraded confinement"), "{}", fe.log());
}

/// A frontend started without an emptied capability bounding set (no service manager did it) says so:
/// `/health` is `degraded` and `confinement.frontend.degraded` names the bounding set; the same frontend with
/// the empty set (positive control) is `healthy` with nothing degraded.
#[tokio::test(flavor = "multi_thread")]
async fn a_non_empty_bounding_set_makes_health_degraded_and_an_empty_one_healthy() {
    let stack = stack::plain();
    for empty in [true, false] {
        let port = free_port();
        let name = format!("frontend-bounding-{empty}");
        let config = config_with(&stack, &format!("{name}.yaml"), port, "");
        let mut fe = start_frontend_with(&stack, &config, port, &name, empty);
        let data = health(&stack, &mut fe).await;
        // Read once it answers: setpriv has exec'd the frontend by then.
        let bounding = proc_status(fe.child.id()).cap_bnd;
        let degraded = data["confinement"]["frontend"]["degraded"]
            .as_array()
            .expect("degraded list")
            .clone();
        if empty {
            assert_eq!(bounding, 0, "setpriv emptied the bounding set");
            assert_eq!(data["status"], "healthy", "{data}\n{}", fe.log());
            assert!(degraded.is_empty(), "{data}");
        } else {
            assert_ne!(bounding, 0, "the bounding set was left as inherited");
            assert_eq!(data["status"], "degraded", "{data}");
            assert_eq!(degraded.len(), 1, "{data}");
            assert!(
                degraded[0]
                    .as_str()
                    .unwrap_or("")
                    .contains("capability bounding set not empty"),
                "{data}"
            );
            // Nothing else is wrong: the helper and the broker's confinement are fine.
            assert_eq!(data["checks"]["helper"], "ok", "{data}");
            assert_eq!(
                data["confinement"]["broker"]["degraded"],
                serde_json::json!([]),
                "{data}"
            );
        }
    }
}
