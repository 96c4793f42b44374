//! The frontend confines itself at start (binary-only module: only `main` may call it, once).
//!
//! Called after the configuration, whitelist, certificates and job history were read and the listener
//! was bound (or taken from systemd), and before the tokio runtime starts any thread:
//! - capabilities: all sets emptied; the bounding set too when the process holds CAP_SETPCAP, otherwise
//!   the service manager must start it with an empty one (`CapabilityBoundingSet=` in the unit);
//! - `no_new_privs`;
//! - Landlock: read-only beneath the directories of `config.yaml`, the whitelist and every TLS file
//!   (directories, not files, so hot reload can read files replaced by rename and watch the directories), read-write
//!   beneath `state_dir`, nothing else; no TCP bind/connect;
//! - seccomp: the frontend's allowlist ([`lpa_confine::syscalls::SyscallSet::Frontend`]), kill on
//!   anything else.
//!
//! `security.confinement` picks the policy; `security.landlock_min_abi` the Landlock minimum.

use lpa_confine::{ConfineError, Confinement, Profile};
use lpa_frontend::config::Config;
use std::path::{Path, PathBuf};

/// The frontend's profile for `config` loaded from `config_path`.
pub fn profile(config: &Config, config_path: &Path) -> Profile {
    let mut files: Vec<&Path> = vec![
        config_path,
        &config.whitelist.path,
        &config.tls.ca_cert,
        &config.tls.server_cert,
        &config.tls.server_key,
    ];
    if let Some(crl) = &config.tls.crl_path {
        files.push(crl);
    }
    // A directory that does not exist cannot hold a rule (and its absence is already handled: a missing
    // whitelist means deny all, a missing state_dir means jobs in memory only); it stays inaccessible.
    let mut read_only: Vec<PathBuf> = files
        .into_iter()
        .map(directory_of)
        .filter(|d| d.is_dir())
        .collect();
    read_only.sort();
    read_only.dedup();
    let read_write: Vec<PathBuf> = Some(config.state_dir.clone())
        .filter(|d| d.is_dir())
        .into_iter()
        .collect();
    Profile::frontend(read_only, read_write, config.security.landlock_min_abi)
}

/// Confines the calling process as [`profile`] says, under `security.confinement`.
pub fn confine(config: &Config, config_path: &Path) -> Result<Confinement, ConfineError> {
    lpa_confine::apply(&profile(config, config_path), config.security.confinement)
}

/// The directory holding `file` (`.` for a bare file name).
fn directory_of(file: &Path) -> PathBuf {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
