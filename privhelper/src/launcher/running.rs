//! The executions in progress, so that `LauncherRequest::Cancel` can stop one: SIGTERM to its process
//! group, then SIGKILL if the group is still there after a grace period.
//!
//! An execution is registered when its request is read — before its thread spawns the child — so a Cancel
//! that arrives between the request and the spawn is remembered and applied the moment the child exists.

use lpa_protocol::launcher::ExecId;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a cancelled process group gets between SIGTERM and SIGKILL: time for apt and dpkg to stop
/// cleanly, short enough that a hung maintainer script cannot keep a timed-out job alive.
pub const CANCEL_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Default, Clone, Copy)]
struct Slot {
    pgid: Option<Pid>,
    cancelled: bool,
}

/// The registry; shared by the request reader and the execution threads.
#[derive(Debug)]
pub struct Running {
    slots: Mutex<HashMap<ExecId, Slot>>,
    grace: Duration,
}

impl Running {
    /// An empty registry whose cancellations escalate to SIGKILL after `grace`.
    pub fn new(grace: Duration) -> Arc<Running> {
        Arc::new(Running {
            slots: Mutex::new(HashMap::new()),
            grace,
        })
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<ExecId, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records that execution `id` was requested (its child does not exist yet).
    pub fn register(&self, id: ExecId) {
        self.slots().insert(id, Slot::default());
    }

    /// Records the child's process group; stops it at once if a Cancel came first.
    pub fn started(self: &Arc<Self>, id: ExecId, pgid: Pid) {
        let cancelled = match self.slots().get_mut(&id) {
            Some(slot) => {
                slot.pgid = Some(pgid);
                slot.cancelled
            }
            None => false,
        };
        if cancelled {
            self.terminate(id, pgid);
        }
    }

    /// Forgets execution `id` (its child was reaped, or it never started).
    pub fn finished(&self, id: ExecId) {
        self.slots().remove(&id);
    }

    /// Whether `id` was cancelled (for the execution's own report).
    pub fn was_cancelled(&self, id: ExecId) -> bool {
        self.slots().get(&id).is_some_and(|s| s.cancelled)
    }

    /// Stops execution `id`; unknown or finished ids are ignored.
    pub fn cancel(self: &Arc<Self>, id: ExecId) {
        let pgid = match self.slots().get_mut(&id) {
            Some(slot) => {
                slot.cancelled = true;
                slot.pgid
            }
            None => {
                tracing::info!(id, "cancel of an execution that is not running: ignored");
                return;
            }
        };
        if let Some(pgid) = pgid {
            self.terminate(id, pgid);
        }
    }

    /// SIGTERM now; SIGKILL after the grace period if the execution has not been reaped by then.
    fn terminate(self: &Arc<Self>, id: ExecId, pgid: Pid) {
        tracing::info!(
            id,
            pgid = pgid.as_raw(),
            "cancelling: SIGTERM to the process group"
        );
        let _ = killpg(pgid, Signal::SIGTERM);
        let me = self.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + me.grace;
            while Instant::now() < deadline {
                if !me.slots().contains_key(&id) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if me.slots().get(&id).is_some_and(|s| s.pgid == Some(pgid)) {
                tracing::warn!(
                    id,
                    pgid = pgid.as_raw(),
                    "still running after SIGTERM: SIGKILL"
                );
                let _ = killpg(pgid, Signal::SIGKILL);
            }
        });
    }
}
