//! The HTTP layer: request ids, limits, routing, the envelope, and errors.
//!
//! [`handle`] is what the listener calls for every request on an authenticated connection. In order it:
//! assigns a request id (UUID v4), refuses a declared body above `max_body_bytes` (413), checks the raw path
//! and routes it ([`router`], [`path`]: 400/404/405), reads the body under [`http_body_util::Limited`] and a
//! deadline ([`body`]: 413/408), parses the query strictly ([`query`]), calls the endpoint in [`crate::api`],
//! and wraps the result in the envelope ([`envelope`]). Every failure is an [`ApiError`], converted to a
//! response in exactly one place ([`envelope::failure`]).

pub mod body;
pub mod envelope;
pub mod error;
pub mod path;
pub mod query;
pub mod router;

use crate::conn::ConnInfo;
use crate::helper_client::HelperClient;
use bytes::Bytes;
pub use error::ApiError;
use http_body_util::Full;
use hyper::body::Body;
use query::Query;
use router::Router;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Most header lines in one request; more gets an enveloped 431.
pub const MAX_HEADERS: usize = 64;
/// Most bytes of request line plus headers; more gets an enveloped 431 (beyond 64 KiB hyper's parser answers
/// 431 itself, enveloped on its way out by `listener::automatic`).
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Refuses a request head over [`MAX_HEADERS`] lines or [`MAX_HEAD_BYTES`] bytes (431).
pub fn check_head<B>(req: &hyper::Request<B>) -> Result<(), ApiError> {
    let headers = req.headers();
    // "METHOD URI HTTP/1.1\r\n" plus "name: value\r\n" per line, as the client sent them.
    let bytes = req.method().as_str().len()
        + req.uri().to_string().len()
        + 11
        + headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum::<usize>();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEAD_BYTES {
        return Err(ApiError::HeadersTooLarge {
            max_headers: MAX_HEADERS,
            max_bytes: MAX_HEAD_BYTES,
        });
    }
    Ok(())
}

/// Settings the API layer needs, derived from config.yaml by the binary.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Path of the helper's Unix socket.
    pub helper_socket: PathBuf,
    /// How long one helper request may take.
    pub helper_timeout: Duration,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// How long reading a request body may take.
    pub body_timeout: Duration,
    /// Expiry of the server certificate, for the health check.
    pub server_cert_not_after: Option<time::OffsetDateTime>,
    /// The job manager's settings (state directory, limits, timeout, cache freshness).
    pub jobs: crate::jobs::JobSettings,
    /// `websocket.allowed_origins`, normalised (`crate::api::ws::origin::normalise`).
    pub websocket_origins: Vec<String>,
    /// Whether `/health` reports a non-empty capability bounding set as degraded. True for the daemon; the
    /// in-process unit tests, which run inside the test binary (as root, with its full bounding set), turn
    /// it off.
    pub require_empty_bounding_set: bool,
}

impl Default for ApiSettings {
    /// The defaults of `config.yaml`, with jobs kept in memory (`jobs.state_dir` unset).
    fn default() -> Self {
        ApiSettings {
            helper_socket: PathBuf::from("/run/linux-patch-api/helper.sock"),
            helper_timeout: Duration::from_secs(120),
            max_body_bytes: 1024 * 1024,
            body_timeout: Duration::from_secs(30),
            server_cert_not_after: None,
            jobs: crate::jobs::JobSettings::default(),
            websocket_origins: Vec::new(),
            require_empty_bounding_set: true,
        }
    }
}

/// Shared state of the API layer.
#[derive(Debug)]
pub struct AppState {
    /// Settings.
    pub settings: ApiSettings,
    /// The connection to the helper's broker (shared with the job manager).
    pub helper: Arc<HelperClient>,
    /// When the service started, for `uptime_seconds`.
    pub started: Instant,
    /// The merged package list, reused while the helper's package-state fingerprint is unchanged.
    pub packages: crate::api::packages::PackageCache,
    /// Every job, and the broadcast of their updates.
    pub jobs: Arc<crate::jobs::JobManager>,
    /// Open WebSocket sessions (`/api/v1/ws/jobs`), ended by the listener's graceful shutdown.
    pub websockets: crate::api::ws::Sessions,
    /// Refused connections, counted by the listener and shown by `/health`.
    pub refusals: crate::listener::refusals::Refusals,
    /// Hot-reload state: problems for `/health`, live connections by client serial.
    pub reload: Arc<crate::reload::State>,
    /// The helper's liveness, confinement and host facts, kept current for `/health` and `/system/info`.
    pub health: Arc<crate::api::health_state::HealthState>,
    router: Router,
}

impl AppState {
    /// Builds the state and loads the job history. Does not connect to the helper and starts nothing: call
    /// [`crate::jobs::JobManager::start`] on `jobs` inside the runtime to run jobs and recovery.
    pub fn new(settings: ApiSettings) -> Arc<Self> {
        let helper = Arc::new(HelperClient::new(
            settings.helper_socket.clone(),
            settings.helper_timeout,
        ));
        let jobs = Arc::new(crate::jobs::JobManager::new(
            settings.jobs.clone(),
            helper.clone(),
        ));
        Arc::new(AppState {
            settings,
            helper,
            started: Instant::now(),
            packages: Default::default(),
            jobs,
            websockets: Default::default(),
            refusals: Default::default(),
            reload: Default::default(),
            health: Default::default(),
            router: Router::new(),
        })
    }
}

/// Serves one request.
pub async fn handle(
    state: Arc<AppState>,
    conn: Arc<ConnInfo>,
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    // The WebSocket upgrade needs the request itself (hyper's upgrade handle lives in its extensions).
    if req.uri().path() == crate::api::ws::PATH && check_head(&req).is_ok() {
        return Ok(crate::api::ws::accept(state, &conn, req));
    }
    Ok(respond(&state, &conn, req).await)
}

/// [`handle`] for any body type, so tests can call it without a socket.
pub async fn respond<B>(
    state: &AppState,
    conn: &ConnInfo,
    req: hyper::Request<B>,
) -> hyper::Response<Full<Bytes>>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let request_id = Uuid::new_v4();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let result = serve(state, conn, req).await;
    let response = match result {
        Ok(reply) => envelope::success_with_status(reply.status, request_id, &reply.data),
        Err(err) => {
            if err.status().is_server_error() {
                tracing::warn!(%request_id, code = err.code(), error = %err, "request failed");
            }
            envelope::failure(request_id, &err)
        }
    };
    tracing::info!(
        %request_id,
        peer = %conn.peer,
        client_cn = conn.identity.common_name.as_deref().unwrap_or("-"),
        %method,
        path = %error::sanitize(&path),
        status = response.status().as_u16(),
        "request"
    );
    response
}

async fn serve<B>(
    state: &AppState,
    conn: &ConnInfo,
    req: hyper::Request<B>,
) -> Result<crate::api::Reply, ApiError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let limit = state.settings.max_body_bytes;
    // A request refused here is answered before its body is read; the listener's lingering close then
    // drains what the client still sends, so the answer is not lost to a TCP reset.
    check_head(&req)?;
    body::check_declared_length(req.headers(), limit)?;
    let endpoint = state.router.resolve(req.method(), req.uri().path())?;
    let query = Query::parse(req.uri().query())?;
    let content_type = req.headers().get(http::header::CONTENT_TYPE).cloned();
    // Always read (bounded), so an oversized upload is 413 even where the endpoint takes no body.
    let body = body::read(req.into_body(), limit, state.settings.body_timeout).await?;
    body::check_media_type(content_type.as_ref(), &body)?;
    let request = crate::api::Request {
        query: &query,
        body: &body,
        conn,
    };
    crate::api::dispatch(state, endpoint, &request).await
}

#[cfg(test)]
mod tests;
