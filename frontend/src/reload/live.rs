//! The registry of live client connections by certificate serial, so that a CRL revoking a serial can close
//! that client's open connections and WebSockets (a handshake-time check alone leaves them running).
//!
//! Each connection registers after its handshake and holds the returned [`LiveEntry`] in its
//! [`crate::conn::ConnInfo`]; a WebSocket session keeps a clone, so the entry lives as long as the HTTP
//! connection *or* the upgraded session does, and leaves the registry when the last holder drops it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tokio_util::sync::CancellationToken;

type Table = Mutex<HashMap<u64, (Vec<u8>, CancellationToken)>>;

/// Live connections, keyed by an internal id, each with its client certificate serial.
#[derive(Debug, Default)]
pub struct LiveConnections {
    next: AtomicU64,
    table: Arc<Table>,
}

impl LiveConnections {
    /// Registers a connection whose client certificate has `serial` (raw big-endian bytes).
    pub fn register(&self, serial: &[u8]) -> Arc<LiveEntry> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let token = CancellationToken::new();
        self.lock()
            .insert(id, (normalise(serial).to_vec(), token.clone()));
        Arc::new(LiveEntry {
            id,
            token,
            table: Arc::downgrade(&self.table),
        })
    }

    /// Closes every live connection whose serial is in `revoked` (normalised raw serials); returns how many.
    pub fn close_revoked(&self, revoked: &HashSet<Vec<u8>>) -> usize {
        let table = self.lock();
        let mut closed = 0;
        for (serial, token) in table.values() {
            if revoked.contains(serial) && !token.is_cancelled() {
                token.cancel();
                closed += 1;
            }
        }
        closed
    }

    /// Number of registered connections (HTTP connections plus WebSocket sessions outliving theirs).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no connection is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (Vec<u8>, CancellationToken)>> {
        // A panic while holding this lock cannot leave the map inconsistent (single inserts/removes).
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One registered connection. Dropping the last clone removes it from the registry.
#[derive(Debug)]
pub struct LiveEntry {
    id: u64,
    token: CancellationToken,
    table: Weak<Table>,
}

impl LiveEntry {
    /// An entry outside any registry (never closed by revocation): for connections built by unit tests.
    pub fn detached() -> Arc<LiveEntry> {
        Arc::new(LiveEntry {
            id: 0,
            token: CancellationToken::new(),
            table: Weak::new(),
        })
    }

    /// Completes when the connection must close because its certificate was revoked.
    pub async fn revoked(&self) {
        self.token.cancelled().await;
    }

    /// Whether the connection's certificate has been revoked.
    pub fn is_revoked(&self) -> bool {
        self.token.is_cancelled()
    }
}

impl Drop for LiveEntry {
    fn drop(&mut self) {
        if let Some(table) = self.table.upgrade() {
            table
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&self.id);
        }
    }
}

/// The raw serial of a (verified) DER certificate, normalised; empty when it cannot be parsed (such a
/// certificate never passed the verifier).
pub fn serial_of(cert: &[u8]) -> Vec<u8> {
    use x509_parser::prelude::FromDer;
    x509_parser::certificate::X509Certificate::from_der(cert)
        .map(|(_, x509)| normalise(x509.raw_serial()).to_vec())
        .unwrap_or_default()
}

/// A serial without DER's leading zero padding, so a certificate's and a CRL entry's bytes compare equal.
pub fn normalise(serial: &[u8]) -> &[u8] {
    let start = serial
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(serial.len().saturating_sub(1));
    &serial[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoking_a_serial_closes_only_its_connections_and_drop_unregisters() {
        let live = LiveConnections::default();
        let a = live.register(&[0x00, 0x8a, 0x01]);
        let a2 = live.register(&[0x8a, 0x01]);
        let b = live.register(&[0x42]);
        assert_eq!(live.len(), 3);
        let revoked: HashSet<Vec<u8>> = [vec![0x8a, 0x01]].into_iter().collect();
        assert_eq!(live.close_revoked(&revoked), 2);
        assert!(a.is_revoked() && a2.is_revoked());
        assert!(!b.is_revoked());
        drop(a);
        assert_eq!(live.len(), 2);
        let detached = LiveEntry::detached();
        drop(detached);
        assert_eq!(live.len(), 2);
    }
}
