//! The only module with `unsafe`: the few system calls that have no safe wrapper.
//!
//! Kept tiny on purpose so a reviewer can check every block: `fork(2)` (unsafe because only
//! async-signal-safe code may run in the child of a multi-threaded process — we refuse to fork unless the
//! process has exactly one thread) and borrowing inherited descriptor numbers to mark them close-on-exec.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::BorrowedFd;

pub use nix::unistd::ForkResult;

/// Why fork was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ForkError {
    /// More than one thread exists; forking now could deadlock the child on a lock held by another thread.
    #[error("refusing to fork: the process has {0} threads (must be 1)")]
    Threaded(usize),
    /// The thread count could not be read.
    #[error("cannot count threads: {0}")]
    Proc(io::Error),
    /// `fork(2)` failed.
    #[error("fork failed: {0}")]
    Fork(nix::Error),
}

/// Number of threads of this process, from `/proc/self/task`.
pub fn thread_count() -> io::Result<usize> {
    Ok(std::fs::read_dir("/proc/self/task")?.count())
}

/// Forks, after checking that this process is single-threaded.
pub fn fork_single_threaded() -> Result<ForkResult, ForkError> {
    let n = thread_count().map_err(ForkError::Proc)?;
    if n != 1 {
        return Err(ForkError::Threaded(n));
    }
    // SAFETY: the process has exactly one thread (checked just above, and nothing between the check and
    // the call can start one), so no lock can be held by another thread at the time of the fork and the
    // child may run arbitrary code, including allocating and starting a runtime.
    unsafe { nix::unistd::fork() }.map_err(ForkError::Fork)
}

/// Marks every descriptor ≥ 3 that this process inherited close-on-exec, so nothing the service manager
/// or a parent left open leaks into the package managers the launcher starts.
pub fn mark_inherited_fds_cloexec() -> io::Result<()> {
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd >= 3)
        .collect();
    for fd in fds {
        // SAFETY: `fd` was listed in /proc/self/fd a moment ago and this single-threaded start-up code
        // closes nothing in between; the one descriptor that disappears (the directory handle used for the
        // listing) makes fcntl fail with EBADF, which is ignored below. The borrow ends with this iteration.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let Ok(flags) = nix::fcntl::fcntl(borrowed, nix::fcntl::FcntlArg::F_GETFD) else {
            continue;
        };
        let flags = nix::fcntl::FdFlag::from_bits_truncate(flags) | nix::fcntl::FdFlag::FD_CLOEXEC;
        let _ = nix::fcntl::fcntl(borrowed, nix::fcntl::FcntlArg::F_SETFD(flags));
    }
    Ok(())
}
