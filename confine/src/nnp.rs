//! `PR_SET_NO_NEW_PRIVS`: after it, no `execve` can grant privileges (setuid bits and file capabilities
//! are ignored). It is irreversible and inherited, and the kernel requires it (or CAP_SYS_ADMIN) before
//! an unprivileged process may install a seccomp filter.

use nix::sys::prctl;

/// `prctl(PR_SET_NO_NEW_PRIVS)` failed or did not stick.
#[derive(Debug, thiserror::Error)]
pub enum NnpError {
    /// The call failed.
    #[error("prctl(PR_SET_NO_NEW_PRIVS): {0}")]
    Set(nix::Error),
    /// The call succeeded but the flag reads back as unset.
    #[error("PR_GET_NO_NEW_PRIVS reads 0 after setting it")]
    NotSet,
}

/// Sets the flag and checks that it reads back as set.
pub fn set() -> Result<(), NnpError> {
    prctl::set_no_new_privs().map_err(NnpError::Set)?;
    if is_set() {
        Ok(())
    } else {
        Err(NnpError::NotSet)
    }
}

/// Whether the flag is set for the calling thread.
pub fn is_set() -> bool {
    prctl::get_no_new_privs().unwrap_or(false)
}
