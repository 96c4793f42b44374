//! A TCP stream that remembers when the kernel received the bytes it last read.
//!
//! The benchmark measures the *server's* fan-out: the moment an event's bytes reach a subscriber's socket.
//! What a client process does after that (decrypting, parsing, being scheduled on two cores shared with the
//! server) is the measuring apparatus, not the product. With `SO_TIMESTAMPNS` the kernel stamps every
//! received segment with the wall clock (`CLOCK_REALTIME`, the clock the measuring process also reads), and
//! `recvmsg` hands the stamp over with the data; this stream keeps the stamp of its latest read in a shared
//! cell, so a client that has just decoded a frame knows when the segment carrying it arrived. (A frame is
//! decoded right after the read that completed it: TLS and WebSocket decoders read only when they lack
//! bytes, so the latest stamp is that read's.)

use nix::sys::socket::{self, ControlMessageOwned, MsgFlags, sockopt};
use std::io::{self, IoSliceMut};
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// Kernel receive time of the latest read, in nanoseconds since the epoch (0 before the first read, or when
/// the latest read came without a stamp).
#[derive(Debug, Default, Clone)]
pub struct Arrival(Arc<AtomicU64>);

impl Arrival {
    /// The stamp of the latest read.
    pub fn latest_ns(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A [`TcpStream`] whose reads record their kernel receive time in an [`Arrival`].
#[derive(Debug)]
pub struct StampedTcp {
    tcp: TcpStream,
    arrival: Arrival,
}

impl StampedTcp {
    /// Turns on receive timestamps for `tcp`.
    pub fn new(tcp: TcpStream) -> io::Result<(Self, Arrival)> {
        socket::setsockopt(&tcp, sockopt::ReceiveTimestampns, &true)?;
        let arrival = Arrival::default();
        Ok((
            StampedTcp {
                tcp,
                arrival: arrival.clone(),
            },
            arrival,
        ))
    }

    /// One `recvmsg`: the bytes read and the kernel's stamp, if it gave one.
    fn receive(&self, buf: &mut [u8]) -> io::Result<(usize, Option<u64>)> {
        let mut iov = [IoSliceMut::new(buf)];
        let mut control = nix::cmsg_space!(nix::sys::time::TimeSpec);
        let msg = socket::recvmsg::<()>(
            self.tcp.as_raw_fd(),
            &mut iov,
            Some(&mut control),
            MsgFlags::MSG_DONTWAIT,
        )?;
        let stamp = msg.cmsgs()?.find_map(|c| match c {
            ControlMessageOwned::ScmTimestampns(ts) => {
                let ns = i128::from(ts.tv_sec()) * 1_000_000_000 + i128::from(ts.tv_nsec());
                u64::try_from(ns).ok()
            }
            _ => None,
        });
        Ok((msg.bytes, stamp))
    }
}

impl AsyncRead for StampedTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            ready!(this.tcp.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match this
                .tcp
                .try_io(Interest::READABLE, || this.receive(unfilled))
            {
                Ok((n, stamp)) => {
                    // An unstamped read leaves 0, never the previous read's stamp: a stale stamp would
                    // understate a latency; 0 is refused by the benchmark.
                    this.arrival.0.store(stamp.unwrap_or(0), Ordering::Relaxed);
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for StampedTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{SystemTime, UNIX_EPOCH};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn now_ns() -> u64 {
        let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        u64::try_from(d.as_nanos()).unwrap()
    }

    fn plausible(stamp: u64) -> bool {
        stamp.abs_diff(now_ns()) < 1_000_000_000
    }

    #[tokio::test]
    async fn a_read_records_the_kernels_receive_time_of_its_data() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (client, accepted) = tokio::join!(TcpStream::connect(address), listener.accept());
        let (mut stream, arrival) = StampedTcp::new(client.unwrap()).unwrap();
        let (mut server, _) = accepted.unwrap();
        assert_eq!(arrival.latest_ns(), 0, "no stamp before the first read");
        // The kernel turns receive stamping on in deferred work after the first socket asks for it: in a
        // fresh process the first segments come without a stamp (seen here: the first one in about half the
        // runs). Exchange until one is stamped with the wall clock (the benchmark's sockets subscribe long
        // before any event, and it refuses deliveries without such a stamp).
        let mut buf = [0u8; 16];
        for _ in 0..200 {
            server.write_all(b"warm-up").await.unwrap();
            let _ = stream.read(&mut buf).await.unwrap();
            if plausible(arrival.latest_ns()) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(
            plausible(arrival.latest_ns()),
            "the kernel never stamped a segment with the wall clock"
        );

        let before = now_ns();
        server.write_all(b"event").await.unwrap();
        // Let the data sit in the socket: the stamp is when it arrived, not when it is read.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let n = stream.read(&mut buf).await.unwrap();
        let read_at = now_ns();
        assert_eq!(&buf[..n], b"event");
        let stamp = arrival.latest_ns();
        assert!(
            stamp >= before,
            "stamped ({stamp}) after the write began ({before})"
        );
        assert!(
            read_at - stamp >= 40_000_000,
            "the stamp is the arrival ({stamp}), not the read ({read_at})"
        );
    }
}
