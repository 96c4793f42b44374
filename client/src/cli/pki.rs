//! `linux-patch-ctl pki …`: the arguments of the PKI commands (what they do is in the binary's `pki_admin`).
//!
//! The CA lives in a directory of its own (`--dir`, or `LPA_PKI_DIR`), deliberately without a default: the CA
//! key signs every operator's identity, so it belongs on an administrator's machine or offline media, never on
//! the managed hosts whose agents trust it. The outputs default to the paths the agent reads
//! (`/etc/linux_patch_api/certs/…`, DESIGN.md), because copying them there is the step that follows.

use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Where the agent reads its certificates (DESIGN.md "File system layout").
pub const AGENT_CERT_DIR: &str = "/etc/linux_patch_api/certs";
/// Where the agent reads its CRL.
pub const AGENT_CRL: &str = "/etc/linux_patch_api/certs/crl.pem";
/// The system user the frontend runs as; its server key must be readable by it alone.
pub const AGENT_USER: &str = "linux-patch-api";

/// `pki` and its options shared by every subcommand.
#[derive(Debug, Args)]
pub struct PkiArgs {
    /// The CA directory (ca.pem, ca.key, state.json, issued/). Keep it off the managed hosts.
    #[arg(long, env = "LPA_PKI_DIR", global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: PkiCommand,
}

/// The PKI commands.
#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Create a new CA in --dir (refuses to overwrite an existing one).
    Init {
        /// The CA's common name.
        #[arg(long, default_value = "linux-patch-api CA")]
        name: String,
        /// Validity in days.
        #[arg(long, default_value_t = 3650)]
        days: u32,
    },
    /// Issue a server or client certificate signed by the CA.
    #[command(subcommand)]
    Issue(IssueCommand),
    /// Mark a certificate revoked (by serial in hex, or by its PEM file); `pki crl` then publishes it.
    Revoke {
        /// Serial (hex, colons allowed) or path of the certificate.
        #[arg(value_name = "SERIAL|CERTFILE")]
        target: String,
    },
    /// Write a fresh CRL (every revoked certificate, a new CRL number) where the agent reads it.
    Crl {
        /// Where to write it.
        #[arg(long, default_value = AGENT_CRL, value_name = "PATH")]
        out: PathBuf,
        /// Days until its nextUpdate.
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
    /// List the certificates this CA issued, with their status.
    List,
}

/// `pki issue server|client`.
#[derive(Debug, Subcommand)]
pub enum IssueCommand {
    /// A server certificate for an agent: writes server.pem, server.key (0600) and ca.pem into --out.
    Server {
        /// DNS name clients use to reach the agent (repeatable).
        #[arg(long = "dns", value_name = "NAME")]
        dns: Vec<String>,
        /// IP address clients use to reach the agent (repeatable).
        #[arg(long = "ip", value_name = "ADDR")]
        ip: Vec<std::net::IpAddr>,
        /// Output directory.
        #[arg(long, default_value = AGENT_CERT_DIR, value_name = "DIR")]
        out: PathBuf,
        /// Owner of server.key. Default: the `linux-patch-api` user when it exists and we are root.
        #[arg(long, value_name = "USER")]
        key_owner: Option<String>,
        /// `--days`, `--force`.
        #[command(flatten)]
        common: IssueArgs,
    },
    /// A client (operator) certificate: writes NAME.pem and NAME.key (0600) into --out.
    Client {
        /// The operator's name: the certificate's CN, which the agent's audit log records.
        name: String,
        /// Output directory.
        #[arg(long, default_value = ".", value_name = "DIR")]
        out: PathBuf,
        /// `--days`, `--force`.
        #[command(flatten)]
        common: IssueArgs,
    },
}

/// Options of both `issue` commands.
#[derive(Debug, Clone, Copy, Args)]
pub struct IssueArgs {
    /// Validity in days.
    #[arg(long, default_value_t = 365)]
    pub days: u32,
    /// Replace existing output files (atomically) instead of refusing.
    #[arg(long)]
    pub force: bool,
}
