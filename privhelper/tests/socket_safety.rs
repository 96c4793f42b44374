//! The real helper binary creates its socket safely: a symlink planted where the socket goes is replaced, not
//! followed (its target keeps mode and owner); the socket is born root:<frontend group> 0660; a socket
//! directory others can write is refused with a message naming it; a socket passed by systemd is still used.

mod support;

use std::ffi::OsStr;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;
use support::{Activation, FRONTEND_UID, Helper, run_helper_as};

fn stop(h: &mut Helper) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(h.pid()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(
        h.wait_exit(Duration::from_secs(10)).is_some(),
        "helper did not stop"
    );
}

fn assert_socket_root_frontend_0660(path: &Path) {
    let meta = std::fs::symlink_metadata(path).unwrap();
    assert!(
        meta.file_type().is_socket(),
        "{} is not a socket",
        path.display()
    );
    assert_eq!(meta.mode() & 0o7777, 0o660);
    assert_eq!((meta.uid(), meta.gid()), (0, FRONTEND_UID));
}

#[test]
fn a_symlink_planted_at_the_socket_path_is_replaced_not_followed() {
    let mut h = Helper::start();
    assert_socket_root_frontend_0660(&h.socket);
    stop(&mut h);

    // What a compromised frontend would aim at: a root-only file.
    let target = h.dir.path().join("precious");
    std::fs::write(&target, b"root only").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
    let _ = std::fs::remove_file(&h.socket);
    std::os::unix::fs::symlink(&target, &h.socket).unwrap();

    h.restart(); // waits until the new socket answers
    let _s = h.connect(); // and it speaks the protocol
    assert_socket_root_frontend_0660(&h.socket);
    let meta = std::fs::metadata(&target).unwrap();
    assert!(meta.file_type().is_file());
    assert_eq!(
        (meta.mode() & 0o7777, meta.uid(), meta.gid()),
        (0o600, 0, 0),
        "target changed"
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"root only");
    assert!(
        h.log_text()
            .contains("a symlink sits where the socket goes"),
        "{}",
        h.log_text()
    );
}

#[test]
fn a_socket_directory_others_can_write_is_refused() {
    let mut h = Helper::start();
    stop(&mut h);
    let run = h.socket.parent().unwrap().to_path_buf();
    // A clean stop removed the socket it bound.
    assert!(!h.socket.exists(), "the stopped helper left its socket");
    // The frontend's group may create entries: exactly what lets it plant a link.
    std::os::unix::fs::chown(&run, Some(0), Some(FRONTEND_UID)).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o775)).unwrap();
    let out = run_helper_as(0, &[OsStr::new("--config"), h.config.as_os_str()]);
    assert!(
        !out.status.success(),
        "the helper started in a group-writable directory"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&run.display().to_string()) && err.contains("writable only by root"),
        "{err}"
    );
    assert!(!h.socket.exists(), "a socket was bound anyway");

    // Positive control: the same directory made root-only again works.
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
    h.restart();
    assert_socket_root_frontend_0660(&h.socket);
}

#[test]
fn a_socket_passed_by_systemd_is_used_as_is() {
    let h = Helper::start_with(Activation::Systemd);
    let _s = h.connect();
    assert!(
        h.log_text().contains("SocketActivation"),
        "{}",
        h.log_text()
    );
    // The helper did not bind its configured path.
    assert!(!h.socket.with_file_name("helper.sock").exists());
}
