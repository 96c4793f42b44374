//! The listening Unix socket: inherited from systemd (`LISTEN_FDS`) or bound at the configured path.
//!
//! Binding is done so that nothing a compromised frontend can do redirects it — the frontend's uid owns files
//! and may, on a badly set up host, write to the socket's directory — and without ever `chown`/`chmod`ing a
//! path (which would follow a symlink planted there and hand the frontend's group e.g. `/etc/shadow`):
//!
//! 1. The socket's directory is opened with `O_NOFOLLOW` and checked on the descriptor: it must be owned by
//!    root and writable by nobody else (`/run/linux-patch-api` 0755 root). A missing directory is created
//!    0755; a directory that fails the check is refused, never repaired.
//! 2. The socket is bound under a temporary name in that directory, reached through the directory
//!    descriptor, with `umask 0117` and the filesystem gid set to the frontend's group (`setfsgid`), so the
//!    inode is born `root:<frontend group>` 0660 — its final owner and mode, with no window in which it is
//!    anything else. The result is checked with `fstatat(AT_SYMLINK_NOFOLLOW)`.
//! 3. `renameat` moves it over the final name. `rename` replaces whatever entry is there — a stale socket, or
//!    a symlink somebody planted — without following it; a regular file or directory there is refused.
//!
//! Only the frontend's group can connect at all, and the broker's `SO_PEERCRED` check narrows that to the
//! frontend's uid.

use nix::fcntl::{OFlag, open, renameat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, fstatat, umask};
use nix::unistd::{Gid, UnlinkatFlags, setfsgid, unlinkat};
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

/// Mode of the socket: owner (root) and the frontend's group may connect.
const SOCKET_MODE: u32 = 0o660;

/// Why the socket could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// `LISTEN_FDS` was set but fd 3 is not a Unix stream listener.
    #[error("LISTEN_FDS passes no usable Unix listener: {0}")]
    Activation(io::Error),
    /// The path exists and is not a socket (or a symlink); refusing to delete it.
    #[error("{}: exists and is not a socket; refusing to remove it", .0.display())]
    NotASocket(PathBuf),
    /// The socket's directory could be changed by someone other than root.
    #[error(
        "{}: the socket's directory must be a real directory owned by root and writable only by root \
         (e.g. `install -d -m 0755 -o root -g root {}`): {reason}",
        dir.display(),
        dir.display()
    )]
    UnsafeDirectory {
        /// The directory.
        dir: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The freshly bound socket does not have the owner or mode it was created with (e.g. a setgid
    /// directory imposed its group); it is removed and the helper does not start.
    #[error("{}: the new socket is {found}, expected a socket root:{gid} mode 0660", path.display())]
    Unexpected {
        /// The socket path.
        path: PathBuf,
        /// What it turned out to be.
        found: String,
        /// The expected group.
        gid: u32,
    },
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
/// (it reads and clears `LISTEN_FDS`, and changes the process umask and filesystem gid around `bind`).
pub fn open_listener(
    path: &Path,
    frontend_gid: Gid,
) -> Result<(UnixListener, Origin), SocketError> {
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
        move |source: io::Error| SocketError::Io {
            path: path.to_owned(),
            step,
            source,
        }
    };
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io_err("splitting the path")(io::Error::other(
            "the socket path needs a directory and a file name",
        )));
    };
    let dir_fd = open_safe_dir(dir)?;

    // What is at the final name now: a socket or a symlink is replaced by the rename below (without being
    // followed); anything else is somebody's data.
    match fstatat(&dir_fd, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) if is(&st, SFlag::S_IFSOCK) => {}
        Ok(st) if is(&st, SFlag::S_IFLNK) => {
            tracing::warn!(path = %path.display(), "a symlink sits where the socket goes; replacing the link itself")
        }
        Ok(_) => return Err(SocketError::NotASocket(path.to_owned())),
        Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(io_err("inspecting the path")(e.into())),
    }

    let tmp_name = format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id());
    let tmp = OsStr::new(&tmp_name);
    let _ = unlinkat(&dir_fd, tmp, UnlinkatFlags::NoRemoveDir);
    // Through the directory descriptor: the bind lands in the directory that was checked, whatever happens
    // to the path's components meanwhile.
    let via_fd = PathBuf::from(format!("/proc/self/fd/{}/{tmp_name}", dir_fd.as_raw_fd()));
    // Single-threaded here, so changing the process umask and the filesystem gid around bind() is race-free.
    let old_mask = umask(Mode::from_bits_truncate(0o777 & !SOCKET_MODE));
    let old_fsgid = setfsgid(frontend_gid);
    let bound = UnixListener::bind(&via_fd);
    setfsgid(old_fsgid);
    umask(old_mask);
    let listener = bound.map_err(io_err("bind"))?;

    let cleanup = |e: SocketError| {
        let _ = unlinkat(&dir_fd, tmp, UnlinkatFlags::NoRemoveDir);
        e
    };
    let st = fstatat(&dir_fd, tmp, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
        .map_err(|e| cleanup(io_err("inspecting the new socket")(e.into())))?;
    if !is(&st, SFlag::S_IFSOCK)
        || st.st_uid != 0
        || st.st_gid != frontend_gid.as_raw()
        || st.st_mode & 0o7777 != SOCKET_MODE
    {
        return Err(cleanup(SocketError::Unexpected {
            path: path.to_owned(),
            found: format!(
                "type {:o} {}:{} mode {:o}",
                st.st_mode & SFlag::S_IFMT.bits(),
                st.st_uid,
                st.st_gid,
                st.st_mode & 0o7777
            ),
            gid: frontend_gid.as_raw(),
        }));
    }
    renameat(&dir_fd, tmp, &dir_fd, name)
        .map_err(|e| cleanup(io_err("renaming the socket into place")(e.into())))?;
    Ok(listener)
}

/// What `--check-config` says about the socket's directory: `Ok(true)` when it exists and only root can
/// change it, `Ok(false)` when it does not exist yet (the helper, or systemd's `.socket` unit, creates it).
pub fn check_directory(socket: &Path) -> Result<bool, SocketError> {
    let Some(dir) = socket.parent() else {
        return Ok(false);
    };
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        _ => open_safe_dir(dir).map(|_| true),
    }
}

/// Opens `dir` without following a symlink and checks on the descriptor that only root can change it;
/// creates it (0755) when missing.
fn open_safe_dir(dir: &Path) -> Result<OwnedFd, SocketError> {
    let unsafe_dir = |reason: String| SocketError::UnsafeDirectory {
        dir: dir.to_owned(),
        reason,
    };
    let flags = OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_RDONLY;
    let fd = match open(dir, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ENOENT) => {
            let old_mask = umask(Mode::from_bits_truncate(0o022));
            let made = std::fs::DirBuilder::new().recursive(true).create(dir);
            umask(old_mask);
            made.map_err(|source| SocketError::Io {
                path: dir.to_owned(),
                step: "creating the socket directory",
                source,
            })?;
            open(dir, flags, Mode::empty())
                .map_err(|e| unsafe_dir(format!("cannot open it: {e}")))?
        }
        Err(nix::errno::Errno::ELOOP | nix::errno::Errno::ENOTDIR) => {
            return Err(unsafe_dir("it is a symlink or not a directory".to_owned()));
        }
        Err(e) => return Err(unsafe_dir(format!("cannot open it: {e}"))),
    };
    let st = fstat(&fd).map_err(|e| unsafe_dir(format!("cannot stat it: {e}")))?;
    if st.st_uid != 0 {
        return Err(unsafe_dir(format!("it is owned by uid {}", st.st_uid)));
    }
    if st.st_mode & 0o022 != 0 {
        return Err(unsafe_dir(format!(
            "its mode {:o} lets group or others create entries in it",
            st.st_mode & 0o7777
        )));
    }
    Ok(fd)
}

fn is(st: &FileStat, kind: SFlag) -> bool {
    st.st_mode & SFlag::S_IFMT.bits() == kind.bits()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    /// `bind` changes the process umask: the tests take turns so that one's `mkdir` never sees another's mask.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn private_dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap() // 0700 root: safe
    }

    fn assert_final_socket(path: &Path) {
        let meta = fs::symlink_metadata(path).unwrap();
        assert!(std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()));
        assert_eq!(meta.mode() & 0o7777, 0o660);
        assert_eq!((meta.uid(), meta.gid()), (0, 61001));
    }

    #[test]
    fn binds_0660_owned_by_frontend_group_and_replaces_a_stale_socket() {
        let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let dir = private_dir();
        let path = dir.path().join("helper.sock");
        let first = bind(&path, Gid::from_raw(61001)).unwrap();
        drop(first); // leaves a stale socket file behind
        let _second = bind(&path, Gid::from_raw(61001)).unwrap();
        assert_final_socket(&path);
        // Only the socket is left: no temporary name behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_planted_symlink_is_replaced_and_its_target_is_untouched() {
        let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let dir = private_dir();
        let target = dir.path().join("shadow");
        fs::write(&target, b"secret").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o600)).unwrap();
        let path = dir.path().join("helper.sock");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let _l = bind(&path, Gid::from_raw(61001)).unwrap();
        assert_final_socket(&path);
        let meta = fs::metadata(&target).unwrap();
        assert_eq!(
            (meta.mode() & 0o7777, meta.uid(), meta.gid()),
            (0o600, 0, 0)
        );
        assert_eq!(fs::read(&target).unwrap(), b"secret");
    }

    #[test]
    fn refuses_to_remove_a_regular_file() {
        let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let dir = private_dir();
        let path = dir.path().join("helper.sock");
        fs::write(&path, b"precious").unwrap();
        assert!(matches!(
            bind(&path, Gid::from_raw(61001)),
            Err(SocketError::NotASocket(_))
        ));
        assert_eq!(fs::read(&path).unwrap(), b"precious");
    }

    #[test]
    fn refuses_a_directory_others_can_write_or_a_symlinked_one_and_creates_a_missing_one_0755() {
        let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let dir = private_dir();
        let open = dir.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o1777)).unwrap();
        let err = bind(&open.join("helper.sock"), Gid::from_raw(61001)).unwrap_err();
        assert!(matches!(err, SocketError::UnsafeDirectory { .. }), "{err}");
        assert!(err.to_string().contains("1777"), "{err}");
        assert!(!open.join("helper.sock").exists());

        let link = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path(), &link).unwrap();
        let err = bind(&link.join("helper.sock"), Gid::from_raw(61001)).unwrap_err();
        assert!(matches!(err, SocketError::UnsafeDirectory { .. }), "{err}");

        // Positive control: a missing directory is created root-owned 0755 and used.
        let fresh = dir.path().join("run/linux-patch-api");
        let _l = bind(&fresh.join("helper.sock"), Gid::from_raw(61001)).unwrap();
        let meta = fs::metadata(&fresh).unwrap();
        assert_eq!((meta.mode() & 0o7777, meta.uid()), (0o755, 0));
        assert_final_socket(&fresh.join("helper.sock"));
    }
}
