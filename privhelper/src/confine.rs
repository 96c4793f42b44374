//! Dropping the broker's privileges, irrevocably.
//!
//! Order matters: supplementary groups first (they need root), then the gid, then the uid; afterwards
//! `setuid(0)` must fail, which is checked rather than assumed. `PR_SET_DUMPABLE=0` keeps other processes
//! of the same uid from ptracing the broker or reading its memory.

use crate::users::Identities;
use nix::sys::prctl;
use nix::sys::signal::Signal;
use nix::unistd::{self, Pid, Uid};

/// Why confinement failed; the broker exits on any of these.
#[derive(Debug, thiserror::Error)]
pub enum ConfineError {
    /// A system call failed.
    #[error("{step} failed: {source}")]
    Syscall {
        /// Which step.
        step: &'static str,
        /// The error.
        source: nix::Error,
    },
    /// The parent (the launcher) is already gone.
    #[error("the launcher exited before the broker started")]
    OrphanedAtStart,
    /// After dropping, root could be regained: never continue in that state.
    #[error("privileges could be regained after dropping them")]
    Regainable,
}

fn step(step: &'static str) -> impl FnOnce(nix::Error) -> ConfineError {
    move |source| ConfineError::Syscall { step, source }
}

/// Arranges for the broker to die with the launcher (SIGKILL on parent death), and notices when the
/// launcher already died between `fork` and this call.
pub fn die_with_parent(launcher: Pid) -> Result<(), ConfineError> {
    prctl::set_pdeathsig(Signal::SIGKILL).map_err(step("prctl(PR_SET_PDEATHSIG)"))?;
    if unistd::getppid() != launcher {
        return Err(ConfineError::OrphanedAtStart);
    }
    Ok(())
}

/// Drops to the broker's user and group with no supplementary groups, makes the process non-dumpable and
/// verifies that uid 0 cannot be regained.
///
/// The kernel clears the parent-death signal on a credential change, so call [`die_with_parent`] again
/// afterwards.
pub fn irrevocably_drop_privileges(ids: &Identities) -> Result<(), ConfineError> {
    unistd::setgroups(&[]).map_err(step("setgroups([])"))?;
    unistd::setresgid(ids.broker_gid, ids.broker_gid, ids.broker_gid).map_err(step("setresgid"))?;
    unistd::setresuid(ids.broker_uid, ids.broker_uid, ids.broker_uid).map_err(step("setresuid"))?;
    // The uid change resets the dumpable flag to the default on some kernels; set it afterwards.
    prctl::set_dumpable(false).map_err(step("prctl(PR_SET_DUMPABLE)"))?;
    if unistd::setuid(Uid::from_raw(0)).is_ok() || unistd::geteuid().is_root() {
        return Err(ConfineError::Regainable);
    }
    Ok(())
}
