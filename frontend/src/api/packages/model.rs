//! The package object of the API, built from the helper's records.
//!
//! `status` is `installed` (installed, no newer candidate), `upgradable` (installed, newer candidate) or
//! `available` (not installed, a repository offers it). `available_version` is the newer candidate's
//! version for `upgradable`, the offered version for `available`, and `null` for `installed`.

use crate::http::envelope;
use lpa_protocol::{Backend, PackageDetail, PackageRecord, UpgradablePackage};
use serde::Serialize;
use std::cmp::Ordering;

/// One package as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageObject {
    /// Package name.
    pub name: String,
    /// Installed version (for `available`: the offered version).
    pub version: String,
    /// Architecture.
    pub architecture: String,
    /// `installed`, `upgradable` or `available`.
    pub status: &'static str,
    /// True for `upgradable`; `null` when the package manager cannot tell (a database that needs repair).
    pub upgradable: Option<bool>,
    /// The candidate version, see the module docs.
    pub available_version: Option<String>,
    /// One-line summary.
    pub description: String,
    /// Installed size in bytes.
    pub size_bytes: Option<u64>,
    /// Install time, RFC 3339 UTC.
    pub installed_at: Option<String>,
    /// Names of dependencies.
    pub dependencies: Vec<String>,
    /// Repository or suite.
    pub source: Option<String>,
    /// Held back from upgrades.
    pub held: bool,
}

/// The package object plus what `GET /packages/{name}` adds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageDetailObject {
    /// The package object.
    #[serde(flatten)]
    pub package: PackageObject,
    /// Maintainer, when the backend knows it.
    pub maintainer: Option<String>,
    /// Homepage, when the backend knows it.
    pub homepage: Option<String>,
    /// License, when the backend knows it.
    pub license: Option<String>,
}

fn timestamp(unix: Option<i64>) -> Option<String> {
    unix.and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .map(envelope::rfc3339)
}

/// An installed package, marked upgradable when `upgrade` is given.
pub fn installed(record: &PackageRecord, upgrade: Option<&UpgradablePackage>) -> PackageObject {
    PackageObject {
        name: record.name.clone(),
        version: record.version.clone(),
        architecture: record.architecture.clone(),
        status: if upgrade.is_some() {
            "upgradable"
        } else {
            "installed"
        },
        upgradable: Some(upgrade.is_some()),
        available_version: upgrade.map(|u| u.available_version.clone()),
        description: record.description.clone(),
        size_bytes: record.size_bytes,
        installed_at: timestamp(record.installed_at),
        dependencies: record.dependencies.clone(),
        // For an update, where it comes from (the suites offering the candidate) is what an operator needs.
        source: upgrade
            .and_then(|u| joined_sources(&u.sources))
            .or_else(|| record.source.clone()),
        held: record.held,
    }
}

/// An installed package whose upgrade state is unknown: the package manager cannot compute updates
/// (its database needs repair), so `upgradable` and `available_version` are `null`.
pub fn installed_unknown(r: &PackageRecord) -> PackageObject {
    PackageObject {
        upgradable: None,
        available_version: None,
        ..installed(r, None)
    }
}

/// An entry of the upgradable list with no installed record: `upgradable` when the helper reports an
/// installed version, otherwise `available` (a new package the upgrade would pull in).
pub fn from_upgrade(u: &UpgradablePackage) -> PackageObject {
    let installed = u.current_version.is_some();
    PackageObject {
        name: u.name.clone(),
        version: u
            .current_version
            .clone()
            .unwrap_or_else(|| u.available_version.clone()),
        architecture: u.architecture.clone().unwrap_or_default(),
        status: if installed { "upgradable" } else { "available" },
        upgradable: Some(installed),
        available_version: Some(u.available_version.clone()),
        description: String::new(),
        size_bytes: None,
        installed_at: None,
        dependencies: Vec::new(),
        source: joined_sources(&u.sources),
        held: false,
    }
}

/// Suites offering a candidate, comma-joined as `apt list` prints them; `None` when there are none.
fn joined_sources(sources: &[String]) -> Option<String> {
    (!sources.is_empty()).then(|| sources.join(","))
}

/// The detail object, or `None` when the package is neither installed nor available.
/// `backend`'s own version order decides whether the candidate is newer (pacman ranks `1.0~rc1` after
/// `1.0`, dpkg and rpm before).
pub fn detail(d: &PackageDetail, backend: Backend) -> Option<PackageDetailObject> {
    let primary = d.installed.as_ref().or(d.candidate.as_ref())?;
    let newer = match (&d.installed, &d.candidate) {
        (Some(i), Some(c)) => backend.compare_versions(&c.version, &i.version) == Ordering::Greater,
        _ => false,
    };
    let status = match (&d.installed, newer) {
        (None, _) => "available",
        (Some(_), true) => "upgradable",
        (Some(_), false) => "installed",
    };
    let available_version = match status {
        "installed" => None,
        _ => d.candidate.as_ref().map(|c| c.version.clone()),
    };
    let either = |f: fn(&PackageRecord) -> &Option<String>| {
        d.installed
            .as_ref()
            .and_then(|r| f(r).clone())
            .or_else(|| d.candidate.as_ref().and_then(|r| f(r).clone()))
    };
    // The repository of a package is known from the candidate's index record, rarely from the database.
    let source = d
        .candidate
        .as_ref()
        .and_then(|c| c.source.clone())
        .or_else(|| d.installed.as_ref().and_then(|i| i.source.clone()));
    Some(PackageDetailObject {
        package: PackageObject {
            name: primary.name.clone(),
            version: primary.version.clone(),
            architecture: primary.architecture.clone(),
            status,
            upgradable: Some(status == "upgradable"),
            available_version,
            description: primary.description.clone(),
            size_bytes: primary.size_bytes,
            installed_at: d.installed.as_ref().and_then(|i| timestamp(i.installed_at)),
            dependencies: primary.dependencies.clone(),
            source,
            held: d.installed.as_ref().is_some_and(|i| i.held),
        },
        maintainer: either(|r| &r.maintainer),
        homepage: either(|r| &r.homepage),
        license: either(|r| &r.license),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn record(name: &str, version: &str) -> PackageRecord {
        PackageRecord {
            name: name.into(),
            version: version.into(),
            architecture: "amd64".into(),
            description: format!("{name} package"),
            size_bytes: Some(1024),
            installed_at: Some(1_700_000_000),
            ..PackageRecord::default()
        }
    }

    #[test]
    fn detail_of_installed_and_newer_candidate_is_upgradable() {
        let mut candidate = record("demo", "1.1");
        candidate.source = Some("bookworm-security".into());
        candidate.maintainer = Some("Jane <j@example.org>".into());
        let d = PackageDetail {
            installed: Some(record("demo", "1.0")),
            candidate: Some(candidate),
        };
        let o = detail(&d, Backend::Apt).unwrap();
        assert_eq!(o.package.status, "upgradable");
        assert_eq!(o.package.upgradable, Some(true));
        assert_eq!(o.package.version, "1.0");
        assert_eq!(o.package.available_version.as_deref(), Some("1.1"));
        assert_eq!(o.package.source.as_deref(), Some("bookworm-security"));
        assert_eq!(o.maintainer.as_deref(), Some("Jane <j@example.org>"));
        assert_eq!(
            o.package.installed_at.as_deref(),
            Some("2023-11-14T22:13:20Z")
        );
    }

    #[test]
    fn detail_of_current_installed_package_is_installed_with_null_available_version() {
        let d = PackageDetail {
            installed: Some(record("demo", "1.1")),
            candidate: Some(record("demo", "1.1")),
        };
        let o = detail(&d, Backend::Apt).unwrap();
        assert_eq!(o.package.status, "installed");
        assert_eq!(o.package.available_version, None);
    }

    #[test]
    fn detail_of_not_installed_package_is_available() {
        let d = PackageDetail {
            installed: None,
            candidate: Some(record("demo", "2.0")),
        };
        let o = detail(&d, Backend::Apt).unwrap();
        assert_eq!(o.package.status, "available");
        assert_eq!(o.package.upgradable, Some(false));
        assert_eq!(o.package.version, "2.0");
        assert_eq!(o.package.available_version.as_deref(), Some("2.0"));
        assert_eq!(o.package.installed_at, None);
        assert!(
            detail(
                &PackageDetail {
                    installed: None,
                    candidate: None
                },
                Backend::Apt
            )
            .is_none()
        );
    }

    #[test]
    fn whether_a_candidate_is_newer_follows_the_hosts_own_version_order() {
        // Installed 1.0~rc1, candidate 1.0: newer for dpkg and rpm, older for pacman (alpm has no `~`
        // rule), so only pacman says "installed".
        let d = PackageDetail {
            installed: Some(PackageRecord {
                name: "x".into(),
                version: "1.0~rc1-1".into(),
                ..PackageRecord::default()
            }),
            candidate: Some(PackageRecord {
                name: "x".into(),
                version: "1.0-1".into(),
                ..PackageRecord::default()
            }),
        };
        for (backend, status) in [
            (Backend::Apt, "upgradable"),
            (Backend::Dnf, "upgradable"),
            (Backend::Pacman, "installed"),
        ] {
            assert_eq!(
                detail(&d, backend).unwrap().package.status,
                status,
                "{backend}"
            );
        }
    }

    #[test]
    fn detail_json_has_package_fields_and_detail_fields() {
        let d = PackageDetail {
            installed: Some(record("demo", "1.0")),
            candidate: None,
        };
        let v = serde_json::to_value(detail(&d, Backend::Apt).unwrap()).unwrap();
        for key in [
            "name",
            "version",
            "architecture",
            "status",
            "upgradable",
            "available_version",
            "description",
            "size_bytes",
            "installed_at",
            "dependencies",
            "source",
            "held",
            "maintainer",
            "homepage",
            "license",
        ] {
            assert!(v.get(key).is_some(), "{key} missing");
        }
    }
}
