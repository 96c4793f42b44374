//! The installed version of every package, read from the dpkg status file before and after a change; the
//! difference is the change's `changes`, so a job reports what the database says happened, not what the
//! package manager claimed.
//!
//! Unlike the package list ([`super::dpkg`]), a snapshot counts a package as present as soon as dpkg has
//! unpacked it — `half-configured`, `unpacked`, `triggers-pending` and so on — because a failing postinst
//! (gotcha A6) still put the new version's files on disk, and the rollback issue must know that.

use super::deb822;
use super::dpkg::status_path;
use lpa_protocol::{HelperError, PackageChange};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Installed versions by package name (`name:arch` when one name is present in several architectures).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Packages whose files are on disk, with their version.
    pub versions: BTreeMap<String, String>,
    /// Packages removed but with configuration files left (`config-files`): purgeable, not installed.
    pub config_only: BTreeSet<String>,
}

/// dpkg states in which the package's files are on disk.
const PRESENT: [&str; 6] = [
    "installed",
    "unpacked",
    "half-configured",
    "half-installed",
    "triggers-awaited",
    "triggers-pending",
];

impl Snapshot {
    /// Reads `<root>/var/lib/dpkg/status`. Blocking.
    pub fn read(root: &Path) -> Result<Snapshot, HelperError> {
        let path = status_path(root);
        let bytes = std::fs::read(&path).map_err(|e| HelperError::Database {
            message: format!("{}: {e}", path.display()),
        })?;
        Ok(Self::parse(&String::from_utf8_lossy(&bytes)))
    }

    /// Parses the text of a status file.
    pub fn parse(text: &str) -> Snapshot {
        let mut entries: Vec<(String, String, String)> = Vec::new();
        let mut config_only = BTreeSet::new();
        for p in deb822::parse(text) {
            let (Some(name), Some(status)) = (p.get("Package"), p.get("Status")) else {
                continue;
            };
            let state = status.split_whitespace().nth(2).unwrap_or("");
            if PRESENT.contains(&state) {
                entries.push((
                    name.to_owned(),
                    p.get("Architecture").unwrap_or("").to_owned(),
                    p.get("Version").unwrap_or("").to_owned(),
                ));
            } else if state == "config-files" {
                config_only.insert(name.to_owned());
            }
        }
        Self::from_entries(entries, config_only)
    }

    /// A snapshot from `(name, architecture, version)` entries of packages whose files are on disk, for
    /// every backend: a name present in several architectures is keyed `name:arch`.
    pub fn from_entries(
        entries: Vec<(String, String, String)>,
        config_only: BTreeSet<String>,
    ) -> Snapshot {
        let mut count: BTreeMap<&str, usize> = BTreeMap::new();
        for (name, _, _) in &entries {
            *count.entry(name.as_str()).or_default() += 1;
        }
        let versions = entries
            .iter()
            .map(|(name, arch, version)| {
                let key = if count.get(name.as_str()).copied().unwrap_or(0) > 1 {
                    format!("{name}:{arch}")
                } else {
                    name.clone()
                };
                (key, version.clone())
            })
            .collect();
        Snapshot {
            versions,
            config_only,
        }
    }

    /// Whether `name` has files on disk in any architecture.
    pub fn is_present(&self, name: &str) -> bool {
        self.versions.contains_key(name)
            || self
                .versions
                .keys()
                .any(|k| k.split_once(':').is_some_and(|(n, _)| n == name))
    }

    /// Every package whose version differs between `self` (before) and `after`, sorted by name.
    pub fn diff(&self, after: &Snapshot) -> Vec<PackageChange> {
        let names: BTreeSet<&String> = self.versions.keys().chain(after.versions.keys()).collect();
        names
            .into_iter()
            .filter_map(|name| {
                let from = self.versions.get(name);
                let to = after.versions.get(name);
                (from != to).then(|| PackageChange {
                    name: name.clone(),
                    from: from.cloned(),
                    to: to.cloned(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, state: &str, version: &str) -> String {
        format!(
            "Package: {name}\nStatus: install ok {state}\nArchitecture: all\nVersion: {version}\n\n"
        )
    }

    #[test]
    fn unpacked_but_unconfigured_packages_count_and_config_files_do_not() {
        let text = entry("a", "installed", "1")
            + &entry("broken", "half-configured", "1.0")
            + &entry("gone", "config-files", "0.9")
            + &entry("nothing", "not-installed", "");
        let s = Snapshot::parse(&text);
        assert_eq!(s.versions.keys().collect::<Vec<_>>(), ["a", "broken"]);
        assert!(s.config_only.contains("gone"));
        assert!(s.is_present("broken") && !s.is_present("gone"));
    }

    #[test]
    fn diff_lists_installs_upgrades_and_removals_sorted() {
        let before = Snapshot::parse(
            &(entry("demo-lib", "installed", "1.0")
                + &entry("hello", "installed", "1.0")
                + &entry("same", "installed", "3")),
        );
        let after = Snapshot::parse(
            &(entry("demo-lib", "installed", "1.0.1")
                + &entry("demo-app", "installed", "1.1")
                + &entry("same", "installed", "3")),
        );
        let change = |n: &str, f: Option<&str>, t: Option<&str>| PackageChange {
            name: n.into(),
            from: f.map(Into::into),
            to: t.map(Into::into),
        };
        assert_eq!(
            before.diff(&after),
            [
                change("demo-app", None, Some("1.1")),
                change("demo-lib", Some("1.0"), Some("1.0.1")),
                change("hello", Some("1.0"), None),
            ]
        );
        assert!(after.diff(&after).is_empty());
    }

    #[test]
    fn one_name_in_two_architectures_is_keyed_by_architecture() {
        let text = "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2\n\n\
                    Package: libc6\nStatus: install ok installed\nArchitecture: i386\nVersion: 2\n";
        let s = Snapshot::parse(text);
        assert_eq!(
            s.versions.keys().collect::<Vec<_>>(),
            ["libc6:amd64", "libc6:i386"]
        );
        assert!(s.is_present("libc6"));
    }
}
