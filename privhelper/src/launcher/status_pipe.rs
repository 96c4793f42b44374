//! The status channel of a package-changing command: a pipe whose write end the child inherits under its
//! own descriptor number (passed as `-o APT::Status-Fd=N`), read line by line as apt writes it.
//!
//! The write end is created *without* close-on-exec so the child inherits it. That is only safe while no
//! other child is being spawned — another child would inherit it too and keep the pipe open — so the
//! caller creates it and spawns under [`super::spawn`]'s spawn lock, and drops the parent's copy right
//! after the spawn. The read end is close-on-exec from the start.

use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::mpsc;

/// Longest status line passed on, in bytes; the rest of a longer line is dropped. apt's lines are short
/// (`pmstatus:PKG:PERCENT:MESSAGE`), so this only bounds a misbehaving writer.
pub const MAX_STATUS_LINE: usize = 1024;

/// A freshly created status pipe.
#[derive(Debug)]
pub struct StatusPipe {
    read: OwnedFd,
    write: OwnedFd,
}

impl StatusPipe {
    /// Creates the pipe: read end close-on-exec, write end inheritable. Call under the spawn lock.
    pub fn create() -> std::io::Result<StatusPipe> {
        let (read, write) = nix::unistd::pipe()?;
        fcntl(&read, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
        if write.as_raw_fd() < 3 {
            // The launcher's standard descriptors are closed; the child's stdio set-up would overwrite it.
            return Err(std::io::Error::other(
                "status pipe got a standard descriptor number",
            ));
        }
        Ok(StatusPipe { read, write })
    }

    /// The write end's descriptor number, which is also its number in the child.
    pub fn child_fd(&self) -> i32 {
        self.write.as_raw_fd()
    }

    /// Closes the parent's write end (after the spawn), so the pipe ends when the child's copies close,
    /// and returns the read end.
    pub fn into_reader(self) -> OwnedFd {
        drop(self.write);
        self.read
    }
}

/// Reads `read` to its end on a thread, calling `sink` with each line (without its newline, lossy UTF-8,
/// at most [`MAX_STATUS_LINE`] bytes). The receiver gets `()` when the pipe is closed and every line has
/// been passed on.
pub fn stream_lines(
    read: OwnedFd,
    mut sink: impl FnMut(String) + Send + 'static,
) -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut file = std::fs::File::from(read);
        let mut splitter = LineSplitter::default();
        let mut buf = [0u8; 4096];
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => splitter.push(&buf[..n], &mut sink),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        splitter.finish(&mut sink);
        let _ = tx.send(());
    });
    rx
}

/// Splits a byte stream into bounded lines.
#[derive(Debug, Default)]
pub(super) struct LineSplitter {
    line: Vec<u8>,
}

impl LineSplitter {
    /// Feeds bytes; every complete line goes to `sink`.
    pub(super) fn push(&mut self, bytes: &[u8], sink: &mut impl FnMut(String)) {
        for &b in bytes {
            if b == b'\n' {
                self.emit(sink);
            } else if self.line.len() < MAX_STATUS_LINE {
                self.line.push(b);
            }
        }
    }

    /// Passes on the last, unterminated line.
    pub(super) fn finish(&mut self, sink: &mut impl FnMut(String)) {
        if !self.line.is_empty() {
            self.emit(sink);
        }
    }

    fn emit(&mut self, sink: &mut impl FnMut(String)) {
        let line = String::from_utf8_lossy(&self.line).into_owned();
        self.line.clear();
        sink(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[test]
    fn lines_are_split_bounded_and_the_last_partial_line_is_kept() {
        let mut got = Vec::new();
        let mut s = LineSplitter::default();
        let long = "x".repeat(MAX_STATUS_LINE + 100);
        s.push(b"pmstatus:a:1", &mut |l| got.push(l));
        s.push(b"0.0:Unpacking a\n", &mut |l| got.push(l));
        s.push(format!("{long}\ntail").as_bytes(), &mut |l| got.push(l));
        s.finish(&mut |l| got.push(l));
        assert_eq!(got[0], "pmstatus:a:10.0:Unpacking a");
        assert_eq!(got[1].len(), MAX_STATUS_LINE);
        assert_eq!(got[2], "tail");
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn pipe_streams_until_the_write_end_closes() {
        // Like the launcher, hold the spawn lock while an inheritable write end exists.
        let guard = super::super::spawn::SPAWN_LOCK.lock().unwrap();
        let pipe = StatusPipe::create().unwrap();
        let flags = fcntl(&pipe.write, FcntlArg::F_GETFD).unwrap();
        assert!(!FdFlag::from_bits_truncate(flags).contains(FdFlag::FD_CLOEXEC));
        let mut writer = std::fs::File::from(pipe.write.try_clone().unwrap());
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let done = stream_lines(pipe.into_reader(), move |l| sink.lock().unwrap().push(l));
        drop(guard);
        writer
            .write_all(b"dlstatus:1:0.0:Retrieving\npmstatus:x:50:Half\n")
            .unwrap();
        drop(writer);
        done.recv_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        assert_eq!(
            *lines.lock().unwrap(),
            ["dlstatus:1:0.0:Retrieving", "pmstatus:x:50:Half"]
        );
    }
}
