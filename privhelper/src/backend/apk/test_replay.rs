//! The jobs scenario replayed on the recorded apk sessions, the way the broker will drive apk: each
//! [`Change`] is planned ([`super::plan`]), turned into the launcher's argv ([`crate::launcher::table::apk`]),
//! and "run" by a runner that answers with the recorded stdout, stderr and exit code of the same apk
//! applet and arguments; the tracker and the classification then judge it. apk cannot run on these
//! machines, so this is the end-to-end check available for apk.

use super::classify::classify;
use super::db::{self, ApkRecord};
use super::installed::Installed;
use super::plan::plan;
use super::progress::ProgressTracker;
use super::transcript::{Recorded, VERSIONS, load};
use super::upgradable::parse_list_upgradable;
use crate::backend::{Change, Evidence, Phase, Verdict};
use crate::launcher::table::apk::{ApkSettings, args};
use lpa_protocol::launcher::Invocation;
use lpa_protocol::{
    FailureKind, HelperError, InstallOptions, JobEvent, PackageName, PackageSpec, Version,
};
use std::path::Path;

/// Answers an argv with the recorded run of the same applet and arguments.
struct ReplayRunner {
    session: Vec<Recorded>,
}

impl ReplayRunner {
    fn new(version: &str) -> ReplayRunner {
        ReplayRunner {
            session: load(version),
        }
    }

    /// The applet and its arguments of our argv: after the global options, without the `--` separator.
    fn applet_of_argv(argv: &[String]) -> String {
        let global_with_value = ["--root", "--repositories-file", "--keys-dir", "--wait"];
        let mut out = Vec::new();
        let mut i = 0;
        while i < argv.len() {
            let a = argv[i].as_str();
            if global_with_value.contains(&a) {
                i += 2;
                continue;
            }
            if !["--no-progress", "--no-interactive", "--no-network", "--"].contains(&a) {
                out.push(a);
            }
            i += 1;
        }
        out.join(" ")
    }

    /// The applet and arguments of a recorded command (the recorder's sandbox flags dropped, and
    /// `--initdb`, which only the very first command of a fresh root needs).
    fn applet_of_recorded(cmd: &str) -> Option<String> {
        let cmd = cmd.split("   #").next()?.trim_end();
        let rest = cmd.split_once(" --arch x86_64 ")?.1;
        Some(rest.replace(" --initdb", ""))
    }

    fn run(&self, inv: &Invocation) -> &Recorded {
        let argv = args(inv, &ApkSettings::default(), Path::new("/sandbox"))
            .unwrap()
            .unwrap();
        let applet = Self::applet_of_argv(&argv);
        self.session
            .iter()
            .find(|r| Self::applet_of_recorded(&r.command).as_deref() == Some(applet.as_str()))
            .unwrap_or_else(|| panic!("no recorded run of `apk {applet}`"))
    }

    /// Runs `inv` and judges it as the broker will: the events streamed and the verdict.
    fn judge(&self, inv: &Invocation, phase: Phase) -> (Vec<JobEvent>, Option<Verdict>) {
        let rec = self.run(inv);
        let mut tracker = ProgressTracker::new();
        let events = rec.stdout.lines().flat_map(|l| tracker.feed(l)).collect();
        let verdict = classify(
            phase,
            &Evidence {
                exit_code: rec.exit,
                stdout: &rec.stdout,
                stderr: &rec.stderr,
                pm_errors: tracker.errors(),
            },
        );
        (events, verdict)
    }
}

fn name(s: &str) -> PackageName {
    PackageName::new(s).unwrap()
}

fn install(names: &[(&str, Option<&str>)], allow_downgrade: bool) -> Change {
    Change::Install {
        packages: names
            .iter()
            .map(|(n, v)| PackageSpec {
                name: name(n),
                version: v.map(|v| Version::new(v).unwrap()),
            })
            .collect(),
        options: InstallOptions {
            allow_downgrade,
            ..InstallOptions::default()
        },
    }
}

/// The installed state after the recorded `upgrade`: everything at v2's versions.
fn upgraded() -> Installed {
    Installed::parse(
        "P:demo-app\nV:1.0-r0\nA:x86_64\n\nP:demo-hello\nV:1.1-r0\nA:x86_64\n\nP:demo-lib\nV:1.0.1-r0\nA:x86_64\n",
        "demo-app\ndemo-hello\n",
    )
    .unwrap()
}

/// What the recorded sessions' repositories (test kit fixtures v1 and v2) list, as the broker reads it
/// from their indexes.
fn available() -> Vec<ApkRecord> {
    let mut text = String::new();
    for (n, v) in [
        ("demo-hello", "1.0-r0"),
        ("demo-hello", "1.1-r0"),
        ("demo-lib", "1.0-r0"),
        ("demo-lib", "1.0.1-r0"),
        ("demo-app", "1.0-r0"),
        ("demo-conflict", "1.0-r0"),
        ("demo-broken", "1.0-r0"),
    ] {
        text.push_str(&format!("P:{n}\nV:{v}\nA:x86_64\n\n"));
    }
    db::parse(&text).unwrap()
}

#[test]
fn the_jobs_scenario_on_recorded_apk_2_and_3() {
    for v in VERSIONS {
        let runner = ReplayRunner::new(v);
        let fresh = Installed::default();
        let step = |change: Change, installed: &Installed, phase: Phase| {
            let inv = plan(change, installed, &available()).unwrap();
            runner.judge(&inv, phase)
        };

        // Install demo-hello and demo-app (demo-lib comes as a dependency).
        let (events, verdict) = step(
            install(&[("demo-hello", None), ("demo-app", None)], false),
            &fresh,
            Phase::Change,
        );
        assert_eq!(verdict, None, "apk {v}");
        assert_eq!(events.first(), Some(&JobEvent::ChangesStarted));

        // The vendor publishes v2; the refresh succeeds and two updates are listed.
        assert_eq!(
            step(Change::Refresh, &fresh, Phase::Refresh).1,
            None,
            "apk {v}"
        );
        let listed = runner.run(&Invocation::ApkListUpgradable);
        let names: Vec<String> = parse_list_upgradable(&listed.stdout)
            .into_iter()
            .map(|u| u.name)
            .collect();
        assert_eq!(names, ["demo-hello", "demo-lib"], "apk {v}");

        // Apply a selection, then everything.
        let (_, verdict) = step(
            Change::UpgradeSome {
                names: vec![name("demo-lib")],
                upgradable: vec![],
            },
            &upgraded(),
            Phase::Change,
        );
        assert_eq!(verdict, None, "apk {v}");
        let (events, verdict) = step(Change::UpgradeAll, &fresh, Phase::Change);
        assert_eq!(verdict, None, "apk {v}");
        assert!(events.contains(&JobEvent::Progress {
            percent: 0,
            message: "(1/1) Upgrading demo-hello (1.0-r0 -> 1.1-r0)".into()
        }));

        // A pinned downgrade only with allow_downgrade (apk itself would not ask).
        let refused = plan(
            install(&[("demo-hello", Some("1.0-r0"))], false),
            &upgraded(),
            &available(),
        );
        assert!(
            matches!(refused, Err(HelperError::Validation { .. })),
            "apk {v}"
        );
        let (_, verdict) = step(
            install(&[("demo-hello", Some("1.0-r0"))], true),
            &upgraded(),
            Phase::Change,
        );
        assert_eq!(verdict, None, "apk {v}");

        // Conflict, unknown package, failing post-install.
        let kind = |change: Change| {
            step(change, &upgraded(), Phase::Change)
                .1
                .unwrap_or_else(|| panic!("apk {v}: judged a success"))
                .kind
        };
        assert_eq!(
            kind(install(&[("demo-conflict", None)], false)),
            FailureKind::DependencyConflict
        );
        // An unknown name is refused by the plan (no index lists it, so apk never runs); apk's own
        // answer, had it run, is still classified the same way.
        assert!(matches!(
            plan(install(&[("does-not-exist", None)], false), &upgraded(), &available()),
            Err(HelperError::Change(f)) if f.kind == FailureKind::PackageNotFound
        ));
        let unknown = Invocation::ApkAdd {
            packages: vec![PackageSpec {
                name: name("does-not-exist"),
                version: None,
            }],
        };
        assert_eq!(
            runner
                .judge(&unknown, Phase::Change)
                .1
                .map(|verdict| verdict.kind),
            Some(FailureKind::PackageNotFound),
            "apk {v}"
        );
        assert_eq!(
            kind(install(&[("demo-broken", None)], false)),
            FailureKind::PackageManager
        );

        // Remove: apk exits 1 because demo-broken is still broken, yet the removal is what was asked.
        let (events, verdict) = step(
            Change::Remove {
                name: name("demo-app"),
                purge: false,
            },
            &upgraded(),
            Phase::Change,
        );
        assert_eq!(verdict, None, "apk {v}");
        assert!(
            events
                .iter()
                .any(|e| matches!(e, JobEvent::Log { line } if line.starts_with("1 error; ")))
        );
    }
}

#[test]
fn the_runner_matches_applets_exactly() {
    let argv: Vec<String> = [
        "--root",
        "/x",
        "--wait",
        "5",
        "--no-progress",
        "add",
        "--",
        "a=1-r0",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert_eq!(ReplayRunner::applet_of_argv(&argv), "add a=1-r0");
    assert_eq!(
        ReplayRunner::applet_of_recorded(
            "apk --root $ROOT --allow-untrusted --repositories-file /dev/null --repository $FIXTURES/apk/v1 --no-progress --arch x86_64 add --initdb demo-hello demo-app"
        )
        .as_deref(),
        Some("add demo-hello demo-app")
    );
    assert_eq!(
        ReplayRunner::applet_of_recorded("cat $ROOT/etc/apk/world"),
        None
    );
}
