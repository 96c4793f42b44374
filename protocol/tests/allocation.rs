//! What decoding a hostile frame costs in memory, measured: a counting global allocator
//! (`stats_alloc`, which keeps the `unsafe` of `GlobalAlloc` out of this workspace) records every byte
//! allocated while one frame is decoded.
//!
//! What the measurements show, and these tests hold the decoder to:
//! - an announced length is never trusted for strings: bincode reads a string's bytes from the frame, so
//!   a length beyond the frame fails before anything is allocated;
//! - nor for sequences: serde's own `Vec` decoding would preallocate from the announced length (capped at
//!   1 MiB, `serde::de::size_hint::cautious`), so a frame of a few dozen bytes announcing 2^64 packages cost
//!   1 MiB — sixteen times the request limit — before the decoder noticed the frame was short (found by this
//!   file). Every list of a request type is now decoded by `lpa_protocol`'s `list` module, which grows only
//!   as elements arrive: such a frame costs nothing it does not carry
//!   (`a_hostile_sequence_length_costs_nothing_the_frame_does_not_carry`);
//! - what a frame does carry costs at most a small constant times its size (decoded values are larger than
//!   their encoding: a one-byte name is 9 bytes on the wire, a 24-byte `String` plus its byte in memory),
//!   so a full request frame stays under [`FULL_FRAME_BOUND`].
//!
//! The total (bytes allocated plus net growth by `realloc`) bounds the peak from above. The tests take
//! turns (one lock), so no other test's allocations are counted; the little the test harness allocates
//! meanwhile is inside the slack.

use lpa_protocol::frame::{self, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME};
use lpa_protocol::launcher::{AptTarget, Invocation, LauncherRequest, LauncherResponse};
use lpa_protocol::{
    Architecture, ClientMessage, Glob, Hello, InstallOptions, Operation, PackageName, PackageSpec,
    ServerMessage, Version,
};
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use std::sync::{Mutex, MutexGuard};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Allowed above the bound: error messages, the decoded value's own small boxes, the harness.
const SLACK: usize = 16 * 1024;

/// What decoding one small request frame (hostile lengths spliced into, random or mutated) may cost at most:
/// never more than a request frame's size, however large the lengths it announces.
const REQUEST_BOUND: usize = MAX_REQUEST_FRAME + SLACK;

/// What decoding one request frame filled to the limit with the smallest list elements may cost: memory per
/// wire byte of a decoded list of names, with the vector's growth, is below 8.
const FULL_FRAME_BOUND: usize = 8 * MAX_REQUEST_FRAME + SLACK;

static TURN: Mutex<()> = Mutex::new(());

fn turn() -> MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|p| p.into_inner())
}

/// Bytes allocated while `payload` is decoded as a `T` (the result included, then dropped).
fn cost<T: DeserializeOwned>(payload: &[u8], limit: usize) -> usize {
    let region = Region::new(GLOBAL);
    let decoded = frame::decode::<T>(payload, limit);
    let change = region.change();
    drop(decoded);
    change.bytes_allocated + usize::try_from(change.bytes_reallocated).unwrap_or(0)
}

fn name(s: &str) -> PackageName {
    PackageName::new(s).expect("valid")
}

fn apt(n: &str, v: Option<&str>) -> AptTarget {
    AptTarget {
        name: name(n),
        arch: Architecture::new("all").expect("valid"),
        version: v.map(|v| Version::new(v).expect("valid")),
    }
}

fn spec(n: &str, v: Option<&str>) -> PackageSpec {
    PackageSpec {
        name: name(n),
        version: v.map(|v| Version::new(v).expect("valid")),
    }
}

/// Requests a broker reads from the frontend: every length-carrying shape (strings, vectors, options).
fn client_messages() -> Vec<ClientMessage> {
    vec![
        ClientMessage::Hello(Hello::current()),
        ClientMessage::Request {
            id: 7,
            operation: Operation::Install {
                packages: vec![spec("hello", Some("1.0")), spec("demo-lib", None)],
                options: InstallOptions::default(),
            },
        },
        ClientMessage::Request {
            id: 8,
            operation: Operation::ApplyUpdates {
                selection: Some(vec![name("demo-app"), name("demo-tool")]),
                exclude: vec![Glob::new("linux-*").expect("valid")],
            },
        },
    ]
}

/// Requests a launcher reads from the broker.
fn launcher_requests() -> Vec<LauncherRequest> {
    vec![
        LauncherRequest::Exec {
            id: 1,
            invocation: Invocation::AptGetInstall {
                packages: vec![apt("hello", Some("1.0")), apt("demo-lib", None)],
                no_recommends: true,
                allow_downgrades: false,
                reinstall: false,
            },
        },
        LauncherRequest::Exec {
            id: 2,
            invocation: Invocation::PacmanSysUpgrade {
                ignore: vec![name("linux"), name("glibc")],
            },
        },
    ]
}

/// Answers the frontend reads from the broker and the broker from the launcher.
fn responses() -> (Vec<ServerMessage>, Vec<LauncherResponse>) {
    let server = vec![ServerMessage::CancelRefused { id: 3 }];
    let launcher = vec![
        LauncherResponse::Status {
            id: 1,
            line: "pmstatus:hello:50:Installing hello".into(),
        },
        LauncherResponse::Finished {
            id: 1,
            result: Ok(lpa_protocol::launcher::ExecOutput {
                program: "/usr/bin/apt-get".into(),
                exit_code: Some(0),
                stdout: "done".into(),
                stderr: String::new(),
                truncated: false,
            }),
        },
    ];
    (server, launcher)
}

/// Lengths a hostile peer would announce: huge, just above the limit, and large-but-plausible.
const HOSTILE_LENGTHS: [u64; 7] = [
    u64::MAX,
    1 << 40,
    1 << 32,
    (MAX_REQUEST_FRAME as u64) + 1,
    1 << 20,
    1 << 16,
    4096,
];

/// Every frame obtained from `payload` by writing a hostile length (u64, and u32 for enum tags) at every
/// offset.
fn with_hostile_lengths(payload: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    (0..payload.len()).flat_map(move |at| {
        HOSTILE_LENGTHS.iter().flat_map(move |&len| {
            let mut wide = payload.to_vec();
            let bytes = len.to_le_bytes();
            let end = (at + 8).min(wide.len());
            wide[at..end].copy_from_slice(&bytes[..end - at]);
            let mut narrow = payload.to_vec();
            let end = (at + 4).min(narrow.len());
            narrow[at..end].copy_from_slice(&bytes[..end - at]);
            [wide, narrow]
        })
    })
}

/// The largest cost of decoding any hostile variant of `messages` as `T`.
fn worst_case<T: serde::Serialize + DeserializeOwned>(messages: &[T], limit: usize) -> usize {
    let mut worst = 0;
    for msg in messages {
        let payload = frame::encode(msg, limit).expect("encodes");
        for hostile in with_hostile_lengths(&payload) {
            worst = worst.max(cost::<T>(&hostile, limit));
        }
    }
    worst
}

#[test]
fn the_counter_sees_what_a_decoder_allocates() {
    let _turn = turn();
    // A valid request close to the limit: the decoded names alone take about as much as the frame.
    let packages: Vec<PackageSpec> = (0..1000)
        .map(|i| spec(&format!("package-with-a-long-name-number-{i:05}"), None))
        .collect();
    let msg = ClientMessage::Request {
        id: 1,
        operation: Operation::Install {
            packages,
            options: InstallOptions::default(),
        },
    };
    let payload = frame::encode(&msg, MAX_REQUEST_FRAME).expect("fits");
    let spent = cost::<ClientMessage>(&payload, MAX_REQUEST_FRAME);
    assert!(spent >= 40_000, "only {spent} bytes counted");
}

#[test]
fn hostile_lengths_inside_requests_cost_at_most_a_request_frame() {
    let _turn = turn();
    let worst = worst_case(&client_messages(), MAX_REQUEST_FRAME);
    assert!(
        worst <= REQUEST_BOUND,
        "a frontend → broker frame cost {worst} bytes"
    );
    let worst = worst_case(&launcher_requests(), MAX_REQUEST_FRAME);
    assert!(
        worst <= REQUEST_BOUND,
        "a broker → launcher frame cost {worst} bytes"
    );
}

#[test]
fn a_hostile_sequence_length_costs_nothing_the_frame_does_not_carry() {
    let _turn = turn();
    // Request 1, Install, then a package count of 2^64 - 1 and nothing else: 24 bytes.
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&1u32.to_le_bytes());
    bytes.extend_from_slice(&1u64.to_le_bytes());
    let install = frame::encode(
        &Operation::Install {
            packages: vec![],
            options: InstallOptions::default(),
        },
        MAX_REQUEST_FRAME,
    )
    .expect("encodes");
    bytes.extend_from_slice(&install[..4]);
    bytes.extend_from_slice(&u64::MAX.to_le_bytes());
    assert!(frame::decode::<ClientMessage>(&bytes, MAX_REQUEST_FRAME).is_err());
    let spent = cost::<ClientMessage>(&bytes, MAX_REQUEST_FRAME);
    assert!(
        spent <= SLACK,
        "a {}-byte frame announcing 2^64 packages cost {spent} bytes",
        bytes.len()
    );
}

#[test]
fn a_request_frame_full_of_the_smallest_names_costs_a_small_multiple_of_its_size() {
    let _turn = turn();
    // As many one-letter names as fit in one broker → launcher frame (each is 9 bytes: length + letter).
    let request = |names: Vec<PackageName>| LauncherRequest::Exec {
        id: 1,
        invocation: Invocation::DnfUpgrade { names },
    };
    let empty = frame::encode(&request(Vec::new()), MAX_REQUEST_FRAME).expect("fits");
    let count = (MAX_REQUEST_FRAME - empty.len()) / 9;
    let req = request(vec![name("a"); count]);
    let bytes = frame::encode(&req, MAX_REQUEST_FRAME).expect("fits");
    assert!(bytes.len() > MAX_REQUEST_FRAME - 16, "{}", bytes.len());
    let spent = cost::<LauncherRequest>(&bytes, MAX_REQUEST_FRAME);
    assert!(
        spent <= FULL_FRAME_BOUND,
        "a full {}-byte frame cost {spent} bytes",
        bytes.len()
    );
}

#[test]
fn hostile_lengths_inside_responses_allocate_at_most_the_response_limit() {
    let _turn = turn();
    let bound = MAX_RESPONSE_FRAME + SLACK;
    let (server, launcher) = responses();
    let worst = worst_case(&server, MAX_RESPONSE_FRAME);
    assert!(
        worst <= bound,
        "a broker → frontend frame cost {worst} bytes"
    );
    let worst = worst_case(&launcher, MAX_RESPONSE_FRAME);
    assert!(
        worst <= bound,
        "a launcher → broker frame cost {worst} bytes"
    );
}

proptest! {
    #[test]
    fn random_request_frames_cost_at_most_the_request_bound(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096)
    ) {
        let _turn = turn();
        let bound = REQUEST_BOUND;
        let spent = cost::<ClientMessage>(&bytes, MAX_REQUEST_FRAME);
        prop_assert!(spent <= bound, "ClientMessage: {} bytes", spent);
        let spent = cost::<LauncherRequest>(&bytes, MAX_REQUEST_FRAME);
        prop_assert!(spent <= bound, "LauncherRequest: {} bytes", spent);
    }

    #[test]
    fn mutated_request_frames_cost_at_most_the_request_bound(
        which in 0usize..5,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let _turn = turn();
        let bound = REQUEST_BOUND;
        let clients = client_messages();
        let launchers = launcher_requests();
        let mut bytes = if which < clients.len() {
            frame::encode(&clients[which], MAX_REQUEST_FRAME).expect("encodes")
        } else {
            frame::encode(&launchers[which - clients.len()], MAX_REQUEST_FRAME).expect("encodes")
        };
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let spent = cost::<ClientMessage>(&bytes, MAX_REQUEST_FRAME);
        prop_assert!(spent <= bound, "ClientMessage: {} bytes", spent);
        let spent = cost::<LauncherRequest>(&bytes, MAX_REQUEST_FRAME);
        prop_assert!(spent <= bound, "LauncherRequest: {} bytes", spent);
    }
}
