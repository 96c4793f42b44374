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
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

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

/// Sets up logging with `level` (an env-filter directive, already validated); `RUST_LOG`, when set and
/// valid, overrides it.
pub fn init(level: &str) -> LogTarget {
    let filter = || {
        EnvFilter::try_from_default_env()
            .or_else(|_| EnvFilter::builder().parse(level))
            .unwrap_or_else(|_| EnvFilter::new("info"))
    };
    if stderr_is_journal_stream() {
        if let Ok(journald) = tracing_journald::layer() {
            tracing_subscriber::registry()
                .with(filter())
                .with(journald)
                .init();
            return LogTarget::Journald;
        }
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .without_time()
            .with_env_filter(filter())
            .init();
        return LogTarget::JournalStream;
    }
    // Colours only on a terminal: log files would store the escape codes verbatim.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(filter())
        .init();
    LogTarget::Stderr
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
