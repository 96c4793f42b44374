//! The pacman entries of the command table: a pure argv builder over the helper's pacman settings.
//!
//! Every entry starts with the same global options, all from `helper.yaml`, never from a request:
//! `[--config FILE] --root ROOT --dbpath DB --noconfirm --color never`. Then the operation, a literal
//! `--`, and the validated values. Rules this module enforces by construction:
//!
//! - **No partial upgrades.** `-Sy` without `-u` never runs on the system's databases. Listing
//!   ([`Invocation::PacmanRefresh`], [`Invocation::PacmanQueryUpgrades`], [`Invocation::PacmanSyncInfo`])
//!   uses the helper's own listing database, whose `local` is a symlink to the system's (Arch's
//!   `checkupdates` does the same); [`prepare_listing_db`] creates it. Install is `-Su` without a refresh,
//!   so if the system's sync databases are ahead of the installed system (an apply that failed after its
//!   sync), the install completes that upgrade instead of leaving a partial one. Apply is `-Syyu`
//!   (`-yy`: gotcha P4, a same-second repository switch is otherwise not seen).
//! - **Conflicts are refused, never resolved:** `--noconfirm` answers pacman's "Remove X? [y/N]" with its
//!   default, no; there is no `--ask`. Removal never cascades (`-c`) or skips dependency checks (`-d`).
//! - **Signature checking is the host's:** no entry sets a signature level or anything like it.
//!
//! The one option carrying a value before `--` is `--ignore=NAME`: the value is a validated name glued to
//! its option in one argument, so it cannot be read as another option.

use super::{non_empty, path_arg, push_values};
use lpa_protocol::launcher::{Invocation, LaunchError, PacmanTarget};
use lpa_protocol::{Backend, PackageName};
use std::path::{Path, PathBuf};

fn refuse(e: lpa_protocol::ValidationError) -> LaunchError {
    LaunchError::NotAvailable(format!("refusing a pacman argument: {e}"))
}

/// A name re-checked against pacman's own grammar (the launcher's check, whatever the broker did).
fn checked_name(name: &PackageName) -> Result<String, LaunchError> {
    Backend::Pacman.check_name(name).map_err(refuse)?;
    Ok(name.as_str().to_owned())
}

/// pacman's exact form of `t`: `REPO/NAME` or `REPO/NAME=VERSION`, after pacman's name and version
/// grammar. The repository prefix keeps pacman to the sync database where the broker found the package.
fn exact_arg(t: &PacmanTarget) -> Result<String, LaunchError> {
    let mut arg = format!("{}/{}", t.repo.as_str(), checked_name(&t.name)?);
    if let Some(v) = &t.version {
        Backend::Pacman.check_version(v).map_err(refuse)?;
        arg.push('=');
        arg.push_str(v.as_str());
    }
    Ok(arg)
}

/// The pacman settings of `helper.yaml` (`pacman:`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PacmanSettings {
    /// `--config FILE`: the test kit's and the demo's `pacman.conf`; `None` uses the host's
    /// `/etc/pacman.conf`. Required when `package_root` is not `/`.
    pub config_file: Option<PathBuf>,
    /// The system's database directory; `None` is `<package_root>/var/lib/pacman`.
    pub db_path: Option<PathBuf>,
    /// The helper's listing database; `None` is `<package_root>/var/lib/linux-patch-api/pacman-sync`.
    pub listing_db: Option<PathBuf>,
}

impl PacmanSettings {
    /// The system's database directory (what `localdb::read_installed` reads).
    pub fn db_path(&self, package_root: &Path) -> PathBuf {
        self.db_path
            .clone()
            .unwrap_or_else(|| package_root.join("var/lib/pacman"))
    }

    /// The helper's listing database directory.
    pub fn listing_db(&self, package_root: &Path) -> PathBuf {
        self.listing_db
            .clone()
            .unwrap_or_else(|| package_root.join("var/lib/linux-patch-api/pacman-sync"))
    }
}

/// Absolute paths of pacman, tried in order.
pub const PACMAN_CANDIDATES: &[&str] = &["/usr/bin/pacman", "/bin/pacman"];

/// Whether `inv` changes the host (a long timeout and streamed stdout) or only reads; `None` when it is
/// not a pacman entry.
pub fn changes_host(inv: &Invocation) -> Option<bool> {
    match inv {
        Invocation::PacmanRefresh
        | Invocation::PacmanInstall { .. }
        | Invocation::PacmanSysUpgrade { .. }
        | Invocation::PacmanRemove { .. } => Some(true),
        Invocation::PacmanQueryUpgrades
        | Invocation::PacmanCheckLocal
        | Invocation::PacmanSyncInfo { .. }
        | Invocation::PacmanSystemSyncInfo { .. }
        | Invocation::PacmanQueryInstalled { .. } => Some(false),
        _ => None,
    }
}

/// The arguments of `inv` after the program name; `Ok(None)` when `inv` is not a pacman entry.
pub fn args(
    inv: &Invocation,
    settings: &PacmanSettings,
    package_root: &Path,
) -> Result<Option<Vec<String>>, LaunchError> {
    let Some(_) = changes_host(inv) else {
        return Ok(None);
    };
    if settings.config_file.is_none() && package_root != Path::new("/") {
        return Err(LaunchError::NotAvailable(
            "pacman on a package_root other than / needs pacman.config_file".into(),
        ));
    }
    let listing = matches!(
        inv,
        Invocation::PacmanRefresh
            | Invocation::PacmanQueryUpgrades
            | Invocation::PacmanSyncInfo { .. }
    );
    let db = if listing {
        settings.listing_db(package_root)
    } else {
        settings.db_path(package_root)
    };
    let mut args: Vec<String> = Vec::new();
    if let Some(config) = &settings.config_file {
        args.extend(["--config".into(), path_arg(config)?]);
    }
    args.extend([
        "--root".into(),
        path_arg(package_root)?,
        "--dbpath".into(),
        path_arg(&db)?,
        "--noconfirm".into(),
        "--color".into(),
        "never".into(),
    ]);
    // -Q rejects --noprogressbar ("invalid option"); every other entry takes it.
    if !matches!(
        inv,
        Invocation::PacmanQueryUpgrades
            | Invocation::PacmanCheckLocal
            | Invocation::PacmanQueryInstalled { .. }
    ) {
        args.push("--noprogressbar".into());
    }
    let values: Vec<String> = match inv {
        Invocation::PacmanRefresh => {
            // The listing sync is no transaction of the system: keep it out of pacman.log.
            args.extend(["--logfile".into(), "/dev/null".into(), "-Syy".into()]);
            Vec::new()
        }
        Invocation::PacmanQueryUpgrades => {
            args.push("-Qu".into());
            Vec::new()
        }
        Invocation::PacmanCheckLocal => {
            args.push("-Dk".into());
            Vec::new()
        }
        Invocation::PacmanQueryInstalled { name } => {
            args.push("-Q".into());
            vec![checked_name(name)?]
        }
        Invocation::PacmanSyncInfo { name } | Invocation::PacmanSystemSyncInfo { name } => {
            args.push("-Si".into());
            vec![checked_name(name)?]
        }
        Invocation::PacmanInstall {
            packages,
            reinstall,
        } => {
            non_empty(packages.len(), inv)?;
            args.push("-Su".into());
            if !*reinstall {
                args.push("--needed".into());
            }
            packages
                .iter()
                .map(exact_arg)
                .collect::<Result<Vec<_>, _>>()?
        }
        Invocation::PacmanSysUpgrade { ignore } => {
            args.push("-Syyu".into());
            for n in ignore {
                args.push(format!("--ignore={}", checked_name(n)?));
            }
            Vec::new()
        }
        Invocation::PacmanRemove { names, nosave } => {
            non_empty(names.len(), inv)?;
            args.push(if *nosave { "-Rn" } else { "-R" }.into());
            names.iter().map(checked_name).collect::<Result<_, _>>()?
        }
        _ => return Ok(None),
    };
    push_values(&mut args, values)?;
    Ok(Some(args))
}

/// Creates the listing database (mode 0755) with `local` linked to the system's local database, as
/// `checkupdates` does; an existing wrong `local` is replaced. Run by the launcher (root) before a
/// listing entry.
pub fn prepare_listing_db(settings: &PacmanSettings, package_root: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let listing = settings.listing_db(package_root);
    std::fs::create_dir_all(&listing)?;
    std::fs::set_permissions(&listing, std::fs::Permissions::from_mode(0o755))?;
    let link = listing.join("local");
    let target = settings.db_path(package_root).join("local");
    match std::fs::read_link(&link) {
        Ok(current) if current == target => return Ok(()),
        Ok(_) => std::fs::remove_file(&link)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(_) => std::fs::remove_dir_all(&link)?,
    }
    std::os::unix::fs::symlink(&target, &link)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lpa_protocol::{PackageName, RepoName, Version};

    fn target(n: &str, v: Option<&str>) -> PacmanTarget {
        PacmanTarget {
            repo: RepoName::new("demo").unwrap(),
            name: name(n),
            version: v.map(|v| Version::new(v).unwrap()),
        }
    }

    fn name(s: &str) -> PackageName {
        PackageName::new(s).unwrap()
    }

    fn sandbox() -> PacmanSettings {
        PacmanSettings {
            config_file: Some("/w/pacman.conf".into()),
            ..PacmanSettings::default()
        }
    }

    fn argv(inv: &Invocation) -> Vec<String> {
        args(inv, &sandbox(), Path::new("/w/root"))
            .unwrap()
            .unwrap()
    }

    fn expect(db: &str, rest: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = [
            "--config",
            "/w/pacman.conf",
            "--root",
            "/w/root",
            "--dbpath",
            db,
            "--noconfirm",
            "--color",
            "never",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        v.extend(rest.iter().map(|s| (*s).to_owned()));
        v
    }

    const REAL: &str = "/w/root/var/lib/pacman";
    const LISTING: &str = "/w/root/var/lib/linux-patch-api/pacman-sync";

    fn every_entry() -> Vec<Invocation> {
        vec![
            Invocation::PacmanRefresh,
            Invocation::PacmanQueryUpgrades,
            Invocation::PacmanSyncInfo {
                name: name("demo-app"),
            },
            Invocation::PacmanInstall {
                packages: vec![target("hello", None), target("demo-tool", Some("1:1.0-1"))],
                reinstall: false,
            },
            Invocation::PacmanInstall {
                packages: vec![target("hello", None)],
                reinstall: true,
            },
            Invocation::PacmanSysUpgrade { ignore: vec![] },
            Invocation::PacmanSysUpgrade {
                ignore: vec![name("hello"), name("demo-lib")],
            },
            Invocation::PacmanRemove {
                names: vec![name("demo-tool")],
                nosave: false,
            },
            Invocation::PacmanRemove {
                names: vec![name("demo-tool")],
                nosave: true,
            },
            Invocation::PacmanQueryInstalled {
                name: name("demo-tool"),
            },
        ]
    }

    #[test]
    fn exact_argv_of_each_entry() {
        let e = every_entry();
        let np = "--noprogressbar";
        assert_eq!(
            argv(&e[0]),
            expect(LISTING, &[np, "--logfile", "/dev/null", "-Syy"])
        );
        assert_eq!(argv(&e[1]), expect(LISTING, &["-Qu"]));
        assert_eq!(argv(&e[2]), expect(LISTING, &[np, "-Si", "--", "demo-app"]));
        assert_eq!(
            argv(&e[3]),
            expect(
                REAL,
                &[
                    np,
                    "-Su",
                    "--needed",
                    "--",
                    "demo/hello",
                    "demo/demo-tool=1:1.0-1"
                ]
            )
        );
        assert_eq!(argv(&e[4]), expect(REAL, &[np, "-Su", "--", "demo/hello"]));
        assert_eq!(argv(&e[5]), expect(REAL, &[np, "-Syyu"]));
        assert_eq!(
            argv(&e[6]),
            expect(REAL, &[np, "-Syyu", "--ignore=hello", "--ignore=demo-lib"])
        );
        assert_eq!(argv(&e[7]), expect(REAL, &[np, "-R", "--", "demo-tool"]));
        assert_eq!(argv(&e[8]), expect(REAL, &[np, "-Rn", "--", "demo-tool"]));
        assert_eq!(argv(&e[9]), expect(REAL, &["-Q", "--", "demo-tool"]));
    }

    #[test]
    fn no_entry_syncs_the_system_databases_without_upgrading() {
        for inv in every_entry() {
            let a = argv(&inv);
            let db = &a[a.iter().position(|x| x == "--dbpath").unwrap() + 1];
            let syncs = a.iter().any(|x| x.starts_with("-S") && x.contains('y'));
            let upgrades = a.iter().any(|x| x.starts_with("-S") && x.contains('u'));
            if syncs && db == REAL {
                assert!(upgrades, "{inv:?}: {a:?}");
            }
        }
    }

    #[test]
    fn no_entry_lowers_signature_checks_or_resolves_conflicts_by_itself() {
        for inv in every_entry() {
            for a in argv(&inv) {
                for forbidden in [
                    "SigLevel",
                    "--ask",
                    "--overwrite",
                    "-Rc",
                    "-Rdd",
                    "--nodeps",
                    "--noscriptlet",
                    "--sysroot",
                ] {
                    assert!(!a.contains(forbidden), "{inv:?} has {a}");
                }
            }
        }
    }

    #[test]
    fn values_follow_a_double_dash_and_none_starts_with_a_dash() {
        for inv in every_entry() {
            let a = argv(&inv);
            if let Some(dd) = a.iter().position(|x| x == "--") {
                assert!(!a[dd + 1..].iter().any(|x| x.starts_with('-')), "{a:?}");
            }
        }
    }

    #[test]
    fn production_defaults_use_the_hosts_config_and_other_roots_need_a_config() {
        let a = args(
            &Invocation::PacmanQueryUpgrades,
            &PacmanSettings::default(),
            Path::new("/"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            a,
            [
                "--root",
                "/",
                "--dbpath",
                "/var/lib/linux-patch-api/pacman-sync",
                "--noconfirm",
                "--color",
                "never",
                "-Qu"
            ]
        );
        assert!(
            args(
                &Invocation::PacmanQueryUpgrades,
                &PacmanSettings::default(),
                Path::new("/w/root")
            )
            .is_err()
        );
    }

    #[test]
    fn other_backends_entries_are_not_ours_and_empty_lists_are_refused() {
        assert_eq!(
            args(&Invocation::AptGetUpdate, &sandbox(), Path::new("/w/root")).unwrap(),
            None
        );
        assert_eq!(changes_host(&Invocation::AptGetUpdate), None);
        let empty = Invocation::PacmanRemove {
            names: vec![],
            nosave: false,
        };
        assert!(args(&empty, &sandbox(), Path::new("/w/root")).is_err());
        assert_eq!(
            changes_host(&Invocation::PacmanSyncInfo { name: name("x") }),
            Some(false)
        );
    }

    #[test]
    fn listing_db_links_local_to_the_systems_database_and_repairs_a_wrong_link() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let s = PacmanSettings::default();
        prepare_listing_db(&s, root).unwrap();
        let link = s.listing_db(root).join("local");
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            root.join("var/lib/pacman/local")
        );
        std::fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink("/elsewhere", &link).unwrap();
        prepare_listing_db(&s, root).unwrap();
        prepare_listing_db(&s, root).unwrap();
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            root.join("var/lib/pacman/local")
        );
    }
}
