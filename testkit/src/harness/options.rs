//! What a [`Stack`](super::Stack) is started with.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use crate::fixtures::apt::Snapshot;
use crate::sandbox::SandboxKind;

/// How to start a [`Stack`](super::Stack). `StackOptions::default()` is what most tests want.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// Work directory; `None` makes a temporary one that is removed when the stack is dropped. The demo passes
    /// a fixed directory, which is kept.
    pub work_dir: Option<PathBuf>,
    /// Frontend TCP port; 0 picks a free one.
    pub port: u16,
    /// Frontend bind address. Default 127.0.0.1.
    pub bind: IpAddr,
    /// The package manager of the sandbox. Default apt.
    pub backend: SandboxKind,
    /// The fixture snapshot the sandbox starts on. Default v1.
    pub snapshot: Snapshot,
    /// Packages installed into the sandbox before the stack starts. Default none.
    pub preinstall: Vec<String>,
    /// `whitelist.yaml` entries. Default `["127.0.0.1", "::1"]`.
    pub whitelist: Vec<String>,
    /// Give the frontend `crl.pem` (which revokes `revoked-client`). Default true.
    pub use_crl: bool,
    /// The frontend's `logging.level` (an env-filter directive). Default `debug`, for useful failure logs.
    pub log_level: String,
    /// How long each process gets to become ready. Default 15 s.
    pub ready_timeout: Duration,
    /// The frontend's job settings (`jobs:` in config.yaml). Default: the production defaults.
    pub jobs: JobSettings,
    /// `server.max_connections`. Default 512.
    pub max_connections: u32,
    /// `server.request_timeout_seconds` (request head and body deadline). Default 30 (production's).
    pub request_timeout_seconds: u64,
    /// Extra lines of the frontend's `server:` section (`key: value`, for limits a test lowers). Default none.
    pub server_extra: Vec<String>,
    /// Extra top-level sections of the frontend's config.yaml (YAML text, e.g. `websocket:`). Default none.
    pub frontend_extra: String,
    /// The helper's `lock_timeout_seconds`: how long a change waits for a package manager's lock another
    /// process holds. Default 60 (production's).
    pub lock_timeout_seconds: u32,
}

/// The `jobs:` section the harness writes; tests shorten the timeout or the queue to reach those paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobSettings {
    /// `jobs.max_concurrent`.
    pub max_concurrent: u32,
    /// `jobs.timeout_seconds`: `None` keeps `timeout_minutes: 30`.
    pub timeout_seconds: Option<u64>,
    /// `jobs.max_queue_depth`.
    pub max_queue_depth: u32,
}

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings {
            max_concurrent: 5,
            timeout_seconds: None,
            max_queue_depth: 100,
        }
    }
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            work_dir: None,
            port: 0,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            backend: SandboxKind::Apt,
            snapshot: Snapshot::V1,
            preinstall: Vec::new(),
            whitelist: vec!["127.0.0.1".to_owned(), "::1".to_owned()],
            use_crl: true,
            log_level: "debug".to_owned(),
            ready_timeout: Duration::from_secs(15),
            jobs: JobSettings::default(),
            max_connections: 512,
            request_timeout_seconds: 30,
            server_extra: Vec::new(),
            frontend_extra: String::new(),
            lock_timeout_seconds: 60,
        }
    }
}
