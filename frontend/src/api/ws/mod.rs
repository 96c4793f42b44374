//! `GET /api/v1/ws/jobs`: live job progress over a WebSocket (API.md "WebSocket").
//!
//! A client subscribes to single jobs or to all of them and then receives `job_status` / `job_complete`
//! frames for exactly what it subscribed to. Principal pieces:
//! - [`accept`]: the HTTP side of the upgrade. It refuses (403) an `Origin` other than the service's own or a
//!   configured one ([`origin`]): a browser always sends its page's origin, and a browser that holds an
//!   operator's client certificate must not be driven into cross-site WebSocket hijacking.
//! - [`Sessions`]: the task tracker and shutdown token of every open socket, so graceful shutdown ends them.
//! - `session`: one connection's loop: a per-connection filter over the job manager's broadcast, a bounded
//!   outgoing queue, server pings and dead-peer detection.
//! - `frames`: what clients may send and what the server answers, as typed values.
//! - `hub`: encodes each job update once and fans the shared bytes out to every session.
//!
//! Memory per connection is bounded: a client that does not keep up (its outgoing queue is full, or it fell
//! behind the broadcast channel) is closed with code 1008 "too slow" instead of being buffered for. That
//! includes a peer that only sends pings and never reads their pongs: tungstenite's write buffer is capped
//! (`MAX_WRITE_BUFFER_SIZE`) and each client ping goes through the session's queue (`session` module docs).

mod frames;
mod hub;
pub mod origin;
mod session;
mod sessions;
mod subscriptions;

#[cfg(test)]
mod tests;

pub use sessions::{DEFAULT_MAX_SESSIONS_PER_IDENTITY, Sessions};

use crate::conn::{ConnInfo, ConnectionSlot};
use crate::http::envelope::{self, REQUEST_ID_HEADER};
use crate::http::{ApiError, AppState};
use bytes::Bytes;
use http::{HeaderValue, Method, Response, StatusCode, header};
use http_body_util::Full;
use hyper_tungstenite::tungstenite::protocol::WebSocketConfig;
use std::sync::Arc;
use uuid::Uuid;

/// The one WebSocket path.
pub const PATH: &str = "/api/v1/ws/jobs";

/// Largest message a client may send (client frames are a few dozen bytes).
const MAX_MESSAGE_SIZE: usize = 64 * 1024;
/// Largest single frame a client may send.
const MAX_FRAME_SIZE: usize = 16 * 1024;
/// Initial read buffer per connection; small because client frames are tiny and there may be many sockets.
const READ_BUFFER_SIZE: usize = 4 * 1024;
/// Bytes buffered before tungstenite writes to the socket.
const WRITE_BUFFER_SIZE: usize = 16 * 1024;
/// Most bytes tungstenite may hold for a socket that does not take them (its default is unbounded). Room for
/// the write buffer plus the largest frame the server sends (job frames are well under 4 KiB); past it,
/// tungstenite refuses to buffer more (a pong waits in its single slot instead), so a peer that does not read
/// costs at most this much, and the session's queue fills and closes it (`session` module docs).
const MAX_WRITE_BUFFER_SIZE: usize = 256 * 1024;

fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_SIZE)
        .write_buffer_size(WRITE_BUFFER_SIZE)
        .max_write_buffer_size(MAX_WRITE_BUFFER_SIZE)
        .max_message_size(Some(MAX_MESSAGE_SIZE))
        .max_frame_size(Some(MAX_FRAME_SIZE))
}

/// Answers a request for [`PATH`]: 101 and a session on [`AppState::websockets`] for a valid upgrade; 405 for
/// another method, 403 for an `Origin` that is neither the service's own nor configured, 400 when it is not a
/// WebSocket upgrade, 503 `TOO_MANY_SESSIONS` (with `Retry-After`) when the client certificate already holds
/// `websocket.max_sessions_per_identity` sessions. Every
/// refusal is an envelope.
pub fn accept<B>(
    state: Arc<AppState>,
    conn: &ConnInfo,
    mut req: hyper::Request<B>,
) -> Response<Full<Bytes>> {
    let request_id = Uuid::new_v4();
    let refusal = if req.method() != Method::GET {
        Some(envelope::failure(
            request_id,
            &ApiError::MethodNotAllowed {
                method: req.method().as_str().to_owned(),
                allow: vec![Method::GET],
            },
        ))
    } else if !origin_allowed(&req, &state.settings.websocket_origins) {
        Some(origin_refused(request_id))
    } else if !hyper_tungstenite::is_upgrade_request(&req) {
        Some(envelope::failure(
            request_id,
            &invalid(
                "this endpoint only serves WebSocket upgrades (Connection: Upgrade, Upgrade: websocket)",
            ),
        ))
    } else {
        None
    };
    // The identity's place is taken before the upgrade so that the refusal can still be an HTTP answer.
    let admitted = match refusal {
        Some(response) => Err(response),
        None => state
            .websockets
            .admit(&conn.identity.fingerprint_sha256)
            .map_err(|limit| envelope::failure(request_id, &ApiError::TooManySessions { limit })),
    };
    let response = match admitted {
        Err(response) => response,
        Ok(identity_slot) => match hyper_tungstenite::upgrade(&mut req, Some(ws_config())) {
            Ok((response, upgrade)) => {
                let peer = conn.peer;
                let client = conn.identity.common_name.clone().unwrap_or_default();
                let sessions = state.websockets.clone();
                let connection_slot = req.extensions().get::<ConnectionSlot>().cloned();
                // Held for the session's life: a CRL revoking the client closes the session (crate::reload).
                let live = conn.live.clone();
                sessions.spawn(async move {
                    // Both held until the session ends.
                    let _slots = (identity_slot, connection_slot);
                    match upgrade.await {
                        Ok(ws) => {
                            tracing::info!(%peer, client_cn = %client, "WebSocket opened");
                            tokio::select! {
                                end = session::run(ws, &state) => {
                                    tracing::info!(%peer, client_cn = %client, reason = %end, "WebSocket closed");
                                }
                                () = live.revoked() => tracing::info!(
                                    %peer, client_cn = %client,
                                    "WebSocket closed: the reloaded CRL revokes the client certificate"
                                ),
                            }
                        }
                        Err(e) => tracing::debug!(%peer, error = %e, "WebSocket upgrade failed"),
                    }
                });
                response
            }
            Err(e) => envelope::failure(request_id, &invalid(&format!("WebSocket handshake: {e}"))),
        },
    };
    tracing::info!(
        %request_id,
        peer = %conn.peer,
        client_cn = conn.identity.common_name.as_deref().unwrap_or("-"),
        method = %req.method(),
        path = PATH,
        status = response.status().as_u16(),
        "request"
    );
    response
}

/// [`origin::allowed`] on the request's `Origin` and `Host` (a header that is not text counts as a foreign
/// origin).
fn origin_allowed<B>(req: &hyper::Request<B>, configured: &[String]) -> bool {
    let text = |name| {
        req.headers()
            .get(name)
            .map(|v: &HeaderValue| v.to_str().unwrap_or("\u{0}"))
    };
    origin::allowed(text(header::ORIGIN), text(header::HOST), configured)
}

fn invalid(message: &str) -> ApiError {
    ApiError::InvalidRequest {
        message: message.to_owned(),
        details: None,
    }
}

/// 403 `ORIGIN_NOT_ALLOWED` (an addition to the contract's codes): the request came from a browser page.
fn origin_refused(request_id: Uuid) -> Response<Full<Bytes>> {
    let body = serde_json::json!({
        "success": false,
        "request_id": request_id,
        "timestamp": envelope::now_rfc3339(),
        "data": null,
        "error": {
            "code": "ORIGIN_NOT_ALLOWED",
            "message": "WebSocket requests from another origin are refused (allowed: none, the service's own origin, websocket.allowed_origins)",
            "details": null,
            "retryable": false,
        },
    });
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = StatusCode::FORBIDDEN;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(id) = HeaderValue::from_str(&request_id.to_string()) {
        headers.insert(REQUEST_ID_HEADER, id);
    }
    response
}
