//! Package-manager backends behind one interface, [`PackageManager`]: what each reads, which table
//! commands a change needs, and what their output means. [`open`] picks the implementation for the
//! backend chosen at start ([`crate::detect`]).

pub mod apk;
pub mod apt;
pub mod dnf;
pub mod file_stamp;
mod judge;
pub mod lock_wait;
pub mod manager;
pub mod pacman;
pub mod support;

pub use judge::{Evidence, Phase, Verdict};
pub use manager::{BoxFuture, Change, PackageManager, Tracker};

use crate::broker::launcher_client::LauncherClient;
use lpa_protocol::Backend;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Why a backend could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("the {backend} backend is not available in this build of the helper")]
pub struct OpenError {
    /// The backend asked for.
    pub backend: &'static str,
}

/// Whether this build has an implementation of `backend` (checked at start, before forking).
pub fn available(backend: Backend) -> bool {
    matches!(
        backend,
        Backend::Apt | Backend::Dnf | Backend::Yum | Backend::Pacman | Backend::Apk
    )
}

/// The package manager for `backend` on `package_root`, running commands through `launcher`; a dnf read
/// waits out a busy lock for at most `lock_timeout` ([`lock_wait`]).
pub fn open(
    backend: Backend,
    package_root: &Path,
    launcher: LauncherClient,
    lock_timeout: Duration,
) -> Result<Arc<dyn PackageManager>, OpenError> {
    match backend {
        Backend::Apt => Ok(Arc::new(apt::AptManager::new(package_root, launcher))),
        Backend::Apk => Ok(Arc::new(apk::manager::ApkManager::new(
            package_root,
            launcher,
        ))),
        Backend::Pacman => Ok(Arc::new(pacman::PacmanManager::new(package_root, launcher))),
        b @ (Backend::Dnf | Backend::Yum) => Ok(Arc::new(dnf::DnfManager::new(
            b,
            package_root,
            launcher,
            lock_timeout,
        ))),
        other => Err(OpenError {
            backend: other.as_str(),
        }),
    }
}
