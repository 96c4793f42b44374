//! The rotating mirror really reproduces "the repository changed between refresh and download" for apt.

use lpa_testkit::fixtures::apt::{Snapshot, Suite, versions};
use lpa_testkit::mirror::{RotatingMirror, STALE_PACKAGE};
use lpa_testkit::sandbox::AptSandbox;

#[test]
fn download_after_a_stale_refresh_404s_and_a_fresh_refresh_fixes_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sandbox =
        AptSandbox::create(&dir.path().join("sandbox"), Snapshot::V1, &[STALE_PACKAGE])
            .expect("sandbox");
    let mirror = RotatingMirror::start(sandbox.fixtures(), dir.path()).expect("mirror");
    let security = sandbox.fixtures().repo(Snapshot::V2, Suite::Security);
    sandbox
        .set_sources_list(&format!(
            "{}deb [trusted=yes] file:{} ./\n",
            mirror.sources_line(),
            security.display()
        ))
        .expect("sources");

    sandbox
        .apt_get_checked(&["update"])
        .expect("refresh from the stale generation");
    let failed = sandbox
        .apt_get(&["install", "-y", "--only-upgrade", STALE_PACKAGE])
        .expect("apt-get runs");
    assert!(
        !failed.status.success(),
        "download of the vanished file must fail"
    );
    assert!(
        String::from_utf8_lossy(&failed.stderr).contains("404"),
        "{}",
        String::from_utf8_lossy(&failed.stderr)
    );
    assert!(
        mirror.switched(),
        "the 404 switches the mirror: {:?}",
        mirror.requests()
    );
    assert_eq!(
        sandbox.installed_version(STALE_PACKAGE).as_deref(),
        Some(versions::DEMO_TOOL_V1)
    );

    sandbox
        .apt_get_checked(&["update"])
        .expect("refresh from the current generation");
    sandbox
        .apt_get_checked(&["install", "-y", "--only-upgrade", STALE_PACKAGE])
        .expect("retry succeeds");
    assert_eq!(
        sandbox.installed_version(STALE_PACKAGE).as_deref(),
        Some(versions::DEMO_TOOL_V2)
    );
}
