//! Hot reload of the whitelist, the server certificate and key, the CA and the CRL, on a change in their
//! directories ([`watch`]) or on SIGHUP.
//!
//! Every reload validates first and swaps only what validated: a new whitelist replaces the old one in
//! [`Whitelist`]; a new rustls configuration is stored in the [`SharedServerConfig`] the accept loop loads for
//! each connection, so new handshakes use the new certificate, CA and CRL while established sessions keep
//! theirs. A file that does not validate leaves the old state in force, is logged, and is named in `/health`
//! (`checks.config`) until a later reload succeeds. A CRL that revokes the serial of a connected client
//! closes that client's connections and WebSockets ([`live`]); nothing else is closed, and jobs are never
//! touched (they run in the job manager, not on connections).
//!
//! The state `http` (health) and `listener` (registry) read lives in [`State`], one per service in
//! [`crate::http::AppState`].

pub mod crl;
pub mod live;
pub mod watch;

use crate::config::{self, CrlExpired, TlsSection};
use crate::tls::{self, SharedServerConfig};
use crate::whitelist::Whitelist;
use live::LiveConnections;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;
use tracing::{error, info, warn};

/// Which reloadable part a problem is about (the key of [`State`]'s problem list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// `whitelist.path`.
    Whitelist,
    /// The `tls:` files (CA, server certificate and key, CRL).
    Tls,
}

/// Reload state shared by the listener (connection registry) and `/health` (problems, certificate facts).
#[derive(Debug, Default)]
pub struct State {
    /// Live connections by client certificate serial.
    pub live: LiveConnections,
    problems: Mutex<BTreeMap<Part, String>>,
    facts: Mutex<TlsFacts>,
}

/// What the loaded TLS files say, for `/health`.
#[derive(Debug, Default, Clone)]
struct TlsFacts {
    server_cert_not_after: Option<OffsetDateTime>,
    crl: Option<(PathBuf, Option<OffsetDateTime>, CrlExpired)>,
}

impl State {
    /// Records that `part` could not be (re)loaded and why (the message names the file).
    pub fn set_problem(&self, part: Part, message: String) {
        lock(&self.problems).insert(part, message);
    }

    /// Records that `part` is loaded and valid.
    pub fn clear_problem(&self, part: Part) {
        lock(&self.problems).remove(&part);
    }

    /// `checks.config` of `/health`: `ok`, or every current problem (a file that did not load, a CRL past
    /// its `nextUpdate`), separated by `; `.
    pub fn config_check(&self, now: OffsetDateTime) -> String {
        let mut problems: Vec<String> = lock(&self.problems).values().cloned().collect();
        if let Some((path, Some(next_update), policy)) = &lock(&self.facts).crl
            && *next_update <= now
        {
            let consequence = match policy {
                CrlExpired::Refuse => {
                    "every client certificate is refused until a fresh CRL is installed"
                }
                CrlExpired::Warn => "still used (tls.crl_expired: warn)",
            };
            problems.push(format!(
                "{}: CRL is past its nextUpdate ({next_update}): {consequence}",
                path.display()
            ));
        }
        if problems.is_empty() {
            "ok".to_owned()
        } else {
            problems.join("; ")
        }
    }

    /// Expiry of the server certificate now in use, if known.
    pub fn server_cert_not_after(&self) -> Option<OffsetDateTime> {
        lock(&self.facts).server_cert_not_after
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section is a single assignment, so a poisoned lock holds consistent data.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Re-reads the files and swaps what validates.
#[derive(Debug)]
pub struct Reloader {
    tls_files: TlsSection,
    whitelist_path: PathBuf,
    tls: SharedServerConfig,
    whitelist: Arc<Whitelist>,
    state: Arc<State>,
}

impl Reloader {
    /// A reloader of the files named by `tls_files` and `whitelist_path`, swapping into `tls` and `whitelist`.
    pub fn new(
        tls_files: TlsSection,
        whitelist_path: PathBuf,
        tls: SharedServerConfig,
        whitelist: Arc<Whitelist>,
        state: Arc<State>,
    ) -> Self {
        Reloader {
            tls_files,
            whitelist_path,
            tls,
            whitelist,
            state,
        }
    }

    /// The files whose change triggers a reload.
    pub fn watched_files(&self) -> Vec<&Path> {
        let mut files = vec![
            self.whitelist_path.as_path(),
            &self.tls_files.ca_cert,
            &self.tls_files.server_cert,
            &self.tls_files.server_key,
        ];
        if let Some(crl) = &self.tls_files.crl_path {
            files.push(crl);
        }
        files
    }

    /// Records the facts of the configuration loaded at start (no swap): the server certificate's expiry
    /// and the CRL's `nextUpdate`. A CRL the facts reader cannot parse is a problem shown in `/health`.
    pub fn record_initial(&self, server_cert_not_after: Option<OffsetDateTime>) {
        let crl = self.read_crl();
        let mut facts = lock(&self.state.facts);
        facts.server_cert_not_after = server_cert_not_after;
        match crl {
            Ok(crl) => {
                facts.crl = crl.map(|c| c.1);
            }
            Err(message) => {
                drop(facts);
                self.state.set_problem(Part::Tls, message);
            }
        }
    }

    /// Reloads everything; `why` names the trigger for the log.
    pub fn reload(&self, why: &str) {
        info!(trigger = why, "reloading whitelist and TLS files");
        self.reload_whitelist();
        self.reload_tls();
    }

    fn reload_whitelist(&self) {
        match config::load_whitelist(&self.whitelist_path) {
            Ok(loaded) => {
                for key in &loaded.unknown_keys {
                    warn!("{key}");
                }
                let entries = loaded.nets.len();
                self.whitelist.replace(loaded.nets);
                self.state.clear_problem(Part::Whitelist);
                if entries == 0 {
                    warn!(path = %self.whitelist_path.display(), "reloaded whitelist is empty: every new connection is refused");
                } else {
                    info!(path = %self.whitelist_path.display(), entries, "whitelist reloaded");
                }
            }
            Err(e) => {
                error!("{e}; keeping the previous whitelist");
                self.state.set_problem(Part::Whitelist, e.to_string());
            }
        }
    }

    fn reload_tls(&self) {
        // Both readers must accept the files before anything is swapped.
        let crl = match self.read_crl() {
            Ok(crl) => crl,
            Err(message) => {
                error!("{message}; keeping the previous TLS configuration");
                self.state.set_problem(Part::Tls, message);
                return;
            }
        };
        let built = match tls::build_server_config(&self.tls_files) {
            Ok(built) => built,
            Err(e) => {
                error!("{e}; keeping the previous TLS configuration");
                self.state.set_problem(Part::Tls, e.to_string());
                return;
            }
        };
        self.tls.store(built.config);
        {
            let mut facts = lock(&self.state.facts);
            facts.server_cert_not_after = built.server_cert_not_after;
            facts.crl = crl.as_ref().map(|c| c.1.clone());
        }
        self.state.clear_problem(Part::Tls);
        info!("TLS configuration reloaded: new handshakes use the current certificate, CA and CRL");
        if let Some((facts, (path, next_update, policy))) = crl {
            if let Some(next) = next_update
                && next <= OffsetDateTime::now_utc()
            {
                warn!(path = %path.display(), next_update = %next, policy = policy.as_str(), "CRL is past its nextUpdate");
            }
            let closed = self.state.live.close_revoked(&facts.revoked);
            if closed > 0 {
                warn!(
                    closed,
                    "closed live connections and WebSockets of clients whose certificate the CRL revokes"
                );
            }
        }
    }

    /// The CRL's facts, if a CRL is configured; errors name the file.
    #[allow(clippy::type_complexity)]
    fn read_crl(
        &self,
    ) -> Result<Option<(crl::CrlFacts, (PathBuf, Option<OffsetDateTime>, CrlExpired))>, String>
    {
        let Some(path) = &self.tls_files.crl_path else {
            return Ok(None);
        };
        let facts = crl::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let summary = (path.clone(), facts.next_update, self.tls_files.crl_expired);
        Ok(Some((facts, summary)))
    }
}

#[cfg(test)]
mod tests;
