//! One connection to the broker: the `Hello` handshake, then requests answered by id.
//!
//! The connection carries one request at a time. That keeps matching trivial (the next response must carry
//! the id just sent) and makes a timed-out or confused connection easy to get rid of: it is dropped, never
//! put back in the pool, so no late answer can ever be mistaken for the answer to a later request.

use super::HelperClientError;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use lpa_protocol::frame::{self, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME};
use lpa_protocol::{
    ClientMessage, Hello, HelloAck, HelperError, Operation, Outcome, RequestId, ServerMessage,
};
use std::path::Path;
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio_util::codec::{FramedRead, FramedWrite, LengthDelimitedCodec};

/// An open, handshaken connection to the broker.
pub(crate) struct Connection {
    reader: FramedRead<OwnedReadHalf, LengthDelimitedCodec>,
    writer: FramedWrite<OwnedWriteHalf, LengthDelimitedCodec>,
    ack: HelloAck,
    next_id: RequestId,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("ack", &self.ack)
            .field("next_id", &self.next_id)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Connects to `socket` and performs the handshake.
    pub(crate) async fn open(socket: &Path) -> Result<Self, HelperClientError> {
        let stream =
            UnixStream::connect(socket)
                .await
                .map_err(|source| HelperClientError::Connect {
                    socket: socket.display().to_string(),
                    source,
                })?;
        let (read, write) = stream.into_split();
        // Asymmetric limits: the broker answers with package lists, we only send small requests.
        let mut reader = FramedRead::new(read, frame::codec(MAX_RESPONSE_FRAME));
        let mut writer = FramedWrite::new(write, frame::codec(MAX_REQUEST_FRAME));
        send(&mut writer, &ClientMessage::Hello(Hello::current())).await?;
        match receive(&mut reader).await? {
            ServerMessage::HelloAck(ack) => Ok(Connection {
                reader,
                writer,
                ack,
                next_id: 1,
            }),
            ServerMessage::HelloRefused {
                protocol_version,
                reason,
            } => Err(HelperClientError::Refused {
                ours: lpa_protocol::PROTOCOL_VERSION,
                theirs: protocol_version,
                reason,
            }),
            other => Err(HelperClientError::Protocol(format!(
                "expected a hello answer, got {}",
                describe(&other)
            ))),
        }
    }

    /// What the broker said in its handshake.
    pub(crate) fn ack(&self) -> &HelloAck {
        &self.ack
    }

    /// Gives up the connection for a streamed request: its read half, its write half and the next free id.
    /// The connection is never returned to the pool afterwards (see [`super::stream`]).
    pub(crate) fn into_parts(self) -> (Reader, Writer, RequestId) {
        (self.reader, self.writer, self.next_id)
    }

    /// Sends one operation and waits for its answer.
    pub(crate) async fn exchange(
        &mut self,
        operation: Operation,
    ) -> Result<Result<Outcome, HelperError>, HelperClientError> {
        let id = self.next_id;
        self.next_id += 1;
        send(&mut self.writer, &ClientMessage::Request { id, operation }).await?;
        match receive(&mut self.reader).await? {
            ServerMessage::Response { id: got, result } if got == id => Ok(result),
            ServerMessage::Response { id: got, .. } => Err(HelperClientError::Protocol(format!(
                "answer for request {got} while waiting for request {id}"
            ))),
            other => Err(HelperClientError::Protocol(format!(
                "expected a response, got {}",
                describe(&other)
            ))),
        }
    }
}

/// The read half of a connection, decoding frames of at most [`MAX_RESPONSE_FRAME`] bytes.
pub(crate) type Reader = FramedRead<OwnedReadHalf, LengthDelimitedCodec>;
/// The write half of a connection, encoding frames of at most [`MAX_REQUEST_FRAME`] bytes.
pub(crate) type Writer = FramedWrite<OwnedWriteHalf, LengthDelimitedCodec>;

pub(crate) async fn send(
    writer: &mut FramedWrite<OwnedWriteHalf, LengthDelimitedCodec>,
    msg: &ClientMessage,
) -> Result<(), HelperClientError> {
    let payload = frame::encode(msg, MAX_REQUEST_FRAME)
        .map_err(|e| HelperClientError::Protocol(format!("cannot encode request: {e}")))?;
    writer
        .send(Bytes::from(payload))
        .await
        .map_err(HelperClientError::Io)
}

pub(crate) async fn receive(
    reader: &mut FramedRead<OwnedReadHalf, LengthDelimitedCodec>,
) -> Result<ServerMessage, HelperClientError> {
    match reader.next().await {
        None => Err(HelperClientError::Closed),
        Some(Err(e)) => Err(HelperClientError::Io(e)),
        Some(Ok(bytes)) => frame::decode(&bytes, MAX_RESPONSE_FRAME)
            .map_err(|e| HelperClientError::Protocol(e.to_string())),
    }
}

pub(crate) fn describe(msg: &ServerMessage) -> &'static str {
    match msg {
        ServerMessage::Event { .. } => "a job event",
        ServerMessage::CancelRefused { .. } => "a cancel refusal",
        ServerMessage::HelloAck(_) => "a hello acknowledgement",
        ServerMessage::HelloRefused { .. } => "a hello refusal",
        ServerMessage::Response { .. } => "a response",
        _ => "an unknown message",
    }
}
