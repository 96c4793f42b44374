//! The installed packages from `rpm -qa --qf` ([`super::query::INSTALLED_QF`]): the API's list and the
//! before/after snapshot of a change.
//!
//! One name can be installed in several architectures (`demo-odd.x86_64` and `demo-odd.i686`): each is its
//! own record. `gpg-pubkey` entries are the keys rpm imported, not packages, and are left out.

use super::query::{Record, records};
use lpa_protocol::PackageRecord;

/// rpm's pseudo-package for each imported signing key.
const GPG_PUBKEY: &str = "gpg-pubkey";

fn packages(text: &str) -> impl Iterator<Item = Record> {
    records(text)
        .into_iter()
        .filter(|r| r.get("name").is_some_and(|n| n != GPG_PUBKEY))
}

/// Every installed package, sorted by name then architecture.
pub fn parse_installed(text: &str) -> Vec<PackageRecord> {
    let mut out: Vec<PackageRecord> = packages(text).map(|r| to_record(&r)).collect();
    out.sort_by(|a, b| {
        (a.name.as_str(), a.architecture.as_str()).cmp(&(b.name.as_str(), b.architecture.as_str()))
    });
    out
}

/// `(name, arch, [epoch:]version-release)` of every installed package, for `Snapshot::from_entries`.
pub fn snapshot_entries(text: &str) -> Vec<(String, String, String)> {
    packages(text)
        .filter_map(|r| {
            Some((
                r.get("name")?.to_owned(),
                r.get("arch").unwrap_or("").to_owned(),
                r.evr()?,
            ))
        })
        .collect()
}

/// One record as the API shows it; `source` is the source rpm.
pub(super) fn to_record(r: &Record) -> PackageRecord {
    let owned = |k: &str| r.get(k).map(str::to_owned);
    PackageRecord {
        name: r.get("name").unwrap_or_default().to_owned(),
        version: r.evr().unwrap_or_default(),
        architecture: r.get("arch").unwrap_or_default().to_owned(),
        description: r.get("summary").unwrap_or_default().to_owned(),
        size_bytes: r.get("size").and_then(|s| s.parse().ok()),
        installed_at: r.get("installtime").and_then(|s| s.parse().ok()),
        dependencies: r.requires.clone(),
        held: false,
        maintainer: owned("packager"),
        homepage: owned("url"),
        license: owned("license"),
        source: owned("repo").or_else(|| owned("sourcerpm")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::dnf::recorded::Recorded;

    #[test]
    fn recorded_rpm_qa_lists_every_package_with_epochs_tilde_versions_and_both_architectures() {
        let rec = Recorded::load("rpm-qa");
        let list = parse_installed(&rec.stdout);
        let names: Vec<(&str, &str)> = list
            .iter()
            .map(|p| (p.name.as_str(), p.architecture.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("demo-app", "noarch"),
                ("demo-base", "x86_64"),
                ("demo-lib", "noarch"),
                ("demo-odd", "i686"),
                ("demo-odd", "x86_64"),
                ("hello", "noarch"),
            ]
        );
        let odd = &list[3];
        assert_eq!(odd.version, "2:1.0~rc1-3.fc39");
        let app = &list[0];
        assert_eq!(app.version, "1.0-1");
        assert_eq!(app.dependencies, ["demo-lib"]);
        assert_eq!(app.description, "linux-patch-api test package demo-app 1.0");
        assert_eq!(
            app.homepage.as_deref(),
            Some("https://example.invalid/demo-app")
        );
        assert_eq!(app.license.as_deref(), Some("MIT"));
        assert_eq!(app.source.as_deref(), Some("demo-app-1.0-1.src.rpm"));
        assert!(app.installed_at.is_some_and(|t| t > 1_600_000_000));
        assert_eq!(list[1].size_bytes.map(|s| s > 100_000), Some(true));
        assert_eq!(
            list[1].homepage.as_deref(),
            Some("https://example.invalid/demo-base")
        );
    }

    #[test]
    fn recorded_snapshot_entries_keep_each_architecture() {
        let rec = Recorded::load("rpm-qa");
        let entries = snapshot_entries(&rec.stdout);
        assert!(entries.contains(&("demo-odd".into(), "i686".into(), "2:1.0~rc1-3.fc39".into())));
        assert!(entries.contains(&("hello".into(), "noarch".into(), "1.0-1".into())));
        assert_eq!(entries.len(), 6);
    }

    #[test]
    fn empty_output_and_signing_keys_give_no_packages() {
        assert!(parse_installed("").is_empty());
        let key = "@@pkg\nname=gpg-pubkey\nepoch=(none)\nversion=fd431d51\nrelease=4ae0493b\narch=(none)\n";
        assert!(parse_installed(key).is_empty());
        assert!(snapshot_entries(key).is_empty());
    }
}
