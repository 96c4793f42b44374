//! One long-running child process with its log file, and how to stop it.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::error::{IoContext, Result};
use crate::run::describe;

/// How long a daemon gets to exit after SIGTERM before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(5);
/// Poll interval while waiting for a child or a socket.
pub const POLL: Duration = Duration::from_millis(25);

/// A running child whose stdout and stderr go to a log file.
#[derive(Debug)]
pub struct Daemon {
    name: &'static str,
    child: Child,
}

impl Daemon {
    /// Starts `cmd` with stdin from /dev/null and stdout+stderr appended to `log`; as `ids` (uid, gid) if given.
    ///
    /// With `uid`/`gid` set, std also drops supplementary groups (`setgroups(0)`) before exec, as the product
    /// expects of an unprivileged frontend.
    pub fn spawn(
        name: &'static str,
        mut cmd: Command,
        log: &Path,
        ids: Option<(u32, u32)>,
    ) -> Result<Daemon> {
        let out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .context(|| format!("open log {}", log.display()))?;
        let err = out
            .try_clone()
            .context(|| format!("dup log {}", log.display()))?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        if let Some((uid, gid)) = ids {
            cmd.uid(uid).gid(gid);
        }
        let child = cmd
            .spawn()
            .context(|| format!("start {name}: `{}`", describe(&cmd)))?;
        Ok(Daemon { name, child })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What this daemon is ("helper", "frontend").
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// `Some(status)` if the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Blocks until the process exits.
    pub fn wait(&mut self) -> Result<ExitStatus> {
        let name = self.name;
        self.child.wait().context(|| format!("wait for {name}"))
    }

    /// SIGTERM, wait up to [`STOP_GRACE`], then SIGKILL; returns the exit status.
    pub fn stop(mut self) -> Result<ExitStatus> {
        if let Some(status) = self.exited() {
            return Ok(status);
        }
        if let Ok(raw) = i32::try_from(self.child.id()) {
            // ESRCH just means it exited in between.
            let _ = kill(Pid::from_raw(raw), Signal::SIGTERM);
        }
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if let Some(status) = self.exited() {
                return Ok(status);
            }
            std::thread::sleep(POLL);
        }
        let _ = self.child.kill();
        self.wait()
    }
}

/// Where a daemon's log goes: `<work>/<name>.log`.
pub fn log_path(work: &Path, name: &str) -> PathBuf {
    work.join(format!("{name}.log"))
}
