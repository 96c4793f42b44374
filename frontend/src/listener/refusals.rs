//! Refused connections, counted per source and logged in aggregate.
//!
//! Why: every whitelist refusal, failed handshake or connection over a limit used to be one log line, written
//! for peers that proved nothing: 69,235 garbage-TLS connections in 5 s wrote 12.7 MB of log, and under
//! journald such a flood trips its rate limit and drops the lines that matter. Now a source's first refusal
//! in an interval is logged at once (so a single denied peer is still visible immediately), and everything
//! else is counted and written as one summary line per source at the end of the interval. At most
//! [`MAX_SOURCES`] sources are tracked per interval (the rest are summed into one line), so a flood from any
//! number of addresses writes a bounded number of lines. Totals since start are shown by `/health`
//! (`refused_connections`).

use serde::Serialize;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the per-source summaries are written.
pub const INTERVAL: Duration = Duration::from_secs(10);
/// Sources tracked (and summary lines written) per interval; refusals from further sources are summed.
pub const MAX_SOURCES: usize = 64;

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The peer address is not in the whitelist.
    NotWhitelisted,
    /// `server.max_connections` or the unauthenticated share of it was reached.
    OverCapacity,
    /// The source already held `server.max_unauthenticated_per_source` unauthenticated connections.
    SourceLimit,
    /// The connection stayed silent, or closed before the handshake.
    Silent,
    /// The TLS handshake failed or timed out, or the certificate was unusable.
    HandshakeFailed,
}

impl Reason {
    fn index(self) -> usize {
        self as usize
    }

    fn as_str(self) -> &'static str {
        match self {
            Reason::NotWhitelisted => "not in whitelist",
            Reason::OverCapacity => "connection limit reached",
            Reason::SourceLimit => "too many unauthenticated connections from this source",
            Reason::Silent => "silent or closed before the handshake",
            Reason::HandshakeFailed => "TLS handshake failed",
        }
    }
}

const REASONS: usize = 5;

/// Counts per reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// [`Reason::NotWhitelisted`].
    pub not_whitelisted: u64,
    /// [`Reason::OverCapacity`].
    pub over_capacity: u64,
    /// [`Reason::SourceLimit`].
    pub source_limit: u64,
    /// [`Reason::Silent`].
    pub silent: u64,
    /// [`Reason::HandshakeFailed`].
    pub handshake_failed: u64,
}

impl Counts {
    fn from_array(a: [u64; REASONS]) -> Self {
        Counts {
            not_whitelisted: a[0],
            over_capacity: a[1],
            source_limit: a[2],
            silent: a[3],
            handshake_failed: a[4],
        }
    }
}

/// The non-zero counts as `reason: n`, for the text of a summary line: journald's default view shows only
/// the message, not the structured fields beside it, and an operator reading it must see what was refused.
impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let all = [
            (Reason::NotWhitelisted, self.not_whitelisted),
            (Reason::OverCapacity, self.over_capacity),
            (Reason::SourceLimit, self.source_limit),
            (Reason::Silent, self.silent),
            (Reason::HandshakeFailed, self.handshake_failed),
        ];
        let mut first = true;
        for (reason, n) in all.into_iter().filter(|(_, n)| *n > 0) {
            write!(
                f,
                "{}{}: {n}",
                if first { "" } else { ", " },
                reason.as_str()
            )?;
            first = false;
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
struct Interval {
    sources: HashMap<IpAddr, [u64; REASONS]>,
    /// Refusals of sources beyond [`MAX_SOURCES`].
    others: [u64; REASONS],
    other_sources: u64,
}

/// The counters; cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct Refusals {
    totals: Arc<[AtomicU64; REASONS]>,
    interval: Arc<Mutex<Interval>>,
}

impl Refusals {
    /// Counts one refusal of `source` for `reason`; logs it if it is the source's first in this interval.
    pub fn record(&self, source: IpAddr, reason: Reason, detail: &str) {
        self.totals[reason.index()].fetch_add(1, Ordering::Relaxed);
        let first = {
            let mut interval = self.interval.lock().unwrap_or_else(|p| p.into_inner());
            let tracked = interval.sources.len();
            match interval.sources.get_mut(&source) {
                Some(counts) => {
                    counts[reason.index()] += 1;
                    false
                }
                None if tracked < MAX_SOURCES => {
                    let mut counts = [0; REASONS];
                    counts[reason.index()] = 1;
                    interval.sources.insert(source, counts);
                    true
                }
                None => {
                    interval.others[reason.index()] += 1;
                    interval.other_sources += 1;
                    false
                }
            }
        };
        if first {
            tracing::info!(
                peer = %source,
                reason = reason.as_str(),
                detail,
                "connection refused from {source}: {} (further refusals of this source are summed every {} s)",
                reason.as_str(),
                INTERVAL.as_secs()
            );
        }
    }

    /// Totals since start.
    pub fn totals(&self) -> Counts {
        Counts::from_array(std::array::from_fn(|i| {
            self.totals[i].load(Ordering::Relaxed)
        }))
    }

    /// Writes one summary line per source that was refused more than once in the interval now ending, and
    /// one for the untracked rest, then starts a new interval.
    pub fn flush(&self) {
        let ended = std::mem::take(&mut *self.interval.lock().unwrap_or_else(|p| p.into_inner()));
        for (source, counts) in ended.sources {
            if counts.iter().sum::<u64>() > 1 {
                let c = Counts::from_array(counts);
                tracing::info!(
                    peer = %source,
                    not_whitelisted = c.not_whitelisted,
                    over_capacity = c.over_capacity,
                    source_limit = c.source_limit,
                    silent = c.silent,
                    handshake_failed = c.handshake_failed,
                    "connections refused in the last {} s from {source}: {c}",
                    INTERVAL.as_secs()
                );
            }
        }
        if ended.other_sources > 0 {
            let c = Counts::from_array(ended.others);
            tracing::info!(
                refusals = ended.other_sources,
                not_whitelisted = c.not_whitelisted,
                over_capacity = c.over_capacity,
                source_limit = c.source_limit,
                silent = c.silent,
                handshake_failed = c.handshake_failed,
                "connections refused in the last {} s from sources beyond the {MAX_SOURCES} tracked: {c}",
                INTERVAL.as_secs()
            );
        }
    }

    /// Flushes every [`INTERVAL`] until the task is dropped.
    pub async fn run(self) {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + INTERVAL, INTERVAL);
        loop {
            ticks.tick().await;
            self.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_names_each_non_zero_reason_in_its_text() {
        let c = Counts::from_array([3, 0, 2, 0, 1]);
        assert_eq!(
            c.to_string(),
            "not in whitelist: 3, too many unauthenticated connections from this source: 2, TLS handshake failed: 1"
        );
        assert_eq!(Counts::default().to_string(), "");
    }

    #[test]
    fn totals_count_everything_and_sources_beyond_the_cap_are_summed() {
        let refusals = Refusals::default();
        for i in 0..(MAX_SOURCES as u32 + 10) {
            let source = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            refusals.record(source, Reason::NotWhitelisted, "");
            refusals.record(source, Reason::HandshakeFailed, "");
        }
        let totals = refusals.totals();
        assert_eq!(totals.not_whitelisted, MAX_SOURCES as u64 + 10);
        assert_eq!(totals.handshake_failed, MAX_SOURCES as u64 + 10);
        {
            let interval = refusals.interval.lock().unwrap();
            assert_eq!(interval.sources.len(), MAX_SOURCES);
            assert_eq!(interval.other_sources, 20);
        }
        refusals.flush();
        assert!(refusals.interval.lock().unwrap().sources.is_empty());
        assert_eq!(refusals.totals(), totals, "totals survive the flush");
    }
}
