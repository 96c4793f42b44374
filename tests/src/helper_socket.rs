//! A raw client of the helper's Unix socket, speaking `lpa_protocol` frames — or deliberately not.

use lpa_protocol::frame::{self, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME};
use lpa_protocol::{ClientMessage, Hello, Operation, ServerMessage};
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Opens a connection with read/write timeouts so a misbehaving helper fails the test instead of hanging it.
pub fn connect(path: &Path) -> io::Result<UnixStream> {
    let s = UnixStream::connect(path)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.set_write_timeout(Some(Duration::from_secs(30)))?;
    Ok(s)
}

/// Sends a frame with an arbitrary payload.
pub fn send_raw(s: &mut UnixStream, payload: &[u8]) -> io::Result<()> {
    frame::write_frame(s, payload).map_err(|e| io::Error::other(e.to_string()))
}

/// Sends a message.
pub fn send(s: &mut UnixStream, msg: &ClientMessage) -> io::Result<()> {
    let bytes =
        frame::encode(msg, MAX_REQUEST_FRAME).map_err(|e| io::Error::other(e.to_string()))?;
    send_raw(s, &bytes)
}

/// Receives one message; `Ok(None)` when the helper closed the connection.
pub fn recv(s: &mut UnixStream) -> io::Result<Option<ServerMessage>> {
    match frame::read_frame(s, MAX_RESPONSE_FRAME) {
        Ok(Some(payload)) => frame::decode(&payload, MAX_RESPONSE_FRAME)
            .map(Some)
            .map_err(|e| io::Error::other(e.to_string())),
        Ok(None) => Ok(None),
        Err(frame::FrameError::Io(e))
            if matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(io::Error::other(e.to_string())),
    }
}

/// Connects and completes the Hello handshake.
pub fn handshake(path: &Path) -> io::Result<UnixStream> {
    let mut s = connect(path)?;
    send(&mut s, &ClientMessage::Hello(Hello::current()))?;
    match recv(&mut s)? {
        Some(ServerMessage::HelloAck(_)) => Ok(s),
        other => Err(io::Error::other(format!("no HelloAck: {other:?}"))),
    }
}

/// One request on a fresh, handshaken connection.
pub fn call(path: &Path, operation: Operation) -> io::Result<ServerMessage> {
    let mut s = handshake(path)?;
    send(&mut s, &ClientMessage::Request { id: 1, operation })?;
    recv(&mut s)?.ok_or_else(|| io::Error::other("helper closed without answering"))
}

/// True when the peer closed the connection (EOF) without sending anything more.
pub fn closed_without_answer(s: &mut UnixStream) -> bool {
    let mut buf = [0u8; 1];
    matches!(s.read(&mut buf), Ok(0))
        || matches!(s.read(&mut buf), Err(ref e) if e.kind() == io::ErrorKind::ConnectionReset)
}

/// Writes bytes without framing (garbage tests).
pub fn write_bytes(s: &mut UnixStream, bytes: &[u8]) -> io::Result<()> {
    s.write_all(bytes)
}
