//! Placeholder: the http layer is being written; this fixes the interface used by the listener.
use crate::conn::ConnInfo;
use bytes::Bytes;
use http_body_util::Full;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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
}

/// Shared state of the API layer.
#[derive(Debug)]
pub struct AppState {
    /// Settings.
    pub settings: ApiSettings,
}

impl AppState {
    /// Builds the state.
    pub fn new(settings: ApiSettings) -> Arc<Self> {
        Arc::new(AppState { settings })
    }
}

/// Serves one request.
pub async fn handle(
    _state: Arc<AppState>,
    _conn: Arc<ConnInfo>,
    _req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    Ok(hyper::Response::new(Full::new(Bytes::new())))
}
