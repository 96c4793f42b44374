//! The one error type of the test kit.

use std::path::PathBuf;

/// Everything the kit can fail at. Messages are written for a developer reading a failed test: they say what
/// was attempted and, where a child process failed, what it printed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A program the kit runs exited unsuccessfully.
    #[error("`{command}` failed ({status}):\n{output}")]
    Command {
        /// The command line, for copy-paste.
        command: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// The tail of its stdout and stderr.
        output: String,
    },
    /// Debian tools the kit needs are not installed.
    #[error(transparent)]
    Prerequisites(#[from] crate::prereq::MissingPrerequisites),
    /// Generating certificates failed.
    #[error("PKI: {0}")]
    Pki(#[from] lpa_pki::PkiError),
    /// A product binary has not been built.
    #[error("binary {name} not found in {}: run `cargo build --workspace --bins` first", dir.display())]
    BinaryNotFound {
        /// The binary's name.
        name: String,
        /// Where it was looked for.
        dir: PathBuf,
    },
    /// Building the shared fixtures failed earlier in this process (the first error is repeated).
    #[error("apt fixtures could not be built: {0}")]
    Fixtures(String),
    /// A started process did not become ready, or exited.
    #[error("{what}\n{logs}")]
    Startup {
        /// What did not happen in time.
        what: String,
        /// Tails of the helper's and frontend's logs.
        logs: String,
    },
    /// A value the kit was given cannot be used (for example a path that is not UTF-8).
    #[error("{0}")]
    Invalid(String),
}

/// Result with the kit's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches a context line to an `io::Error`.
pub(crate) trait IoContext<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Io {
            context: what(),
            source,
        })
    }
}
