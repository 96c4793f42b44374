//! `linux-patch-api-helper --check-config` on the real binary: 0 and an "ok" line for a configuration the
//! helper starts with; 1 with one `error:` line per problem, each naming the key or path, for one it would
//! refuse — without binding anything.

mod support;

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use support::{Helper, run_helper_as};

fn check(config: &Path) -> (bool, String, String) {
    let out = run_helper_as(
        0,
        &[
            OsStr::new("--config"),
            config.as_os_str(),
            OsStr::new("--check-config"),
        ],
    );
    (
        out.status.code() == Some(0),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_good_configuration_passes_and_every_problem_of_a_bad_one_is_named() {
    let h = Helper::start();
    let (ok, stdout, stderr) = check(&h.config);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("ok (backend apt") && stdout.contains("exists, root-only"),
        "{stdout}"
    );

    // Three problems at once: a missing package root, a missing apt config file, a socket directory the
    // frontend's group may write to. All are reported, not only the first.
    let text = std::fs::read_to_string(&h.config).unwrap();
    let root = h.root.display().to_string();
    let bad_dir = h.dir.path().join("open-run");
    std::fs::create_dir(&bad_dir).unwrap();
    std::fs::set_permissions(&bad_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let bad = text
        .replace(
            &format!("package_root: {root}"),
            "package_root: /nonexistent/root",
        )
        .replace(
            &h.socket.display().to_string(),
            &bad_dir.join("helper.sock").display().to_string(),
        )
        .replace(
            &h.dir.path().join("apt.conf").display().to_string(),
            "/nonexistent/apt.conf",
        );
    assert_ne!(bad, text);
    let bad_config = h.dir.path().join("bad.yaml");
    std::fs::write(&bad_config, bad).unwrap();
    let out = run_helper_as(
        0,
        &[
            OsStr::new("--config"),
            bad_config.as_os_str(),
            OsStr::new("--check-config"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "`package_root`: /nonexistent/root is not a directory",
        "`apt.config_file`: /nonexistent/apt.conf does not exist",
        "`socket.path`",
        "writable only by root",
        "problem(s)",
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
    assert!(
        !bad_dir.join("helper.sock").exists(),
        "--check-config bound a socket"
    );

    // Files that exist but others may write: helper.yaml itself and the apt configuration it names (apt runs
    // hooks from it as root). Both are named, each with its fix, in one run.
    let apt_conf = h.dir.path().join("apt.conf");
    let writable = h.dir.path().join("writable.yaml");
    std::fs::write(&writable, &text).unwrap();
    for file in [&writable, &apt_conf] {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o664)).unwrap();
    }
    let (ok, _, stderr) = check(&writable);
    assert!(!ok, "{stderr}");
    for needle in [
        format!("error: {} must be owned by root", writable.display()),
        format!(
            "`apt.config_file`: {} must be owned by root",
            apt_conf.display()
        ),
        "chmod go-w".to_owned(),
        "2 problem(s)".to_owned(),
    ] {
        assert!(stderr.contains(&needle), "missing {needle:?} in:\n{stderr}");
    }
    std::fs::set_permissions(&apt_conf, std::fs::Permissions::from_mode(0o644)).unwrap();

    // An unknown key (the helper refuses those at start) is an error naming the key.
    let unknown = h.dir.path().join("unknown.yaml");
    std::fs::write(&unknown, format!("{text}frontend_usr: 61001\n")).unwrap();
    let (ok, _, stderr) = check(&unknown);
    assert!(!ok);
    assert!(stderr.contains("frontend_usr"), "{stderr}");
}
