//! The apk backend's readers on real apk-format files written by the test kit (apk itself cannot run on
//! these machines): the `APKINDEX` inside `APKINDEX.tar.gz`, a package's `.PKGINFO`, and an installed
//! database with its world file. GNU tar extracts the members, so the archives are checked too.

use lpa_privhelper::backend::apk::{db, installed::Installed, pkginfo};
use lpa_protocol::order::apk as version;
use lpa_testkit::fixtures::apk::{self, ApkFixtures, HELLO, versions as v, write_installed_db};
use lpa_testkit::fixtures::apt::Snapshot;
use lpa_testkit::run::{checked, command};
use std::cmp::Ordering;
use std::path::Path;

fn member(archive: &Path, name: &str) -> String {
    let out = checked(command("tar").arg("-xzOf").arg(archive).arg(name)).unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_index_parser_reads_every_package_of_each_snapshot() {
    let f = ApkFixtures::get().unwrap();
    for snapshot in [Snapshot::V1, Snapshot::V2] {
        let records = db::parse(&member(&f.index(snapshot), "APKINDEX")).unwrap();
        let recipe = apk::recipe(snapshot);
        assert_eq!(records.len(), recipe.len(), "{snapshot:?}");
        for spec in recipe {
            let rec = records
                .iter()
                .find(|r| r.name == spec.name && r.version == spec.version)
                .unwrap_or_else(|| panic!("{} {} missing", spec.name, spec.version));
            let size = std::fs::metadata(f.package(snapshot, spec.name, spec.version))
                .unwrap()
                .len();
            assert_eq!(rec.arch, "x86_64");
            assert_eq!(rec.package_size, Some(size));
            assert_eq!(rec.installed_size, Some(spec.version.len() as u64 + 1));
            assert_eq!(rec.description, format!("test package {}", spec.name));
            assert_eq!(rec.depends, spec.depends);
            assert!(rec.checksum.as_deref().is_some_and(|c| c.starts_with("Q1")));
        }
    }
}

#[test]
fn the_index_says_which_versions_are_newer_in_apks_order() {
    let f = ApkFixtures::get().unwrap();
    let records = db::parse(&member(&f.index(Snapshot::V2), "APKINDEX")).unwrap();
    let newest = |name: &str| {
        records
            .iter()
            .filter(|r| r.name == name)
            .max_by(|a, b| version::compare(&a.version, &b.version))
            .map(|r| r.version.clone())
    };
    assert_eq!(newest(HELLO).as_deref(), Some(v::HELLO_V2));
    assert_eq!(newest("demo-lib").as_deref(), Some(v::DEMO_LIB_V2));
    assert_eq!(newest("demo-tool").as_deref(), Some(v::DEMO_TOOL_V2));
    assert_eq!(
        version::compare(v::DEMO_LIB_V1, v::DEMO_LIB_V2),
        Ordering::Less
    );
    let conflict = records.iter().find(|r| r.name == "demo-conflict").unwrap();
    assert!(
        conflict.dependency_names().is_empty(),
        "a conflict is no dependency"
    );
}

#[test]
fn the_pkginfo_parser_reads_a_written_package() {
    let f = ApkFixtures::get().unwrap();
    let file = f.package(Snapshot::V2, "demo-app", v::DEMO_APP_V2);
    let info = pkginfo::parse(&member(&file, ".PKGINFO")).unwrap();
    assert_eq!(info.record.name, "demo-app");
    assert_eq!(info.record.version, v::DEMO_APP_V2);
    assert_eq!(info.record.arch, "noarch");
    assert_eq!(info.record.depends, ["demo-lib>=1.0"]);
    assert_eq!(info.record.license.as_deref(), Some("MIT"));
    assert_eq!(info.datahash.as_deref().map(str::len), Some(64));
}

#[test]
fn the_installed_reader_reads_a_written_database_and_its_world() {
    let tmp = tempfile::tempdir().unwrap();
    write_installed_db(
        tmp.path(),
        &[
            (HELLO, v::HELLO_V1),
            ("demo-app", v::DEMO_APP_V1),
            ("demo-lib", v::DEMO_LIB_V1),
        ],
    )
    .unwrap();
    let inst = Installed::read(tmp.path()).unwrap();
    let records = inst.package_records();
    let names: Vec<&str> = records.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["demo-app", "demo-hello", "demo-lib"]);
    let app = inst.package("demo-app").unwrap();
    assert_eq!(app.dependencies, ["demo-lib"]);
    assert_eq!(app.architecture, "x86_64");
    assert!(!app.held);
    assert_eq!(
        inst.snapshot_entries(),
        [
            ("demo-app".into(), "x86_64".into(), v::DEMO_APP_V1.into()),
            (HELLO.into(), "x86_64".into(), v::HELLO_V1.into()),
            ("demo-lib".into(), "x86_64".into(), v::DEMO_LIB_V1.into()),
        ]
    );
    // apk records a pinned install in the world file (recorded: `demo-hello=1.0-r0`).
    std::fs::write(
        tmp.path().join("etc/apk/world"),
        "demo-app\ndemo-hello=1.0-r0\n",
    )
    .unwrap();
    assert!(
        Installed::read(tmp.path())
            .unwrap()
            .package(HELLO)
            .unwrap()
            .held
    );
}

/// Issue 11: the broker reads the repository indexes itself (no apk run) — here the test kit's real
/// `APKINDEX.tar.gz` of a local repository named by the root's repositories file — and finds every
/// package of the snapshot; a root whose repositories file names nothing readable offers nothing.
#[test]
fn the_broker_reads_the_local_repository_index_named_by_the_root() {
    use lpa_privhelper::backend::apk::index;
    let f = ApkFixtures::get().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_installed_db(root, &[]).unwrap();
    std::fs::write(
        root.join("etc/apk/repositories"),
        f.repositories_file(Snapshot::V2),
    )
    .unwrap();
    let mut found: Vec<(String, String)> = index::available(root)
        .into_iter()
        .map(|r| (r.name, r.version))
        .collect();
    found.sort();
    let mut expected: Vec<(String, String)> = apk::recipe(Snapshot::V2)
        .iter()
        .map(|s| (s.name.to_owned(), s.version.to_owned()))
        .collect();
    expected.sort();
    assert_eq!(found, expected);
    assert!(
        found
            .iter()
            .any(|(n, ver)| n == HELLO && ver == v::HELLO_V2)
    );
    std::fs::write(root.join("etc/apk/repositories"), "/nonexistent/repo\n").unwrap();
    assert_eq!(index::available(root), vec![]);
}
