//! The broker's conversation with a peer, against the real helper binary: handshake, operations,
//! validation, and what happens to connections that send bad frames.

mod support;

use lpa_protocol::frame::{self, MAX_REQUEST_FRAME};
use lpa_protocol::{
    ClientMessage, Hello, HelperError, Operation, Outcome, PackageName, RebootRequired,
    ServerMessage, ServiceName,
};
use support::*;

fn outcome(msg: ServerMessage, id: u64) -> Result<Outcome, HelperError> {
    match msg {
        ServerMessage::Response { id: got, result } => {
            assert_eq!(got, id);
            result
        }
        other => panic!("not a response: {other:?}"),
    }
}

#[test]
fn hello_then_list_installed_returns_the_installed_packages() {
    let h = Helper::start();
    let mut s = h.connect();
    let Ok(Outcome::Installed(list)) = outcome(request(&mut s, 1, Operation::ListInstalled), 1)
    else {
        panic!("no package list; log:\n{}", h.log_text());
    };
    let names: Vec<&str> = list.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["demo-app", "demo-hello"],
        "removed packages are not listed"
    );
    let app = &list[0];
    assert_eq!(app.version, "2.1-3");
    assert_eq!(app.architecture, "amd64");
    assert_eq!(
        app.dependencies,
        ["libc6", "demo-lib", "demo-hello", "demo-other"]
    );
    assert!(app.installed_at.is_some(), "from info/demo-app:amd64.list");
    let hello = &list[1];
    assert!(hello.held);
    assert_eq!(hello.size_bytes, Some(12 * 1024));
    assert_eq!(hello.description, "demo package demo-hello");
    // The same connection serves further requests, answered by id.
    assert_eq!(
        outcome(request(&mut s, 2, Operation::Ping), 2),
        Ok(Outcome::Pong)
    );
}

#[test]
fn protocol_version_mismatch_gets_hello_refused_then_close() {
    let h = Helper::start();
    let mut s = h.connect_raw();
    let hello = Hello {
        protocol_version: lpa_protocol::PROTOCOL_VERSION + 1,
        software_version: "future".into(),
    };
    match exchange(&mut s, &ClientMessage::Hello(hello)) {
        Some(ServerMessage::HelloRefused {
            protocol_version, ..
        }) => {
            assert_eq!(protocol_version, lpa_protocol::PROTOCOL_VERSION)
        }
        other => panic!("expected HelloRefused, got {other:?}"),
    }
    assert!(is_closed(&mut s));
}

#[test]
fn request_before_hello_closes_the_connection() {
    let h = Helper::start();
    let mut s = h.connect_raw();
    let req = ClientMessage::Request {
        id: 1,
        operation: Operation::Ping,
    };
    assert_eq!(exchange(&mut s, &req), None);
}

#[test]
fn invalid_names_close_the_connection_and_a_new_connection_still_works() {
    let h = Helper::start();
    let long = "x".repeat(300);
    for bad in [
        "-oAPT::Update::Pre-Invoke::=x",
        "foo;rm",
        "../x",
        long.as_str(),
    ] {
        let mut s = h.connect();
        send_payload(&mut s, &raw_package_detail(7, bad));
        assert!(is_closed(&mut s), "{bad:?} did not close the connection");
    }
    // The hand encoding itself is right: a valid name through the same path gets an answer.
    let mut s = h.connect();
    send_payload(&mut s, &raw_package_detail(8, "demo-hello"));
    assert!(matches!(
        read_message(&mut s),
        Some(ServerMessage::Response { id: 8, .. })
    ));
    let mut s = h.connect();
    assert_eq!(
        outcome(request(&mut s, 1, Operation::Ping), 1),
        Ok(Outcome::Pong)
    );
    assert!(
        h.log_text().contains("undecodable request"),
        "log:\n{}",
        h.log_text()
    );
}

#[test]
fn name_outside_the_debian_grammar_is_a_validation_error() {
    let h = Helper::start();
    let mut s = h.connect();
    let name = PackageName::new("Demo_Hello").unwrap(); // valid in the union grammar, not for apt
    let r = outcome(request(&mut s, 3, Operation::PackageDetail { name }), 3);
    assert!(matches!(r, Err(HelperError::Validation { .. })), "{r:?}");
}

#[test]
fn oversized_frame_closes_that_connection_only() {
    let h = Helper::start();
    let mut good = h.connect();
    let mut bad = h.connect();
    write_raw(&mut bad, &((MAX_REQUEST_FRAME as u32) + 1).to_be_bytes());
    assert!(is_closed(&mut bad));
    assert_eq!(
        outcome(request(&mut good, 5, Operation::Ping), 5),
        Ok(Outcome::Pong)
    );
    assert!(h.log_text().contains("bad frame"), "log:\n{}", h.log_text());
}

#[test]
fn garbage_closes_that_connection_and_the_helper_keeps_serving() {
    let h = Helper::start();
    let mut good = h.connect();
    // Deterministic pseudo-random bytes (xorshift), framed and unframed.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut garbage = vec![0u8; 512];
    for b in garbage.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let mut s = h.connect();
    send_payload(&mut s, &garbage);
    assert!(is_closed(&mut s));
    let mut s = h.connect_raw();
    write_raw(&mut s, &garbage);
    assert!(is_closed(&mut s));
    assert_eq!(
        outcome(request(&mut good, 6, Operation::Ping), 6),
        Ok(Outcome::Pong)
    );
    let mut fresh = h.connect();
    assert_eq!(
        outcome(request(&mut fresh, 1, Operation::Ping), 1),
        Ok(Outcome::Pong)
    );
}

#[test]
fn concurrent_requests_are_answered_by_id() {
    let h = Helper::start();
    let mut s = h.connect();
    for id in 10..20u64 {
        let op = if id % 2 == 0 {
            Operation::ListInstalled
        } else {
            Operation::Ping
        };
        let payload = frame::encode(
            &ClientMessage::Request { id, operation: op },
            MAX_REQUEST_FRAME,
        )
        .unwrap();
        send_payload(&mut s, &payload);
    }
    let mut ids: Vec<u64> = (0..10)
        .map(|_| match read_message(&mut s) {
            Some(ServerMessage::Response { id, result }) => {
                assert!(result.is_ok(), "{result:?}");
                id
            }
            other => panic!("{other:?}"),
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (10..20).collect::<Vec<_>>());
}

#[test]
fn system_info_reports_the_package_roots_os_release() {
    let h = Helper::start();
    let mut s = h.connect();
    let Ok(Outcome::SystemInfo(info)) = outcome(request(&mut s, 1, Operation::SystemInfo), 1)
    else {
        panic!("no system info; log:\n{}", h.log_text());
    };
    assert_eq!(info.os.id, "demo");
    assert_eq!(info.os.id_like, ["debian"]);
    assert_eq!(info.os.name, "Demo GNU/Linux");
    assert_eq!(info.os.version.as_deref(), Some("12"));
    assert_eq!(info.package_manager, lpa_protocol::Backend::Apt);
    assert!(!info.kernel.is_empty() && !info.architecture.is_empty() && info.uptime_seconds > 0);
    assert!(matches!(
        info.reboot_required,
        RebootRequired::Unknown { .. }
    ));
    std::fs::create_dir_all(h.root.join("run")).unwrap();
    std::fs::write(h.root.join("run/reboot-required"), "").unwrap();
    let Ok(Outcome::SystemInfo(info)) = outcome(request(&mut s, 2, Operation::SystemInfo), 2)
    else {
        panic!("no system info");
    };
    assert!(matches!(info.reboot_required, RebootRequired::Yes { .. }));
}

#[test]
fn service_status_reflects_the_hosts_service_manager() {
    let h = Helper::start();
    let mut s = h.connect();
    let name = ServiceName::new("lpa-no-such-unit-xyz").unwrap();
    let r = outcome(request(&mut s, 1, Operation::ServiceStatus { name }), 1);
    let has_manager = std::path::Path::new("/run/systemd/system").is_dir()
        || std::path::Path::new("/run/openrc").is_dir();
    if has_manager {
        assert!(
            matches!(r, Err(HelperError::ServiceNotFound { .. })),
            "{r:?}"
        );
    } else {
        assert!(
            matches!(r, Err(HelperError::ServiceManagerUnavailable { .. })),
            "{r:?}"
        );
    }
}

#[test]
fn package_detail_uses_the_database_and_apt_cache_through_the_launcher() {
    let h = Helper::start();
    let mut s = h.connect();
    let name = PackageName::new("demo-hello").unwrap();
    let r = outcome(request(&mut s, 1, Operation::PackageDetail { name }), 1);
    let Ok(Outcome::PackageDetail(d)) = r else {
        panic!("{r:?}; log:\n{}", h.log_text());
    };
    let installed = d.installed.expect("installed record");
    assert_eq!(installed.version, "1.0");
    // With no repositories, apt's candidate is the installed version from the status file.
    if let Some(c) = d.candidate {
        assert_eq!(c.version, "1.0");
    }
    let name = PackageName::new("demo-not-there").unwrap();
    let r = outcome(request(&mut s, 2, Operation::PackageDetail { name }), 2);
    assert!(
        matches!(r, Err(HelperError::PackageNotFound { .. })),
        "{r:?}; log:\n{}",
        h.log_text()
    );
    assert!(
        h.log_text().contains("apt_cache_show"),
        "the launcher ran apt-cache"
    );
}

#[test]
fn list_upgradable_runs_the_simulation_and_reports_apt_failures() {
    let h = Helper::start();
    let mut s = h.connect();
    // The hand-written database has unmet dependencies (demo-lib, libc6 are not installed): apt-get
    // refuses with exit code 100, which must come back as a typed "needs repair" naming the problem
    // (issue 11), not as an empty list.
    let r = outcome(request(&mut s, 1, Operation::ListUpgradable), 1);
    match r {
        Err(HelperError::NeedsRepair { message }) => {
            assert!(message.contains("unmet dependencies"), "{message}");
            assert!(message.contains("demo-lib"), "{message}");
        }
        other => panic!("{other:?}; log:\n{}", h.log_text()),
    }
    // A consistent database (dpkg replaces the file by rename) and no repositories: nothing to upgrade.
    let tmp = h.root.join("var/lib/dpkg/status-new");
    std::fs::write(&tmp, &STATUS[..STATUS.find("\n\n").unwrap() + 1]).unwrap();
    std::fs::rename(&tmp, h.root.join("var/lib/dpkg/status")).unwrap();
    let r = outcome(request(&mut s, 2, Operation::ListUpgradable), 2);
    assert_eq!(r, Ok(Outcome::Upgradable(vec![])), "log:\n{}", h.log_text());
    assert!(h.log_text().contains("apt_simulate_dist_upgrade"));
}
