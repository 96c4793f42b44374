//! One WebSocket connection: reads client requests, forwards the subscribed jobs' updates, pings.
//!
//! Two halves run concurrently in the connection's task. The *main loop* owns the subscriptions and decides
//! everything; the *writer* owns the socket's sending half and drains a bounded queue. The main loop never
//! waits on the network: it only `try_send`s into the queue, so a peer that stops reading fills the queue (or
//! falls behind the broadcast channel) and is closed with 1008 "too slow" — memory stays bounded by the queue,
//! the broadcast channel's capacity and tungstenite's write buffer (capped by `MAX_WRITE_BUFFER_SIZE`). A close
//! frame reaches the writer on a separate signal, so it is not stuck behind a full queue; a peer that does not
//! take even that is dropped after [`CLOSE_TIMEOUT`].
//!
//! Client pings follow the same rule. tungstenite answers each ping itself, by parking the pong beside its
//! write buffer, so a peer that floods pings and never reads would otherwise never show up in the queue: the
//! pongs would only pile up in that buffer (the defect of issue 12: ~160 MB/s). Each client ping therefore
//! queues an [`Outgoing::Flush`]; the writer's flush is what actually pushes the pong to the socket, and it
//! blocks while the peer does not read. So a ping flood from a peer that does not read fills the queue within
//! [`OUTGOING_QUEUE`] pings once the kernel's socket buffers are full, and the session is closed with 1008
//! "too slow", exactly like a peer that stops reading its events.

use super::frames::{self, ClientRequest, FrameError};
use super::hub::Fanned;
use super::subscriptions::{Subscriptions, TooMany};
use crate::http::AppState;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use hyper_tungstenite::HyperWebsocketStream;
use hyper_tungstenite::tungstenite::Message;
use hyper_tungstenite::tungstenite::protocol::CloseFrame;
use hyper_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use std::fmt;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Frames that may wait for a slow peer before it is disconnected.
pub(crate) const OUTGOING_QUEUE: usize = 256;
/// How long the closing handshake may take before the socket is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a session ended (logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// The client closed the socket or it failed.
    PeerGone,
    /// The client did not keep up with its events.
    TooSlow,
    /// The client did not answer a ping within an interval.
    NoPong,
    /// The service is shutting down.
    Shutdown,
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            End::PeerGone => "closed by the client",
            End::TooSlow => "client too slow",
            End::NoPong => "client did not answer a ping",
            End::Shutdown => "service shutting down",
        })
    }
}

impl End {
    /// The close frame sent to the client, if one is worth sending.
    fn close_frame(self) -> Option<CloseFrame> {
        let (code, reason) = match self {
            End::PeerGone => return None,
            End::TooSlow => (CloseCode::Policy, "too slow"),
            End::NoPong => (CloseCode::Policy, "no pong"),
            End::Shutdown => (CloseCode::Away, "server shutting down"),
        };
        Some(CloseFrame {
            code,
            reason: reason.into(),
        })
    }
}

/// What the main loop hands to the writer.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// A frame to send.
    Frame(Message),
    /// Push out what tungstenite holds (the pong it parked for a client ping) without sending a frame.
    Flush,
}

/// Serves one upgraded connection until it ends.
pub(crate) async fn run(ws: HyperWebsocketStream, state: &AppState) -> End {
    // Subscribe before anything else so no update published after the upgrade is missed.
    let updates = state.websockets.updates(&state.jobs);
    let (sink, stream) = ws.split();
    let (queue, outgoing) = mpsc::channel(OUTGOING_QUEUE);
    let (close_tx, close_rx) = oneshot::channel();
    let main = async {
        let end = main_loop(stream, updates, &queue, state).await;
        let _ = close_tx.send(end.close_frame());
        end
    };
    let (end, ()) = tokio::join!(main, write_loop(sink, outgoing, close_rx));
    end
}

async fn main_loop(
    mut stream: SplitStream<HyperWebsocketStream>,
    mut updates: broadcast::Receiver<Fanned>,
    queue: &mpsc::Sender<Outgoing>,
    state: &AppState,
) -> End {
    let sessions = &state.websockets;
    // A child of the service's token: each session waits on its own node, not on one waiter list (and its
    // lock) shared by every session.
    let shutdown = sessions.shutdown_token().child_token();
    let interval = sessions.ping_interval();
    let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut awaiting_pong = false;
    let mut subscriptions = Subscriptions::default();
    let send = |text: String| enqueue(queue, Message::text(text));
    // Created once, not per loop turn: each creation would register (and drop) a waiter on the token and
    // the queue, which every session shares with the others or with its writer.
    let cancelled = shutdown.cancelled();
    let closed = queue.closed();
    tokio::pin!(cancelled, closed);
    loop {
        // Updates first, biased: a wake for an update (1,000 wakes per event with 1,000 sessions) finds it
        // without polling the other branches first. The others cannot starve: a session drains updates far
        // faster than jobs publish them, and one that cannot keep up ends as too slow.
        let step = tokio::select! {
            biased;
            update = updates.recv() => match update {
                // The frame's bytes are shared with every other session: queuing them copies nothing.
                Ok(Fanned::Update { job_id, text }) if subscriptions.wants(&job_id) => {
                    enqueue(queue, Message::Text(text))
                }
                Ok(Fanned::Update { .. }) => Ok(()),
                Ok(Fanned::Lost) => Err(End::TooSlow),
                Err(broadcast::error::RecvError::Lagged(_)) => Err(End::TooSlow),
                Err(broadcast::error::RecvError::Closed) => Err(End::Shutdown),
            },
            () = &mut cancelled => Err(End::Shutdown),
            () = &mut closed => Err(End::PeerGone),
            frame = stream.next() => match frame {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => Err(End::PeerGone),
                Some(Ok(Message::Text(text))) => send(answer(&text, &mut subscriptions)),
                Some(Ok(Message::Binary(_))) => send(frames::error(&FrameError::Binary)),
                Some(Ok(Message::Pong(_))) => {
                    awaiting_pong = false;
                    Ok(())
                }
                // tungstenite parks the pong; the writer's flush sends it, and a peer that does not read
                // blocks that flush, so its pings fill the queue like any other frame (module docs).
                Some(Ok(Message::Ping(_))) => enqueue_outgoing(queue, Outgoing::Flush),
                Some(Ok(Message::Frame(_))) => Ok(()),
            },
            _ = pings.tick() => {
                if awaiting_pong {
                    Err(End::NoPong)
                } else {
                    awaiting_pong = true;
                    enqueue(queue, Message::Ping(Default::default()))
                }
            }
        };
        if let Err(end) = step {
            return end;
        }
    }
}

/// Queues a frame; a full queue means the client is too slow.
fn enqueue(queue: &mpsc::Sender<Outgoing>, message: Message) -> Result<(), End> {
    enqueue_outgoing(queue, Outgoing::Frame(message))
}

/// Queues a frame or a flush; a full queue means the client is too slow.
fn enqueue_outgoing(queue: &mpsc::Sender<Outgoing>, outgoing: Outgoing) -> Result<(), End> {
    queue.try_send(outgoing).map_err(|e| match e {
        mpsc::error::TrySendError::Full(_) => End::TooSlow,
        mpsc::error::TrySendError::Closed(_) => End::PeerGone,
    })
}

/// The reply to one client text frame, updating the subscriptions.
fn answer(text: &str, subscriptions: &mut Subscriptions) -> String {
    match frames::parse(text) {
        Ok(ClientRequest::Subscribe(id)) => match subscriptions.add(id) {
            Ok(()) => frames::acknowledgement("subscribed", Some(id)),
            Err(TooMany) => frames::error(&FrameError::Shape(
                "too many single-job subscriptions on this connection; use subscribe_all",
            )),
        },
        Ok(ClientRequest::SubscribeAll) => {
            subscriptions.add_all();
            frames::acknowledgement("subscribed", None)
        }
        Ok(ClientRequest::Unsubscribe(id)) => {
            subscriptions.remove(&id);
            frames::acknowledgement("unsubscribed", Some(id))
        }
        Ok(ClientRequest::UnsubscribeAll) => {
            subscriptions.clear();
            frames::acknowledgement("unsubscribed", None)
        }
        Ok(ClientRequest::Ping) => frames::pong(),
        Err(e) => frames::error(&e),
    }
}

/// Most frames written with one flush: bounds how long one session keeps its worker thread. (Bytes do not pile
/// up: tungstenite writes to the socket whenever its buffer passes `WRITE_BUFFER_SIZE`.)
const MAX_BATCH: usize = 64;

/// Writes `first` and whatever else is already queued (up to [`MAX_BATCH`] frames), then flushes once.
///
/// Why: one flush is one TLS record and one `writev`, and on a busy host the kernel's send path is about half
/// of what a delivery costs. When events come faster than the host can fan them out (a job publishes several
/// in a few milliseconds, and 1,000 sessions take tens of milliseconds to serve), the sessions served last
/// find several frames queued: writing them together costs one system call instead of one each, so the
/// backlog shrinks instead of compounding. Nothing waits for a batch to fill; a lone frame goes out at once.
/// A [`Outgoing::Flush`] sends nothing itself: the batch's one flush covers it.
async fn send_batch(
    sink: &mut SplitSink<HyperWebsocketStream, Message>,
    first: Outgoing,
    outgoing: &mut mpsc::Receiver<Outgoing>,
) -> Result<(), hyper_tungstenite::tungstenite::Error> {
    if let Outgoing::Frame(message) = first {
        sink.feed(message).await?;
    }
    for _ in 1..MAX_BATCH {
        let Ok(next) = outgoing.try_recv() else {
            break;
        };
        if let Outgoing::Frame(message) = next {
            sink.feed(message).await?;
        }
    }
    sink.flush().await
}

/// Sends queued frames until the main loop signals the end, then the close frame (bounded in time).
async fn write_loop(
    mut sink: SplitSink<HyperWebsocketStream, Message>,
    mut outgoing: mpsc::Receiver<Outgoing>,
    mut close: oneshot::Receiver<Option<CloseFrame>>,
) {
    let close_frame = loop {
        tokio::select! {
            biased;
            frame = &mut close => break frame.ok().flatten(),
            message = outgoing.recv() => {
                let Some(message) = message else { break None };
                // A peer that does not read blocks this send; the close signal must still get through.
                tokio::select! {
                    biased;
                    frame = &mut close => break frame.ok().flatten(),
                    sent = send_batch(&mut sink, message, &mut outgoing) => if sent.is_err() {
                        // The socket failed: nothing more can be written; let the main loop notice.
                        drop(outgoing);
                        return;
                    },
                }
            }
        }
    };
    drop(outgoing);
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        if let Some(frame) = close_frame {
            let _ = sink.send(Message::Close(Some(frame))).await;
        }
        let _ = sink.close().await;
    })
    .await;
}
