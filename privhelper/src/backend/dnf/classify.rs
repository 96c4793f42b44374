//! Why a package-changing dnf run failed, as a [`FailureKind`] and a message for the job.
//!
//! Structure first: the exit status (0, 1, or 200 for a busy rpmdb with `exit_on_lock`), the
//! failed-scriptlet lines of the progress tracker (dnf exits 0 after a failing `%post`, gotcha D4) and rpm's
//! `Error in <KIND> scriptlet` lines on stderr, then dnf's own `Error:` messages, whose texts are dnf's and
//! libdnf's stable strings. Every rule is tested against output recorded from real dnf on the fixtures.

use crate::backend::{Evidence, Phase, Verdict};
use lpa_protocol::FailureKind;

/// dnf's exit code when `exit_on_lock` found one of its locks (rpmdb, metadata, download cache) held.
const EXIT_LOCKED: i32 = 200;

/// What dnf prints when `exit_on_lock` found a lock held by a live process (`RPMDB already locked by 13810`,
/// `metadata already locked by 13810`). dnf's other exit-200 failure, a malformed lock file, lacks it and
/// does not pass by waiting.
const HELD_BY: &str = "already locked by ";

/// Whether the run failed only because another process held one of dnf's locks: nothing was changed and
/// the same run may succeed once the holder is done ([`crate::backend::lock_wait`]).
pub fn lock_busy(ev: &Evidence<'_>) -> bool {
    ev.exit_code == Some(EXIT_LOCKED)
        && (ev.stderr.contains(HELD_BY) || ev.stdout.contains(HELD_BY))
}

/// The failure of a run, or `None` when it succeeded.
pub fn classify(phase: Phase, ev: &Evidence<'_>) -> Option<Verdict> {
    let scriptlet_errors: Vec<&str> = ev
        .stderr
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("Error in ") && l.contains(" scriptlet in rpm package "))
        .collect();
    // With `skip_if_unavailable=True` (a host's choice) a dead repository is only a warning and dnf
    // exits 0; for a refresh that is still a failure.
    let metadata_warnings: Vec<&str> = ev
        .stderr
        .lines()
        .map(str::trim)
        .filter(|l| l.contains("Failed to download metadata for repo"))
        .collect();
    let succeeded =
        ev.exit_code == Some(0) && ev.pm_errors.is_empty() && scriptlet_errors.is_empty();
    match phase {
        Phase::Refresh if succeeded && metadata_warnings.is_empty() => None,
        Phase::Refresh => Some(Verdict {
            kind: FailureKind::CacheRefresh,
            message: format!(
                "repository metadata refresh failed: {}",
                cause(ev, &scriptlet_errors).message
            ),
        }),
        Phase::Change if succeeded => None,
        Phase::Change => Some(cause(ev, &scriptlet_errors)),
    }
}

fn error_lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| {
            let t = l.trim_start();
            t.starts_with("Error")
                || t.starts_with("- ")
                || t.starts_with("Problem")
                || t.starts_with("No match for argument")
                || t.contains("is not signed")
                || t.contains("Curl error")
                || t.contains("already locked by")
        })
        .collect()
}

fn any(text: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| text.contains(n))
}

/// `RPMDB already locked by 13810` → 13810, and the holder's command from dnf's next line.
pub fn lock_holder(text: &str) -> Option<(u32, String)> {
    let rest = &text[text.find(HELD_BY)? + HELD_BY.len()..];
    let pid: u32 = rest
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    let cmd = text
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix(&format!("The application with PID {pid} is: "))
        })
        .unwrap_or("unknown")
        .trim()
        .to_owned();
    Some((pid, cmd))
}

/// What dnf's lock protects, from the word before [`HELD_BY`].
fn locked_part(text: &str) -> &'static str {
    let Some(at) = text.find(HELD_BY) else {
        return "the rpm database";
    };
    match text[..at].split_whitespace().last() {
        Some("metadata") => "dnf's metadata cache",
        Some("cachedir") => "dnf's download cache",
        _ => "the rpm database",
    }
}

fn cause(ev: &Evidence<'_>, scriptlet_errors: &[&str]) -> Verdict {
    let verdict = |kind, message: String| Verdict { kind, message };
    let all = format!("{}\n{}", ev.stdout, ev.stderr);
    if ev.exit_code == Some(EXIT_LOCKED)
        || any(&all, &["already locked by", "Waiting for process with pid"])
    {
        let who = lock_holder(&all).map_or_else(
            || "another process".to_owned(),
            |(pid, cmd)| format!("process {pid} ({cmd})"),
        );
        return verdict(
            FailureKind::LockTimeout,
            format!("{} is locked by {who}", locked_part(&all)),
        );
    }
    if !ev.pm_errors.is_empty() || !scriptlet_errors.is_empty() {
        let mut lines: Vec<String> = ev.pm_errors.to_vec();
        lines.extend(scriptlet_errors.iter().map(|s| (*s).to_owned()));
        return verdict(FailureKind::PackageManager, lines.join("\n"));
    }
    let errors = error_lines(ev.stderr);
    let message = if errors.is_empty() {
        match ev.exit_code {
            Some(code) => format!("dnf exited with code {code} without an error message"),
            None => "dnf was killed by a signal".to_owned(),
        }
    } else {
        errors.join("\n")
    };
    let stderr = ev.stderr;
    let kind = if any(
        stderr,
        &[
            "Unable to find a match",
            "No match for argument",
            "No package ",
            "available, but not installed",
        ],
    ) || any(ev.stdout, &["No match for argument"])
    {
        FailureKind::PackageNotFound
    } else if any(
        stderr,
        &[
            "conflicting requests",
            "conflicts with",
            "nothing provides",
            "Problem:",
            "protected packages",
            "Depsolve Error",
        ],
    ) {
        FailureKind::DependencyConflict
    } else if any(
        stderr,
        &[
            "GPG check FAILED",
            "is not signed",
            "Public key for",
            "NOKEY",
            "Bad GPG signature",
            "signature verification failed",
        ],
    ) {
        FailureKind::Gpg
    } else if any(
        stderr,
        &[
            "Curl error",
            "Cannot download",
            "Failed to download",
            "Error downloading packages",
            "No more mirrors to try",
            "Could not resolve host",
            "Status code: 404",
        ],
    ) {
        FailureKind::Network
    } else if ev.exit_code.is_none() {
        FailureKind::Unknown
    } else {
        FailureKind::PackageManager
    };
    verdict(kind, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::dnf::progress::ProgressTracker;
    use crate::backend::dnf::recorded::Recorded;

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
            "upgrade-hello",
            "upgrade-all",
            "install-older",
            "reinstall-hello",
            "remove-tool",
            "yum-install-hello",
        ] {
            assert_eq!(judge(name, Phase::Change), None, "{name}");
        }
        assert_eq!(judge("makecache", Phase::Refresh), None);
    }

    #[test]
    fn recorded_failing_post_is_a_package_manager_error_although_dnf_exits_zero() {
        let v = judge("broken", Phase::Change).unwrap();
        assert_eq!(v.kind, FailureKind::PackageManager);
        assert!(
            v.message
                .contains("%post(demo-broken-1.0-1.noarch) scriptlet failed"),
            "{}",
            v.message
        );
        assert!(
            v.message
                .contains("Error in POSTIN scriptlet in rpm package demo-broken"),
            "{}",
            v.message
        );
    }

    #[test]
    fn recorded_unknown_package_and_version_are_package_not_found() {
        assert_eq!(kind("unknown"), FailureKind::PackageNotFound);
        assert_eq!(kind("badversion"), FailureKind::PackageNotFound);
        assert_eq!(
            judge("unknown", Phase::Change).unwrap().message,
            "Error: Unable to find a match: nosuch"
        );
    }

    #[test]
    fn recorded_conflict_is_a_dependency_conflict() {
        let v = judge("conflict", Phase::Change).unwrap();
        assert_eq!(v.kind, FailureKind::DependencyConflict);
        assert!(v.message.contains("conflicting requests"), "{}", v.message);
    }

    #[test]
    fn recorded_unsigned_package_is_a_gpg_error() {
        assert_eq!(kind("unsigned"), FailureKind::Gpg);
    }

    #[test]
    fn recorded_busy_rpmdb_is_a_lock_timeout_naming_the_holder() {
        let v = judge("lock", Phase::Change).unwrap();
        assert_eq!(v.kind, FailureKind::LockTimeout);
        assert!(
            v.message
                .starts_with("the rpm database is locked by process "),
            "{}",
            v.message
        );
        assert!(v.message.ends_with("(dnf)"), "{}", v.message);
    }

    #[test]
    fn a_lock_held_by_a_live_process_is_busy_and_names_what_is_locked() {
        let rec = Recorded::load("lock");
        let ev = |exit_code, stderr| Evidence {
            exit_code,
            stdout: "",
            stderr,
            pm_errors: &[],
        };
        assert!(lock_busy(&ev(Some(rec.rc), &rec.stderr)));
        let metadata =
            "metadata already locked by 4242\n  The application with PID 4242 is: sleep\n";
        assert!(lock_busy(&ev(Some(200), metadata)));
        assert_eq!(
            classify(Phase::Change, &ev(Some(200), metadata))
                .unwrap()
                .message,
            "dnf's metadata cache is locked by process 4242 (sleep)"
        );
        // A malformed lock file also exits 200, but waiting does not mend it.
        let malformed = "Malformed lock file found: /var/cache/dnf/metadata_lock.pid.\n";
        assert!(!lock_busy(&ev(Some(200), malformed)));
        assert!(!lock_busy(&ev(Some(1), &rec.stderr)));
        assert!(!lock_busy(&ev(Some(1), "Error: Unable to find a match: x")));
    }

    #[test]
    fn recorded_refresh_failure_is_a_cache_refresh_error_with_the_network_cause() {
        let v = judge("makecache-missing", Phase::Refresh).unwrap();
        assert_eq!(v.kind, FailureKind::CacheRefresh);
        assert!(
            v.message
                .contains("Failed to download metadata for repo 'demo'"),
            "{}",
            v.message
        );
        // The same output during a change is a network error, so the apply can retry once.
        assert_eq!(kind("makecache-missing"), FailureKind::Network);
    }

    #[test]
    fn a_killed_run_without_messages_is_unknown_and_a_skipped_repository_fails_a_refresh() {
        let ev = Evidence {
            exit_code: None,
            stdout: "",
            stderr: "",
            pm_errors: &[],
        };
        assert_eq!(
            classify(Phase::Change, &ev).unwrap().kind,
            FailureKind::Unknown
        );
        let stderr = "Error: Failed to download metadata for repo 'x': Cannot download repomd.xml\nIgnoring repositories: x\n";
        let ev = Evidence {
            exit_code: Some(0),
            stdout: "",
            stderr,
            pm_errors: &[],
        };
        assert_eq!(
            classify(Phase::Refresh, &ev).unwrap().kind,
            FailureKind::CacheRefresh
        );
        assert_eq!(classify(Phase::Change, &ev), None);
    }
}
