//! The accept loop: peer whitelist before TLS, a connection cap, a bounded TLS handshake, then hyper.
//!
//! Order of checks for every accepted TCP connection, each failure closing the socket without an HTTP
//! response:
//! 1. **Whitelist** on the canonical peer address. A denied peer's socket is dropped before anything is
//!    written, so it receives zero bytes (the TCP handshake itself has completed; a true silent drop needs a
//!    packet filter as a second layer).
//! 2. **Connection cap** (`server.max_connections`, a semaphore held for the connection's lifetime, including
//!    the handshake and, for an upgraded WebSocket, the whole session). Over the cap the socket is dropped the
//!    same way. Connections whose handshake has not completed may hold only three quarters of the slots
//!    together (the rest stay for authenticated clients) and at most `server.max_unauthenticated_per_source`
//!    per source address (`sources`); one that sends nothing within `server.silent_timeout_seconds` is closed.
//! 3. **TLS handshake** inside `server.handshake_timeout_seconds` (hyper does not bound it). Failures (no or
//!    bad client certificate, TLS ≤ 1.2, plain HTTP, timeout) are counted per source ([`refusals`]: the first
//!    per source and interval is logged with its reason, the rest summed in one line per interval); the
//!    client sees at most a TLS alert from rustls, never an HTTP response.
//! 4. **HTTP/1.1** with header-count, header-size and buffer limits; `server.request_timeout_seconds` bounds
//!    reading a request head, which also bounds idle keep-alive. Every connection hyper ends closes with a
//!    lingering close (`linger`), so an answer given before the request was read (413, 408, 431) reaches a
//!    client that is still sending instead of being destroyed by a TCP reset. The 431 hyper answers itself
//!    for a head beyond its buffer is enveloped on its way out (`automatic`).
//!
//! Shutdown: cancelling the token stops the accept loop, asks every connection to finish its current request
//! (hyper's graceful shutdown) and waits for the [`TaskTracker`]. hyper's own `GracefulShutdown` cannot watch
//! upgradeable connections, hence the token.

use crate::config::ServerSection;
use crate::conn::{ConnInfo, ConnectionSlot};
use crate::http::{self, AppState};
use crate::identity;
use crate::tls::SharedServerConfig;
use crate::whitelist::Whitelist;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use refusals::Reason;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

mod automatic;
mod linger;
pub mod refusals;
mod sources;
#[cfg(test)]
mod tests;

pub use linger::{LINGER_BYTES, LINGER_TIME};

/// Most header lines hyper parses (beyond, hyper answers 431 itself, enveloped on its way out by
/// `automatic`). The API's own limit is lower ([`http::MAX_HEADERS`]); this is only the parser's ceiling.
const PARSER_MAX_HEADERS: usize = 2 * http::MAX_HEADERS;
/// hyper's read buffer per connection (hyper panics below 8 KiB). Also the ceiling for a request head that
/// hyper parses at all: heads above [`http::MAX_HEAD_BYTES`] but below this get the enveloped 431.
const MAX_BUF_SIZE: usize = 64 * 1024;
/// Pause after an accept error caused by resource exhaustion, so a full fd table does not spin the loop.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Limits applied to every connection.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Time allowed for the TLS handshake.
    pub handshake_timeout: Duration,
    /// Time allowed to read a request head (and idle time between keep-alive requests).
    pub request_timeout: Duration,
    /// Unauthenticated (pre-handshake) connections one source address may hold at once.
    pub max_unauthenticated_per_source: usize,
    /// Time a new connection may stay silent (send no byte) before it is dropped.
    pub silent_timeout: Duration,
}

impl From<&ServerSection> for Limits {
    fn from(s: &ServerSection) -> Self {
        Limits {
            max_connections: s.max_connections,
            handshake_timeout: s.handshake_timeout(),
            request_timeout: s.request_timeout(),
            max_unauthenticated_per_source: s.max_unauthenticated_per_source,
            silent_timeout: Duration::from_secs(s.silent_timeout_seconds),
        }
    }
}

impl Limits {
    /// Slots connections without a completed handshake may hold together: three quarters of
    /// `max_connections` (at least one), so a quarter stays in reserve for authenticated clients.
    pub fn unauthenticated_capacity(&self) -> usize {
        (self.max_connections - self.max_connections / 4).max(1)
    }
}

/// Where the listening socket came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerSource {
    /// Passed by systemd socket activation (`LISTEN_FDS`, fd 3).
    SocketActivation,
    /// Bound by us at `server.bind:server.port`.
    Bound,
}

/// The listening socket could not be obtained.
#[derive(Debug, thiserror::Error)]
pub enum ListenerError {
    /// `LISTEN_FDS` was set but fd 3 is not a usable TCP listener.
    #[error("socket activation: fd 3 is not a usable TCP listener: {0}")]
    Activation(io::Error),
    /// Binding failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
}

/// Takes the systemd-passed listener if there is one, else binds `server.bind:server.port`.
/// Must be called inside a tokio runtime.
pub async fn open(server: &ServerSection) -> Result<(TcpListener, ListenerSource), ListenerError> {
    let mut fds = listenfd::ListenFd::from_env();
    if let Some(std_listener) = fds
        .take_tcp_listener(0)
        .map_err(ListenerError::Activation)?
    {
        std_listener
            .set_nonblocking(true)
            .map_err(ListenerError::Activation)?;
        let listener = TcpListener::from_std(std_listener).map_err(ListenerError::Activation)?;
        return Ok((listener, ListenerSource::SocketActivation));
    }
    let addr = server.socket_addr();
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ListenerError::Bind { addr, source })?;
    Ok((listener, ListenerSource::Bound))
}

/// Everything a connection needs, shared by all of them.
#[derive(Debug)]
pub struct Context {
    /// Current TLS configuration (loaded per connection, so a reload applies to the next one).
    pub tls: SharedServerConfig,
    /// Current whitelist.
    pub whitelist: Arc<Whitelist>,
    /// The API layer.
    pub state: Arc<AppState>,
    /// Per-connection limits.
    pub limits: Limits,
}

/// Serves `listener` until `shutdown` is cancelled, then waits for open connections to finish.
pub async fn serve(listener: TcpListener, ctx: Arc<Context>, shutdown: CancellationToken) {
    let tracker = TaskTracker::new();
    let summaries = tokio::spawn(ctx.state.refusals.clone().run());
    let permits = Arc::new(Semaphore::new(ctx.limits.max_connections));
    let unauthenticated = Arc::new(Semaphore::new(ctx.limits.unauthenticated_capacity()));
    let sources = sources::SourceCounts::default();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                warn!(error = %e, "accept failed");
                if is_resource_exhaustion(&e) {
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
                continue;
            }
        };
        let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
        let refusals = &ctx.state.refusals;
        if !ctx.whitelist.allows(peer.ip()) {
            // Dropping the socket unread and unwritten: the peer gets zero bytes.
            drop(tcp);
            refusals.record(peer.ip(), Reason::NotWhitelisted, "");
            continue;
        }
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            drop(tcp);
            refusals.record(peer.ip(), Reason::OverCapacity, "server.max_connections");
            continue;
        };
        let Ok(unauthenticated_permit) = unauthenticated.clone().try_acquire_owned() else {
            drop(tcp);
            refusals.record(
                peer.ip(),
                Reason::OverCapacity,
                "every slot for unauthenticated connections is taken",
            );
            continue;
        };
        let Some(source_slot) = sources.take(peer.ip(), ctx.limits.max_unauthenticated_per_source)
        else {
            drop(tcp);
            refusals.record(peer.ip(), Reason::SourceLimit, "");
            continue;
        };
        let ctx = ctx.clone();
        let token = shutdown.clone();
        tracker.spawn(async move {
            let slot = ConnectionSlot(Arc::new(permit));
            serve_connection(
                &ctx,
                tcp,
                peer,
                token,
                slot,
                (unauthenticated_permit, source_slot),
            )
            .await;
        });
    }
    summaries.abort();
    ctx.state.refusals.flush();
    debug!("accept loop stopped; waiting for open connections");
    tracker.close();
    tracker.wait().await;
    // Upgraded WebSocket connections have left hyper; they are tracked by the API state.
    ctx.state.websockets.shutdown().await;
}

fn is_resource_exhaustion(e: &io::Error) -> bool {
    use nix::libc::{EMFILE, ENFILE, ENOBUFS, ENOMEM};
    matches!(e.raw_os_error(), Some(EMFILE | ENFILE | ENOBUFS | ENOMEM))
}

/// Handshake, identity, HTTP. Returns when the connection is closed (an upgraded WebSocket session keeps
/// `slot` beyond that). `unauthenticated` is released as soon as the handshake has ended either way.
async fn serve_connection(
    ctx: &Context,
    tcp: TcpStream,
    peer: SocketAddr,
    shutdown: CancellationToken,
    slot: ConnectionSlot,
    unauthenticated: (OwnedSemaphorePermit, sources::SourceSlot),
) {
    // Responses are small JSON documents; do not let Nagle delay them behind a pending ACK.
    let _ = tcp.set_nodelay(true);
    // A client that has sent nothing within the silent timeout is not a TLS client about to speak.
    let mut first = [0u8; 1];
    let spoke = tokio::select! {
        () = shutdown.cancelled() => return,
        peeked = tokio::time::timeout(ctx.limits.silent_timeout, tcp.peek(&mut first)) => {
            matches!(peeked, Ok(Ok(n)) if n > 0)
        }
    };
    if !spoke {
        ctx.state.refusals.record(peer.ip(), Reason::Silent, "");
        return;
    }
    let acceptor = TlsAcceptor::from(ctx.tls.load_full());
    let handshake = tokio::time::timeout(ctx.limits.handshake_timeout, acceptor.accept(tcp));
    let tls = tokio::select! {
        () = shutdown.cancelled() => return,
        result = handshake => match result {
            Ok(Ok(stream)) => {
                drop(unauthenticated);
                stream
            }
            Ok(Err(e)) => {
                ctx.state.refusals.record(peer.ip(), Reason::HandshakeFailed, &e.to_string());
                return;
            }
            Err(_) => {
                ctx.state.refusals.record(peer.ip(), Reason::HandshakeFailed, "handshake timeout");
                return;
            }
        },
    };

    let (_, session) = tls.get_ref();
    // The verifier makes a client certificate mandatory, so a missing one here would be a configuration bug;
    // refuse rather than serve an anonymous client.
    let Some(cert) = session.peer_certificates().and_then(|certs| certs.first()) else {
        warn!(%peer, "TLS session without client certificate; connection closed");
        return;
    };
    let identity = match identity::client_identity(cert) {
        Ok(identity) => identity,
        Err(e) => {
            ctx.state.refusals.record(
                peer.ip(),
                Reason::HandshakeFailed,
                &format!("client certificate unusable: {e}"),
            );
            return;
        }
    };
    debug!(
        %peer,
        cn = identity.common_name.as_deref().unwrap_or(""),
        serial = %identity.serial,
        "client connected"
    );
    // Registered so that a reloaded CRL revoking this serial closes the connection (crate::reload).
    let live = ctx
        .state
        .reload
        .live
        .register(&crate::reload::live::serial_of(cert));
    let conn = Arc::new(ConnInfo {
        peer,
        identity: Arc::new(identity),
        live: live.clone(),
    });

    let state = ctx.state.clone();
    let service = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(slot.clone());
        http::handle(state.clone(), conn.clone(), req)
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(ctx.limits.request_timeout)
        .max_headers(PARSER_MAX_HEADERS)
        .max_header_size(MAX_BUF_SIZE)
        .max_buf_size(MAX_BUF_SIZE);
    let connection = builder
        .serve_connection(
            TokioIo::new(linger::Lingering::new(automatic::Enveloped::new(tls))),
            service,
        )
        .with_upgrades();
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
        () = live.revoked() => {
            // Dropping the connection closes the socket at once, mid-request or idle.
            tracing::info!(%peer, "connection closed: the reloaded CRL revokes the client certificate");
            return;
        }
    };
    if let Err(e) = result {
        debug!(%peer, error = %e, "connection ended with an error");
    }
}
