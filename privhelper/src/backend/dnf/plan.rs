//! Which dnf command-table entry each [`Change`] becomes, given what is installed.
//!
//! The installed versions matter because dnf 4's `install NAME-OLDER` downgrades silently (recorded:
//! `install-older`): a requested version below the installed one is refused unless the request allows
//! downgrades, and then it runs as `dnf downgrade`, which says what it does (and which yum 3, unlike `install`,
//! accepts). `force` (reinstall) runs `dnf reinstall`, which only knows installed packages; a request mixing
//! installed and new packages, or downgrades and installs, is refused with the reason rather than half done.

use crate::backend::Change;
use lpa_protocol::launcher::Invocation;
use lpa_protocol::order::rpm::is_downgrade;
use lpa_protocol::{ChangeFailure, FailureKind, HelperError, PackageSpec};

/// `(name, architecture, [epoch:]version-release)` of each installed package (the snapshot entries).
pub type Installed = [(String, String, String)];

fn refused(message: String) -> HelperError {
    HelperError::Change(ChangeFailure {
        kind: FailureKind::PackageManager,
        message,
        exit_code: None,
        stdout: String::new(),
        stderr: String::new(),
        changes: Vec::new(),
    })
}

/// The installed version of `name` (the highest if several architectures are installed).
fn installed_version<'a>(installed: &'a Installed, name: &str) -> Option<&'a str> {
    installed
        .iter()
        .filter(|(n, _, _)| n == name)
        .map(|(_, _, v)| v.as_str())
        .max_by(|a, b| lpa_protocol::order::rpm::compare_evr(a, b))
}

/// Specs whose requested version is below the installed one, as `(spec, installed version)`.
fn downgrades<'a>(
    packages: &'a [PackageSpec],
    installed: &'a Installed,
) -> Vec<(&'a PackageSpec, &'a str)> {
    packages
        .iter()
        .filter_map(|p| {
            let wanted = p.version.as_ref()?;
            let have = installed_version(installed, p.name.as_str())?;
            is_downgrade(have, wanted.as_str()).then_some((p, have))
        })
        .collect()
}

fn describe(list: &[(&PackageSpec, &str)]) -> String {
    list.iter()
        .map(|(p, have)| {
            format!(
                "{} {} → {}",
                p.name,
                have,
                p.version.as_ref().map_or("", |v| v.as_str())
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The entry that performs `change` on a system with `installed`.
pub fn plan(change: Change, installed: &Installed) -> Result<Invocation, HelperError> {
    Ok(match change {
        Change::Refresh => Invocation::DnfMakecache,
        Change::Install { packages, options } => {
            let down = downgrades(&packages, installed);
            if !down.is_empty() {
                if !options.allow_downgrade {
                    return Err(refused(format!(
                        "refusing to downgrade without allow_downgrade: {}",
                        describe(&down)
                    )));
                }
                if down.len() != packages.len() {
                    return Err(refused(format!(
                        "a downgrade ({}) cannot be combined with other packages in one request",
                        describe(&down)
                    )));
                }
                return Ok(Invocation::DnfDowngrade { packages });
            }
            if options.reinstall {
                let missing: Vec<&str> = packages
                    .iter()
                    .map(|p| p.name.as_str())
                    .filter(|n| installed_version(installed, n).is_none())
                    .collect();
                if missing.is_empty() {
                    return Ok(Invocation::DnfReinstall { packages });
                }
                if missing.len() != packages.len() {
                    return Err(refused(format!(
                        "force reinstalls installed packages only; not installed: {}",
                        missing.join(", ")
                    )));
                }
                // Nothing is installed yet: a plain install is what was asked for.
            }
            Invocation::DnfInstall {
                packages,
                no_weak_deps: options.no_recommends,
            }
        }
        Change::Update {
            name,
            version: Some(version),
        } => {
            let spec = PackageSpec {
                name,
                version: Some(version),
            };
            let down = downgrades(std::slice::from_ref(&spec), installed);
            if !down.is_empty() {
                return Err(refused(format!(
                    "an update never downgrades ({}); install the version with allow_downgrade instead",
                    describe(&down)
                )));
            }
            // `install NAME-NEWER` upgrades an installed package to exactly that version.
            Invocation::DnfInstall {
                packages: vec![spec],
                no_weak_deps: false,
            }
        }
        Change::Update {
            name,
            version: None,
        } => Invocation::DnfUpgrade { names: vec![name] },
        // rpm keeps no configuration-only state: purge removes the same way (changed configuration files
        // stay behind as `.rpmsave`, rpm's own rule).
        Change::Remove { name, .. } => Invocation::DnfRemove { names: vec![name] },
        Change::UpgradeAll => Invocation::DnfUpgradeAll,
        Change::UpgradeSome { names, .. } => Invocation::DnfUpgrade { names },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lpa_protocol::{InstallOptions, PackageName, Version};

    fn installed() -> Vec<(String, String, String)> {
        [
            ("hello", "noarch", "1.1-1"),
            ("demo-odd", "x86_64", "2:1.0-1.fc39"),
            ("demo-odd", "i686", "2:1.0~rc1-3.fc39"),
        ]
        .iter()
        .map(|(n, a, v)| ((*n).to_owned(), (*a).to_owned(), (*v).to_owned()))
        .collect()
    }

    fn spec(name: &str, version: Option<&str>) -> PackageSpec {
        PackageSpec {
            name: PackageName::new(name).unwrap(),
            version: version.map(|v| Version::new(v).unwrap()),
        }
    }

    fn install(packages: Vec<PackageSpec>, options: InstallOptions) -> Change {
        Change::Install { packages, options }
    }

    fn refusal(r: Result<Invocation, HelperError>) -> String {
        match r {
            Err(HelperError::Change(f)) => {
                assert_eq!(f.kind, FailureKind::PackageManager);
                f.message
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn an_older_version_is_refused_without_allow_downgrade_and_downgraded_with_it() {
        let msg = refusal(plan(
            install(
                vec![spec("hello", Some("1.0-1"))],
                InstallOptions::default(),
            ),
            &installed(),
        ));
        assert_eq!(
            msg,
            "refusing to downgrade without allow_downgrade: hello 1.1-1 → 1.0-1"
        );
        let allowed = InstallOptions {
            allow_downgrade: true,
            ..InstallOptions::default()
        };
        assert_eq!(
            plan(
                install(vec![spec("hello", Some("1.0"))], allowed),
                &installed()
            )
            .unwrap(),
            Invocation::DnfDowngrade {
                packages: vec![spec("hello", Some("1.0"))]
            }
        );
        let mixed = plan(
            install(
                vec![spec("hello", Some("1.0")), spec("demo-lib", None)],
                allowed,
            ),
            &installed(),
        );
        assert!(refusal(mixed).contains("cannot be combined"));
    }

    #[test]
    fn the_same_or_a_newer_version_and_new_packages_install() {
        for (s, no_weak) in [
            (spec("hello", Some("1.1")), false),
            (spec("hello", Some("1.2-1")), true),
            (spec("demo-lib", Some("0.1")), false),
            (spec("demo-odd", Some("2:1.0-1.fc39")), false),
        ] {
            let options = InstallOptions {
                no_recommends: no_weak,
                ..InstallOptions::default()
            };
            assert_eq!(
                plan(install(vec![s.clone()], options), &installed()).unwrap(),
                Invocation::DnfInstall {
                    packages: vec![s],
                    no_weak_deps: no_weak
                }
            );
        }
    }

    #[test]
    fn force_reinstalls_installed_packages_and_installs_new_ones() {
        let force = InstallOptions {
            reinstall: true,
            ..InstallOptions::default()
        };
        assert_eq!(
            plan(install(vec![spec("hello", None)], force), &installed()).unwrap(),
            Invocation::DnfReinstall {
                packages: vec![spec("hello", None)]
            }
        );
        assert!(matches!(
            plan(install(vec![spec("demo-lib", None)], force), &installed()).unwrap(),
            Invocation::DnfInstall { .. }
        ));
        let mixed = plan(
            install(vec![spec("hello", None), spec("demo-lib", None)], force),
            &installed(),
        );
        assert!(refusal(mixed).ends_with("not installed: demo-lib"));
    }

    #[test]
    fn an_update_to_a_lower_version_is_refused_and_to_a_higher_one_installs_it() {
        let name = PackageName::new("hello").unwrap();
        let msg = refusal(plan(
            Change::Update {
                name: name.clone(),
                version: Some(Version::new("1.0-1").unwrap()),
            },
            &installed(),
        ));
        assert!(
            msg.starts_with("an update never downgrades (hello 1.1-1 → 1.0-1)"),
            "{msg}"
        );
        assert_eq!(
            plan(
                Change::Update {
                    name: name.clone(),
                    version: Some(Version::new("1.2").unwrap()),
                },
                &installed()
            )
            .unwrap(),
            Invocation::DnfInstall {
                packages: vec![spec("hello", Some("1.2"))],
                no_weak_deps: false
            }
        );
        assert_eq!(
            plan(
                Change::Update {
                    name: name.clone(),
                    version: None
                },
                &installed()
            )
            .unwrap(),
            Invocation::DnfUpgrade {
                names: vec![name.clone()]
            }
        );
    }

    #[test]
    fn a_downgrade_is_judged_against_the_highest_installed_architecture() {
        // demo-odd.x86_64 is at 2:1.0-1.fc39, demo-odd.i686 still at the rc: asking for the rc is a downgrade.
        let msg = refusal(plan(
            install(
                vec![spec("demo-odd", Some("2:1.0~rc1-3.fc39"))],
                InstallOptions::default(),
            ),
            &installed(),
        ));
        assert!(
            msg.contains("demo-odd 2:1.0-1.fc39 → 2:1.0~rc1-3.fc39"),
            "{msg}"
        );
    }

    #[test]
    fn refresh_remove_and_upgrades_map_to_their_entries() {
        let name = PackageName::new("hello").unwrap();
        assert_eq!(
            plan(Change::Refresh, &[]).unwrap(),
            Invocation::DnfMakecache
        );
        for purge in [false, true] {
            assert_eq!(
                plan(
                    Change::Remove {
                        name: name.clone(),
                        purge
                    },
                    &[]
                )
                .unwrap(),
                Invocation::DnfRemove {
                    names: vec![name.clone()]
                }
            );
        }
        assert_eq!(
            plan(Change::UpgradeAll, &[]).unwrap(),
            Invocation::DnfUpgradeAll
        );
        assert_eq!(
            plan(
                Change::UpgradeSome {
                    names: vec![name.clone()],
                    upgradable: vec!["hello".into(), "demo-lib".into()]
                },
                &[]
            )
            .unwrap(),
            Invocation::DnfUpgrade { names: vec![name] }
        );
    }
}
