//! Errors and warnings of the configuration loaders, each naming the file, the line and the key.

use std::fmt;
use std::path::PathBuf;

/// One problem found in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Dotted key path (`server.port`), or the offending entry for list items.
    pub key: String,
    /// 1-based line in the file; `None` when the location is unknown or the key is not in the file (its
    /// default is at fault; the message then says so).
    pub line: Option<u64>,
    /// What is wrong, in words an operator can act on.
    pub message: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}: {}", self.key, self.message),
            None => write!(f, "{}: {}", self.key, self.message),
        }
    }
}

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid YAML, or a value has the wrong type.
    #[error("{}: {}", path.display(), issue)]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Where and what.
        issue: Issue,
    },
    /// A TLS file the configuration names does not exist: the first thing a fresh install meets, so it is
    /// one line naming the file and the command that creates it, not a list of issues.
    #[error(
        "no server certificate: {} does not exist ({}); create it where the CA is kept with \
         `linux-patch-ctl pki issue server --dir CA_DIR --dns HOSTNAME --out {}` and install ca.pem, server.pem \
         and server.key (mode 0600, owned by this daemon's user) there (see docs/PKI.md)",
        file.display(),
        match line {
            Some(line) => format!("`{key}`, line {line} of {}", path.display()),
            None => format!("`{key}` is not set in {}: this is the default", path.display()),
        },
        file.parent().map(|d| d.display().to_string()).unwrap_or_default()
    )]
    MissingCertificate {
        /// The configuration file.
        path: PathBuf,
        /// `tls.server_cert`, `tls.server_key` or `tls.ca_cert`.
        key: &'static str,
        /// The key's line, `None` when the default is in use.
        line: Option<u64>,
        /// The missing file.
        file: PathBuf,
    },
    /// The file parsed but one or more values are invalid.
    #[error("{}: invalid configuration:{}", path.display(), render_issues(issues))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem found, not only the first.
        issues: Vec<Issue>,
    },
}

fn render_issues(issues: &[Issue]) -> String {
    issues.iter().map(|i| format!("\n  {i}")).collect()
}

/// A key that the schema does not know. It is ignored (existing files keep working) and reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKey {
    /// The file.
    pub file: PathBuf,
    /// 1-based line of the key.
    pub line: u64,
    /// Dotted key path.
    pub key: String,
}

impl fmt::Display for UnknownKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: line {}: unknown key `{}` (ignored)",
            self.file.display(),
            self.line,
            self.key
        )
    }
}
