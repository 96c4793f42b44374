//! `linux-patch-api`: the network daemon. `linux-patch-api --config PATH [--check-config]`.
//!
//! Start-up order: refuse root (before reading anything), load and validate `config.yaml`, set up logging,
//! load the whitelist (unreadable or invalid means deny all, logged as an error, the daemon keeps running),
//! build the TLS configuration, load the job history, open the listener (systemd socket or bind), confine
//! the process while it is single-threaded ([`confinement`]: no capabilities, no_new_privs, Landlock,
//! seccomp; a step the kernel cannot provide stops the start unless `security.confinement: best_effort`),
//! then start the async runtime, the job worker and recovery, the reload watch (whitelist and TLS files, and
//! SIGHUP: [`lpa_frontend::reload`]), serve until SIGTERM/SIGINT, then shut down gracefully and exit 0. A job still
//! running at shutdown is resolved by recovery at the next start.
//!
//! `--check-config` validates the configuration, the whitelist and the certificate files, lists unknown
//! keys, and exits: 0 when everything is fine, 1 on errors, 2 when the only problem is unknown keys.
#![forbid(unsafe_code)]

mod confinement;
mod logging;

use anyhow::{Context as _, Result};
use clap::Parser;
use lpa_frontend::config::{self, LoadedConfig, UnknownKey};
use lpa_frontend::http::{ApiSettings, AppState};
use lpa_frontend::jobs::JobSettings;
use lpa_frontend::listener::{self, Limits, ListenerSource};
use lpa_frontend::notify::{Notifier, NotifyState};
use lpa_frontend::reload::{self, Reloader};
use lpa_frontend::tls;
use lpa_frontend::whitelist::Whitelist;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

/// How long open connections get to finish their current request after SIGTERM.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// linux-patch-api network daemon: mTLS REST API in front of the privileged helper.
#[derive(Debug, Parser)]
#[command(name = "linux-patch-api", version)]
struct Args {
    /// Path of config.yaml.
    #[arg(long, value_name = "PATH")]
    config: PathBuf,
    /// Validate the configuration, whitelist and certificates, list unknown keys, and exit
    /// (0 = fine, 1 = errors, 2 = unknown keys).
    #[arg(long)]
    check_config: bool,
}

fn main() -> ExitCode {
    // First of all, before anything is opened: drop what the parent left open (lpa_confine::fds).
    let passed = lpa_confine::fds::passed_by_service_manager();
    let closed = lpa_confine::fds::close_inherited(|fd| passed.contains(&fd));
    let args = Args::parse();
    if let Some(message) = running_as_root() {
        eprintln!("linux-patch-api: {message}");
        return ExitCode::from(1);
    }
    let result = if args.check_config {
        Ok(check_config(&args))
    } else {
        run(&args, &closed)
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("linux-patch-api: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// The frontend parses untrusted network input and must never hold root's powers (DESIGN invariant 1).
fn running_as_root() -> Option<String> {
    let (uid, euid) = (nix::unistd::getuid(), nix::unistd::geteuid());
    (uid.is_root() || euid.is_root()).then(|| {
        format!(
            "refusing to run as root (real uid {uid}, effective uid {euid}): the network daemon must run as an \
             unprivileged user such as linux-patch-api; only linux-patch-api-helper runs as root"
        )
    })
}

fn check_config(args: &Args) -> ExitCode {
    let loaded = match config::load(&args.config) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let mut failed = false;
    let mut unknown: Vec<UnknownKey> = loaded.unknown_keys.clone();
    match config::load_whitelist(&loaded.config.whitelist.path) {
        Ok(wl) => {
            if wl.nets.is_empty() {
                eprintln!(
                    "warning: {}: the whitelist is empty: every connection will be refused",
                    loaded.config.whitelist.path.display()
                );
            }
            unknown.extend(wl.unknown_keys);
        }
        Err(e) => {
            eprintln!("error: {e} (the daemon would deny all connections)");
            failed = true;
        }
    }
    if let Err(e) = tls::build_server_config(&loaded.config.tls) {
        eprintln!("error: {e}");
        failed = true;
    }
    for key in &unknown {
        eprintln!("warning: {key}");
    }
    if failed {
        ExitCode::from(1)
    } else if !unknown.is_empty() {
        eprintln!(
            "configuration usable, but {} unknown key(s) found",
            unknown.len()
        );
        ExitCode::from(2)
    } else {
        println!("configuration OK: {}", args.config.display());
        ExitCode::SUCCESS
    }
}

///
/// `closed` is what [`main`] closed before anything else; it is reported once logging is set up, so that a
/// refusal before that (a bad configuration, a missing certificate) stays the one line it is meant to be.
fn run(args: &Args, closed: &std::io::Result<Vec<i32>>) -> Result<ExitCode> {
    let LoadedConfig {
        config,
        unknown_keys,
    } = config::load(&args.config)?;
    let (log_target, set_log_level) = logging::init(&config.logging.level);
    info!(?log_target, "logging");
    match closed {
        Ok(fds) if !fds.is_empty() => info!(?fds, "closed descriptors inherited from the parent"),
        Ok(_) => {}
        Err(e) => warn!(error = %e, "cannot list inherited descriptors"),
    }
    for key in &unknown_keys {
        warn!("{key}");
    }
    // Before anything is written, and before confinement (its seccomp filter has no chmod).
    lpa_frontend::private_state::restrict_umask();
    for problem in lpa_frontend::private_state::make_private(&config.state_dir) {
        warn!("state directory not private: {problem}");
    }
    let (whitelist, whitelist_problem) = load_whitelist(&config);
    let whitelist = Arc::new(whitelist);
    let server_tls = tls::build_server_config(&config.tls)?;
    let state = AppState::new(ApiSettings {
        helper_socket: config.helper.socket.clone(),
        helper_timeout: Duration::from_secs(config.helper.request_timeout_seconds),
        max_body_bytes: config.server.max_body_bytes,
        body_timeout: config.server.request_timeout(),
        server_cert_not_after: server_tls.server_cert_not_after,
        jobs: JobSettings {
            state_dir: Some(config.state_dir.clone()),
            max_concurrent: config.jobs.max_concurrent as usize,
            max_queue_depth: config.jobs.max_queue_depth as usize,
            timeout: config.jobs.timeout(),
            history_limit: usize::try_from(config.jobs.history_limit).unwrap_or(usize::MAX),
            cache_stale_after: Duration::from_secs(
                config.cache.stale_after_hours.saturating_mul(3600),
            ),
            ..JobSettings::default()
        },
        websocket_origins: config
            .websocket
            .allowed_origins
            .iter()
            .filter_map(|o| lpa_frontend::api::ws::origin::normalise(o))
            .collect(),
        require_empty_bounding_set: true,
    });
    state
        .websockets
        .set_max_per_identity(config.websocket.max_sessions_per_identity);
    let jobs = state.jobs.clone();
    let health = (state.health.clone(), state.helper.clone());
    let shared_tls: tls::SharedServerConfig = Arc::new(arc_swap::ArcSwap::new(server_tls.config));
    let reloader = Arc::new(
        Reloader::new(
            &config,
            Some(args.config.clone()),
            shared_tls.clone(),
            whitelist.clone(),
            state.reload.clone(),
        )
        .with_log_level(set_log_level),
    );
    reloader.record_initial(server_tls.server_cert_not_after);
    if let Some(problem) = whitelist_problem {
        state.reload.set_problem(reload::Part::Whitelist, problem);
    }
    let ctx = Arc::new(listener::Context {
        tls: shared_tls,
        whitelist,
        state,
        limits: Limits::from(&config.server),
    });

    // Bound (or taken from systemd) before confinement: seccomp forbids bind/listen afterwards.
    let (std_listener, source) = open_listener(&config.server)?;
    // Connected now: after confinement Landlock would refuse to reach an abstract notification socket.
    // An unreachable socket is logged, not fatal: a stale NOTIFY_SOCKET inherited outside systemd must not stop
    // the daemon (under systemd, a Type=notify unit that never hears READY=1 fails visibly at its timeout).
    let notifier = Notifier::from_env().unwrap_or_else(|e| {
        warn!(error = %e, "cannot connect to NOTIFY_SOCKET; the service manager will not be notified");
        Notifier::none()
    });
    // Still one thread: confinement applies to every thread the runtime will start.
    let confined = confinement::confine(&config, &args.config).with_context(|| {
        format!(
            "cannot confine the daemon (security.confinement: {}); refusing to start",
            config.security.confinement.as_str()
        )
    })?;
    if confined.is_degraded() {
        warn!(
            missing = ?confined.recorded.degraded,
            "running with degraded confinement (security.confinement: best_effort)"
        );
    }
    info!(
        uid = confined.uid,
        no_new_privs = confined.no_new_privs,
        seccomp = confined.seccomp(),
        landlock = ?confined.recorded.landlock,
        "confined"
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async {
        std_listener
            .set_nonblocking(true)
            .context("cannot make the listener non-blocking")?;
        let tcp = tokio::net::TcpListener::from_std(std_listener)
            .context("cannot register the listener")?;
        let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot install the SIGTERM handler")?;
        let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
            .context("cannot install the SIGINT handler")?;
        let sighup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .context("cannot install the SIGHUP handler")?;
        // Created after confinement so the watcher's thread is confined like every other.
        let _watch = start_reload(reloader, sighup);
        let addr = tcp.local_addr().context("listener has no local address")?;
        match source {
            ListenerSource::SocketActivation => info!("listening on {addr} (socket activation)"),
            ListenerSource::Bound => info!("listening on {addr}"),
        }
        // Jobs left running by a previous process are resolved, then queued jobs run.
        jobs.start();
        // The helper's liveness and host facts, kept current for /health and /system/info.
        health.0.start(health.1, jobs.clone());
        let shutdown = CancellationToken::new();
        let mut serving = tokio::spawn(listener::serve(tcp, ctx, shutdown.clone()));
        // The listener accepts (and has since it was bound): tell systemd we are up (Type=notify).
        if let Err(e) = notifier.notify(&[
            NotifyState::Ready,
            NotifyState::Status(&format!("serving on {addr}")),
        ]) {
            warn!(error = %e, "cannot notify the service manager (READY=1)");
        }
        tokio::select! {
            _ = sigterm.recv() => info!("SIGTERM received; shutting down"),
            _ = sigint.recv() => info!("SIGINT received; shutting down"),
            joined = &mut serving => {
                joined.context("accept loop failed")?;
                anyhow::bail!("accept loop stopped unexpectedly");
            }
        }
        // Before anything else: a reconnecting liveness watch would start a stopped helper again.
        health.0.stop();
        if let Err(e) = notifier.notify(&[NotifyState::Stopping]) {
            warn!(error = %e, "cannot notify the service manager (STOPPING=1)");
        }
        shutdown.cancel();
        match tokio::time::timeout(DRAIN_TIMEOUT, serving).await {
            Ok(_) => info!("all connections closed"),
            Err(_) => warn!("connections still open after {DRAIN_TIMEOUT:?}; exiting anyway"),
        }
        Ok::<_, anyhow::Error>(())
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    result?;
    info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Takes the systemd-passed listener (`LISTEN_FDS`, fd 3) if there is one, else binds
/// `server.bind:server.port`; synchronous, because it must happen before confinement and the runtime.
fn open_listener(
    server: &config::ServerSection,
) -> Result<(std::net::TcpListener, ListenerSource)> {
    let mut fds = listenfd::ListenFd::from_env();
    if let Some(l) = fds
        .take_tcp_listener(0)
        .map_err(listener::ListenerError::Activation)?
    {
        return Ok((l, ListenerSource::SocketActivation));
    }
    let addr = server.socket_addr();
    // std sets SO_REUSEADDR on Unix, like tokio's bind, so a restart does not wait for TIME_WAIT.
    let l = std::net::TcpListener::bind(addr)
        .map_err(|source| listener::ListenerError::Bind { addr, source })?;
    Ok((l, ListenerSource::Bound))
}

/// Watches the reloadable files' directories and reloads on a change or SIGHUP, one reload at a time. A
/// watch that cannot be set up is logged; SIGHUP still works. Returns the watch, which must be kept alive.
fn start_reload(
    reloader: Arc<Reloader>,
    mut sighup: tokio::signal::unix::Signal,
) -> Option<reload::watch::DirWatch> {
    let (changed_tx, mut changed) = tokio::sync::mpsc::channel(1);
    let watch = match reload::watch::watch(&reloader.watched_files(), changed_tx) {
        Ok(watch) => {
            info!(dirs = ?watch.dirs, "watching for changes to reload");
            Some(watch)
        }
        Err(e) => {
            warn!(error = %e, "cannot watch the configuration directories; reload on SIGHUP only");
            None
        }
    };
    tokio::spawn(async move {
        loop {
            let why = tokio::select! {
                Some(()) = changed.recv() => {
                    // Debounce: let the burst (write, chmod, rename) settle, then drop what it queued.
                    tokio::time::sleep(reload::watch::DEBOUNCE).await;
                    while changed.try_recv().is_ok() {}
                    "file change"
                }
                Some(()) = sighup.recv() => "SIGHUP",
                else => break,
            };
            reloader.reload(why);
        }
    });
    watch
}

/// API.md: an unreadable or invalid whitelist at start means deny all; the daemon keeps running so that
/// fixing the file is all it takes (hot reload picks it up). The second value is the problem for `/health`.
fn load_whitelist(config: &config::Config) -> (Whitelist, Option<String>) {
    match config::load_whitelist(&config.whitelist.path) {
        Ok(loaded) => {
            for key in &loaded.unknown_keys {
                warn!("{key}");
            }
            if loaded.nets.is_empty() {
                warn!(path = %config.whitelist.path.display(), "whitelist is empty: every connection is refused");
            } else {
                info!(path = %config.whitelist.path.display(), entries = loaded.nets.len(), "whitelist loaded");
            }
            (Whitelist::new(loaded.nets), None)
        }
        Err(e) => {
            error!("{e}; denying ALL connections until the whitelist is fixed");
            (Whitelist::deny_all(), Some(e.to_string()))
        }
    }
}
