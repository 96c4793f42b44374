//! `dnf repoquery` output in the helper's formats ([`super::query`]): the upgradable list and the candidate
//! record of one package.
//!
//! repoquery does not print the installed version; the broker passes the installed snapshot entries in.
//! With two architectures of one name installed, each gets its own upgrade line.

use super::installed::to_record;
use super::query::{evr_string, records};
use lpa_protocol::{PackageRecord, UpgradablePackage};

/// One `@@upgrade` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    /// Name.
    pub name: String,
    /// `[EPOCH:]VERSION-RELEASE` of the upgrade.
    pub evr: String,
    /// Architecture.
    pub arch: String,
    /// Repository id.
    pub repo: String,
}

/// Parses the `@@upgrade` lines (other lines, e.g. warnings, are ignored).
pub fn parse_upgrades(text: &str) -> Vec<Upgrade> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.strip_prefix("@@upgrade ")?.split(' ');
            let (name, epoch, version, release, arch, repo) = (
                f.next()?,
                f.next()?,
                f.next()?,
                f.next()?,
                f.next()?,
                f.next()?,
            );
            Some(Upgrade {
                name: name.to_owned(),
                evr: evr_string(Some(epoch), version, release),
                arch: arch.to_owned(),
                repo: repo.to_owned(),
            })
        })
        .collect()
}

/// The upgradable list: each upgrade with the installed version of the same name and architecture (from
/// `installed`, the snapshot entries), sorted by name then architecture. `security` and `advisory` are
/// filled in by [`super::updateinfo::annotate`].
pub fn upgradable(text: &str, installed: &[(String, String, String)]) -> Vec<UpgradablePackage> {
    let mut out: Vec<UpgradablePackage> = parse_upgrades(text)
        .into_iter()
        .map(|u| {
            let current = installed
                .iter()
                .find(|(n, a, _)| *n == u.name && *a == u.arch)
                .or_else(|| installed.iter().find(|(n, _, _)| *n == u.name))
                .map(|(_, _, v)| v.clone());
            UpgradablePackage {
                name: u.name,
                current_version: current,
                available_version: u.evr,
                architecture: Some(u.arch),
                sources: vec![u.repo],
                security: false,
                advisory: None,
            }
        })
        .collect();
    out.sort_by(|a, b| (&a.name, &a.architecture).cmp(&(&b.name, &b.architecture)));
    out
}

/// The candidate record: the one for `preferred_arch` (the host's) if several architectures are offered,
/// else `noarch`, else the first. `None` when nothing is available.
pub fn candidate(text: &str, preferred_arch: &str) -> Option<PackageRecord> {
    let recs = records(text);
    let pick = recs
        .iter()
        .find(|r| r.get("arch") == Some(preferred_arch))
        .or_else(|| recs.iter().find(|r| r.get("arch") == Some("noarch")))
        .or_else(|| recs.first())?;
    Some(to_record(pick))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::dnf::installed::snapshot_entries;
    use crate::backend::dnf::recorded::Recorded;

    #[test]
    fn recorded_upgrades_carry_installed_and_available_versions_per_architecture() {
        let installed = snapshot_entries(&Recorded::load("rpm-qa").stdout);
        let list = upgradable(&Recorded::load("repoquery-upgrades").stdout, &installed);
        let row = |n: &str, a: &str| {
            list.iter()
                .find(|u| u.name == n && u.architecture.as_deref() == Some(a))
                .unwrap_or_else(|| panic!("{n}.{a} missing: {list:?}"))
        };
        assert_eq!(
            row("hello", "noarch").current_version.as_deref(),
            Some("1.0-1")
        );
        assert_eq!(row("hello", "noarch").available_version, "1.1-1");
        assert_eq!(row("demo-lib", "noarch").available_version, "1.0.1-1");
        let odd = row("demo-odd", "i686");
        assert_eq!(odd.current_version.as_deref(), Some("2:1.0~rc1-3.fc39"));
        assert_eq!(odd.available_version, "2:1.0-1.fc39");
        assert_eq!(odd.sources, ["demo"]);
        assert_eq!(list.len(), 5);
    }

    #[test]
    fn recorded_empty_upgrade_list_is_empty() {
        let rec = Recorded::load("repoquery-upgrades-none");
        assert_eq!(rec.rc, 0);
        assert!(upgradable(&rec.stdout, &[]).is_empty());
    }

    #[test]
    fn recorded_candidate_has_its_dependencies_without_constraints() {
        let c = candidate(
            &Recorded::load("repoquery-candidate-demo-app").stdout,
            "x86_64",
        )
        .unwrap();
        assert_eq!((c.name.as_str(), c.version.as_str()), ("demo-app", "1.1-1"));
        assert_eq!(c.dependencies, ["demo-lib"]);
        assert_eq!(c.source.as_deref(), Some("demo"));
        assert_eq!(c.installed_at, None);
        assert_eq!(
            candidate(
                &Recorded::load("repoquery-candidate-nosuch").stdout,
                "x86_64"
            ),
            None
        );
    }

    #[test]
    fn candidate_prefers_the_host_architecture() {
        let text = "@@pkg\nname=a\nepoch=0\nversion=1\nrelease=1\narch=i686\n\
                    @@pkg\nname=a\nepoch=0\nversion=1\nrelease=1\narch=x86_64\n";
        assert_eq!(candidate(text, "x86_64").unwrap().architecture, "x86_64");
        assert_eq!(candidate(text, "aarch64").unwrap().architecture, "i686");
    }
}
