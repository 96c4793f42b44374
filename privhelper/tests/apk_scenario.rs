//! The jobs scenario on apk through the real broker, replayed on the recorded apk-tools 2.14.9 and 3.0.6
//! sessions (apk cannot run on the project's machines).
//!
//! **Real**: the broker's session over a Unix socket (Hello, requests, job events, responses, the
//! protocol's framing), `Services` and the change runner (change lock, before/after snapshots of the apk
//! database, the apk tracker over the streamed status lines, the apk classification), the `ApkManager`
//! (`backend::open(Backend::Apk)`: database reader, stamp-keyed caches, plans), the launcher client and the
//! framing of the broker⇄launcher socketpair, the command table's argv (checked against the table's global
//! apk options plus the expected applet), and the apk database files the broker reads, in apk's format
//! (test kit writer).
//!
//! **Recorded**: what apk printed and exited with for each command (`tests/data/apk/`), and which packages
//! each run left installed; the world file after each run is apk's documented behaviour (names asked for,
//! pins as `name=VERSION`), and its final content is the recorded one. The recorder ran apk with its own
//! sandbox options (`--allow-untrusted`, `--repository`, `--arch`), which the product never passes: only the
//! applet and its arguments are matched against the recording.
//!
//! The recording upgraded `demo-lib` alone and then everything else, so "apply all" is replayed as an
//! apply of the selection `demo-lib` followed by an apply of all.

mod apk_support;

use apk_support::ApkBroker;
use apk_support::launcher::Step;
use apk_support::transcript::VERSIONS;
use lpa_protocol::{
    Backend, ChangeFailure, FailureKind, HelperError, InstallOptions, JobEvent, Operation, Outcome,
    PackageChange, PackageName, PackageSpec, Version,
};
use lpa_testkit::Snapshot;
use lpa_testkit::fixtures::apk::versions as v;

fn name(s: &str) -> PackageName {
    PackageName::new(s).unwrap()
}

fn install(specs: &[(&str, Option<&str>)], allow_downgrade: bool) -> Operation {
    Operation::Install {
        packages: specs
            .iter()
            .map(|(n, ver)| PackageSpec {
                name: name(n),
                version: ver.map(|x| Version::new(x).unwrap()),
            })
            .collect(),
        options: InstallOptions {
            allow_downgrade,
            ..InstallOptions::default()
        },
    }
}

fn change(n: &str, from: Option<&str>, to: Option<&str>) -> PackageChange {
    PackageChange {
        name: n.into(),
        from: from.map(Into::into),
        to: to.map(Into::into),
    }
}

fn changed(result: Result<Outcome, HelperError>) -> Vec<PackageChange> {
    match result {
        Ok(Outcome::Changed(report)) => report.changes,
        other => panic!("not a successful change: {other:?}"),
    }
}

fn failed(result: Result<Outcome, HelperError>) -> ChangeFailure {
    match result {
        Err(HelperError::Change(f)) => f,
        other => panic!("not a failed change: {other:?}"),
    }
}

/// `(name, version, held)` of the installed list.
fn installed(b: &mut ApkBroker) -> Vec<(String, String, bool)> {
    match b.request(Operation::ListInstalled, vec![]).result {
        Ok(Outcome::Installed(list)) => list
            .into_iter()
            .map(|p| (p.name, p.version, p.held))
            .collect(),
        other => panic!("{other:?}"),
    }
}

fn owned(list: &[(&str, &str, bool)]) -> Vec<(String, String, bool)> {
    list.iter()
        .map(|(n, ver, h)| ((*n).to_owned(), (*ver).to_owned(), *h))
        .collect()
}

fn stamp(b: &mut ApkBroker) -> u64 {
    match b.request(Operation::PackageStateStamp, vec![]).result {
        Ok(Outcome::PackageStateStamp(s)) => s,
        other => panic!("{other:?}"),
    }
}

const V1_SET: [(&str, &str); 3] = [
    ("demo-app", v::DEMO_APP_V1),
    ("demo-hello", v::HELLO_V1),
    ("demo-lib", v::DEMO_LIB_V1),
];

fn scenario(version: &str) {
    let mut b = ApkBroker::start(version);
    let ctx = format!("apk {version}");
    assert_eq!(installed(&mut b), owned(&[]), "{ctx}");

    // Install demo-hello (and demo-app, whose dependency demo-lib comes along), as recorded.
    let a = b.request(
        install(&[("demo-hello", None), ("demo-app", None)], false),
        vec![Step::changes(
            "add -- demo-hello demo-app",
            &V1_SET,
            "demo-app\ndemo-hello\n",
        )],
    );
    assert_eq!(a.events.first(), Some(&JobEvent::ChangesStarted), "{ctx}");
    assert!(
        a.events.contains(&JobEvent::Progress {
            percent: 0,
            message: "(1/3) Installing demo-lib (1.0-r0)".into()
        }),
        "{ctx}: {:?}",
        a.events
    );
    assert_eq!(
        changed(a.result),
        [
            change("demo-app", None, Some(v::DEMO_APP_V1)),
            change("demo-hello", None, Some(v::HELLO_V1)),
            change("demo-lib", None, Some(v::DEMO_LIB_V1)),
        ],
        "{ctx}"
    );
    assert_eq!(
        installed(&mut b),
        owned(&[
            ("demo-app", v::DEMO_APP_V1, false),
            ("demo-hello", v::HELLO_V1, false),
            ("demo-lib", v::DEMO_LIB_V1, false),
        ]),
        "{ctx}"
    );

    // The vendor publishes v2: the state stamp moves, the refresh succeeds, two updates are listed with
    // their installed and available versions, and the list is served from the cache the second time.
    let before_publish = stamp(&mut b);
    b.publish(Snapshot::V2);
    assert_ne!(stamp(&mut b), before_publish, "{ctx}");
    let a = b.request(Operation::RefreshCache, vec![Step::reads("update")]);
    assert!(
        matches!(&a.result, Ok(Outcome::CacheRefreshed { stdout }) if stdout.contains("7 distinct packages")),
        "{ctx}: {:?}",
        a.result
    );
    let listing = vec![Step::reads("list --upgradable")];
    for expected in [listing.clone(), vec![]] {
        let Ok(Outcome::Upgradable(list)) = b.request(Operation::ListUpgradable, expected).result
        else {
            panic!("{ctx}: no upgradable list")
        };
        let rows: Vec<(&str, Option<&str>, &str, bool)> = list
            .iter()
            .map(|u| {
                (
                    u.name.as_str(),
                    u.current_version.as_deref(),
                    u.available_version.as_str(),
                    u.security,
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("demo-hello", Some(v::HELLO_V1), v::HELLO_V2, false),
                ("demo-lib", Some(v::DEMO_LIB_V1), v::DEMO_LIB_V2, false),
            ],
            "{ctx}"
        );
    }

    // Apply: the selection first (planned on a fresh listing), then everything.
    let a = b.request(
        Operation::ApplyUpdates {
            selection: Some(vec![name("demo-lib")]),
            exclude: vec![],
        },
        vec![
            Step::reads("list --upgradable"),
            Step::changes(
                "upgrade -- demo-lib",
                &[
                    ("demo-app", v::DEMO_APP_V1),
                    ("demo-hello", v::HELLO_V1),
                    ("demo-lib", v::DEMO_LIB_V2),
                ],
                "demo-app\ndemo-hello\n",
            ),
        ],
    );
    assert_eq!(
        changed(a.result),
        [change(
            "demo-lib",
            Some(v::DEMO_LIB_V1),
            Some(v::DEMO_LIB_V2)
        )],
        "{ctx}"
    );
    let upgraded = [
        ("demo-app", v::DEMO_APP_V1),
        ("demo-hello", v::HELLO_V2),
        ("demo-lib", v::DEMO_LIB_V2),
    ];
    let a = b.request(
        Operation::ApplyUpdates {
            selection: None,
            exclude: vec![],
        },
        vec![Step::changes(
            "upgrade",
            &upgraded,
            "demo-app\ndemo-hello\n",
        )],
    );
    assert!(
        a.events.contains(&JobEvent::Progress {
            percent: 0,
            message: "(1/1) Upgrading demo-hello (1.0-r0 -> 1.1-r0)".into()
        }),
        "{ctx}: {:?}",
        a.events
    );
    assert_eq!(
        changed(a.result),
        [change("demo-hello", Some(v::HELLO_V1), Some(v::HELLO_V2))],
        "{ctx}"
    );

    // A pinned downgrade: refused without allow_downgrade before apk runs, done and held with it.
    let a = b.request(install(&[("demo-hello", Some(v::HELLO_V1))], false), vec![]);
    assert!(
        matches!(&a.result, Err(HelperError::Validation { message }) if message.contains("allow_downgrade")),
        "{ctx}: {:?}",
        a.result
    );
    let pinned = [
        ("demo-app", v::DEMO_APP_V1),
        ("demo-hello", v::HELLO_V1),
        ("demo-lib", v::DEMO_LIB_V2),
    ];
    let a = b.request(
        install(&[("demo-hello", Some(v::HELLO_V1))], true),
        vec![Step::changes(
            "add -- demo-hello=1.0-r0",
            &pinned,
            "demo-app\ndemo-hello=1.0-r0\n",
        )],
    );
    assert_eq!(
        changed(a.result),
        [change("demo-hello", Some(v::HELLO_V2), Some(v::HELLO_V1))],
        "{ctx}"
    );
    let held_hello = owned(&[
        ("demo-app", v::DEMO_APP_V1, false),
        ("demo-hello", v::HELLO_V1, true),
        ("demo-lib", v::DEMO_LIB_V2, false),
    ]);
    assert_eq!(installed(&mut b), held_hello, "{ctx}");

    // A conflicting install fails as a dependency conflict and removes nothing.
    let f = failed(
        b.request(
            install(&[("demo-conflict", None)], false),
            vec![Step::reads("add -- demo-conflict")],
        )
        .result,
    );
    assert_eq!(f.kind, FailureKind::DependencyConflict, "{ctx}: {f:?}");
    assert!(
        f.changes.is_empty() && f.stderr.contains("breaks:"),
        "{ctx}: {f:?}"
    );
    assert_eq!(installed(&mut b), held_hello, "{ctx}");

    // An unknown package: no index lists it, so it is refused before apk runs (no step).
    let f = failed(
        b.request(install(&[("does-not-exist", None)], false), vec![])
            .result,
    );
    assert_eq!(f.kind, FailureKind::PackageNotFound, "{ctx}: {f:?}");
    assert!(f.changes.is_empty(), "{ctx}: {f:?}");

    // A failing post-install script: the package is installed, the job fails with apk's exit code, its
    // output and the change it made.
    let mut with_broken = pinned.to_vec();
    with_broken.insert(1, ("demo-broken", v::OTHERS));
    let a = b.request(
        install(&[("demo-broken", None)], false),
        vec![Step::changes(
            "add -- demo-broken",
            &with_broken,
            "demo-app\ndemo-broken\ndemo-hello=1.0-r0\n",
        )],
    );
    assert_eq!(a.events.first(), Some(&JobEvent::ChangesStarted), "{ctx}");
    let f = failed(a.result);
    assert_eq!(f.kind, FailureKind::PackageManager, "{ctx}: {f:?}");
    assert_eq!(f.exit_code, Some(1), "{ctx}");
    assert!(f.message.contains("post-install"), "{ctx}: {f:?}");
    assert!(f.stdout.contains("Installing demo-broken"), "{ctx}: {f:?}");
    assert!(f.stderr.contains("failing on purpose"), "{ctx}: {f:?}");
    assert_eq!(
        f.changes,
        [change("demo-broken", None, Some(v::OTHERS))],
        "{ctx}"
    );

    // The broker still serves.
    assert!(matches!(
        b.request(Operation::Ping, vec![]).result,
        Ok(Outcome::Pong)
    ));

    // Remove demo-app: apk also purges demo-lib, which nothing needs any more, and exits 1 because
    // demo-broken is still broken — the removal itself succeeded.
    let a = b.request(
        Operation::Remove {
            name: name("demo-app"),
            purge: false,
        },
        vec![Step::changes(
            "del -- demo-app",
            &[("demo-broken", v::OTHERS), ("demo-hello", v::HELLO_V1)],
            "demo-broken\ndemo-hello=1.0-r0\n",
        )],
    );
    assert_eq!(
        changed(a.result),
        [
            change("demo-app", Some(v::DEMO_APP_V1), None),
            change("demo-lib", Some(v::DEMO_LIB_V2), None),
        ],
        "{ctx}"
    );
    assert_eq!(
        installed(&mut b),
        owned(&[
            ("demo-broken", v::OTHERS, false),
            ("demo-hello", v::HELLO_V1, true),
        ]),
        "{ctx}"
    );
    assert_eq!(
        std::fs::read_to_string(b.root().join("etc/apk/world")).unwrap(),
        "demo-broken\ndemo-hello=1.0-r0\n",
        "{ctx}: the recorded world file"
    );

    // Removing it again: not installed, refused before apk runs.
    let f = failed(
        b.request(
            Operation::Remove {
                name: name("demo-app"),
                purge: false,
            },
            vec![],
        )
        .result,
    );
    assert_eq!(f.kind, FailureKind::PackageNotFound, "{ctx}");

    match b.request(Operation::SystemInfo, vec![]).result {
        Ok(Outcome::SystemInfo(info)) => {
            assert_eq!(info.package_manager, Backend::Apk);
            assert_eq!(info.os.id, "alpine");
        }
        other => panic!("{ctx}: {other:?}"),
    }
}

#[test]
fn the_jobs_scenario_through_the_broker_on_recorded_apk_3() {
    assert_eq!(VERSIONS[1], "3.0.6");
    scenario(VERSIONS[1]);
}

#[test]
fn the_jobs_scenario_through_the_broker_on_recorded_apk_2() {
    assert_eq!(VERSIONS[0], "2.14.9");
    scenario(VERSIONS[0]);
}

/// Issue 11: a name that only a package's `p:` (provides) carries — apk would install or remove the
/// provider — is refused with `PKG_NOT_FOUND` before apk runs, on the indexes the broker reads itself (a
/// cached remote index written by the test kit in apk's format, beside the fixture repository); the
/// prefixed provider forms (`so:`, `cmd:`, `pc:`) cannot even be expressed as a package name. The exact
/// name still installs (positive control, the recorded first install).
#[test]
fn provided_names_are_refused_before_apk_runs_and_exact_names_still_install() {
    for prefixed in ["so:libc.musl-x86_64.so.1", "cmd:busybox", "pc:zlib"] {
        assert!(name_is_refused(prefixed), "{prefixed}");
    }
    let mut b = ApkBroker::start(VERSIONS[1]);
    let provider = "P:demo-provider\nV:1.0-r0\nA:x86_64\nT:provides a virtual name\n\
                    p:demo-virtual=1.0-r0 cmd:demo-virtual=1.0-r0\n";
    std::fs::write(
        b.root().join("var/cache/apk/APKINDEX.0123abcd.tar.gz"),
        lpa_testkit::fixtures::apk::index_archive("cached remote index", &[provider.into()]),
    )
    .unwrap();
    for (n, ver) in [
        ("demo-virtual", None),
        ("demo-hello", Some("9.9-r0")),
        ("does-not-exist", None),
    ] {
        let f = failed(b.request(install(&[(n, ver)], false), vec![]).result);
        assert_eq!(f.kind, FailureKind::PackageNotFound, "{n}: {f:?}");
        assert!(f.changes.is_empty() && f.stdout.is_empty(), "{n}: {f:?}");
    }
    let f = failed(
        b.request(
            Operation::Remove {
                name: name("demo-virtual"),
                purge: false,
            },
            vec![],
        )
        .result,
    );
    assert_eq!(f.kind, FailureKind::PackageNotFound, "{f:?}");
    assert!(
        b.launcher().failures().is_empty(),
        "{:?}",
        b.launcher().failures()
    );
    assert_eq!(installed(&mut b), owned(&[]));

    // Positive control: exact names from the fixture repository's index still run apk, as recorded.
    let a = b.request(
        install(&[("demo-hello", None), ("demo-app", None)], false),
        vec![Step::changes(
            "add -- demo-hello demo-app",
            &V1_SET,
            "demo-app\ndemo-hello\n",
        )],
    );
    assert_eq!(changed(a.result).len(), 3);
}

fn name_is_refused(s: &str) -> bool {
    PackageName::new(s).is_err()
}

#[test]
fn a_command_the_recording_does_not_have_fails_the_job_and_is_reported() {
    let mut b = ApkBroker::start(VERSIONS[1]);
    let a = b.request_unchecked(
        install(&[("demo-tool", None)], false),
        vec![Step::reads("add -- demo-tool")],
    );
    assert_eq!(failed(a.result).kind, FailureKind::CommandNotFound);
    let failures = b.launcher().failures();
    assert!(
        failures
            .iter()
            .any(|f| f.contains("`apk add demo-tool` matches 0 recorded runs")),
        "{failures:?}"
    );
    // And an argv other than the scenario's is caught before any recording is looked up.
    let a = b.request_unchecked(
        install(&[("demo-hello", None)], false),
        vec![Step::reads("add -- demo-app")],
    );
    assert!(a.result.is_err());
    assert!(
        b.launcher()
            .failures()
            .iter()
            .any(|f| f.contains("the scenario expects")),
        "{:?}",
        b.launcher().failures()
    );
}
