//! The real two-process stack, started like production: the helper as root, the frontend as uid 61001.
//!
//! [`Stack::start`] generates a PKI, a sandbox package root and the three YAML files in a work directory,
//! starts `linux-patch-api-helper --config helper.yaml` (root) and `linux-patch-api --config config.yaml`
//! (uid/gid 61001), and returns once the helper's socket accepts connections and the frontend's TCP port
//! accepts connections. Work directory layout:
//!
//! ```text
//! <work>/
//!   pki/            TestPki (server.key owned by 61001, 0600)
//!   sandbox/        AptSandbox: root/ and apt.conf
//!   run/            0755; helper.sock
//!   state/          frontend state_dir, owned by 61001
//!   helper.yaml  config.yaml  whitelist.yaml
//!   helper.log  frontend.log   (appended across restarts)
//!   reboot-recorder            root-owned 0755; the helper's reboot command
//!   reboot-requests.log        one line of arguments per reboot request (`-r +2`, `-r now`)
//! ```
//!
//! The helper's reboot command is the recorder, so neither tests nor the demo ever reboot the host.

pub(crate) mod config;
mod daemon;
mod net;
mod options;

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

pub use config::{BROKER_ID, FRONTEND_ID};
use config::{
    FrontendYaml, HelperYaml, frontend_yaml, helper_yaml, reboot_recorder_script, whitelist_yaml,
};
use daemon::{Daemon, POLL, log_path};
use net::{connect_addr, free_port};
pub use options::{JobSettings, StackOptions};

use crate::error::{Error, IoContext, Result};
use crate::fsutil::{chmod, chown, dir_0755, tail, utf8, write_public, write_with_mode};
use crate::paths::binary_path;
use crate::pki::TestPki;
use crate::run::command_in;
use crate::sandbox::Sandbox;

/// Name of the helper binary.
pub const HELPER_BINARY: &str = "linux-patch-api-helper";
/// Name of the frontend binary.
pub const FRONTEND_BINARY: &str = "linux-patch-api";
/// File name of the reboot recorder in the work directory.
const REBOOT_RECORDER: &str = "reboot-recorder";
/// File name of the recorder's log in the work directory.
const REBOOT_REQUESTS_LOG: &str = "reboot-requests.log";
/// Lines of each log shown in error messages and by [`Stack::logs`].
const LOG_TAIL_LINES: usize = 60;

/// The work directory: temporary (removed on drop) or fixed (kept).
#[derive(Debug)]
enum WorkDir {
    Temp(tempfile::TempDir),
    Fixed(PathBuf),
}

impl WorkDir {
    fn path(&self) -> &Path {
        match self {
            WorkDir::Temp(t) => t.path(),
            WorkDir::Fixed(p) => p,
        }
    }
}

/// How [`Stack::wait`] ended: which process exited first, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exited {
    /// `"helper"` or `"frontend"`.
    pub which: &'static str,
    /// Its exit status.
    pub status: ExitStatus,
}

/// util-linux's `setpriv`, which starts the frontend with the credentials a service manager would give it.
const SETPRIV: &str = "/usr/bin/setpriv";

/// A running helper + frontend pair on a sandbox root. Dropping it stops both.
#[derive(Debug)]
pub struct Stack {
    // Field order matters for drop: `Drop::drop` stops the daemons before `work` is removed.
    helper: Option<Daemon>,
    frontend: Option<Daemon>,
    pki: TestPki,
    sandbox: Sandbox,
    port: u16,
    connect_addr: IpAddr,
    ready_timeout: Duration,
    helper_socket: PathBuf,
    helper_config: PathBuf,
    frontend_config: PathBuf,
    work: WorkDir,
}

impl Stack {
    /// Prepares everything and starts both processes; see the module documentation.
    pub fn start(options: StackOptions) -> Result<Stack> {
        crate::prereq::tools()?;
        // Fail before any work if the binaries are not built.
        binary_path(HELPER_BINARY)?;
        binary_path(FRONTEND_BINARY)?;

        let work = match &options.work_dir {
            Some(dir) => WorkDir::Fixed(dir.clone()),
            None => WorkDir::Temp(
                tempfile::Builder::new()
                    .prefix("lpa-stack-")
                    .tempdir()
                    .context(|| "create a temporary work directory".to_owned())?,
            ),
        };
        let w = work.path().to_path_buf();
        dir_0755(&w)?;

        let port = match options.port {
            0 => free_port(options.bind)?,
            p => p,
        };
        let pki = TestPki::generate(&w.join("pki"))?;
        let preinstall: Vec<&str> = options.preinstall.iter().map(String::as_str).collect();
        let sandbox = Sandbox::create(
            options.backend,
            &w.join("sandbox"),
            options.snapshot,
            &preinstall,
        )?;

        let run = w.join("run");
        dir_0755(&run)?;
        let helper_socket = run.join("helper.sock");
        let state = w.join("state");
        dir_0755(&state)?;
        chown(&state, FRONTEND_ID, FRONTEND_ID)?;
        // The frontend must read its key; it stays 0600, now owned by the frontend's uid.
        chown(&pki.server.key, FRONTEND_ID, FRONTEND_ID)?;
        chmod(&pki.server.key, 0o600)?;

        let whitelist = w.join("whitelist.yaml");
        write_public(&whitelist, whitelist_yaml(&options.whitelist))?;
        // Root-owned (the kit runs as root) and 0755: the helper refuses anything others could rewrite.
        let reboot_recorder = w.join(REBOOT_RECORDER);
        write_with_mode(
            &reboot_recorder,
            reboot_recorder_script(&w.join(REBOOT_REQUESTS_LOG))?,
            0o755,
        )?;
        let helper_config = w.join("helper.yaml");
        write_public(
            &helper_config,
            helper_yaml(&HelperYaml {
                socket: &helper_socket,
                package_root: sandbox.root(),
                backend: &sandbox.helper_yaml()?,
                reboot_command: &reboot_recorder,
                lock_timeout_seconds: options.lock_timeout_seconds,
            })?,
        )?;
        let frontend_config = w.join("config.yaml");
        write_public(
            &frontend_config,
            frontend_yaml(&FrontendYaml {
                bind: options.bind,
                port,
                ca_cert: &pki.ca_cert,
                server_cert: &pki.server.cert,
                server_key: &pki.server.key,
                crl: options.use_crl.then_some(pki.crl.as_path()),
                whitelist: &whitelist,
                helper_socket: &helper_socket,
                state_dir: &state,
                log_level: &options.log_level,
                jobs: options.jobs,
                max_connections: options.max_connections,
                request_timeout_seconds: options.request_timeout_seconds,
                server_extra: &options.server_extra,
                extra: &options.frontend_extra,
            })?,
        )?;

        let mut stack = Stack {
            helper: None,
            frontend: None,
            pki,
            sandbox,
            port,
            connect_addr: connect_addr(options.bind),
            ready_timeout: options.ready_timeout,
            helper_socket,
            helper_config,
            frontend_config,
            work,
        };
        // On error `stack` is dropped here, which stops whatever did start.
        stack.start_helper()?;
        stack.start_frontend()?;
        Ok(stack)
    }

    /// `https://127.0.0.1:<port>` (or `https://[::1]:<port>` for an IPv6 bind); the server certificate
    /// covers both addresses and `localhost`.
    pub fn base_url(&self) -> String {
        format!("https://{}", SocketAddr::new(self.connect_addr, self.port))
    }

    /// The frontend's TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address tests connect to (the bind address, or loopback for an unspecified bind).
    pub fn connect_addr(&self) -> SocketAddr {
        SocketAddr::new(self.connect_addr, self.port)
    }

    /// The per-run PKI.
    pub fn pki(&self) -> &TestPki {
        &self.pki
    }

    /// The sandbox package root the helper drives.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The sandbox, mutably (e.g. to `publish(Snapshot::V2)`).
    pub fn sandbox_mut(&mut self) -> &mut Sandbox {
        &mut self.sandbox
    }

    /// The helper's Unix socket.
    pub fn helper_socket(&self) -> &Path {
        &self.helper_socket
    }

    /// The work directory.
    pub fn work_dir(&self) -> &Path {
        self.work.path()
    }

    /// Where the reboot recorder appends the arguments of each reboot request (`-r +2`, `-r now`), one per
    /// line; the file exists only after the first request.
    pub fn reboot_requests_log(&self) -> PathBuf {
        self.work.path().join(REBOOT_REQUESTS_LOG)
    }

    /// `helper.yaml`.
    pub fn helper_config_path(&self) -> &Path {
        &self.helper_config
    }

    /// `config.yaml`.
    pub fn frontend_config_path(&self) -> &Path {
        &self.frontend_config
    }

    /// The frontend's pid while it runs.
    pub fn frontend_pid(&self) -> Option<u32> {
        self.frontend.as_ref().map(Daemon::pid)
    }

    /// The helper's (launcher's) pid while it runs.
    pub fn helper_pid(&self) -> Option<u32> {
        self.helper.as_ref().map(Daemon::pid)
    }

    /// Stops the helper (SIGTERM, SIGKILL after 5 s) and returns its exit status; `None` if it was not running.
    pub fn stop_helper(&mut self) -> Result<Option<ExitStatus>> {
        self.helper.take().map(Daemon::stop).transpose()
    }

    /// Stops the frontend (SIGTERM, SIGKILL after 5 s) and returns its exit status; `None` if not running.
    pub fn stop_frontend(&mut self) -> Result<Option<ExitStatus>> {
        self.frontend.take().map(Daemon::stop).transpose()
    }

    /// Starts the helper as root and waits until its socket accepts connections. A stale socket file from an
    /// earlier run is removed first, so its presence means the new helper is listening.
    pub fn start_helper(&mut self) -> Result<()> {
        if self.helper.is_some() {
            return Err(Error::Invalid("the helper is already running".to_owned()));
        }
        if self.helper_socket.exists() {
            std::fs::remove_file(&self.helper_socket)
                .context(|| format!("remove stale {}", self.helper_socket.display()))?;
        }
        let mut cmd = command_in(binary_path(HELPER_BINARY)?, self.work.path());
        cmd.arg("--config").arg(&self.helper_config);
        pass_log_env(&mut cmd);
        let log = log_path(self.work.path(), "helper");
        self.helper = Some(Daemon::spawn("helper", cmd, &log, None)?);
        let socket = self.helper_socket.clone();
        self.wait_ready(
            Role::Helper,
            &format!("helper socket {}", socket.display()),
            || UnixStream::connect(&socket).is_ok(),
        )
    }

    /// Starts the frontend as uid/gid 61001 with no supplementary groups and an empty capability bounding
    /// set — as the systemd unit does (`CapabilityBoundingSet=`): an unprivileged process cannot empty its
    /// own bounding set — and waits until its TCP port accepts connections. `setpriv` execs the frontend,
    /// so the daemon's pid is the frontend's.
    pub fn start_frontend(&mut self) -> Result<()> {
        if self.frontend.is_some() {
            return Err(Error::Invalid("the frontend is already running".to_owned()));
        }
        let mut cmd = command_in(SETPRIV, self.work.path());
        cmd.args([
            format!("--reuid={FRONTEND_ID}"),
            format!("--regid={FRONTEND_ID}"),
            "--clear-groups".to_owned(),
            "--bounding-set=-all".to_owned(),
            "--inh-caps=-all".to_owned(),
            "--".to_owned(),
        ]);
        cmd.arg(binary_path(FRONTEND_BINARY)?)
            .arg("--config")
            .arg(&self.frontend_config);
        pass_log_env(&mut cmd);
        let log = log_path(self.work.path(), "frontend");
        self.frontend = Some(Daemon::spawn("frontend", cmd, &log, None)?);
        let addr = self.connect_addr();
        self.wait_ready(Role::Frontend, &format!("frontend port {addr}"), || {
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        })
    }

    /// Tails of `helper.log` and `frontend.log`, for assertion messages.
    pub fn logs(&self) -> String {
        let w = self.work.path();
        format!(
            "--- helper.log (last {LOG_TAIL_LINES} lines) ---\n{}\n--- frontend.log (last {LOG_TAIL_LINES} lines) ---\n{}",
            tail(&log_path(w, "helper"), LOG_TAIL_LINES),
            tail(&log_path(w, "frontend"), LOG_TAIL_LINES)
        )
    }

    /// Writes `LPA_URL`, `LPA_CACERT`, `LPA_CERT` and `LPA_KEY` lines (`KEY=value`, one per line) for the
    /// `test-operator` client, e.g. for `set -a; . file; set +a` in a shell.
    pub fn write_client_env(&self, path: &Path) -> Result<()> {
        let text = format!(
            "LPA_URL={}\nLPA_CACERT={}\nLPA_CERT={}\nLPA_KEY={}\n",
            self.base_url(),
            utf8(&self.pki.ca_cert)?,
            utf8(&self.pki.client.cert)?,
            utf8(&self.pki.client.key)?,
        );
        write_public(path, text)
    }

    /// Blocks until either process exits (the demo's foreground mode) and says which and how.
    pub fn wait(&mut self) -> Result<Exited> {
        loop {
            for daemon in [self.helper.as_mut(), self.frontend.as_mut()]
                .into_iter()
                .flatten()
            {
                if let Some(status) = daemon.exited() {
                    return Ok(Exited {
                        which: daemon.name(),
                        status,
                    });
                }
            }
            if self.helper.is_none() && self.frontend.is_none() {
                return Err(Error::Invalid("neither process is running".to_owned()));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Polls `ready` until it holds, failing early (with the logs) if the process exits and after the timeout.
    fn wait_ready(&mut self, role: Role, what: &str, ready: impl Fn() -> bool) -> Result<()> {
        let deadline = Instant::now() + self.ready_timeout;
        loop {
            if ready() {
                return Ok(());
            }
            let daemon = match role {
                Role::Helper => self.helper.as_mut(),
                Role::Frontend => self.frontend.as_mut(),
            };
            if let Some(status) = daemon.and_then(Daemon::exited) {
                match role {
                    Role::Helper => self.helper = None,
                    Role::Frontend => self.frontend = None,
                }
                return Err(Error::Startup {
                    what: format!("{} exited ({status}) before {what} was ready", role.name()),
                    logs: self.logs(),
                });
            }
            if Instant::now() >= deadline {
                return Err(Error::Startup {
                    what: format!("{what} not ready after {:?}", self.ready_timeout),
                    logs: self.logs(),
                });
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // Frontend first, so it does not log a storm of helper-unavailable errors.
        if let Some(frontend) = self.frontend.take() {
            let _ = frontend.stop();
        }
        if let Some(helper) = self.helper.take() {
            let _ = helper.stop();
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Role {
    Helper,
    Frontend,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Helper => "helper",
            Role::Frontend => "frontend",
        }
    }
}

/// Passes the developer's `RUST_LOG` / `RUST_BACKTRACE` through the otherwise cleared environment.
fn pass_log_env(cmd: &mut std::process::Command) {
    for key in ["RUST_LOG", "RUST_BACKTRACE"] {
        if let Some(value) = std::env::var_os(key) {
            cmd.env(key, value);
        }
    }
}
