//! A broker stand-in for tests: a real Unix socket in a temporary directory, speaking the real protocol
//! with `lpa_protocol` frames, with answers chosen by the test.

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use lpa_protocol::frame::{self, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME};
use lpa_protocol::{
    Backend, ChangeFailure, ChangeReport, ClientMessage, FailureKind, HelloAck, HelperError,
    JobEvent, Operation, Outcome, PROTOCOL_VERSION, PackageChange, ServerMessage,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::UnixListener;
use tokio::task::JoinSet;
use tokio_util::codec::{FramedRead, FramedWrite};

/// How the fake broker answers the handshake.
#[derive(Debug, Clone, Copy)]
pub(crate) enum HelloMode {
    /// Accept and announce this backend.
    Ack(Backend),
    /// Refuse, claiming to speak this protocol version.
    Refuse(u32),
}

/// What the fake broker does with one request. (Test-only and short-lived, so the large variant is fine.)
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum Reply {
    /// Answer it.
    Answer(Result<Outcome, HelperError>),
    /// Never answer.
    Hang,
    /// Close the connection without answering.
    Close,
    /// Answer with an id that was not asked for.
    WrongId,
    /// Stream events as a package-changing request does, honouring `Cancel` and `Abort`.
    Script(Script),
}

/// A streamed answer: steps in order, then `end`.
///
/// While a step runs, `Cancel` is honoured the way the real broker does it: before a
/// [`JobEvent::ChangesStarted`] step the request ends with a `Cancelled` failure, after it the broker
/// answers `CancelRefused` and carries on. `Abort` always ends the request with a `Timeout` failure whose
/// `changes` are `changes_on_abort`.
#[derive(Debug, Clone)]
pub(crate) struct Script {
    /// What happens, in order.
    pub(crate) steps: Vec<Step>,
    /// The final answer when nothing interrupted the script.
    pub(crate) end: Result<Outcome, HelperError>,
    /// Changes reported when the request is aborted.
    pub(crate) changes_on_abort: Vec<PackageChange>,
}

/// One step of a [`Script`].
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// Send this event.
    Event(JobEvent),
    /// Wait, listening for `Cancel` and `Abort`.
    Sleep(Duration),
    /// Close the connection here, as a helper that is stopped or restarted mid-request does.
    Close,
}

impl Script {
    /// Progress events, then success with `changes`.
    pub(crate) fn ok(steps: Vec<Step>, changes: Vec<PackageChange>) -> Self {
        Script {
            steps,
            end: Ok(Outcome::Changed(ChangeReport {
                changes,
                message: "done".into(),
                exit_code: Some(0),
                stdout: "out".into(),
                stderr: String::new(),
            })),
            changes_on_abort: Vec::new(),
        }
    }
}

/// A `Change` failure of `kind` with `changes`.
pub(crate) fn change_failure(kind: FailureKind, changes: Vec<PackageChange>) -> HelperError {
    HelperError::Change(ChangeFailure {
        kind,
        message: format!("fake {}", kind.code()),
        exit_code: Some(100),
        stdout: "fake stdout".into(),
        stderr: "fake stderr".into(),
        changes,
    })
}

type Answerer = Arc<dyn Fn(&Operation) -> Reply + Send + Sync>;

/// A running fake broker. Dropping it stops it and closes all its connections.
pub(crate) struct FakeBroker {
    socket: PathBuf,
    accepted: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    log: Arc<Log>,
    task: tokio::task::JoinHandle<()>,
}

/// What the fake broker saw, for assertions.
#[derive(Debug, Default)]
pub(crate) struct Log {
    /// Every operation, in arrival order.
    operations: Mutex<Vec<Operation>>,
    /// `cancel` / `abort` for each control message received.
    controls: Mutex<Vec<&'static str>>,
    /// Scripts running right now, and the most ever running at once.
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Drop for FakeBroker {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.socket);
    }
}

impl FakeBroker {
    /// Starts serving on `socket` (which must not exist).
    pub(crate) fn start(
        socket: &Path,
        hello: HelloMode,
        answer: impl Fn(&Operation) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let listener = UnixListener::bind(socket).expect("bind fake broker socket");
        let accepted = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let answer: Answerer = Arc::new(answer);
        let log = Arc::new(Log::default());
        let (acc, req, lg) = (accepted.clone(), requests.clone(), log.clone());
        let task = tokio::spawn(async move {
            // Owned here so that aborting this task also aborts every connection task.
            let mut conns = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                acc.fetch_add(1, Ordering::SeqCst);
                conns.spawn(serve(
                    stream,
                    hello,
                    answer.clone(),
                    req.clone(),
                    lg.clone(),
                ));
            }
        });
        FakeBroker {
            socket: socket.to_path_buf(),
            accepted,
            requests,
            log,
            task,
        }
    }

    /// Every operation received so far, in order.
    pub(crate) fn operations(&self) -> Vec<Operation> {
        self.log.operations.lock().unwrap().clone()
    }

    /// The control messages received so far (`cancel`, `abort`).
    pub(crate) fn controls(&self) -> Vec<&'static str> {
        self.log.controls.lock().unwrap().clone()
    }

    /// The most scripted (package-changing) requests that ever ran at once.
    pub(crate) fn max_in_flight(&self) -> usize {
        self.log.max_in_flight.load(Ordering::SeqCst)
    }

    /// How many connections were accepted.
    pub(crate) fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// How many requests were received.
    pub(crate) fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

async fn serve(
    stream: tokio::net::UnixStream,
    hello: HelloMode,
    answer: Answerer,
    requests: Arc<AtomicUsize>,
    log: Arc<Log>,
) {
    let (r, w) = stream.into_split();
    let mut reader = FramedRead::new(r, frame::codec(MAX_REQUEST_FRAME));
    let mut writer = FramedWrite::new(w, frame::codec(MAX_RESPONSE_FRAME));
    let send = |msg: ServerMessage| {
        Bytes::from(frame::encode(&msg, MAX_RESPONSE_FRAME).expect("encode answer"))
    };
    let Some(Ok(first)) = reader.next().await else {
        return;
    };
    match frame::decode::<ClientMessage>(&first, MAX_REQUEST_FRAME) {
        Ok(ClientMessage::Hello(_)) => {}
        _ => return,
    }
    match hello {
        HelloMode::Ack(backend) => {
            let ack = ServerMessage::HelloAck(HelloAck {
                protocol_version: PROTOCOL_VERSION,
                software_version: "fake".into(),
                backend,
            });
            if writer.send(send(ack)).await.is_err() {
                return;
            }
        }
        HelloMode::Refuse(version) => {
            let refused = ServerMessage::HelloRefused {
                protocol_version: version,
                reason: "fake broker refuses".into(),
            };
            let _ = writer.send(send(refused)).await;
            return;
        }
    }
    while let Some(Ok(bytes)) = reader.next().await {
        let Ok(ClientMessage::Request { id, operation }) =
            frame::decode::<ClientMessage>(&bytes, MAX_REQUEST_FRAME)
        else {
            return;
        };
        requests.fetch_add(1, Ordering::SeqCst);
        log.operations.lock().unwrap().push(operation.clone());
        let msg = match answer(&operation) {
            Reply::Script(script) => {
                let now = log.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                log.max_in_flight.fetch_max(now, Ordering::SeqCst);
                let result = run_script(id, script, &mut reader, &mut writer, &log).await;
                log.in_flight.fetch_sub(1, Ordering::SeqCst);
                match result {
                    Some(result) => ServerMessage::Response { id, result },
                    None => return,
                }
            }
            Reply::Answer(result) => ServerMessage::Response { id, result },
            Reply::Hang => {
                std::future::pending::<()>().await;
                return;
            }
            Reply::Close => return,
            Reply::WrongId => ServerMessage::Response {
                id: id + 1000,
                result: Ok(Outcome::Pong),
            },
        };
        if writer.send(send(msg)).await.is_err() {
            return;
        }
    }
}

type Reader = FramedRead<tokio::net::unix::OwnedReadHalf, tokio_util::codec::LengthDelimitedCodec>;
type Writer =
    FramedWrite<tokio::net::unix::OwnedWriteHalf, tokio_util::codec::LengthDelimitedCodec>;

/// Plays `script`; `None` when the connection went away.
async fn run_script(
    id: u64,
    script: Script,
    reader: &mut Reader,
    writer: &mut Writer,
    log: &Log,
) -> Option<Result<Outcome, HelperError>> {
    let encode = |msg: ServerMessage| {
        Bytes::from(frame::encode(&msg, MAX_RESPONSE_FRAME).expect("encode answer"))
    };
    let mut started = false;
    for step in script.steps {
        match step {
            Step::Event(event) => {
                started |= event == JobEvent::ChangesStarted;
                writer
                    .send(encode(ServerMessage::Event { id, event }))
                    .await
                    .ok()?;
            }
            Step::Close => return None,
            Step::Sleep(d) => {
                let sleep = tokio::time::sleep(d);
                tokio::pin!(sleep);
                loop {
                    tokio::select! {
                        _ = &mut sleep => break,
                        frame = reader.next() => {
                            let bytes = frame?.ok()?;
                            match frame::decode::<ClientMessage>(&bytes, MAX_REQUEST_FRAME).ok()? {
                                ClientMessage::Cancel { id: got } if got == id => {
                                    log.controls.lock().unwrap().push("cancel");
                                    if !started {
                                        return Some(Err(change_failure(FailureKind::Cancelled, vec![])));
                                    }
                                    writer.send(encode(ServerMessage::CancelRefused { id })).await.ok()?;
                                }
                                ClientMessage::Abort { id: got } if got == id => {
                                    log.controls.lock().unwrap().push("abort");
                                    return Some(Err(change_failure(
                                        FailureKind::Timeout,
                                        script.changes_on_abort,
                                    )));
                                }
                                _ => return None,
                            }
                        }
                    }
                }
            }
        }
    }
    Some(script.end)
}
