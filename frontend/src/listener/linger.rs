//! Lingering close: after the server has said its last word on a connection, read and discard what the client
//! is still sending before the socket is closed.
//!
//! Why: when the server answers before it has read the whole request — a 413 for a body over the limit, a 408
//! for a body that is too slow, a 431 for a head that is too large — the client is usually still writing
//! (Python `requests` and most HTTP libraries send the whole body before they read anything; only clients that
//! send `Expect: 100-continue` wait). Closing a socket whose receive queue still holds unread bytes makes the
//! kernel send a TCP reset, and a reset destroys the answer in the client's receive queue: the client sees a
//! broken connection instead of the enveloped 413. nginx solves this with its "lingering close"; this is the
//! same idea: on shutdown, send TLS `close_notify` and the TCP FIN, then drain reads until the client closes its
//! side, for at most [`LINGER_TIME`] and [`LINGER_BYTES`], so a client cannot hold the slot by sending forever.
//!
//! hyper calls `poll_shutdown` on every connection it ends (never on an upgraded one), so wrapping the
//! connection's stream is enough; a client that already closed ends the drain at once with EOF.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Longest a closing connection keeps reading what the client still sends.
pub const LINGER_TIME: Duration = Duration::from_secs(5);
/// Most bytes a closing connection reads and discards (16 MiB: sixteen times the default body limit).
pub const LINGER_BYTES: u64 = 16 * 1024 * 1024;

/// Where the shutdown is.
#[derive(Debug)]
enum Shutdown {
    /// Not started.
    Open,
    /// Our side is closed; draining the client's until EOF, the deadline or the byte cap.
    Draining {
        deadline: Pin<Box<tokio::time::Sleep>>,
        discarded: u64,
    },
    /// Finished.
    Done,
}

/// A stream whose `poll_shutdown` lingers (module docs).
#[derive(Debug)]
pub struct Lingering<S> {
    inner: S,
    shutdown: Shutdown,
    linger: Duration,
}

impl<S> Lingering<S> {
    /// Wraps `inner`, lingering at most [`LINGER_TIME`].
    pub fn new(inner: S) -> Self {
        Self::with_time(inner, LINGER_TIME)
    }

    /// Wraps `inner`, lingering at most `linger`.
    fn with_time(inner: S, linger: Duration) -> Self {
        Lingering {
            inner,
            shutdown: Shutdown::Open,
            linger,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Lingering<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Lingering<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            match &mut this.shutdown {
                Shutdown::Open => {
                    // TLS close_notify and the TCP FIN: the client's read of our answer ends cleanly.
                    let closed = ready!(Pin::new(&mut this.inner).poll_shutdown(cx));
                    if closed.is_err() {
                        this.shutdown = Shutdown::Done;
                        return Poll::Ready(closed);
                    }
                    this.shutdown = Shutdown::Draining {
                        deadline: Box::pin(tokio::time::sleep(this.linger)),
                        discarded: 0,
                    };
                }
                Shutdown::Draining {
                    deadline,
                    discarded,
                } => {
                    if deadline.as_mut().poll(cx).is_ready() || *discarded >= LINGER_BYTES {
                        this.shutdown = Shutdown::Done;
                        continue;
                    }
                    let mut scratch = [0u8; 8192];
                    let mut buf = ReadBuf::new(&mut scratch);
                    match ready!(Pin::new(&mut this.inner).poll_read(cx, &mut buf)) {
                        Ok(()) if !buf.filled().is_empty() => {
                            *discarded += buf.filled().len() as u64;
                        }
                        // EOF or a failed read: the client is gone.
                        _ => this.shutdown = Shutdown::Done,
                    }
                }
                Shutdown::Done => return Poll::Ready(Ok(())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn shutdown_drains_what_the_peer_still_sends_until_it_closes() {
        let (server, mut client) = tokio::io::duplex(64);
        let mut server = Lingering::new(server);
        let writer = tokio::spawn(async move {
            // More than the duplex buffer holds: only a draining server lets this finish.
            client.write_all(&[7u8; 4096]).await.unwrap();
            let mut answer = Vec::new();
            client.read_to_end(&mut answer).await.unwrap();
            answer
        });
        server.write_all(b"413").await.unwrap();
        tokio::time::timeout(Duration::from_secs(2), server.shutdown())
            .await
            .expect("the drain ends when the peer closes")
            .unwrap();
        assert_eq!(writer.await.unwrap(), b"413");
    }

    #[tokio::test]
    async fn a_peer_that_never_closes_is_dropped_after_the_linger_time() {
        let (server, _client) = tokio::io::duplex(64);
        let linger = Duration::from_millis(300);
        let mut server = Lingering::with_time(server, linger);
        let started = std::time::Instant::now();
        server.shutdown().await.unwrap();
        assert!(started.elapsed() >= linger);
        assert!(started.elapsed() < linger + Duration::from_secs(2));
    }
}
