//! The launcher, the root half of the helper, faced with a hostile broker.
//!
//! The real [`launcher::serve`] runs on one end of a socketpair, exactly as `main` runs it after the fork;
//! the test holds the other end and plays the broker, sending `LauncherRequest` frames built by hand. The
//! "broker" whose death `serve` watches is a `sleep` child of the test. Package-changing entries act on a
//! real apt sandbox root through the real `apt-get` of this host, so "nothing ran" is checked where it
//! would show: the sandbox's dpkg database.
//!
//! Values the protocol types refuse to construct are put on the wire by splicing: a valid request is
//! encoded with a marker value, and the marker's bytes (bincode: u64 length, then UTF-8) are replaced with
//! the hostile value. The same splice with a valid value is executed, so every refusal below is caused by
//! the value alone, not by a malformed frame.

use lpa_privhelper::launcher::spawn::SpawnPolicy;
use lpa_privhelper::launcher::table::{Programs, Table};
use lpa_privhelper::launcher::{self, Exit};
use lpa_protocol::frame::{self, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME};
use lpa_protocol::launcher::{
    AptTarget, Invocation, LaunchError, LauncherRequest, LauncherResponse, PacmanTarget,
};
use lpa_protocol::{Architecture, PackageName, PackageSpec, RepoName, ServiceName, Version};
use lpa_testkit::{AptSandbox, Snapshot};
use nix::unistd::Pid;
use std::io::{ErrorKind, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A valid name and a valid version that appear nowhere else in an encoded request.
const NAME_MARK: &str = "zzqnamemarkqzz";
const VERSION_MARK: &str = "9zzqversionmarkqzz";

/// Names a package name must never be: option injection before and after `--`, whitespace, shell and
/// path syntax, control characters, empty and over-long values.
const HOSTILE_NAMES: &[&str] = &[
    "-oAPT::x=1",
    "-oDpkg::Pre-Invoke::=touch /tmp/lpa-pwned",
    "--allow-unauthenticated",
    "--",
    "-",
    "a b",
    "hello;id",
    "hello\n",
    "hello\0",
    "$(id)",
    "../../etc/passwd",
    "",
];

/// Versions the same: `hello=VERSION` must never smuggle an option or a second word.
const HOSTILE_VERSIONS: &[&str] = &["-1", "1.0 --force-yes", "1.0\n-oX=1", ""];

/// The tests share one process: launchers spawn children while holding the launcher's own spawn lock,
/// but starting a dummy broker here does not take it and could inherit a status pipe's write end. One
/// launcher at a time keeps every test's children its own.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running launcher and the broker's end of its socketpair.
struct Launcher {
    sock: UnixStream,
    broker: Pid,
    serving: Option<JoinHandle<Exit>>,
}

impl Launcher {
    /// `serve` on a thread with a `sleep` process standing in for the forked broker.
    fn start(table: Table, policy: SpawnPolicy) -> Launcher {
        let (ours, theirs) = UnixStream::pair().expect("socketpair");
        ours.set_read_timeout(Some(Duration::from_secs(120)))
            .expect("read timeout");
        // Test code: the stand-in broker must be a real child of this process, since `serve` waits for it
        // (and reaps it: that is why the `Child` is not waited for here).
        #[allow(clippy::disallowed_methods, clippy::zombie_processes)]
        let child = std::process::Command::new("sleep")
            .arg("600")
            .spawn()
            .expect("sleep starts");
        let broker = Pid::from_raw(child.id() as i32);
        let serving = std::thread::spawn(move || launcher::serve(theirs, broker, table, policy));
        Launcher {
            sock: ours,
            broker,
            serving: Some(serving),
        }
    }

    fn send_payload(&mut self, payload: &[u8]) {
        // The launcher may already have closed its end; what it answers (or not) is what is asserted.
        let _ = frame::write_frame(&mut self.sock, payload);
    }

    fn send(&mut self, request: &LauncherRequest) {
        let payload = frame::encode(request, MAX_REQUEST_FRAME).expect("encodes");
        self.send_payload(&payload);
    }

    /// The next response, or `None` when the launcher closed the socketpair.
    fn next(&mut self) -> Option<LauncherResponse> {
        match frame::read_frame(&mut self.sock, MAX_RESPONSE_FRAME) {
            Ok(Some(p)) => Some(frame::decode(&p, MAX_RESPONSE_FRAME).expect("a valid response")),
            Ok(None) => None,
            Err(frame::FrameError::Io(e)) if e.kind() == ErrorKind::ConnectionReset => None,
            Err(e) => panic!("no answer and no close from the launcher: {e}"),
        }
    }

    /// The `Finished` result of execution `id`, skipping its status lines.
    fn finished(&mut self, id: u64) -> Result<lpa_protocol::launcher::ExecOutput, LaunchError> {
        loop {
            match self.next() {
                Some(LauncherResponse::Finished { id: got, result }) if got == id => return result,
                Some(_) => continue,
                None => panic!("the launcher closed the socketpair instead of answering {id}"),
            }
        }
    }

    /// Asserts the launcher closed the socketpair without a single response, stopped serving because the
    /// broker misbehaved, and killed the broker. Returns the launcher's reason.
    fn assert_closed_without_answer(mut self) -> String {
        let answer = self.next();
        assert!(answer.is_none(), "the launcher answered: {answer:?}");
        let exit = self.join();
        let Exit::BrokerMisbehaved(reason) = exit else {
            panic!("the launcher stopped for another reason: {exit:?}");
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Path::new(&format!("/proc/{}", self.broker)).exists() {
            assert!(
                Instant::now() < deadline,
                "the launcher did not kill the broker that sent garbage"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        reason
    }

    fn join(&mut self) -> Exit {
        self.serving
            .take()
            .expect("joined once")
            .join()
            .expect("serve does not panic")
    }
}

impl Drop for Launcher {
    fn drop(&mut self) {
        // Closing the broker's end makes `serve` return and kill the stand-in broker.
        let _ = self.sock.shutdown(std::net::Shutdown::Both);
        if let Some(serving) = self.serving.take() {
            let _ = serving.join();
        }
    }
}

/// A fresh apt sandbox on the v1 fixtures with nothing installed, and a launcher table of this host whose
/// apt acts on it.
fn sandbox(dir: &Path) -> (AptSandbox, Table, SpawnPolicy) {
    assert!(nix::unistd::geteuid().is_root(), "these tests run as root");
    let sandbox = AptSandbox::create(&dir.join("sandbox"), Snapshot::V1, &[]).expect("sandbox");
    let mut table = Table::new(Programs::discover());
    table.package_root = sandbox.root().to_owned();
    let policy = SpawnPolicy {
        apt_config: Some(sandbox.apt_config_path().to_owned()),
        ..SpawnPolicy::default()
    };
    (sandbox, table, policy)
}

fn dpkg_status(sandbox: &AptSandbox) -> String {
    std::fs::read_to_string(sandbox.root().join("var/lib/dpkg/status")).expect("dpkg status")
}

fn name(s: &str) -> PackageName {
    PackageName::new(s).expect("a valid name")
}

fn spec(n: &str, version: Option<&str>) -> PackageSpec {
    PackageSpec {
        name: name(n),
        version: version.map(|v| Version::new(v).expect("a valid version")),
    }
}

/// apt's exact identity of a fixture package (every fixture is `Architecture: all`).
fn target(n: &str, version: Option<&str>) -> AptTarget {
    AptTarget {
        name: name(n),
        arch: Architecture::new("all").expect("valid"),
        version: version.map(|v| Version::new(v).expect("a valid version")),
    }
}

fn exec(id: u64, invocation: Invocation) -> LauncherRequest {
    LauncherRequest::Exec { id, invocation }
}

/// `install hello and MARK`: `hello` is the witness — had the launcher run anything, it would be installed.
fn install_with_name_mark() -> LauncherRequest {
    exec(
        1,
        Invocation::AptGetInstall {
            packages: vec![target("hello", None), target(NAME_MARK, None)],
            no_recommends: false,
            allow_downgrades: false,
            reinstall: false,
        },
    )
}

fn install_with_version_mark() -> LauncherRequest {
    exec(
        1,
        Invocation::AptGetInstall {
            packages: vec![target("hello", Some(VERSION_MARK))],
            no_recommends: false,
            allow_downgrades: false,
            reinstall: false,
        },
    )
}

/// The frame of `request` with its one occurrence of the string `mark` replaced by `value`.
fn splice(request: &LauncherRequest, mark: &str, value: &str) -> Vec<u8> {
    let payload = frame::encode(request, MAX_REQUEST_FRAME).expect("encodes");
    let mut needle = (mark.len() as u64).to_le_bytes().to_vec();
    needle.extend_from_slice(mark.as_bytes());
    let hits: Vec<usize> = payload
        .windows(needle.len())
        .enumerate()
        .filter_map(|(i, w)| (w == needle.as_slice()).then_some(i))
        .collect();
    assert_eq!(hits.len(), 1, "the mark occurs once in {request:?}");
    let at = hits[0];
    let mut out = payload[..at].to_vec();
    out.extend_from_slice(&(value.len() as u64).to_le_bytes());
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(&payload[at + needle.len()..]);
    out
}

#[test]
fn a_spliced_request_with_valid_values_is_executed_so_the_witness_can_fail() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let (sandbox, table, policy) = sandbox(dir.path());
    assert_eq!(sandbox.installed_version("hello"), None);

    let payload = splice(&install_with_name_mark(), NAME_MARK, "demo-tool");
    let decoded: LauncherRequest = frame::decode(&payload, MAX_REQUEST_FRAME).expect("valid");
    assert_eq!(
        decoded,
        exec(
            1,
            Invocation::AptGetInstall {
                packages: vec![target("hello", None), target("demo-tool", None)],
                no_recommends: false,
                allow_downgrades: false,
                reinstall: false,
            }
        )
    );
    let mut launcher = Launcher::start(table, policy);
    launcher.send_payload(&payload);
    let out = launcher.finished(1).expect("apt-get ran");
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert_eq!(sandbox.installed_version("hello").as_deref(), Some("1.0"));
    assert_eq!(
        sandbox.installed_version("demo-tool").as_deref(),
        Some("1.0")
    );
}

#[test]
fn hostile_package_names_close_the_socketpair_and_nothing_runs() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let (sandbox, table, policy) = sandbox(dir.path());
    let before = dpkg_status(&sandbox);
    let long = "a".repeat(300);
    let names = HOSTILE_NAMES.iter().copied().chain([long.as_str()]);
    let carriers = [
        install_with_name_mark(),
        exec(
            2,
            Invocation::AptGetRemove {
                names: vec![target("hello", None), target(NAME_MARK, None)],
                purge: true,
            },
        ),
        exec(
            3,
            Invocation::AptCachePolicy {
                name: name(NAME_MARK),
            },
        ),
        exec(
            4,
            Invocation::DnfInstall {
                packages: vec![spec(NAME_MARK, None)],
                no_weak_deps: false,
            },
        ),
        exec(
            5,
            Invocation::PacmanRemove {
                names: vec![name(NAME_MARK)],
                nosave: false,
            },
        ),
    ];
    for hostile in names {
        for carrier in &carriers {
            let mut launcher = Launcher::start(table.clone(), policy.clone());
            launcher.send_payload(&splice(carrier, NAME_MARK, hostile));
            let reason = launcher.assert_closed_without_answer();
            assert!(
                reason.contains("undecodable"),
                "{hostile:?} in {carrier:?}: {reason}"
            );
        }
    }
    assert_eq!(
        dpkg_status(&sandbox),
        before,
        "nothing was installed or removed"
    );
}

#[test]
fn hostile_versions_close_the_socketpair_and_nothing_runs() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let (sandbox, table, policy) = sandbox(dir.path());
    let before = dpkg_status(&sandbox);
    for hostile in HOSTILE_VERSIONS {
        let mut launcher = Launcher::start(table.clone(), policy.clone());
        launcher.send_payload(&splice(&install_with_version_mark(), VERSION_MARK, hostile));
        let reason = launcher.assert_closed_without_answer();
        assert!(reason.contains("undecodable"), "{hostile:?}: {reason}");
    }
    assert_eq!(dpkg_status(&sandbox), before);
    assert_eq!(sandbox.installed_version("hello"), None);
}

#[test]
fn unknown_request_and_invocation_kinds_and_trailing_bytes_close_the_socketpair() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let (sandbox, table, policy) = sandbox(dir.path());
    let before = dpkg_status(&sandbox);
    let valid = frame::encode(&install_with_name_mark(), MAX_REQUEST_FRAME).expect("encodes");

    // bincode: u32 variant of LauncherRequest, u64 id, u32 variant of Invocation, then its fields.
    let mut unknown_request = valid.clone();
    unknown_request[..4].copy_from_slice(&2u32.to_le_bytes());
    let mut unknown_invocation = valid.clone();
    unknown_invocation[12..16].copy_from_slice(&9_999u32.to_le_bytes());
    let mut trailing = valid.clone();
    trailing.push(0);
    let truncated = valid[..valid.len() - 1].to_vec();
    for (what, payload) in [
        ("an unknown request kind", unknown_request),
        ("an unknown table entry", unknown_invocation),
        ("a trailing byte", trailing),
        ("a truncated request", truncated),
        ("an empty frame", Vec::new()),
    ] {
        let mut launcher = Launcher::start(table.clone(), policy.clone());
        launcher.send_payload(&payload);
        let reason = launcher.assert_closed_without_answer();
        assert!(reason.contains("undecodable"), "{what}: {reason}");
    }
    assert_eq!(dpkg_status(&sandbox), before);
}

#[test]
fn an_oversized_frame_closes_the_socketpair_before_its_payload_is_read() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let (sandbox, table, policy) = sandbox(dir.path());
    let before = dpkg_status(&sandbox);
    let mut launcher = Launcher::start(table, policy);
    // Only the length prefix is sent: the launcher must refuse on the prefix, not wait for the body.
    let announced = (MAX_REQUEST_FRAME as u32) + 1;
    launcher
        .sock
        .write_all(&announced.to_be_bytes())
        .expect("prefix written");
    let reason = launcher.assert_closed_without_answer();
    assert!(reason.contains("exceeds"), "{reason}");
    assert_eq!(dpkg_status(&sandbox), before);
}

#[test]
fn entries_missing_from_this_hosts_table_are_refused_and_the_launcher_keeps_serving() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let (sandbox, table, policy) = sandbox(dir.path());
    let before = dpkg_status(&sandbox);
    // The table of an apt host: dnf, yum, rpm and pacman may exist on this machine, but not in this table.
    let mut apt_only = table.clone();
    apt_only.programs = Programs::discover_with(|p| {
        (p.ends_with("apt-get") || p.ends_with("apt-cache")) && p.exists()
    });
    let mut launcher = Launcher::start(apt_only, policy);
    let refused = [
        Invocation::DnfInstall {
            packages: vec![spec("hello", None)],
            no_weak_deps: false,
        },
        Invocation::PacmanInstall {
            packages: vec![PacmanTarget {
                repo: RepoName::new("demo").expect("valid"),
                name: name("hello"),
                version: None,
            }],
            reinstall: false,
        },
        Invocation::ApkAdd {
            packages: vec![spec("hello", None)],
        },
        Invocation::RpmQueryInstalled,
        Invocation::RcServiceStatus {
            name: ServiceName::new("ssh").expect("valid"),
        },
        // No reboot command is configured in this table: the entry does not exist.
        Invocation::Reboot { delay_minutes: 0 },
        // Entries that would run apt without a package are refused, not run with an empty value list.
        Invocation::AptGetInstall {
            packages: vec![],
            no_recommends: false,
            allow_downgrades: false,
            reinstall: false,
        },
        Invocation::AptGetRemove {
            names: vec![],
            purge: true,
        },
    ];
    for (id, invocation) in (10u64..).zip(refused) {
        launcher.send(&exec(id, invocation.clone()));
        match launcher.finished(id) {
            Err(LaunchError::NotAvailable(why)) => {
                assert!(!why.is_empty(), "{invocation:?}")
            }
            other => panic!("{invocation:?} was not refused: {other:?}"),
        }
    }
    assert_eq!(dpkg_status(&sandbox), before, "nothing ran");

    // Refusals are answers, not faults: the same launcher still runs an entry that is in its table.
    launcher.send(&exec(
        99,
        Invocation::AptCachePolicy {
            name: name("hello"),
        },
    ));
    let out = launcher.finished(99).expect("apt-cache ran");
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert!(out.program.ends_with("/apt-cache"), "{out:?}");
    assert!(out.stdout.contains("hello"), "{out:?}");
}

#[test]
fn apt_values_outside_debian_grammar_are_refused_by_the_launcher_itself_and_nothing_runs() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let (sandbox, table, policy) = sandbox(dir.path());
    let before = dpkg_status(&sandbox);
    let mut launcher = Launcher::start(table, policy);
    let install = |t: AptTarget| Invocation::AptGetInstall {
        packages: vec![t],
        no_recommends: false,
        allow_downgrades: false,
        reinstall: false,
    };
    // Each decodes (the union grammar accepts it) but is not Debian's: a version ending in `-` would make
    // apt read `hello:all=1.0-` as "remove", and upper case or `_` never name a Debian package.
    let refused = [
        install(target("hello", Some("1.0-"))),
        install(target("hello", Some("1.0_1"))),
        install(target("Hello", None)),
        Invocation::AptGetRemove {
            names: vec![target("hello_x", None)],
            purge: false,
        },
        Invocation::AptGetOnlyUpgrade {
            names: vec![target("Hello", None)],
        },
    ];
    for (id, invocation) in (20u64..).zip(refused) {
        launcher.send(&exec(id, invocation.clone()));
        match launcher.finished(id) {
            Err(LaunchError::NotAvailable(why)) => {
                assert!(why.contains("refusing"), "{invocation:?}: {why}")
            }
            other => panic!("{invocation:?} was not refused: {other:?}"),
        }
    }
    assert_eq!(dpkg_status(&sandbox), before, "nothing ran");
    // Positive control: the exact pinned form of a real package runs and installs exactly that version.
    launcher.send(&exec(30, install(target("hello", Some("1.0")))));
    let out = launcher.finished(30).expect("apt-get ran");
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert_eq!(sandbox.installed_version("hello").as_deref(), Some("1.0"));
}

#[test]
fn dnf_values_outside_rpm_grammar_are_refused_by_the_launcher_itself() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let (_sandbox, mut table, policy) = sandbox(dir.path());
    // A dnf table on an empty root whose config file does not exist: whatever dnf is asked, it ends with
    // an error of its own, so "ran" (an exit code) and "refused by the launcher" are told apart.
    table.package_root = dir.path().join("dnf-root");
    table.dnf.config_file = Some(dir.path().join("missing-dnf.conf"));
    let mut launcher = Launcher::start(table, policy);
    // `hello.rpm` and `hello-1.0.rpm` (name + version joined) are local files to dnf; `1.0-1-1` is not an
    // RPM version. Each passes the union grammar, so only the launcher's own check stops it.
    let refused = [
        Invocation::DnfInstall {
            packages: vec![spec("hello.rpm", None)],
            no_weak_deps: false,
        },
        Invocation::DnfInstall {
            packages: vec![spec("hello", Some("1.0.rpm"))],
            no_weak_deps: false,
        },
        Invocation::DnfDowngrade {
            packages: vec![spec("hello", Some("1.0-1-1"))],
        },
        Invocation::DnfRemove {
            names: vec![name("hello.RPM")],
        },
        Invocation::DnfUpgrade {
            names: vec![name("x.rpm")],
        },
    ];
    for (id, invocation) in (40u64..).zip(refused) {
        launcher.send(&exec(id, invocation.clone()));
        match launcher.finished(id) {
            Err(LaunchError::NotAvailable(why)) => {
                assert!(
                    why.contains("refusing a dnf argument"),
                    "{invocation:?}: {why}"
                )
            }
            other => panic!("{invocation:?} was not refused: {other:?}"),
        }
    }
    // Positive control: the same entry with a valid name reaches dnf.
    launcher.send(&exec(
        50,
        Invocation::DnfInstall {
            packages: vec![spec("hello", Some("1.0-1"))],
            no_weak_deps: false,
        },
    ));
    // Since issue 11 the launcher first confirms the target with `dnf repoquery` itself: on this root dnf
    // ran and failed, so the refusal is the guard's, after the values passed dnf's grammar.
    match launcher.finished(50) {
        Err(LaunchError::NotAvailable(why)) => assert!(
            why.contains("cannot confirm that hello exists (dnf repoquery exited Some("),
            "{why}"
        ),
        other => panic!("the valid entry did not reach dnf: {other:?}"),
    }
}

#[test]
fn reads_beyond_the_concurrency_limit_queue_and_a_change_among_them_still_runs() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let (sandbox, table, policy) = sandbox(dir.path());
    let mut launcher = Launcher::start(table, policy);
    let reads = 3 * lpa_privhelper::launcher::MAX_CONCURRENT_EXECUTIONS as u64;
    // A burst of reads far above the cap, with a package change in the middle: before issue 11 the reads
    // over the cap (and the change) were refused with "more than 16 executions at once".
    for id in 0..reads {
        launcher.send(&exec(
            100 + id,
            Invocation::AptCachePolicy {
                name: name("hello"),
            },
        ));
        if id == reads / 2 {
            launcher.send(&exec(
                99,
                Invocation::AptGetInstall {
                    packages: vec![target("hello", None)],
                    no_recommends: false,
                    allow_downgrades: false,
                    reinstall: false,
                },
            ));
        }
    }
    let mut pending: std::collections::BTreeSet<u64> = (100..100 + reads).chain([99]).collect();
    while !pending.is_empty() {
        match launcher.next() {
            Some(LauncherResponse::Finished { id, result }) => {
                let out = result.unwrap_or_else(|e| panic!("execution {id} was refused: {e}"));
                assert_eq!(out.exit_code, Some(0), "{id}: {out:?}");
                assert!(pending.remove(&id), "answered twice: {id}");
            }
            Some(_) => continue,
            None => panic!("the launcher closed the socketpair; still pending: {pending:?}"),
        }
    }
    assert_eq!(sandbox.installed_version("hello").as_deref(), Some("1.0"));
}

#[test]
fn apt_targets_naming_no_package_are_refused_by_the_launcher_even_in_the_exact_form() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let (sandbox, table, policy) = sandbox(dir.path());
    let before = dpkg_status(&sandbox);
    let mut launcher = Launcher::start(table, policy);
    let install = |t: AptTarget| Invocation::AptGetInstall {
        packages: vec![t],
        no_recommends: false,
        allow_downgrades: false,
        reinstall: false,
    };
    // Valid Debian names and versions a compromised broker could send: apt would widen `hell.:all` to
    // hello (a regex), and `hello:all=9.9` names no version apt has.
    for (id, invocation) in (60u64..).zip([
        install(target("hell.", None)),
        install(target("hell.", Some("1.0"))),
        install(target("hello", Some("9.9"))),
        Invocation::AptGetRemove {
            names: vec![target("hell.", None)],
            purge: true,
        },
    ]) {
        launcher.send(&exec(id, invocation.clone()));
        match launcher.finished(id) {
            Err(LaunchError::NotAvailable(why)) => {
                assert!(
                    why.contains("no package named exactly"),
                    "{invocation:?}: {why}"
                )
            }
            other => panic!("{invocation:?} was not refused: {other:?}"),
        }
    }
    assert_eq!(dpkg_status(&sandbox), before, "nothing ran");
    // Positive control: the exact target of a real package passes the same check and installs.
    launcher.send(&exec(70, install(target("hello", Some("1.0")))));
    let out = launcher.finished(70).expect("apt-get ran");
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert_eq!(sandbox.installed_version("hello").as_deref(), Some("1.0"));
}

#[test]
fn pacman_targets_naming_a_group_or_provide_are_refused_by_the_launcher_even_with_a_repository() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let (_apt, mut table, policy) = sandbox(dir.path());
    let pacman = lpa_testkit::sandbox::pacman::PacmanSandbox::create(
        &dir.path().join("pacman"),
        Snapshot::V1,
        &[],
    )
    .expect("pacman sandbox");
    table.package_root = pacman.root().to_owned();
    table.pacman.config_file = Some(pacman.config_path().to_owned());
    let mut launcher = Launcher::start(table, policy);
    let installed = || pacman.installed_version("demo-tool");
    let install = |name: &str, version: Option<&str>| Invocation::PacmanInstall {
        packages: vec![PacmanTarget {
            repo: RepoName::new("demo").expect("valid"),
            name: PackageName::new(name).expect("valid"),
            version: version.map(|v| Version::new(v).expect("valid")),
        }],
        reinstall: false,
    };
    // The fixture demo-tool is in group demo-group and provides demo-virtual: pacman itself would install
    // it for either name, with or without the `demo/` prefix.
    for (id, invocation) in (80u64..).zip([
        install("demo-group", None),
        install("demo-virtual", None),
        install("demo-tool", Some("9.9-1")),
    ]) {
        launcher.send(&exec(id, invocation.clone()));
        match launcher.finished(id) {
            Err(LaunchError::NotAvailable(why)) => {
                assert!(
                    why.contains("no package named exactly"),
                    "{invocation:?}: {why}"
                )
            }
            other => panic!("{invocation:?} was not refused: {other:?}"),
        }
        assert_eq!(installed(), None, "{invocation:?}");
    }
    // Positive control: the exact package at its listed version installs.
    launcher.send(&exec(90, install("demo-tool", Some("1.0-1"))));
    let out = launcher.finished(90).expect("pacman ran");
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert_eq!(installed().as_deref(), Some("1.0-1"));
}

#[test]
fn pacman_removal_of_a_group_or_provide_is_refused_by_the_launcher_and_nothing_is_removed() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let (_apt, mut table, policy) = sandbox(dir.path());
    let pacman = lpa_testkit::sandbox::pacman::PacmanSandbox::create(
        &dir.path().join("pacman"),
        Snapshot::V1,
        &["demo-tool"],
    )
    .expect("pacman sandbox");
    // The defect is real: pacman itself removes demo-tool for its group name.
    let plan = pacman
        .pacman(&["-R", "--print", "--print-format", "%n", "--", "demo-group"])
        .expect("pacman runs");
    assert_eq!(
        String::from_utf8_lossy(&plan.stdout).trim(),
        "demo-tool",
        "{plan:?}"
    );
    table.package_root = pacman.root().to_owned();
    table.pacman.config_file = Some(pacman.config_path().to_owned());
    let mut launcher = Launcher::start(table, policy);
    let installed = || pacman.installed_version("demo-tool");
    assert!(installed().is_some());
    let remove = |name: &str| Invocation::PacmanRemove {
        names: vec![PackageName::new(name).expect("valid")],
        nosave: false,
    };
    for (id, invocation) in (100u64..).zip([
        remove("demo-group"),
        remove("demo-virtual"),
        remove("hello"),
    ]) {
        launcher.send(&exec(id, invocation.clone()));
        match launcher.finished(id) {
            Err(LaunchError::NotAvailable(why)) => assert!(
                why.contains("no installed package named exactly"),
                "{invocation:?}: {why}"
            ),
            other => panic!("{invocation:?} was not refused: {other:?}"),
        }
        assert!(installed().is_some(), "{invocation:?}");
    }
    // Positive control: the exact installed name is removed.
    launcher.send(&exec(110, remove("demo-tool")));
    let out = launcher.finished(110).expect("pacman ran");
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert_eq!(installed(), None);
}

#[test]
fn dnf_targets_widened_by_dnf_are_refused_by_the_launcher_and_nothing_changes() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let (_apt, mut table, policy) = sandbox(dir.path());
    let dnf = lpa_testkit::sandbox::dnf::DnfSandbox::create(
        &dir.path().join("dnf"),
        Snapshot::V2,
        &["demo-lib"],
    )
    .expect("dnf sandbox");
    dnf.dnf_checked(&["makecache"]).expect("makecache");
    // The defect is real: dnf installs hello 1.0 for `hello-1.0` and selects demo-lib for `demo-lib-1.0.1`.
    let out = dnf
        .dnf(&["--assumeno", "install", "--", "hello-1.0"])
        .expect("dnf runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("hello ") && l.contains("1.0-1")),
        "{text}"
    );
    let out = dnf
        .rpm(&["-q", "--qf", "%{NAME}\n", "--", "demo-lib-1.0.1"])
        .expect("rpm runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "demo-lib",
        "{out:?}"
    );
    table.package_root = dnf.root().to_owned();
    table.dnf.config_file = Some(dnf.dnf_config_path());
    table.dnf.releasever = Some(lpa_testkit::sandbox::dnf::RELEASEVER.into());
    let mut launcher = Launcher::start(table, policy);
    let refused = [
        Invocation::DnfInstall {
            packages: vec![spec("hello-1.0", None)],
            no_weak_deps: false,
        },
        Invocation::DnfInstall {
            packages: vec![spec("hello", Some("0:9.9-1"))],
            no_weak_deps: false,
        },
        Invocation::DnfInstall {
            packages: vec![spec("no-such-package", None)],
            no_weak_deps: false,
        },
        Invocation::DnfRemove {
            names: vec![name("demo-lib-1.0.1")],
        },
        Invocation::DnfUpgrade {
            names: vec![name("hello")],
        },
    ];
    for (id, invocation) in (120u64..).zip(refused) {
        launcher.send(&exec(id, invocation.clone()));
        match launcher.finished(id) {
            Err(LaunchError::NotAvailable(why)) => assert!(
                why.contains("no available package named exactly")
                    || why.contains("no installed package named exactly"),
                "{invocation:?}: {why}"
            ),
            other => panic!("{invocation:?} was not refused: {other:?}"),
        }
        assert_eq!(dnf.installed_version("hello"), None, "{invocation:?}");
        assert!(
            dnf.installed_version("demo-lib").is_some(),
            "{invocation:?}"
        );
    }
    // Positive controls: the exact pinned record installs, the exact installed name is removed.
    launcher.send(&exec(
        130,
        Invocation::DnfInstall {
            packages: vec![spec("hello", Some("0:1.0-1"))],
            no_weak_deps: false,
        },
    ));
    let out = launcher.finished(130).expect("dnf ran");
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert!(
        dnf.installed_version("hello")
            .is_some_and(|v| v.contains("1.0-1")),
        "{:?}",
        dnf.installed_version("hello")
    );
    launcher.send(&exec(
        131,
        Invocation::DnfRemove {
            names: vec![name("hello")],
        },
    ));
    let out = launcher.finished(131).expect("dnf ran");
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert_eq!(dnf.installed_version("hello"), None);
}
