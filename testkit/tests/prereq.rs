//! The Debian tools the kit needs are present on the machine that runs the tests.

use lpa_testkit::prereq;

#[test]
fn every_needed_tool_is_installed_and_busybox_is_static() {
    let tools = prereq::check().unwrap_or_else(|missing| panic!("{missing}"));
    for path in [
        &tools.apt_get,
        &tools.apt_ftparchive,
        &tools.dpkg_deb,
        &tools.dpkg_query,
    ] {
        assert!(path.is_absolute() && path.is_file(), "{}", path.display());
    }
    assert!(prereq::is_static_executable(&tools.busybox));
}
