//! `linux-patch-ctl`: the operator's command line for linux-patch-api, and the demo launcher.
//!
//! Exit status: 0 on success (with `--wait`/`watch`: the job completed), 1 when a request is refused or the
//! job ended otherwise (failed, cancelled, timeout), 2 when `--wait`/`watch` gave up before the job ended.

mod pki_admin;

use anyhow::{Context, Result};
use clap::Parser;
use lpa_client::cli::{Action, Cli, Command};
use lpa_client::progress::{Renderer, Style};
use lpa_client::{ApiClient, ApiResponse, Credentials, WaitError};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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

fn print(resp: &ApiResponse) -> Result<()> {
    let envelope = serde_json::json!({
        "success": resp.envelope.success,
        "request_id": resp.envelope.request_id,
        "timestamp": resp.envelope.timestamp,
        "data": resp.envelope.data,
        "error": resp.envelope.error.as_ref().map(|e| serde_json::json!({
            "code": e.code, "message": e.message, "details": e.details, "retryable": e.retryable,
        })),
    });
    println!("{}", serde_json::to_string_pretty(&envelope)?);
    Ok(())
}

/// Sends the request; with `wait`, follows the job it started.
async fn request(client: &ApiClient, action: Action) -> Result<ExitCode> {
    match action {
        Action::Watch { id, limit } => watch(client, &id, limit).await,
        Action::Request { call, wait } => {
            let resp = client.call(&call).await?;
            print(&resp)?;
            if !resp.envelope.success {
                return Ok(ExitCode::FAILURE);
            }
            match (wait, resp.data()["job_id"].as_str()) {
                (Some(limit), Some(id)) => watch(client, id, limit).await,
                _ => Ok(ExitCode::SUCCESS),
            }
        }
    }
}

/// Follows job `id` until it ends, drawing its progress.
async fn watch(client: &ApiClient, id: &str, limit: Duration) -> Result<ExitCode> {
    let style = if std::io::stdout().is_terminal() {
        Style::Bar
    } else {
        Style::Plain
    };
    let mut renderer = Renderer::new(style);
    let outcome = client
        .wait_for_job(id, limit, |state| {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(renderer.render(state).as_bytes());
            let _ = out.flush();
        })
        .await;
    match outcome {
        Ok(job) => {
            let status = job["status"].as_str().unwrap_or("unknown");
            match job["error"].as_str().filter(|e| !e.is_empty()) {
                Some(error) => println!("job {id} {status}: {error}"),
                None => println!("job {id} {status}"),
            }
            Ok(if status == "completed" {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Err(WaitError::TimedOut(state)) => {
            println!(
                "\njob {id} still {} after {}s; it keeps running (watch it again with `linux-patch-ctl watch {id}`)",
                state.status,
                limit.as_secs()
            );
            Ok(ExitCode::from(2))
        }
        Err(WaitError::Refused(resp)) => {
            print(&resp)?;
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}

fn main() -> Result<ExitCode> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match &cli.command {
        Command::Demo { dir, port, backend } => {
            runtime.block_on(lpa_client::demo::run(lpa_client::demo::DemoOptions {
                dir: dir.clone(),
                port: *port,
                backend: backend.clone(),
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Pki(pki) => match pki_admin::run(pki) {
            Ok(()) => Ok(ExitCode::SUCCESS),
            // One readable line (with its causes), not a debug dump: an operator reads this.
            Err(e) => {
                eprintln!("linux-patch-ctl pki: error: {e:#}");
                Ok(ExitCode::FAILURE)
            }
        },
        Command::Api(command) => {
            let client = ApiClient::new(&credentials(&cli)?)?;
            runtime.block_on(request(&client, command.action()))
        }
    }
}
