//! apt's status channel (`APT::Status-Fd`): one line per step, `KIND:ID:PERCENT:MESSAGE`, turned into the
//! job events the frontend streams.
//!
//! The kinds are `dlstatus` (downloading; ID is the item number), `pmstatus` (dpkg at work; ID is the
//! package or `dpkg-exec`), `pmerror` (a package failed, typically its maintainer script) and `pmconffile`
//! (a configuration-file question, answered by `--force-confold`). The message may itself contain `:`.
//!
//! Progress is one monotonic bar per job: downloads fill the first [`DOWNLOAD_SHARE`] percent of a
//! package-changing run (all of it for a refresh, which only downloads), dpkg the rest. The first
//! `pmstatus` line means dpkg is running — from then on the change is not safely cancellable — and is
//! reported once as [`JobEvent::ChangesStarted`].

use lpa_protocol::JobEvent;

/// Share of the bar given to downloads in a run that also changes packages.
pub const DOWNLOAD_SHARE: f32 = 10.0;

/// One parsed status line.
#[derive(Debug, Clone, PartialEq)]
pub enum StatusLine {
    /// `dlstatus:N:PERCENT:MESSAGE`.
    Download {
        /// 0–100 of the download phase.
        percent: f32,
        /// E.g. `Retrieving file 1 of 2`.
        message: String,
    },
    /// `pmstatus:PKG:PERCENT:MESSAGE`.
    Package {
        /// 0–100 of the dpkg phase.
        percent: f32,
        /// E.g. `Unpacking hello (amd64)`.
        message: String,
    },
    /// `pmerror:PKG:PERCENT:MESSAGE`.
    Error {
        /// The package that failed.
        package: String,
        /// dpkg's reason.
        message: String,
    },
    /// `pmconffile:FILE:PERCENT:MESSAGE`.
    ConfFile {
        /// The whole line, for the log.
        line: String,
    },
}

/// Parses one line; unknown kinds and malformed lines give `None`.
pub fn parse_line(line: &str) -> Option<StatusLine> {
    let mut parts = line.splitn(4, ':');
    let (kind, id, percent, message) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let percent = percent
        .trim()
        .parse::<f32>()
        .ok()
        .filter(|p| p.is_finite())?;
    let percent = percent.clamp(0.0, 100.0);
    let message = message.trim().to_owned();
    match kind {
        "dlstatus" => Some(StatusLine::Download { percent, message }),
        "pmstatus" => Some(StatusLine::Package { percent, message }),
        "pmerror" => Some(StatusLine::Error {
            package: id.to_owned(),
            message,
        }),
        "pmconffile" => Some(StatusLine::ConfFile {
            line: line.to_owned(),
        }),
        _ => None,
    }
}

/// Turns the status lines of one run into job events.
#[derive(Debug)]
pub struct ProgressTracker {
    download_share: f32,
    changes_started: bool,
    percent: u8,
    last: Option<(u8, String)>,
    errors: Vec<String>,
}

impl ProgressTracker {
    /// For a run that changes packages (downloads take the first [`DOWNLOAD_SHARE`] percent).
    pub fn for_change() -> ProgressTracker {
        Self::with_download_share(DOWNLOAD_SHARE)
    }

    /// For `apt-get update`, which only downloads.
    pub fn for_refresh() -> ProgressTracker {
        Self::with_download_share(100.0)
    }

    fn with_download_share(download_share: f32) -> ProgressTracker {
        ProgressTracker {
            download_share,
            changes_started: false,
            percent: 0,
            last: None,
            errors: Vec::new(),
        }
    }

    /// Whether dpkg has started (a `pmstatus` line was seen).
    pub fn changes_started(&self) -> bool {
        self.changes_started
    }

    /// The `pmerror` lines seen, as `PACKAGE: MESSAGE`.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    /// The events one line causes, in order (possibly none: repeated progress is not re-sent).
    pub fn feed(&mut self, line: &str) -> Vec<JobEvent> {
        let mut events = Vec::new();
        match parse_line(line) {
            // Downloads after dpkg started (a second dpkg run's files) do not move the bar back.
            Some(StatusLine::Download { percent, message }) if !self.changes_started => {
                self.progress(percent * self.download_share / 100.0, message, &mut events);
            }
            Some(StatusLine::Package { percent, message }) => {
                if !self.changes_started {
                    self.changes_started = true;
                    events.push(JobEvent::ChangesStarted);
                }
                let share = 100.0 - self.download_share;
                self.progress(
                    self.download_share + percent * share / 100.0,
                    message,
                    &mut events,
                );
            }
            Some(StatusLine::Error { package, message }) => {
                let line = format!("{package}: {message}");
                self.errors.push(line.clone());
                events.push(JobEvent::Log { line });
            }
            Some(StatusLine::ConfFile { line }) => events.push(JobEvent::Log { line }),
            Some(StatusLine::Download { .. }) | None => {}
        }
        events
    }

    fn progress(&mut self, overall: f32, message: String, events: &mut Vec<JobEvent>) {
        // Never move backwards: apt restarts its own percentages per phase and per dpkg run.
        let percent = (overall.floor().clamp(0.0, 100.0) as u8).max(self.percent);
        self.percent = percent;
        if self.last.as_ref() != Some(&(percent, message.clone())) {
            self.last = Some((percent, message.clone()));
            events.push(JobEvent::Progress { percent, message });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::apt::recorded::Recorded;

    #[test]
    fn documented_line_kinds_parse_and_messages_keep_their_colons() {
        assert_eq!(
            parse_line("pmstatus:hello:20.0000:Unpacking hello (amd64)"),
            Some(StatusLine::Package {
                percent: 20.0,
                message: "Unpacking hello (amd64)".into()
            })
        );
        assert_eq!(
            parse_line("pmerror:demo-broken:60.0000:installed x: returned 1"),
            Some(StatusLine::Error {
                package: "demo-broken".into(),
                message: "installed x: returned 1".into()
            })
        );
        assert!(matches!(
            parse_line("dlstatus:1:100.0000:Retrieving file 1 of 1"),
            Some(StatusLine::Download { percent, .. }) if percent == 100.0
        ));
        assert_eq!(parse_line("pmstatus:x:NaN:y"), None);
        assert_eq!(parse_line("media-change:x"), None);
        assert_eq!(parse_line(""), None);
    }

    #[test]
    fn recorded_install_gives_monotonic_progress_and_one_changes_started() {
        let rec = Recorded::load("install-hello");
        let mut t = ProgressTracker::for_change();
        let events: Vec<JobEvent> = rec.status.lines().flat_map(|l| t.feed(l)).collect();
        let started: Vec<usize> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| **e == JobEvent::ChangesStarted)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(started.len(), 1, "{events:?}");
        let percents: Vec<u8> = events
            .iter()
            .filter_map(|e| match e {
                JobEvent::Progress { percent, .. } => Some(*percent),
                _ => None,
            })
            .collect();
        assert!(percents.windows(2).all(|w| w[0] <= w[1]), "{percents:?}");
        assert_eq!(percents.first(), Some(&0));
        assert_eq!(
            percents.last(),
            Some(&82),
            "80 % of dpkg's share after 10 % of downloads"
        );
        // Downloads come before ChangesStarted; dpkg's steps after.
        assert!(matches!(
            &events[started[0] - 1],
            JobEvent::Progress { percent: 10, .. }
        ));
        assert!(events.contains(&JobEvent::Progress {
            percent: 28,
            message: "Unpacking hello (amd64)".into()
        }));
        assert!(t.changes_started() && t.errors().is_empty());
    }

    #[test]
    fn recorded_failing_postinst_is_logged_and_kept() {
        let rec = Recorded::load("broken");
        let mut t = ProgressTracker::for_change();
        let events: Vec<JobEvent> = rec.status.lines().flat_map(|l| t.feed(l)).collect();
        assert_eq!(
            t.errors(),
            [
                "demo-broken: installed demo-broken package post-installation script subprocess returned error exit status 1"
            ]
        );
        assert!(
            matches!(events.last(), Some(JobEvent::Log { line }) if line.starts_with("demo-broken: "))
        );
    }

    #[test]
    fn refresh_progress_uses_the_whole_bar_and_repeats_are_not_resent() {
        let rec = Recorded::load("update-missing");
        let mut t = ProgressTracker::for_refresh();
        let events: Vec<JobEvent> = rec.status.lines().flat_map(|l| t.feed(l)).collect();
        assert!(!t.changes_started());
        assert_eq!(
            events,
            [
                JobEvent::Progress {
                    percent: 0,
                    message: "Retrieving file 1 of 1".into()
                },
                JobEvent::Progress {
                    percent: 0,
                    message: "Retrieving file 2 of 2".into()
                },
                JobEvent::Progress {
                    percent: 13,
                    message: "Retrieving file 3 of 3".into()
                },
            ]
        );
    }
}
