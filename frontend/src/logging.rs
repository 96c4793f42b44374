//! Where the daemon's log goes (binary-only module): the journal, natively, when stderr *is* the journal;
//! plain stderr otherwise.
//!
//! systemd sets `$JOURNAL_STREAM` to `DEV:INODE` of the stream it connected stdout/stderr to. Only when that
//! matches `fstat(2)` of our stderr (so the variable was not merely inherited by a process whose stderr goes
//! elsewhere) are events sent with `tracing-journald`, which keeps their level as the journal priority and
//! their fields as journal fields. Should the journal socket be unreachable, stderr is used without
//! timestamps (the journal adds its own). Everywhere else: stderr with timestamps, colours only on a terminal.
//! The journal's datagram socket is opened here, before confinement; the seccomp allowlist includes
//! `memfd_create`, with which tracing-journald hands the journal an event too large for one datagram.

use std::os::fd::AsFd;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, fmt, reload};

/// Where the log went, for the first log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    /// The journal's native protocol.
    Journald,
    /// stderr, which systemd connected to the journal, but the journal socket was unreachable.
    JournalStream,
    /// stderr.
    Stderr,
}

/// Changes the log level of the running daemon (`logging.level` on reload).
pub type SetLevel = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// Sets up logging with `level` (an env-filter directive, already validated); `RUST_LOG`, when set and
/// valid, overrides it. Returns where the log goes and the setter a configuration reload uses for
/// `logging.level` (which does nothing while `RUST_LOG` overrides the configured level).
pub fn init(level: &str) -> (LogTarget, SetLevel) {
    let from_env = EnvFilter::try_from_default_env().ok();
    let env_overrides = from_env.is_some();
    let filter = from_env.unwrap_or_else(|| {
        EnvFilter::builder()
            .parse(level)
            .unwrap_or_else(|_| EnvFilter::new("info"))
    });
    let (filter, handle) = reload::Layer::new(filter);
    let set_level: SetLevel = Box::new(move |level: &str| {
        if env_overrides {
            return Ok(());
        }
        let filter = EnvFilter::builder()
            .parse(level)
            .map_err(|e| format!("logging.level: {e}"))?;
        handle
            .reload(filter)
            .map_err(|e| format!("logging.level: {e}"))
    });
    let registry = tracing_subscriber::registry().with(filter);
    if stderr_is_journal_stream() {
        if let Ok(journald) = tracing_journald::layer() {
            registry.with(journald).init();
            return (LogTarget::Journald, set_level);
        }
        registry
            .with(
                fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(false)
                    .without_time(),
            )
            .init();
        return (LogTarget::JournalStream, set_level);
    }
    // Colours only on a terminal: log files would store the escape codes verbatim.
    registry
        .with(
            fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .init();
    (LogTarget::Stderr, set_level)
}

/// Whether `$JOURNAL_STREAM` names the file our stderr is.
fn stderr_is_journal_stream() -> bool {
    let Some(value) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(st) = nix::sys::stat::fstat(std::io::stderr().as_fd()) else {
        return false;
    };
    matches_stream(&value.to_string_lossy(), st.st_dev, st.st_ino)
}

/// `DEV:INODE` (decimal, as systemd writes it) equals `dev`/`ino`.
fn matches_stream(value: &str, dev: u64, ino: u64) -> bool {
    let Some((d, i)) = value.split_once(':') else {
        return false;
    };
    d.parse::<u64>() == Ok(dev) && i.parse::<u64>() == Ok(ino)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_exact_dev_inode_pair_matches() {
        assert!(matches_stream("64769:123456", 64769, 123456));
        assert!(!matches_stream("64769:123457", 64769, 123456));
        assert!(!matches_stream("64768:123456", 64769, 123456));
        assert!(!matches_stream("64769", 64769, 123456));
        assert!(!matches_stream("", 0, 0));
        assert!(!matches_stream("x:y", 0, 0));
    }
}
