//! dnf's transaction output on stdout, turned into job events.
//!
//! dnf prints, in order: the resolved transaction table, `Downloading Packages:`, `Running transaction
//! check`, `Running transaction test`, then `Running transaction` — from that line on rpm changes the
//! system, so it is reported once as [`JobEvent::ChangesStarted`] (a cancel is refused from then). During
//! the transaction each step is a line `  ACTION : NEVRA  N/M` (`Installing`, `Upgrading`, `Cleanup`,
//! `Running scriptlet`, `Verifying`, …): the actions fill the bar to 90 %, `Verifying` the rest.
//!
//! A failing scriptlet does not fail dnf (exit code 0, gotcha D4); rpm says so on stdout as
//! `warning: %post(demo-broken-1.0-1.noarch) scriptlet failed, exit status 1` (`error:` for the scriptlets
//! that abort the package, `%pre`/`%preun`). Those lines are collected as [`ProgressTracker::errors`].

use lpa_protocol::JobEvent;

/// Share of the bar for the transaction's actions; `Verifying` fills the rest.
const ACTION_SHARE: u32 = 90;

/// Turns dnf's stdout lines into job events.
#[derive(Debug, Default)]
pub struct ProgressTracker {
    changes_started: bool,
    percent: u8,
    errors: Vec<String>,
}

/// A transaction step: `(action, what, n, m)`.
fn step(line: &str) -> Option<(&str, &str, u32, u32)> {
    let (action, rest) = line
        .trim()
        .split_once(" : ")
        .or_else(|| line.trim().split_once(": "))?;
    let (what, count) = rest.trim().rsplit_once(' ')?;
    let (n, m) = count.split_once('/')?;
    let (n, m): (u32, u32) = (n.parse().ok()?, m.parse().ok()?);
    if m == 0 || n > m {
        return None;
    }
    Some((action.trim(), what.trim(), n, m))
}

/// Whether `line` is rpm's report of a failed scriptlet.
pub fn is_scriptlet_failure(line: &str) -> bool {
    let l = line.trim();
    (l.starts_with("warning: %") || l.starts_with("error: %")) && l.contains(") scriptlet failed")
}

impl ProgressTracker {
    /// A tracker for one run.
    pub fn new() -> ProgressTracker {
        ProgressTracker::default()
    }

    /// Whether `Running transaction` was seen.
    pub fn changes_started(&self) -> bool {
        self.changes_started
    }

    /// The failed-scriptlet lines seen.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    /// The events one line causes, in order (possibly none).
    pub fn feed(&mut self, line: &str) -> Vec<JobEvent> {
        let mut events = Vec::new();
        let trimmed = line.trim();
        if trimmed == "Running transaction" && !self.changes_started {
            self.changes_started = true;
            events.push(JobEvent::ChangesStarted);
            return events;
        }
        if is_scriptlet_failure(trimmed) {
            self.errors.push(trimmed.to_owned());
            events.push(JobEvent::Log {
                line: trimmed.to_owned(),
            });
            return events;
        }
        if !self.changes_started {
            return events;
        }
        if let Some((action, what, n, m)) = step(trimmed) {
            let overall = if action == "Verifying" {
                ACTION_SHARE + n * (100 - ACTION_SHARE) / m
            } else {
                n * ACTION_SHARE / m
            };
            let percent = u8::try_from(overall.min(100))
                .unwrap_or(100)
                .max(self.percent);
            self.percent = percent;
            let message = if what.is_empty() {
                action.to_owned()
            } else {
                format!("{action} {what}")
            };
            events.push(JobEvent::Progress { percent, message });
        } else if trimmed.starts_with("error:") || trimmed.starts_with("warning:") {
            events.push(JobEvent::Log {
                line: trimmed.to_owned(),
            });
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::dnf::recorded::Recorded;

    fn run(name: &str) -> (ProgressTracker, Vec<JobEvent>) {
        let mut t = ProgressTracker::new();
        let events = Recorded::load(name)
            .stdout
            .lines()
            .flat_map(|l| t.feed(l))
            .collect();
        (t, events)
    }

    #[test]
    fn recorded_upgrade_starts_changes_once_and_progress_only_rises_to_100() {
        let (t, events) = run("upgrade-all");
        assert!(t.changes_started() && t.errors().is_empty());
        assert_eq!(
            events
                .iter()
                .filter(|e| **e == JobEvent::ChangesStarted)
                .count(),
            1
        );
        assert_eq!(events[0], JobEvent::ChangesStarted);
        let percents: Vec<u8> = events
            .iter()
            .filter_map(|e| match e {
                JobEvent::Progress { percent, .. } => Some(*percent),
                _ => None,
            })
            .collect();
        assert!(percents.windows(2).all(|w| w[0] <= w[1]), "{percents:?}");
        assert_eq!(percents.last(), Some(&100));
        assert!(
            events
                .iter()
                .any(|e| matches!(e, JobEvent::Progress { message, .. }
            if message == "Upgrading demo-lib-1.0.1-1.noarch")),
            "{events:?}"
        );
    }

    #[test]
    fn recorded_failing_post_is_an_error_line_although_dnf_exits_zero() {
        let rec = Recorded::load("broken");
        assert_eq!(rec.rc, 0);
        let (t, events) = run("broken");
        assert_eq!(
            t.errors(),
            ["warning: %post(demo-broken-1.0-1.noarch) scriptlet failed, exit status 1"]
        );
        assert!(
            events
                .iter()
                .any(|e| matches!(e, JobEvent::Log { line } if line.contains("%post")))
        );
    }

    #[test]
    fn recorded_runs_that_fail_before_the_transaction_never_start_changes() {
        for name in ["conflict", "unknown", "lock", "unsigned"] {
            let (t, events) = run(name);
            assert!(!t.changes_started(), "{name}");
            assert!(events.is_empty(), "{name}: {events:?}");
        }
    }
}
