//! `linux-patch-ctl`: the operator's command line for linux-patch-api, and the demo launcher.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use lpa_client::{ApiClient, ApiResponse, Credentials, PackageQuery};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "linux-patch-ctl",
    version,
    about = "Talk to linux-patch-api agents over mTLS, or run the demo stack"
)]
struct Cli {
    /// Base URL of the agent.
    #[arg(long, env = "LPA_URL", global = true)]
    url: Option<String>,
    /// CA certificate (PEM) that signed the agent's certificate.
    #[arg(long, env = "LPA_CACERT", global = true)]
    cacert: Option<PathBuf>,
    /// Client certificate (PEM).
    #[arg(long, env = "LPA_CERT", global = true)]
    cert: Option<PathBuf>,
    /// Client private key (PEM).
    #[arg(long, env = "LPA_KEY", global = true)]
    key: Option<PathBuf>,
    /// Read URL and certificate paths from a client.env file (as written by the demo).
    #[arg(long, global = true)]
    env_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole two-process stack on a sandbox package root (needs root; touches nothing on the host).
    Demo {
        /// Directory for the sandbox, PKI, configs and logs.
        #[arg(long, default_value = ".demo")]
        dir: PathBuf,
        /// TCP port on 127.0.0.1.
        #[arg(long, default_value_t = 12443)]
        port: u16,
        /// Package manager of the sandbox.
        #[arg(long, default_value = "apt")]
        backend: String,
    },
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
}

fn credentials(cli: &Cli) -> Result<Credentials> {
    if let Some(file) = &cli.env_file {
        return Credentials::from_env_file(file)
            .with_context(|| format!("reading {}", file.display()));
    }
    let need = |v: &Option<PathBuf>, flag: &str| {
        v.clone().with_context(|| {
            format!("missing {flag} (or the LPA_* environment variables, or --env-file)")
        })
    };
    Ok(Credentials {
        url: cli
            .url
            .clone()
            .context("missing --url (or LPA_URL, or --env-file)")?,
        ca_cert: need(&cli.cacert, "--cacert")?,
        cert: need(&cli.cert, "--cert")?,
        key: need(&cli.key, "--key")?,
    })
}

fn print(resp: &ApiResponse) -> Result<bool> {
    println!("{}", serde_json::to_string_pretty(&resp.envelope_json())?);
    Ok(resp.envelope.success)
}

trait EnvelopeJson {
    fn envelope_json(&self) -> serde_json::Value;
}

impl EnvelopeJson for ApiResponse {
    fn envelope_json(&self) -> serde_json::Value {
        serde_json::json!({
            "success": self.envelope.success,
            "request_id": self.envelope.request_id,
            "timestamp": self.envelope.timestamp,
            "data": self.envelope.data,
            "error": self.envelope.error.as_ref().map(|e| serde_json::json!({
                "code": e.code, "message": e.message, "details": e.details, "retryable": e.retryable,
            })),
        })
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    if let Command::Demo { dir, port, backend } = &cli.command {
        return runtime.block_on(lpa_client::demo::run(lpa_client::demo::DemoOptions {
            dir: dir.clone(),
            port: *port,
            backend: backend.clone(),
        }));
    }
    let client = ApiClient::new(&credentials(&cli)?)?;
    let ok = runtime.block_on(async {
        let resp = match &cli.command {
            Command::Health => client.health().await?,
            Command::Info => client.system_info().await?,
            Command::Service { name } => client.service(name).await?,
            Command::Packages {
                name,
                status,
                limit,
                offset,
                sort,
                order,
            } => {
                client
                    .packages(&PackageQuery {
                        name: name.clone(),
                        status: status.clone(),
                        limit: *limit,
                        offset: *offset,
                        sort: sort.clone(),
                        order: order.clone(),
                    })
                    .await?
            }
            Command::Package { name } => client.package(name).await?,
            Command::Demo { .. } => unreachable!("handled above"),
        };
        print(&resp)
    })?;
    if !ok {
        std::process::exit(1);
    }
    Ok(())
}
