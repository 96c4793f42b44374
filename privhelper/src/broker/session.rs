//! One frontend connection: the Hello handshake, then requests handled concurrently and answered by id.
//!
//! Frames are read with a 64 KiB limit and written with the 32 MiB one. Any decode failure — oversized
//! frame, garbage, a value that fails validation — closes this connection (DESIGN invariant 4); other
//! connections are unaffected.
//!
//! A package-changing request runs as its own task, outside the connection's task set: if the connection
//! closes or fails while the change runs, the change still runs to its end (a dropped socket must never
//! leave dpkg half-done); only its events and response are lost, which is logged. `Cancel` and `Abort`
//! name a request of the same connection.

use super::change::RequestCtx;
use super::control::{Control, Stop};
use super::dispatch::Services;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use lpa_protocol::frame::{self, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME};
use lpa_protocol::{
    ClientMessage, HelloAck, HelperError, Operation, PROTOCOL_VERSION, RequestId, ServerMessage,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
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
    let mut changes: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    let controls: Controls = Arc::default();
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
            Ok(ClientMessage::Cancel { id }) => {
                stop(&services, &controls, id, Stop::Cancel, &tx, &peer).await;
                continue;
            }
            Ok(ClientMessage::Abort { id }) => {
                stop(&services, &controls, id, Stop::Abort, &tx, &peer).await;
                continue;
            }
            Ok(_) => {
                tracing::warn!(%peer, "closing: unexpected message after Hello");
                break false;
            }
            Err(e) => {
                tracing::warn!(%peer, error = %e, "closing: undecodable request");
                break false;
            }
        };
        if operation.changes_host() {
            changes.retain(|h| !h.is_finished());
            changes.push(spawn_change(
                id,
                operation,
                services.clone(),
                controls.clone(),
                tx.clone(),
                peer.clone(),
            ));
            continue;
        }
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
        for change in changes {
            let _ = change.await;
        }
        drop(tx);
        let _ = write_task.await;
    } else {
        // Reads are abandoned; changes keep running on their own (see the module documentation).
        tasks.abort_all();
        write_task.abort();
    }
}

/// The control blocks of this connection's running package-changing requests.
type Controls = Arc<Mutex<HashMap<RequestId, Arc<Control>>>>;

fn spawn_change(
    id: RequestId,
    operation: Operation,
    services: Arc<Services>,
    controls: Controls,
    tx: mpsc::Sender<ServerMessage>,
    peer: String,
) -> tokio::task::JoinHandle<()> {
    let control = Control::new();
    controls
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id, control.clone());
    tokio::spawn(async move {
        let kind = operation.kind();
        tracing::info!(%peer, id, kind, "change requested");
        let ctx = RequestCtx {
            id,
            events: tx.clone(),
            control,
        };
        let result = services.handle_change(operation, &ctx).await;
        controls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        match &result {
            Ok(_) => tracing::info!(%peer, id, kind, "change finished"),
            Err(e) => tracing::info!(%peer, id, kind, error = %e, "change failed"),
        }
        if tx
            .send(ServerMessage::Response { id, result })
            .await
            .is_err()
        {
            tracing::warn!(%peer, id, kind, "the connection closed while the change ran; it ran to its end, the result is only in this log");
        }
    })
}

async fn stop(
    services: &Services,
    controls: &Controls,
    id: RequestId,
    how: Stop,
    tx: &mpsc::Sender<ServerMessage>,
    peer: &str,
) {
    let control = controls
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&id)
        .cloned();
    let Some(control) = control else {
        // Finished (its response is on the way) or never a change of this connection.
        tracing::info!(%peer, id, ?how, "stop for no running change: ignored");
        return;
    };
    match services.stop(&control, how).await {
        Ok(true) => tracing::info!(%peer, id, ?how, "stop accepted"),
        Ok(false) => {
            tracing::info!(%peer, id, "cancel refused: dpkg already started");
            let _ = tx.send(ServerMessage::CancelRefused { id }).await;
        }
        Err(e) => tracing::error!(%peer, id, ?how, error = %e, "cannot stop the change"),
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
