//! Connects to a Unix socket, sends a protocol Hello and reports how many bytes came back before the peer
//! closed. The end-to-end tests run it under another uid (via `setpriv`) to prove the broker's SO_PEERCRED
//! check: a peer that may open the socket but is not the frontend's uid must get zero bytes.
//!
//! Usage: `lpa-socket-probe SOCKET`; prints `connected=<bool> bytes=<n>`.

use lpa_protocol::frame::{self, MAX_REQUEST_FRAME};
use lpa_protocol::{ClientMessage, Hello};
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::time::Duration;

fn main() {
    let path = std::env::args().nth(1).expect("usage: lpa-socket-probe SOCKET");
    let mut stream = match UnixStream::connect(&path) {
        Ok(s) => s,
        Err(e) => {
            println!("connected=false bytes=0 error={e}");
            return;
        }
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let hello = frame::encode(&ClientMessage::Hello(Hello::current()), MAX_REQUEST_FRAME)
        .expect("encode hello");
    let _ = frame::write_frame(&mut stream, &hello);
    let mut received = Vec::new();
    let _ = stream.read_to_end(&mut received);
    println!("connected=true bytes={}", received.len());
}
