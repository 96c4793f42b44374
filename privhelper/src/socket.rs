//! The listening Unix socket: inherited from systemd (`LISTEN_FDS`) or bound at the configured path.
//!
//! When binding, the socket is created with a restrictive umask so there is no window in which it is
//! world-connectable, then chowned `root:<frontend group>` and set to 0660: only the frontend's group can
//! connect at all, and the broker's `SO_PEERCRED` check narrows that to the frontend's uid.

use nix::sys::stat::{Mode, umask};
use nix::unistd::{Gid, Uid};
use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

/// Why the socket could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// `LISTEN_FDS` was set but fd 3 is not a Unix stream listener.
    #[error("LISTEN_FDS passes no usable Unix listener: {0}")]
    Activation(io::Error),
    /// The path exists and is not a socket; refusing to delete it.
    #[error("{}: exists and is not a socket; refusing to remove it", .0.display())]
    NotASocket(PathBuf),
    /// Any other failure, with the step that failed.
    #[error("{}: {step}: {source}", path.display())]
    Io {
        /// The socket path.
        path: PathBuf,
        /// What was being done.
        step: &'static str,
        /// The OS error.
        source: io::Error,
    },
}

/// Where the listener came from (for the start-up log line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Passed by the service manager.
    SocketActivation,
    /// Bound by the helper.
    Bound,
}

/// Takes fd 3 when socket-activated, otherwise binds at `path`. Must run before any thread exists
/// (it reads and clears `LISTEN_FDS`).
pub fn open(path: &Path, frontend_gid: Gid) -> Result<(UnixListener, Origin), SocketError> {
    let mut fds = listenfd::ListenFd::from_env();
    if fds.len() > 0 {
        let listener = fds
            .take_unix_listener(0)
            .map_err(SocketError::Activation)?
            .ok_or_else(|| {
                SocketError::Activation(io::Error::other("descriptor 3 was already taken"))
            })?;
        return Ok((listener, Origin::SocketActivation));
    }
    bind(path, frontend_gid).map(|l| (l, Origin::Bound))
}

fn bind(path: &Path, frontend_gid: Gid) -> Result<UnixListener, SocketError> {
    let io_err = |step| {
        move |source| SocketError::Io {
            path: path.to_owned(),
            step,
            source,
        }
    };
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            fs::remove_file(path).map_err(io_err("removing the stale socket"))?
        }
        Ok(_) => return Err(SocketError::NotASocket(path.to_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("inspecting the path")(e)),
    }
    if let Some(dir) = path.parent()
        && !dir.exists()
    {
        fs::create_dir_all(dir).map_err(io_err("creating the parent directory"))?;
    }
    // Single-threaded here, so changing the process umask around bind() is race-free.
    let old = umask(Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(path);
    umask(old);
    let listener = bound.map_err(io_err("bind"))?;
    nix::unistd::chown(path, Some(Uid::from_raw(0)), Some(frontend_gid))
        .map_err(|e| io_err("chown")(io::Error::from(e)))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o660)).map_err(io_err("chmod 0660"))?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn binds_0660_owned_by_frontend_group_and_replaces_a_stale_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("helper.sock");
        let first = bind(&path, Gid::from_raw(61001)).unwrap();
        drop(first); // leaves a stale socket file behind
        let _second = bind(&path, Gid::from_raw(61001)).unwrap();
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o660);
        assert_eq!(meta.gid(), 61001);
        assert_eq!(meta.uid(), 0);
    }

    #[test]
    fn refuses_to_remove_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("helper.sock");
        fs::write(&path, b"precious").unwrap();
        assert!(matches!(
            bind(&path, Gid::from_raw(61001)),
            Err(SocketError::NotASocket(_))
        ));
        assert_eq!(fs::read(&path).unwrap(), b"precious");
    }
}
