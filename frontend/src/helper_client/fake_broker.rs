//! A broker stand-in for tests: a real Unix socket in a temporary directory, speaking the real protocol
//! with `lpa_protocol` frames, with answers chosen by the test.

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use lpa_protocol::frame::{self, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME};
use lpa_protocol::{
    Backend, ClientMessage, HelloAck, HelperError, Operation, Outcome, PROTOCOL_VERSION,
    ServerMessage,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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
}

type Answerer = Arc<dyn Fn(&Operation) -> Reply + Send + Sync>;

/// A running fake broker. Dropping it stops it and closes all its connections.
pub(crate) struct FakeBroker {
    socket: PathBuf,
    accepted: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
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
        let (acc, req) = (accepted.clone(), requests.clone());
        let task = tokio::spawn(async move {
            // Owned here so that aborting this task also aborts every connection task.
            let mut conns = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                acc.fetch_add(1, Ordering::SeqCst);
                conns.spawn(serve(stream, hello, answer.clone(), req.clone()));
            }
        });
        FakeBroker {
            socket: socket.to_path_buf(),
            accepted,
            requests,
            task,
        }
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
        let msg = match answer(&operation) {
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
