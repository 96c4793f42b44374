//! How `linux-patch-ctl watch` shows a job: a redrawn progress bar on a terminal, one line per change
//! otherwise (logs, CI, pipes), so the same command is pleasant interactively and greppable in scripts.

use crate::wait::JobProgress;

/// Width of the bar in cells.
const BAR_WIDTH: usize = 30;
/// Longest message shown on the bar line, so the line does not wrap on a narrow terminal.
const MAX_BAR_MESSAGE: usize = 60;

/// Output style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Redraw one line with `\r` (stdout is a terminal).
    Bar,
    /// One line per distinct state.
    Plain,
}

/// Turns successive [`JobProgress`] states into text to print, dropping repeats.
#[derive(Debug)]
pub struct Renderer {
    style: Style,
    last: Option<JobProgress>,
    /// Width of the bar line last drawn, to blank its leftovers.
    drawn: usize,
}

impl Renderer {
    /// A renderer of the given style.
    pub fn new(style: Style) -> Self {
        Renderer {
            style,
            last: None,
            drawn: 0,
        }
    }

    /// The text to write for `state` (empty when nothing changed). Plain lines end in `\n`; bar updates
    /// start with `\r` and end in `\n` only once the job has ended.
    pub fn render(&mut self, state: &JobProgress) -> String {
        if self.last.as_ref() == Some(state) {
            return String::new();
        }
        self.last = Some(state.clone());
        match self.style {
            Style::Plain => format!("{}\n", plain_line(state)),
            Style::Bar => {
                let line = bar_line(state);
                let width = line.chars().count();
                let pad = " ".repeat(self.drawn.saturating_sub(width));
                self.drawn = width;
                let end = if state.is_terminal() { "\n" } else { "" };
                format!("\r{line}{pad}{end}")
            }
        }
    }
}

/// `[running  45%] Unpacking hello` / `[failed 100%] PKG_NOT_FOUND: …`.
pub fn plain_line(state: &JobProgress) -> String {
    let mut line = format!("[{} {:>3}%]", state.status, state.progress);
    if let Some(code) = &state.error_code {
        line.push(' ');
        line.push_str(code);
        line.push(':');
    }
    if !state.message.is_empty() {
        line.push(' ');
        line.push_str(&state.message);
    }
    line
}

fn bar_line(state: &JobProgress) -> String {
    let filled = usize::from(state.progress.min(100)) * BAR_WIDTH / 100;
    let message: String = state.message.chars().take(MAX_BAR_MESSAGE).collect();
    let code = state
        .error_code
        .as_deref()
        .map(|c| format!(" {c}:"))
        .unwrap_or_default();
    format!(
        "[{}{}] {:>3}% {}{code} {message}",
        "#".repeat(filled),
        "-".repeat(BAR_WIDTH - filled),
        state.progress,
        state.status,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(status: &str, progress: u8, message: &str, code: Option<&str>) -> JobProgress {
        JobProgress {
            status: status.into(),
            progress,
            message: message.into(),
            error_code: code.map(str::to_owned),
        }
    }

    #[test]
    fn plain_mode_prints_one_line_per_distinct_state() {
        let mut r = Renderer::new(Style::Plain);
        let mut out = String::new();
        for s in [
            state("pending", 0, "queued", None),
            state("pending", 0, "queued", None),
            state("running", 45, "Unpacking hello", None),
            state("running", 45, "Unpacking hello", None),
            state(
                "failed",
                100,
                "postinst exited 1",
                Some("PKG_MANAGER_ERROR"),
            ),
        ] {
            out.push_str(&r.render(&s));
        }
        assert_eq!(
            out,
            "[pending   0%] queued\n[running  45%] Unpacking hello\n[failed 100%] PKG_MANAGER_ERROR: postinst exited 1\n"
        );
    }

    #[test]
    fn bar_mode_redraws_one_line_and_ends_it_when_the_job_ends() {
        let mut r = Renderer::new(Style::Bar);
        let first = r.render(&state("running", 50, "Unpacking a long package name", None));
        assert!(
            first.starts_with('\r') && !first.ends_with('\n'),
            "{first:?}"
        );
        assert!(first.contains(&format!("[{}{}]", "#".repeat(15), "-".repeat(15))));
        assert!(first.contains(" 50% running Unpacking"));
        let last = r.render(&state("completed", 100, "done", None));
        assert!(last.ends_with('\n'), "{last:?}");
        assert!(last.contains(&"#".repeat(30)));
        // The shorter last line blanks what is left of the longer first one.
        assert!(last.trim_end_matches('\n').chars().count() >= first.chars().count());
    }
}
