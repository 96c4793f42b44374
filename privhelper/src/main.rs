//! `linux-patch-api-helper --config PATH [--check-config]`: the root helper.
//!
//! Start-up order matters and is single-threaded until the fork: close the descriptors inherited from the
//! parent (all but systemd's `LISTEN_FDS`), parse the config, resolve users, detect the backend, mark the
//! remaining inherited descriptors close-on-exec, open the listening socket, create the
//! launcher ⇄ broker socketpair, measure the launcher's confinement, then fork. The child becomes the
//! broker (empties its bounding set, drops privileges, confines itself with Landlock and seccomp, then
//! builds its runtime); the parent stays root and unconfined as the launcher.

mod check_config;

use anyhow::{Context, bail};
use clap::Parser;
use lpa_privhelper::broker::{self, BrokerSettings, peer::PeerPolicy};
use lpa_privhelper::config::HelperConfig;
use lpa_privhelper::launcher::table::{Programs, Table, change::check_reboot_command};
use lpa_privhelper::launcher::{self, Exit, spawn::SpawnPolicy};
use lpa_privhelper::users::Identities;
use lpa_privhelper::{confine, detect, socket, sys};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "linux-patch-api-helper",
    version,
    about = "Root helper of linux-patch-api"
)]
struct Args {
    /// Path of helper.yaml.
    #[arg(long, default_value = "/etc/linux_patch_api/helper.yaml")]
    config: PathBuf,
    /// Check everything the helper would refuse at start (config, users, backend, reboot command, package
    /// root, socket directory), print each problem, and exit: 0 = would start, 1 = would refuse.
    #[arg(long)]
    check_config: bool,
}

fn main() -> ExitCode {
    // First of all, before anything is opened: drop what the parent left open (lpa_confine::fds), except the
    // socket systemd passed.
    let passed = lpa_confine::fds::passed_by_service_manager();
    let closed = lpa_confine::fds::close_inherited(|fd| passed.contains(&fd));
    let args = Args::parse();
    if args.check_config {
        // Before logging is set up: the verdict is for a person or ExecStartPre, not for the log.
        return check_config::run(&args.config);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match closed {
        Ok(fds) if !fds.is_empty() => {
            tracing::info!(?fds, "closed descriptors inherited from the parent");
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot list inherited descriptors"),
    }
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("linux-patch-api-helper: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let cfg = HelperConfig::load(&args.config)?;
    let ids = Identities::resolve(&cfg).with_context(|| args.config.display().to_string())?;
    let backend = detect::detect(cfg.backend, &cfg.package_root, detect::exists)?;
    if !lpa_privhelper::backend::available(backend) {
        bail!("the {backend} backend is not available in this build of the helper");
    }
    // A reboot command that someone other than root could rewrite would hand them root: refuse to start.
    // A missing one only disables reboots (containers and minimal hosts have no shutdown).
    let reboot_command = match check_reboot_command(&cfg.reboot.command) {
        Ok(()) => Some(cfg.reboot.command.clone()),
        Err(e @ launcher::table::change::RebootCommandError::Missing { .. }) => {
            tracing::warn!(error = %e, "reboots are unavailable");
            None
        }
        Err(e) => bail!("{}: `reboot.command`: {e}", args.config.display()),
    };
    if !nix::unistd::geteuid().is_root() {
        bail!(
            "must be started as root (it forks an unprivileged broker and keeps a root launcher)"
        );
    }
    if cfg.package_root != Path::new("/") && cfg.apt.config_file.is_none() {
        tracing::warn!(
            root = %cfg.package_root.display(),
            "package_root is not / but apt.config_file is unset: apt commands would act on the host's apt state"
        );
    }
    launcher::stop_signals()
        .thread_block()
        .context("blocking SIGTERM/SIGINT during start-up")?;
    sys::mark_inherited_fds_cloexec().context("marking inherited descriptors close-on-exec")?;
    let (listener, origin) = socket::open_listener(&cfg.socket.path, ids.frontend_gid)?;
    tracing::info!(?origin, path = %cfg.socket.path.display(), "listening");
    let (launcher_end, broker_end) =
        std::os::unix::net::UnixStream::pair().context("creating the launcher socketpair")?;
    let launcher_pid = nix::unistd::getpid();
    // The launcher measures itself now (root, unconfined, and it changes nothing about itself later);
    // the broker inherits the measurement and reports it with its own.
    confine::remember_launcher(confine::measure_launcher());

    match sys::fork_single_threaded()? {
        sys::ForkResult::Child => {
            drop(launcher_end);
            // The broker stops on the launcher's SIGTERM with the default action.
            if let Err(e) = launcher::stop_signals().thread_unblock() {
                tracing::error!(error = %e, "cannot unblock stop signals in the broker");
                std::process::exit(3);
            }
            let code = run_broker(listener, broker_end, &cfg, &ids, backend, launcher_pid);
            std::process::exit(code);
        }
        sys::ForkResult::Parent { child } => {
            drop(broker_end);
            drop(listener);
            tracing::info!(broker_pid = child.as_raw(), "launcher ready");
            let policy = SpawnPolicy {
                apt_config: cfg.apt.config_file.clone(),
                ..SpawnPolicy::default()
            };
            let table = launcher_table(&cfg, backend, reboot_command)?;
            // The socket listens and the broker exists: a Type=notify unit may start its dependants. Only
            // the launcher (systemd's main pid) notifies; the broker and every child get a clean environment
            // or are confined. (A pathname NOTIFY_SOCKET, as systemd uses for system services.)
            if let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
                tracing::warn!(error = %e, "cannot notify the service manager (READY=1)");
            }
            let exit = launcher::serve(launcher_end, child, table, policy);
            if let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Stopping]) {
                tracing::warn!(error = %e, "cannot notify the service manager (STOPPING=1)");
            }
            match exit {
                Exit::Signalled(sig) => {
                    // A socket we bound is ours to remove (the broker, its only user, has exited); one
                    // passed by systemd belongs to the socket unit.
                    if origin == socket::Origin::Bound {
                        let _ = std::fs::remove_file(&cfg.socket.path);
                    }
                    tracing::info!(signal = %sig, "stopped");
                    Ok(ExitCode::SUCCESS)
                }
                Exit::BrokerDied(why) => {
                    tracing::error!(%why, "the broker died; exiting");
                    Ok(ExitCode::from(1))
                }
                Exit::BrokerMisbehaved(why) => {
                    tracing::error!(%why, "stopping the broker; exiting");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

/// The broker's life after the fork; returns its exit code.
fn run_broker(
    listener: std::os::unix::net::UnixListener,
    launcher: std::os::unix::net::UnixStream,
    cfg: &HelperConfig,
    ids: &Identities,
    backend: lpa_protocol::Backend,
    launcher_pid: nix::unistd::Pid,
) -> i32 {
    let dropped = confine::die_with_parent(launcher_pid)
        .and_then(|()| {
            confine::drop_bounding_set().map_err(|e| confine::ConfineError::Bounding(e.to_string()))
        })
        .and_then(|()| confine::irrevocably_drop_privileges(ids))
        .and_then(|()| confine::die_with_parent(launcher_pid));
    if let Err(e) = dropped {
        tracing::error!(error = %e, "broker confinement failed");
        return 3;
    }
    match confine::confine_broker(&cfg.package_root) {
        Ok(c) => tracing::info!(
            uid = c.uid,
            seccomp = c.seccomp(),
            landlock = ?c.recorded.landlock,
            "broker confined"
        ),
        Err(e) => {
            tracing::error!(error = %e, "broker confinement failed");
            return 3;
        }
    }
    let settings = BrokerSettings {
        peers: PeerPolicy {
            frontend_uid: ids.frontend_uid,
            allow_root: cfg.allow_root_peer,
        },
        backend,
        package_root: cfg.package_root.clone(),
        lock_timeout: std::time::Duration::from_secs(cfg.lock_timeout_seconds.into()),
    };
    match broker::run(listener, launcher, settings) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!(error = %e, "broker failed");
            4
        }
    }
}

/// The launcher's command table: the programs of this host and the settings of `helper.yaml` that shape
/// argv. For pacman, the listing database is prepared here, by root, before any request.
fn launcher_table(
    cfg: &HelperConfig,
    backend: lpa_protocol::Backend,
    reboot_command: Option<PathBuf>,
) -> anyhow::Result<Table> {
    use lpa_privhelper::launcher::table::{apk, dnf, pacman};
    let table = Table {
        lock_timeout_seconds: cfg.lock_timeout_seconds,
        reboot_command,
        package_root: cfg.package_root.clone(),
        dnf: dnf::DnfSettings {
            config_file: cfg.dnf.config_file.clone(),
            releasever: cfg.dnf.releasever.clone(),
            front_end: if backend == lpa_protocol::Backend::Yum {
                dnf::FrontEnd::Yum
            } else {
                dnf::FrontEnd::Dnf
            },
        },
        pacman: pacman::PacmanSettings {
            config_file: cfg.pacman.config_file.clone(),
            ..pacman::PacmanSettings::default()
        },
        apk: apk::ApkSettings {
            repositories_file: cfg.apk.repositories_file.clone(),
            keys_dir: cfg.apk.keys_dir.clone(),
            lock_wait_seconds: cfg.lock_timeout_seconds,
        },
        ..Table::new(Programs::discover())
    };
    if backend == lpa_protocol::Backend::Pacman {
        pacman::prepare_listing_db(&table.pacman, &table.package_root)
            .context("preparing pacman's listing database")?;
    }
    Ok(table)
}
