//! Running one command line: clean environment, cwd `/`, stdin `/dev/null`, own process group, bounded
//! output capture and a timeout that kills the whole group.

use super::table::CommandLine;
use lpa_protocol::launcher::{ExecOutput, LaunchError};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Limits and environment applied to every child.
#[derive(Debug, Clone)]
pub struct SpawnPolicy {
    /// Bytes kept of stdout and of stderr, each.
    pub capture_limit: usize,
    /// Wall-clock limit; the process group is killed when it is reached.
    pub timeout: Duration,
    /// Exported as `APT_CONFIG` to apt children when set.
    pub apt_config: Option<PathBuf>,
}

impl Default for SpawnPolicy {
    fn default() -> Self {
        SpawnPolicy {
            capture_limit: 1024 * 1024,
            timeout: Duration::from_secs(120),
            apt_config: None,
        }
    }
}

/// How long to wait for the output pipes to close after the child exited (a grandchild may hold them).
const PIPE_GRACE: Duration = Duration::from_secs(5);

/// Runs `cl` to completion under `policy`.
// The one place that starts processes (DESIGN invariant 2); the argv comes from the command table only.
#[allow(clippy::disallowed_methods)]
pub fn run(cl: &CommandLine, policy: &SpawnPolicy) -> Result<ExecOutput, LaunchError> {
    let program = cl.program.display().to_string();
    let mut cmd = Command::new(&cl.program);
    cmd.args(&cl.args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LC_ALL", "C")
        .env("HOME", "/root")
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if cl.is_apt {
        cmd.env("DEBIAN_FRONTEND", "noninteractive");
        if let Some(conf) = &policy.apt_config {
            cmd.env("APT_CONFIG", conf);
        }
    }
    let mut child = cmd.spawn().map_err(|e| LaunchError::Spawn {
        program: program.clone(),
        reason: e.to_string(),
    })?;
    let pgid = Pid::from_raw(child.id() as i32);
    let out_rx = capture(child.stdout.take(), policy.capture_limit);
    let err_rx = capture(child.stderr.take(), policy.capture_limit);

    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait());
    });
    let mut timed_out = false;
    let status = match done_rx.recv_timeout(policy.timeout) {
        Ok(status) => status,
        Err(_) => {
            timed_out = true;
            let _ = killpg(pgid, Signal::SIGKILL);
            done_rx
                .recv()
                .unwrap_or_else(|_| Err(std::io::Error::other("waiter vanished")))
        }
    };
    let status = status.map_err(|e| LaunchError::Spawn {
        program: program.clone(),
        reason: format!("wait failed: {e}"),
    })?;
    let (stdout, t1) = out_rx
        .recv_timeout(PIPE_GRACE)
        .unwrap_or((Vec::new(), true));
    let (mut stderr, t2) = err_rx
        .recv_timeout(PIPE_GRACE)
        .unwrap_or((Vec::new(), true));
    if timed_out {
        stderr.extend_from_slice(
            format!(
                "\nkilled after the timeout of {} s",
                policy.timeout.as_secs()
            )
            .as_bytes(),
        );
    }
    Ok(ExecOutput {
        program,
        exit_code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        truncated: t1 || t2,
    })
}

/// Reads a pipe to its end on its own thread, keeping at most `limit` bytes and draining the rest so the
/// child never blocks on a full pipe. Sends `(bytes, truncated)`.
fn capture(
    pipe: Option<impl Read + Send + 'static>,
    limit: usize,
) -> mpsc::Receiver<(Vec<u8>, bool)> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut truncated = false;
        if let Some(mut pipe) = pipe {
            let mut buf = [0u8; 16 * 1024];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        let room = limit.saturating_sub(kept.len());
                        if n > room {
                            truncated = true;
                        }
                        kept.extend_from_slice(&buf[..n.min(room)]);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        }
        let _ = tx.send((kept, truncated));
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> CommandLine {
        CommandLine {
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".into(), script.into()],
            is_apt: false,
        }
    }

    #[test]
    fn environment_is_clean_and_cwd_is_root() {
        let out = run(&sh("env; pwd"), &SpawnPolicy::default()).unwrap();
        assert_eq!(out.exit_code, Some(0));
        let mut lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(lines.pop(), Some("/"));
        lines
            .retain(|l| !l.starts_with("PWD=") && !l.starts_with("SHLVL=") && !l.starts_with("_="));
        lines.sort();
        assert_eq!(
            lines,
            [
                "HOME=/root",
                "LC_ALL=C",
                "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
            ]
        );
    }

    #[test]
    fn apt_children_get_apt_config_and_noninteractive_frontend() {
        let mut cl = sh("echo $APT_CONFIG $DEBIAN_FRONTEND");
        cl.is_apt = true;
        let policy = SpawnPolicy {
            apt_config: Some(PathBuf::from("/tmp/x/apt.conf")),
            ..SpawnPolicy::default()
        };
        let out = run(&cl, &policy).unwrap();
        assert_eq!(out.stdout.trim(), "/tmp/x/apt.conf noninteractive");
    }

    #[test]
    fn output_beyond_the_limit_is_cut_and_flagged() {
        let policy = SpawnPolicy {
            capture_limit: 1000,
            ..SpawnPolicy::default()
        };
        let out = run(
            &sh("head -c 100000 /dev/zero; echo err >&2; exit 3"),
            &policy,
        )
        .unwrap();
        assert_eq!(out.stdout.len(), 1000);
        assert!(out.truncated);
        assert_eq!(out.stderr.trim(), "err");
        assert_eq!(out.exit_code, Some(3));
    }

    #[test]
    fn timeout_kills_the_whole_process_group() {
        let policy = SpawnPolicy {
            timeout: Duration::from_millis(300),
            ..SpawnPolicy::default()
        };
        let start = std::time::Instant::now();
        // The grandchild `sleep` holds the pipes; killing only the shell would leave it running.
        let out = run(&sh("sleep 30 & sleep 30"), &policy).unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(4),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(out.exit_code, None);
        assert!(out.stderr.contains("timeout"), "{}", out.stderr);
    }

    #[test]
    fn stdin_is_empty() {
        let out = run(&sh("wc -c"), &SpawnPolicy::default()).unwrap();
        assert_eq!(out.stdout.trim(), "0");
    }

    #[test]
    fn missing_program_is_a_spawn_error() {
        let cl = CommandLine {
            program: PathBuf::from("/nonexistent/prog"),
            args: vec![],
            is_apt: false,
        };
        assert!(matches!(
            run(&cl, &SpawnPolicy::default()),
            Err(LaunchError::Spawn { .. })
        ));
    }
}
