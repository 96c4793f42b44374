//! The CA directory: the CA itself and the record of everything it issued and revoked.
//!
//! ```text
//! DIR/            0700
//!   ca.pem        0644  the CA certificate (copy it to every agent and client)
//!   ca.key        0600  the CA key (never leaves this directory)
//!   state.json    0600  issued serials, revocations, the last CRL number
//!   issued/       0700  SERIAL.pem: a copy of every certificate issued, for audits and `revoke CERTFILE`
//!   .lock               held (flock) while a command reads and rewrites state.json
//! ```

use anyhow::{Context, Result, bail};
use lpa_pki::{Ca, Serial};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use super::files::{self, KEY_MODE, PUBLIC_MODE, WriteSpec};

/// The agent's configuration directory, which exists on every managed host: a CA placed there would give
/// anyone who compromises one host the power to mint operator certificates for all of them.
const AGENT_CONFIG_DIR: &str = "/etc/linux_patch_api";

/// What the CA has done, persisted as `state.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    /// Number of the last CRL written; the next one gets this plus one (RFC 5280 §5.2.3).
    pub crl_number: u64,
    /// Every certificate issued, oldest first.
    pub certificates: Vec<Record>,
}

/// One issued certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// Serial, lowercase hex.
    pub serial: String,
    /// `server` or `client`.
    pub kind: String,
    /// Subject CN.
    pub name: String,
    /// End of validity, RFC 3339.
    pub not_after: String,
    /// When it was revoked (RFC 3339), if it was.
    pub revoked_at: Option<String>,
}

impl State {
    /// Whether `serial` was already handed out (a new certificate must not reuse it).
    pub fn knows(&self, serial: &Serial) -> bool {
        self.find(serial).is_some()
    }

    /// The record of `serial`.
    pub fn find(&self, serial: &Serial) -> Option<&Record> {
        let hex = serial.to_hex();
        self.certificates.iter().find(|r| r.serial == hex)
    }

    /// The record of `serial`, mutably.
    pub fn find_mut(&mut self, serial: &Serial) -> Option<&mut Record> {
        let hex = serial.to_hex();
        self.certificates.iter_mut().find(|r| r.serial == hex)
    }

    /// Serials of every revoked certificate.
    pub fn revoked(&self) -> Result<Vec<Serial>> {
        self.certificates
            .iter()
            .filter(|r| r.revoked_at.is_some())
            .map(|r| Serial::from_hex(&r.serial).map_err(anyhow::Error::from))
            .collect()
    }
}

/// An open CA directory, locked against concurrent `linux-patch-ctl pki` runs for as long as it lives.
pub struct CaDir {
    dir: PathBuf,
    _lock: Flock<File>,
}

impl CaDir {
    /// `DIR/ca.pem`.
    pub fn cert_path(dir: &Path) -> PathBuf {
        dir.join("ca.pem")
    }

    /// `DIR/ca.key`.
    pub fn key_path(dir: &Path) -> PathBuf {
        dir.join("ca.key")
    }

    /// Creates a new CA directory holding `ca`. Refuses a directory that already holds a CA (or anything
    /// of one), and a directory inside the agent's configuration directory.
    pub fn create(dir: &Path, ca: &Ca) -> Result<CaDir> {
        refuse_agent_dir(dir)?;
        for existing in ["ca.pem", "ca.key", "state.json"] {
            if dir.join(existing).exists() {
                bail!(
                    "{} already exists: {} already holds a CA; refusing to overwrite it (use another --dir)",
                    dir.join(existing).display(),
                    dir.display()
                );
            }
        }
        files::ensure_dir(dir, 0o700)?;
        let opened = Self::lock(dir)?;
        // The key first, with O_EXCL: if two `init`s race, the second fails here before writing anything.
        files::write(
            &Self::key_path(dir),
            ca.key_pem().as_bytes(),
            WriteSpec {
                mode: KEY_MODE,
                owner: None,
                replace: false,
            },
        )?;
        files::write(
            &Self::cert_path(dir),
            ca.cert_pem().as_bytes(),
            WriteSpec {
                mode: PUBLIC_MODE,
                owner: None,
                replace: false,
            },
        )?;
        files::ensure_dir(&dir.join("issued"), 0o700)?;
        opened.save(&State::default())?;
        Ok(opened)
    }

    /// Opens an existing CA directory and loads its CA.
    pub fn open(dir: &Path) -> Result<(CaDir, Ca, State)> {
        let cert_path = Self::cert_path(dir);
        if !cert_path.exists() {
            bail!(
                "no CA in {}: {} does not exist (create one with `linux-patch-ctl pki init --dir {}`)",
                dir.display(),
                cert_path.display(),
                dir.display()
            );
        }
        let opened = Self::lock(dir)?;
        let cert = fs::read_to_string(&cert_path)
            .with_context(|| format!("cannot read {}", cert_path.display()))?;
        let key_path = Self::key_path(dir);
        let key = fs::read_to_string(&key_path)
            .with_context(|| format!("cannot read {}", key_path.display()))?;
        let ca = Ca::from_pem(&cert, &key)
            .with_context(|| format!("cannot load the CA from {}", dir.display()))?;
        let state_path = dir.join("state.json");
        let text = fs::read_to_string(&state_path)
            .with_context(|| format!("cannot read {}", state_path.display()))?;
        let state: State = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid CA state file", state_path.display()))?;
        Ok((opened, ca, state))
    }

    /// Takes the directory's lock (blocking while another `pki` command holds it).
    fn lock(dir: &Path) -> Result<CaDir> {
        let path = dir.join(".lock");
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, errno)| errno)
            .with_context(|| format!("cannot lock {}", path.display()))?;
        Ok(CaDir {
            dir: dir.to_path_buf(),
            _lock: lock,
        })
    }

    /// Rewrites `state.json` atomically.
    pub fn save(&self, state: &State) -> Result<()> {
        let text = serde_json::to_string_pretty(state)?;
        files::write(
            &self.dir.join("state.json"),
            text.as_bytes(),
            WriteSpec {
                mode: KEY_MODE,
                owner: None,
                replace: true,
            },
        )
    }

    /// Keeps a copy of an issued certificate as `issued/SERIAL.pem`.
    pub fn keep_copy(&self, serial: &Serial, cert_pem: &str) -> Result<PathBuf> {
        let issued = self.dir.join("issued");
        files::ensure_dir(&issued, 0o700)?;
        let path = issued.join(format!("{serial}.pem"));
        files::write(
            &path,
            cert_pem.as_bytes(),
            WriteSpec {
                mode: PUBLIC_MODE,
                owner: None,
                replace: false,
            },
        )?;
        Ok(path)
    }
}

/// Refuses a CA directory inside the agent's configuration directory (see [`AGENT_CONFIG_DIR`]).
fn refuse_agent_dir(dir: &Path) -> Result<()> {
    let absolute =
        std::path::absolute(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
    // Resolve symlinks in the part that exists, so /etc/linux_patch_api reached through a link is refused too.
    let mut existing = absolute.as_path();
    while !existing.exists() {
        let Some(parent) = existing.parent() else {
            break;
        };
        existing = parent;
    }
    let resolved = fs::canonicalize(existing).unwrap_or_else(|_| existing.to_path_buf());
    if resolved.starts_with(AGENT_CONFIG_DIR) || absolute.starts_with(AGENT_CONFIG_DIR) {
        bail!(
            "refusing to keep the CA in {}: it is inside {AGENT_CONFIG_DIR}, which every managed host has; keep the \
             CA on an administrator's machine (see docs/PKI.md)",
            dir.display()
        );
    }
    Ok(())
}
