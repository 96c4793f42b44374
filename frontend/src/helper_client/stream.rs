//! Streamed calls for operations that change the host.
//!
//! A package-changing request gets a connection of its own, opened for it and closed after it: the broker
//! streams [`JobEvent`]s for it until its one `Response`, and the job manager may send `Cancel` or `Abort`
//! for it at any moment while the events flow. Sharing that connection with other requests would make a
//! long install block every read behind it, and putting it back in the pool afterwards would gain nothing.
//!
//! Such a request is **never retried**: if the connection breaks before the answer, the request may or may
//! not have changed the host, so the error is reported and the job manager resolves the truth from the
//! package database (see `jobs::recovery`), instead of running an install twice.

use super::connection::{self, Connection, Reader, Writer};
use super::{HelperClient, HelperClientError};
use lpa_protocol::{
    ClientMessage, HelperError, JobEvent, Operation, Outcome, RequestId, ServerMessage,
};
use std::sync::Arc;

/// One message of a streamed call, in the order the broker sent them.
// Read one at a time and consumed at once; boxing the final answer would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeMessage {
    /// Progress of the running request.
    Event(JobEvent),
    /// A [`ChangeControl::cancel`] came too late: the request has started changing the host and runs to
    /// its end.
    CancelRefused,
    /// The final answer; nothing follows it.
    Finished(Result<Outcome, HelperError>),
}

/// A package-changing request in flight on its own connection.
#[derive(Debug)]
pub struct ChangeCall {
    reader: Reader,
    control: ChangeControl,
    finished: bool,
}

/// Sends `Cancel` or `Abort` for one streamed request; cheap to clone, usable while the events are read.
#[derive(Clone)]
pub struct ChangeControl {
    writer: Arc<tokio::sync::Mutex<Writer>>,
    id: RequestId,
}

impl std::fmt::Debug for ChangeControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeControl")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl HelperClient {
    /// Starts `operation` on a new connection and returns the call, whose messages are read with
    /// [`ChangeCall::next`]. Connecting and the handshake are bounded by the configured helper timeout; the
    /// call itself is not (a job has its own timeout and ends the call with [`ChangeControl::abort`]).
    pub async fn start_change(
        &self,
        operation: Operation,
    ) -> Result<ChangeCall, HelperClientError> {
        let conn = match tokio::time::timeout(self.timeout, Connection::open(&self.socket)).await {
            Ok(result) => result?,
            Err(_) => return Err(HelperClientError::Timeout(self.timeout)),
        };
        let (reader, mut writer, id) = conn.into_parts();
        connection::send(&mut writer, &ClientMessage::Request { id, operation }).await?;
        Ok(ChangeCall {
            reader,
            control: ChangeControl {
                writer: Arc::new(tokio::sync::Mutex::new(writer)),
                id,
            },
            finished: false,
        })
    }
}

impl ChangeCall {
    /// The next message. After [`ChangeMessage::Finished`] every further call is a protocol error. A
    /// closed connection before the answer is [`HelperClientError::Closed`] (the outcome is then unknown).
    pub async fn next(&mut self) -> Result<ChangeMessage, HelperClientError> {
        if self.finished {
            return Err(HelperClientError::Protocol(
                "the streamed request has already finished".into(),
            ));
        }
        let id = self.control.id;
        match connection::receive(&mut self.reader).await? {
            ServerMessage::Event { id: got, event } if got == id => Ok(ChangeMessage::Event(event)),
            ServerMessage::CancelRefused { id: got } if got == id => {
                Ok(ChangeMessage::CancelRefused)
            }
            ServerMessage::Response { id: got, result } if got == id => {
                self.finished = true;
                Ok(ChangeMessage::Finished(result))
            }
            other => Err(HelperClientError::Protocol(format!(
                "unexpected {} while streaming request {id}",
                connection::describe(&other)
            ))),
        }
    }

    /// A handle to cancel or abort this call.
    pub fn control(&self) -> ChangeControl {
        self.control.clone()
    }
}

impl ChangeControl {
    /// Asks the broker to stop the request if it has not started changing the host. The answer arrives on
    /// the call: [`ChangeMessage::CancelRefused`], or a `Finished` failure of kind `Cancelled`.
    pub async fn cancel(&self) -> Result<(), HelperClientError> {
        self.send(ClientMessage::Cancel { id: self.id }).await
    }

    /// Makes the broker stop the request even if it is changing the host (the job timed out). The call then
    /// ends with a `Finished` failure of kind `Timeout` listing what changed anyway.
    pub async fn abort(&self) -> Result<(), HelperClientError> {
        self.send(ClientMessage::Abort { id: self.id }).await
    }

    async fn send(&self, msg: ClientMessage) -> Result<(), HelperClientError> {
        let mut writer = self.writer.lock().await;
        connection::send(&mut writer, &msg).await
    }
}
