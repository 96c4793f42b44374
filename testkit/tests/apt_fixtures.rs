//! The fixture repositories are built from scratch and hold exactly the recipe's versions.

use std::collections::BTreeSet;
use std::fs;

use lpa_testkit::fixtures::apt::{AptFixtures, Snapshot, Suite, versions as v};

/// `(package, version)` pairs listed in a repository's `Packages` index.
fn indexed(fixtures: &AptFixtures, snapshot: Snapshot, suite: Suite) -> BTreeSet<(String, String)> {
    let text = fs::read_to_string(fixtures.repo(snapshot, suite).join("Packages")).unwrap();
    lpa_testkit::sandbox::parse_status(&text)
        .into_iter()
        .map(|e| (e.package, e.version))
        .collect()
}

fn set(pairs: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    pairs
        .iter()
        .map(|(p, v)| ((*p).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn v1_main_has_every_base_package_at_its_first_version() {
    let f = AptFixtures::get().unwrap();
    assert_eq!(
        indexed(f, Snapshot::V1, Suite::Main),
        set(&[
            ("hello", v::HELLO_V1),
            ("demo-lib", v::DEMO_LIB_V1),
            ("demo-app", v::DEMO_APP_V1),
            ("demo-tool", v::DEMO_TOOL_V1),
            ("demo-conflict", v::DEMO_CONFLICT),
            ("demo-broken", v::DEMO_BROKEN),
            ("demo-slow", v::DEMO_SLOW),
            ("demo-probe", v::DEMO_PROBE),
        ])
    );
}

#[test]
fn v2_main_keeps_old_versions_and_adds_the_updates() {
    let f = AptFixtures::get().unwrap();
    let v2 = indexed(f, Snapshot::V2, Suite::Main);
    assert!(indexed(f, Snapshot::V1, Suite::Main).is_subset(&v2));
    for update in [
        ("hello", v::HELLO_V2),
        ("demo-app", v::DEMO_APP_V2),
        ("demo-tool", v::DEMO_TOOL_V2),
    ] {
        assert!(
            v2.contains(&(update.0.to_owned(), update.1.to_owned())),
            "{update:?} missing"
        );
    }
    assert_eq!(v2.len(), 11);
}

#[test]
fn security_suite_is_empty_in_v1_and_has_the_lib_fix_in_v2() {
    let f = AptFixtures::get().unwrap();
    assert!(indexed(f, Snapshot::V1, Suite::Security).is_empty());
    assert_eq!(
        indexed(f, Snapshot::V2, Suite::Security),
        set(&[("demo-lib", v::DEMO_LIB_SECURITY)])
    );
}

#[test]
fn release_files_identify_main_as_demo_and_security_as_debian_security() {
    let f = AptFixtures::get().unwrap();
    for snapshot in [Snapshot::V1, Snapshot::V2] {
        let main = fs::read_to_string(f.repo(snapshot, Suite::Main).join("Release")).unwrap();
        for line in [
            "Origin: Demo",
            "Label: Demo",
            "Suite: bookworm",
            "Codename: bookworm",
        ] {
            assert!(main.lines().any(|l| l == line), "{line} not in\n{main}");
        }
        let sec = fs::read_to_string(f.repo(snapshot, Suite::Security).join("Release")).unwrap();
        for line in [
            "Origin: Debian",
            "Label: Debian-Security",
            "Suite: bookworm-security",
            "Codename: bookworm-security",
        ] {
            assert!(sec.lines().any(|l| l == line), "{line} not in\n{sec}");
        }
    }
}

#[test]
fn fixtures_live_under_the_target_dir_keyed_by_recipe_hash() {
    let f = AptFixtures::get().unwrap();
    let name = f.dir().file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with("apt-") && name.len() == 4 + 16, "{name}");
    assert_eq!(
        f.dir().parent().unwrap(),
        lpa_testkit::paths::target_dir().join("lpa-fixtures")
    );
    assert!(f.dir().join("stamp").is_file());
    assert!(f.deb("demo-lib", v::DEMO_LIB_SECURITY).is_file());
}

#[test]
fn rebuilding_into_a_fresh_directory_produces_the_same_indexes() {
    let tmp = tempfile::tempdir().unwrap();
    let fresh = AptFixtures::build_in(tmp.path()).unwrap();
    let shared = AptFixtures::get().unwrap();
    for snapshot in [Snapshot::V1, Snapshot::V2] {
        for suite in [Suite::Main, Suite::Security] {
            assert_eq!(
                indexed(&fresh, snapshot, suite),
                indexed(shared, snapshot, suite)
            );
        }
    }
}
