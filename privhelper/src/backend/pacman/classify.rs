//! Why a pacman run failed, as a [`FailureKind`] and a message for the job.
//!
//! Structure first: the exit status, pacman's `error:` lines (stderr; libalpm's stable messages from
//! `alpm_strerror` and pacman's `callback.c`/`sync.c`) and, because a failing install scriptlet still
//! exits 0 (gotcha P3), the scriptlet failure line `error: command failed to execute correctly`, with the
//! scriptlet's own output (stdout) as the message. Every rule is tested against recorded real runs.

use crate::backend::pacman::progress::scriptlet_lines;
use crate::backend::{Evidence, Phase, Verdict};
use lpa_protocol::FailureKind;

/// libalpm's message when a scriptlet exits non-zero (or cannot run at all: no `/bin/sh` in the root).
pub const SCRIPTLET_FAILED: &str = "error: command failed to execute correctly";

/// libalpm's and pacman's messages when `db.lck` exists: another pacman is running (or crashed holding it).
const LOCK_MESSAGES: [&str; 2] = ["unable to lock database", "could not lock database"];

/// Whether the run failed only because `db.lck` was there: pacman checks it before anything else, so
/// nothing was changed and the same run may succeed once the holder is done
/// ([`crate::backend::lock_wait`]).
pub fn lock_busy(ev: &Evidence<'_>) -> bool {
    ev.exit_code != Some(0)
        && ev
            .stderr
            .lines()
            .any(|l| l.starts_with("error: ") && LOCK_MESSAGES.iter().any(|m| l.contains(m)))
}

/// The failure of a run, or `None` when it succeeded.
pub fn classify(phase: Phase, ev: &Evidence<'_>) -> Option<Verdict> {
    let mut errors: Vec<&str> = ev
        .stderr
        .lines()
        .map(str::trim_end)
        .filter(|l| l.starts_with("error: "))
        .collect();
    errors.extend(
        ev.pm_errors
            .iter()
            .map(String::as_str)
            .filter(|l| l.starts_with("error: ")),
    );
    errors.dedup();
    let scriptlet_failed = errors.contains(&SCRIPTLET_FAILED);
    if ev.exit_code == Some(0) && !scriptlet_failed {
        return None;
    }
    let verdict = cause(ev, &errors, scriptlet_failed);
    Some(match phase {
        Phase::Refresh => Verdict {
            kind: FailureKind::CacheRefresh,
            message: format!("package database refresh failed: {}", verdict.message),
        },
        Phase::Change => verdict,
    })
}

fn any(lines: &[&str], needles: &[&str]) -> bool {
    lines.iter().any(|l| needles.iter().any(|n| l.contains(n)))
}

/// The cause, from the most specific evidence to the least.
fn cause(ev: &Evidence<'_>, errors: &[&str], scriptlet_failed: bool) -> Verdict {
    let joined = || {
        if errors.is_empty() {
            match ev.exit_code {
                Some(code) => format!("pacman exited with code {code} without an error message"),
                None => "pacman was killed by a signal".to_owned(),
            }
        } else {
            errors.join("\n")
        }
    };
    let verdict = |kind, message| Verdict { kind, message };
    if any(errors, &LOCK_MESSAGES) {
        // pacman does not wait: a db.lck left by a running (or crashed) pacman fails at once (the broker
        // runs it again until the lock timeout).
        let lock = ev
            .stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix("running, you can remove "))
            .map(|p| format!(" ({p})"))
            .unwrap_or_default();
        return verdict(
            FailureKind::LockTimeout,
            format!("the pacman database is locked{lock}: {}", joined()),
        );
    }
    if scriptlet_failed {
        let output = scriptlet_lines(ev.stdout);
        let mut message = String::from("an install scriptlet failed");
        if !output.is_empty() {
            message.push_str(": ");
            message.push_str(&output.join("\n"));
        }
        return verdict(FailureKind::PackageManager, message);
    }
    let kind = if any(errors, &["target not found: ", "was not found"]) {
        FailureKind::PackageNotFound
    } else if any(
        errors,
        &[
            "unresolvable package conflicts detected",
            "conflicting dependencies",
            "could not satisfy dependencies",
            "unable to satisfy dependency",
            "conflicting files",
        ],
    ) || ev.stdout.contains(" breaks dependency ")
    {
        FailureKind::DependencyConflict
    } else if any(
        errors,
        &[
            "missing required signature",
            "signature from",
            "invalid or corrupted package (PGP signature)",
            "invalid or corrupted database (PGP signature)",
            "is unknown trust",
            "is marginal trust",
            "could not be looked up remotely",
            "required key missing from keyring",
            ".sig' from",
        ],
    ) {
        FailureKind::Gpg
    } else if any(
        errors,
        &[
            "failed retrieving file",
            "failed to retrieve some files",
            "download library error",
            "Could not resolve host",
            "Failed to connect",
            "Operation too slow",
            "The requested URL returned error",
        ],
    ) {
        FailureKind::Network
    } else if ev.exit_code.is_none() {
        FailureKind::Unknown
    } else {
        FailureKind::PackageManager
    };
    verdict(kind, joined())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::pacman::progress::ProgressTracker;
    use crate::backend::pacman::recorded::Recorded;

    fn judge(name: &str, phase: Phase) -> Option<Verdict> {
        let rec = Recorded::load(name);
        let mut t = ProgressTracker::new();
        for l in rec.stdout.lines() {
            t.feed(l);
        }
        classify(
            phase,
            &Evidence {
                exit_code: Some(rec.rc),
                stdout: &rec.stdout,
                stderr: &rec.stderr,
                pm_errors: t.errors(),
            },
        )
    }

    fn kind(name: &str) -> FailureKind {
        judge(name, Phase::Change)
            .unwrap_or_else(|| panic!("{name} was judged a success"))
            .kind
    }

    #[test]
    fn recorded_successes_are_not_failures() {
        for name in [
            "install-hello",
            "install-needed",
            "install-reinstall",
            "install-pinned",
            "upgrade-all",
            "upgrade-ignore",
            "remove-tool",
            "remove-nosave",
        ] {
            assert_eq!(judge(name, Phase::Change), None, "{name}");
        }
        for name in ["refresh", "refresh-v2"] {
            assert_eq!(judge(name, Phase::Refresh), None, "{name}");
        }
    }

    #[test]
    fn recorded_failing_post_install_fails_the_job_although_pacman_exits_0() {
        assert_eq!(Recorded::load("broken").rc, 0);
        let v = judge("broken", Phase::Change).unwrap();
        assert_eq!(v.kind, FailureKind::PackageManager);
        assert_eq!(
            v.message,
            "an install scriptlet failed: demo-broken: demo-broken: failing on purpose"
        );
    }

    #[test]
    fn recorded_unknown_names_versions_and_removals_are_package_not_found() {
        for name in [
            "unknown",
            "install-badversion",
            "remove-missing",
            "sync-info-missing",
        ] {
            assert_eq!(kind(name), FailureKind::PackageNotFound, "{name}");
        }
        assert_eq!(
            judge("unknown", Phase::Change).unwrap().message,
            "error: target not found: nosuch"
        );
    }

    #[test]
    fn recorded_conflict_and_broken_dependency_are_dependency_conflicts() {
        assert_eq!(kind("conflict"), FailureKind::DependencyConflict);
        assert_eq!(kind("remove-breaks"), FailureKind::DependencyConflict);
        let v = judge("conflict", Phase::Change).unwrap();
        assert!(
            v.message
                .contains("unresolvable package conflicts detected"),
            "{}",
            v.message
        );
    }

    #[test]
    fn recorded_lock_is_a_lock_timeout_naming_the_lock_file() {
        let rec = Recorded::load("lock");
        let ev = |stderr| Evidence {
            exit_code: Some(rec.rc),
            stdout: "",
            stderr,
            pm_errors: &[],
        };
        assert!(lock_busy(&ev(&rec.stderr)));
        assert!(!lock_busy(&ev("error: target not found: nosuch\n")));
        let v = judge("lock", Phase::Change).unwrap();
        assert_eq!(v.kind, FailureKind::LockTimeout);
        assert!(
            v.message.contains("/var/lib/pacman/db.lck"),
            "{}",
            v.message
        );
    }

    #[test]
    fn recorded_missing_package_file_is_a_network_error_and_missing_signature_a_gpg_error() {
        assert_eq!(kind("fetch-missing"), FailureKind::Network);
        assert_eq!(kind("install-unsigned"), FailureKind::Gpg);
        assert_eq!(kind("refresh-unsigned"), FailureKind::Gpg);
        assert_eq!(kind("refresh-missing"), FailureKind::Network);
    }

    #[test]
    fn every_recorded_refresh_failure_is_a_cache_refresh_error_with_its_cause() {
        for name in ["refresh-missing", "refresh-unsigned"] {
            let v = judge(name, Phase::Refresh).unwrap();
            assert_eq!(v.kind, FailureKind::CacheRefresh, "{name}");
            assert!(
                v.message
                    .starts_with("package database refresh failed: error: "),
                "{}",
                v.message
            );
        }
        let v = judge("refresh-unsigned", Phase::Refresh).unwrap();
        assert!(
            v.message.contains("missing required signature"),
            "{}",
            v.message
        );
    }

    #[test]
    fn a_killed_run_without_messages_is_unknown() {
        let v = classify(
            Phase::Change,
            &Evidence {
                exit_code: None,
                stdout: "",
                stderr: "",
                pm_errors: &[],
            },
        )
        .unwrap();
        assert_eq!(v.kind, FailureKind::Unknown);
        assert!(v.message.contains("signal"));
    }

    #[test]
    fn a_scriptlet_failure_seen_only_in_a_merged_stream_still_fails() {
        let errors = vec![SCRIPTLET_FAILED.to_owned()];
        let v = classify(
            Phase::Change,
            &Evidence {
                exit_code: Some(0),
                stdout: "",
                stderr: "",
                pm_errors: &errors,
            },
        )
        .unwrap();
        assert_eq!(v.kind, FailureKind::PackageManager);
    }
}
