//! Candidate detail: which versions apk knows of a package and where each comes from (`apk policy`), and
//! the fields apk prints for it (`apk info -a`). Both read `LC_ALL=C` output, identical in apk-tools
//! 2.14.9 and 3.0.6 on the recorded sessions.

use lpa_protocol::PackageRecord;
use lpa_protocol::order::apk::compare;
use std::cmp::Ordering;

/// Where apk says an installed package is recorded, as printed by `apk policy`.
pub const INSTALLED_DB: &str = "lib/apk/db/installed";

/// One version listed by `apk policy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    /// The version.
    pub version: String,
    /// Its origins: repository URLs or paths (a tagged repository is printed as `@tag URL`), and
    /// [`INSTALLED_DB`] for the installed version.
    pub sources: Vec<String>,
}

impl PolicyVersion {
    /// Whether this is the installed version.
    pub fn is_installed(&self) -> bool {
        self.sources.iter().any(|s| s == INSTALLED_DB)
    }

    /// Repositories apk would install this version from without a tag being asked for.
    pub fn untagged_repositories(&self) -> Vec<&str> {
        self.sources
            .iter()
            .map(String::as_str)
            .filter(|s| *s != INSTALLED_DB && !s.starts_with('@'))
            .collect()
    }
}

/// Parses `apk policy NAME`:
///
/// ```text
/// demo-hello policy:
///   1.0-r0:
///     lib/apk/db/installed
///     /repo/v2
///   1.1-r0:
///     /repo/v2
/// ```
///
/// An unknown package prints nothing (or only its header) and gives an empty list.
pub fn parse_policy(stdout: &str) -> Vec<PolicyVersion> {
    let mut out: Vec<PolicyVersion> = Vec::new();
    for line in stdout.lines() {
        let indent = line.len() - line.trim_start().len();
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        match indent {
            0 => {}
            1..=3 => {
                if let Some(v) = text.strip_suffix(':') {
                    out.push(PolicyVersion {
                        version: v.to_owned(),
                        sources: Vec::new(),
                    });
                }
            }
            _ => {
                if let Some(cur) = out.last_mut() {
                    cur.sources.push(text.to_owned());
                }
            }
        }
    }
    out
}

/// The version apk would install: the newest one offered by an untagged repository, with that version's
/// first repository as its source. `None` when no repository offers the package.
pub fn candidate(policy: &[PolicyVersion]) -> Option<(&str, Option<&str>)> {
    policy
        .iter()
        .filter(|p| !p.untagged_repositories().is_empty())
        .max_by(|a, b| compare(&a.version, &b.version))
        .map(|p| {
            (
                p.version.as_str(),
                p.untagged_repositories().first().copied(),
            )
        })
}

/// Whether installing `wanted` over `installed` would be a downgrade in apk's ordering.
pub fn is_downgrade(installed: &str, wanted: &str) -> bool {
    compare(wanted, installed) == Ordering::Less
}

/// The fields of `apk info -a NAME`: blocks `NAME-VERSION FIELD:` followed by value lines up to a blank
/// line. Only the first package's blocks are read.
pub fn parse_info(stdout: &str) -> Option<PackageRecord> {
    let mut rec: Option<PackageRecord> = None;
    let mut field: Option<String> = None;
    let mut values: Vec<String> = Vec::new();
    let mut header_pkg: Option<String> = None;
    let flush =
        |rec: &mut Option<PackageRecord>, field: &Option<String>, values: &mut Vec<String>| {
            if let (Some(r), Some(f)) = (rec.as_mut(), field.as_deref()) {
                let first = values.first().cloned();
                match f {
                    "description" => r.description = first.unwrap_or_default(),
                    "webpage" => r.homepage = first,
                    "installed size" => r.size_bytes = first.as_deref().and_then(parse_size),
                    "depends on" => {
                        r.dependencies = values
                            .iter()
                            .filter(|d| !d.starts_with('!'))
                            .map(|d| super::db::dep_name(d).to_owned())
                            .collect()
                    }
                    "license" => r.license = first,
                    _ => {}
                }
            }
            values.clear();
        };
    for line in stdout.lines() {
        let line = line.trim_end();
        if let Some((pkg, f)) = header(line) {
            if header_pkg.as_deref().is_some_and(|h| h != pkg) {
                break;
            }
            flush(&mut rec, &field, &mut values);
            if rec.is_none() {
                let (name, version) = super::db::split_name_version(pkg)?;
                rec = Some(PackageRecord {
                    name: name.to_owned(),
                    version: version.to_owned(),
                    ..PackageRecord::default()
                });
                header_pkg = Some(pkg.to_owned());
            }
            field = Some(f.to_owned());
        } else if !line.is_empty() && field.is_some() {
            values.push(line.to_owned());
        }
    }
    flush(&mut rec, &field, &mut values);
    rec
}

/// `demo-app-1.0-r0 installed size:` → `("demo-app-1.0-r0", "installed size")`.
fn header(line: &str) -> Option<(&str, &str)> {
    const FIELDS: [&str; 13] = [
        "description",
        "webpage",
        "installed size",
        "depends on",
        "provides",
        "is required by",
        "contains",
        "triggers",
        "has auto-install rule",
        "affects auto-installation of",
        "replaces",
        "license",
        "size",
    ];
    let body = line.strip_suffix(':')?;
    let (pkg, field) = body.split_once(' ')?;
    FIELDS.contains(&field).then_some((pkg, field))
}

/// apk's human sizes: `16 B`, `50 KiB`, `0 MiB` (apk 2 rounds small sizes down to `0 MiB`).
pub fn parse_size(s: &str) -> Option<u64> {
    let (n, unit) = s.trim().split_once(' ')?;
    let n: u64 = n.parse().ok()?;
    let mult: u64 = match unit {
        "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::apk::transcript::{VERSIONS, find};

    #[test]
    fn recorded_policy_lists_installed_and_candidate_with_their_repositories() {
        for v in VERSIONS {
            let pol = parse_policy(&find(v, "policy demo-hello").stdout);
            assert_eq!(pol.len(), 2, "apk {v}: {pol:?}");
            assert_eq!(pol[0].version, "1.0-r0");
            assert!(pol[0].is_installed() && !pol[1].is_installed());
            assert_eq!(pol[1].sources, ["$FIXTURES/apk/v2"]);
            assert_eq!(candidate(&pol), Some(("1.1-r0", Some("$FIXTURES/apk/v2"))));
            assert!(is_downgrade("1.1-r0", "1.0-r0") && !is_downgrade("1.0-r0", "1.1-r0"));
        }
    }

    #[test]
    fn candidate_ignores_order_tagged_repositories_and_the_installed_db() {
        let pol = parse_policy(
            "foo policy:\n  2.0-r0:\n    @edge https://x/edge/main\n  1.10-r0:\n    https://x/main\n  1.9-r0:\n    lib/apk/db/installed\n",
        );
        assert_eq!(candidate(&pol), Some(("1.10-r0", Some("https://x/main"))));
        let only_installed = parse_policy("foo policy:\n  1.0-r0:\n    lib/apk/db/installed\n");
        assert_eq!(candidate(&only_installed), None);
        assert!(parse_policy("").is_empty());
    }

    #[test]
    fn recorded_info_all_gives_description_size_dependencies_and_license() {
        for v in VERSIONS {
            let rec = parse_info(&find(v, "info -a demo-app").stdout).unwrap();
            assert_eq!(rec.name, "demo-app");
            assert_eq!(rec.version, "1.0-r0");
            assert_eq!(rec.description, "test package demo-app");
            assert_eq!(rec.homepage.as_deref(), Some("https://example.invalid"));
            assert_eq!(rec.size_bytes, Some(16));
            assert_eq!(rec.dependencies, ["demo-lib"]);
            assert_eq!(rec.license.as_deref(), Some("MIT"));
        }
        assert_eq!(parse_info(""), None);
    }

    #[test]
    fn sizes_in_both_apk_styles() {
        assert_eq!(parse_size("16 B"), Some(16));
        assert_eq!(parse_size("0 MiB"), Some(0));
        assert_eq!(parse_size("52 B"), Some(52));
        assert_eq!(parse_size("3 KiB"), Some(3072));
        assert_eq!(parse_size("lots"), None);
    }
}
