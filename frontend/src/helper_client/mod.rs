//! The frontend's side of the helper socket.
//!
//! [`HelperClient`] sends one [`Operation`] at a time per connection and keeps a few idle, handshaken
//! connections for reuse. There is deliberately no background task and no "helper is down" flag: every
//! request either takes an idle connection or opens a new one, so after a helper restart the next request
//! simply reconnects, without restarting the frontend.
//!
//! A reused connection may have been closed by the helper while it sat idle (a restart, an idle timeout).
//! Such a failure before any answer arrived is retried once on a fresh connection, but only for operations
//! that read ([`is_retry_safe`]). Operations that change the host ([`Operation::changes_host`]) go through
//! [`HelperClient::start_change`] instead ([`stream`]): a dedicated connection, streamed events, cancel and
//! abort, and never an automatic retry.
//!
//! The client remembers the last answer it saw about the package database's repair state
//! ([`HelperClient::needs_repair`]): any read answered with [`HelperError::NeedsRepair`] sets it, a
//! successful `ListUpgradable` clears it. `/health` shows it without asking the broker itself.

mod connection;
#[cfg(test)]
pub(crate) mod fake_broker;
pub mod stream;
pub mod watch;

pub use stream::{ChangeCall, ChangeControl, ChangeMessage};

use connection::Connection;
use lpa_protocol::{Backend, HelperError, Operation, Outcome};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// How many idle connections are kept. Requests beyond that open short-lived connections.
const MAX_IDLE: usize = 4;

/// Why the helper could not answer. Every variant means "the helper is unavailable" to API clients;
/// a typed [`HelperError`] from a healthy helper is carried separately in [`HelperClientError::Helper`].
#[derive(Debug, thiserror::Error)]
pub enum HelperClientError {
    /// The socket could not be connected (helper not running, wrong path, permissions).
    #[error("cannot connect to the helper at {socket}: {source}")]
    Connect {
        /// The socket path.
        socket: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The helper speaks another protocol version.
    #[error(
        "the helper refused protocol version {ours} (it speaks version {theirs}): {reason}; \
         install matching frontend and helper versions"
    )]
    Refused {
        /// This frontend's protocol version.
        ours: u32,
        /// The helper's protocol version.
        theirs: u32,
        /// The helper's explanation.
        reason: String,
    },
    /// The connection was closed before the answer arrived.
    #[error("the helper closed the connection")]
    Closed,
    /// Reading or writing the socket failed.
    #[error("helper connection failed: {0}")]
    Io(std::io::Error),
    /// The helper sent something that is not a valid answer.
    #[error("helper protocol error: {0}")]
    Protocol(String),
    /// No answer within the configured time.
    #[error("the helper did not answer within {} seconds", .0.as_secs())]
    Timeout(Duration),
    /// The helper answered with a typed failure.
    #[error("{0}")]
    Helper(HelperError),
}

impl HelperClientError {
    /// True for failures of a connection that may have gone stale while idle; such a request is retried
    /// once on a fresh connection.
    fn is_stale_connection(&self) -> bool {
        matches!(self, HelperClientError::Closed | HelperClientError::Io(_))
    }
}

/// What a successful round trip reports besides the outcome.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The package manager the helper drives (from its handshake).
    pub backend: Backend,
    /// The outcome.
    pub outcome: Outcome,
}

/// Client of the helper's broker socket, shared by all requests.
pub struct HelperClient {
    socket: PathBuf,
    timeout: Duration,
    idle: Mutex<Vec<Connection>>,
    /// The broker's last word on the package database: `Some(message)` while it needs repair.
    repair: Mutex<Option<String>>,
}

impl std::fmt::Debug for HelperClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HelperClient")
            .field("socket", &self.socket)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Whether an operation may be sent a second time after a connection failed before its answer arrived:
/// only operations that read. Nothing that changes the host is ever in this list.
pub fn is_retry_safe(operation: &Operation) -> bool {
    matches!(
        operation,
        Operation::Ping
            | Operation::SystemInfo
            | Operation::ServiceStatus { .. }
            | Operation::ListInstalled
            | Operation::PackageDetail { .. }
            | Operation::ListUpgradable
            | Operation::PackageStateStamp
            | Operation::Confinement
    )
}

impl HelperClient {
    /// A client for the socket at `socket`; each request (including connecting) may take `timeout`.
    pub fn new(socket: PathBuf, timeout: Duration) -> Self {
        HelperClient {
            socket,
            timeout,
            idle: Mutex::new(Vec::new()),
            repair: Mutex::new(None),
        }
    }

    /// Runs `operation`; a typed helper failure becomes [`HelperClientError::Helper`].
    pub async fn call(&self, operation: Operation) -> Result<Outcome, HelperClientError> {
        self.call_with_backend(operation).await.map(|a| a.outcome)
    }

    /// Runs `operation` and also reports the helper's backend.
    pub async fn call_with_backend(
        &self,
        operation: Operation,
    ) -> Result<Answer, HelperClientError> {
        self.call_within(operation, self.timeout).await
    }

    /// Like [`Self::call_with_backend`] with a shorter deadline than the configured one (never longer), for
    /// callers such as the health check that must answer quickly even when the helper is stuck.
    pub async fn call_within(
        &self,
        operation: Operation,
        limit: Duration,
    ) -> Result<Answer, HelperClientError> {
        let limit = limit.min(self.timeout);
        match tokio::time::timeout(limit, self.call_inner(operation)).await {
            Ok(result) => result,
            Err(_) => Err(HelperClientError::Timeout(limit)),
        }
    }

    /// The helper's backend, from an idle connection's handshake or a new one. Used to validate names
    /// with the host's grammar before sending them.
    pub async fn backend(&self) -> Result<Backend, HelperClientError> {
        if let Some(conn) = self.take_idle() {
            let backend = conn.ack().backend;
            self.put_idle(conn);
            return Ok(backend);
        }
        let conn = match tokio::time::timeout(self.timeout, Connection::open(&self.socket)).await {
            Ok(result) => result?,
            Err(_) => return Err(HelperClientError::Timeout(self.timeout)),
        };
        let backend = conn.ack().backend;
        self.put_idle(conn);
        Ok(backend)
    }

    /// The socket this client connects to.
    pub fn socket(&self) -> &std::path::Path {
        &self.socket
    }

    /// `Some(message)` when the broker's last word was that the package database needs repair.
    pub fn needs_repair(&self) -> Option<String> {
        self.repair.lock().ok().and_then(|r| r.clone())
    }

    /// Records what an answer says about the package database's repair state.
    fn note_repair(&self, operation: &Operation, result: &Result<Outcome, HelperError>) {
        let update = match result {
            Err(HelperError::NeedsRepair { message }) => Some(Some(message.clone())),
            Ok(_) if matches!(operation, Operation::ListUpgradable) => Some(None),
            _ => None,
        };
        if let Some(update) = update
            && let Ok(mut repair) = self.repair.lock()
        {
            *repair = update;
        }
    }

    async fn call_inner(&self, operation: Operation) -> Result<Answer, HelperClientError> {
        if let Some(mut conn) = self.take_idle() {
            match conn.exchange(operation.clone()).await {
                Ok(result) => {
                    self.note_repair(&operation, &result);
                    return self.finish(conn, result);
                }
                Err(e) if e.is_stale_connection() && is_retry_safe(&operation) => {
                    tracing::debug!(error = %e, "idle helper connection was stale; reconnecting");
                }
                Err(e) => return Err(e),
            }
        }
        let mut conn = Connection::open(&self.socket).await?;
        let result = conn.exchange(operation.clone()).await?;
        self.note_repair(&operation, &result);
        self.finish(conn, result)
    }

    fn finish(
        &self,
        conn: Connection,
        result: Result<Outcome, HelperError>,
    ) -> Result<Answer, HelperClientError> {
        let backend = conn.ack().backend;
        // A typed failure is a normal answer: the connection is still in a known state.
        self.put_idle(conn);
        result
            .map(|outcome| Answer { backend, outcome })
            .map_err(HelperClientError::Helper)
    }

    fn take_idle(&self) -> Option<Connection> {
        self.idle.lock().ok().and_then(|mut idle| idle.pop())
    }

    fn put_idle(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(conn);
        }
    }

    /// Number of idle connections (for tests and diagnostics).
    pub fn idle_connections(&self) -> usize {
        self.idle.lock().map(|idle| idle.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests;
