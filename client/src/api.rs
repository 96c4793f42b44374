//! The typed API client.

use crate::calls::Call;
use crate::credentials::Credentials;
use crate::envelope::Envelope;
use std::sync::Arc;

/// Why a call failed before an envelope could be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A certificate or key file is missing or invalid.
    #[error("credentials: {0}")]
    Credentials(String),
    /// The connection or TLS handshake failed, or the server closed without answering.
    #[error("transport: {0}")]
    Transport(#[from] reqwest::Error),
    /// The server answered something that is not an envelope.
    #[error("HTTP {status}: not an API envelope: {reason}")]
    NotAnEnvelope {
        /// HTTP status.
        status: u16,
        /// Parse error.
        reason: String,
    },
}

/// One answer: HTTP status, the `X-Request-Id` header and the envelope.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    /// HTTP status code.
    pub status: u16,
    /// The `X-Request-Id` header, if present.
    pub request_id_header: Option<String>,
    /// The `Allow` header, if present (405 answers).
    pub allow_header: Option<String>,
    /// The `Retry-After` header, if present (429 and retryable 503 answers).
    pub retry_after_header: Option<String>,
    /// The parsed body.
    pub envelope: Envelope,
}

impl ApiResponse {
    /// The error code, if the call failed.
    pub fn error_code(&self) -> Option<&str> {
        self.envelope.error.as_ref().map(|e| e.code.as_str())
    }

    /// `data` of the envelope.
    pub fn data(&self) -> &serde_json::Value {
        &self.envelope.data
    }
}

/// Query of `GET /api/v1/packages`; `None` fields are left out.
#[derive(Debug, Clone, Default)]
pub struct PackageQuery {
    /// `name` glob.
    pub name: Option<String>,
    /// `installed` | `upgradable` | `all`.
    pub status: Option<String>,
    /// Page size.
    pub limit: Option<u32>,
    /// Page start.
    pub offset: Option<u32>,
    /// `name` | `version` | `size`.
    pub sort: Option<String>,
    /// `asc` | `desc`.
    pub order: Option<String>,
}

impl PackageQuery {
    pub(crate) fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        let mut push = |k, v: &Option<String>| {
            if let Some(v) = v {
                q.push((k, v.clone()));
            }
        };
        push("name", &self.name);
        push("status", &self.status);
        push("sort", &self.sort);
        push("order", &self.order);
        if let Some(l) = self.limit {
            q.push(("limit", l.to_string()));
        }
        if let Some(o) = self.offset {
            q.push(("offset", o.to_string()));
        }
        q
    }
}

/// A client bound to one service and one identity.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    /// The same TLS configuration, for the WebSocket (which reqwest does not speak).
    tls: Arc<rustls::ClientConfig>,
}

impl ApiClient {
    /// Builds a client; fails if the certificate files are unusable.
    pub fn new(creds: &Credentials) -> Result<Self, ClientError> {
        let tls = crate::tls::client_config(creds)?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls.clone())
            .timeout(std::time::Duration::from_secs(120))
            .build()?;
        Ok(ApiClient {
            http,
            base: creds.url.trim_end_matches('/').to_owned(),
            tls: Arc::new(tls),
        })
    }

    /// The base URL, without a trailing slash.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// The TLS configuration (TLS 1.3, the configured CA, the client certificate).
    pub(crate) fn tls(&self) -> Arc<rustls::ClientConfig> {
        self.tls.clone()
    }

    /// Sends a prepared [`Call`] (see [`crate::calls`]).
    pub async fn call(&self, call: &Call) -> Result<ApiResponse, ClientError> {
        self.request(
            call.method.clone(),
            &call.path,
            &call.query,
            call.body.as_ref(),
        )
        .await
    }

    /// Sends `method path` with an optional JSON body. `path` starts with `/`.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<ApiResponse, ClientError> {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let request_id_header = header("x-request-id");
        let allow_header = header("allow");
        let retry_after_header = header("retry-after");
        let bytes = resp.bytes().await?;
        let envelope = serde_json::from_slice(&bytes).map_err(|e| ClientError::NotAnEnvelope {
            status,
            reason: e.to_string(),
        })?;
        Ok(ApiResponse {
            status,
            request_id_header,
            allow_header,
            retry_after_header,
            envelope,
        })
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Result<ApiResponse, ClientError> {
        self.request(reqwest::Method::GET, path, &[], None).await
    }

    /// `GET /api/v1/health`.
    pub async fn health(&self) -> Result<ApiResponse, ClientError> {
        self.get("/api/v1/health").await
    }

    /// `GET /api/v1/system/info`.
    pub async fn system_info(&self) -> Result<ApiResponse, ClientError> {
        self.get("/api/v1/system/info").await
    }

    /// `GET /api/v1/system/services/{name}` (the name is sent as given; the server validates it).
    pub async fn service(&self, name: &str) -> Result<ApiResponse, ClientError> {
        self.get(&format!("/api/v1/system/services/{name}")).await
    }

    /// `GET /api/v1/packages`.
    pub async fn packages(&self, query: &PackageQuery) -> Result<ApiResponse, ClientError> {
        self.request(
            reqwest::Method::GET,
            "/api/v1/packages",
            &query.pairs(),
            None,
        )
        .await
    }

    /// `GET /api/v1/packages/{name}` (sent as given; the server validates it).
    pub async fn package(&self, name: &str) -> Result<ApiResponse, ClientError> {
        self.get(&format!("/api/v1/packages/{name}")).await
    }
}
