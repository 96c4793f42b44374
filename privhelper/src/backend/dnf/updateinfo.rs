//! Advisories from `dnf updateinfo list --updates` (id, type/severity, NEVRA per line) and
//! `dnf updateinfo info --updates` (each advisory's fields, including its CVE ids), merged by id.
//!
//! `list` labels a security advisory with its severity (`Important/Sec.`; `Unknown/Sec.` without one) and
//! any other with its type (`bugfix`, `enhancement`, `newpackage`). `info` prints `Key: value` lines, with a
//! repeated key's further values on lines that start with spaces and `: ` (two CVEs below). Only what the
//! repository's `updateinfo.xml` says is reported: nothing is guessed from package names.

use lpa_protocol::{Advisory, Severity, UpgradablePackage};
use std::collections::BTreeMap;

/// One advisory that applies to an available update.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnfAdvisory {
    /// `DEMO-2026-0001`, `RHSA-2024:1234`, `FEDORA-2024-…`.
    pub id: String,
    /// `security`, `bugfix`, `enhancement`, `newpackage`.
    pub kind: String,
    /// The API's severity (Critical/Important/Moderate/Low → critical/high/medium/low); `None` when the
    /// advisory has none.
    pub severity: Option<Severity>,
    /// The title `info` prints above the advisory.
    pub title: String,
    /// CVE ids, in the advisory's order.
    pub cves: Vec<String>,
    /// NEVRAs of the updates it covers (`demo-lib-1.0.1-1.noarch`).
    pub packages: Vec<String>,
}

impl DnfAdvisory {
    /// Whether this is a security advisory.
    pub fn is_security(&self) -> bool {
        self.kind == "security"
    }

    /// The API's form.
    pub fn to_api(&self) -> Advisory {
        Advisory {
            id: self.id.clone(),
            kind: self.kind.clone(),
            severity: self.severity,
            cve_ids: self.cves.clone(),
            title: self.title.clone(),
        }
    }
}

/// Marks each upgrade covered by an advisory (matched by its NEVRA `name-evr.arch`): `security` when a
/// security advisory covers it, and `advisory` = the most severe covering advisory, security ones first.
pub fn annotate(list: &mut [UpgradablePackage], advisories: &[DnfAdvisory]) {
    for pkg in list.iter_mut() {
        let nevra = format!(
            "{}-{}.{}",
            pkg.name,
            pkg.available_version,
            pkg.architecture.as_deref().unwrap_or("")
        );
        let rank = |a: &DnfAdvisory| {
            let sev = match a.severity {
                Some(Severity::Critical) => 4,
                Some(Severity::High) => 3,
                Some(Severity::Medium) => 2,
                Some(Severity::Low) => 1,
                None => 0,
            };
            (a.is_security(), sev)
        };
        let best = advisories
            .iter()
            .filter(|a| a.packages.contains(&nevra))
            .max_by_key(|a| rank(a));
        if let Some(a) = best {
            pkg.security = a.is_security();
            pkg.advisory = Some(a.to_api());
        }
    }
}

/// Critical/Important/Moderate/Low → critical/high/medium/low; anything else (`Unknown`, `None`) → `None`.
pub fn api_severity(dnf: &str) -> Option<Severity> {
    match dnf.trim() {
        "Critical" => Some(Severity::Critical),
        "Important" => Some(Severity::High),
        "Moderate" => Some(Severity::Medium),
        "Low" => Some(Severity::Low),
        _ => None,
    }
}

/// Parses `updateinfo list` into advisories with their packages (no CVEs yet).
pub fn parse_list(text: &str) -> Vec<DnfAdvisory> {
    let mut by_id: BTreeMap<String, DnfAdvisory> = BTreeMap::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(id), Some(label), Some(nevra), None) = (f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        let (kind, severity) = match label.strip_suffix("/Sec.") {
            Some(sev) => ("security".to_owned(), api_severity(sev)),
            None => (label.to_owned(), None),
        };
        let adv = by_id.entry(id.to_owned()).or_insert_with(|| DnfAdvisory {
            id: id.to_owned(),
            kind,
            severity,
            ..DnfAdvisory::default()
        });
        adv.packages.push(nevra.to_owned());
    }
    by_id.into_values().collect()
}

/// Parses `updateinfo info` into advisories with type, severity and CVEs (no packages).
pub fn parse_info(text: &str) -> Vec<DnfAdvisory> {
    let mut out: Vec<DnfAdvisory> = Vec::new();
    let mut last_key = String::new();
    let mut title = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        // `====` / `  TITLE` / `====` precedes each advisory: a line followed by `====` is a title.
        if line.starts_with("====") {
            continue;
        }
        if lines.peek().is_some_and(|next| next.starts_with("====")) {
            title = line.trim().to_owned();
            continue;
        }
        let Some((key, value)) = line
            .split_once(": ")
            .or_else(|| line.strip_suffix(':').map(|k| (k, "")))
        else {
            continue;
        };
        let key = key.trim();
        let value = value.trim();
        // A continuation line (`           : CVE-2026-0002`) repeats the previous key.
        let key = if key.is_empty() {
            last_key.clone()
        } else {
            key.to_owned()
        };
        if key == "Update ID" {
            out.push(DnfAdvisory {
                id: value.to_owned(),
                title: std::mem::take(&mut title),
                ..DnfAdvisory::default()
            });
        }
        if let Some(adv) = out.last_mut() {
            match key.as_str() {
                "Type" => adv.kind = value.to_owned(),
                "Severity" => adv.severity = api_severity(value),
                "CVEs" if !value.is_empty() => adv.cves.push(value.to_owned()),
                _ => {}
            }
        }
        last_key = key;
    }
    out
}

/// The advisories of `list`, completed with the type, severity and CVEs of `info` (which wins: `list` shows
/// a severity for security advisories only).
pub fn merge(list: Vec<DnfAdvisory>, info: &[DnfAdvisory]) -> Vec<DnfAdvisory> {
    list.into_iter()
        .map(|mut adv| {
            if let Some(i) = info.iter().find(|i| i.id == adv.id) {
                if !i.kind.is_empty() {
                    adv.kind = i.kind.clone();
                }
                if i.severity.is_some() {
                    adv.severity = i.severity;
                }
                adv.cves = i.cves.clone();
                adv.title = i.title.clone();
            }
            adv
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::dnf::recorded::Recorded;

    fn recorded() -> Vec<DnfAdvisory> {
        merge(
            parse_list(&Recorded::load("updateinfo-list").stdout),
            &parse_info(&Recorded::load("updateinfo-info").stdout),
        )
    }

    #[test]
    fn recorded_security_advisory_has_its_id_severity_cves_and_package() {
        let all = recorded();
        let sec = all.iter().find(|a| a.id == "DEMO-2026-0001").unwrap();
        assert!(sec.is_security());
        assert_eq!(sec.severity, Some(Severity::High));
        assert_eq!(sec.title, "Important: demo-lib security update");
        assert_eq!(sec.cves, ["CVE-2026-0001", "CVE-2026-0002"]);
        assert_eq!(sec.packages, ["demo-lib-1.0.1-1.noarch"]);
    }

    #[test]
    fn recorded_bugfix_advisory_is_not_security_and_keeps_its_severity() {
        let all = recorded();
        let fix = all.iter().find(|a| a.id == "DEMO-2026-0002").unwrap();
        assert!(!fix.is_security());
        assert_eq!(fix.kind, "bugfix");
        assert_eq!(fix.severity, Some(Severity::Low));
        assert!(fix.cves.is_empty());
        assert_eq!(fix.packages, ["hello-1.1-1.noarch"]);
        assert_eq!(all.len(), 2);
    }

    #[test]
    fn severities_map_to_the_api_and_unknown_is_none() {
        assert_eq!(api_severity("Critical"), Some(Severity::Critical));
        assert_eq!(api_severity("Moderate"), Some(Severity::Medium));
        assert_eq!(api_severity("Unknown"), None);
        let l = parse_list(
            "RHSA-2024:1 Unknown/Sec. a-1-1.x86_64\nRHSA-2024:1 Unknown/Sec. b-1-1.x86_64\n",
        );
        assert_eq!(l[0].severity, None);
        assert_eq!(l[0].packages.len(), 2);
        assert!(parse_list("").is_empty() && parse_info("").is_empty());
    }

    #[test]
    fn recorded_advisories_mark_exactly_the_covered_upgrades() {
        use crate::backend::dnf::{installed::snapshot_entries, repoquery::upgradable};
        let installed = snapshot_entries(&Recorded::load("rpm-qa").stdout);
        let mut list = upgradable(&Recorded::load("repoquery-upgrades").stdout, &installed);
        annotate(&mut list, &recorded());
        let get = |n: &str| list.iter().find(|u| u.name == n).unwrap();
        let lib = get("demo-lib");
        assert!(lib.security);
        let adv = lib.advisory.as_ref().unwrap();
        assert_eq!(
            (adv.id.as_str(), adv.severity),
            ("DEMO-2026-0001", Some(Severity::High))
        );
        assert_eq!(adv.cve_ids, ["CVE-2026-0001", "CVE-2026-0002"]);
        let hello = get("hello");
        assert!(!hello.security);
        assert_eq!(
            hello.advisory.as_ref().map(|a| a.kind.as_str()),
            Some("bugfix")
        );
        assert!(!get("demo-app").security && get("demo-app").advisory.is_none());
    }
}
