//! A profile (what a process may keep) and [`apply`], which takes everything else away in order.

use crate::landlock::{LandlockError, Rules};
use crate::policy::Policy;
use crate::report::{self, Confinement, Recorded};
use crate::syscalls::SyscallSet;
use crate::{ConfineError, caps, landlock, nnp, seccomp};
use std::path::PathBuf;

/// Every profile may read its own `/proc` directory: [`report::measure`] reads `status` there. (The
/// path is resolved once, to `/proc/<pid>`, when the rule is created.)
const SELF_STATUS_DIR: &str = "/proc/self";

/// Who empties the bounding set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bounding {
    /// The process must end with an empty bounding set (it can, or already did, drop it itself).
    Required,
    /// The process empties it if it holds CAP_SETPCAP; otherwise its starter must (systemd:
    /// `CapabilityBoundingSet=`). With `no_new_privs` and no `execve` a bounding set grants nothing, so a
    /// non-empty one is reported, not refused.
    StarterMay,
}

/// What one process keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Bounding-set handling.
    pub bounding: Bounding,
    /// The Landlock ruleset.
    pub landlock: Rules,
    /// The seccomp allowlist.
    pub syscalls: SyscallSet,
}

impl Profile {
    /// The frontend: reads its configuration and certificate locations, writes its state directory.
    pub fn frontend(
        mut read_only: Vec<PathBuf>,
        read_write: Vec<PathBuf>,
        min_abi: u32,
    ) -> Profile {
        read_only.push(PathBuf::from(SELF_STATUS_DIR));
        Profile {
            bounding: Bounding::StarterMay,
            landlock: Rules {
                read_only,
                read_write,
                min_abi,
            },
            syscalls: SyscallSet::Frontend,
        }
    }

    /// The helper's broker: reads the package root and `/proc`, writes nothing. Its bounding set must
    /// already be empty (dropped as root, before the uid change).
    pub fn broker(mut read_only: Vec<PathBuf>) -> Profile {
        read_only.push(PathBuf::from(SELF_STATUS_DIR));
        Profile {
            bounding: Bounding::Required,
            landlock: Rules {
                read_only,
                read_write: Vec::new(),
                min_abi: 1,
            },
            syscalls: SyscallSet::Broker,
        }
    }
}

/// Confines the calling process: capabilities, `no_new_privs`, Landlock, seccomp, in that order, and
/// returns its measurement. Must run while the process has exactly one thread.
///
/// Under [`Policy::Strict`] the first failing step is returned as the error (the caller must exit);
/// under [`Policy::BestEffort`] each failing step is logged, recorded as degraded and the next step
/// still runs. A thread count other than 1 is always an error.
pub fn apply(profile: &Profile, policy: Policy) -> Result<Confinement, ConfineError> {
    let threads = std::fs::read_dir("/proc/self/task")
        .map_err(ConfineError::Proc)?
        .count();
    if threads != 1 {
        return Err(ConfineError::Threaded(threads));
    }
    let mut recorded = Recorded::default();
    let mut step = |result: Result<(), ConfineError>| -> Result<(), ConfineError> {
        match (result, policy) {
            (Ok(()), _) => Ok(()),
            (Err(e), Policy::Strict) => Err(e),
            (Err(e), Policy::BestEffort) => {
                tracing::warn!(error = %e, "confinement step not applied (best_effort)");
                recorded.degraded.push(e.to_string());
                Ok(())
            }
        }
    };

    step(bounding(profile.bounding))?;
    step(caps::clear_process_sets().map_err(ConfineError::from))?;
    step(nnp::set().map_err(ConfineError::from))?;
    let landlock_result = landlock::restrict(&profile.landlock);
    let applied = match &landlock_result {
        Ok(r) => Some(*r),
        Err(LandlockError::AbiTooOld { applied, .. }) => Some(*applied),
        Err(LandlockError::Ruleset(_)) => None,
    };
    step(landlock_result.map(|_| ()).map_err(ConfineError::from))?;
    step(seccomp::apply(profile.syscalls).map_err(ConfineError::from))?;

    let recorded = Recorded {
        landlock: applied,
        degraded: recorded.degraded,
    };
    report::record(recorded.clone());
    let mut measured =
        report::measure().map_err(|e| ConfineError::Proc(std::io::Error::other(e)))?;
    measured.recorded = recorded;
    Ok(measured)
}

fn bounding(how: Bounding) -> Result<(), ConfineError> {
    match (caps::drop_bounding(), how) {
        (Ok(()), _) => Ok(()),
        (Err(caps::CapsError::BoundingNotDroppable(n)), Bounding::StarterMay) => {
            tracing::info!(
                capabilities = n,
                "bounding set not empty and not droppable without CAP_SETPCAP; harmless under no_new_privs without execve (systemd: set CapabilityBoundingSet=)"
            );
            Ok(())
        }
        (Err(e), _) => Err(e.into()),
    }
}
