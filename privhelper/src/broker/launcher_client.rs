//! The broker's side of the socketpair: sends [`Invocation`]s to the launcher and matches the answers by
//! id, so many operations can wait for commands at the same time. A package-changing invocation is
//! started with [`LauncherClient::start_change`], which also hands back its status lines as they arrive and can
//! be cancelled by id.

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use lpa_protocol::frame::{self, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME};
use lpa_protocol::launcher::{
    ExecId, ExecOutput, Invocation, LaunchError, LauncherRequest, LauncherResponse,
};
use lpa_protocol::{ExecFailure, HelperError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UnixStream;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::{FramedRead, FramedWrite, LengthDelimitedCodec};

type Pending = Arc<Mutex<HashMap<ExecId, Waiter>>>;

/// Where the answers for one execution go.
struct Waiter {
    done: oneshot::Sender<Result<ExecOutput, LaunchError>>,
    status: Option<mpsc::UnboundedSender<String>>,
}

/// Longer than the launcher's own per-command timeout, so the launcher's answer normally wins.
const EXEC_TIMEOUT: Duration = Duration::from_secs(130);
/// Longer than the launcher's backstop for package-changing commands (2 h).
const CHANGE_TIMEOUT: Duration = Duration::from_secs(2 * 60 * 60 + 10 * 60);

/// A package-changing execution in progress.
pub struct Started {
    /// The launcher's id of the execution, for [`LauncherClient::cancel`].
    pub id: ExecId,
    /// Status lines in the order apt wrote them; all of them arrive before `done` resolves.
    pub status: mpsc::UnboundedReceiver<String>,
    /// The end of the execution.
    pub done: oneshot::Receiver<Result<ExecOutput, LaunchError>>,
}

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
                        let waiter = reader_pending
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(&id);
                        if let Some(waiter) = waiter {
                            let _ = waiter.done.send(result);
                        }
                    }
                    Ok(LauncherResponse::Status { id, line }) => {
                        let pending = reader_pending.lock().unwrap_or_else(|p| p.into_inner());
                        if let Some(tx) = pending.get(&id).and_then(|w| w.status.as_ref()) {
                            let _ = tx.send(line);
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
        let kind = invocation.kind();
        let (id, done) = self.send_exec(invocation, None).await?;
        let answer = tokio::time::timeout(EXEC_TIMEOUT, done).await;
        self.forget(id);
        match answer {
            Ok(Ok(result)) => result.map_err(|e| launch_error(kind, e)),
            Ok(Err(_)) => Err(internal("the launcher dropped the request")),
            Err(_) => Err(internal(format!(
                "{kind}: no answer from the launcher in time"
            ))),
        }
    }

    /// Starts a package-changing `invocation` whose status lines are streamed back.
    pub async fn start_change(&self, invocation: Invocation) -> Result<Started, HelperError> {
        let (tx, status) = mpsc::unbounded_channel();
        let (id, done) = self.send_exec(invocation, Some(tx)).await?;
        Ok(Started { id, status, done })
    }

    /// Waits for a started execution's end, at most the launcher's backstop plus a margin.
    pub async fn finish(
        &self,
        id: ExecId,
        done: &mut oneshot::Receiver<Result<ExecOutput, LaunchError>>,
    ) -> Result<Result<ExecOutput, LaunchError>, HelperError> {
        let answer = tokio::time::timeout(CHANGE_TIMEOUT, done).await;
        self.forget(id);
        match answer {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(_)) => Err(internal("the launcher dropped the request")),
            Err(_) => Err(internal("no answer from the launcher in time")),
        }
    }

    /// Asks the launcher to stop execution `id` (SIGTERM to its process group, SIGKILL after a grace
    /// period). Its `Finished` still arrives.
    pub async fn cancel(&self, id: ExecId) -> Result<(), HelperError> {
        let payload =
            frame::encode(&LauncherRequest::Cancel { id }, MAX_REQUEST_FRAME).map_err(internal)?;
        self.writer
            .lock()
            .await
            .send(Bytes::from(payload))
            .await
            .map_err(|e| internal(format!("cannot reach the launcher: {e}")))
    }

    async fn send_exec(
        &self,
        invocation: Invocation,
        status: Option<mpsc::UnboundedSender<String>>,
    ) -> Result<(ExecId, oneshot::Receiver<Result<ExecOutput, LaunchError>>), HelperError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let payload = frame::encode(&LauncherRequest::Exec { id, invocation }, MAX_REQUEST_FRAME)
            .map_err(internal)?;
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, Waiter { done: tx, status });
        let sent = self.writer.lock().await.send(Bytes::from(payload)).await;
        if let Err(e) = sent {
            self.forget(id);
            return Err(internal(format!("cannot reach the launcher: {e}")));
        }
        Ok((id, rx))
    }

    fn forget(&self, id: ExecId) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }
}

/// A launcher refusal as the broker reports it for reading operations.
pub fn launch_error(kind: &str, e: LaunchError) -> HelperError {
    match e {
        LaunchError::NotAvailable(msg) => HelperError::Exec(ExecFailure {
            program: kind.to_owned(),
            exit_code: None,
            stderr: msg,
        }),
        LaunchError::Spawn { program, reason } => HelperError::Exec(ExecFailure {
            program,
            exit_code: None,
            stderr: reason,
        }),
        other => internal(other),
    }
}

fn internal(e: impl std::fmt::Display) -> HelperError {
    HelperError::Internal {
        message: e.to_string(),
    }
}
