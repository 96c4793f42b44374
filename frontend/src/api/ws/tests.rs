//! The WebSocket endpoint over a real hyper server on loopback (plain TCP: TLS is the listener's business and
//! is covered there and by the client crate's tests) with a tokio-tungstenite client.

use super::session::OUTGOING_QUEUE;
use crate::conn::{ClientIdentity, ConnInfo};
use crate::http::{ApiSettings, AppState};
use crate::jobs::{JobOperation, JobStatus, JobUpdate, UPDATE_CHANNEL_CAPACITY};
use futures_util::{SinkExt, StreamExt};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use uuid::Uuid;

type Client = WebSocketStream<TcpStream>;

/// How long any single expected frame may take.
const WAIT: Duration = Duration::from_secs(5);
/// Socket buffer size for the slow-client test, so the kernel cannot absorb the whole flood.
const SMALL_BUFFER: u32 = 4096;

struct Server {
    addr: SocketAddr,
    state: Arc<AppState>,
    _dir: tempfile::TempDir,
}

async fn server() -> Server {
    server_with_send_buffer(None).await
}

/// A hyper server that routes every request through [`crate::http::handle`], as the listener does.
async fn server_with_send_buffer(send_buffer: Option<u32>) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::new(ApiSettings {
        helper_socket: dir.path().join("no-helper.sock"),
        helper_timeout: Duration::from_secs(1),
        max_body_bytes: 1024,
        body_timeout: Duration::from_secs(1),
        server_cert_not_after: None,
        jobs: Default::default(),
        ..Default::default()
    });
    let socket = TcpSocket::new_v4().unwrap();
    if let Some(size) = send_buffer {
        // Accepted sockets inherit the listener's buffer sizes.
        socket.set_send_buffer_size(size).unwrap();
    }
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(64).unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = state.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, peer)) = listener.accept().await else {
                return;
            };
            let state = serving.clone();
            let conn = Arc::new(ConnInfo {
                peer,
                identity: Arc::new(ClientIdentity {
                    common_name: Some("ws-test".into()),
                    ..ClientIdentity::default()
                }),
                live: crate::reload::live::LiveEntry::detached(),
            });
            tokio::spawn(async move {
                let service =
                    service_fn(move |req| crate::http::handle(state.clone(), conn.clone(), req));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    Server {
        addr,
        state,
        _dir: dir,
    }
}

impl Server {
    fn url(&self) -> String {
        format!("ws://{}{}", self.addr, super::PATH)
    }

    async fn connect(&self) -> Client {
        let tcp = TcpStream::connect(self.addr).await.unwrap();
        self.handshake(tcp).await
    }

    async fn handshake(&self, tcp: TcpStream) -> Client {
        let (ws, response) = tokio_tungstenite::client_async(self.url(), tcp)
            .await
            .unwrap();
        assert_eq!(response.status(), 101);
        ws
    }

    fn publish(&self, job: Uuid, status: JobStatus, message: &str) {
        self.state.jobs.publish(update(job, status, message));
    }

    async fn wait_for_sessions(&self, count: usize, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.state.websockets.active() == count {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }
}

fn update(job: Uuid, status: JobStatus, message: &str) -> JobUpdate {
    JobUpdate {
        job_id: job,
        operation: JobOperation::Install,
        status,
        progress: if status.is_terminal() { 100 } else { 50 },
        message: message.to_owned(),
        timestamp: "2026-05-27T14:00:00Z".into(),
        error_code: (status == JobStatus::Failed).then(|| "PKG_NOT_FOUND".to_owned()),
    }
}

async fn send(ws: &mut Client, text: &str) {
    ws.send(Message::text(text)).await.unwrap();
}

/// The next text frame as JSON, skipping control frames.
async fn next(ws: &mut Client) -> Value {
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time")
            .expect("socket open")
            .expect("frame readable");
        match frame {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

async fn subscribe(ws: &mut Client, job: Uuid) {
    send(ws, &format!(r#"{{"type":"subscribe","job_id":"{job}"}}"#)).await;
    let ack = next(ws).await;
    assert_eq!(ack["event"], "subscribed");
    assert_eq!(ack["job_id"], job.to_string());
}

#[tokio::test]
async fn subscriber_of_one_job_gets_none_of_another_jobs_events() {
    let server = server().await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let mut client_a = server.connect().await;
    let mut client_b = server.connect().await;
    subscribe(&mut client_a, a).await;
    subscribe(&mut client_b, b).await;

    server.publish(b, JobStatus::Running, "b starts");
    server.publish(a, JobStatus::Running, "a starts");
    server.publish(b, JobStatus::Completed, "b done");
    server.publish(a, JobStatus::Failed, "a failed");

    // The broadcast is ordered, so had client A received anything of job B it would come before A's last event.
    let first = next(&mut client_a).await;
    assert_eq!(first["event"], "job_status");
    assert_eq!(first["job_id"], a.to_string());
    assert_eq!(first["status"], "running");
    assert_eq!(first["progress"], 50);
    assert_eq!(first["message"], "a starts");
    assert_eq!(first["timestamp"], "2026-05-27T14:00:00Z");
    let last = next(&mut client_a).await;
    assert_eq!(last["event"], "job_complete");
    assert_eq!(last["job_id"], a.to_string());
    assert_eq!(last["status"], "failed");
    assert_eq!(last["error_code"], "PKG_NOT_FOUND");

    let first = next(&mut client_b).await;
    assert_eq!(
        (first["job_id"].as_str(), first["event"].as_str()),
        (Some(b.to_string().as_str()), Some("job_status"))
    );
    let last = next(&mut client_b).await;
    assert_eq!(
        (last["job_id"].as_str(), last["event"].as_str()),
        (Some(b.to_string().as_str()), Some("job_complete"))
    );
    assert!(last["error_code"].is_null());
}

#[tokio::test]
async fn a_burst_larger_than_a_write_batch_arrives_whole_and_in_order() {
    let server = server().await;
    let job = Uuid::new_v4();
    let mut client = server.connect().await;
    subscribe(&mut client, job).await;
    // Published before the session runs (current-thread runtime): the session finds them all queued at once
    // and writes them in batches, across batch boundaries.
    const BURST: usize = 150;
    const { assert!(BURST < OUTGOING_QUEUE) };
    const { assert!(BURST < UPDATE_CHANNEL_CAPACITY) };
    let burst = BURST;
    for i in 0..burst {
        server.publish(job, JobStatus::Running, &format!("step {i}"));
    }
    for i in 0..burst {
        let event = next(&mut client).await;
        assert_eq!(event["message"], format!("step {i}"));
        assert_eq!(event["job_id"], job.to_string());
    }
    send(&mut client, r#"{"type":"ping"}"#).await;
    assert_eq!(
        next(&mut client).await["event"],
        "pong",
        "nothing else queued"
    );
}

#[tokio::test]
async fn a_client_without_subscriptions_receives_no_events() {
    let server = server().await;
    let mut client = server.connect().await;
    send(&mut client, r#"{"type":"ping"}"#).await;
    assert_eq!(next(&mut client).await["event"], "pong");
    server.publish(Uuid::new_v4(), JobStatus::Running, "nobody asked");
    // Give the session time to see the update, then prove the next frame is the answer to a later ping.
    tokio::time::sleep(Duration::from_millis(100)).await;
    send(&mut client, r#"{"type":"ping"}"#).await;
    assert_eq!(next(&mut client).await["event"], "pong");
}

#[tokio::test]
async fn subscribe_all_and_subscribe_without_job_id_receive_every_job() {
    let server = server().await;
    let mut all = server.connect().await;
    let mut action = server.connect().await;
    send(&mut all, r#"{"type":"subscribe_all"}"#).await;
    send(&mut action, r#"{"action":"subscribe"}"#).await;
    for client in [&mut all, &mut action] {
        let ack = next(client).await;
        assert_eq!(ack["event"], "subscribed");
        assert!(ack["job_id"].is_null());
        assert_eq!(ack["all"], true);
    }
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    server.publish(a, JobStatus::Pending, "queued");
    server.publish(b, JobStatus::Cancelled, "cancelled");
    for client in [&mut all, &mut action] {
        let first = next(client).await;
        assert_eq!(first["job_id"], a.to_string());
        assert_eq!(first["event"], "job_status");
        let second = next(client).await;
        assert_eq!(second["job_id"], b.to_string());
        assert_eq!(second["event"], "job_complete");
        assert_eq!(second["status"], "cancelled");
    }
}

#[tokio::test]
async fn unsubscribed_jobs_stop_arriving() {
    let server = server().await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let mut client = server.connect().await;
    subscribe(&mut client, a).await;
    subscribe(&mut client, b).await;
    send(
        &mut client,
        &format!(r#"{{"action":"unsubscribe","job_id":"{a}"}}"#),
    )
    .await;
    let ack = next(&mut client).await;
    assert_eq!(ack["event"], "unsubscribed");
    assert_eq!(ack["job_id"], a.to_string());
    server.publish(a, JobStatus::Running, "a");
    server.publish(b, JobStatus::Running, "b");
    assert_eq!(next(&mut client).await["job_id"], b.to_string());
}

#[tokio::test]
async fn ping_is_answered_with_pong() {
    let server = server().await;
    let mut client = server.connect().await;
    for frame in [r#"{"type":"ping"}"#, r#"{"action":"ping"}"#] {
        send(&mut client, frame).await;
        assert_eq!(
            next(&mut client).await,
            serde_json::json!({"event": "pong"})
        );
    }
}

#[tokio::test]
async fn garbage_gets_an_error_frame_and_the_connection_stays_open() {
    let server = server().await;
    let mut client = server.connect().await;
    for garbage in [
        "not json",
        "[]",
        r#"{"job_id":"x"}"#,
        r#"{"type":42}"#,
        r#"{"type":"reboot_everything"}"#,
        r#"{"type":"subscribe","job_id":"not-a-uuid"}"#,
        r#"{"type":"subscribe","job_id":7}"#,
    ] {
        send(&mut client, garbage).await;
        let reply = next(&mut client).await;
        assert_eq!(reply["event"], "error", "{garbage}");
        assert!(
            !reply["message"].as_str().unwrap_or("").is_empty(),
            "{garbage}"
        );
    }
    client
        .send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    assert_eq!(next(&mut client).await["event"], "error");
    send(&mut client, r#"{"type":"ping"}"#).await;
    assert_eq!(next(&mut client).await["event"], "pong");
}

#[tokio::test]
async fn request_with_an_origin_header_is_refused_with_an_enveloped_403() {
    let server = server().await;
    let mut request = server.url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let err = tokio_tungstenite::client_async(request, tcp)
        .await
        .unwrap_err();
    let tokio_tungstenite::tungstenite::Error::Http(response) = err else {
        panic!("expected an HTTP refusal, got {err:?}");
    };
    assert_eq!(response.status(), 403);
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["code"], "ORIGIN_NOT_ALLOWED");
    assert!(body["data"].is_null());
    assert_eq!(server.state.websockets.active(), 0);
}

/// Sends a raw HTTP/1.1 request and returns the status and the parsed body.
async fn raw(server: &Server, request: &str) -> (u16, Value) {
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut text = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut text))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8(text).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1;
    (status, serde_json::from_str(body).unwrap())
}

#[tokio::test]
async fn plain_get_and_other_methods_are_enveloped_errors() {
    let server = server().await;
    let (status, body) = raw(
        &server,
        "GET /api/v1/ws/jobs HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "INVALID_REQUEST");
    let (status, body) = raw(
        &server,
        "POST /api/v1/ws/jobs HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 405);
    assert_eq!(body["error"]["code"], "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn a_client_that_never_reads_is_disconnected_instead_of_buffered() {
    let server = server_with_send_buffer(Some(SMALL_BUFFER)).await;
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(SMALL_BUFFER).unwrap();
    let tcp = socket.connect(server.addr).await.unwrap();
    let mut client = server.handshake(tcp).await;
    send(&mut client, r#"{"type":"subscribe_all"}"#).await;
    assert_eq!(next(&mut client).await["event"], "subscribed");

    // From here on the client reads nothing. Publish in bursts, letting the session run in between, until the
    // server gives up on it; the flood is far larger than the queue, the channel and the socket buffers.
    let job = Uuid::new_v4();
    let message = "x".repeat(1024);
    let flood = 200 * (OUTGOING_QUEUE + UPDATE_CHANNEL_CAPACITY);
    let mut published = 0;
    while published < flood && server.state.websockets.active() > 0 {
        for _ in 0..100 {
            server.publish(job, JobStatus::Running, &message);
        }
        published += 100;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(
        server.wait_for_sessions(0, WAIT).await,
        "a client that never reads is still connected after {published} updates"
    );

    // What the client can still read is bounded, and ends with 1008 "too slow" (or a reset).
    let mut received = 0;
    let mut close = None;
    while let Ok(Some(frame)) = tokio::time::timeout(WAIT, client.next()).await {
        match frame {
            Ok(Message::Text(_)) => received += 1,
            Ok(Message::Close(frame)) => {
                close = frame;
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    assert!(received < published, "{received} of {published}");
    if let Some(frame) = close {
        assert_eq!(frame.code, CloseCode::Policy);
        assert_eq!(frame.reason.as_str(), "too slow");
    }
}

#[tokio::test]
async fn a_peer_that_does_not_answer_pings_is_dropped() {
    let server = server().await;
    server
        .state
        .websockets
        .set_ping_interval(Duration::from_millis(100));
    // Never read: tungstenite answers pings only while the application reads, so this peer never pongs.
    let _silent = server.connect().await;
    assert!(server.wait_for_sessions(1, WAIT).await);
    assert!(
        server.wait_for_sessions(0, WAIT).await,
        "silent peer still connected"
    );
}

#[tokio::test]
async fn a_peer_that_answers_pings_stays_connected() {
    let server = server().await;
    server
        .state
        .websockets
        .set_ping_interval(Duration::from_millis(50));
    let mut client = server.connect().await;
    let mut pings = 0;
    let deadline = Instant::now() + Duration::from_millis(600);
    while Instant::now() < deadline {
        // Reading is what makes tungstenite send the pong.
        if let Ok(Some(Ok(Message::Ping(_)))) =
            tokio::time::timeout(Duration::from_millis(20), client.next()).await
        {
            pings += 1;
        }
    }
    assert!(pings >= 5, "only {pings} pings in 600 ms at 50 ms");
    assert_eq!(server.state.websockets.active(), 1);
    send(&mut client, r#"{"type":"ping"}"#).await;
    assert_eq!(next(&mut client).await["event"], "pong");
}

#[tokio::test]
async fn shutdown_closes_every_session_with_going_away_and_waits_for_them() {
    let server = server().await;
    let mut one = server.connect().await;
    let mut two = server.connect().await;
    assert!(server.wait_for_sessions(2, WAIT).await);
    tokio::time::timeout(WAIT, server.state.websockets.shutdown())
        .await
        .expect("shutdown waits only for the closing handshake");
    assert_eq!(server.state.websockets.active(), 0);
    for client in [&mut one, &mut two] {
        let frame = tokio::time::timeout(WAIT, client.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let Message::Close(Some(close)) = frame else {
            panic!("expected a close frame, got {frame:?}");
        };
        assert_eq!(close.code, CloseCode::Away);
    }
}
