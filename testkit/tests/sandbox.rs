//! Sandbox roots driven by the real apt-get and dpkg, and proof that the host's package state is untouched.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::time::Instant;

use lpa_testkit::bulk::{bulk_package_version, write_dpkg_status};
use lpa_testkit::fixtures::apt::{Snapshot, versions as v};
use lpa_testkit::sandbox::AptSandbox;

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// `Inst` lines of `apt-get -s dist-upgrade`.
fn simulated_upgrades(sandbox: &AptSandbox) -> Vec<String> {
    let out = sandbox.apt_get(&["-s", "dist-upgrade"]).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("Inst "))
        .map(str::to_owned)
        .collect()
}

fn sha256_of(path: &Path) -> Option<Vec<u8>> {
    fs::read(path).ok().map(|bytes| {
        ring::digest::digest(&ring::digest::SHA256, &bytes)
            .as_ref()
            .to_vec()
    })
}

#[test]
fn preinstalled_packages_are_at_their_v1_versions_and_others_absent() {
    let tmp = tempdir();
    let sandbox = AptSandbox::create(tmp.path(), Snapshot::V1, &["demo-lib", "demo-app"]).unwrap();
    assert_eq!(
        sandbox.installed_version("demo-lib").as_deref(),
        Some(v::DEMO_LIB_V1)
    );
    assert_eq!(
        sandbox.installed_version("demo-app").as_deref(),
        Some(v::DEMO_APP_V1)
    );
    assert_eq!(sandbox.installed_version("hello"), None);
    let payload = sandbox.root().join("usr/share/demo-app/VERSION");
    assert_eq!(fs::read_to_string(payload).unwrap().trim(), v::DEMO_APP_V1);
    assert!(simulated_upgrades(&sandbox).is_empty());
}

#[test]
fn publishing_v2_offers_app_update_and_lib_security_update_from_bookworm_security() {
    let tmp = tempdir();
    let mut sandbox =
        AptSandbox::create(tmp.path(), Snapshot::V1, &["demo-lib", "demo-app"]).unwrap();
    sandbox.publish(Snapshot::V2).unwrap();
    assert_eq!(sandbox.snapshot(), Snapshot::V2);
    let inst = simulated_upgrades(&sandbox);
    assert_eq!(inst.len(), 2, "{inst:#?}");
    let app = inst
        .iter()
        .find(|l| l.starts_with("Inst demo-app "))
        .expect("demo-app upgrade");
    assert!(app.contains(&format!("({} ", v::DEMO_APP_V2)), "{app}");
    assert!(!app.contains("bookworm-security"), "{app}");
    let lib = inst
        .iter()
        .find(|l| l.starts_with("Inst demo-lib "))
        .expect("demo-lib upgrade");
    assert!(
        lib.contains(&format!("({} ", v::DEMO_LIB_SECURITY)),
        "{lib}"
    );
    assert!(lib.contains("bookworm-security"), "{lib}");
    assert!(lib.contains("Debian-Security"), "{lib}");
}

#[test]
fn upgrade_then_rollback_to_the_old_version_works_on_v2() {
    let tmp = tempdir();
    let mut sandbox = AptSandbox::create(tmp.path(), Snapshot::V1, &["hello"]).unwrap();
    sandbox.publish(Snapshot::V2).unwrap();
    sandbox
        .apt_get_checked(&["install", "-y", "hello"])
        .unwrap();
    assert_eq!(
        sandbox.installed_version("hello").as_deref(),
        Some(v::HELLO_V2)
    );
    let old = format!("hello={}", v::HELLO_V1);
    sandbox
        .apt_get_checked(&["install", "-y", "--allow-downgrades", &old])
        .unwrap();
    assert_eq!(
        sandbox.installed_version("hello").as_deref(),
        Some(v::HELLO_V1)
    );
}

#[test]
fn conflicting_package_is_refused_with_no_remove() {
    let tmp = tempdir();
    let sandbox = AptSandbox::create(tmp.path(), Snapshot::V1, &["hello"]).unwrap();
    let out = sandbox
        .apt_get(&["install", "-y", "--no-remove", "demo-conflict"])
        .unwrap();
    assert_eq!(out.status.code(), Some(100));
    assert_eq!(
        sandbox.installed_version("hello").as_deref(),
        Some(v::HELLO_V1)
    );
    assert_eq!(sandbox.installed_version("demo-conflict"), None);
}

#[test]
fn failing_postinst_leaves_demo_broken_half_configured() {
    let tmp = tempdir();
    let sandbox = AptSandbox::create(tmp.path(), Snapshot::V1, &[]).unwrap();
    let out = sandbox.apt_get(&["install", "-y", "demo-broken"]).unwrap();
    assert_eq!(out.status.code(), Some(100));
    let entry = sandbox.dpkg_entry("demo-broken").unwrap().expect("entry");
    assert_eq!(entry.status, "install ok half-configured");
    assert_eq!(sandbox.installed_version("demo-broken"), None);
}

#[test]
fn demo_slow_postinst_takes_five_seconds_and_succeeds() {
    let tmp = tempdir();
    let sandbox = AptSandbox::create(tmp.path(), Snapshot::V1, &[]).unwrap();
    let started = Instant::now();
    sandbox
        .apt_get_checked(&["install", "-y", "demo-slow"])
        .unwrap();
    assert!(
        started.elapsed().as_secs_f64() >= 5.0,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        sandbox.installed_version("demo-slow").as_deref(),
        Some(v::DEMO_SLOW)
    );
}

#[test]
fn sandbox_layout_is_traversable_and_keeps_apt_conf_outside_the_root() {
    let tmp = tempdir();
    let sandbox = AptSandbox::create(tmp.path(), Snapshot::V1, &[]).unwrap();
    for dir in [
        tmp.path(),
        sandbox.root(),
        &sandbox.root().join("var/lib/dpkg"),
    ] {
        assert_eq!(
            fs::metadata(dir).unwrap().mode() & 0o777,
            0o755,
            "{}",
            dir.display()
        );
    }
    assert!(!sandbox.apt_config_path().starts_with(sandbox.root()));
    assert!(!sandbox.root().join("etc/apt/apt.conf").exists());
    let os_release = fs::read_to_string(sandbox.root().join("etc/os-release")).unwrap();
    assert!(os_release.contains("ID="), "{os_release}");
    let sh = fs::read_link(sandbox.root().join("bin/sh")).unwrap();
    assert_eq!(sh, Path::new("busybox"));
    let null = fs::metadata(sandbox.root().join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device() || null.is_file());
}

#[test]
fn bulk_database_of_3000_packages_is_consistent_for_dpkg_and_apt() {
    let tmp = tempdir();
    let sandbox = AptSandbox::create(tmp.path(), Snapshot::V1, &["hello"]).unwrap();
    write_dpkg_status(sandbox.root(), 3000).unwrap();
    let tools = lpa_testkit::prereq::tools().unwrap();
    let out = sandbox
        .command(&tools.dpkg_query)
        .arg(format!("--root={}", sandbox.root().display()))
        .args(["-W", "-f=${Package} ${db:Status-Abbrev}\\n"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8(out.stdout).unwrap();
    assert_eq!(listing.lines().count(), 3001);
    assert!(
        listing.lines().all(|l| l.ends_with(" ii ")),
        "{listing:.300}"
    );
    sandbox.apt_get_checked(&["check"]).unwrap();
    assert_eq!(
        sandbox.installed_version("bulk-pkg-02999"),
        Some(bulk_package_version(2999))
    );
    assert_eq!(
        sandbox.installed_version("hello").as_deref(),
        Some(v::HELLO_V1)
    );
}

#[test]
fn host_package_state_is_unchanged_by_sandbox_work() {
    let watched = [
        "/var/lib/dpkg/status",
        "/var/log/dpkg.log",
        "/etc/apt/sources.list",
    ];
    let before: Vec<_> = watched.iter().map(|p| sha256_of(Path::new(p))).collect();
    let host_info_before = fs::read_dir("/var/lib/dpkg/info").map(|d| d.count()).ok();

    let tmp = tempdir();
    let mut sandbox =
        AptSandbox::create(tmp.path(), Snapshot::V1, &["demo-lib", "demo-app", "hello"]).unwrap();
    sandbox.publish(Snapshot::V2).unwrap();
    sandbox.apt_get_checked(&["dist-upgrade", "-y"]).unwrap();
    let _ = sandbox.apt_get(&["install", "-y", "demo-broken"]).unwrap();
    sandbox
        .apt_get_checked(&["purge", "-y", "demo-broken"])
        .unwrap();
    assert_eq!(
        sandbox.installed_version("demo-lib").as_deref(),
        Some(v::DEMO_LIB_SECURITY)
    );

    let after: Vec<_> = watched.iter().map(|p| sha256_of(Path::new(p))).collect();
    assert_eq!(before, after, "host files changed: {watched:?}");
    assert_eq!(
        fs::read_dir("/var/lib/dpkg/info").map(|d| d.count()).ok(),
        host_info_before
    );
    for name in ["hello", "demo-lib", "demo-app"] {
        assert!(
            !Path::new("/usr/share").join(name).join("VERSION").exists(),
            "{name} leaked to the host"
        );
    }
    assert!(sandbox.root().join("var/log/dpkg.log").is_file());
}

#[test]
fn creating_a_sandbox_again_in_the_same_directory_starts_from_scratch() {
    let tmp = tempdir();
    let first = AptSandbox::create(tmp.path(), Snapshot::V1, &["hello"]).unwrap();
    assert_eq!(
        first.installed_version("hello").as_deref(),
        Some(v::HELLO_V1)
    );
    drop(first);
    let second = AptSandbox::create(tmp.path(), Snapshot::V2, &["demo-tool"]).unwrap();
    assert_eq!(second.installed_version("hello"), None);
    assert_eq!(
        second.installed_version("demo-tool").as_deref(),
        Some(v::DEMO_TOOL_V2)
    );
}
