//! Package-changing operations against the real helper binary and real apt on test kit sandboxes: what
//! changes, what streams while it runs, how failures are classified, and cancellation, abort and locking.

mod support;

use lpa_protocol::{
    ClientMessage, FailureKind, Glob, InstallOptions, JobEvent, Operation, Outcome, PackageChange,
    PackageName, PackageSpec, Version,
};
use lpa_testkit::Snapshot;
use lpa_testkit::fixtures::apt::versions;
use std::fs::File;
use std::time::{Duration, Instant};
use support::sandbox::{Answer, SandboxHelper, SandboxOptions};

fn name(s: &str) -> PackageName {
    PackageName::new(s).unwrap()
}

fn install(names: &[&str]) -> Operation {
    Operation::Install {
        packages: names
            .iter()
            .map(|n| PackageSpec {
                name: name(n),
                version: None,
            })
            .collect(),
        options: InstallOptions::default(),
    }
}

fn change(n: &str, from: Option<&str>, to: Option<&str>) -> PackageChange {
    PackageChange {
        name: n.into(),
        from: from.map(Into::into),
        to: to.map(Into::into),
    }
}

fn start(preinstall: &'static [&'static str]) -> SandboxHelper {
    SandboxHelper::start(SandboxOptions {
        preinstall,
        ..SandboxOptions::default()
    })
}

/// Holds a POSIX write lock on `<root>/var/lib/dpkg/lock-frontend`, as another apt or dpkg would, until
/// dropped. apt uses fcntl locks (flock(1) would not block it).
fn hold_frontend_lock(h: &SandboxHelper) -> File {
    let path = h.sandbox.root().join("var/lib/dpkg/lock-frontend");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .unwrap();
    let lock = libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    nix::fcntl::fcntl(&file, nix::fcntl::FcntlArg::F_SETLK(&lock)).expect("lock taken");
    file
}

fn position(a: &Answer, pred: impl Fn(&JobEvent) -> bool) -> Option<usize> {
    a.events.iter().position(pred)
}

#[test]
fn install_reports_the_new_package_streams_progress_first_and_the_database_shows_it() {
    let h = start(&[]);
    let mut c = h.conn();
    // The stamp-keyed package list sees the change without any explicit invalidation.
    let Ok(Outcome::Installed(before)) = c.read(1, Operation::ListInstalled) else {
        panic!()
    };
    assert!(before.iter().all(|p| p.name != "hello"));

    let a = c.run(2, install(&["hello"]));
    let started = position(&a, |e| *e == JobEvent::ChangesStarted).expect("ChangesStarted");
    let first_progress = position(&a, |e| matches!(e, JobEvent::Progress { .. })).unwrap();
    assert!(first_progress < started, "{:?}", a.events);
    assert_eq!(
        a.events
            .iter()
            .filter(|e| **e == JobEvent::ChangesStarted)
            .count(),
        1
    );
    assert!(a.events.iter().any(
        |e| matches!(e, JobEvent::Progress { message, .. } if message.contains("Unpacking hello"))
    ));
    let report = a.changed();
    assert_eq!(
        report.changes,
        [change("hello", None, Some(versions::HELLO_V1))]
    );
    assert_eq!(report.exit_code, Some(0));
    assert!(
        report.stdout.contains("Setting up hello"),
        "{}",
        report.stdout
    );
    assert_eq!(report.message, "1 newly installed");
    assert_eq!(
        h.sandbox.installed_version("hello").as_deref(),
        Some(versions::HELLO_V1)
    );

    let Ok(Outcome::Installed(after)) = c.read(3, Operation::ListInstalled) else {
        panic!()
    };
    assert!(
        after
            .iter()
            .any(|p| p.name == "hello" && p.version == versions::HELLO_V1)
    );
}

#[test]
fn apply_all_updates_upgrades_every_pending_package_with_from_and_to() {
    let mut h = start(&["demo-app", "demo-tool"]);
    h.sandbox.publish(Snapshot::V2).unwrap();
    let mut c = h.conn();
    let Ok(Outcome::Upgradable(pending)) = c.read(1, Operation::ListUpgradable) else {
        panic!()
    };
    assert_eq!(pending.len(), 3, "{pending:?}");

    let a = c.run(
        2,
        Operation::ApplyUpdates {
            selection: None,
            exclude: vec![],
        },
    );
    assert!(a.saw_changes_started());
    let report = a.changed();
    assert_eq!(
        report.changes,
        [
            change(
                "demo-app",
                Some(versions::DEMO_APP_V1),
                Some(versions::DEMO_APP_V2)
            ),
            change(
                "demo-lib",
                Some(versions::DEMO_LIB_V1),
                Some(versions::DEMO_LIB_SECURITY)
            ),
            change(
                "demo-tool",
                Some(versions::DEMO_TOOL_V1),
                Some(versions::DEMO_TOOL_V2)
            ),
        ],
        "{}",
        h.helper.log_text()
    );
    assert_eq!(report.message, "3 upgraded or downgraded");
    // The upgradable cache is keyed on the database's stamp: nothing is left.
    assert_eq!(
        c.read(3, Operation::ListUpgradable),
        Ok(Outcome::Upgradable(vec![]))
    );
}

#[test]
fn excluding_everything_applies_nothing_without_running_apt() {
    let mut h = start(&["demo-tool"]);
    h.sandbox.publish(Snapshot::V2).unwrap();
    let mut c = h.conn();
    let report = c
        .run(
            1,
            Operation::ApplyUpdates {
                selection: None,
                exclude: vec![Glob::new("*").unwrap()],
            },
        )
        .changed();
    assert!(report.changes.is_empty());
    assert!(
        report.message.starts_with("nothing to apply"),
        "{}",
        report.message
    );
    assert_eq!(report.exit_code, None, "no apt-get ran");
    assert_eq!(
        h.sandbox.installed_version("demo-tool").as_deref(),
        Some(versions::DEMO_TOOL_V1)
    );
    assert!(
        !h.helper.log_text().contains("apt_get_only_upgrade"),
        "{}",
        h.helper.log_text()
    );

    // A selection of a package that has no update is skipped and said so.
    let report = c
        .run(
            2,
            Operation::ApplyUpdates {
                selection: Some(vec![name("demo-app")]),
                exclude: vec![],
            },
        )
        .changed();
    assert!(report.changes.is_empty());
    assert!(
        report
            .message
            .contains("skipped (no update available): demo-app"),
        "{}",
        report.message
    );
}

#[test]
fn failing_postinst_is_a_package_manager_error_with_output_and_changes_and_the_helper_still_serves()
{
    let h = start(&[]);
    let mut c = h.conn();
    let a = c.run(1, install(&["demo-broken"]));
    assert!(
        a.events
            .iter()
            .any(|e| matches!(e, JobEvent::Log { line } if line.starts_with("demo-broken: ")))
    );
    let f = a.failure();
    assert_eq!(f.kind, FailureKind::PackageManager);
    assert_eq!(f.exit_code, Some(100));
    assert!(
        f.stderr.contains("demo-broken: failing on purpose"),
        "{}",
        f.stderr
    );
    assert!(
        f.message.contains("post-installation script"),
        "{}",
        f.message
    );
    assert_eq!(
        f.changes,
        [change("demo-broken", None, Some(versions::DEMO_BROKEN))]
    );
    // Serves reads and further changes: purging the half-configured package cleans it up (gotcha A6).
    assert_eq!(c.read(2, Operation::Ping), Ok(Outcome::Pong));
    let report = c
        .run(
            3,
            Operation::Remove {
                name: name("demo-broken"),
                purge: true,
            },
        )
        .changed();
    assert_eq!(
        report.changes,
        [change("demo-broken", Some(versions::DEMO_BROKEN), None)]
    );
    assert_eq!(h.sandbox.dpkg_entry("demo-broken").unwrap(), None);
}

#[test]
fn conflicting_install_is_a_dependency_conflict_and_removes_nothing() {
    let h = start(&["hello"]);
    let f = h.conn().run(1, install(&["demo-conflict"])).failure();
    assert_eq!(f.kind, FailureKind::DependencyConflict, "{f:?}");
    assert!(f.message.contains("remove is disabled"), "{}", f.message);
    assert!(f.changes.is_empty());
    assert_eq!(
        h.sandbox.installed_version("hello").as_deref(),
        Some(versions::HELLO_V1)
    );
    assert_eq!(h.sandbox.installed_version("demo-conflict"), None);
}

#[test]
fn unknown_package_and_missing_targets_are_package_not_found() {
    let h = start(&[]);
    let mut c = h.conn();
    let f = c.run(1, install(&["nosuch"])).failure();
    assert_eq!(f.kind, FailureKind::PackageNotFound);
    // Resolved before apt runs (apt would try `nosuch` as a regex): nothing ran.
    assert!(
        f.message.contains("no package is named exactly \"nosuch\""),
        "{}",
        f.message
    );
    assert_eq!(f.exit_code, None, "{f:?}");
    let f = c
        .run(
            2,
            Operation::Update {
                name: name("hello"),
                version: None,
            },
        )
        .failure();
    assert_eq!(f.kind, FailureKind::PackageNotFound);
    assert_eq!(f.exit_code, None, "checked before running apt");
    let f = c
        .run(
            3,
            Operation::Remove {
                name: name("hello"),
                purge: false,
            },
        )
        .failure();
    assert_eq!(f.kind, FailureKind::PackageNotFound);
}

#[test]
fn update_to_the_candidate_then_already_newest_and_a_lower_version_is_refused() {
    let mut h = start(&["hello"]);
    h.sandbox.publish(Snapshot::V2).unwrap();
    let mut c = h.conn();
    let update = |version: Option<&str>| Operation::Update {
        name: name("hello"),
        version: version.map(|v| Version::new(v).unwrap()),
    };
    let report = c.run(1, update(None)).changed();
    assert_eq!(
        report.changes,
        [change(
            "hello",
            Some(versions::HELLO_V1),
            Some(versions::HELLO_V2)
        )]
    );
    let report = c.run(2, update(None)).changed();
    assert!(report.changes.is_empty());
    assert!(
        report.message.starts_with("already newest"),
        "{}",
        report.message
    );
    let f = c.run(3, update(Some(versions::HELLO_V1))).failure();
    assert!(f.message.contains("allow_downgrade"), "{}", f.message);
    assert_eq!(
        h.sandbox.installed_version("hello").as_deref(),
        Some(versions::HELLO_V2)
    );
}

#[test]
fn remove_and_purge_report_the_removal() {
    let h = start(&["hello", "demo-tool"]);
    let mut c = h.conn();
    let report = c
        .run(
            1,
            Operation::Remove {
                name: name("hello"),
                purge: false,
            },
        )
        .changed();
    assert_eq!(
        report.changes,
        [change("hello", Some(versions::HELLO_V1), None)]
    );
    let report = c
        .run(
            2,
            Operation::Remove {
                name: name("demo-tool"),
                purge: true,
            },
        )
        .changed();
    assert_eq!(
        report.changes,
        [change("demo-tool", Some(versions::DEMO_TOOL_V1), None)]
    );
    assert_eq!(h.sandbox.dpkg_entry("demo-tool").unwrap(), None, "purged");
}

#[test]
fn refresh_succeeds_and_a_broken_source_is_a_cache_refresh_error() {
    let mut h = start(&[]);
    let mut c = h.conn();
    match c.run(1, Operation::RefreshCache).result {
        Ok(Outcome::CacheRefreshed { stdout }) => {
            assert!(stdout.contains("Reading package lists"), "{stdout}")
        }
        other => panic!("{other:?}"),
    }
    h.sandbox
        .set_sources_list("deb [trusted=yes] file:/nonexistent/repo ./\n")
        .unwrap();
    let f = c.run(2, Operation::RefreshCache).failure();
    assert_eq!(f.kind, FailureKind::CacheRefresh);
    assert!(
        f.message.contains("Failed to fetch file:/nonexistent/repo"),
        "{}",
        f.message
    );
}

#[test]
fn cancel_while_apt_waits_for_the_lock_ends_cancelled_with_nothing_installed() {
    let h = start(&[]);
    let lock = hold_frontend_lock(&h);
    let mut c = h.conn();
    c.submit(1, install(&["demo-slow"]));
    std::thread::sleep(Duration::from_millis(1500));
    c.send(&ClientMessage::Cancel { id: 1 });
    let a = c.answer(1);
    drop(lock);
    assert!(
        !a.cancel_refused && !a.saw_changes_started(),
        "{:?}",
        a.events
    );
    let f = a.failure();
    assert_eq!(
        f.kind,
        FailureKind::Cancelled,
        "{f:?}\n{}",
        h.helper.log_text()
    );
    assert!(f.changes.is_empty());
    assert_eq!(h.sandbox.dpkg_entry("demo-slow").unwrap(), None);
    // The launcher stopped apt: the next change gets the lock at once.
    assert!(c.run(2, install(&["hello"])).result.is_ok());
}

#[test]
fn a_busy_lock_with_a_short_timeout_is_a_lock_timeout_naming_the_holder() {
    let h = SandboxHelper::start(SandboxOptions {
        lock_timeout_seconds: 2,
        ..SandboxOptions::default()
    });
    let _lock = hold_frontend_lock(&h);
    let started = Instant::now();
    let f = h.conn().run(1, install(&["hello"])).failure();
    assert_eq!(f.kind, FailureKind::LockTimeout, "{f:?}");
    assert!(
        f.message
            .contains(&format!("process {}", std::process::id())),
        "{}",
        f.message
    );
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[test]
fn cancel_after_dpkg_started_is_refused_and_abort_stops_it_as_timeout() {
    let h = start(&[]);
    let mut c = h.conn();
    c.submit(1, install(&["demo-slow"]));
    // Wait until dpkg configures demo-slow (its postinst sleeps 5 s).
    loop {
        match c.next() {
            lpa_protocol::ServerMessage::Event {
                event: JobEvent::Progress { message, .. },
                ..
            } if message.starts_with("Configuring demo-slow") => break,
            lpa_protocol::ServerMessage::Response { result, .. } => {
                panic!("ended early: {result:?}")
            }
            _ => {}
        }
    }
    c.send(&ClientMessage::Cancel { id: 1 });
    let started = Instant::now();
    c.send(&ClientMessage::Abort { id: 1 });
    let a = c.answer(1);
    assert!(a.cancel_refused, "a Cancel after ChangesStarted is refused");
    assert!(a.result.is_err(), "{:?}\n{}", a.result, h.helper.log_text());
    let f = a.failure();
    assert_eq!(f.kind, FailureKind::Timeout, "{f:?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "stopped, not run to its end"
    );
    assert_eq!(
        f.changes,
        [change("demo-slow", None, Some(versions::DEMO_SLOW))],
        "unpacked before the abort"
    );
    assert!(
        !h.sandbox
            .dpkg_entry("demo-slow")
            .unwrap()
            .unwrap()
            .is_installed()
    );
}

#[test]
fn reboot_runs_the_configured_command_with_the_delay_in_minutes() {
    let h = start(&[]);
    let before = time::OffsetDateTime::now_utc().unix_timestamp();
    match h
        .conn()
        .run(1, Operation::Reboot { delay_seconds: 60 })
        .result
    {
        Ok(Outcome::RebootScheduled { at_unix }) => {
            assert!((before + 59..=before + 62).contains(&at_unix))
        }
        other => panic!("{other:?}\n{}", h.helper.log_text()),
    }
    assert_eq!(std::fs::read_to_string(&h.reboot_log).unwrap(), "-r +1\n");
}

#[test]
fn two_concurrent_installs_run_one_after_the_other_and_both_succeed() {
    // With a lock timeout of 0 an overlapping apt would fail at once: success proves they did not overlap.
    let h = SandboxHelper::start(SandboxOptions {
        lock_timeout_seconds: 0,
        ..SandboxOptions::default()
    });
    let mut c = h.conn();
    let mut other = h.conn();
    c.submit(1, install(&["demo-slow"]));
    std::thread::sleep(Duration::from_millis(300));
    other.submit(2, install(&["hello"]));
    let first = c.answer(1);
    let second = other.answer(2);
    assert!(
        first.result.is_ok(),
        "{:?}\n{}",
        first.result,
        h.helper.log_text()
    );
    assert!(second.result.is_ok(), "{:?}", second.result);
    assert!(h.sandbox.installed_version("demo-slow").is_some());
    assert!(h.sandbox.installed_version("hello").is_some());
}

#[test]
fn a_queued_change_cancelled_before_its_turn_ends_at_once() {
    let h = start(&[]);
    let mut c = h.conn();
    c.submit(1, install(&["demo-slow"]));
    std::thread::sleep(Duration::from_millis(300));
    c.submit(2, install(&["hello"]));
    c.send(&ClientMessage::Cancel { id: 2 });
    let started = Instant::now();
    let second = c.answer(2);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "did not wait for the running change"
    );
    assert_eq!(second.failure().kind, FailureKind::Cancelled);
    assert!(c.answer(1).result.is_ok());
    assert_eq!(h.sandbox.installed_version("hello"), None);
}

#[test]
fn a_change_runs_to_its_end_when_the_connection_drops() {
    let h = start(&[]);
    let mut c = h.conn();
    c.submit(1, install(&["demo-slow"]));
    // Wait for dpkg to start, then hang up.
    while !matches!(
        c.next(),
        lpa_protocol::ServerMessage::Event {
            event: JobEvent::ChangesStarted,
            ..
        }
    ) {}
    drop(c);
    let deadline = Instant::now() + Duration::from_secs(30);
    while h.sandbox.installed_version("demo-slow").is_none() {
        assert!(Instant::now() < deadline, "{}", h.helper.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut c = h.conn();
    assert_eq!(c.read(2, Operation::Ping), Ok(Outcome::Pong));
}
