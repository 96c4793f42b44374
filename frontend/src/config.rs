//! `config.yaml` and `whitelist.yaml`: schema, defaults, validation with file/line/key messages.
//!
//! Every key has a default, so an empty file is a valid configuration (it still needs the certificate files
//! at their default paths). Values are checked after parsing and *all* problems are reported at once, each as
//! `file: line N: key: message`. Keys the schema does not know are ignored with a warning naming file, line
//! and key, so configuration files written for other versions keep working; `--check-config` lists them and
//! fails. docs/config.md documents every key.
//!
//! Reload: the structures are plain values; [`crate::reload`] re-runs [`load`] on a change and applies the
//! reloadable keys (`logging.level`, `tls.crl_expired`); every other key needs a restart.

mod document;
mod error;
mod validate;
mod whitelist_file;
mod yaml_index;

pub use error::{ConfigError, Issue, UnknownKey};
pub use whitelist_file::{LoadedWhitelist, load_whitelist, parse_whitelist};

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The whole `config.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// TCP listener and HTTP limits.
    pub server: ServerSection,
    /// Certificate files.
    pub tls: TlsSection,
    /// Where the IP whitelist lives.
    pub whitelist: WhitelistSection,
    /// The helper's Unix socket.
    pub helper: HelperSection,
    /// Directory for job history and cache state (frontend-owned). Default `/var/lib/linux_patch_api`.
    pub state_dir: PathBuf,
    /// Job manager limits.
    pub jobs: JobsSection,
    /// Log output.
    pub logging: LoggingSection,
    /// Package cache freshness.
    pub cache: CacheSection,
    /// Self-confinement at start.
    pub security: SecuritySection,
    /// The job WebSocket.
    pub websocket: WebsocketSection,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            server: ServerSection::default(),
            tls: TlsSection::default(),
            whitelist: WhitelistSection::default(),
            helper: HelperSection::default(),
            state_dir: PathBuf::from("/var/lib/linux_patch_api"),
            jobs: JobsSection::default(),
            logging: LoggingSection::default(),
            cache: CacheSection::default(),
            security: SecuritySection::default(),
            websocket: WebsocketSection::default(),
        }
    }
}

/// `server:` — the TCP listener and per-connection limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerSection {
    /// Address to bind (an IP address, v4 or v6). Ignored under socket activation. Default `0.0.0.0`.
    pub bind: IpAddr,
    /// TCP port, 1–65535. Ignored under socket activation. Default `12443`.
    pub port: u16,
    /// Connections served at once (including handshakes); more are closed without a byte. Default `512`.
    pub max_connections: usize,
    /// Seconds a TLS handshake may take before the connection is dropped. Default `10`.
    pub handshake_timeout_seconds: u64,
    /// Seconds allowed to read a request head (also caps idle keep-alive) and, separately, a request body.
    /// Default `30`.
    pub request_timeout_seconds: u64,
    /// Largest accepted request body in bytes; larger bodies get 413. Default `1048576` (1 MiB).
    pub max_body_bytes: usize,
    /// Connections without a completed TLS handshake one source address may hold at once. Default `16`.
    pub max_unauthenticated_per_source: usize,
    /// Seconds a new connection may stay silent before it is closed (the handshake then has the rest of
    /// `handshake_timeout_seconds`). Default `3`.
    pub silent_timeout_seconds: u64,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 12443,
            max_connections: 512,
            handshake_timeout_seconds: 10,
            request_timeout_seconds: 30,
            max_body_bytes: 1024 * 1024,
            max_unauthenticated_per_source: 16,
            silent_timeout_seconds: 3,
        }
    }
}

impl ServerSection {
    /// The address to bind when not socket-activated.
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.bind, self.port)
    }

    /// [`Self::handshake_timeout_seconds`] as a duration.
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.handshake_timeout_seconds)
    }

    /// [`Self::request_timeout_seconds`] as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_seconds)
    }
}

/// `tls:` — PEM files of the server identity and of the CA that signs client certificates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TlsSection {
    /// CA certificate(s) that client certificates must chain to. Default `/etc/linux_patch_api/certs/ca.pem`.
    pub ca_cert: PathBuf,
    /// Server certificate chain, leaf first. Default `/etc/linux_patch_api/certs/server.pem`.
    pub server_cert: PathBuf,
    /// Server private key (PKCS#8, PKCS#1 or SEC1). Default `/etc/linux_patch_api/certs/server.key`.
    pub server_key: PathBuf,
    /// Optional CRL(s) issued by the CA; when set, revoked client certificates are refused. Default none.
    pub crl_path: Option<PathBuf>,
    /// What a CRL past its `nextUpdate` means: `refuse` (default) refuses every client certificate until a
    /// fresh CRL is installed, as strict verifiers do; `warn` keeps using it and reports it in `/health`.
    pub crl_expired: CrlExpired,
}

/// `tls.crl_expired`: the policy for a CRL whose `nextUpdate` has passed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrlExpired {
    /// Fail closed: an out-of-date CRL cannot say a certificate is still good, so every handshake fails.
    #[default]
    Refuse,
    /// Keep accepting certificates the stale CRL does not list; log and report it.
    Warn,
}

impl CrlExpired {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CrlExpired::Refuse => "refuse",
            CrlExpired::Warn => "warn",
        }
    }
}

impl Default for TlsSection {
    fn default() -> Self {
        TlsSection {
            ca_cert: PathBuf::from("/etc/linux_patch_api/certs/ca.pem"),
            server_cert: PathBuf::from("/etc/linux_patch_api/certs/server.pem"),
            server_key: PathBuf::from("/etc/linux_patch_api/certs/server.key"),
            crl_path: None,
            crl_expired: CrlExpired::Refuse,
        }
    }
}

/// `whitelist:` — where the IP whitelist lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WhitelistSection {
    /// Path of `whitelist.yaml`. Unreadable or invalid means deny all. Default
    /// `/etc/linux_patch_api/whitelist.yaml`.
    pub path: PathBuf,
}

impl Default for WhitelistSection {
    fn default() -> Self {
        WhitelistSection {
            path: PathBuf::from("/etc/linux_patch_api/whitelist.yaml"),
        }
    }
}

/// `helper:` — the connection to the root helper's broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HelperSection {
    /// The broker's Unix socket. Default `/run/linux-patch-api/helper.sock`.
    pub socket: PathBuf,
    /// Seconds one helper request may take. Default `120`.
    pub request_timeout_seconds: u64,
}

impl Default for HelperSection {
    fn default() -> Self {
        HelperSection {
            socket: PathBuf::from("/run/linux-patch-api/helper.sock"),
            request_timeout_seconds: 120,
        }
    }
}

/// `jobs:` — job manager limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobsSection {
    /// Read-only helper work the job manager does at once (package-changing jobs always run one at a time).
    /// Default `5`.
    pub max_concurrent: u32,
    /// Minutes before a running job is timed out. Default `30`.
    pub timeout_minutes: u64,
    /// Seconds before a running job is timed out; overrides `timeout_minutes` when set (short timeouts in
    /// tests and demos). Default none.
    pub timeout_seconds: Option<u64>,
    /// Unfinished jobs (pending or running) beyond which new ones get `QUEUE_FULL`. Default `100`.
    pub max_queue_depth: u32,
    /// Finished jobs kept in the history; the oldest are removed beyond it. Default `1000`.
    pub history_limit: u64,
}

impl Default for JobsSection {
    fn default() -> Self {
        JobsSection {
            max_concurrent: 5,
            timeout_minutes: 30,
            timeout_seconds: None,
            max_queue_depth: 100,
            history_limit: 1000,
        }
    }
}

impl JobsSection {
    /// The job timeout.
    pub fn timeout(&self) -> Duration {
        match self.timeout_seconds {
            Some(seconds) => Duration::from_secs(seconds),
            None => Duration::from_secs(self.timeout_minutes.saturating_mul(60)),
        }
    }
}

/// `logging:` — log output (stderr; the journal captures it under systemd).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoggingSection {
    /// A `tracing` filter: `error`, `warn`, `info`, `debug`, `trace` or directives such as
    /// `info,lpa_frontend=debug`. `RUST_LOG` overrides it. Default `info`.
    pub level: String,
}

impl Default for LoggingSection {
    fn default() -> Self {
        LoggingSection {
            level: "info".to_string(),
        }
    }
}

/// `cache:` — package cache freshness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CacheSection {
    /// Hours after which the package cache counts as stale and a health check refreshes it. Default `4`.
    pub stale_after_hours: u64,
}

impl Default for CacheSection {
    fn default() -> Self {
        CacheSection {
            stale_after_hours: 4,
        }
    }
}

/// `security:` — how the daemon confines itself at start (capabilities, no_new_privs, Landlock, seccomp).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecuritySection {
    /// `strict` (default): a confinement step the kernel cannot provide stops the daemon from starting.
    /// `best_effort`: the daemon starts, logs a warning and `/health` reports `degraded`.
    pub confinement: lpa_confine::Policy,
    /// Lowest kernel Landlock ABI accepted (1 = any Landlock). Raise it to demand newer Landlock
    /// features; a value above the kernel's makes the Landlock step fail, which is also how tests prove
    /// the `strict`/`best_effort` behaviour. Default `1`.
    pub landlock_min_abi: u32,
}

impl Default for SecuritySection {
    fn default() -> Self {
        SecuritySection {
            confinement: lpa_confine::Policy::Strict,
            landlock_min_abi: 1,
        }
    }
}

/// `websocket:` — the job WebSocket (`/api/v1/ws/jobs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WebsocketSection {
    /// Origins (`https://host[:port]`) whose pages may open the WebSocket besides the service's own origin;
    /// an upgrade with any other `Origin` is refused (403). Default none.
    pub allowed_origins: Vec<String>,
    /// WebSocket sessions one client certificate may hold at once; more get 503 `TOO_MANY_SESSIONS`.
    /// Default `128`.
    pub max_sessions_per_identity: usize,
}

impl Default for WebsocketSection {
    fn default() -> Self {
        WebsocketSection {
            allowed_origins: Vec::new(),
            max_sessions_per_identity: crate::api::ws::DEFAULT_MAX_SESSIONS_PER_IDENTITY,
        }
    }
}

/// A validated configuration plus the keys that were ignored.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The configuration.
    pub config: Config,
    /// Keys not in the schema (warnings; `--check-config` fails on them).
    pub unknown_keys: Vec<UnknownKey>,
}

/// Reads, parses and validates `config.yaml` at `path`.
pub fn load(path: &Path) -> Result<LoadedConfig, ConfigError> {
    let doc = document::read::<Config>(path)?;
    validate::validate(path, &doc.value, &doc.index)?;
    Ok(LoadedConfig {
        config: doc.value,
        unknown_keys: doc.unknown_keys,
    })
}

/// Parses and validates `text` as the content of `path` (file checks still touch the file system).
pub fn parse(path: &Path, text: &str) -> Result<LoadedConfig, ConfigError> {
    let doc = document::parse::<Config>(path, text)?;
    validate::validate(path, &doc.value, &doc.index)?;
    Ok(LoadedConfig {
        config: doc.value,
        unknown_keys: doc.unknown_keys,
    })
}

#[cfg(test)]
mod tests;
