//! Why a package-changing apk run failed, as a [`FailureKind`] and a message for the job.
//!
//! Structure first: apk writes each error as an `ERROR: …` line on stderr, the solver's explanation as an
//! indented block under `ERROR: unable to select packages:` (`NAME (no such package):`, `breaks: …`,
//! `conflicts: …`, `satisfies: …`), a refused repository signature as `WARNING: … UNTRUSTED signature`,
//! and its exit code is the number of errors. One quirk matters: apk's closing summary (`1 error; …`, the
//! tracker's `errors()`) and exit code also count packages left broken by an *earlier* run, so a run
//! whose own output has no `ERROR:` line and whose non-zero exit equals that inherited count did what was
//! asked (recorded: `apk del demo-app` after the failed `demo-broken` install exits 1).
//!
//! Every rule is tested against the recorded apk 2.14.9 and 3.0.6 sessions; the v2/v3 differences (script
//! error text and path, indented script output, the UNTRUSTED warning naming the index file) are covered.

use super::progress::summary_errors;
use crate::backend::{Evidence, Phase, Verdict};
use lpa_protocol::FailureKind;

/// The failure of a run, or `None` when it succeeded.
pub fn classify(phase: Phase, ev: &Evidence<'_>) -> Option<Verdict> {
    let errors = prefixed(ev.stderr, "ERROR: ");
    let warnings = prefixed(ev.stderr, "WARNING: ");
    match phase {
        Phase::Refresh => {
            // `apk update` reports unreachable or refused indexes as warnings and still prints a summary.
            let stale = ev
                .stdout
                .lines()
                .any(|l| l.contains(" unavailable, ") || l.contains(" stale;"));
            if ev.exit_code == Some(0) && errors.is_empty() && warnings.is_empty() && !stale {
                return None;
            }
            let cause = cause(ev, &errors, &warnings);
            Some(Verdict {
                kind: FailureKind::CacheRefresh,
                message: format!("package index refresh failed: {}", cause.message),
            })
        }
        Phase::Change => {
            // Any `ERROR:` line fails the run, whatever the exit code (a failed script must fail the job).
            if errors.is_empty()
                && (ev.exit_code == Some(0) || (warnings.is_empty() && inherited_errors_only(ev)))
            {
                return None;
            }
            Some(cause(ev, &errors, &warnings))
        }
    }
}

/// A non-zero exit explained entirely by apk's summary count, with no error of this run printed: the
/// broken packages were broken before.
fn inherited_errors_only(ev: &Evidence<'_>) -> bool {
    let counted: Option<u32> = ev.pm_errors.iter().find_map(|l| summary_errors(l));
    matches!((ev.exit_code, counted), (Some(code), Some(n)) if n > 0 && u32::try_from(code).ok() == Some(n))
}

fn prefixed<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| l.starts_with(prefix))
        .collect()
}

/// `ERROR: demo-broken-1.0-r0.post-install: script exited with error 1` (apk 2) or
/// `ERROR: lib/apk/exec/demo-broken-1.0-r0.post-install: exited with error 1` (apk 3).
fn is_script_error(line: &str) -> bool {
    const SCRIPTS: [&str; 6] = [
        ".pre-install:",
        ".post-install:",
        ".pre-upgrade:",
        ".post-upgrade:",
        ".pre-deinstall:",
        ".post-deinstall:",
    ];
    SCRIPTS.iter().any(|s| line.contains(s)) && line.contains("exited with error")
}

fn any(lines: &[&str], needles: &[&str]) -> bool {
    lines.iter().any(|l| needles.iter().any(|n| l.contains(n)))
}

/// The cause of a failed run, from the most specific evidence to the least.
fn cause(ev: &Evidence<'_>, errors: &[&str], warnings: &[&str]) -> Verdict {
    let verdict = |kind, message: String| Verdict { kind, message };
    let all: Vec<&str> = ev.stderr.lines().map(str::trim_end).collect();
    let shown = || {
        let text = ev.stderr.trim();
        if text.is_empty() {
            ev.pm_errors.join("\n")
        } else {
            text.to_owned()
        }
    };
    if any(errors, &["Unable to lock database", "Failed to lock"]) {
        return verdict(
            FailureKind::LockTimeout,
            format!("the apk database is locked by another process: {}", shown()),
        );
    }
    // A repository whose signature was refused is dropped, and its packages then look missing: the
    // signature is the cause, not the package.
    if any(warnings, &["UNTRUSTED signature", "BAD signature"]) || any(errors, &["signature"]) {
        return verdict(FailureKind::Gpg, shown());
    }
    let script_errors: Vec<&str> = errors
        .iter()
        .copied()
        .filter(|l| is_script_error(l))
        .collect();
    if !script_errors.is_empty() {
        return verdict(FailureKind::PackageManager, script_errors.join("\n"));
    }
    if any(errors, &["unable to select packages"]) {
        if any(&all, &["(no such package)"]) || breaks_world_pin(&all) {
            return verdict(FailureKind::PackageNotFound, shown());
        }
        return verdict(FailureKind::DependencyConflict, shown());
    }
    if any(
        errors,
        &[
            "network error",
            "DNS lookup error",
            "temporary error",
            "remote server returned error",
            "TLS error",
            "Connection refused",
        ],
    ) || any(
        warnings,
        &[
            "network error",
            "DNS lookup error",
            "temporary error",
            "fetching",
        ],
    ) {
        return verdict(FailureKind::Network, shown());
    }
    if errors.is_empty() && warnings.is_empty() && ev.exit_code.is_none() {
        return verdict(
            FailureKind::Unknown,
            "apk was killed by a signal".to_owned(),
        );
    }
    let message = if ev.stderr.trim().is_empty() && ev.pm_errors.is_empty() {
        format!(
            "apk exited with code {} without an error message",
            ev.exit_code.map_or("none".to_owned(), |c| c.to_string())
        )
    } else {
        shown()
    };
    verdict(FailureKind::PackageManager, message)
}

/// The solver could not satisfy a version the request pinned (`breaks: world[NAME=VERSION]`): apk has no
/// such version, which the API reports as an unknown package like apt's "Version '…' was not found".
fn breaks_world_pin(lines: &[&str]) -> bool {
    lines.iter().any(|l| {
        l.trim_start()
            .strip_prefix("breaks: world[")
            .is_some_and(|rest| rest.contains('='))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::apk::progress::ProgressTracker;
    use crate::backend::apk::transcript::{Recorded, VERSIONS, find};

    /// Replays one recorded run through the tracker and the classification, as the broker will.
    fn judge(rec: &Recorded, phase: Phase) -> Option<Verdict> {
        let mut t = ProgressTracker::new();
        for l in rec.stdout.lines() {
            t.feed(l);
        }
        classify(
            phase,
            &Evidence {
                exit_code: rec.exit,
                stdout: &rec.stdout,
                stderr: &rec.stderr,
                pm_errors: t.errors(),
            },
        )
    }

    fn kind(v: &str, applet: &str) -> FailureKind {
        judge(&find(v, applet), Phase::Change)
            .unwrap_or_else(|| panic!("apk {v}: {applet} was judged a success"))
            .kind
    }

    #[test]
    fn recorded_successes_are_not_failures() {
        for v in VERSIONS {
            for applet in [
                "add --initdb demo-hello demo-app",
                "upgrade demo-lib",
                "upgrade",
                "add demo-hello=1.0-r0",
            ] {
                assert_eq!(
                    judge(&find(v, applet), Phase::Change),
                    None,
                    "apk {v}: {applet}"
                );
            }
            assert_eq!(judge(&find(v, "update"), Phase::Refresh), None, "apk {v}");
        }
    }

    #[test]
    fn recorded_conflict_is_a_dependency_conflict_quoting_the_solver() {
        for v in VERSIONS {
            assert_eq!(
                kind(v, "add demo-conflict"),
                FailureKind::DependencyConflict
            );
            let msg = judge(&find(v, "add demo-conflict"), Phase::Change)
                .unwrap()
                .message;
            assert!(
                msg.contains("breaks: demo-conflict-1.0-r0[!demo-hello]"),
                "{msg}"
            );
        }
    }

    #[test]
    fn recorded_unknown_package_is_package_not_found() {
        for v in VERSIONS {
            assert_eq!(kind(v, "add does-not-exist"), FailureKind::PackageNotFound);
        }
    }

    #[test]
    fn recorded_failing_post_install_is_a_package_manager_error_in_both_apk_versions() {
        for (v, expected) in [
            (
                "2.14.9",
                "ERROR: demo-broken-1.0-r0.post-install: script exited with error 1",
            ),
            (
                "3.0.6",
                "ERROR: lib/apk/exec/demo-broken-1.0-r0.post-install: exited with error 1",
            ),
        ] {
            let verdict = judge(&find(v, "add demo-broken"), Phase::Change).unwrap();
            assert_eq!(verdict.kind, FailureKind::PackageManager, "apk {v}");
            assert_eq!(verdict.message, expected);
        }
    }

    #[test]
    fn a_failing_script_fails_the_job_even_when_apk_exits_0() {
        let mut rec = find("3.0.6", "add demo-broken");
        rec.exit = Some(0);
        assert_eq!(
            judge(&rec, Phase::Change).map(|v| v.kind),
            Some(FailureKind::PackageManager)
        );
    }

    #[test]
    fn recorded_removal_after_an_earlier_broken_script_succeeds_despite_exit_1() {
        for v in VERSIONS {
            let rec = find(v, "del demo-app");
            assert_eq!(rec.exit, Some(1), "apk {v}");
            assert_eq!(judge(&rec, Phase::Change), None, "apk {v}");
        }
        // The same exit without apk's error summary is not excused.
        let bare = Recorded {
            exit: Some(1),
            ..Recorded::default()
        };
        let v = judge(&bare, Phase::Change).unwrap();
        assert_eq!(v.kind, FailureKind::PackageManager);
        assert!(v.message.contains("exited with code 1"), "{}", v.message);
    }

    #[test]
    fn recorded_untrusted_repository_is_a_gpg_error_not_a_missing_package() {
        for v in VERSIONS {
            let rec = find(v, "add demo-lib");
            assert!(rec.stderr.contains("no such package"), "apk {v}");
            assert_eq!(kind(v, "add demo-lib"), FailureKind::Gpg, "apk {v}");
            // The same output from `apk update` is a refresh failure whose cause names the signature.
            let r = judge(&rec, Phase::Refresh).unwrap();
            assert_eq!(r.kind, FailureKind::CacheRefresh);
            assert!(r.message.contains("UNTRUSTED signature"), "{}", r.message);
        }
    }

    #[test]
    fn every_refresh_failure_is_a_cache_refresh_error() {
        let cases = [
            (
                Some(1),
                "",
                "ERROR: https://x/v3.20/main: temporary error (try again later)\n",
            ),
            (
                Some(0),
                "",
                "WARNING: fetching https://x/main: network error (check Internet connection and firewall)\n",
            ),
            (
                Some(2),
                "2 unavailable, 0 stale; 7 distinct packages available\n",
                "",
            ),
            (None, "", ""),
        ];
        for (exit, stdout, stderr) in cases {
            let v = classify(
                Phase::Refresh,
                &Evidence {
                    exit_code: exit,
                    stdout,
                    stderr,
                    pm_errors: &[],
                },
            )
            .unwrap_or_else(|| panic!("{exit:?} {stdout:?} {stderr:?}"));
            assert_eq!(v.kind, FailureKind::CacheRefresh);
            assert!(
                v.message.starts_with("package index refresh failed: "),
                "{}",
                v.message
            );
        }
    }

    #[test]
    fn lock_network_missing_pin_and_signal_are_told_apart() {
        let judge_err = |exit: Option<i32>, stderr: &str| {
            classify(
                Phase::Change,
                &Evidence {
                    exit_code: exit,
                    stdout: "",
                    stderr,
                    pm_errors: &[],
                },
            )
            .unwrap()
            .kind
        };
        assert_eq!(
            judge_err(
                Some(1),
                "ERROR: Unable to lock database: Resource temporarily unavailable\nERROR: Failed to open apk database: Resource temporarily unavailable\n"
            ),
            FailureKind::LockTimeout
        );
        assert_eq!(
            judge_err(
                Some(1),
                "ERROR: demo-hello-1.1-r0: network error (check Internet connection and firewall)\n"
            ),
            FailureKind::Network
        );
        assert_eq!(
            judge_err(
                Some(1),
                "ERROR: unable to select packages:\n  demo-hello-1.1-r0:\n    breaks: world[demo-hello=9.9-r0]\n"
            ),
            FailureKind::PackageNotFound
        );
        assert_eq!(judge_err(None, ""), FailureKind::Unknown);
    }
}
