//! Progress of a package-changing apk run, from its standard output lines (apk has no status descriptor
//! the launcher could read; `--progress-fd` only carries a byte counter).
//!
//! apk prints one line per step of its plan, `(I/N) VERB NAME (VERSION)` — `Installing`, `Upgrading`,
//! `Downgrading`, `Reinstalling`, `Replacing`, `Purging`, with `(OLD -> NEW)` for version changes — then
//! the scripts it runs (`Executing NAME-VERSION.post-install`, indented by two spaces in apk 3) and a
//! summary: `OK: 50 B in 3 packages`, or `N error(s); …` when something is broken. The first step line is
//! the moment apk starts changing the root: from then on a cancel is refused ([`JobEvent::ChangesStarted`]).
//!
//! The same step lines are what `apk upgrade --simulate` prints, so [`parse_step`] also reads plans.

use lpa_protocol::JobEvent;

/// One step of apk's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// 1-based position.
    pub index: u32,
    /// Number of steps.
    pub total: u32,
    /// `Installing`, `Upgrading`, `Downgrading`, `Purging`, ….
    pub verb: String,
    /// The package.
    pub name: String,
    /// Version before, for an upgrade, downgrade or replacement; the removed version for `Purging`.
    pub from: Option<String>,
    /// Version after (`None` for a removal).
    pub to: Option<String>,
}

/// Parses `(1/2) Upgrading demo-lib (1.0-r0 -> 1.0.1-r0)`; other lines give `None`.
pub fn parse_step(line: &str) -> Option<Step> {
    let rest = line.trim().strip_prefix('(')?;
    let (counts, rest) = rest.split_once(") ")?;
    let (index, total) = counts.split_once('/')?;
    let (index, total) = (index.parse().ok()?, total.parse().ok()?);
    let (verb, rest) = rest.split_once(' ')?;
    let (name, versions) = rest.split_once(" (")?;
    let versions = versions.strip_suffix(')')?;
    let (from, to) = match versions.split_once(" -> ") {
        Some((a, b)) => (Some(a.to_owned()), Some(b.to_owned())),
        None if verb == "Purging" || verb == "Removing" => (Some(versions.to_owned()), None),
        None => (None, Some(versions.to_owned())),
    };
    Some(Step {
        index,
        total,
        verb: verb.to_owned(),
        name: name.to_owned(),
        from,
        to,
    })
}

/// The steps of a plan (`apk upgrade --simulate`), in order.
pub fn parse_plan(stdout: &str) -> Vec<Step> {
    stdout.lines().filter_map(parse_step).collect()
}

/// The error count of apk's closing summary (`1 error; 71 B in 4 packages` → 1); `OK: …` gives 0, any other
/// line `None`.
pub fn summary_errors(line: &str) -> Option<u32> {
    let line = line.trim();
    if line.starts_with("OK: ") {
        return Some(0);
    }
    let (count, rest) = line.split_once(' ')?;
    (rest.starts_with("error; ") || rest.starts_with("errors; "))
        .then(|| count.parse().ok())
        .flatten()
}

/// Turns the stdout lines of one apk run into job events.
#[derive(Debug, Default)]
pub struct ProgressTracker {
    changes_started: bool,
    percent: u8,
    errors: Vec<String>,
}

impl ProgressTracker {
    /// A tracker for one run (the same for changes and `apk update`, which prints no steps).
    pub fn new() -> ProgressTracker {
        ProgressTracker::default()
    }

    /// Whether apk has started changing the root (a step line was seen).
    pub fn changes_started(&self) -> bool {
        self.changes_started
    }

    /// apk's closing summary when it counted errors (`1 error; 0 MiB in 4 packages`). apk counts every
    /// package left broken, including ones broken by an *earlier* run, so the classification weighs this
    /// against the run's own `ERROR:` lines.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    /// The events one stdout line causes, in order.
    pub fn feed(&mut self, line: &str) -> Vec<JobEvent> {
        let mut events = Vec::new();
        let trimmed = line.trim();
        if let Some(step) = parse_step(line) {
            if !self.changes_started {
                self.changes_started = true;
                events.push(JobEvent::ChangesStarted);
            }
            let done = step.index.saturating_sub(1).min(step.total);
            let percent = (u64::from(done) * 100 / u64::from(step.total.max(1))) as u8;
            self.progress(percent, trimmed, &mut events);
        } else if trimmed.starts_with("Executing ") {
            events.push(JobEvent::Log {
                line: trimmed.to_owned(),
            });
        } else if trimmed.contains("distinct packages available") {
            // `apk update`'s summary (`OK: 7 distinct packages available`, or with unavailable/stale counts).
            events.push(JobEvent::Log {
                line: trimmed.to_owned(),
            });
            self.progress(100, trimmed, &mut events);
        } else if let Some(n) = summary_errors(trimmed) {
            if n > 0 {
                self.errors.push(trimmed.to_owned());
                events.push(JobEvent::Log {
                    line: trimmed.to_owned(),
                });
            }
            self.progress(100, trimmed, &mut events);
        } else if trimmed.starts_with("fetch ") {
            events.push(JobEvent::Log {
                line: trimmed.to_owned(),
            });
        }
        events
    }

    fn progress(&mut self, percent: u8, message: &str, events: &mut Vec<JobEvent>) {
        self.percent = percent.max(self.percent).min(100);
        events.push(JobEvent::Progress {
            percent: self.percent,
            message: message.to_owned(),
        });
    }
}

impl crate::backend::Tracker for ProgressTracker {
    fn feed(&mut self, line: &str) -> Vec<JobEvent> {
        ProgressTracker::feed(self, line)
    }

    fn errors(&self) -> &[String] {
        ProgressTracker::errors(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::apk::transcript::{VERSIONS, find};

    fn run(stdout: &str) -> (ProgressTracker, Vec<JobEvent>) {
        let mut t = ProgressTracker::new();
        let events = stdout.lines().flat_map(|l| t.feed(l)).collect();
        (t, events)
    }

    #[test]
    fn recorded_install_starts_changes_once_and_ends_at_100() {
        for v in VERSIONS {
            let rec = find(v, "add --initdb demo-hello demo-app");
            let (t, events) = run(&rec.stdout);
            assert_eq!(events[0], JobEvent::ChangesStarted, "apk {v}");
            assert_eq!(
                events
                    .iter()
                    .filter(|e| **e == JobEvent::ChangesStarted)
                    .count(),
                1
            );
            let percents: Vec<u8> = events
                .iter()
                .filter_map(|e| match e {
                    JobEvent::Progress { percent, .. } => Some(*percent),
                    _ => None,
                })
                .collect();
            assert_eq!(percents, [0, 33, 66, 100], "apk {v}");
            assert!(events.contains(&JobEvent::Progress {
                percent: 33,
                message: "(2/3) Installing demo-app (1.0-r0)".into()
            }));
            assert!(t.changes_started() && t.errors().is_empty());
        }
    }

    #[test]
    fn recorded_failing_post_install_is_logged_and_counted_in_both_apk_versions() {
        for v in VERSIONS {
            let (t, events) = run(&find(v, "add demo-broken").stdout);
            assert!(
                events.contains(&JobEvent::Log {
                    line: "Executing demo-broken-1.0-r0.post-install".into()
                }),
                "apk {v}: {events:?}"
            );
            assert_eq!(t.errors().len(), 1, "apk {v}");
            assert!(t.errors()[0].starts_with("1 error; "), "{:?}", t.errors());
        }
    }

    #[test]
    fn a_refresh_and_a_refused_change_never_start_changes() {
        for v in VERSIONS {
            let (t, events) = run(&find(v, "update").stdout);
            assert!(!t.changes_started(), "apk {v}");
            assert!(events.contains(&JobEvent::Log {
                line: "OK: 7 distinct packages available".into()
            }));
            let (t, events) = run(&find(v, "add demo-conflict").stdout);
            assert!(!t.changes_started() && events.is_empty(), "apk {v}");
        }
    }

    #[test]
    fn recorded_simulated_upgrade_is_a_plan_of_two_upgrades() {
        for v in VERSIONS {
            let plan = parse_plan(&find(v, "upgrade --simulate").stdout);
            let got: Vec<(&str, &str, Option<&str>, Option<&str>)> = plan
                .iter()
                .map(|s| {
                    (
                        s.verb.as_str(),
                        s.name.as_str(),
                        s.from.as_deref(),
                        s.to.as_deref(),
                    )
                })
                .collect();
            assert_eq!(
                got,
                [
                    ("Upgrading", "demo-lib", Some("1.0-r0"), Some("1.0.1-r0")),
                    ("Upgrading", "demo-hello", Some("1.0-r0"), Some("1.1-r0")),
                ],
                "apk {v}"
            );
        }
    }

    #[test]
    fn steps_of_every_verb_parse() {
        let purge = parse_step("(1/2) Purging demo-app (1.0-r0)").unwrap();
        assert_eq!((purge.from.as_deref(), purge.to), (Some("1.0-r0"), None));
        let down = parse_step("(1/1) Downgrading demo-hello (1.1-r0 -> 1.0-r0)").unwrap();
        assert_eq!(down.to.as_deref(), Some("1.0-r0"));
        assert_eq!(parse_step("OK: 0 MiB in 3 packages"), None);
        assert_eq!(parse_step("(x/1) Installing a (1)"), None);
        assert_eq!(summary_errors("2 errors; 1 MiB in 9 packages"), Some(2));
        assert_eq!(summary_errors("OK: 52 B in 3 packages"), Some(0));
        assert_eq!(summary_errors("Installing"), None);
    }
}
