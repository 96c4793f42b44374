//! The named system-call sets the seccomp allowlists are built from.
//!
//! Found empirically: the frontend and broker e2e suites were run under these filters and every call that
//! killed a process was examined before it was added (the kernel logs seccomp kills with the syscall
//! number). What is deliberately absent from both sets: `execve`/`execveat` (neither process runs a
//! program), `ptrace`, module loading (`init_module`, `finit_module`, `delete_module`), `mount`,
//! `umount2`, `pivot_root`, `chroot`, `unshare`, `setns`, `keyctl`, `add_key`, `request_key`, `bpf`,
//! `perf_event_open`, `userfaultfd`, `kexec_*`, `reboot`, `setuid` and friends, `bind`/`listen` (the
//! frontend's listener is bound before confinement), and `kill` (signals to other processes).
//! Some calls are allowed only with certain arguments; see [`crate::seccomp`].

use nix::libc;

/// Which process a filter is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyscallSet {
    /// The network daemon: the runtime, TLS sockets, and file changes in its state directory.
    Frontend,
    /// The helper's broker: the runtime, its Unix sockets, and reading package databases.
    Broker,
}

impl SyscallSet {
    /// The calls this set allows with any arguments.
    pub fn unconditional(self) -> Vec<i64> {
        let mut calls: Vec<i64> = RUNTIME.to_vec();
        calls.extend_from_slice(LEGACY);
        match self {
            SyscallSet::Frontend => {
                calls.extend_from_slice(FILE_CHANGES);
                calls.extend_from_slice(WATCHES);
            }
            SyscallSet::Broker => {}
        }
        calls.sort_unstable();
        calls.dedup();
        calls
    }

    /// A short name for logs.
    pub fn name(self) -> &'static str {
        match self {
            SyscallSet::Frontend => "frontend",
            SyscallSet::Broker => "broker",
        }
    }
}

/// What std, glibc, a multi-threaded tokio runtime, rustls and hyper need in either process.
const RUNTIME: &[i64] = &[
    // files and descriptors (reading; Landlock decides which paths)
    libc::SYS_read,
    libc::SYS_write,
    libc::SYS_readv,
    libc::SYS_writev,
    libc::SYS_pread64,
    libc::SYS_pwrite64,
    libc::SYS_openat,
    libc::SYS_close,
    libc::SYS_fstat,
    libc::SYS_newfstatat,
    libc::SYS_statx,
    libc::SYS_lseek,
    libc::SYS_fcntl,
    libc::SYS_dup,
    libc::SYS_dup3,
    libc::SYS_getdents64,
    libc::SYS_faccessat,
    libc::SYS_faccessat2,
    libc::SYS_readlinkat,
    libc::SYS_getcwd,
    libc::SYS_statfs,
    libc::SYS_fstatfs,
    // memory
    libc::SYS_mmap,
    libc::SYS_munmap,
    libc::SYS_mremap,
    libc::SYS_mprotect,
    libc::SYS_madvise,
    libc::SYS_brk,
    // threads and synchronisation (clone itself is argument-checked in `seccomp`)
    libc::SYS_futex,
    libc::SYS_set_robust_list,
    libc::SYS_get_robust_list,
    libc::SYS_rseq,
    libc::SYS_set_tid_address,
    libc::SYS_sched_yield,
    libc::SYS_sched_getaffinity,
    libc::SYS_gettid,
    libc::SYS_exit,
    libc::SYS_exit_group,
    libc::SYS_tgkill,
    libc::SYS_restart_syscall,
    // signals (own process only: Landlock's signal scope keeps them in the domain)
    libc::SYS_rt_sigaction,
    libc::SYS_rt_sigprocmask,
    libc::SYS_rt_sigreturn,
    libc::SYS_sigaltstack,
    // event loop
    libc::SYS_epoll_create1,
    libc::SYS_epoll_ctl,
    libc::SYS_epoll_pwait,
    libc::SYS_epoll_pwait2,
    libc::SYS_eventfd2,
    libc::SYS_pipe2,
    libc::SYS_ppoll,
    // sockets that already exist or are Unix sockets (socket/socketpair are argument-checked)
    libc::SYS_connect,
    libc::SYS_accept4,
    libc::SYS_getsockname,
    libc::SYS_getpeername,
    libc::SYS_getsockopt,
    libc::SYS_setsockopt,
    libc::SYS_shutdown,
    libc::SYS_sendto,
    libc::SYS_recvfrom,
    libc::SYS_sendmsg,
    libc::SYS_recvmsg,
    // time, identity, randomness, limits
    libc::SYS_clock_gettime,
    libc::SYS_clock_getres,
    libc::SYS_clock_nanosleep,
    libc::SYS_nanosleep,
    libc::SYS_gettimeofday,
    libc::SYS_getrandom,
    libc::SYS_getpid,
    libc::SYS_getppid,
    libc::SYS_getuid,
    libc::SYS_geteuid,
    libc::SYS_getgid,
    libc::SYS_getegid,
    libc::SYS_getresuid,
    libc::SYS_getresgid,
    libc::SYS_uname,
    libc::SYS_sysinfo,
    libc::SYS_prlimit64,
];

/// Old x86_64 entry points that glibc or std still use on that architecture (aarch64 never had them).
#[cfg(target_arch = "x86_64")]
const LEGACY: &[i64] = &[
    libc::SYS_open,
    libc::SYS_stat,
    libc::SYS_lstat,
    libc::SYS_access,
    libc::SYS_readlink,
    libc::SYS_dup2,
    libc::SYS_poll,
    libc::SYS_epoll_wait,
    libc::SYS_getrlimit,
    libc::SYS_time,
    libc::SYS_arch_prctl,
];
#[cfg(not(target_arch = "x86_64"))]
const LEGACY: &[i64] = &[];

/// Watching the configuration and certificate directories for hot reload (frontend/src/reload/watch.rs):
/// the watcher is created after confinement, so that its thread is confined too.
const WATCHES: &[i64] = &[
    libc::SYS_inotify_init1,
    libc::SYS_inotify_add_watch,
    libc::SYS_inotify_rm_watch,
];

/// Creating, replacing and removing files: the frontend's atomic writes in its state directory.
const FILE_CHANGES: &[i64] = &[
    // tracing-journald hands an event too large for one datagram to the journal as a sealed memfd
    // (frontend/src/logging.rs); without it such an event would kill the daemon.
    libc::SYS_memfd_create,
    libc::SYS_mkdirat,
    libc::SYS_unlinkat,
    libc::SYS_renameat,
    libc::SYS_renameat2,
    libc::SYS_fsync,
    libc::SYS_fdatasync,
    libc::SYS_ftruncate,
    libc::SYS_fchmod,
    libc::SYS_fchmodat,
    libc::SYS_utimensat,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_mkdir,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_unlink,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_rename,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_rmdir,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_set_allows_exec_module_mount_namespace_keyring_or_bpf_calls() {
        let forbidden = [
            libc::SYS_execve,
            libc::SYS_execveat,
            libc::SYS_ptrace,
            libc::SYS_init_module,
            libc::SYS_finit_module,
            libc::SYS_delete_module,
            libc::SYS_mount,
            libc::SYS_umount2,
            libc::SYS_unshare,
            libc::SYS_setns,
            libc::SYS_keyctl,
            libc::SYS_add_key,
            libc::SYS_request_key,
            libc::SYS_bpf,
            libc::SYS_kill,
            libc::SYS_bind,
            libc::SYS_listen,
            libc::SYS_setuid,
            libc::SYS_socket,
            libc::SYS_clone,
            libc::SYS_clone3,
        ];
        for set in [SyscallSet::Frontend, SyscallSet::Broker] {
            let allowed = set.unconditional();
            for nr in forbidden {
                assert!(!allowed.contains(&nr), "{} allows syscall {nr}", set.name());
            }
        }
    }

    #[test]
    fn only_the_frontend_may_change_files() {
        assert!(
            SyscallSet::Frontend
                .unconditional()
                .contains(&libc::SYS_renameat2)
        );
        assert!(
            !SyscallSet::Broker
                .unconditional()
                .contains(&libc::SYS_renameat2)
        );
        assert!(
            !SyscallSet::Broker
                .unconditional()
                .contains(&libc::SYS_unlinkat)
        );
    }
}
