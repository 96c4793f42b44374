//! The seccomp allowlist: every system call not in the process's [`SyscallSet`] kills the process.
//!
//! Two filters are installed (the kernel runs both and the most severe verdict wins):
//! - the allowlist: the set's unconditional calls, plus calls allowed only with safe arguments —
//!   `socket`/`socketpair` only for `AF_UNIX` (no network socket can be created), `clone` only without
//!   namespace flags, `prctl` only to name threads and mappings, `ioctl` only for `FIONBIO`, `FIOCLEX`
//!   and `TCGETS`; mismatch = `KillProcess`;
//! - `clone3` answers `ENOSYS`: its flags live in memory a filter cannot read, and on `ENOSYS` glibc falls
//!   back to `clone`, whose flags the allowlist checks.
//!
//! A filter is built for the architecture this binary was compiled for; the generated BPF kills a process
//! that makes a call under another architecture's ABI (a 32-bit entry point, for example). An architecture
//! seccompiler cannot target is an error, never an unfiltered process.

use crate::syscalls::SyscallSet;
use nix::libc;
use seccompiler::{
    BackendError, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};
use std::collections::BTreeMap;

/// The namespace flags of `clone(2)`; CLONE_NEWTIME (0x80) shares its bit with the exit signal in
/// `clone` and can only be requested through `clone3`, which is refused.
const CLONE_NAMESPACE_FLAGS: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u64;

/// `prctl` options the runtime uses: naming threads (std, tokio) and anonymous mappings (glibc).
const PRCTL_OPTIONS: &[u64] = &[
    libc::PR_SET_NAME as u64,
    libc::PR_GET_NAME as u64,
    0x5356_4d41, // PR_SET_VMA
];

/// `ioctl` requests the runtime uses: non-blocking and close-on-exec toggles, and `isatty`.
// The request type is `c_ulong` or `c_int` depending on the libc target; the casts keep it portable.
#[allow(clippy::unnecessary_cast)]
const IOCTL_REQUESTS: &[u64] = &[
    libc::FIONBIO as u64,
    libc::FIOCLEX as u64,
    libc::TCGETS as u64,
];

/// Building or installing a filter failed.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// seccompiler has no BPF target for this architecture.
    #[error("no seccomp filter for the {0} architecture")]
    UnsupportedArch(&'static str),
    /// The filter could not be compiled.
    #[error("building the filter: {0}")]
    Build(#[from] BackendError),
    /// The kernel refused the filter.
    #[error("installing the filter: {0}")]
    Apply(#[from] seccompiler::Error),
}

/// The seccompiler target for the architecture this binary runs on.
pub fn target_arch() -> Result<TargetArch, SeccompError> {
    TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|_| SeccompError::UnsupportedArch(std::env::consts::ARCH))
}

fn only_arg0(values: &[u64], len: SeccompCmpArgLen) -> Result<Vec<SeccompRule>, BackendError> {
    values
        .iter()
        .map(|v| {
            SeccompRule::new(vec![SeccompCondition::new(
                0,
                len.clone(),
                SeccompCmpOp::Eq,
                *v,
            )?])
        })
        .collect()
}

fn only_arg1(values: &[u64]) -> Result<Vec<SeccompRule>, BackendError> {
    values
        .iter()
        .map(|v| {
            SeccompRule::new(vec![SeccompCondition::new(
                1,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::Eq,
                *v,
            )?])
        })
        .collect()
}

/// The two BPF programs for `set` (allowlist, then the `clone3` → `ENOSYS` filter); `mismatch` is the
/// allowlist's verdict for everything else (`KillProcess` in products; tests may pick another).
pub fn build(set: SyscallSet, mismatch: SeccompAction) -> Result<[BpfProgram; 2], SeccompError> {
    let arch = target_arch()?;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = set
        .unconditional()
        .into_iter()
        .map(|nr| (nr, Vec::new()))
        .collect();
    let unix = [libc::AF_UNIX as u64];
    rules.insert(libc::SYS_socket, only_arg0(&unix, SeccompCmpArgLen::Dword)?);
    rules.insert(
        libc::SYS_socketpair,
        only_arg0(&unix, SeccompCmpArgLen::Dword)?,
    );
    rules.insert(
        libc::SYS_prctl,
        only_arg0(PRCTL_OPTIONS, SeccompCmpArgLen::Dword)?,
    );
    rules.insert(libc::SYS_ioctl, only_arg1(IOCTL_REQUESTS)?);
    rules.insert(
        libc::SYS_clone,
        vec![SeccompRule::new(vec![SeccompCondition::new(
            0,
            SeccompCmpArgLen::Qword,
            SeccompCmpOp::MaskedEq(CLONE_NAMESPACE_FLAGS),
            0,
        )?])?],
    );
    // clone3 must reach the second filter (which answers ENOSYS) instead of killing the process here.
    rules.insert(libc::SYS_clone3, Vec::new());
    let allowlist = SeccompFilter::new(rules, mismatch, SeccompAction::Allow, arch)?;
    let clone3 = SeccompFilter::new(
        BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )?;
    Ok([allowlist.try_into()?, clone3.try_into()?])
}

/// Installs `set`'s filters on every thread of the process (TSYNC), killing the process on any call
/// outside the set. Sets `no_new_privs` first, as the kernel requires.
pub fn apply(set: SyscallSet) -> Result<(), SeccompError> {
    apply_with(set, SeccompAction::KillProcess)
}

/// [`apply`] with another verdict for calls outside the set (tests and bring-up only).
pub fn apply_with(set: SyscallSet, mismatch: SeccompAction) -> Result<(), SeccompError> {
    let [allowlist, clone3] = build(set, mismatch)?;
    seccompiler::apply_filter_all_threads(&clone3)?;
    seccompiler::apply_filter_all_threads(&allowlist)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sets_build_for_this_architecture() {
        for set in [SyscallSet::Frontend, SyscallSet::Broker] {
            let [allowlist, clone3] = build(set, SeccompAction::KillProcess).unwrap();
            assert!(allowlist.len() > 50, "{} instructions", allowlist.len());
            assert!(!clone3.is_empty());
        }
    }
}
