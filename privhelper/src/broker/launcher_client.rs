//! The broker's side of the socketpair: sends [`Invocation`]s to the launcher and matches the answers by
//! id, so many operations can wait for commands at the same time.

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use lpa_protocol::frame::{self, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME};
use lpa_protocol::launcher::{
    ExecOutput, Invocation, LaunchError, LauncherRequest, LauncherResponse,
};
use lpa_protocol::{ExecFailure, HelperError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UnixStream;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::oneshot;
use tokio_util::codec::{FramedRead, FramedWrite, LengthDelimitedCodec};

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<ExecOutput, LaunchError>>>>>;

/// Longer than the launcher's own per-command timeout, so the launcher's answer normally wins.
const EXEC_TIMEOUT: Duration = Duration::from_secs(130);

/// A handle to the launcher; cheap to clone.
#[derive(Clone)]
pub struct LauncherClient {
    writer: Arc<tokio::sync::Mutex<FramedWrite<OwnedWriteHalf, LengthDelimitedCodec>>>,
    pending: Pending,
    next_id: Arc<AtomicU64>,
}

impl LauncherClient {
    /// Wraps the broker's end of the socketpair and starts the task that reads the launcher's answers.
    /// When the launcher closes the socketpair the broker exits: without it no command can run.
    pub fn start(stream: std::os::unix::net::UnixStream) -> std::io::Result<LauncherClient> {
        stream.set_nonblocking(true)?;
        let (r, w) = UnixStream::from_std(stream)?.into_split();
        let pending: Pending = Arc::default();
        let reader_pending = pending.clone();
        tokio::spawn(async move {
            let mut frames = FramedRead::new(r, frame::codec(MAX_RESPONSE_FRAME));
            while let Some(item) = frames.next().await {
                let resp = item.map_err(|e| e.to_string()).and_then(|b| {
                    frame::decode::<LauncherResponse>(&b, MAX_RESPONSE_FRAME)
                        .map_err(|e| e.to_string())
                });
                match resp {
                    Ok(LauncherResponse::Finished { id, result }) => {
                        let tx = reader_pending
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(&id);
                        if let Some(tx) = tx {
                            let _ = tx.send(result);
                        }
                    }
                    Ok(_) => tracing::warn!("unknown response kind from the launcher"),
                    Err(e) => {
                        tracing::error!(error = %e, "bad frame from the launcher");
                        break;
                    }
                }
            }
            tracing::error!("the launcher closed the socketpair; the broker exits");
            std::process::exit(1);
        });
        Ok(LauncherClient {
            writer: Arc::new(tokio::sync::Mutex::new(FramedWrite::new(
                w,
                frame::codec(MAX_REQUEST_FRAME),
            ))),
            pending,
            next_id: Arc::new(AtomicU64::new(1)),
        })
    }

    /// Runs `invocation` in the launcher and returns its output (whatever the exit code).
    pub async fn exec(&self, invocation: Invocation) -> Result<ExecOutput, HelperError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let kind = invocation.kind();
        let payload = frame::encode(&LauncherRequest::Exec { id, invocation }, MAX_REQUEST_FRAME)
            .map_err(internal)?;
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, tx);
        let sent = self.writer.lock().await.send(Bytes::from(payload)).await;
        if let Err(e) = sent {
            self.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
            return Err(internal(format!("cannot reach the launcher: {e}")));
        }
        let answer = tokio::time::timeout(EXEC_TIMEOUT, rx).await;
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        match answer {
            Ok(Ok(Ok(out))) => Ok(out),
            Ok(Ok(Err(LaunchError::NotAvailable(msg)))) => Err(HelperError::Exec(ExecFailure {
                program: kind.to_owned(),
                exit_code: None,
                stderr: msg,
            })),
            Ok(Ok(Err(LaunchError::Spawn { program, reason }))) => {
                Err(HelperError::Exec(ExecFailure {
                    program,
                    exit_code: None,
                    stderr: reason,
                }))
            }
            Ok(Ok(Err(other))) => Err(internal(other)),
            Ok(Err(_)) => Err(internal("the launcher dropped the request")),
            Err(_) => Err(internal(format!(
                "{kind}: no answer from the launcher in time"
            ))),
        }
    }
}

fn internal(e: impl std::fmt::Display) -> HelperError {
    HelperError::Internal {
        message: e.to_string(),
    }
}
