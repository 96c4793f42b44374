//! Frame decode + validation: arbitrary bytes as a framed stream and as a bare payload, for every message type
//! a process decodes from a less trusted peer. Must never panic and never allocate beyond the frame limit
//! (libFuzzer's `-rss_limit_mb` and `-malloc_limit_mb` catch the latter).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lpa_protocol::frame::{self, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME};
use lpa_protocol::launcher::{LauncherRequest, LauncherResponse};
use lpa_protocol::{ClientMessage, ServerMessage};

fuzz_target!(|data: &[u8]| {
    let _ = frame::decode::<ClientMessage>(data, MAX_REQUEST_FRAME);
    let _ = frame::decode::<LauncherRequest>(data, MAX_REQUEST_FRAME);
    let _ = frame::decode::<ServerMessage>(data, MAX_RESPONSE_FRAME);
    let _ = frame::decode::<LauncherResponse>(data, MAX_RESPONSE_FRAME);
    let mut stream = data;
    while let Ok(Some(payload)) = frame::read_frame(&mut stream, MAX_REQUEST_FRAME) {
        let _ = frame::decode::<ClientMessage>(&payload, MAX_REQUEST_FRAME);
    }
});
