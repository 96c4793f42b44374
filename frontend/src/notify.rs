//! Telling the service manager what the daemon is doing: `READY=1` once it serves, `STOPPING=1` when it
//! begins to shut down (`sd_notify(3)`; the unit is `Type=notify`).
//!
//! The datagram socket is created and connected to `$NOTIFY_SOCKET` at start, *before* confinement, and kept:
//! after confinement Landlock's scoping forbids reaching an abstract socket (`@…`, which systemd may use)
//! outside the process's domain, and a future Landlock ABI restricts connecting to pathname sockets too; a
//! socket connected beforehand keeps working, and sending on it needs only `sendto`/`write`, which the
//! seccomp allowlist has. The messages themselves are formatted by the `sd-notify` crate's [`NotifyState`].
//! Without `$NOTIFY_SOCKET` (not started by systemd) every call does nothing.

use std::fmt::Write as _;
use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};

pub use sd_notify::NotifyState;

/// A connection to the service manager's notification socket, or nothing when there is none.
#[derive(Debug)]
pub struct Notifier {
    socket: Option<UnixDatagram>,
}

impl Notifier {
    /// Connects to `$NOTIFY_SOCKET` if it is set. An address starting with `@` is an abstract socket.
    pub fn from_env() -> io::Result<Notifier> {
        match std::env::var_os("NOTIFY_SOCKET") {
            None => Ok(Notifier { socket: None }),
            Some(addr) => Self::connect(&addr.to_string_lossy()),
        }
    }

    /// Connects to `addr` (a path, or `@name` for an abstract socket).
    pub fn connect(addr: &str) -> io::Result<Notifier> {
        let address = match addr.strip_prefix('@') {
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                SocketAddr::from_abstract_name(name.as_bytes())?
            }
            None => SocketAddr::from_pathname(addr)?,
        };
        let socket = UnixDatagram::unbound()?;
        socket.connect_addr(&address)?;
        Ok(Notifier {
            socket: Some(socket),
        })
    }

    /// Whether a service manager listens.
    pub fn is_active(&self) -> bool {
        self.socket.is_some()
    }

    /// Sends `states` as one datagram (one `KEY=value` line each). Does nothing without a socket.
    pub fn notify(&self, states: &[NotifyState<'_>]) -> io::Result<()> {
        let Some(socket) = &self.socket else {
            return Ok(());
        };
        let mut msg = String::new();
        for state in states {
            let _ = writeln!(msg, "{state}");
        }
        let sent = socket.send(msg.as_bytes())?;
        if sent == msg.len() {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "notification truncated",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_one_datagram_per_notification_to_a_path_and_to_an_abstract_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let receiver = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::connect(path.to_str().unwrap()).unwrap();
        assert!(n.is_active());
        n.notify(&[NotifyState::Ready, NotifyState::Status("serving")])
            .unwrap();
        let mut buf = [0u8; 256];
        let len = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=serving\n");

        use std::os::linux::net::SocketAddrExt;
        let name = format!("lpa-notify-test-{}", std::process::id());
        let abstract_rx =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
                .unwrap();
        let n = Notifier::connect(&format!("@{name}")).unwrap();
        n.notify(&[NotifyState::Stopping]).unwrap();
        let len = abstract_rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"STOPPING=1\n");
    }

    #[test]
    fn without_a_socket_nothing_is_sent_and_nothing_fails() {
        let n = Notifier { socket: None };
        assert!(!n.is_active());
        n.notify(&[NotifyState::Ready]).unwrap();
    }
}
