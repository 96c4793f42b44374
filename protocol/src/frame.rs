//! Length-prefixed framing and the one encode/decode pair of the wire format.
//!
//! A frame is a 4-byte big-endian length followed by that many bytes of bincode (1.3.3, fixed-int,
//! little-endian, trailing bytes rejected, size-limited). The length is checked against a hard maximum
//! *before* any buffer is allocated; bincode's own limit then bounds every string inside the frame, so a
//! hostile string length inside a small frame cannot make the decoder allocate. Nor can a hostile *sequence*
//! length in a request: every list of a request type is decoded by [`crate::list`], which does not reserve
//! room from the announced length (serde's default would reserve up to 1 MiB), so memory follows the bytes
//! the frame really carries — measured in `tests/allocation.rs`.
//!
//! The limits are asymmetric on purpose: the side facing a less trusted peer (the broker reading the
//! frontend, the launcher reading the broker) accepts only small frames, while answers that carry package
//! lists may be larger.

use bincode::Options;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io::{self, Read, Write};
use tokio_util::codec::LengthDelimitedCodec;

/// Largest frame the broker accepts from the frontend, and the launcher from the broker.
pub const MAX_REQUEST_FRAME: usize = 64 * 1024;
/// Largest frame the frontend accepts from the broker, and the broker from the launcher.
pub const MAX_RESPONSE_FRAME: usize = 32 * 1024 * 1024;

/// Why a frame could not be encoded or decoded. Any decode error means: close the connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The frame (or the encoded message) exceeds the limit.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Announced or encoded length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The payload is not a valid message (including values that fail validation).
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// The underlying stream failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

fn options(limit: usize) -> impl Options + Copy {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
        .reject_trailing_bytes()
        .with_limit(limit as u64)
}

/// Encodes `msg` into a frame payload (without the length prefix).
pub fn encode<T: Serialize>(msg: &T, limit: usize) -> Result<Vec<u8>, FrameError> {
    let opts = options(limit);
    let len = opts
        .serialized_size(msg)
        .map_err(|e| FrameError::Malformed(e.to_string()))? as usize;
    if len > limit {
        return Err(FrameError::TooLarge { len, max: limit });
    }
    opts.serialize(msg)
        .map_err(|e| FrameError::Malformed(e.to_string()))
}

/// Decodes a frame payload. Validation of every newtype happens here, as part of deserialization.
pub fn decode<T: DeserializeOwned>(payload: &[u8], limit: usize) -> Result<T, FrameError> {
    if payload.len() > limit {
        return Err(FrameError::TooLarge {
            len: payload.len(),
            max: limit,
        });
    }
    options(limit)
        .deserialize(payload)
        .map_err(|e| FrameError::Malformed(e.to_string()))
}

/// A tokio codec for frames of at most `max` bytes; oversized frames fail with `InvalidData` before the
/// payload is read.
pub fn codec(max: usize) -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .length_field_type::<u32>()
        .big_endian()
        .max_frame_length(max)
        .new_codec()
}

/// Blocking read of one frame (for the launcher, which has no async runtime). `Ok(None)` on a clean end of
/// stream before a length prefix.
pub fn read_frame(r: &mut impl Read, max: usize) -> Result<Option<Vec<u8>>, FrameError> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf)?;
    Ok(Some(buf))
}

/// Blocking write of one frame.
pub fn write_frame(w: &mut impl Write, payload: &[u8]) -> Result<(), FrameError> {
    let len = u32::try_from(payload.len()).map_err(|_| FrameError::TooLarge {
        len: payload.len(),
        max: u32::MAX as usize,
    })?;
    let mut buf = Vec::with_capacity(4 + payload.len());
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(payload);
    w.write_all(&buf)?;
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClientMessage, Hello, Operation, PackageName};

    #[test]
    fn round_trip() {
        let msg = ClientMessage::Request {
            id: 7,
            operation: Operation::PackageDetail {
                name: PackageName::new("hello").unwrap(),
            },
        };
        let bytes = encode(&msg, MAX_REQUEST_FRAME).unwrap();
        let back: ClientMessage = decode(&bytes, MAX_REQUEST_FRAME).unwrap();
        assert_eq!(back, msg);
    }

    #[test]
    fn invalid_name_is_rejected_on_decode() {
        // Encode a structurally identical message whose string is not a valid name.
        #[derive(serde::Serialize)]
        enum Fake {
            #[allow(dead_code)]
            Hello(Hello),
            Request {
                id: u64,
                operation: FakeOp,
            },
        }
        #[derive(serde::Serialize)]
        enum FakeOp {
            #[allow(dead_code)]
            Ping,
            #[allow(dead_code)]
            SystemInfo,
            #[allow(dead_code)]
            ServiceStatus {
                name: String,
            },
            #[allow(dead_code)]
            ListInstalled,
            PackageDetail {
                name: String,
            },
        }
        let bytes = encode(
            &Fake::Request {
                id: 1,
                operation: FakeOp::PackageDetail {
                    name: "-oAPT::Update::Pre-Invoke::=x".into(),
                },
            },
            MAX_REQUEST_FRAME,
        )
        .unwrap();
        let err = decode::<ClientMessage>(&bytes, MAX_REQUEST_FRAME).unwrap_err();
        assert!(matches!(err, FrameError::Malformed(_)), "{err}");
    }

    #[test]
    fn hostile_length_prefix_inside_small_frame_does_not_allocate() {
        // Variant 1 (Request), id, variant 4 (PackageDetail), then a string length of u64::MAX.
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&1u64.to_le_bytes());
        bytes.extend_from_slice(&4u32.to_le_bytes());
        bytes.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode::<ClientMessage>(&bytes, MAX_REQUEST_FRAME).is_err());
    }

    #[test]
    fn oversized_frame_is_refused_before_reading_payload() {
        let mut wire = Vec::new();
        wire.extend_from_slice(&((MAX_REQUEST_FRAME as u32) + 1).to_be_bytes());
        // No payload follows: if the reader tried to read it, it would fail with EOF instead.
        let err = read_frame(&mut wire.as_slice(), MAX_REQUEST_FRAME).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = encode(&ClientMessage::Hello(Hello::current()), MAX_REQUEST_FRAME).unwrap();
        bytes.push(0);
        assert!(decode::<ClientMessage>(&bytes, MAX_REQUEST_FRAME).is_err());
    }
}
