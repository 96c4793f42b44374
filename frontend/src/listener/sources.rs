//! Unauthenticated connections per source address.
//!
//! Before its TLS handshake completes a connection proves nothing about its peer except the whitelisted
//! address, yet it holds a `server.max_connections` slot. Counting these connections per source lets the
//! accept loop refuse a source that already holds `server.max_unauthenticated_per_source` of them, so one
//! whitelisted host opening hundreds of silent connections cannot take the slots every other client needs.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// The counts, shared by the accept loop and the connections' guards.
#[derive(Debug, Clone, Default)]
pub struct SourceCounts {
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One unauthenticated connection of a source; dropping it (handshake done or connection closed) frees it.
#[derive(Debug)]
pub struct SourceSlot {
    source: IpAddr,
    counts: SourceCounts,
}

impl SourceCounts {
    /// A slot for one more unauthenticated connection from `source`, or `None` when it holds `max` already.
    pub fn take(&self, source: IpAddr, max: usize) -> Option<SourceSlot> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let n = counts.entry(source).or_default();
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(SourceSlot {
            source,
            counts: self.clone(),
        })
    }

    /// Sources with at least one unauthenticated connection (for tests).
    #[cfg(test)]
    pub fn sources(&self) -> usize {
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.get_mut(&self.source) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_gets_at_most_max_slots_and_dropped_slots_are_freed() {
        let counts = SourceCounts::default();
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let first = counts.take(a, 2).unwrap();
        let _second = counts.take(a, 2).unwrap();
        assert!(counts.take(a, 2).is_none());
        let _other = counts.take(b, 2).expect("another source is not affected");
        drop(first);
        assert!(counts.take(a, 2).is_some());
        assert_eq!(counts.sources(), 2);
    }
}
