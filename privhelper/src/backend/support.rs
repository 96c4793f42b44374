//! Small pieces every backend implementation uses.

use lpa_protocol::launcher::ExecOutput;
use lpa_protocol::{ChangeFailure, ExecFailure, FailureKind, HelperError};

/// Runs blocking file reads off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, HelperError> + Send + 'static,
) -> Result<T, HelperError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| HelperError::Internal {
            message: format!("worker failed: {e}"),
        })?
}

/// The error of a reading command that failed.
pub fn exec_error(out: &ExecOutput) -> HelperError {
    HelperError::Exec(ExecFailure {
        program: out.program.clone(),
        exit_code: out.exit_code,
        stderr: crate::system::service::tail(&out.stderr),
    })
}

/// A change refused before anything ran because a requested name or version matches no package exactly
/// (the exact-name resolution of every backend): `PKG_NOT_FOUND`, no output, no changes.
pub fn not_found(message: String) -> HelperError {
    HelperError::Change(ChangeFailure {
        kind: FailureKind::PackageNotFound,
        message,
        exit_code: None,
        stdout: String::new(),
        stderr: String::new(),
        changes: Vec::new(),
    })
}
