//! Confinement of linux-patch-api's processes: the one place that knows how to take powers away.
//!
//! The frontend parses untrusted network bytes and the helper's broker parses the frontend's requests;
//! both apply a [`Profile`] at start, while they are still single-threaded, in this order (each step
//! makes the next one safer or is required by it):
//!
//! 1. [`caps`]: empty ambient, inheritable, effective and permitted sets, and the bounding set when the
//!    process may (the broker empties it as root before dropping its uid; the frontend relies on its
//!    service manager — with `no_new_privs` and no `execve` a bounding set grants nothing);
//! 2. [`nnp`]: `PR_SET_NO_NEW_PRIVS`, so no later exec can gain privileges (and seccomp needs it);
//! 3. [`landlock`]: a filesystem ruleset from read-only and read-write path lists, no TCP bind/connect,
//!    no signals or abstract sockets outside the domain; the ABI and enforcement are recorded;
//! 4. [`seccomp`]: an allowlist of system calls ([`syscalls`]) whose mismatch action kills the process.
//!
//! [`policy::Policy`] decides what happens when the kernel cannot provide a step: an error
//! ([`Policy::Strict`]) or a warning and a degraded [`report::Confinement`] ([`Policy::BestEffort`]).
//! [`report`] measures the calling process from `/proc/self/status` plus what [`apply`] recorded, so a
//! report is always what the process *is*, not what it intended.
//!
//! What this crate must never do: confine the helper's launcher (package managers inherit seccomp,
//! Landlock and the bounding set, and must run as an administrator's shell would), or report a step as
//! applied without the kernel having confirmed it. Its only `unsafe` is in [`fds`] (closing inherited
//! descriptors by number), each block with a `SAFETY` comment.
#![deny(unsafe_code)]

pub mod caps;
pub mod fds;
pub mod landlock;
pub mod nnp;
pub mod policy;
pub mod profile;
pub mod report;
pub mod seccomp;
pub mod syscalls;

pub use policy::Policy;
pub use profile::{Bounding, Profile, apply};
pub use report::Confinement;

/// Why a process could not be confined as its profile and policy require.
#[derive(Debug, thiserror::Error)]
pub enum ConfineError {
    /// Confinement must happen before any second thread exists: Landlock (before ABI 8) and
    /// capabilities are per thread, and a thread started earlier would stay unconfined.
    #[error("refusing to confine a process with {0} threads (must be 1)")]
    Threaded(usize),
    /// The thread count could not be read.
    #[error("cannot count threads: {0}")]
    Proc(std::io::Error),
    /// Dropping capabilities failed.
    #[error("capabilities: {0}")]
    Caps(#[from] caps::CapsError),
    /// `PR_SET_NO_NEW_PRIVS` failed.
    #[error("no_new_privs: {0}")]
    NoNewPrivs(#[from] nnp::NnpError),
    /// Landlock could not be applied as required.
    #[error("landlock: {0}")]
    Landlock(#[from] landlock::LandlockError),
    /// The seccomp filter could not be built or applied.
    #[error("seccomp: {0}")]
    Seccomp(#[from] seccomp::SeccompError),
}
