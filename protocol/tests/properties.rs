//! Property tests: the validators accept exactly their grammar, and the codec never panics, never accepts an
//! invalid value and never allocates beyond the frame limit on hostile input.

use lpa_protocol::frame::{self, FrameError, MAX_REQUEST_FRAME};
use lpa_protocol::launcher::{Invocation, LauncherRequest};
use lpa_protocol::{ClientMessage, Operation, PackageName, ServiceName, Version};
use proptest::prelude::*;

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-')
}

proptest! {
    #[test]
    fn package_name_accepts_exactly_its_grammar(s in "\\PC{0,300}") {
        let expected = !s.is_empty()
            && s.len() <= 256
            && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && s.chars().all(is_name_char);
        prop_assert_eq!(PackageName::new(s.clone()).is_ok(), expected, "{:?}", s);
    }

    #[test]
    fn valid_names_never_look_like_options_or_paths(s in "[A-Za-z0-9][A-Za-z0-9._+-]{0,255}") {
        let name = PackageName::new(s).unwrap();
        prop_assert!(!name.as_str().starts_with('-'));
        prop_assert!(!name.as_str().contains('/'));
        prop_assert!(!name.as_str().contains('='));
    }

    #[test]
    fn service_and_version_reject_control_and_space(prefix in "[a-z]{1,5}", bad in "[ \\t\\n\\r\\x00/;$`*]", suffix in "[a-z]{0,5}") {
        let s = format!("{prefix}{bad}{suffix}");
        prop_assert!(ServiceName::new(s.clone()).is_err());
        prop_assert!(PackageName::new(s.clone()).is_err());
        prop_assert!(Version::new(s).is_err());
    }

    #[test]
    fn codec_round_trips_valid_requests(id in any::<u64>(), name in "[a-z0-9][a-z0-9.+-]{1,60}") {
        let msg = ClientMessage::Request {
            id,
            operation: Operation::PackageDetail { name: PackageName::new(name).unwrap() },
        };
        let bytes = frame::encode(&msg, MAX_REQUEST_FRAME).unwrap();
        prop_assert_eq!(frame::decode::<ClientMessage>(&bytes, MAX_REQUEST_FRAME).unwrap(), msg);
    }

    #[test]
    fn random_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = frame::decode::<ClientMessage>(&bytes, MAX_REQUEST_FRAME);
        let _ = frame::decode::<LauncherRequest>(&bytes, MAX_REQUEST_FRAME);
        let _ = frame::read_frame(&mut bytes.as_slice(), MAX_REQUEST_FRAME);
    }

    #[test]
    fn mutated_valid_frames_decode_only_to_valid_values(
        name in "[a-z0-9][a-z0-9.+-]{1,40}",
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let msg = LauncherRequest::Exec { id: 1, invocation: Invocation::AptCacheShow { name: PackageName::new(name).unwrap() } };
        let mut bytes = frame::encode(&msg, MAX_REQUEST_FRAME).unwrap();
        for (idx, b) in flips {
            let i = idx.index(bytes.len());
            bytes[i] = b;
        }
        if let Ok(LauncherRequest::Exec { invocation: Invocation::AptCacheShow { name }, .. }) =
            frame::decode::<LauncherRequest>(&bytes, MAX_REQUEST_FRAME)
        {
            // Whatever survived decoding is a valid name: the validator ran during deserialization.
            prop_assert!(PackageName::new(name.as_str()).is_ok());
        }
    }

    #[test]
    fn announced_length_above_limit_is_refused(len in (MAX_REQUEST_FRAME as u32 + 1)..=u32::MAX) {
        let wire = len.to_be_bytes();
        let err = frame::read_frame(&mut wire.as_slice(), MAX_REQUEST_FRAME).unwrap_err();
        let too_large = matches!(err, FrameError::TooLarge { .. });
        prop_assert!(too_large, "{}", err);
    }
}

#[tokio::test]
async fn async_codec_refuses_oversized_frame() {
    use futures_util::StreamExt;
    use tokio_util::codec::FramedRead;
    let mut wire = ((MAX_REQUEST_FRAME as u32) + 1).to_be_bytes().to_vec();
    wire.extend(std::iter::repeat_n(0u8, 16));
    let mut reader = FramedRead::new(wire.as_slice(), frame::codec(MAX_REQUEST_FRAME));
    let err = reader.next().await.expect("an item").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
}
