//! The command line of `linux-patch-ctl`: what the user typed ([`Cli`]) and what it means ([`Action`]).
//!
//! Every API command maps to one prepared [`Call`] (so the mapping is tested without a server); the
//! mutating commands take `--wait` to follow the job they start, and `watch` follows an existing one.

use crate::PackageQuery;
use crate::calls::{self, ApplyRequest, Call, InstallOptions, JobQuery, PackageSpec};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

pub mod pki;

/// `linux-patch-ctl`.
#[derive(Debug, Parser)]
#[command(
    name = "linux-patch-ctl",
    version,
    about = "Talk to linux-patch-api agents over mTLS, or run the demo stack"
)]
pub struct Cli {
    /// Base URL of the agent.
    #[arg(long, env = "LPA_URL", global = true)]
    pub url: Option<String>,
    /// CA certificate (PEM) that signed the agent's certificate.
    #[arg(long, env = "LPA_CACERT", global = true)]
    pub cacert: Option<PathBuf>,
    /// Client certificate (PEM).
    #[arg(long, env = "LPA_CERT", global = true)]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM).
    #[arg(long, env = "LPA_KEY", global = true)]
    pub key: Option<PathBuf>,
    /// Read URL and certificate paths from a client.env file (as written by the demo).
    #[arg(long, global = true)]
    pub env_file: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The demo, or a command against an agent.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole two-process stack on a sandbox package root (needs root; touches nothing on the host).
    Demo {
        /// Directory for the sandbox, PKI, configs and logs.
        #[arg(long, default_value = ".demo")]
        dir: PathBuf,
        /// TCP port on 127.0.0.1.
        #[arg(long, default_value_t = 12443)]
        port: u16,
        /// Package manager of the sandbox: apt, dnf, yum or pacman.
        #[arg(long, default_value = "apt")]
        backend: String,
    },
    /// The certificate authority: create it, issue server and client certificates, revoke, publish the CRL.
    Pki(pki::PkiArgs),
    /// A command against an agent.
    #[command(flatten)]
    Api(ApiCommand),
}

/// `--wait` and its limit, shared by the commands that start a job.
#[derive(Debug, Clone, Copy, Args)]
pub struct WaitArgs {
    /// Follow the started job until it ends (exit status 0 only if it completed).
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this many seconds (exit status 2).
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub wait_timeout: u64,
}

impl WaitArgs {
    fn limit(self) -> Option<Duration> {
        self.wait.then(|| Duration::from_secs(self.wait_timeout))
    }
}

/// Commands that talk to an agent.
#[derive(Debug, Subcommand)]
pub enum ApiCommand {
    /// GET /api/v1/health.
    Health,
    /// GET /api/v1/system/info.
    Info,
    /// GET /api/v1/system/services/NAME.
    Service {
        /// Service name.
        name: String,
    },
    /// GET /api/v1/packages.
    Packages {
        /// Glob on the name (`*`, `?`).
        #[arg(long)]
        name: Option<String>,
        /// installed | upgradable | all.
        #[arg(long)]
        status: Option<String>,
        /// Page size (1–1000).
        #[arg(long)]
        limit: Option<u32>,
        /// Page start.
        #[arg(long)]
        offset: Option<u32>,
        /// name | version | size.
        #[arg(long)]
        sort: Option<String>,
        /// asc | desc.
        #[arg(long)]
        order: Option<String>,
    },
    /// GET /api/v1/packages/NAME.
    Package {
        /// Package name.
        name: String,
    },
    /// Install packages (POST /api/v1/packages); starts a job.
    Install {
        /// NAME or NAME=VERSION, one or more.
        #[arg(required = true, value_name = "NAME[=VERSION]")]
        packages: Vec<String>,
        /// Do not install recommended packages.
        #[arg(long)]
        no_recommends: bool,
        /// Allow installing an older version than the installed one.
        #[arg(long)]
        allow_downgrade: bool,
        /// Reinstall even if installed (signature checks stay on).
        #[arg(long)]
        force: bool,
        /// `--wait`, `--wait-timeout`.
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Update one package (PUT /api/v1/packages/NAME); starts a job.
    Update {
        /// Package name.
        name: String,
        /// Target version (default: the newest).
        #[arg(long)]
        version: Option<String>,
        /// `--wait`, `--wait-timeout`.
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Remove one package (DELETE /api/v1/packages/NAME); starts a job.
    Remove {
        /// Package name.
        name: String,
        /// Also remove its configuration files.
        #[arg(long)]
        purge: bool,
        /// `--wait`, `--wait-timeout`.
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// List pending updates (GET /api/v1/patches).
    Patches {
        /// critical | high | medium | low | unknown.
        #[arg(long)]
        severity: Option<String>,
        /// Page size.
        #[arg(long)]
        limit: Option<u32>,
        /// Page start.
        #[arg(long)]
        offset: Option<u32>,
    },
    /// Apply updates (POST /api/v1/patches/apply); starts a job. Without --package: every available update.
    Apply {
        /// Leave out packages matching this glob (repeatable).
        #[arg(long, value_name = "GLOB")]
        exclude: Vec<String>,
        /// Apply only this patch (for apt: the package name; repeatable).
        #[arg(long = "package", value_name = "NAME")]
        packages: Vec<String>,
        /// Reboot when done.
        #[arg(long)]
        reboot: bool,
        /// With --reboot: delay in minutes.
        #[arg(long, default_value_t = 0, requires = "reboot")]
        delay_minutes: u32,
        /// `--wait`, `--wait-timeout`.
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// List jobs (GET /api/v1/jobs), newest first.
    Jobs {
        /// pending | running | completed | failed | cancelled | timeout.
        #[arg(long)]
        status: Option<String>,
        /// install | update | remove | patch_apply | reboot | rollback | cache_refresh.
        #[arg(long)]
        operation: Option<String>,
        /// Page size.
        #[arg(long)]
        limit: Option<u32>,
        /// Page start.
        #[arg(long)]
        offset: Option<u32>,
    },
    /// Show one job (GET /api/v1/jobs/ID).
    Job {
        /// Job id (UUID).
        id: String,
    },
    /// Cancel a pending job, or delete a finished one from history (DELETE /api/v1/jobs/ID).
    Cancel {
        /// Job id (UUID).
        id: String,
    },
    /// Request a reboot (POST /api/v1/system/reboot); starts a job.
    Reboot {
        /// Delay in seconds.
        #[arg(long, default_value_t = 0)]
        delay: u32,
        /// Reboot even while package jobs are pending or running.
        #[arg(long)]
        force: bool,
        /// Why (audited).
        #[arg(long)]
        reason: Option<String>,
        /// `--wait`, `--wait-timeout`.
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Follow a job live until it ends: a progress bar on a terminal, plain lines otherwise.
    /// Exit status: 0 completed, 1 failed/cancelled/timeout, 2 still running at --timeout.
    Watch {
        /// Job id (UUID).
        id: String,
        /// Give up after this many seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
        timeout: u64,
    },
}

/// What a command means.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send `call`, print the answer, and with `wait` follow the job it started.
    Request {
        /// The request.
        call: Call,
        /// `--wait` limit.
        wait: Option<Duration>,
    },
    /// Follow job `id` for at most `limit`.
    Watch {
        /// Job id.
        id: String,
        /// How long.
        limit: Duration,
    },
}

fn request(call: Call) -> Action {
    Action::Request { call, wait: None }
}

impl ApiCommand {
    /// The request (and waiting) this command stands for.
    pub fn action(&self) -> Action {
        match self {
            ApiCommand::Health => request(calls::get("/api/v1/health")),
            ApiCommand::Info => request(calls::get("/api/v1/system/info")),
            ApiCommand::Service { name } => {
                request(calls::get(format!("/api/v1/system/services/{name}")))
            }
            ApiCommand::Packages {
                name,
                status,
                limit,
                offset,
                sort,
                order,
            } => request(calls::packages(&PackageQuery {
                name: name.clone(),
                status: status.clone(),
                limit: *limit,
                offset: *offset,
                sort: sort.clone(),
                order: order.clone(),
            })),
            ApiCommand::Package { name } => request(calls::get(format!("/api/v1/packages/{name}"))),
            ApiCommand::Install {
                packages,
                no_recommends,
                allow_downgrade,
                force,
                wait,
            } => {
                let specs: Vec<PackageSpec> =
                    packages.iter().map(|p| PackageSpec::parse(p)).collect();
                let options = InstallOptions {
                    force: *force,
                    no_recommends: *no_recommends,
                    allow_downgrade: *allow_downgrade,
                };
                Action::Request {
                    call: calls::install(&specs, options),
                    wait: wait.limit(),
                }
            }
            ApiCommand::Update {
                name,
                version,
                wait,
            } => Action::Request {
                call: calls::update(name, version.as_deref()),
                wait: wait.limit(),
            },
            ApiCommand::Remove { name, purge, wait } => Action::Request {
                call: calls::remove(name, *purge),
                wait: wait.limit(),
            },
            ApiCommand::Patches {
                severity,
                limit,
                offset,
            } => request(calls::patches(severity.as_deref(), *limit, *offset)),
            ApiCommand::Apply {
                exclude,
                packages,
                reboot,
                delay_minutes,
                wait,
            } => Action::Request {
                call: calls::apply(&ApplyRequest::Patches {
                    patches: packages.clone(),
                    reboot: *reboot,
                    reboot_delay_minutes: *delay_minutes,
                    exclude_packages: exclude.clone(),
                }),
                wait: wait.limit(),
            },
            ApiCommand::Jobs {
                status,
                operation,
                limit,
                offset,
            } => request(calls::jobs(&JobQuery {
                status: status.clone(),
                operation: operation.clone(),
                limit: *limit,
                offset: *offset,
            })),
            ApiCommand::Job { id } => request(calls::job(id)),
            ApiCommand::Cancel { id } => request(calls::delete_job(id)),
            ApiCommand::Reboot {
                delay,
                force,
                reason,
                wait,
            } => Action::Request {
                call: calls::reboot(*delay, *force, reason.as_deref()),
                wait: wait.limit(),
            },
            ApiCommand::Watch { id, timeout } => Action::Watch {
                id: id.clone(),
                limit: Duration::from_secs(*timeout),
            },
        }
    }
}

#[cfg(test)]
mod tests;
