//! One frontend connection: the Hello handshake, then requests handled concurrently and answered by id.
//!
//! Frames are read with a 64 KiB limit and written with the 32 MiB one. Any decode failure — oversized
//! frame, garbage, a value that fails validation — closes this connection (DESIGN invariant 4); other
//! connections are unaffected.

use super::dispatch::Services;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use lpa_protocol::frame::{self, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME};
use lpa_protocol::{ClientMessage, HelloAck, HelperError, PROTOCOL_VERSION, ServerMessage};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UnixStream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::codec::{FramedRead, FramedWrite};

/// How long a connection may take to say Hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests in flight per connection; the reader waits when this many are running.
const MAX_IN_FLIGHT: usize = 64;

/// Serves one admitted connection to its end. `peer` is for logs (uid, pid).
pub async fn serve(stream: UnixStream, services: Arc<Services>, peer: String) {
    let (r, w) = stream.into_split();
    let mut reader = FramedRead::new(r, frame::codec(MAX_REQUEST_FRAME));
    let mut writer = FramedWrite::new(w, frame::codec(MAX_RESPONSE_FRAME));

    let first = match tokio::time::timeout(HELLO_TIMEOUT, reader.next()).await {
        Ok(Some(Ok(b))) => frame::decode::<ClientMessage>(&b, MAX_REQUEST_FRAME),
        Ok(Some(Err(e))) => {
            tracing::warn!(%peer, error = %e, "closing: unreadable first frame");
            return;
        }
        Ok(None) => return,
        Err(_) => {
            tracing::warn!(%peer, "closing: no Hello in time");
            return;
        }
    };
    match first {
        Ok(ClientMessage::Hello(h)) if h.protocol_version == PROTOCOL_VERSION => {
            let ack = ServerMessage::HelloAck(HelloAck {
                protocol_version: PROTOCOL_VERSION,
                software_version: env!("CARGO_PKG_VERSION").to_owned(),
                backend: services.backend(),
            });
            if send(&mut writer, &ack).await.is_err() {
                return;
            }
        }
        Ok(ClientMessage::Hello(h)) => {
            tracing::warn!(%peer, theirs = h.protocol_version, ours = PROTOCOL_VERSION, "refusing: protocol version mismatch");
            let refused = ServerMessage::HelloRefused {
                protocol_version: PROTOCOL_VERSION,
                reason: format!(
                    "protocol version {} is not supported; this helper speaks {PROTOCOL_VERSION}",
                    h.protocol_version
                ),
            };
            let _ = send(&mut writer, &refused).await;
            return;
        }
        Ok(_) => {
            tracing::warn!(%peer, "closing: first message is not Hello");
            return;
        }
        Err(e) => {
            tracing::warn!(%peer, error = %e, "closing: undecodable Hello");
            return;
        }
    }

    let (tx, mut rx) = mpsc::channel::<ServerMessage>(MAX_IN_FLIGHT);
    let write_task = tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            if send(&mut writer, &msg).await.is_err() {
                break;
            }
        }
    });
    let mut tasks = JoinSet::new();
    let clean_end = loop {
        while tasks.len() >= MAX_IN_FLIGHT {
            tasks.join_next().await;
        }
        let bytes = match reader.next().await {
            None => break true,
            Some(Ok(b)) => b,
            Some(Err(e)) => {
                tracing::warn!(%peer, error = %e, "closing: bad frame");
                break false;
            }
        };
        let (id, operation) = match frame::decode::<ClientMessage>(&bytes, MAX_REQUEST_FRAME) {
            Ok(ClientMessage::Request { id, operation }) => (id, operation),
            Ok(_) => {
                tracing::warn!(%peer, "closing: unexpected message after Hello");
                break false;
            }
            Err(e) => {
                tracing::warn!(%peer, error = %e, "closing: undecodable request");
                break false;
            }
        };
        let (services, tx) = (services.clone(), tx.clone());
        tasks.spawn(async move {
            let kind = operation.kind();
            let result = services.handle(operation).await;
            if let Err(e) = &result {
                tracing::info!(id, kind, error = %e, "request failed");
            }
            let _ = tx.send(ServerMessage::Response { id, result }).await;
        });
        // Reap finished tasks so the set does not grow on a long-lived connection.
        while tasks.try_join_next().is_some() {}
    };
    if clean_end {
        // The peer finished sending; let its requests complete and be answered.
        while tasks.join_next().await.is_some() {}
        drop(tx);
        let _ = write_task.await;
    } else {
        tasks.abort_all();
        write_task.abort();
    }
}

async fn send(
    writer: &mut FramedWrite<
        tokio::net::unix::OwnedWriteHalf,
        tokio_util::codec::LengthDelimitedCodec,
    >,
    msg: &ServerMessage,
) -> Result<(), ()> {
    let payload = match frame::encode(msg, MAX_RESPONSE_FRAME) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "response does not fit in a frame");
            let ServerMessage::Response { id, .. } = msg else {
                return Err(());
            };
            let fallback = ServerMessage::Response {
                id: *id,
                result: Err(HelperError::Internal {
                    message: format!("response too large: {e}"),
                }),
            };
            frame::encode(&fallback, MAX_RESPONSE_FRAME).map_err(|_| ())?
        }
    };
    writer.send(Bytes::from(payload)).await.map_err(|_| ())
}
