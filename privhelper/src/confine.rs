//! Dropping the broker's privileges, irrevocably, then confining it; and the confinement self-report.
//!
//! Order matters: the bounding set first (it needs CAP_SETPCAP, so root), then supplementary groups
//! (they need root), then the gid, then the uid; afterwards `setuid(0)` must fail, which is checked rather
//! than assumed. `PR_SET_DUMPABLE=0` keeps other processes of the same uid from ptracing the broker or
//! reading its memory. Then, still single-threaded, [`confine_broker`] applies the broker's
//! [`lpa_confine`] profile. The launcher is never confined: package managers inherit seccomp, Landlock and
//! the bounding set and must run as an administrator's shell would.

use crate::users::Identities;
use lpa_confine::{Confinement, Policy, Profile};
use lpa_protocol::{ConfinementReport, HelperError, Outcome, ProcessConfinement};
use nix::sys::prctl;
use nix::sys::signal::Signal;
use nix::unistd::{self, Pid, Uid};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

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
    /// The bounding set could not be emptied.
    #[error("emptying the bounding set: {0}")]
    Bounding(String),
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

/// Empties the capability bounding set. Needs CAP_SETPCAP, so it runs as root, before
/// [`irrevocably_drop_privileges`] (the uid change clears the effective and permitted sets but leaves the
/// bounding set alone).
pub fn drop_bounding_set() -> Result<(), lpa_confine::caps::CapsError> {
    lpa_confine::caps::drop_bounding()
}

/// What the broker may read after confinement: the package root (package databases, os-release,
/// reboot-required markers) and the host's uptime. It writes nothing; its socket and the launcher
/// socketpair are already open.
pub fn broker_profile(package_root: &Path) -> Profile {
    Profile::broker(vec![package_root.to_path_buf(), PathBuf::from(HOST_UPTIME)])
}

/// Where the broker reads the host's uptime (`Operation::SystemInfo`).
const HOST_UPTIME: &str = "/proc/uptime";

/// Confines the broker after its privilege drop, while it is still single-threaded: no capabilities,
/// `no_new_privs`, Landlock read-only on [`broker_profile`], and the broker's seccomp allowlist (no
/// `execve`, `ptrace`, module, mount, namespace, keyring or `bpf` calls). Always strict: a broker that
/// cannot be confined does not serve.
pub fn confine_broker(package_root: &Path) -> Result<Confinement, lpa_confine::ConfineError> {
    lpa_confine::apply(&broker_profile(package_root), Policy::Strict)
}

/// The launcher's self-measurement, taken by the launcher before it forked the broker and inherited by
/// the broker's memory.
static LAUNCHER: OnceLock<Option<ProcessConfinement>> = OnceLock::new();

/// Measures the calling process (the launcher, before the fork) for later reports.
pub fn measure_launcher() -> Option<ProcessConfinement> {
    match lpa_confine::report::measure() {
        Ok(c) => Some(c.to_wire()),
        Err(e) => {
            tracing::warn!(error = %e, "the launcher cannot measure its confinement");
            None
        }
    }
}

/// Keeps the launcher's measurement for [`self_report`] (first call wins).
pub fn remember_launcher(report: Option<ProcessConfinement>) {
    let _ = LAUNCHER.set(report);
}

/// Answer to `Operation::Confinement`: the broker measures itself now; the launcher's measurement is the
/// one it took of itself at start.
pub fn self_report() -> Result<Outcome, HelperError> {
    let broker = lpa_confine::report::measure().map_err(|e| HelperError::Internal {
        message: format!("the broker cannot measure its confinement: {e}"),
    })?;
    Ok(Outcome::Confinement(ConfinementReport {
        broker: broker.to_wire(),
        launcher: LAUNCHER.get().cloned().flatten(),
    }))
}
