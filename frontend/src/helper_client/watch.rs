//! A dedicated connection that watches the broker's liveness.
//!
//! The pool ([`super::HelperClient`]) learns of a dead broker only when the next request fails. The health
//! state ([`crate::api::health_state`]) must know sooner: a dead helper shows in `/health` within one second.
//! This connection stays open for the frontend's lifetime and is read continuously between pings, so the
//! kernel's end-of-file on the broker's exit is seen at once; a periodic `Ping` with a short deadline catches
//! a broker that is alive but stuck (stopped, deadlocked), which never closes its socket.
//!
//! The broker never speaks unprompted on a connection, so anything read outside an exchange (a frame or the
//! end of the stream) means the connection is no longer usable.

use super::HelperClientError;
use super::connection::{self, Connection, Reader, Writer};
use lpa_protocol::{Backend, ClientMessage, Operation, Outcome, RequestId, ServerMessage};
use std::path::Path;
use std::time::Duration;

/// An open, handshaken liveness connection.
pub struct Watch {
    reader: Reader,
    writer: Writer,
    next_id: RequestId,
    backend: Backend,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Watch {
    /// Connects to `socket` and handshakes, within `limit` (a stopped broker accepts the connection in the
    /// kernel but never answers the handshake).
    pub async fn open(socket: &Path, limit: Duration) -> Result<Self, HelperClientError> {
        let conn = match tokio::time::timeout(limit, Connection::open(socket)).await {
            Ok(result) => result?,
            Err(_) => return Err(HelperClientError::Timeout(limit)),
        };
        let backend = conn.ack().backend;
        let (reader, writer, next_id) = conn.into_parts();
        Ok(Watch {
            reader,
            writer,
            next_id,
            backend,
        })
    }

    /// The package manager the broker drives (from its handshake).
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Waits `interval` while watching for the broker closing the connection (an error at once; reading a
    /// frame is cancel-safe, so the wait ending first loses nothing), then pings
    /// and waits at most `limit` for the answer.
    pub async fn beat(
        &mut self,
        interval: Duration,
        limit: Duration,
    ) -> Result<(), HelperClientError> {
        tokio::select! {
            unprompted = connection::receive(&mut self.reader) => {
                return Err(match unprompted {
                    Err(e) => e,
                    Ok(msg) => HelperClientError::Protocol(format!(
                        "unprompted {} on the liveness connection",
                        connection::describe(&msg)
                    )),
                });
            }
            () = tokio::time::sleep(interval) => {}
        }
        let id = self.next_id;
        self.next_id += 1;
        let exchange = async {
            connection::send(
                &mut self.writer,
                &ClientMessage::Request {
                    id,
                    operation: Operation::Ping,
                },
            )
            .await?;
            connection::receive(&mut self.reader).await
        };
        match tokio::time::timeout(limit, exchange).await {
            Err(_) => Err(HelperClientError::Timeout(limit)),
            Ok(Err(e)) => Err(e),
            Ok(Ok(ServerMessage::Response {
                id: got,
                result: Ok(Outcome::Pong),
            })) if got == id => Ok(()),
            Ok(Ok(ServerMessage::Response { result: Err(e), .. })) => {
                Err(HelperClientError::Helper(e))
            }
            Ok(Ok(other)) => Err(HelperClientError::Protocol(format!(
                "expected the answer to a ping, got {}",
                connection::describe(&other)
            ))),
        }
    }
}
