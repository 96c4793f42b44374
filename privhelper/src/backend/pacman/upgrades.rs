//! `pacman -Qu` against the listing database: one line per outdated package,
//! `NAME OLDVER -> NEWVER`, with ` [ignored]` appended for packages in `IgnorePkg`/`IgnoreGroup`.
//! pacman exits 1 with no output when nothing is outdated, which is not an error.
//!
//! pacman prints no architecture and no repository here; the repositories carry no security data, so
//! every update is `security: false` (never guessed from a name).

use lpa_protocol::UpgradablePackage;

/// One `-Qu` line; `None` for anything else.
pub fn parse_line(line: &str) -> Option<(UpgradablePackage, bool)> {
    let mut words = line.split_whitespace();
    let (name, old, arrow, new) = (words.next()?, words.next()?, words.next()?, words.next()?);
    if arrow != "->" {
        return None;
    }
    let ignored = match words.next() {
        None => false,
        Some("[ignored]") => true,
        Some(_) => return None,
    };
    Some((
        UpgradablePackage {
            name: name.to_owned(),
            current_version: Some(old.to_owned()),
            available_version: new.to_owned(),
            architecture: None,
            sources: Vec::new(),
            security: false,
            advisory: None,
        },
        ignored,
    ))
}

/// The upgradable packages of a `-Qu` output, sorted by name. Ignored packages are left out: pacman will
/// not upgrade them, like apt's held packages.
pub fn parse(stdout: &str) -> Vec<UpgradablePackage> {
    let mut out: Vec<UpgradablePackage> = stdout
        .lines()
        .filter_map(parse_line)
        .filter(|(_, ignored)| !ignored)
        .map(|(p, _)| p)
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::pacman::recorded::Recorded;

    #[test]
    fn recorded_upgrades_list_every_update_without_security_marks() {
        let rec = Recorded::load("query-upgrades");
        assert_eq!(rec.rc, 0);
        let ups = parse(&rec.stdout);
        let got: Vec<(&str, Option<&str>, &str)> = ups
            .iter()
            .map(|u| {
                (
                    u.name.as_str(),
                    u.current_version.as_deref(),
                    u.available_version.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("demo-app", Some("1.0-1"), "1.1-1"),
                ("demo-lib", Some("1.0-1"), "1.0.1-1"),
                ("demo-tool", Some("1.0-1"), "1.2-1"),
                ("hello", Some("1.0-1"), "1.1-1"),
            ]
        );
        assert!(
            ups.iter()
                .all(|u| !u.security && u.advisory.is_none() && u.sources.is_empty())
        );
    }

    #[test]
    fn recorded_nothing_to_upgrade_is_exit_1_and_empty() {
        let rec = Recorded::load("query-upgrades-empty");
        assert_eq!(
            (rec.rc, rec.stdout.as_str(), rec.stderr.as_str()),
            (1, "", "")
        );
        assert!(parse(&rec.stdout).is_empty());
    }

    #[test]
    fn recorded_epoch_wins_over_the_version() {
        let ups = parse(&Recorded::load("query-upgrades-epoch").stdout);
        assert_eq!(ups.len(), 1);
        assert_eq!(ups[0].current_version.as_deref(), Some("1:1.0~rc1-1"));
        assert_eq!(ups[0].available_version, "2:0.9-1");
    }

    #[test]
    fn recorded_tilde_is_not_a_pre_release_for_pacman() {
        // 1:1.0~rc1-1 installed, 1:1.0-2 in the repository: libalpm's vercmp ranks "1.0~rc1" above "1.0"
        // (unlike dpkg and rpm), so pacman reports nothing to upgrade.
        let rec = Recorded::load("query-upgrades-odd");
        assert_eq!(rec.rc, 1);
        assert!(parse(&rec.stdout).is_empty());
    }

    #[test]
    fn ignored_packages_and_foreign_lines_are_left_out() {
        let text =
            "hello 1.0-1 -> 1.1-1 [ignored]\nwarning: something\n\ndemo-lib 1.0-1 -> 1.0.1-1\n";
        let ups = parse(text);
        assert_eq!(ups.len(), 1);
        assert_eq!(ups[0].name, "demo-lib");
        assert_eq!(parse_line("a 1 => 2"), None);
        assert_eq!(parse_line("a 1 -> 2 extra"), None);
    }
}
