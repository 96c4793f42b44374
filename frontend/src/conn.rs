//! What the frontend knows about one accepted connection, handed to every request on it.
//!
//! Built once per connection by the listener after the TLS handshake, shared by `Arc`, and inserted into
//! each request's extensions so handlers and the audit log see the same identity.

use std::net::SocketAddr;
use std::sync::Arc;

/// The verified client certificate's identity. Parsed only after rustls has verified the chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientIdentity {
    /// Subject common name, if any.
    pub common_name: Option<String>,
    /// Subject alternative names, rendered as `DNS:…`, `IP:…`, `URI:…`, `email:…`.
    pub sans: Vec<String>,
    /// Serial number as colon-separated hex.
    pub serial: String,
    /// SHA-256 of the DER certificate, lowercase hex.
    pub fingerprint_sha256: String,
}

/// Per-connection facts.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// The TCP peer (IPv4-mapped IPv6 already canonicalised to IPv4).
    pub peer: SocketAddr,
    /// The client certificate's identity.
    pub identity: Arc<ClientIdentity>,
    /// This connection's entry in the live-connection registry: completes when a reloaded CRL revokes the
    /// client's certificate. A WebSocket session keeps a clone so it is closed too.
    pub live: Arc<crate::reload::live::LiveEntry>,
}

/// The connection's `server.max_connections` slot, put into every request's extensions by the listener. An
/// upgraded WebSocket session takes a clone along, so the slot stays taken while the session lives (hyper is
/// done with the connection at the upgrade, which used to free it).
#[derive(Debug, Clone)]
pub struct ConnectionSlot(pub Arc<tokio::sync::OwnedSemaphorePermit>);
