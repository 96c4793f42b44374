//! Which apk command-table entry performs a [`Change`], with apk's own rules checked first.
//!
//! apk differs from apt in three ways that the plan has to make up for:
//! - it downgrades silently when a request pins an older version (`apk add demo-hello=1.0-r0` prints
//!   `Downgrading`), so a pin below the installed version is refused unless the request allows downgrades;
//! - it has no "recommends", so `no_recommends` changes nothing;
//! - the API's `force` (reinstall) is `apk fix --reinstall`, which only applies to packages already
//!   installed at the wanted version; otherwise the request is a normal `apk add`.
//!
//! Before any entry is chosen, every name is resolved exactly ([`super::exact`]): installs and pinned
//! updates against the installed database and the repository indexes (`available`), removals and
//! upgrades against the installed database; anything else is `PKG_NOT_FOUND` and apk never runs.
//!
//! A pinned install or update (`name=VERSION`) is recorded by apk in `/etc/apk/world`, so the package stays
//! at that version until a later request names it again: apk's semantics, reported as `held`.

use super::db::ApkRecord;
use super::detail::is_downgrade;
use super::exact::{check_available, check_installed};
use super::installed::Installed;
use crate::backend::Change;
use lpa_protocol::launcher::Invocation;
use lpa_protocol::{Backend, HelperError, PackageName, PackageSpec, ValidationError};

/// Whether planning `change` needs the repository indexes (installs and pinned updates name packages
/// that may not be installed yet).
pub fn needs_indexes(change: &Change) -> bool {
    matches!(
        change,
        Change::Install { .. }
            | Change::Update {
                version: Some(_),
                ..
            }
    )
}

/// The entry for `change` on a root whose installed state is `installed` and whose readable repository
/// indexes list `available` (read only when [`needs_indexes`]).
pub fn plan(
    change: Change,
    installed: &Installed,
    available: &[ApkRecord],
) -> Result<Invocation, HelperError> {
    match change {
        Change::Refresh => Ok(Invocation::ApkUpdate),
        Change::Install { packages, options } => {
            check_specs(&packages)?;
            check_available(&packages, installed, available)?;
            if !options.allow_downgrade {
                refuse_downgrades(&packages, installed)?;
            }
            let all_installed_as_asked = packages.iter().all(|p| {
                installed
                    .package(p.name.as_str())
                    .is_some_and(|r| p.version.as_ref().is_none_or(|v| v.as_str() == r.version))
            });
            if options.reinstall && all_installed_as_asked {
                Ok(Invocation::ApkReinstall {
                    names: packages.into_iter().map(|p| p.name).collect(),
                })
            } else {
                Ok(Invocation::ApkAdd { packages })
            }
        }
        Change::Update {
            name,
            version: Some(version),
        } => {
            let packages = vec![PackageSpec {
                name,
                version: Some(version),
            }];
            check_specs(&packages)?;
            check_available(&packages, installed, available)?;
            Ok(Invocation::ApkAdd { packages })
        }
        Change::Update {
            name,
            version: None,
        } => {
            check_names(std::slice::from_ref(&name))?;
            check_installed(std::slice::from_ref(&name), installed)?;
            Ok(Invocation::ApkUpgradeSelected { names: vec![name] })
        }
        Change::Remove { name, purge } => {
            check_names(std::slice::from_ref(&name))?;
            check_installed(std::slice::from_ref(&name), installed)?;
            Ok(Invocation::ApkDel {
                names: vec![name],
                purge,
            })
        }
        Change::UpgradeAll => Ok(Invocation::ApkUpgradeAll),
        Change::UpgradeSome { names, .. } => {
            check_names(&names)?;
            check_installed(&names, installed)?;
            Ok(Invocation::ApkUpgradeSelected { names })
        }
    }
}

fn invalid(e: ValidationError) -> HelperError {
    HelperError::Validation {
        message: e.to_string(),
    }
}

fn check_names(names: &[PackageName]) -> Result<(), HelperError> {
    if names.is_empty() {
        return Err(HelperError::Validation {
            message: "at least one package is needed".into(),
        });
    }
    names
        .iter()
        .try_for_each(|n| Backend::Apk.check_name(n).map_err(invalid))
}

fn check_specs(specs: &[PackageSpec]) -> Result<(), HelperError> {
    let names: Vec<PackageName> = specs.iter().map(|p| p.name.clone()).collect();
    check_names(&names)?;
    specs
        .iter()
        .filter_map(|p| p.version.as_ref())
        .try_for_each(|v| Backend::Apk.check_version(v).map_err(invalid))
}

fn refuse_downgrades(specs: &[PackageSpec], installed: &Installed) -> Result<(), HelperError> {
    for p in specs {
        let (Some(wanted), Some(rec)) = (&p.version, installed.package(p.name.as_str())) else {
            continue;
        };
        if is_downgrade(&rec.version, wanted.as_str()) {
            return Err(HelperError::Validation {
                message: format!(
                    "{} {} is older than the installed {}: a downgrade needs allow_downgrade",
                    p.name, wanted, rec.version
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lpa_protocol::{InstallOptions, Version};

    fn installed() -> Installed {
        Installed::parse(
            "P:demo-hello\nV:1.1-r0\nA:x86_64\n\nP:demo-lib\nV:1.0.1-r0\nA:x86_64\n",
            "demo-hello\n",
        )
        .unwrap()
    }

    /// What the repository indexes list in these tests.
    fn available() -> Vec<ApkRecord> {
        crate::backend::apk::db::parse(
            "P:demo-hello\nV:1.0-r0\n\nP:demo-hello\nV:1.2-r0\n\nP:demo-tool\nV:1.2-r0\np:demo-virtual\n",
        )
        .unwrap()
    }

    fn name(s: &str) -> PackageName {
        PackageName::new(s).unwrap()
    }

    fn spec(n: &str, v: Option<&str>) -> PackageSpec {
        PackageSpec {
            name: name(n),
            version: v.map(|v| Version::new(v).unwrap()),
        }
    }

    fn install(
        specs: Vec<PackageSpec>,
        options: InstallOptions,
    ) -> Result<Invocation, HelperError> {
        plan(
            Change::Install {
                packages: specs,
                options,
            },
            &installed(),
            &available(),
        )
    }

    #[test]
    fn each_change_maps_to_its_apk_entry() {
        let i = installed();
        assert_eq!(
            plan(Change::Refresh, &i, &available()).unwrap(),
            Invocation::ApkUpdate
        );
        assert_eq!(
            plan(Change::UpgradeAll, &i, &available()).unwrap(),
            Invocation::ApkUpgradeAll
        );
        assert_eq!(
            plan(
                Change::UpgradeSome {
                    names: vec![name("demo-lib")],
                    upgradable: vec![]
                },
                &i,
                &available()
            )
            .unwrap(),
            Invocation::ApkUpgradeSelected {
                names: vec![name("demo-lib")]
            }
        );
        assert_eq!(
            plan(
                Change::Update {
                    name: name("demo-lib"),
                    version: None
                },
                &i,
                &available()
            )
            .unwrap(),
            Invocation::ApkUpgradeSelected {
                names: vec![name("demo-lib")]
            }
        );
        assert_eq!(
            plan(
                Change::Remove {
                    name: name("demo-lib"),
                    purge: true
                },
                &i,
                &available()
            )
            .unwrap(),
            Invocation::ApkDel {
                names: vec![name("demo-lib")],
                purge: true
            }
        );
        assert_eq!(
            install(
                vec![spec("demo-tool", Some("1.2-r0"))],
                InstallOptions::default()
            )
            .unwrap(),
            Invocation::ApkAdd {
                packages: vec![spec("demo-tool", Some("1.2-r0"))]
            }
        );
    }

    #[test]
    fn a_pin_below_the_installed_version_needs_allow_downgrade() {
        // Recorded: apk itself downgrades on `add demo-hello=1.0-r0` without asking.
        let err = install(
            vec![spec("demo-hello", Some("1.0-r0"))],
            InstallOptions::default(),
        )
        .unwrap_err();
        assert!(
            matches!(&err, HelperError::Validation { message } if message.contains("allow_downgrade")),
            "{err:?}"
        );
        let allowed = InstallOptions {
            allow_downgrade: true,
            ..InstallOptions::default()
        };
        assert!(install(vec![spec("demo-hello", Some("1.0-r0"))], allowed).is_ok());
        assert!(
            install(
                vec![spec("demo-hello", Some("1.2-r0"))],
                InstallOptions::default()
            )
            .is_ok()
        );
    }

    #[test]
    fn force_reinstalls_only_what_is_installed_as_asked() {
        let force = InstallOptions {
            reinstall: true,
            ..InstallOptions::default()
        };
        assert_eq!(
            install(
                vec![spec("demo-hello", None), spec("demo-lib", Some("1.0.1-r0"))],
                force
            )
            .unwrap(),
            Invocation::ApkReinstall {
                names: vec![name("demo-hello"), name("demo-lib")]
            }
        );
        assert!(matches!(
            install(vec![spec("demo-tool", None)], force).unwrap(),
            Invocation::ApkAdd { .. }
        ));
    }

    #[test]
    fn apk_grammar_is_enforced_before_any_entry_is_chosen() {
        for bad in [
            vec![spec("evil.apk", None)],
            vec![spec("demo-hello", Some("1:1.0-1"))],
            vec![],
        ] {
            assert!(
                matches!(
                    install(bad.clone(), InstallOptions::default()),
                    Err(HelperError::Validation { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(
            plan(
                Change::UpgradeSome {
                    names: vec![],
                    upgradable: vec![]
                },
                &installed(),
                &available()
            )
            .is_err()
        );
    }
}

#[cfg(test)]
mod exact_tests {
    use super::*;
    use lpa_protocol::{FailureKind, InstallOptions, Version};

    fn not_found(r: Result<Invocation, HelperError>) -> bool {
        matches!(r, Err(HelperError::Change(f)) if f.kind == FailureKind::PackageNotFound)
    }

    #[test]
    fn provided_and_unknown_names_are_refused_before_any_entry_is_chosen() {
        let installed = Installed::parse("P:demo-lib\nV:1.0-r0\np:libdemo\n", "").unwrap();
        let available =
            crate::backend::apk::db::parse("P:demo-tool\nV:1.2-r0\np:demo-virtual\n").unwrap();
        let n = |s: &str| PackageName::new(s).unwrap();
        let install = |s: &str, v: Option<&str>| Change::Install {
            packages: vec![PackageSpec {
                name: n(s),
                version: v.map(|v| Version::new(v).unwrap()),
            }],
            options: InstallOptions::default(),
        };
        for change in [
            install("demo-virtual", None),
            install("libdemo", None),
            install("demo-tool", Some("1.1-r0")),
            Change::Update {
                name: n("demo-virtual"),
                version: Some(Version::new("1.2-r0").unwrap()),
            },
            Change::Update {
                name: n("libdemo"),
                version: None,
            },
            Change::Remove {
                name: n("libdemo"),
                purge: false,
            },
            Change::UpgradeSome {
                names: vec![n("demo-lib"), n("libdemo")],
                upgradable: vec![],
            },
        ] {
            let shown = format!("{change:?}");
            assert!(not_found(plan(change, &installed, &available)), "{shown}");
        }
        // Positive controls: the exact names still plan.
        assert!(plan(install("demo-tool", Some("1.2-r0")), &installed, &available).is_ok());
        assert!(
            plan(
                Change::Remove {
                    name: n("demo-lib"),
                    purge: false
                },
                &installed,
                &available
            )
            .is_ok()
        );
        assert!(!needs_indexes(&Change::UpgradeAll));
        assert!(needs_indexes(&install("demo-tool", None)));
    }
}
