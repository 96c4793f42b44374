//! The apk fixture writer: every file is a valid gzip/tar that GNU tar reads back (apk itself cannot run
//! here), holds what apk v2 expects (`.PKGINFO` first, a pax SHA-1 per data file, `datahash` and the `Q1`
//! identity matching the bytes), and the index lists each snapshot's packages with their real sizes.

use lpa_testkit::fixtures::apk::{
    self, ARCH, ApkFixtures, HELLO, build_package, versions as v, write_installed_db,
};
use lpa_testkit::fixtures::apt::Snapshot;
use lpa_testkit::run::{checked, command};
use std::path::Path;

fn tar_list(file: &Path) -> Vec<String> {
    let out = checked(command("tar").arg("-tzf").arg(file)).unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn tar_cat(file: &Path, member: &str) -> String {
    let out = checked(command("tar").arg("-xzOf").arg(file).arg(member)).unwrap();
    String::from_utf8(out.stdout).unwrap()
}

fn sha_hex(alg: &'static ring::digest::Algorithm, data: &[u8]) -> String {
    ring::digest::digest(alg, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Splits a concatenation of gzip members at the member boundary, using gzip's own frame: the first
/// member's stored blocks end with the block whose final bit is set, then 8 trailer bytes.
fn first_member_len(bytes: &[u8]) -> usize {
    let mut i = 10;
    loop {
        let last = bytes[i] & 1 == 1;
        let len = u16::from_le_bytes([bytes[i + 1], bytes[i + 2]]) as usize;
        i += 5 + len;
        if last {
            return i + 8;
        }
    }
}

#[test]
fn each_snapshot_has_its_packages_and_v2_keeps_the_old_ones() {
    let f = ApkFixtures::get().unwrap();
    for (name, ver) in [
        (HELLO, v::HELLO_V1),
        ("demo-app", v::DEMO_APP_V1),
        ("demo-conflict", v::OTHERS),
        ("demo-probe", v::OTHERS),
    ] {
        assert!(f.package(Snapshot::V1, name, ver).is_file(), "{name}");
        assert!(f.package(Snapshot::V2, name, ver).is_file(), "{name}");
    }
    assert!(!f.package(Snapshot::V1, HELLO, v::HELLO_V2).exists());
    assert!(
        f.package(Snapshot::V2, "demo-lib", v::DEMO_LIB_V2)
            .is_file()
    );
    assert!(
        f.package(Snapshot::V2, "demo-tool", v::DEMO_TOOL_V2)
            .is_file()
    );
    assert_eq!(apk::recipe(Snapshot::V1).len(), 8);
    assert_eq!(apk::recipe(Snapshot::V2).len(), 12);
    assert_eq!(
        f.repositories_file(Snapshot::V2),
        format!("{}\n", f.repo(Snapshot::V2).display())
    );
}

#[test]
fn a_package_is_control_then_data_as_gnu_tar_reads_it() {
    let f = ApkFixtures::get().unwrap();
    let pkg = f.package(Snapshot::V1, "demo-broken", v::OTHERS);
    let members = tar_list(&pkg);
    assert_eq!(
        members,
        [
            ".PKGINFO",
            ".post-install",
            "usr/",
            "usr/share/",
            "usr/share/demo-broken/",
            "usr/share/demo-broken/VERSION"
        ]
    );
    assert!(tar_cat(&pkg, ".post-install").contains("failing on purpose"));
    assert_eq!(tar_cat(&pkg, "usr/share/demo-broken/VERSION"), "1.0-r0\n");
    let gz = checked(command("gzip").arg("-t").arg(&pkg));
    assert!(gz.is_ok(), "{gz:?}");
}

#[test]
fn datahash_identity_and_file_checksums_match_the_bytes() {
    let spec = apk::spec("demo-app", v::DEMO_APP_V2).unwrap();
    let built = build_package(spec, "noarch");
    let split = first_member_len(&built.bytes);
    let (control, data) = built.bytes.split_at(split);
    let datahash = sha_hex(&ring::digest::SHA256, data);
    assert!(
        built.pkginfo.contains(&format!("datahash = {datahash}\n")),
        "{}",
        built.pkginfo
    );
    assert!(built.pkginfo.contains("depend = demo-lib>=1.0\n"));
    // The identity is `Q1` + base64 of the control member's SHA-1 (checked with coreutils' base64).
    let tmp = tempfile::tempdir().unwrap();
    let digest = tmp.path().join("sha1");
    std::fs::write(
        &digest,
        ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, control).as_ref(),
    )
    .unwrap();
    let b64 = checked(command("base64").arg("-w0").arg(&digest))
        .unwrap()
        .stdout;
    assert_eq!(
        built.identity,
        format!("Q1{}", String::from_utf8(b64).unwrap())
    );
    // The pax header of the data file carries the SHA-1 of the file's content.
    let file = tmp.path().join("p.apk");
    std::fs::write(&file, &built.bytes).unwrap();
    let want = sha_hex(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, b"1.1-r0\n");
    let data_tar = checked(command("sh").arg("-c").arg(format!(
        "tail -c +{} {} | gzip -dc",
        split + 1,
        file.display()
    )))
    .unwrap()
    .stdout;
    let pax = format!("APK-TOOLS.checksum.SHA1={want}\n");
    assert!(
        data_tar.windows(pax.len()).any(|w| w == pax.as_bytes()),
        "no pax checksum {want}"
    );
}

#[test]
fn the_index_lists_each_package_with_its_real_size_and_identity() {
    let f = ApkFixtures::get().unwrap();
    let index = f.index(Snapshot::V2);
    assert_eq!(tar_list(&index), ["DESCRIPTION", "APKINDEX"]);
    let text = tar_cat(&index, "APKINDEX");
    let records: Vec<&str> = text
        .split("\n\n")
        .filter(|r| !r.trim().is_empty())
        .collect();
    assert_eq!(records.len(), 12);
    for spec in apk::recipe(Snapshot::V2) {
        let built = build_package(spec, "noarch");
        let file = f.package(Snapshot::V2, spec.name, spec.version);
        let size = std::fs::metadata(&file).unwrap().len();
        let rec = records
            .iter()
            .find(|r| r.contains(&format!("\nP:{}\nV:{}\n", spec.name, spec.version)))
            .unwrap_or_else(|| panic!("{} {} not indexed", spec.name, spec.version));
        assert!(rec.starts_with(&format!("C:{}\n", built.identity)), "{rec}");
        assert!(rec.contains(&format!("\nA:{ARCH}\nS:{size}\n")), "{rec}");
    }
    let conflict = records
        .iter()
        .find(|r| r.contains("\nP:demo-conflict\n"))
        .unwrap();
    assert!(conflict.contains("\nD:!demo-hello"), "{conflict}");
}

#[test]
fn an_installed_database_is_written_for_a_root() {
    let tmp = tempfile::tempdir().unwrap();
    write_installed_db(
        tmp.path(),
        &[(HELLO, v::HELLO_V1), ("demo-lib", v::DEMO_LIB_V1)],
    )
    .unwrap();
    let db = std::fs::read_to_string(tmp.path().join("lib/apk/db/installed")).unwrap();
    assert!(db.contains("P:demo-hello\nV:1.0-r0\nA:x86_64\n"), "{db}");
    assert!(
        db.contains("F:usr/share/demo-lib\nR:VERSION\na:0:0:644\nZ:Q1"),
        "{db}"
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("etc/apk/world")).unwrap(),
        "demo-hello\ndemo-lib\n"
    );
    assert!(write_installed_db(tmp.path(), &[("nosuch", "1")]).is_err());
}
