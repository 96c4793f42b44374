//! Hostile names and paths are refused by the frontend with enveloped 400s and, sent straight to the helper
//! socket, by the helper itself (DESIGN invariant 3: validated in the frontend, on decode in the broker, and
//! again in the launcher).

use lpa_protocol::frame::{self, MAX_REQUEST_FRAME};
use lpa_protocol::{Operation, ServerMessage};
use lpa_tests::{helper_socket, raw, stack};
use std::net::{IpAddr, Ipv4Addr};

const HOSTILE_NAMES: [&str; 3] = ["-oAPT::Update::Pre-Invoke::=x", "foo;rm", "../x"];

/// Sends `GET path` byte for byte and returns (status, parsed envelope).
async fn raw_get(stack: &lpa_testkit::harness::Stack, path: &str) -> (u16, serde_json::Value) {
    let pki = stack.pki();
    let cfg = raw::tls_client(&pki.ca_cert, &pki.client.cert, &pki.client.key);
    let bytes = raw::tls_request(
        cfg,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        stack.connect_addr(),
        &raw::get_request(path),
    )
    .await
    .expect("TLS request");
    let (status, headers, body) = raw::parse_response(&bytes);
    let envelope: serde_json::Value = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "{path}: body is not an envelope ({e}): {}",
            String::from_utf8_lossy(&body)
        )
    });
    let request_id = headers
        .iter()
        .find(|(k, _)| k == "x-request-id")
        .map(|(_, v)| v.clone());
    assert_eq!(
        request_id.as_deref(),
        envelope["request_id"].as_str(),
        "{path}"
    );
    (status, envelope)
}

#[tokio::test(flavor = "multi_thread")]
async fn frontend_refuses_hostile_package_names_with_validation_error() {
    let stack = stack::plain();
    let long = "a".repeat(300);
    for name in HOSTILE_NAMES
        .iter()
        .copied()
        .chain([long.as_str(), "Hello", "a%2Fb"])
    {
        let (status, env) = raw_get(&stack, &format!("/api/v1/packages/{name}")).await;
        assert_eq!(status, 400, "{name}: {env}\n{}", stack.logs());
        assert_eq!(env["success"], false);
        assert_eq!(env["error"]["code"], "VALIDATION_ERROR", "{name}: {env}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn service_path_traversal_is_invalid_service_name() {
    let stack = stack::plain();
    for path in [
        "/api/v1/system/services/../../etc/passwd",
        "/api/v1/system/services/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/system/services/a/b",
        "/api/v1/system/services/-x",
        "/api/v1/system/services/",
    ] {
        let (status, env) = raw_get(&stack, path).await;
        assert_eq!(status, 400, "{path}: {env}");
        assert_eq!(
            env["error"]["code"], "INVALID_SERVICE_NAME",
            "{path}: {env}"
        );
    }
    let long = format!("/api/v1/system/services/{}", "s".repeat(300));
    let (status, env) = raw_get(&stack, &long).await;
    assert_eq!(
        (status, env["error"]["code"].as_str()),
        (400, Some("INVALID_SERVICE_NAME"))
    );
}

/// Hand-encodes `ClientMessage::Request { id, Operation::PackageDetail { name } }` with an arbitrary string,
/// which the typed API cannot produce: variant indices follow the enum declaration order.
fn raw_package_detail(name: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&1u32.to_le_bytes()); // ClientMessage::Request
    bytes.extend_from_slice(&7u64.to_le_bytes()); // id
    bytes.extend_from_slice(&4u32.to_le_bytes()); // Operation::PackageDetail
    bytes.extend_from_slice(&(name.len() as u64).to_le_bytes());
    bytes.extend_from_slice(name.as_bytes());
    bytes
}

#[test]
fn raw_encoding_matches_the_real_codec() {
    // Guards the hand encoding above: a valid name encodes identically through the codec.
    let msg = lpa_protocol::ClientMessage::Request {
        id: 7,
        operation: Operation::PackageDetail {
            name: "hello".parse().expect("valid"),
        },
    };
    assert_eq!(
        frame::encode(&msg, MAX_REQUEST_FRAME).expect("encode"),
        raw_package_detail("hello")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn helper_refuses_hostile_names_sent_straight_to_its_socket() {
    let stack = stack::plain();
    let socket = stack.helper_socket().to_path_buf();
    let long = "a".repeat(300);
    for name in HOSTILE_NAMES.iter().copied().chain([long.as_str()]) {
        let mut s = helper_socket::handshake(&socket).expect("handshake");
        helper_socket::send_raw(&mut s, &raw_package_detail(name)).expect("send");
        assert!(
            helper_socket::recv(&mut s).expect("read").is_none(),
            "{name}: the helper must close the connection without answering\n{}",
            stack.logs()
        );
    }
    // Well-formed but not Debian policy: decoded fine, refused by the apt grammar with a typed error.
    let mut s = helper_socket::handshake(&socket).expect("handshake");
    helper_socket::send_raw(&mut s, &raw_package_detail("Hello")).expect("send");
    match helper_socket::recv(&mut s).expect("read") {
        Some(ServerMessage::Response { result: Err(e), .. }) => {
            assert!(
                matches!(e, lpa_protocol::HelperError::Validation { .. }),
                "{e:?}"
            )
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    // And it keeps serving.
    let ok = helper_socket::call(&socket, Operation::Ping).expect("ping");
    assert!(
        matches!(ok, ServerMessage::Response { result: Ok(_), .. }),
        "{ok:?}"
    );
}
