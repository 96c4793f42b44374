//! The upgradable list, from either of apk's two reports (both read from `LC_ALL=C` output, identical in
//! apk-tools 2.14.9 and 3.0.6):
//!
//! - `apk list --upgradable`: `NAME-NEWVER ARCH {ORIGIN} (LICENSE) [upgradable from: NAME-OLDVER]`;
//! - `apk version -l '<'`: a header `Installed: … Available:`, then `NAME-OLDVER  < NEWVER` lines.
//!
//! apk's repositories carry no security metadata, so `security` is always `false` here (Alpine's secdb
//! would be a separate source) and `advisory` is `None`, and neither report names the repository, so `sources` is empty.

use super::db::split_name_version;
use lpa_protocol::UpgradablePackage;

/// Parses `apk list --upgradable`. Lines that do not have the documented shape are skipped.
pub fn parse_list_upgradable(stdout: &str) -> Vec<UpgradablePackage> {
    let mut out: Vec<UpgradablePackage> = stdout.lines().filter_map(list_line).collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn list_line(line: &str) -> Option<UpgradablePackage> {
    let line = line.trim_end();
    let (head, status) = line.rsplit_once(" [")?;
    let from = status
        .strip_suffix(']')?
        .strip_prefix("upgradable from: ")?;
    let mut words = head.split_whitespace();
    let (name, new) = split_name_version(words.next()?)?;
    let arch = words.next()?;
    if !words.next()?.starts_with('{') {
        return None;
    }
    let (old_name, old) = split_name_version(from.trim())?;
    if old_name != name {
        return None;
    }
    Some(UpgradablePackage {
        name: name.to_owned(),
        current_version: Some(old.to_owned()),
        available_version: new.to_owned(),
        architecture: Some(arch.to_owned()),
        sources: Vec::new(),
        security: false,
        advisory: None,
    })
}

/// Parses `apk version -l '<'`: only lines whose comparison column is `<` (an installed package older than
/// the repositories' version) count; the header and anything else are skipped.
pub fn parse_version_outdated(stdout: &str) -> Vec<UpgradablePackage> {
    let mut out: Vec<UpgradablePackage> = stdout
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let (name, old) = split_name_version(words.next()?)?;
            if words.next()? != "<" {
                return None;
            }
            let new = words.next()?;
            Some(UpgradablePackage {
                name: name.to_owned(),
                current_version: Some(old.to_owned()),
                available_version: new.to_owned(),
                architecture: None,
                sources: Vec::new(),
                security: false,
                advisory: None,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::apk::transcript::{VERSIONS, find};

    fn pairs(list: &[UpgradablePackage]) -> Vec<(&str, &str, &str)> {
        list.iter()
            .map(|u| {
                (
                    u.name.as_str(),
                    u.current_version.as_deref().unwrap_or(""),
                    u.available_version.as_str(),
                )
            })
            .collect()
    }

    #[test]
    fn recorded_list_upgradable_gives_both_updates_of_v2_in_both_apk_versions() {
        for v in VERSIONS {
            let rec = find(v, "list --upgradable");
            let list = parse_list_upgradable(&rec.stdout);
            assert_eq!(
                pairs(&list),
                [
                    ("demo-hello", "1.0-r0", "1.1-r0"),
                    ("demo-lib", "1.0-r0", "1.0.1-r0")
                ],
                "apk {v}"
            );
            assert!(
                list.iter()
                    .all(|u| u.architecture.as_deref() == Some("x86_64")
                        && !u.security
                        && u.sources.is_empty())
            );
        }
    }

    #[test]
    fn recorded_version_outdated_agrees_with_list_upgradable() {
        for v in VERSIONS {
            let from_version = parse_version_outdated(&find(v, "version -l <").stdout);
            let from_list = parse_list_upgradable(&find(v, "list --upgradable").stdout);
            assert_eq!(pairs(&from_version), pairs(&from_list), "apk {v}");
        }
    }

    #[test]
    fn empty_output_and_the_installed_list_give_nothing() {
        assert!(parse_list_upgradable("").is_empty());
        assert!(parse_version_outdated("").is_empty());
        assert!(
            parse_version_outdated("Installed:                                Available:\n")
                .is_empty()
        );
        for v in VERSIONS {
            // `list --installed` lines end in `[installed]`, not `[upgradable from: …]`.
            assert!(parse_list_upgradable(&find(v, "list --installed").stdout).is_empty());
        }
    }

    #[test]
    fn odd_versions_licenses_and_equal_or_newer_lines() {
        let list = parse_list_upgradable(
            "py3-foo-bar-2.0_rc1-r3 aarch64 {py3-foo} (GPL-2.0-or-later AND (MIT OR BSD)) [upgradable from: py3-foo-bar-1.9_p2-r0]\n\
             musl-1.2.5~ab12-r1 x86_64 {musl} (MIT) [upgradable from: musl-1.2.4-r2]\n\
             garbage line\n",
        );
        assert_eq!(
            pairs(&list),
            [
                ("musl", "1.2.4-r2", "1.2.5~ab12-r1"),
                ("py3-foo-bar", "1.9_p2-r0", "2.0_rc1-r3")
            ]
        );
        assert_eq!(list[1].architecture.as_deref(), Some("aarch64"));
        let out = parse_version_outdated(
            "Installed:                                Available:\nbusybox-1.36.1-r15                      = 1.36.1-r15\nzlib-1.3-r0                             > 1.2.13-r1\nmusl-1.2.4-r2                           < 1.2.5-r0 \n",
        );
        assert_eq!(pairs(&out), [("musl", "1.2.4-r2", "1.2.5-r0")]);
    }
}
