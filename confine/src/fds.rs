//! Closing the descriptors a daemon inherited.
//!
//! Why: whatever started the daemon (a shell, a supervisor, a misconfigured service manager) may leave
//! descriptors open — a log file, a socket, a directory. The daemon never asked for them; holding them keeps
//! those resources reachable from a process that parses network input, and hides them from its confinement
//! (Landlock rules apply to opening paths, not to descriptors already open). So a daemon closes every
//! descriptor above stderr at start, except the ones it was deliberately passed (systemd's `LISTEN_FDS`).
//!
//! This is the crate's one module with `unsafe`: closing a descriptor by number is an I/O-safety assertion
//! that nothing in the process owns it, which only holds at the very start, before the daemon opened
//! anything of its own.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// The descriptors systemd passed this process (`LISTEN_FDS` from fd 3, when `LISTEN_PID` is unset or ours).
pub fn passed_by_service_manager() -> std::ops::Range<RawFd> {
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .is_none_or(|pid| pid.trim() == std::process::id().to_string());
    let count = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.trim().parse::<RawFd>().ok())
        .filter(|_| ours)
        .unwrap_or(0);
    3..3 + count.max(0)
}

/// Closes every descriptor ≥ 3 for which `keep` is false, and returns the ones it closed.
///
/// Must be called first thing in `main`, before the process opens anything itself (no runtime, no log
/// file, no other thread): every such descriptor is then one the process inherited and does not own.
pub fn close_inherited(keep: impl Fn(RawFd) -> bool) -> io::Result<Vec<RawFd>> {
    let listed: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd >= 3 && !keep(*fd))
        .collect();
    let mut closed = Vec::new();
    for fd in listed {
        // SAFETY: `fd` was listed in /proc/self/fd a moment ago; at the start of `main` nothing in this
        // single-threaded process owns a descriptor above stderr, and the only one that disappeared since (the
        // listing's own directory handle) makes fcntl fail with EBADF, so it is skipped. The borrow ends here.
        let open = nix::fcntl::fcntl(
            unsafe { BorrowedFd::borrow_raw(fd) },
            nix::fcntl::FcntlArg::F_GETFD,
        );
        if open.is_err() {
            continue;
        }
        // SAFETY: as above — the descriptor is open and owned by nobody in this process, so taking ownership
        // and closing it cannot close something another part of the program still uses.
        drop(unsafe { OwnedFd::from_raw_fd(fd) });
        closed.push(fd);
    }
    Ok(closed)
}
