//! How a package-changing request ends: the [`ChangeReport`] of a success or the [`ChangeFailure`] of a
//! failure, both carrying what the dpkg database says changed.

use super::run::Run;
use crate::backend::{Evidence, Verdict};
use crate::broker::control::Stop;
use lpa_protocol::launcher::LaunchError;
use lpa_protocol::{ChangeFailure, ChangeReport, FailureKind, HelperError, PackageChange};

/// A failure that happened before any command ran (nothing changed).
pub fn early_failure(kind: FailureKind, message: impl Into<String>) -> HelperError {
    HelperError::Change(ChangeFailure {
        kind,
        message: message.into(),
        exit_code: None,
        stdout: String::new(),
        stderr: String::new(),
        changes: Vec::new(),
    })
}

/// The failure of a request stopped by `stop`.
pub fn stopped(stop: Stop, changes: Vec<PackageChange>, run: Option<&Run>) -> HelperError {
    let (kind, message) = match stop {
        Stop::Cancel => (FailureKind::Cancelled, "cancelled before dpkg started"),
        Stop::Abort => (
            FailureKind::Timeout,
            "stopped: the job's time limit was reached",
        ),
    };
    let out = run.and_then(|r| r.result.as_ref().ok());
    HelperError::Change(ChangeFailure {
        kind,
        message: message.to_owned(),
        exit_code: out.and_then(|o| o.exit_code),
        stdout: out.map(|o| o.stdout.clone()).unwrap_or_default(),
        stderr: out.map(|o| o.stderr.clone()).unwrap_or_default(),
        changes,
    })
}

/// Turns a finished run and the database diff into the request's result. `judge` is the backend's
/// classification of the run; `summary` makes the message of a success from its changes and standard
/// output.
pub fn conclude(
    judge: impl FnOnce(&Evidence<'_>) -> Option<Verdict>,
    run: &Run,
    changes: Vec<PackageChange>,
    summary: impl FnOnce(&[PackageChange], &str) -> String,
) -> Result<ChangeReport, HelperError> {
    let out = match &run.result {
        Ok(out) => out,
        Err(e) => {
            if let Some(stop) = run.stop {
                return Err(stopped(stop, changes, Some(run)));
            }
            let kind = match e {
                LaunchError::NotAvailable(_) => FailureKind::CommandNotFound,
                LaunchError::Spawn { reason, .. } if reason.contains("ermission denied") => {
                    FailureKind::PermissionDenied
                }
                LaunchError::Spawn { reason, .. } if reason.contains("No such file") => {
                    FailureKind::CommandNotFound
                }
                _ => FailureKind::Unknown,
            };
            return Err(HelperError::Change(ChangeFailure {
                kind,
                message: e.to_string(),
                exit_code: None,
                stdout: String::new(),
                stderr: String::new(),
                changes,
            }));
        }
    };
    let verdict = judge(&Evidence::of(out, &run.pm_errors));
    match (verdict, run.stop) {
        (None, _) => Ok(ChangeReport {
            message: summary(&changes, &out.stdout),
            changes,
            exit_code: out.exit_code,
            stdout: out.stdout.clone(),
            stderr: out.stderr.clone(),
        }),
        (Some(_), Some(stop)) => Err(stopped(stop, changes, Some(run))),
        (Some(v), None) => Err(HelperError::Change(ChangeFailure {
            kind: v.kind,
            message: v.message,
            exit_code: out.exit_code,
            stdout: out.stdout.clone(),
            stderr: out.stderr.clone(),
            changes,
        })),
    }
}

/// `2 upgraded, 1 newly installed, 1 removed`, or apt's own "already the newest version" lines when
/// nothing changed.
pub fn summarize(changes: &[PackageChange], stdout: &str) -> String {
    if changes.is_empty() {
        let newest: Vec<&str> = stdout
            .lines()
            .map(str::trim)
            .filter(|l| l.contains("is already the newest version"))
            .collect();
        return if newest.is_empty() {
            "nothing changed".to_owned()
        } else {
            format!("already newest: {}", newest.join(" "))
        };
    }
    let installed = changes.iter().filter(|c| c.from.is_none()).count();
    let removed = changes.iter().filter(|c| c.to.is_none()).count();
    let changed = changes.len() - installed - removed;
    let mut parts = Vec::new();
    if changed > 0 {
        parts.push(format!("{changed} upgraded or downgraded"));
    }
    if installed > 0 {
        parts.push(format!("{installed} newly installed"));
    }
    if removed > 0 {
        parts.push(format!("{removed} removed"));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Phase;
    use crate::backend::apt::classify::classify;
    use lpa_protocol::launcher::ExecOutput;

    /// apt's classification of a change, as the apt backend passes it.
    fn apt(ev: &Evidence<'_>) -> Option<Verdict> {
        classify(Phase::Change, ev)
    }

    fn change(n: &str, f: Option<&str>, t: Option<&str>) -> PackageChange {
        PackageChange {
            name: n.into(),
            from: f.map(Into::into),
            to: t.map(Into::into),
        }
    }

    fn run(exit_code: Option<i32>, stderr: &str, stop: Option<Stop>) -> Run {
        Run {
            result: Ok(ExecOutput {
                program: "/usr/bin/apt-get".into(),
                exit_code,
                stdout: "out".into(),
                stderr: stderr.into(),
                truncated: false,
            }),
            pm_errors: Vec::new(),
            stop,
        }
    }

    #[test]
    fn summaries_count_kinds_and_quote_already_newest() {
        assert_eq!(
            summarize(
                &[
                    change("a", Some("1"), Some("2")),
                    change("b", None, Some("1")),
                    change("c", Some("1"), None)
                ],
                ""
            ),
            "1 upgraded or downgraded, 1 newly installed, 1 removed"
        );
        assert_eq!(
            summarize(
                &[],
                "Reading...\nhello is already the newest version (1.0).\n"
            ),
            "already newest: hello is already the newest version (1.0)."
        );
        assert_eq!(summarize(&[], ""), "nothing changed");
    }

    #[test]
    fn a_failure_keeps_its_changes_and_output() {
        let changes = vec![change("demo-broken", None, Some("1.0"))];
        let err = conclude(
            apt,
            &run(
                Some(100),
                "E: Sub-process /usr/bin/dpkg returned an error code (1)\n",
                None,
            ),
            changes.clone(),
            summarize,
        )
        .unwrap_err();
        let HelperError::Change(f) = err else {
            panic!("{err:?}")
        };
        assert_eq!(f.kind, FailureKind::PackageManager);
        assert_eq!(f.exit_code, Some(100));
        assert_eq!(f.changes, changes);
        assert_eq!(f.stdout, "out");
    }

    #[test]
    fn a_stopped_run_that_failed_is_cancelled_or_timed_out_but_a_finished_one_succeeds() {
        let killed = |stop| conclude(apt, &run(None, "", Some(stop)), vec![], summarize);
        assert!(matches!(
            killed(Stop::Cancel),
            Err(HelperError::Change(ChangeFailure {
                kind: FailureKind::Cancelled,
                ..
            }))
        ));
        assert!(matches!(
            killed(Stop::Abort),
            Err(HelperError::Change(ChangeFailure {
                kind: FailureKind::Timeout,
                ..
            }))
        ));
        let done = conclude(
            apt,
            &run(Some(0), "", Some(Stop::Cancel)),
            vec![],
            summarize,
        );
        assert!(done.is_ok(), "{done:?}");
    }

    #[test]
    fn a_command_the_launcher_cannot_run_is_command_not_found() {
        let r = Run {
            result: Err(LaunchError::NotAvailable("apt-get is not installed".into())),
            pm_errors: Vec::new(),
            stop: None,
        };
        let err = conclude(apt, &r, vec![], summarize).unwrap_err();
        assert!(matches!(
            err,
            HelperError::Change(ChangeFailure {
                kind: FailureKind::CommandNotFound,
                ..
            })
        ));
    }
}
