//! `linux-patch-ctl demo`: the whole two-process stack on a sandbox package root, in the foreground.
//!
//! Uses the test kit's harness, so the demo starts the product exactly as the end-to-end tests do: the helper
//! as root, the frontend as uid 61001, a throw-away PKI, a whitelist of `127.0.0.1` and `::1` only, and a
//! sandbox root built from fixture repositories for the chosen package manager (apt, dnf, yum or pacman). Three
//! packages are installed at their old versions and the vendor's newer versions are then "published" (one of
//! them a security update: from the `-security` suite for apt, with an `updateinfo` advisory for dnf/yum;
//! pacman has no security data), so the API has real updates to show; `hello` is available but not installed.
//! Nothing on the host's package state is touched. apk has no demo: it cannot run on these machines.

use crate::{ApiClient, Credentials};
use anyhow::{Context, Result, bail};
use lpa_testkit::fixtures::apt::Snapshot;
use lpa_testkit::harness::{Stack, StackOptions};
use lpa_testkit::sandbox::SandboxKind;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Marks a directory as created by the demo, so a re-run may wipe it and nothing else.
const MARKER: &str = ".linux-patch-api-demo";

/// Packages installed at their old (v1) versions before updates are published.
const PREINSTALLED: [&str; 3] = ["demo-lib", "demo-app", "demo-tool"];

/// What `linux-patch-ctl demo` was asked for.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Directory for everything the demo creates.
    pub dir: PathBuf,
    /// TCP port on 127.0.0.1.
    pub port: u16,
    /// Package manager of the sandbox: `apt`, `dnf`, `yum` or `pacman`.
    pub backend: String,
}

/// Sets everything up, runs the stack until Ctrl-C/SIGTERM, then stops both processes.
pub async fn run(options: DemoOptions) -> Result<()> {
    let Some(backend) = SandboxKind::from_name(&options.backend) else {
        bail!(
            "--backend {}: the demo runs on apt, dnf, yum or pacman (apk is supported by the agent but \
             cannot run on this kind of machine; it is tested against recorded apk output)",
            options.backend
        );
    };
    if !nix::unistd::geteuid().is_root() {
        bail!(
            "the demo needs root: it starts the helper as root (like production) and runs the package manager on a \
             sandbox root under {}; the host's package state is not touched. Run it again as root (sudo).",
            options.dir.display()
        );
    }
    if let Err(missing) = lpa_testkit::prereq::check() {
        bail!(
            "missing programs: {}\ninstall them with:\n  {}",
            missing.programs.join(", "),
            missing.install_command
        );
    }
    let dir = prepare_dir(&options.dir)?;

    println!(
        "building the {} sandbox in {} …",
        backend.name(),
        dir.display()
    );
    let mut stack = Stack::start(StackOptions {
        work_dir: Some(dir.clone()),
        port: options.port,
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        backend,
        snapshot: Snapshot::V1,
        preinstall: PREINSTALLED.iter().map(|s| (*s).to_owned()).collect(),
        log_level: "info".to_owned(),
        ..StackOptions::default()
    })
    .context("starting the stack")?;
    stack
        .sandbox_mut()
        .publish(Snapshot::V2)
        .context("publishing the v2 snapshot (the updates)")?;

    let env_file = dir.join("client.env");
    let creds = Credentials {
        url: stack.base_url(),
        ca_cert: stack.pki().ca_cert.clone(),
        cert: stack.pki().client.cert.clone(),
        key: stack.pki().client.key.clone(),
    };
    wait_until_answering(&creds, &stack).await?;
    std::fs::write(&env_file, creds.to_env_file())
        .with_context(|| format!("writing {}", env_file.display()))?;
    print_banner(&creds, &env_file, &dir);

    let pids: Vec<u32> = [stack.frontend_pid(), stack.helper_pid()]
        .into_iter()
        .flatten()
        .collect();
    let mut waiter = tokio::task::spawn_blocking(move || {
        let exited = stack.wait();
        drop(stack);
        exited
    });
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => println!("\nstopping …"),
        _ = term.recv() => println!("stopping …"),
        exited = &mut waiter => {
            let exited = exited.context("waiting for the stack")??;
            bail!("the {} exited unexpectedly ({}); see the logs in {}", exited.which, exited.status, dir.display());
        }
    }
    for pid in pids {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).context("pid out of range")?);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    }
    let _ = waiter.await;
    println!(
        "stopped; the sandbox, PKI and logs stay in {}",
        dir.display()
    );
    Ok(())
}

/// Creates `dir`, or wipes it if an earlier demo created it. Refuses to touch any other non-empty directory.
fn prepare_dir(dir: &Path) -> Result<PathBuf> {
    if dir.exists() {
        let is_demo = dir.join(MARKER).exists();
        let empty = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .next()
            .is_none();
        if is_demo {
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("removing the previous demo in {}", dir.display()))?;
        } else if !empty {
            bail!(
                "{} exists and was not created by the demo; choose another --dir",
                dir.display()
            );
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(
        dir.join(MARKER),
        "created by linux-patch-ctl demo; safe to delete\n",
    )?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("resolving {}", dir.display()))?;
    Ok(dir)
}

/// Polls `GET /api/v1/health` until the stack answers through the whole path (TLS, frontend, helper).
async fn wait_until_answering(creds: &Credentials, stack: &Stack) -> Result<()> {
    let client = ApiClient::new(creds)?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match client.health().await {
            Ok(resp) if resp.status == 200 && resp.data()["checks"]["helper"] == "ok" => {
                return Ok(());
            }
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(200)).await,
            Ok(resp) => bail!(
                "the service answers but is not healthy: {}\n{}",
                resp.data(),
                stack.logs()
            ),
            Err(e) => bail!("the service does not answer: {e}\n{}", stack.logs()),
        }
    }
}

fn print_banner(creds: &Credentials, env_file: &Path, dir: &Path) {
    let curl = format!(
        "curl --cacert {} --cert {} --key {}",
        creds.ca_cert.display(),
        creds.cert.display(),
        creds.key.display()
    );
    println!(
        "\nlinux-patch-api is running on {url} (helper as root, frontend as uid 61001)\n\
         sandbox package root: {root}\n\
         client settings:      {env}\n\n\
         try:\n  \
         {curl} {url}/api/v1/health\n  \
         {curl} {url}/api/v1/system/info\n  \
         {curl} '{url}/api/v1/packages?status=upgradable'\n  \
         {curl} {url}/api/v1/packages/hello\n  \
         linux-patch-ctl --env-file {env} packages --status all\n\n\
         logs: {dir}/helper.log, {dir}/frontend.log — Ctrl-C stops both processes.",
        url = creds.url,
        root = dir.join("sandbox/root").display(),
        env = env_file.display(),
        dir = dir.display(),
    );
}
