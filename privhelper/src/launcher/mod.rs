//! The launcher: the part of the helper that stays root, and the only code that starts processes.
//!
//! It is deliberately small and has no async runtime. It reads [`LauncherRequest`] frames from the
//! socketpair shared with the broker (decoding re-validates every value), builds the argv from the fixed
//! [`table`] only, runs it with [`spawn`] on a thread per execution, and writes each
//! [`LauncherResponse`] back under a mutex. It never parses network input and never sees an argv.
//!
//! Package-changing entries get a status pipe ([`status_pipe`]) whose lines are forwarded as
//! `LauncherResponse::Status` while the command runs, always before its `Finished`. A
//! `LauncherRequest::Cancel` stops an execution's process group ([`running`]).
//!
//! Lifetime: the launcher exits non-zero when the broker dies or sends a frame it cannot decode (a broker
//! that speaks garbage is compromised or broken); on SIGTERM/SIGINT it stops the broker and exits 0.

pub mod exact_guard;
pub mod running;
pub mod spawn;
pub mod status_pipe;
pub mod table;

use lpa_protocol::frame::{self, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME};
use lpa_protocol::launcher::{LaunchError, LauncherRequest, LauncherResponse};
use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;
use running::{CANCEL_GRACE, Running};
use spawn::SpawnPolicy;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::Duration;
use table::{ExecClass, Table};

/// Reading executions allowed at the same time; more wait for a slot (up to [`MAX_QUEUED_READS`]).
/// Package-changing and reboot entries never wait for a read slot: the broker runs one change at a
/// time, and reads must never delay or refuse a package job (issue 11).
pub const MAX_CONCURRENT_EXECUTIONS: usize = 16;

/// Reads waiting for a slot at most; beyond that a read is refused rather than queued without bound.
pub const MAX_QUEUED_READS: usize = 256;

/// How long the broker gets to exit after SIGTERM before it is killed.
const BROKER_STOP_GRACE: Duration = Duration::from_secs(2);

/// Why the launcher stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// SIGTERM or SIGINT: an orderly stop (exit code 0).
    Signalled(Signal),
    /// The broker exited or was killed on its own (exit code non-zero).
    BrokerDied(String),
    /// The broker sent an undecodable frame or closed the socketpair.
    BrokerMisbehaved(String),
}

/// SIGTERM and SIGINT: the signals that stop the helper in an orderly way. `main` blocks them before
/// the socket exists, so a stop requested during start-up stays pending until the launcher handles it
/// instead of killing the launcher and orphaning the broker; the broker unblocks them after the fork.
pub fn stop_signals() -> SigSet {
    let mut stop = SigSet::empty();
    stop.add(Signal::SIGTERM);
    stop.add(Signal::SIGINT);
    stop
}

enum Event {
    Signal(Signal),
    BrokerExited(String),
    Channel(String),
}

/// Serves the broker until a signal or the broker's death. `broker` is the forked broker's pid.
pub fn serve(sock: UnixStream, broker: Pid, table: Table, policy: SpawnPolicy) -> Exit {
    // Block the stop signals in this thread before any other thread exists, so every thread inherits the
    // mask and only the dedicated signal thread receives them. Children get an empty mask (see `spawn`).
    // (main already blocked them before opening the socket; blocking again is harmless.)
    let stop = stop_signals();
    if let Err(e) = stop.thread_block() {
        tracing::error!(error = %e, "cannot block stop signals");
    }
    let (tx, rx) = mpsc::channel::<Event>();

    let sig_tx = tx.clone();
    std::thread::spawn(move || {
        loop {
            if let Ok(sig) = stop.wait() {
                let _ = sig_tx.send(Event::Signal(sig));
            }
        }
    });

    let wait_tx = tx.clone();
    std::thread::spawn(move || {
        let status = loop {
            match waitpid(broker, None) {
                Err(nix::Error::EINTR) => continue,
                Ok(WaitStatus::Exited(_, code)) => break format!("exited with code {code}"),
                Ok(WaitStatus::Signaled(_, sig, _)) => break format!("killed by {sig}"),
                Ok(other) => break format!("{other:?}"),
                Err(e) => break format!("waitpid failed: {e}"),
            }
        };
        let _ = wait_tx.send(Event::BrokerExited(status));
    });

    let reader = match sock.try_clone() {
        Ok(r) => r,
        Err(e) => return Exit::BrokerMisbehaved(format!("cannot clone the socketpair: {e}")),
    };
    let writer = Arc::new(Mutex::new(sock));
    let ctx = Arc::new(Context {
        table,
        policy,
        count: AtomicUsize::new(0),
        slots: (Mutex::new(0), Condvar::new()),
        running: Running::new(CANCEL_GRACE),
    });
    std::thread::spawn(move || {
        let reason = read_requests(reader, writer, ctx);
        let _ = tx.send(Event::Channel(reason));
    });

    match rx.recv() {
        Ok(Event::Signal(sig)) => {
            tracing::info!(signal = %sig, "stopping");
            stop_broker(broker, &rx);
            Exit::Signalled(sig)
        }
        Ok(Event::BrokerExited(status)) => Exit::BrokerDied(status),
        Ok(Event::Channel(reason)) => {
            let _ = kill(broker, Signal::SIGKILL);
            Exit::BrokerMisbehaved(reason)
        }
        Err(_) => Exit::BrokerMisbehaved("event channel closed".into()),
    }
}

fn stop_broker(broker: Pid, rx: &mpsc::Receiver<Event>) {
    let _ = kill(broker, Signal::SIGTERM);
    let deadline = std::time::Instant::now() + BROKER_STOP_GRACE;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(Event::BrokerExited(_)) => return,
            Ok(_) => continue,
            Err(_) => {
                let _ = kill(broker, Signal::SIGKILL);
                return;
            }
        }
    }
}

struct Context {
    table: Table,
    policy: SpawnPolicy,
    /// Reads running or waiting for a slot, for the queue bound.
    count: AtomicUsize,
    /// Reads running, under the concurrency cap; a finished read wakes one waiting read.
    slots: (Mutex<usize>, Condvar),
    /// Executions in flight, for cancellation.
    running: Arc<Running>,
}

impl Context {
    /// Waits until fewer than [`MAX_CONCURRENT_EXECUTIONS`] reads run, then counts this one.
    fn take_read_slot(&self) {
        let (lock, freed) = &self.slots;
        let mut running = lock.lock().unwrap_or_else(|p| p.into_inner());
        while *running >= MAX_CONCURRENT_EXECUTIONS {
            running = freed.wait(running).unwrap_or_else(|p| p.into_inner());
        }
        *running += 1;
    }

    fn give_back_read_slot(&self) {
        let (lock, freed) = &self.slots;
        let mut running = lock.lock().unwrap_or_else(|p| p.into_inner());
        *running = running.saturating_sub(1);
        freed.notify_one();
    }
}

/// Reads requests until the socketpair closes or a frame fails to decode; returns why it stopped.
fn read_requests(
    mut reader: UnixStream,
    writer: Arc<Mutex<UnixStream>>,
    ctx: Arc<Context>,
) -> String {
    loop {
        let payload = match frame::read_frame(&mut reader, MAX_REQUEST_FRAME) {
            Ok(Some(p)) => p,
            Ok(None) => return "the broker closed the socketpair".into(),
            Err(e) => return format!("reading from the broker failed: {e}"),
        };
        let request: LauncherRequest = match frame::decode(&payload, MAX_REQUEST_FRAME) {
            Ok(r) => r,
            Err(e) => return format!("undecodable request from the broker: {e}"),
        };
        let (id, invocation) = match request {
            LauncherRequest::Exec { id, invocation } => (id, invocation),
            LauncherRequest::Cancel { id } => {
                ctx.running.cancel(id);
                continue;
            }
            _ => return "unknown request kind from the broker".into(),
        };
        let (writer, ctx) = (writer.clone(), ctx.clone());
        let is_read = table::class_of(&invocation) == ExecClass::Read;
        if is_read
            && ctx.count.fetch_add(1, Ordering::SeqCst)
                >= MAX_CONCURRENT_EXECUTIONS + MAX_QUEUED_READS
        {
            ctx.count.fetch_sub(1, Ordering::SeqCst);
            let result = Err(LaunchError::NotAvailable(format!(
                "more than {} reads running or waiting",
                MAX_CONCURRENT_EXECUTIONS + MAX_QUEUED_READS
            )));
            respond(&writer, LauncherResponse::Finished { id, result });
            continue;
        }
        // Registered before the thread starts, so a Cancel that follows at once is not lost.
        ctx.running.register(id);
        std::thread::spawn(move || {
            if is_read {
                ctx.take_read_slot();
            }
            let kind = invocation.kind();
            let class = table::class_of(&invocation);
            let timeout = match class {
                ExecClass::Change => ctx.policy.change_timeout,
                ExecClass::Read | ExecClass::Reboot => ctx.policy.timeout,
            };
            let status = table::status_channel(&invocation).map(|channel| {
                let writer = writer.clone();
                let sink = Box::new(move |line: String| {
                    respond(&writer, LauncherResponse::Status { id, line });
                }) as spawn::StatusSink;
                (sink, channel)
            });
            let result = exact_guard::check(&invocation, &ctx.table, &ctx.policy).and_then(|()| {
                spawn::run_with(
                    |fd| table::command_line(&invocation, &ctx.table, fd),
                    &ctx.policy,
                    timeout,
                    status,
                    |pgid| ctx.running.started(id, pgid),
                )
            });
            let cancelled = ctx.running.was_cancelled(id);
            ctx.running.finished(id);
            match &result {
                Ok(out) => {
                    tracing::info!(id, kind, exit_code = ?out.exit_code, cancelled, "executed")
                }
                Err(e) => tracing::warn!(id, kind, error = %e, "not executed"),
            }
            if is_read {
                ctx.give_back_read_slot();
                ctx.count.fetch_sub(1, Ordering::SeqCst);
            }
            respond(&writer, LauncherResponse::Finished { id, result });
        });
    }
}

fn respond(writer: &Mutex<UnixStream>, response: LauncherResponse) {
    let payload = match frame::encode(&response, MAX_RESPONSE_FRAME) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "cannot encode a launcher response");
            return;
        }
    };
    let mut w = match writer.lock() {
        Ok(w) => w,
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Err(e) = frame::write_frame(&mut *w, &payload) {
        tracing::warn!(error = %e, "cannot write to the broker");
    }
}
