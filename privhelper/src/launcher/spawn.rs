//! Running one command line: clean environment, cwd `/`, stdin `/dev/null`, own process group, bounded
//! output capture, an optional status pipe streamed line by line, and a timeout that kills the whole group.
//!
//! Every spawn happens under one process-wide lock. A status pipe's write end must be inheritable (it is
//! how apt gets its `APT::Status-Fd`), so while it exists in the parent any other spawn would leak it into
//! an unrelated child and keep the pipe open; the lock makes "create pipe, spawn, close the parent's copy"
//! one step that no other spawn can interleave with.
//!
//! Children start with an empty signal mask. The launcher blocks SIGTERM/SIGINT in every thread (only its
//! signal thread takes them), and a child inherits the mask of the thread that spawns it — std does not
//! reset it — so without this apt, dpkg and every maintainer script would run with SIGTERM blocked, and a
//! cancelled job could only be stopped by SIGKILL. The spawning thread clears its mask for the duration
//! of the spawn call only. A stop signal that lands in exactly that window takes its default action and
//! ends the launcher at once instead of in order — the stop that was asked for, minus the courtesy of
//! stopping the broker first (which dies with its parent anyway).

use super::status_pipe::{self, LineSplitter, StatusPipe};
use super::table::{CommandLine, StatusChannel};
use lpa_protocol::launcher::{ExecOutput, LaunchError};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, killpg};
use nix::unistd::Pid;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

/// Limits and environment applied to every child.
#[derive(Debug, Clone)]
pub struct SpawnPolicy {
    /// Bytes kept of stdout and of stderr, each.
    pub capture_limit: usize,
    /// Wall-clock limit of reading commands; the process group is killed when it is reached.
    pub timeout: Duration,
    /// Wall-clock limit of package-changing commands: only a backstop, since the frontend's job timeout
    /// (enforced with `Abort`) is the real limit.
    pub change_timeout: Duration,
    /// Exported as `APT_CONFIG` to apt children when set.
    pub apt_config: Option<PathBuf>,
}

impl Default for SpawnPolicy {
    fn default() -> Self {
        SpawnPolicy {
            capture_limit: 1024 * 1024,
            timeout: Duration::from_secs(120),
            change_timeout: Duration::from_secs(2 * 60 * 60),
            apt_config: None,
        }
    }
}

/// How long to wait for the output pipes to close after the child exited (a grandchild may hold them).
const PIPE_GRACE: Duration = Duration::from_secs(5);

/// Environment of every apt child besides `PATH`, `LC_ALL` and `HOME`: nothing may stop at a prompt or
/// a pager, and needrestart must not restart services behind the job's back.
pub const APT_ENVIRONMENT: [(&str, &str); 4] = [
    ("DEBIAN_FRONTEND", "noninteractive"),
    ("APT_LISTCHANGES_FRONTEND", "none"),
    ("NEEDRESTART_SUSPEND", "1"),
    ("UCF_FORCE_CONFFOLD", "1"),
];

/// Serialises spawns; see the module documentation.
pub(super) static SPAWN_LOCK: Mutex<()> = Mutex::new(());

/// Runs `cl` to completion under `policy` with the reading timeout and no status channel.
pub fn run(cl: &CommandLine, policy: &SpawnPolicy) -> Result<ExecOutput, LaunchError> {
    run_with(|_| Ok(cl.clone()), policy, policy.timeout, None, |_| {})
}

/// Where [`run_with`] sends status lines, and which channel they are read from.
pub type Status = (StatusSink, StatusChannel);

/// A receiver of status lines.
pub type StatusSink = Box<dyn FnMut(String) + Send>;

/// Runs the command line that `build` returns, to completion, killing its process group after `timeout`.
///
/// With a `status` sink on [`StatusChannel::Pipe`], a status pipe is created first and `build` gets its
/// descriptor number; each line the child writes to it goes to the sink as it arrives. On
/// [`StatusChannel::Stdout`] the child's standard output is split into lines for the sink while it is also
/// captured. Either way all lines are passed on before this function returns. `started` gets the child's process group right after the spawn (for cancellation).
// The one place that starts processes (DESIGN invariant 2); the argv comes from the command table only.
#[allow(clippy::disallowed_methods)]
pub fn run_with(
    build: impl FnOnce(Option<i32>) -> Result<CommandLine, LaunchError>,
    policy: &SpawnPolicy,
    timeout: Duration,
    status: Option<Status>,
    started: impl FnOnce(Pid),
) -> Result<ExecOutput, LaunchError> {
    let guard = SPAWN_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let (pipe_sink, stdout_sink) = match status {
        Some((sink, StatusChannel::Pipe)) => (Some(sink), None),
        Some((sink, StatusChannel::Stdout)) => (None, Some(sink)),
        None => (None, None),
    };
    let pipe = match pipe_sink {
        Some(_) => Some(StatusPipe::create().map_err(|e| LaunchError::Spawn {
            program: "status pipe".into(),
            reason: e.to_string(),
        })?),
        None => None,
    };
    let cl = build(pipe.as_ref().map(StatusPipe::child_fd))?;
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
        cmd.envs(APT_ENVIRONMENT);
        if let Some(conf) = &policy.apt_config {
            cmd.env("APT_CONFIG", conf);
        }
    }
    let spawned = spawn_with_empty_mask(&mut cmd);
    // Close the parent's write end while still holding the lock (also when the spawn failed).
    let reader = pipe.map(StatusPipe::into_reader);
    drop(guard);
    let mut child = spawned.map_err(|e| LaunchError::Spawn {
        program: program.clone(),
        reason: e.to_string(),
    })?;
    let pgid = Pid::from_raw(child.id() as i32);
    started(pgid);
    let status_done = match (reader, pipe_sink) {
        (Some(reader), Some(sink)) => Some(status_pipe::stream_lines(reader, sink)),
        _ => None,
    };
    let out_rx = capture(child.stdout.take(), policy.capture_limit, stdout_sink);
    let err_rx = capture(child.stderr.take(), policy.capture_limit, None);

    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait());
    });
    let mut timed_out = false;
    let status = match done_rx.recv_timeout(timeout) {
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
    if let Some(done) = status_done {
        let _ = done.recv_timeout(PIPE_GRACE);
    }
    if timed_out {
        stderr.extend_from_slice(
            format!("\nkilled after the timeout of {} s", timeout.as_secs()).as_bytes(),
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

/// Spawns `cmd` from this thread with an empty signal mask, restoring the mask afterwards.
fn spawn_with_empty_mask(cmd: &mut Command) -> std::io::Result<std::process::Child> {
    let saved = SigSet::empty()
        .thread_swap_mask(SigmaskHow::SIG_SETMASK)
        .map_err(std::io::Error::from)?;
    let spawned = cmd.spawn();
    if let Err(e) = saved.thread_set_mask() {
        tracing::error!(error = %e, "cannot restore the launcher thread's signal mask");
    }
    spawned
}

/// Reads a pipe to its end on its own thread, keeping at most `limit` bytes and draining the rest so the
/// child never blocks on a full pipe. Sends `(bytes, truncated)`. With `lines`, every line read (bounded,
/// also past the capture limit) goes to it as well, before the result is sent.
fn capture(
    pipe: Option<impl Read + Send + 'static>,
    limit: usize,
    mut lines: Option<StatusSink>,
) -> mpsc::Receiver<(Vec<u8>, bool)> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut truncated = false;
        let mut splitter = LineSplitter::default();
        if let Some(mut pipe) = pipe {
            let mut buf = [0u8; 16 * 1024];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if let Some(sink) = lines.as_mut() {
                            splitter.push(&buf[..n], sink);
                        }
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
        if let Some(sink) = lines.as_mut() {
            splitter.finish(sink);
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
    fn apt_children_get_apt_config_and_the_noninteractive_environment() {
        let mut cl = sh(
            "echo $APT_CONFIG $DEBIAN_FRONTEND $APT_LISTCHANGES_FRONTEND $NEEDRESTART_SUSPEND $UCF_FORCE_CONFFOLD",
        );
        cl.is_apt = true;
        let policy = SpawnPolicy {
            apt_config: Some(PathBuf::from("/tmp/x/apt.conf")),
            ..SpawnPolicy::default()
        };
        let out = run(&cl, &policy).unwrap();
        assert_eq!(out.stdout.trim(), "/tmp/x/apt.conf noninteractive none 1 1");
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
    fn status_lines_stream_before_the_run_returns_and_only_the_child_holds_the_pipe() {
        let lines = std::sync::Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let start = std::time::Instant::now();
        let out = run_with(
            |fd| {
                let fd = fd.expect("a status descriptor");
                Ok(sh(&format!(
                    "echo pmstatus:a:10:one >&{fd}; echo pmstatus:a:90:two >&{fd}"
                )))
            },
            &SpawnPolicy::default(),
            Duration::from_secs(10),
            Some((
                Box::new(move |l| sink.lock().unwrap().push(l)),
                StatusChannel::Pipe,
            )),
            |_| {},
        )
        .unwrap();
        assert_eq!(out.exit_code, Some(0));
        assert_eq!(
            *lines.lock().unwrap(),
            ["pmstatus:a:10:one", "pmstatus:a:90:two"]
        );
        // Had the parent kept its write end, the reader would have waited out the pipe grace period.
        assert!(start.elapsed() < PIPE_GRACE, "{:?}", start.elapsed());
    }

    #[test]
    fn stdout_status_lines_stream_and_are_captured_too_without_a_status_descriptor() {
        let lines = std::sync::Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let out = run_with(
            |fd| {
                assert_eq!(fd, None, "no status pipe on the stdout channel");
                Ok(sh(
                    "echo 'Running transaction'; echo -n 'Installing: hello'",
                ))
            },
            &SpawnPolicy::default(),
            Duration::from_secs(10),
            Some((
                Box::new(move |l| sink.lock().unwrap().push(l)),
                StatusChannel::Stdout,
            )),
            |_| {},
        )
        .unwrap();
        assert_eq!(out.exit_code, Some(0));
        assert_eq!(out.stdout, "Running transaction\nInstalling: hello");
        assert_eq!(
            *lines.lock().unwrap(),
            ["Running transaction", "Installing: hello"]
        );
    }

    /// Descriptors of this process that a child would inherit (no `O_CLOEXEC` in `/proc/self/fdinfo`).
    fn inheritable_fds() -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir("/proc/self/fdinfo")
            .unwrap()
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{name}")).ok()?;
                let flags = info.lines().find_map(|l| l.strip_prefix("flags:"))?.trim();
                let flags = u32::from_str_radix(flags, 8).ok()?;
                (flags & libc::O_CLOEXEC as u32 == 0).then_some(name)
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn a_running_status_pipe_leaks_into_no_other_child() {
        let before = inheritable_fds();
        // A change holds its status pipe for a while ...
        let slow = std::thread::spawn(|| {
            run_with(
                |fd| {
                    Ok(sh(&format!(
                        "echo pmstatus:a:1:x >&{}; sleep 1",
                        fd.unwrap()
                    )))
                },
                &SpawnPolicy::default(),
                Duration::from_secs(10),
                Some((Box::new(|_| {}), StatusChannel::Pipe)),
                |_| {},
            )
        });
        std::thread::sleep(Duration::from_millis(300));
        // ... while another command starts: it sees only its stdio, the directory it lists, and what
        // this test process itself had inheritable before.
        let out = run(&sh("ls /proc/self/fd"), &SpawnPolicy::default()).unwrap();
        let mut fds: Vec<String> = out.stdout.split_whitespace().map(str::to_owned).collect();
        fds.retain(|fd| !["0", "1", "2", "3"].contains(&fd.as_str()) && !before.contains(fd));
        assert!(fds.is_empty(), "leaked descriptors {fds:?}");
        assert_eq!(slow.join().unwrap().unwrap().exit_code, Some(0));
    }

    #[test]
    fn started_gets_the_process_group_of_the_child() {
        let seen = Mutex::new(None);
        let out = run_with(
            |_| Ok(sh("ps -o pgid= -p $$")),
            &SpawnPolicy::default(),
            Duration::from_secs(10),
            None,
            |pgid| *seen.lock().unwrap() = Some(pgid.as_raw()),
        )
        .unwrap();
        let got = seen.lock().unwrap().unwrap();
        assert_eq!(out.stdout.trim(), got.to_string());
    }

    #[test]
    fn children_start_with_an_empty_signal_mask_and_the_caller_keeps_its_own() {
        let mut stop = SigSet::empty();
        stop.add(Signal::SIGTERM);
        stop.add(Signal::SIGINT);
        stop.thread_block().unwrap();
        let cl = CommandLine {
            program: PathBuf::from("/bin/grep"),
            args: vec!["SigBlk".into(), "/proc/self/status".into()],
            is_apt: false,
        };
        let out = run(&cl, &SpawnPolicy::default()).unwrap();
        assert_eq!(out.stdout.trim(), "SigBlk:\t0000000000000000");
        let mine = SigSet::thread_get_mask().unwrap();
        assert!(mine.contains(Signal::SIGTERM) && mine.contains(Signal::SIGINT));
        stop.thread_unblock().unwrap();
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
