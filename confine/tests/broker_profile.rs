//! The broker's confinement, applied in a child process, blocks what it must — each asserted from the
//! child's actual fate (exit signal or errno), not assumed:
//! - `execve` kills the process with SIGSYS;
//! - opening a file for writing outside the allowed paths fails with EACCES (and so does writing inside
//!   the read-only package root), although the same open succeeds before confinement;
//! - creating an AF_INET socket kills the process with SIGSYS;
//! - and, so the above cannot pass vacuously, a confined child still reads the package root, creates a
//!   Unix socket, starts a thread and measures itself as confined.
//!
//! The child is this test binary re-executed with `LPA_CONFINE_CHILD=<scenario>` (confinement is
//! irreversible and must happen while single-threaded, so it cannot run inside the test process). This
//! is a `harness = false` test: `main` either runs one child scenario or runs every test below. It needs
//! root (like the broker, the child empties its bounding set and drops to uid/gid 61002).

use lpa_confine::{Policy, Profile};
use nix::unistd::{Gid, Uid};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Output;

const CHILD: &str = "LPA_CONFINE_CHILD";
const ROOT: &str = "LPA_CONFINE_ROOT";
const OUTSIDE: &str = "LPA_CONFINE_OUTSIDE";
/// The broker's uid/gid in tests.
const BROKER_ID: u32 = 61002;
const SIGSYS: i32 = 31;

fn main() {
    if let Ok(scenario) = std::env::var(CHILD) {
        child(&scenario);
    }
    let tests: [(&str, fn()); 4] = [
        (
            "confined_broker_still_reads_its_root_uses_unix_sockets_and_threads",
            confined_broker_still_reads_its_root_uses_unix_sockets_and_threads,
        ),
        (
            "execve_kills_the_confined_broker",
            execve_kills_the_confined_broker,
        ),
        (
            "opening_for_writing_outside_allowed_paths_is_refused",
            opening_for_writing_outside_allowed_paths_is_refused,
        ),
        (
            "creating_an_inet_socket_kills_the_confined_broker",
            creating_an_inet_socket_kills_the_confined_broker,
        ),
    ];
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let mut failed = 0;
    for (name, test) in tests {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        match std::panic::catch_unwind(test) {
            Ok(()) => println!("test {name} ... ok"),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        println!("{failed} test(s) failed");
        std::process::exit(1);
    }
}

// ---- the tests ----

fn confined_broker_still_reads_its_root_uses_unix_sockets_and_threads() {
    let (out, _dirs) = run_child("baseline");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("read=package database"),
        "{}",
        describe(&out)
    );
    assert!(stdout.contains("unix=ok thread=ok"), "{}", describe(&out));
    assert!(
        stdout.contains("uid=61002 capeff=0 capbnd=0 nnp=true seccomp=filter landlock=Some"),
        "{}",
        describe(&out)
    );
}

fn execve_kills_the_confined_broker() {
    let (out, _dirs) = run_child("execve");
    assert_eq!(out.status.signal(), Some(SIGSYS), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("confined"),
        "the child died before it was confined: {}",
        describe(&out)
    );
}

fn opening_for_writing_outside_allowed_paths_is_refused() {
    let (out, _dirs) = run_child("write");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("before=ok"), "{}", describe(&out));
    assert!(stdout.contains("outside=EACCES"), "{}", describe(&out));
    assert!(stdout.contains("root=EACCES"), "{}", describe(&out));
}

fn creating_an_inet_socket_kills_the_confined_broker() {
    let (out, _dirs) = run_child("inet");
    assert_eq!(out.status.signal(), Some(SIGSYS), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("confined"),
        "the child died before it was confined: {}",
        describe(&out)
    );
}

// ---- parent side ----

/// Runs `scenario` in a re-executed child with a package root (readable) and an outside directory
/// (writable by the broker's uid as far as file permissions go).
fn run_child(scenario: &str) -> (Output, [tempfile::TempDir; 2]) {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test needs root: the child confines itself like the broker (bounding set, uid 61002)"
    );
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::write(root.path().join("status"), "package database").unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::set_permissions(outside.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    // Test code starts the re-executed test binary; product code never spawns outside the launcher.
    #[allow(clippy::disallowed_methods)]
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .env(CHILD, scenario)
        .env(ROOT, root.path())
        .env(OUTSIDE, outside.path())
        .output()
        .unwrap();
    (out, [root, outside])
}

fn describe(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

// ---- child side ----

fn say(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}");
    let _ = stdout.flush();
}

fn errno_name(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(13) => "EACCES".to_owned(),
        Some(n) => format!("errno {n}"),
        None => e.to_string(),
    }
}

fn try_write(path: &Path) -> String {
    match std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
    {
        Ok(_) => "ok".to_owned(),
        Err(e) => errno_name(&e),
    }
}

/// Confines this process exactly as the broker does: bounding set as root, then the uid change, then
/// the broker profile under the strict policy.
fn confine_like_the_broker(root: &Path) {
    lpa_confine::caps::drop_bounding().expect("drop the bounding set as root");
    nix::unistd::setgroups(&[]).unwrap();
    let gid = Gid::from_raw(BROKER_ID);
    let uid = Uid::from_raw(BROKER_ID);
    nix::unistd::setresgid(gid, gid, gid).unwrap();
    nix::unistd::setresuid(uid, uid, uid).unwrap();
    let profile = Profile::broker(vec![root.to_path_buf()]);
    lpa_confine::apply(&profile, Policy::Strict).expect("broker confinement");
    say("confined");
}

fn child(scenario: &str) -> ! {
    let root = PathBuf::from(std::env::var_os(ROOT).unwrap());
    let outside = PathBuf::from(std::env::var_os(OUTSIDE).unwrap());
    match scenario {
        "baseline" => {
            confine_like_the_broker(&root);
            let read =
                std::fs::read_to_string(root.join("status")).unwrap_or_else(|e| errno_name(&e));
            say(&format!("read={read}"));
            let unix = match std::os::unix::net::UnixStream::pair() {
                Ok(_) => "ok",
                Err(_) => "failed",
            };
            let thread = match std::thread::spawn(|| 7).join() {
                Ok(7) => "ok",
                _ => "failed",
            };
            say(&format!("unix={unix} thread={thread}"));
            let c = lpa_confine::report::measure().expect("measure");
            say(&format!(
                "uid={} capeff={:x} capbnd={:x} nnp={} seccomp={} landlock={:?}",
                c.uid,
                c.cap_effective,
                c.cap_bounding,
                c.no_new_privs,
                c.seccomp(),
                c.recorded.landlock.map(|l| l.enforcement)
            ));
        }
        "execve" => {
            confine_like_the_broker(&root);
            let program = c"/bin/true";
            let _ = nix::unistd::execv(program, &[program]);
            say("execve returned");
        }
        "write" => {
            // Before confinement the broker's uid may write there (the directory is 0777).
            let before = try_write(&outside.join("before"));
            confine_like_the_broker(&root);
            say(&format!("before={before}"));
            say(&format!("outside={}", try_write(&outside.join("after"))));
            say(&format!("root={}", try_write(&root.join("status"))));
        }
        "inet" => {
            confine_like_the_broker(&root);
            let r = nix::sys::socket::socket(
                nix::sys::socket::AddressFamily::Inet,
                nix::sys::socket::SockType::Stream,
                nix::sys::socket::SockFlag::empty(),
                None,
            );
            say(&format!("socket returned {r:?}"));
        }
        other => say(&format!("unknown scenario {other}")),
    }
    std::process::exit(0)
}
