//! Value checks that the type system cannot express. Every failed check becomes an [`Issue`] with the key's
//! line, and all of them are reported together.

use super::Config;
use super::error::{ConfigError, Issue};
use super::yaml_index::KeyIndex;
use std::path::Path;

/// Checks `config` (parsed from `path`, keys located by `index`).
pub fn validate(path: &Path, config: &Config, index: &KeyIndex) -> Result<(), ConfigError> {
    missing_certificate(path, config, index)?;
    let mut issues = Issues {
        index,
        list: Vec::new(),
    };
    let s = &config.server;
    issues.check(
        s.port != 0,
        "server.port",
        "must be between 1 and 65535, not 0",
    );
    issues.check(
        s.max_connections != 0,
        "server.max_connections",
        "must be at least 1",
    );
    issues.check(
        s.handshake_timeout_seconds != 0,
        "server.handshake_timeout_seconds",
        "must be at least 1",
    );
    issues.check(
        s.request_timeout_seconds != 0,
        "server.request_timeout_seconds",
        "must be at least 1",
    );
    issues.check(
        s.max_body_bytes != 0,
        "server.max_body_bytes",
        "must be at least 1",
    );
    issues.check(
        s.max_unauthenticated_per_source != 0,
        "server.max_unauthenticated_per_source",
        "must be at least 1",
    );
    issues.check(
        s.silent_timeout_seconds != 0,
        "server.silent_timeout_seconds",
        "must be at least 1",
    );
    issues.check(
        config.websocket.max_sessions_per_identity != 0,
        "websocket.max_sessions_per_identity",
        "must be at least 1",
    );
    issues.check(
        config.helper.request_timeout_seconds != 0,
        "helper.request_timeout_seconds",
        "must be at least 1",
    );
    issues.check(
        config.jobs.max_concurrent != 0,
        "jobs.max_concurrent",
        "must be at least 1",
    );
    issues.check(
        config.jobs.timeout_minutes != 0,
        "jobs.timeout_minutes",
        "must be at least 1",
    );
    issues.check(
        config.jobs.max_queue_depth != 0,
        "jobs.max_queue_depth",
        "must be at least 1",
    );
    issues.check(
        config.jobs.timeout_seconds != Some(0),
        "jobs.timeout_seconds",
        "must be at least 1",
    );
    issues.check(
        config.jobs.history_limit != 0,
        "jobs.history_limit",
        "must be at least 1",
    );
    issues.check(
        config.cache.stale_after_hours != 0,
        "cache.stale_after_hours",
        "must be at least 1",
    );
    if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&config.logging.level) {
        issues.push("logging.level", format!("not a valid log filter: {e}"));
    }
    for origin in &config.websocket.allowed_origins {
        if crate::api::ws::origin::normalise(origin).is_none() {
            issues.push(
                "websocket.allowed_origins",
                format!("{origin:?} is not an origin of the form https://host[:port]"),
            );
        }
    }
    issues.file("tls.ca_cert", &config.tls.ca_cert);
    issues.file("tls.server_cert", &config.tls.server_cert);
    issues.file("tls.server_key", &config.tls.server_key);
    if let Some(crl) = &config.tls.crl_path {
        issues.file("tls.crl_path", crl);
    }
    if issues.list.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            issues: issues.list,
        })
    }
}

/// A fresh install without certificates gets one line naming the missing file and the `pki` command that
/// creates it (issue 10), before any other check.
fn missing_certificate(path: &Path, config: &Config, index: &KeyIndex) -> Result<(), ConfigError> {
    for (key, file) in [
        ("tls.server_cert", &config.tls.server_cert),
        ("tls.server_key", &config.tls.server_key),
        ("tls.ca_cert", &config.tls.ca_cert),
    ] {
        if matches!(std::fs::symlink_metadata(file), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
        {
            return Err(ConfigError::MissingCertificate {
                path: path.to_path_buf(),
                key,
                line: index.line_of(key),
                file: file.clone(),
            });
        }
    }
    Ok(())
}

struct Issues<'a> {
    index: &'a KeyIndex,
    list: Vec<Issue>,
}

impl Issues<'_> {
    fn check(&mut self, ok: bool, key: &str, message: &str) {
        if !ok {
            self.push(key, message.to_string());
        }
    }

    fn push(&mut self, key: &str, message: String) {
        let line = self.index.line_of(key);
        let message = if line.is_none() {
            format!("{message} (key not set; this is the default)")
        } else {
            message
        };
        self.list.push(Issue {
            key: key.to_string(),
            line,
            message,
        });
    }

    /// The file must exist and be a regular file. Whether this user may read it is found out, with the
    /// operating system's own error, when the TLS configuration is built.
    fn file(&mut self, key: &str, file: &Path) {
        match std::fs::metadata(file) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => self.push(key, format!("{} is not a regular file", file.display())),
            Err(e) => self.push(key, format!("{}: {e}", file.display())),
        }
    }
}
