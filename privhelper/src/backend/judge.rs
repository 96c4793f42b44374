//! The vocabulary every backend's failure classification speaks: which run is judged, what it left behind,
//! and the verdict. Each backend's `classify` reads its own package manager's structured output.

use lpa_protocol::FailureKind;
use lpa_protocol::launcher::ExecOutput;

/// Which run is being judged: a refresh failure is always `CACHE_REFRESH_ERROR` (the frontend's cache
/// state and patch jobs depend on exactly that), with the cause in the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Refreshing the repository metadata (`apt-get update`, `dnf makecache`, a pacman sync, `apk update`).
    Refresh,
    /// Installing, upgrading or removing packages.
    Change,
}

/// What a run left behind.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// Exit code; `None` when killed by a signal.
    pub exit_code: Option<i32>,
    /// Standard output.
    pub stdout: &'a str,
    /// Standard error.
    pub stderr: &'a str,
    /// Structured error lines the backend's tracker collected while the run streamed (apt: `pmerror`
    /// lines as `PACKAGE: MESSAGE`; others: failed-scriptlet lines), because some package managers exit 0
    /// when a package's script failed.
    pub pm_errors: &'a [String],
}

impl<'a> Evidence<'a> {
    /// What the finished run `out` left, with the structured error lines its tracker collected.
    pub fn of(out: &'a ExecOutput, pm_errors: &'a [String]) -> Evidence<'a> {
        Evidence {
            exit_code: out.exit_code,
            stdout: &out.stdout,
            stderr: &out.stderr,
            pm_errors,
        }
    }
}

/// A failure: its kind and the message for the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The kind.
    pub kind: FailureKind,
    /// Human-readable reason, quoting the package manager.
    pub message: String,
}
