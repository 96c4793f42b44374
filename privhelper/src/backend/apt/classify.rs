//! Why a package-changing apt run failed, as a [`FailureKind`] and a message for the job.
//!
//! Structure first: the exit status, the `pmerror` lines of the status channel (a maintainer script or
//! dpkg itself failed) and apt's own `E:` lines, whose texts are stable, documented messages of apt
//! (`apt-pkg/*.cc`, `cmdline/*.cc`). Free text elsewhere in the output is only read to name a lock's holder.
//! Every rule is tested against output recorded from real apt runs on the fixtures.

use lpa_protocol::FailureKind;

pub use crate::backend::judge::{Evidence, Phase, Verdict};

/// The failure of a run, or `None` when it succeeded.
pub fn classify(phase: Phase, ev: &Evidence<'_>) -> Option<Verdict> {
    let errors = lines_with(ev.stderr, "E: ");
    let fetch_warnings: Vec<&str> = lines_with(ev.stderr, "W: ")
        .into_iter()
        .filter(|l| {
            l.contains("Failed to fetch")
                || l.contains("Some index files failed to download")
                || l.contains("GPG error")
        })
        .collect();
    let succeeded = ev.exit_code == Some(0) && ev.pm_errors.is_empty();
    match phase {
        // apt-get update exits 0 when an index could not be fetched and it fell back to the old one: for
        // the job that is a failed refresh, not a fresh cache.
        Phase::Refresh if succeeded && fetch_warnings.is_empty() => None,
        Phase::Refresh => {
            let mut all = errors.clone();
            all.extend(fetch_warnings);
            let cause = cause(ev, &all);
            Some(Verdict {
                kind: FailureKind::CacheRefresh,
                message: format!("package index refresh failed: {}", cause.message),
            })
        }
        Phase::Change if succeeded => None,
        Phase::Change => Some(cause(ev, &errors)),
    }
}

fn lines_with<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| l.starts_with(prefix))
        .collect()
}

fn any(lines: &[&str], needles: &[&str]) -> bool {
    lines.iter().any(|l| needles.iter().any(|n| l.contains(n)))
}

/// The cause of a failed run, from the most specific evidence to the least.
fn cause(ev: &Evidence<'_>, errors: &[&str]) -> Verdict {
    let verdict = |kind, message: String| Verdict { kind, message };
    let joined = || {
        if errors.is_empty() {
            None
        } else {
            Some(errors.join("\n"))
        }
    };
    if any(
        errors,
        &[
            "Could not get lock",
            "Unable to acquire the dpkg frontend lock",
            "Unable to lock the administration directory",
            "Unable to lock directory",
        ],
    ) {
        let holder = lock_holder(ev.stdout).or_else(|| lock_holder(ev.stderr));
        let who = holder.map_or_else(
            || "another process".to_owned(),
            |(pid, cmd)| format!("process {pid} ({cmd})"),
        );
        return verdict(
            FailureKind::LockTimeout,
            format!(
                "the package manager lock is held by {who}: {}",
                joined().unwrap_or_default()
            ),
        );
    }
    if !ev.pm_errors.is_empty() {
        return verdict(FailureKind::PackageManager, ev.pm_errors.join("\n"));
    }
    let message = joined().unwrap_or_else(|| match ev.exit_code {
        Some(code) => format!("apt-get exited with code {code} without an error message"),
        None => "apt-get was killed by a signal".to_owned(),
    });
    let kind = if any(
        errors,
        &[
            "Unable to locate package",
            "has no installation candidate",
            "' was not found",
            "Couldn't find any package by",
        ],
    ) {
        FailureKind::PackageNotFound
    } else if any(
        errors,
        &[
            "Packages need to be removed but remove is disabled",
            "Unable to correct problems",
            "unmet dependencies",
            "held broken packages",
            "Broken packages",
        ],
    ) || ev
        .stdout
        .contains("The following packages have unmet dependencies")
    {
        FailureKind::DependencyConflict
    } else if any(
        errors,
        &[
            "NO_PUBKEY",
            "is not signed",
            "couldn't be verified",
            "EXPKEYSIG",
            "BADSIG",
            "There were unauthenticated packages",
            "cannot be authenticated",
            "GPG error",
        ],
    ) {
        FailureKind::Gpg
    } else if any(
        errors,
        &[
            "Failed to fetch",
            "404  Not Found",
            "Temporary failure resolving",
            "Could not resolve",
            "Unable to fetch some archives",
            "Could not connect",
            "Connection failed",
        ],
    ) {
        FailureKind::Network
    } else if any(errors, &["Packages were downgraded and -y was used"]) {
        return verdict(
            FailureKind::PackageManager,
            format!("refusing to downgrade without allow_downgrade: {message}"),
        );
    } else if ev.exit_code.is_none() {
        FailureKind::Unknown
    } else {
        // apt failed for a reason it stated but no rule above names.
        FailureKind::PackageManager
    };
    verdict(kind, message)
}

/// `It is held by process 31414 (python3)` → `(31414, "python3")`; apt prints it while it waits.
pub fn lock_holder(text: &str) -> Option<(u32, String)> {
    const MARK: &str = "It is held by process ";
    let rest = &text[text.rfind(MARK)? + MARK.len()..];
    let (pid, rest) = rest.split_once(' ')?;
    let pid = pid.parse().ok()?;
    let cmd = rest.strip_prefix('(')?.split_once(')')?.0.to_owned();
    Some((pid, cmd))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::apt::recorded::Recorded;
    use crate::backend::apt::status_fd::ProgressTracker;

    fn judge(name: &str, phase: Phase) -> Option<Verdict> {
        let rec = Recorded::load(name);
        let mut t = ProgressTracker::for_change();
        for l in rec.status.lines() {
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
        for name in ["install-hello", "newest", "remove-tool", "upgrade-hello"] {
            assert_eq!(judge(name, Phase::Change), None, "{name}");
        }
    }

    #[test]
    fn recorded_unknown_package_and_unknown_version_are_package_not_found() {
        assert_eq!(kind("unknown"), FailureKind::PackageNotFound);
        assert_eq!(kind("badversion"), FailureKind::PackageNotFound);
        let v = judge("unknown", Phase::Change).unwrap();
        assert_eq!(v.message, "E: Unable to locate package nosuch");
    }

    #[test]
    fn recorded_refused_removal_and_unmet_dependencies_are_dependency_conflicts() {
        assert_eq!(kind("conflict"), FailureKind::DependencyConflict);
        assert_eq!(kind("unmet"), FailureKind::DependencyConflict);
        let v = judge("conflict", Phase::Change).unwrap();
        assert!(v.message.contains("remove is disabled"), "{}", v.message);
    }

    #[test]
    fn recorded_failing_postinst_is_a_package_manager_error_from_pmerror() {
        let v = judge("broken", Phase::Change).unwrap();
        assert_eq!(v.kind, FailureKind::PackageManager);
        assert!(
            v.message
                .starts_with("demo-broken: installed demo-broken package post-installation script"),
            "{}",
            v.message
        );
    }

    #[test]
    fn recorded_busy_lock_is_a_lock_timeout_naming_the_holder() {
        let v = judge("lock", Phase::Change).unwrap();
        assert_eq!(v.kind, FailureKind::LockTimeout);
        assert!(
            v.message.contains("process 31414 (python3)"),
            "{}",
            v.message
        );
        assert_eq!(
            lock_holder("Could not get lock /x. It is held by process 7 (apt-get)..."),
            Some((7, "apt-get".into()))
        );
        assert_eq!(lock_holder("Could not get lock /x"), None);
    }

    #[test]
    fn recorded_download_failures_are_network_errors() {
        assert_eq!(kind("fetch404"), FailureKind::Network);
        assert_eq!(kind("update-missing"), FailureKind::Network);
        let v = judge("fetch404", Phase::Change).unwrap();
        assert!(v.message.contains("404  File not found"), "{}", v.message);
    }

    #[test]
    fn recorded_signature_failures_are_gpg_errors() {
        assert_eq!(kind("update-unsigned"), FailureKind::Gpg);
        assert_eq!(kind("update-nopubkey"), FailureKind::Gpg);
        let v = judge("update-nopubkey", Phase::Change).unwrap();
        assert!(v.message.contains("is not signed"), "{}", v.message);
    }

    #[test]
    fn recorded_refused_downgrade_says_so() {
        let v = judge("downgrade", Phase::Change).unwrap();
        assert_eq!(v.kind, FailureKind::PackageManager);
        assert!(v.message.contains("allow_downgrade"), "{}", v.message);
    }

    #[test]
    fn every_recorded_refresh_failure_is_a_cache_refresh_error_with_its_cause() {
        for name in [
            "update-missing",
            "update-unsigned",
            "update-nopubkey",
            "update-resolve",
        ] {
            let v = judge(name, Phase::Refresh).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(v.kind, FailureKind::CacheRefresh, "{name}");
            assert!(
                v.message.starts_with("package index refresh failed: "),
                "{}",
                v.message
            );
        }
        // apt-get update exits 0 here, yet nothing was refreshed.
        assert_eq!(Recorded::load("update-resolve").rc, 0);
        let v = judge("update-resolve", Phase::Refresh).unwrap();
        assert!(
            v.message
                .contains("Could not resolve 'nonexistent.invalid'"),
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
        assert!(v.message.contains("signal"), "{}", v.message);
    }
}
