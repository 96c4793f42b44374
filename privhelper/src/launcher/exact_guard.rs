//! The launcher's own check that every apt (and pacman install) target names a package the package
//! manager really has (issue 11).
//!
//! apt reads an argument naming no package as a regular expression or glob — even in the exact form
//! `NAME:ARCH=VERSION` the launcher builds (`hell.:all=1.0` installs hello 1.0). The broker resolves names
//! before it asks, but the launcher does not trust the broker: before an `apt-get install/remove` entry runs,
//! it asks `apt-cache show -- NAME` (a read of the same table) for each target and requires a record whose
//! `Package:` is exactly NAME, at the target's architecture (`all` records count for any) and, when pinned,
//! at exactly that version. apt-cache widens too; only exact fields count.
//!
//! pacman installs a group's members or a provider for a name that is no package, even as `REPO/NAME`;
//! for a `PacmanInstall` the launcher asks `pacman -Si -- NAME` (package names only) on the system's sync
//! databases and requires that exact `Name`, in that `Repository`, at the pinned `Version`. `pacman -R`
//! removes a group's members for a group name; for a `PacmanRemove` the launcher asks `pacman -Q -- NAME`
//! (installed package names only) on the system's local database and requires that exact name.
//!
//! dnf reads `hello-1.0` as hello at 1.0 and an unknown name as a provide or file. Before a dnf install,
//! reinstall or downgrade the launcher asks `dnf repoquery --available` for each name (waiting out dnf's
//! lock, which `exit_on_lock` turns into exit 200) and requires a record named exactly NAME, at exactly
//! the pinned `EPOCH:VERSION-RELEASE`; before a dnf upgrade or removal it asks `rpm -q --qf '%{NAME}'`
//! and requires the printed name to be exactly NAME.

use super::spawn::{self, SpawnPolicy};
use super::table::{self, Table};
use lpa_protocol::launcher::{AptTarget, Invocation, LaunchError, PacmanTarget};
use std::time::Duration;

mod dnf;

/// Refuses `inv` when one of its apt targets has no exact record; other entries pass.
pub fn check(inv: &Invocation, table: &Table, policy: &SpawnPolicy) -> Result<(), LaunchError> {
    let targets: &[AptTarget] = match inv {
        Invocation::AptGetInstall { packages, .. } => packages,
        Invocation::AptGetRemove { names, .. } | Invocation::AptGetOnlyUpgrade { names } => names,
        Invocation::PacmanInstall { packages, .. } => return check_pacman(packages, table, policy),
        Invocation::PacmanRemove { names, .. } => {
            return check_pacman_installed(names, table, policy);
        }
        Invocation::DnfInstall { packages, .. }
        | Invocation::DnfReinstall { packages }
        | Invocation::DnfDowngrade { packages } => {
            return dnf::check_available(inv, packages, table, policy);
        }
        Invocation::DnfUpgrade { names } | Invocation::DnfRemove { names } => {
            return dnf::check_installed(inv, names, table, policy);
        }
        _ => return Ok(()),
    };
    let pinned = matches!(inv, Invocation::AptGetInstall { .. });
    for t in targets {
        let show = Invocation::AptCacheShowAll {
            name: t.name.clone(),
        };
        let out = spawn::run_with(
            |fd| table::command_line(&show, table, fd),
            policy,
            policy.timeout.min(Duration::from_secs(120)),
            None,
            |_| {},
        )?;
        let version = if pinned { t.version.as_ref() } else { None };
        if !has_exact_record(&out.stdout, t, version.map(|v| v.as_str())) {
            return Err(LaunchError::NotAvailable(format!(
                "refusing an apt argument: apt has no package named exactly {}:{}{}",
                t.name,
                t.arch.as_str(),
                version
                    .map(|v| format!("={}", v.as_str()))
                    .unwrap_or_default()
            )));
        }
    }
    Ok(())
}

fn check_pacman(
    targets: &[PacmanTarget],
    table: &Table,
    policy: &SpawnPolicy,
) -> Result<(), LaunchError> {
    for t in targets {
        let info = Invocation::PacmanSystemSyncInfo {
            name: t.name.clone(),
        };
        let out = spawn::run_with(
            |fd| table::command_line(&info, table, fd),
            policy,
            policy.timeout.min(Duration::from_secs(120)),
            None,
            |_| {},
        )?;
        let fields = crate::backend::pacman::info::fields(&out.stdout);
        let get = |key: &str| {
            fields
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let exact = get("Name") == Some(t.name.as_str())
            && get("Repository") == Some(t.repo.as_str())
            && t.version
                .as_ref()
                .is_none_or(|v| get("Version") == Some(v.as_str()));
        if !exact {
            return Err(LaunchError::NotAvailable(format!(
                "refusing a pacman argument: no package named exactly {}/{}{}",
                t.repo.as_str(),
                t.name,
                t.version
                    .as_ref()
                    .map(|v| format!("={}", v.as_str()))
                    .unwrap_or_default()
            )));
        }
    }
    Ok(())
}

fn check_pacman_installed(
    names: &[lpa_protocol::PackageName],
    table: &Table,
    policy: &SpawnPolicy,
) -> Result<(), LaunchError> {
    for name in names {
        let query = Invocation::PacmanQueryInstalled { name: name.clone() };
        let out = spawn::run_with(
            |fd| table::command_line(&query, table, fd),
            policy,
            policy.timeout.min(Duration::from_secs(120)),
            None,
            |_| {},
        )?;
        if out.exit_code != Some(0) || !is_installed_line(&out.stdout, name.as_str()) {
            return Err(LaunchError::NotAvailable(format!(
                "refusing a pacman argument: no installed package named exactly {name}"
            )));
        }
    }
    Ok(())
}

/// Whether `pacman -Q -- NAME` printed exactly one line `NAME VERSION`.
fn is_installed_line(stdout: &str, name: &str) -> bool {
    let mut lines = stdout.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next();
    lines.next().is_none()
        && first.is_some_and(|l| {
            let mut f = l.split_whitespace();
            f.next() == Some(name) && f.next().is_some() && f.next().is_none()
        })
}

/// Whether `apt-cache show` output has a record of exactly `t` (and `version`, when given).
fn has_exact_record(stdout: &str, t: &AptTarget, version: Option<&str>) -> bool {
    crate::pkgdb::deb822::parse(stdout).iter().any(|p| {
        p.get("Package") == Some(t.name.as_str())
            && p.get("Architecture")
                .is_some_and(|a| a == t.arch.as_str() || a == "all" || t.arch.as_str() == "all")
            && version.is_none_or(|v| p.get("Version") == Some(v))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lpa_protocol::{Architecture, PackageName, Version};

    fn t(n: &str, a: &str, v: Option<&str>) -> AptTarget {
        AptTarget {
            name: PackageName::new(n).unwrap(),
            arch: Architecture::new(a).unwrap(),
            version: v.map(|v| Version::new(v).unwrap()),
        }
    }

    #[test]
    fn only_an_exact_record_passes() {
        // `apt-cache show -- hell.` widened to hello.
        let shown = "Package: hello\nVersion: 1.0\nArchitecture: all\n\nPackage: hello\nVersion: 1.1\nArchitecture: all\n";
        assert!(has_exact_record(shown, &t("hello", "all", None), None));
        assert!(has_exact_record(
            shown,
            &t("hello", "amd64", None),
            Some("1.0")
        ));
        assert!(!has_exact_record(
            shown,
            &t("hello", "all", None),
            Some("1.2")
        ));
        assert!(!has_exact_record(shown, &t("hell.", "all", None), None));
        assert!(!has_exact_record("", &t("hello", "all", None), None));
    }

    #[test]
    fn only_one_exact_installed_line_passes() {
        assert!(is_installed_line("demo-tool 1.0-1\n", "demo-tool"));
        assert!(!is_installed_line("demo-tool 1.0-1\n", "demo-too"));
        assert!(!is_installed_line("", "demo-tool"));
        assert!(!is_installed_line(
            "demo-tool 1.0-1\nhello 1.0-1\n",
            "demo-tool"
        ));
    }
}
