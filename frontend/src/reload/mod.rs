//! Hot reload of `config.yaml`'s reloadable keys (`logging.level`, `tls.crl_expired`), the whitelist, the
//! server certificate and key, the CA and the CRL, on a change in their directories ([`watch`]) or on SIGHUP.
//!
//! Every other `config.yaml` key (file paths, ports, limits, job settings) needs a restart: a change to one is
//! validated like the rest and logged as a warning naming the key, and the running value stays. An invalid
//! `config.yaml` keeps the configuration in force and is reported like an invalid file.
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

use crate::config::{self, Config, CrlExpired, TlsSection};
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
    /// `config.yaml` itself.
    Config,
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

/// Changes the running log level (`logging.level`); errors say why.
pub type SetLevel = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// Re-reads the files and swaps what validates.
pub struct Reloader {
    config_path: Option<PathBuf>,
    /// The configuration in force: the start-up one with the reloadable keys as last reloaded.
    config: Mutex<Config>,
    /// The file paths, fixed at start (confinement allows reading only their directories).
    paths: TlsSection,
    whitelist_path: PathBuf,
    tls: SharedServerConfig,
    whitelist: Arc<Whitelist>,
    state: Arc<State>,
    set_level: Option<SetLevel>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader")
            .field("config_path", &self.config_path)
            .field("paths", &self.paths)
            .field("whitelist_path", &self.whitelist_path)
            .finish_non_exhaustive()
    }
}

impl Reloader {
    /// A reloader of `config` (read from `config_path`, if given, which is then reloaded too) and the files it
    /// names, swapping into `tls` and `whitelist`.
    pub fn new(
        config: &Config,
        config_path: Option<PathBuf>,
        tls: SharedServerConfig,
        whitelist: Arc<Whitelist>,
        state: Arc<State>,
    ) -> Self {
        Reloader {
            config_path,
            config: Mutex::new(config.clone()),
            paths: config.tls.clone(),
            whitelist_path: config.whitelist.path.clone(),
            tls,
            whitelist,
            state,
            set_level: None,
        }
    }

    /// Lets reloads change the log level.
    pub fn with_log_level(mut self, set_level: SetLevel) -> Self {
        self.set_level = Some(set_level);
        self
    }

    /// The files whose change triggers a reload.
    pub fn watched_files(&self) -> Vec<&Path> {
        let mut files = vec![
            self.whitelist_path.as_path(),
            &self.paths.ca_cert,
            &self.paths.server_cert,
            &self.paths.server_key,
        ];
        if let Some(crl) = &self.paths.crl_path {
            files.push(crl);
        }
        if let Some(config) = &self.config_path {
            files.push(config);
        }
        files
    }

    /// The TLS files with the `tls.crl_expired` in force.
    fn tls_files(&self) -> TlsSection {
        TlsSection {
            crl_expired: lock(&self.config).tls.crl_expired,
            ..self.paths.clone()
        }
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
        info!(
            trigger = why,
            "reloading configuration, whitelist and TLS files"
        );
        self.reload_config();
        self.reload_whitelist();
        self.reload_tls();
    }

    fn reload_config(&self) {
        let Some(path) = &self.config_path else {
            return;
        };
        let new = match config::load(path) {
            Ok(loaded) => {
                for key in &loaded.unknown_keys {
                    warn!("{key}");
                }
                loaded.config
            }
            Err(e) => {
                error!("{e}; keeping the configuration in force");
                self.state.set_problem(Part::Config, e.to_string());
                return;
            }
        };
        let mut current = lock(&self.config);
        for key in restart_only_changes(&current, &new) {
            warn!(
                key,
                path = %path.display(),
                "changed in the configuration file; takes effect at the next restart"
            );
        }
        if new.logging.level != current.logging.level {
            if let Some(set_level) = &self.set_level
                && let Err(e) = set_level(&new.logging.level)
            {
                error!("{e}; keeping the log level in force");
                self.state
                    .set_problem(Part::Config, format!("{}: {e}", path.display()));
                return;
            }
            info!(level = %new.logging.level, "log level changed");
            current.logging.level = new.logging.level;
        }
        if new.tls.crl_expired != current.tls.crl_expired {
            info!(
                crl_expired = new.tls.crl_expired.as_str(),
                "tls.crl_expired changed"
            );
            current.tls.crl_expired = new.tls.crl_expired;
        }
        self.state.clear_problem(Part::Config);
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
        let built = match tls::build_server_config(&self.tls_files()) {
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
        let Some(path) = &self.paths.crl_path else {
            return Ok(None);
        };
        let facts = crl::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let summary = (
            path.clone(),
            facts.next_update,
            lock(&self.config).tls.crl_expired,
        );
        Ok(Some((facts, summary)))
    }
}

/// The keys, as `section.key`, whose value differs between `old` and `new` and which only a restart applies
/// (every key except `logging.level` and `tls.crl_expired`).
pub fn restart_only_changes(old: &Config, new: &Config) -> Vec<String> {
    let mut new = new.clone();
    new.logging.level.clone_from(&old.logging.level);
    new.tls.crl_expired = old.tls.crl_expired;
    let (Ok(serde_json::Value::Object(old)), Ok(serde_json::Value::Object(new))) =
        (serde_json::to_value(old), serde_json::to_value(&new))
    else {
        return Vec::new();
    };
    let mut changed = Vec::new();
    for (section, new_value) in &new {
        let old_value = old.get(section);
        match (old_value, new_value) {
            (Some(serde_json::Value::Object(a)), serde_json::Value::Object(b)) => {
                for (key, value) in b {
                    if a.get(key) != Some(value) {
                        changed.push(format!("{section}.{key}"));
                    }
                }
            }
            (a, b) if a != Some(b) => changed.push(section.clone()),
            _ => {}
        }
    }
    changed
}

#[cfg(test)]
mod tests;
