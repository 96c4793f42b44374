//! The broker: the unprivileged half of the helper that faces the frontend.
//!
//! It accepts connections on the helper socket, admits only the configured peer uid
//! ([`peer::PeerPolicy`], checked with `SO_PEERCRED` before a single byte is read or written), speaks the
//! [`lpa_protocol`] conversation ([`session`]), answers operations ([`dispatch`]) by reading package
//! databases itself and asking the launcher ([`launcher_client`]) for table commands. Package-changing
//! operations run one at a time ([`change`]) and can be cancelled or aborted per request ([`control`]). It
//! runs as its own uid, never root and never the frontend's.

pub mod change;
pub mod control;
pub mod dispatch;
pub mod launcher_client;
pub mod peer;
pub mod session;

use dispatch::Services;
use lpa_protocol::Backend;
use peer::PeerPolicy;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What the broker needs to serve.
#[derive(Debug, Clone)]
pub struct BrokerSettings {
    /// Who may connect.
    pub peers: PeerPolicy,
    /// The backend in use.
    pub backend: Backend,
    /// The package root.
    pub package_root: PathBuf,
    /// How long a package manager's lock held by another process is waited out
    /// ([`crate::backend::lock_wait`]).
    pub lock_timeout: Duration,
}

/// Builds the runtime and serves `listener` forever (until killed). Call only after privileges were
/// dropped: this is where threads start.
pub fn run(
    listener: std::os::unix::net::UnixListener,
    launcher: std::os::unix::net::UnixStream,
    settings: BrokerSettings,
) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        listener.set_nonblocking(true)?;
        let listener = tokio::net::UnixListener::from_std(listener)?;
        let client = launcher_client::LauncherClient::start(launcher)?;
        let manager = crate::backend::open(
            settings.backend,
            &settings.package_root,
            client.clone(),
            settings.lock_timeout,
        )
        .map_err(std::io::Error::other)?;
        let services = Arc::new(Services::new(
            manager,
            settings.package_root,
            client,
            settings.lock_timeout,
        ));
        tracing::info!(backend = %settings.backend, "broker serving");
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let cred = match stream.peer_cred() {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "closing: no peer credentials");
                    continue;
                }
            };
            let pid = cred.pid().map_or_else(|| "?".to_owned(), |p| p.to_string());
            if !settings.peers.admits(cred.uid()) {
                tracing::warn!(uid = cred.uid(), pid = %pid, "refused peer: uid not allowed");
                drop(stream);
                continue;
            }
            let peer = format!("uid={} pid={pid}", cred.uid());
            tokio::spawn(session::serve(stream, services.clone(), peer));
        }
    })
}
