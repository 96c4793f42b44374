//! The WebSocket client of `GET /api/v1/ws/jobs`: live job events over the same mTLS identity as REST.
//!
//! [`JobSocket`] connects with tokio-rustls (TLS 1.3, the configured CA only, the client certificate) and
//! performs the WebSocket handshake with `tokio_tungstenite::client_async` over that stream, so no TLS
//! feature of tungstenite (and no web PKI root store) is involved. It sends no `Origin` header: the server
//! refuses requests that carry one. Server frames come back typed as [`ServerFrame`]; the helpers
//! [`JobSocket::subscribe`] and [`JobSocket::ping`] wait for their acknowledgement and keep any job event that
//! arrives meanwhile for [`JobSocket::next_frame`].

use futures_util::{SinkExt, StreamExt};
use reqwest::Url;
use rustls::pki_types::ServerName;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{self, Message};

/// Path of the job events socket below the base URL.
pub const WS_PATH: &str = "/api/v1/ws/jobs";

/// Why the socket could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WsError {
    /// The base URL is not an `https://host[:port]` URL.
    #[error("URL {0}: expected https://HOST[:PORT]")]
    Url(String),
    /// TCP connect or TLS handshake failed.
    #[error("connecting: {0}")]
    Connect(#[from] std::io::Error),
    /// The WebSocket handshake or a later frame failed (an HTTP refusal carries its status).
    #[error("WebSocket: {0}")]
    Protocol(#[from] tungstenite::Error),
    /// The server closed the socket (code and reason of its close frame, if any).
    #[error("closed by the server{}", .0.as_ref().map(|(c, r)| format!(" ({c} {r})")).unwrap_or_default())]
    Closed(Option<(u16, String)>),
    /// The server answered a request with an `error` frame.
    #[error("refused by the server: {0}")]
    Refused(String),
}

/// A `job_status` or `job_complete` event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct JobEvent {
    /// The job.
    pub job_id: String,
    /// `pending` | `running` | `completed` | `failed` | `cancelled` | `timeout`.
    pub status: String,
    /// 0–100.
    pub progress: u8,
    /// Current step, human-readable.
    #[serde(default)]
    pub message: String,
    /// RFC 3339 UTC.
    #[serde(default)]
    pub timestamp: String,
    /// The failure code (`job_complete` of a failed job).
    #[serde(default)]
    pub error_code: Option<String>,
    /// The job's operation, when the server sends it.
    #[serde(default)]
    pub operation: Option<String>,
}

/// A frame from the server.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerFrame {
    /// Progress of a running (or pending) job.
    JobStatus(JobEvent),
    /// The job ended; its status is terminal.
    JobComplete(JobEvent),
    /// A subscription was accepted (`None` = all jobs).
    Subscribed(Option<String>),
    /// A subscription was dropped (`None` = all of them).
    Unsubscribed(Option<String>),
    /// The answer to `ping`.
    Pong,
    /// A request was refused; the connection stays open.
    Error(String),
    /// Anything else, kept as sent.
    Other(Value),
}

impl ServerFrame {
    /// Parses one text frame.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        let value: Value = serde_json::from_str(text)?;
        let id = |v: &Value| v["job_id"].as_str().map(str::to_owned);
        Ok(match value["event"].as_str() {
            Some("job_status") => ServerFrame::JobStatus(serde_json::from_value(value)?),
            Some("job_complete") => ServerFrame::JobComplete(serde_json::from_value(value)?),
            Some("subscribed") => ServerFrame::Subscribed(id(&value)),
            Some("unsubscribed") => ServerFrame::Unsubscribed(id(&value)),
            Some("pong") => ServerFrame::Pong,
            Some("error") => {
                ServerFrame::Error(value["message"].as_str().unwrap_or_default().to_owned())
            }
            _ => ServerFrame::Other(value),
        })
    }
}

/// An open job events socket, over a TCP stream (`T`: any byte stream a caller connected itself, e.g. the
/// fan-out benchmark's, which records kernel receive times).
pub struct JobSocket<T = TcpStream> {
    ws: WebSocketStream<TlsStream<T>>,
    /// Frames read while waiting for an acknowledgement, handed out first by `next_frame`.
    pending: VecDeque<ServerFrame>,
}

impl<T> std::fmt::Debug for JobSocket<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobSocket").finish_non_exhaustive()
    }
}

/// Where a base URL (`https://host:port[/prefix]`) points.
struct Endpoint {
    /// Host as written in the URL (IPv6 in brackets), for the WebSocket URL.
    authority: String,
    /// Host without brackets, for the socket address.
    address: String,
    port: u16,
    /// The name the server certificate must carry.
    server_name: ServerName<'static>,
    /// Path prefix without a trailing slash.
    prefix: String,
}

impl Endpoint {
    fn parse(base: &str) -> Result<Self, WsError> {
        let bad_url = || WsError::Url(base.to_owned());
        let url = Url::parse(base).map_err(|_| bad_url())?;
        if url.scheme() != "https" {
            return Err(bad_url());
        }
        let port = url.port_or_known_default().ok_or_else(bad_url)?;
        let authority = url.host_str().ok_or_else(bad_url)?.to_owned();
        // `host_str` keeps IPv6 brackets; the socket address and the certificate name need the bare address.
        let address = authority
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let server_name = match address.parse::<std::net::IpAddr>() {
            Ok(ip) => ServerName::IpAddress(ip.into()),
            Err(_) => ServerName::try_from(address.clone()).map_err(|_| bad_url())?,
        };
        Ok(Endpoint {
            prefix: url.path().trim_end_matches('/').to_owned(),
            authority,
            address,
            port,
            server_name,
        })
    }
}

impl JobSocket {
    /// Connects to `base` (`https://host:port`) with the client's TLS configuration.
    pub(crate) async fn connect(
        base: &str,
        tls: Arc<rustls::ClientConfig>,
    ) -> Result<Self, WsError> {
        let endpoint = Endpoint::parse(base)?;
        let tcp = TcpStream::connect((endpoint.address.as_str(), endpoint.port)).await?;
        tcp.set_nodelay(true)?;
        Self::handshake(&endpoint, tls, tcp).await
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> JobSocket<T> {
    /// TLS and the WebSocket handshake over `transport`, already connected to `base`'s host and port.
    pub(crate) async fn over(
        base: &str,
        tls: Arc<rustls::ClientConfig>,
        transport: T,
    ) -> Result<Self, WsError> {
        Self::handshake(&Endpoint::parse(base)?, tls, transport).await
    }

    async fn handshake(
        endpoint: &Endpoint,
        tls: Arc<rustls::ClientConfig>,
        transport: T,
    ) -> Result<Self, WsError> {
        let stream = TlsConnector::from(tls)
            .connect(endpoint.server_name.clone(), transport)
            .await?;
        let ws_url = format!(
            "wss://{}:{}{}{WS_PATH}",
            endpoint.authority, endpoint.port, endpoint.prefix
        );
        let (ws, _response) = tokio_tungstenite::client_async(ws_url, stream).await?;
        Ok(JobSocket {
            ws,
            pending: VecDeque::new(),
        })
    }

    /// Sends a text frame as is (for tests of the server's input handling).
    pub async fn send_text(&mut self, text: &str) -> Result<(), WsError> {
        self.ws.send(Message::text(text)).await?;
        Ok(())
    }

    async fn request(&mut self, body: Value) -> Result<(), WsError> {
        self.send_text(&body.to_string()).await
    }

    /// Subscribes to one job and waits for the server's acknowledgement.
    pub async fn subscribe(&mut self, job_id: &str) -> Result<(), WsError> {
        self.request(json!({"type": "subscribe", "job_id": job_id}))
            .await?;
        self.await_ack(|f| matches!(f, ServerFrame::Subscribed(Some(id)) if id == job_id))
            .await
    }

    /// Subscribes to every job and waits for the acknowledgement.
    pub async fn subscribe_all(&mut self) -> Result<(), WsError> {
        self.request(json!({"type": "subscribe_all"})).await?;
        self.await_ack(|f| matches!(f, ServerFrame::Subscribed(None)))
            .await
    }

    /// Drops the subscription to one job and waits for the acknowledgement.
    pub async fn unsubscribe(&mut self, job_id: &str) -> Result<(), WsError> {
        self.request(json!({"type": "unsubscribe", "job_id": job_id}))
            .await?;
        self.await_ack(|f| matches!(f, ServerFrame::Unsubscribed(Some(id)) if id == job_id))
            .await
    }

    /// Sends `ping` and waits for `pong`.
    pub async fn ping(&mut self) -> Result<(), WsError> {
        self.request(json!({"type": "ping"})).await?;
        self.await_ack(|f| matches!(f, ServerFrame::Pong)).await
    }

    async fn await_ack(&mut self, is_ack: impl Fn(&ServerFrame) -> bool) -> Result<(), WsError> {
        loop {
            let frame = self.read().await?;
            if is_ack(&frame) {
                return Ok(());
            }
            if let ServerFrame::Error(message) = frame {
                return Err(WsError::Refused(message));
            }
            self.pending.push_back(frame);
        }
    }

    /// The next frame from the server (control frames are handled by tungstenite and skipped).
    pub async fn next_frame(&mut self) -> Result<ServerFrame, WsError> {
        match self.pending.pop_front() {
            Some(frame) => Ok(frame),
            None => self.read().await,
        }
    }

    /// The next `job_status` / `job_complete` event of `job_id`, skipping everything else.
    pub async fn next_job_event(&mut self, job_id: &str) -> Result<JobEvent, WsError> {
        loop {
            match self.next_frame().await? {
                ServerFrame::JobStatus(e) | ServerFrame::JobComplete(e) if e.job_id == job_id => {
                    return Ok(e);
                }
                _ => {}
            }
        }
    }

    async fn read(&mut self) -> Result<ServerFrame, WsError> {
        loop {
            let Some(message) = self.ws.next().await else {
                return Err(WsError::Closed(None));
            };
            match message? {
                Message::Text(text) => {
                    return Ok(ServerFrame::parse(&text)
                        .unwrap_or_else(|_| ServerFrame::Other(Value::String(text.to_string()))));
                }
                Message::Close(frame) => {
                    return Err(WsError::Closed(
                        frame.map(|f| (u16::from(f.code), f.reason.to_string())),
                    ));
                }
                // Pings are answered by tungstenite while we read; nothing else is expected.
                _ => {}
            }
        }
    }

    /// Closes the socket politely.
    pub async fn close(mut self) -> Result<(), WsError> {
        self.ws.close(None).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_frames_parse_into_their_variants() {
        let complete = ServerFrame::parse(
            r#"{"event":"job_complete","job_id":"j","status":"failed","progress":100,"message":"m","timestamp":"t","error_code":"PKG_NOT_FOUND"}"#,
        )
        .unwrap();
        let ServerFrame::JobComplete(event) = complete else {
            panic!("{complete:?}");
        };
        assert_eq!(event.error_code.as_deref(), Some("PKG_NOT_FOUND"));
        assert_eq!(event.progress, 100);
        assert_eq!(
            ServerFrame::parse(r#"{"event":"subscribed","job_id":null,"all":true}"#).unwrap(),
            ServerFrame::Subscribed(None)
        );
        assert_eq!(
            ServerFrame::parse(r#"{"event":"error","message":"bad"}"#).unwrap(),
            ServerFrame::Error("bad".into())
        );
        assert!(matches!(
            ServerFrame::parse(r#"{"event":"new_kind"}"#).unwrap(),
            ServerFrame::Other(_)
        ));
        assert!(ServerFrame::parse("{").is_err());
    }
}
