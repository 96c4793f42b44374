//! The pacman fixtures and sandbox, driven with the real pacman: install, publish v2 and list upgrades,
//! a failing post_install (exit 0, yet an error), a refused conflict, and the host left untouched.

use lpa_testkit::fixtures::apt::Snapshot;
use lpa_testkit::fixtures::pacman::{PROBE_FILE, PacmanFixtures, versions as v};
use lpa_testkit::sandbox::pacman::PacmanSandbox;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn v1_lists_every_base_package_and_v2_keeps_old_files_but_lists_updates() {
    let f = PacmanFixtures::get().unwrap();
    for (name, ver) in [
        ("hello", v::HELLO_V1),
        ("demo-app", v::DEMO_APP_V1),
        ("demo-probe", v::OTHERS),
    ] {
        assert!(f.package(Snapshot::V1, name, ver).is_file(), "{name}");
    }
    assert!(f.package(Snapshot::V2, "hello", v::HELLO_V1).is_file());
    assert!(
        f.package(Snapshot::V2, "demo-lib", v::DEMO_LIB_V2)
            .is_file()
    );
    assert!(f.repo(Snapshot::V2).join("demo.db").is_file());
}

#[test]
fn install_publish_and_list_upgrades_with_the_real_pacman() {
    let tmp = tempfile::tempdir().unwrap();
    let mut sb = PacmanSandbox::create(tmp.path(), Snapshot::V1, &["hello", "demo-app"]).unwrap();
    assert_eq!(sb.installed_version("hello").as_deref(), Some(v::HELLO_V1));
    assert_eq!(
        sb.installed_version("demo-lib").as_deref(),
        Some(v::DEMO_LIB_V1)
    );
    assert_eq!(sb.installed_version("demo-tool"), None);

    sb.publish(Snapshot::V2).unwrap();
    sb.pacman_checked(&["-Syy"]).unwrap();
    let out = sb.pacman(&["-Qu"]).unwrap();
    assert_eq!(
        text(&out.stdout),
        "demo-app 1.0-1 -> 1.1-1\ndemo-lib 1.0-1 -> 1.0.1-1\nhello 1.0-1 -> 1.1-1\n"
    );
    sb.pacman_checked(&["-Su"]).unwrap();
    assert_eq!(sb.installed_version("hello").as_deref(), Some(v::HELLO_V2));
    // Rollback from the file v2 kept.
    let old = sb.fixtures().package(Snapshot::V2, "hello", v::HELLO_V1);
    sb.pacman_checked(&["-U", old.to_str().unwrap()]).unwrap();
    assert_eq!(sb.installed_version("hello").as_deref(), Some(v::HELLO_V1));
}

#[test]
fn failing_post_install_exits_0_but_reports_the_error() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = PacmanSandbox::create(tmp.path(), Snapshot::V1, &[]).unwrap();
    let out = sb.pacman(&["-S", "--", "demo-broken"]).unwrap();
    assert!(out.status.success(), "gotcha P3");
    assert!(text(&out.stderr).contains("error: command failed to execute correctly"));
    assert!(text(&out.stdout).contains("demo-broken: failing on purpose"));
    let log = std::fs::read_to_string(sb.root().join("var/log/pacman.log")).unwrap();
    assert!(
        log.contains("[ALPM-SCRIPTLET] demo-broken: failing on purpose"),
        "{log}"
    );
}

#[test]
fn conflict_is_refused_with_noconfirm_and_nothing_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = PacmanSandbox::create(tmp.path(), Snapshot::V1, &["hello"]).unwrap();
    let out = sb.pacman(&["-S", "--", "demo-conflict"]).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("unresolvable package conflicts detected"));
    assert_eq!(sb.installed_version("hello").as_deref(), Some(v::HELLO_V1));
    assert_eq!(sb.installed_version("demo-conflict"), None);
}

#[test]
fn probe_records_what_its_scriptlet_sees_and_slow_takes_its_time() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = PacmanSandbox::create(tmp.path(), Snapshot::V1, &[]).unwrap();
    sb.pacman_checked(&["-S", "--", "demo-probe"]).unwrap();
    let status = std::fs::read_to_string(sb.root().join(PROBE_FILE)).unwrap();
    // The scriptlet runs chrooted into the root, where /proc is not mounted.
    assert!(
        status.starts_with("Name:") || status == "no /proc in the root\n",
        "{status}"
    );
    let started = std::time::Instant::now();
    sb.pacman_checked(&["-S", "--", "demo-slow"]).unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_secs(5));
}
