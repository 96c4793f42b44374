//! Progress of a package-changing pacman run, from its stdout lines (pacman has no status channel).
//!
//! With `LC_ALL=C`, `--noprogressbar` and no terminal, pacman prints one line per step: `Packages (N) …`
//! announces the transaction, ` NAME-VER-ARCH downloading...` each download, `:: Processing package
//! changes...` the start of the commit, then `installing|upgrading|reinstalling|downgrading|removing
//! NAME...` per package. Lines in the commit phase that are none of pacman's own are the output of a
//! package's install scriptlet (pacman prints it on stdout and logs it as `[ALPM-SCRIPTLET]`).
//!
//! The bar is monotonic: downloads fill the first [`DOWNLOAD_SHARE`] percent, package steps the rest. The
//! first line proving the system is being changed — `:: Processing package changes...` or
//! `:: Running pre-transaction hooks...` — is reported once as [`JobEvent::ChangesStarted`].

use lpa_protocol::JobEvent;

/// Share of the bar given to downloads in a run that also changes packages.
pub const DOWNLOAD_SHARE: u32 = 10;

/// pacman's per-package step verbs in the commit phase.
const STEP_VERBS: [&str; 5] = [
    "installing",
    "upgrading",
    "reinstalling",
    "downgrading",
    "removing",
];

/// One classified stdout line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<'a> {
    /// `Packages (N) …`: the transaction's size.
    Packages(u32),
    /// ` NAME downloading...`: a database or package download.
    Download(&'a str),
    /// `:: Processing package changes...` or `:: Running pre-transaction hooks...`.
    CommitStarts(&'a str),
    /// `installing NAME...` and the other step verbs: (verb, package).
    Step(&'a str, &'a str),
    /// `error: …` (when stderr is merged into the stream) or `Errors occurred, …`.
    Error(&'a str),
    /// Another `:: …` line or a pacman message (`resolving dependencies...`).
    Pacman(&'a str),
    /// Anything else: in the commit phase, scriptlet or hook output.
    Other(&'a str),
}

/// Classifies one stdout line.
pub fn classify_line(line: &str) -> Line<'_> {
    let trimmed = line.trim_end();
    if let Some(rest) = trimmed.strip_prefix("Packages (")
        && let Some((n, _)) = rest.split_once(')')
        && let Ok(n) = n.parse()
    {
        return Line::Packages(n);
    }
    if let Some(item) = trimmed
        .strip_prefix(' ')
        .and_then(|l| l.strip_suffix(" downloading..."))
    {
        return Line::Download(item.trim());
    }
    if trimmed == ":: Processing package changes..."
        || trimmed == ":: Running pre-transaction hooks..."
    {
        return Line::CommitStarts(trimmed);
    }
    if let Some((verb, rest)) = trimmed.split_once(' ')
        && STEP_VERBS.contains(&verb)
        && let Some(name) = rest.strip_suffix("...")
        && !name.contains(' ')
    {
        return Line::Step(verb, name);
    }
    if trimmed.starts_with("error: ") || trimmed.starts_with("Errors occurred") {
        return Line::Error(trimmed);
    }
    if trimmed.starts_with(":: ")
        || trimmed.starts_with("warning: ")
        || trimmed.ends_with("...")
        || trimmed.starts_with("Total ")
        || trimmed.starts_with("Net Upgrade Size")
        || trimmed.is_empty()
    {
        return Line::Pacman(trimmed);
    }
    Line::Other(trimmed)
}

/// Scriptlet output of a finished run's stdout as `PACKAGE: LINE`, attributed to the package whose step
/// preceded it.
pub fn scriptlet_lines(stdout: &str) -> Vec<String> {
    let mut t = ProgressTracker::new();
    for line in stdout.lines() {
        t.feed(line);
    }
    t.scriptlet_output
}

/// Turns the stdout lines of one run into job events.
#[derive(Debug, Default)]
pub struct ProgressTracker {
    total: u32,
    downloads: u32,
    steps: u32,
    changes_started: bool,
    percent: u8,
    current: Option<String>,
    errors: Vec<String>,
    scriptlet_output: Vec<String>,
}

impl ProgressTracker {
    /// A tracker for one run (refresh or change: a refresh only ever reaches the download share).
    pub fn new() -> ProgressTracker {
        ProgressTracker::default()
    }

    /// Whether the commit phase has begun.
    pub fn changes_started(&self) -> bool {
        self.changes_started
    }

    /// `error:` lines seen in the stream (pacman writes them to stderr; they appear here only when the
    /// launcher merges the streams) — the classifier reads stderr as well.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    /// Scriptlet output seen so far, as `PACKAGE: LINE`.
    pub fn scriptlet_output(&self) -> &[String] {
        &self.scriptlet_output
    }

    /// The events one line causes, in order (possibly none).
    pub fn feed(&mut self, line: &str) -> Vec<JobEvent> {
        let mut events = Vec::new();
        match classify_line(line) {
            Line::Packages(n) => self.total = n.max(1),
            Line::Download(item) if !self.changes_started => {
                self.downloads += 1;
                let share = match self.total {
                    0 => 0, // a database download (refresh) has no package count
                    total => DOWNLOAD_SHARE * self.downloads.min(total) / total,
                };
                self.progress(share, format!("Retrieving {item}"), &mut events);
            }
            Line::CommitStarts(text) => {
                self.start_changes(&mut events);
                events.push(JobEvent::Log {
                    line: text.to_owned(),
                });
            }
            Line::Step(verb, name) => {
                self.start_changes(&mut events);
                let total = self.total.max(self.steps + 1);
                let share = DOWNLOAD_SHARE + (100 - DOWNLOAD_SHARE) * self.steps / total;
                self.steps += 1;
                self.current = Some(name.to_owned());
                let mut message = format!("{verb} {name}");
                if let Some(first) = message.get_mut(..1) {
                    first.make_ascii_uppercase();
                }
                self.progress(share, message, &mut events);
            }
            Line::Error(text) => {
                self.errors.push(text.to_owned());
                events.push(JobEvent::Log {
                    line: text.to_owned(),
                });
            }
            Line::Other(text) if self.changes_started => {
                let line = match &self.current {
                    Some(pkg) => format!("{pkg}: {text}"),
                    None => text.to_owned(),
                };
                self.scriptlet_output.push(line.clone());
                events.push(JobEvent::Log { line });
            }
            Line::Download(_) | Line::Pacman(_) | Line::Other(_) => {}
        }
        events
    }

    fn start_changes(&mut self, events: &mut Vec<JobEvent>) {
        if !self.changes_started {
            self.changes_started = true;
            events.push(JobEvent::ChangesStarted);
        }
    }

    fn progress(&mut self, percent: u32, message: String, events: &mut Vec<JobEvent>) {
        let percent = u8::try_from(percent.min(100))
            .unwrap_or(100)
            .max(self.percent);
        self.percent = percent;
        events.push(JobEvent::Progress { percent, message });
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
    use crate::backend::pacman::recorded::Recorded;

    fn run(name: &str) -> (ProgressTracker, Vec<JobEvent>) {
        let mut t = ProgressTracker::new();
        let events = Recorded::load(name)
            .stdout
            .lines()
            .flat_map(|l| t.feed(l))
            .collect();
        (t, events)
    }

    fn percents(events: &[JobEvent]) -> Vec<u8> {
        events
            .iter()
            .filter_map(|e| match e {
                JobEvent::Progress { percent, .. } => Some(*percent),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn recorded_install_gives_monotonic_progress_and_one_changes_started_before_the_first_step() {
        let (t, events) = run("install-hello");
        let started: Vec<usize> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| **e == JobEvent::ChangesStarted)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(started.len(), 1, "{events:?}");
        let first_step = events
            .iter()
            .position(|e| matches!(e, JobEvent::Progress { message, .. } if message.starts_with("Installing")))
            .unwrap();
        assert!(started[0] < first_step);
        assert_eq!(percents(&events), [3, 6, 10, 10, 40, 70]);
        assert!(events.contains(&JobEvent::Progress {
            percent: 40,
            message: "Installing demo-lib".into()
        }));
        assert!(t.changes_started() && t.errors().is_empty() && t.scriptlet_output().is_empty());
    }

    #[test]
    fn recorded_refusals_never_start_changes() {
        for name in [
            "conflict",
            "unknown",
            "lock",
            "install-unsigned",
            "fetch-missing",
            "remove-breaks",
        ] {
            let (t, events) = run(name);
            assert!(!t.changes_started(), "{name}: {events:?}");
        }
        let (t, _) = run("fetch-missing");
        assert_eq!(t.errors(), ["Errors occurred, no packages were upgraded."]);
    }

    #[test]
    fn recorded_failing_post_install_output_is_logged_against_its_package() {
        let (t, events) = run("broken");
        assert_eq!(
            t.scriptlet_output(),
            ["demo-broken: demo-broken: failing on purpose"]
        );
        assert!(
            matches!(events.last(), Some(JobEvent::Log { line }) if line == "demo-broken: demo-broken: failing on purpose")
        );
        assert_eq!(
            scriptlet_lines(&Recorded::load("broken").stdout),
            t.scriptlet_output()
        );
    }

    #[test]
    fn recorded_upgrade_and_remove_steps_are_counted() {
        let (_, events) = run("upgrade-ignore");
        assert_eq!(percents(&events).last(), Some(&70));
        assert!(events.contains(&JobEvent::Progress {
            percent: 10,
            message: "Upgrading demo-lib".into()
        }));
        let (t, events) = run("remove-tool");
        assert!(t.changes_started());
        assert_eq!(
            percents(&events),
            [10],
            "one removal: the step starts at the download share"
        );
    }

    #[test]
    fn recorded_refresh_stays_in_the_download_share() {
        let (t, events) = run("refresh-v2");
        assert!(!t.changes_started());
        assert_eq!(
            events,
            [JobEvent::Progress {
                percent: 0,
                message: "Retrieving demo".into()
            }]
        );
    }

    #[test]
    fn merged_error_lines_are_kept() {
        let mut t = ProgressTracker::new();
        t.feed("error: command failed to execute correctly");
        assert_eq!(t.errors(), ["error: command failed to execute correctly"]);
        assert_eq!(
            classify_line("installing two words..."),
            Line::Pacman("installing two words...")
        );
    }
}
