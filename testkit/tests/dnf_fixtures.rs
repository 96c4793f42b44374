//! Real dnf and rpm on the dnf fixtures: the behaviours the dnf backend relies on, observed directly.
//!
//! These runs are also where the recorded outputs of the helper's dnf parser tests come from: with
//! `LPA_RECORD_DNF=<dir>` set, each run is written to `<dir>/<name>.txt` as `rc=N`, `--- stdout`,
//! `--- stderr` (the format of `privhelper/tests/data/apt-change/`). The query formats below must equal the
//! helper's (`privhelper/src/backend/dnf/query.rs`); the recorder writes them next to the outputs, and a helper
//! unit test compares them.

use std::path::Path;
use std::process::Output;

use lpa_testkit::fixtures::apt::Snapshot;
use lpa_testkit::fixtures::dnf::{DnfFixtures, versions as v};
use lpa_testkit::sandbox::dnf::DnfSandbox;

/// `rpm -qa --qf` format of the helper's installed list.
const INSTALLED_QF: &str = "@@pkg\\nname=%{NAME}\\nepoch=%{EPOCH}\\nversion=%{VERSION}\\nrelease=%{RELEASE}\\narch=%{ARCH}\\nsummary=%{SUMMARY}\\nsize=%{SIZE}\\ninstalltime=%{INSTALLTIME}\\nlicense=%{LICENSE}\\nurl=%{URL}\\npackager=%{PACKAGER}\\nsourcerpm=%{SOURCERPM}\\n[requires=%{REQUIRENAME}\\n]";
/// `dnf repoquery --upgrades --qf` format of the helper's upgradable list.
const UPGRADES_QF: &str = "@@upgrade %{name} %{epoch} %{version} %{release} %{arch} %{repoid}";
/// `dnf repoquery --qf` format of the helper's candidate detail.
const CANDIDATE_QF: &str = "@@pkg\\nname=%{name}\\nepoch=%{epoch}\\nversion=%{version}\\nrelease=%{release}\\narch=%{arch}\\nsummary=%{summary}\\nsize=%{installsize}\\nlicense=%{license}\\nurl=%{url}\\npackager=%{packager}\\nsourcerpm=%{sourcerpm}\\nrepo=%{repoid}\\n@@requires\\n%{requires}";

fn record(name: &str, out: &Output) {
    let Some(dir) = std::env::var_os("LPA_RECORD_DNF") else {
        return;
    };
    let text = format!(
        "rc={}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(Path::new(&dir).join(format!("{name}.txt")), text).unwrap();
}

fn record_formats() {
    if let Some(dir) = std::env::var_os("LPA_RECORD_DNF") {
        let text = format!("{INSTALLED_QF}\n{UPGRADES_QF}\n{CANDIDATE_QF}\n");
        std::fs::write(Path::new(&dir).join("formats.txt"), text).unwrap();
    }
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn sandbox(snapshot: Snapshot, preinstall: &[&str]) -> (tempfile::TempDir, DnfSandbox) {
    let tmp = tempfile::tempdir().unwrap();
    let sb = DnfSandbox::create(&tmp.path().join("sb"), snapshot, preinstall)
        .unwrap_or_else(|e| panic!("{e}"));
    (tmp, sb)
}

#[test]
fn install_list_publish_and_upgrade_with_real_dnf() {
    record_formats();
    let (_tmp, mut sb) = sandbox(Snapshot::V1, &[]);
    assert_eq!(sb.installed_version("hello"), None);
    let out = sb.dnf(&["install", "--", "hello"]).unwrap();
    record("install-hello", &out);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        sb.installed_version("hello").as_deref(),
        Some(v::HELLO_V1_EVR)
    );
    assert!(sb.root().join("var/lib/rpm/rpmdb.sqlite").is_file());
    assert!(
        !Path::new("/root/.rpmdb").exists(),
        "the host's ~/.rpmdb was created"
    );

    let out = sb
        .dnf(&[
            "install",
            "--",
            "demo-app",
            "demo-odd.x86_64",
            "demo-odd.i686",
        ])
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        sb.installed_version("demo-lib").as_deref(),
        Some(v::DEMO_LIB_V1_EVR)
    );
    let out = sb.rpm(&["-qa", "--qf", INSTALLED_QF]).unwrap();
    record("rpm-qa", &out);
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("name=demo-odd\nepoch=2\nversion=1.0~rc1\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("arch=i686") && stdout.contains("requires=demo-lib"),
        "{stdout}"
    );

    let none = sb
        .dnf(&[
            "-q",
            "repoquery",
            "--upgrades",
            "--latest-limit=1",
            "--qf",
            UPGRADES_QF,
        ])
        .unwrap();
    record("repoquery-upgrades-none", &none);
    assert!(none.status.success() && none.stdout.is_empty(), "{none:?}");
    let out = sb.dnf(&["check-update"]).unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    sb.publish(Snapshot::V2).unwrap();
    let out = sb.dnf(&["check-update"]).unwrap();
    assert_eq!(out.status.code(), Some(100), "{out:?}");
    let out = sb
        .dnf(&[
            "-q",
            "repoquery",
            "--upgrades",
            "--latest-limit=1",
            "--qf",
            UPGRADES_QF,
        ])
        .unwrap();
    record("repoquery-upgrades", &out);
    let (stdout, _) = text(&out);
    for line in [
        "@@upgrade hello 0 1.1 1 noarch demo",
        "@@upgrade demo-lib 0 1.0.1 1 noarch demo",
        "@@upgrade demo-odd 2 1.0 1.fc39 i686 demo",
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "{line} missing:\n{stdout}"
        );
    }
    let out = sb.dnf(&["-q", "updateinfo", "list", "--updates"]).unwrap();
    record("updateinfo-list", &out);
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("DEMO-2026-0001 Important/Sec. demo-lib-1.0.1-1.noarch"),
        "{stdout}"
    );
    let out = sb.dnf(&["-q", "updateinfo", "info", "--updates"]).unwrap();
    record("updateinfo-info", &out);
    assert!(text(&out).0.contains("CVE-2026-0002"), "{out:?}");
    let out = sb
        .dnf(&[
            "-q",
            "repoquery",
            "--available",
            "--latest-limit=1",
            "--qf",
            CANDIDATE_QF,
            "--",
            "demo-app",
        ])
        .unwrap();
    record("repoquery-candidate-demo-app", &out);
    assert!(text(&out).0.contains("demo-lib >= 1.0"), "{out:?}");
    let out = sb
        .dnf(&[
            "-q",
            "repoquery",
            "--available",
            "--latest-limit=1",
            "--qf",
            CANDIDATE_QF,
            "--",
            "nosuch",
        ])
        .unwrap();
    record("repoquery-candidate-nosuch", &out);
    assert!(out.status.success() && out.stdout.is_empty(), "{out:?}");

    let out = sb.dnf(&["upgrade", "--", "hello"]).unwrap();
    record("upgrade-hello", &out);
    assert_eq!(
        sb.installed_version("hello").as_deref(),
        Some(v::HELLO_V2_EVR)
    );
    // dnf 4 `install` of an older EVR silently downgrades: the helper must refuse it itself.
    let out = sb.dnf(&["install", "--", "hello-1.0-1"]).unwrap();
    record("install-older", &out);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        sb.installed_version("hello").as_deref(),
        Some(v::HELLO_V1_EVR)
    );
    let out = sb.dnf(&["upgrade"]).unwrap();
    record("upgrade-all", &out);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        sb.installed_version("demo-lib").as_deref(),
        Some(v::DEMO_LIB_SECURITY_EVR)
    );
    assert_eq!(
        sb.installed_version("demo-odd").as_deref(),
        Some(v::DEMO_ODD_V2_EVR)
    );
    let out = sb.dnf(&["reinstall", "--", "hello"]).unwrap();
    record("reinstall-hello", &out);
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn failing_post_install_script_exits_zero_and_says_so() {
    let (_tmp, sb) = sandbox(Snapshot::V1, &[]);
    let out = sb.dnf(&["install", "--", "demo-broken"]).unwrap();
    record("broken", &out);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "gotcha D4 changed: {out:?}");
    assert!(
        stdout.contains("warning: %post(demo-broken-1.0-1.noarch) scriptlet failed, exit status 1"),
        "{stdout}"
    );
    assert!(
        stderr.contains("Error in POSTIN scriptlet in rpm package demo-broken"),
        "{stderr}"
    );
    assert_eq!(
        sb.installed_version("demo-broken").as_deref(),
        Some("1.0-1")
    );
}

#[test]
fn conflict_unknown_package_and_remove() {
    let (_tmp, sb) = sandbox(Snapshot::V1, &["hello", "demo-tool"]);
    let out = sb.dnf(&["install", "--", "demo-conflict"]).unwrap();
    record("conflict", &out);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(text(&out).1.contains("conflicting requests"), "{out:?}");
    assert_eq!(sb.installed_version("demo-conflict"), None);

    let out = sb.dnf(&["install", "--", "nosuch"]).unwrap();
    record("unknown", &out);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        text(&out).1.contains("Unable to find a match: nosuch"),
        "{out:?}"
    );
    let out = sb.dnf(&["install", "--", "hello-9.9-1"]).unwrap();
    record("badversion", &out);
    assert_eq!(out.status.code(), Some(1), "{out:?}");

    let out = sb
        .dnf(&["remove", "--noautoremove", "--", "demo-tool"])
        .unwrap();
    record("remove-tool", &out);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(sb.installed_version("demo-tool"), None);
    assert_eq!(
        sb.installed_version("hello").as_deref(),
        Some(v::HELLO_V1_EVR)
    );
}

#[test]
fn yum_is_dnf_through_a_symlink() {
    let (_tmp, sb) = sandbox(Snapshot::V1, &[]);
    let out = sb.yum(&["install", "--", "hello"]).unwrap();
    record("yum-install-hello", &out);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        sb.installed_version("hello").as_deref(),
        Some(v::HELLO_V1_EVR)
    );
}

#[test]
fn refresh_failures_and_signature_checks() {
    let (_tmp, sb) = sandbox(Snapshot::V1, &["hello"]);
    let out = sb
        .dnf(&[
            "makecache",
            "--setopt=demo.baseurl=file:///nonexistent/lpa-repo",
        ])
        .unwrap();
    record("makecache-missing", &out);
    assert_ne!(out.status.code(), Some(0), "{out:?}");
    let out = sb.dnf(&["makecache", "--refresh"]).unwrap();
    record("makecache", &out);
    assert!(out.status.success(), "{out:?}");
    // The fixtures are unsigned: turning signature checking on (as a real host has it) must refuse them.
    let out = sb
        .dnf(&["install", "--setopt=demo.gpgcheck=1", "--", "demo-tool"])
        .unwrap();
    record("unsigned", &out);
    assert_ne!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(sb.installed_version("demo-tool"), None);
}

#[test]
fn a_second_run_while_one_holds_the_rpmdb_lock_fails_at_once_with_exit_on_lock() {
    let (_tmp, sb) = sandbox(Snapshot::V1, &[]);
    std::thread::scope(|s| {
        let slow = s.spawn(|| sb.dnf(&["install", "--", "demo-slow"]).unwrap());
        // demo-slow's %post sleeps 5 s inside the transaction.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            std::thread::sleep(std::time::Duration::from_millis(300));
            let out = sb
                .dnf(&["--setopt=exit_on_lock=True", "install", "--", "hello"])
                .unwrap();
            if !out.status.success() {
                record("lock", &out);
                assert_eq!(out.status.code(), Some(200), "{out:?}");
                break;
            }
            assert!(std::time::Instant::now() < deadline, "never saw the lock");
            // hello got installed before the lock was taken: remove it and try again.
            sb.dnf(&["remove", "--", "hello"]).unwrap();
        }
        assert!(slow.join().unwrap().status.success());
    });
}

#[test]
fn probe_records_what_a_scriptlet_sees() {
    let (_tmp, sb) = sandbox(Snapshot::V1, &["demo-probe"]);
    let status = std::fs::read_to_string(sb.root().join("var/lib/demo-probe/status")).unwrap();
    assert!(!status.is_empty());
    let _ = DnfFixtures::get().unwrap();
}
