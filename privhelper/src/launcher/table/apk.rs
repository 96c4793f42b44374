//! The apk entries of the command table: a pure argv builder over the helper's apk settings.
//!
//! Every entry starts with the same global options, all from `helper.yaml`, never from a request:
//! `--root ROOT [--repositories-file FILE] [--keys-dir DIR] --no-progress --no-interactive --wait N`
//! (`--no-interactive` because `/etc/apk/interactive` would otherwise make apk ask; `--wait` bounds the
//! wait for apk's database lock). Read-only entries add `--no-network`: a listing works from the indexes
//! the last `apk update` cached and never fetches; only [`Invocation::ApkUpdate`] refreshes them. Then the
//! applet, its fixed options, a literal `--` and the validated values.
//!
//! Rules this module enforces by construction:
//! - **Signature checking is the host's:** no entry passes apk's option that accepts unsigned indexes, nor
//!   any `--force-*` option; a sandbox trusts its test key through `keys_dir`, like a real host.
//! - **Names and pins are apk's**: every name passes [`Backend::Apk`]'s grammar (no `.apk`, which apk would
//!   read as a package file) and every pinned version apk's version grammar, so `name=VERSION` is an exact
//!   pin and nothing else.
//! - Removal never cascades (`del` without `--rdepends`).

use super::{path_arg, push_values};
use lpa_protocol::launcher::{Invocation, LaunchError};
use lpa_protocol::{Backend, PackageName, PackageSpec};
use std::path::{Path, PathBuf};

/// The apk settings of `helper.yaml` (`apk:`) plus the lock wait the table uses for every backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApkSettings {
    /// `--repositories-file FILE`; `None` uses `<root>/etc/apk/repositories`.
    pub repositories_file: Option<PathBuf>,
    /// `--keys-dir DIR`; `None` uses `<root>/etc/apk/keys`.
    pub keys_dir: Option<PathBuf>,
    /// `--wait SECONDS` for apk's database lock.
    pub lock_wait_seconds: u32,
}

impl Default for ApkSettings {
    fn default() -> Self {
        ApkSettings {
            repositories_file: None,
            keys_dir: None,
            lock_wait_seconds: 60,
        }
    }
}

/// Absolute paths of apk, tried in order (apk-tools 2 installs `/sbin/apk`; usr-merged systems
/// `/usr/sbin/apk` or `/usr/bin/apk`).
pub const APK_CANDIDATES: &[&str] = &["/sbin/apk", "/usr/sbin/apk", "/usr/bin/apk", "/bin/apk"];

/// Whether `inv` changes the host (a long timeout and streamed stdout) or only reads; `None` when it is
/// not an apk entry.
pub fn changes_host(inv: &Invocation) -> Option<bool> {
    match inv {
        Invocation::ApkUpdate
        | Invocation::ApkAdd { .. }
        | Invocation::ApkReinstall { .. }
        | Invocation::ApkUpgradeSelected { .. }
        | Invocation::ApkUpgradeAll
        | Invocation::ApkDel { .. } => Some(true),
        Invocation::ApkListUpgradable
        | Invocation::ApkVersionOutdated
        | Invocation::ApkSimulateUpgrade
        | Invocation::ApkPolicy { .. }
        | Invocation::ApkInfo { .. } => Some(false),
        _ => None,
    }
}

fn refuse(inv: &Invocation, why: String) -> LaunchError {
    LaunchError::NotAvailable(format!("{}: {why}", inv.kind()))
}

/// The names, each checked against apk's grammar; at least one.
fn names(inv: &Invocation, names: &[PackageName]) -> Result<Vec<String>, LaunchError> {
    if names.is_empty() {
        return Err(refuse(inv, "needs at least one package".into()));
    }
    names
        .iter()
        .map(|n| {
            Backend::Apk
                .check_name(n)
                .map(|()| n.as_str().to_owned())
                .map_err(|e| refuse(inv, e.to_string()))
        })
        .collect()
}

/// `NAME` or `NAME=VERSION`, with the version checked against apk's grammar.
fn specs(inv: &Invocation, specs: &[PackageSpec]) -> Result<Vec<String>, LaunchError> {
    let plain: Vec<PackageName> = specs.iter().map(|s| s.name.clone()).collect();
    let mut out = names(inv, &plain)?;
    for (arg, spec) in out.iter_mut().zip(specs) {
        if let Some(v) = &spec.version {
            Backend::Apk
                .check_version(v)
                .map_err(|e| refuse(inv, e.to_string()))?;
            arg.push('=');
            arg.push_str(v.as_str());
        }
    }
    Ok(out)
}

/// The arguments of `inv` after the program name; `Ok(None)` when `inv` is not an apk entry.
pub fn args(
    inv: &Invocation,
    settings: &ApkSettings,
    package_root: &Path,
) -> Result<Option<Vec<String>>, LaunchError> {
    let Some(changes) = changes_host(inv) else {
        return Ok(None);
    };
    let mut args: Vec<String> = vec!["--root".into(), path_arg(package_root)?];
    if let Some(file) = &settings.repositories_file {
        args.extend(["--repositories-file".into(), path_arg(file)?]);
    }
    if let Some(dir) = &settings.keys_dir {
        args.extend(["--keys-dir".into(), path_arg(dir)?]);
    }
    args.extend([
        "--no-progress".into(),
        "--no-interactive".into(),
        "--wait".into(),
        settings.lock_wait_seconds.to_string(),
    ]);
    if !changes {
        args.push("--no-network".into());
    }
    let applet: &[&str];
    let values: Vec<String> = match inv {
        Invocation::ApkListUpgradable => {
            applet = &["list", "--upgradable"];
            Vec::new()
        }
        Invocation::ApkVersionOutdated => {
            applet = &["version", "-l", "<"];
            Vec::new()
        }
        Invocation::ApkSimulateUpgrade => {
            applet = &["upgrade", "--simulate"];
            Vec::new()
        }
        Invocation::ApkPolicy { name } => {
            applet = &["policy"];
            names(inv, std::slice::from_ref(name))?
        }
        Invocation::ApkInfo { name } => {
            applet = &["info", "-a"];
            names(inv, std::slice::from_ref(name))?
        }
        Invocation::ApkUpdate => {
            applet = &["update"];
            Vec::new()
        }
        Invocation::ApkAdd { packages } => {
            applet = &["add"];
            specs(inv, packages)?
        }
        Invocation::ApkReinstall { names: n } => {
            applet = &["fix", "--reinstall"];
            names(inv, n)?
        }
        Invocation::ApkUpgradeSelected { names: n } => {
            applet = &["upgrade"];
            names(inv, n)?
        }
        Invocation::ApkUpgradeAll => {
            applet = &["upgrade"];
            Vec::new()
        }
        Invocation::ApkDel { names: n, purge } => {
            // `--purge` is a global option: also delete modified configuration files.
            if *purge {
                args.push("--purge".into());
            }
            applet = &["del"];
            names(inv, n)?
        }
        other => return Err(refuse(other, "not an apk entry".into())),
    };
    args.extend(applet.iter().map(|s| (*s).to_owned()));
    push_values(&mut args, values)?;
    Ok(Some(args))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lpa_protocol::Version;

    fn name(s: &str) -> PackageName {
        PackageName::new(s).unwrap()
    }

    fn spec(n: &str, v: Option<&str>) -> PackageSpec {
        PackageSpec {
            name: name(n),
            version: v.map(|v| Version::new(v).unwrap()),
        }
    }

    fn settings() -> ApkSettings {
        ApkSettings {
            repositories_file: Some("/w/apk/repositories".into()),
            keys_dir: Some("/w/apk/keys".into()),
            lock_wait_seconds: 7,
        }
    }

    fn argv(inv: &Invocation) -> Vec<String> {
        args(inv, &settings(), Path::new("/w/root"))
            .unwrap()
            .unwrap_or_else(|| panic!("{inv:?} is an apk entry"))
    }

    const GLOBAL: [&str; 10] = [
        "--root",
        "/w/root",
        "--repositories-file",
        "/w/apk/repositories",
        "--keys-dir",
        "/w/apk/keys",
        "--no-progress",
        "--no-interactive",
        "--wait",
        "7",
    ];

    fn with(read_only: bool, rest: &[&str]) -> Vec<String> {
        let net: &[&str] = if read_only { &["--no-network"] } else { &[] };
        GLOBAL
            .iter()
            .chain(net)
            .chain(rest)
            .map(|s| (*s).to_owned())
            .collect()
    }

    fn every_entry() -> Vec<Invocation> {
        vec![
            Invocation::ApkListUpgradable,
            Invocation::ApkVersionOutdated,
            Invocation::ApkSimulateUpgrade,
            Invocation::ApkPolicy {
                name: name("demo-hello"),
            },
            Invocation::ApkInfo {
                name: name("demo-app"),
            },
            Invocation::ApkUpdate,
            Invocation::ApkAdd {
                packages: vec![spec("demo-hello", Some("1.0-r0")), spec("demo-app", None)],
            },
            Invocation::ApkReinstall {
                names: vec![name("demo-lib")],
            },
            Invocation::ApkUpgradeSelected {
                names: vec![name("demo-lib"), name("demo-hello")],
            },
            Invocation::ApkUpgradeAll,
            Invocation::ApkDel {
                names: vec![name("demo-app")],
                purge: false,
            },
            Invocation::ApkDel {
                names: vec![name("demo-app")],
                purge: true,
            },
        ]
    }

    #[test]
    fn exact_argv_of_each_entry() {
        let e = every_entry();
        let expected: [Vec<String>; 12] = [
            with(true, &["list", "--upgradable"]),
            with(true, &["version", "-l", "<"]),
            with(true, &["upgrade", "--simulate"]),
            with(true, &["policy", "--", "demo-hello"]),
            with(true, &["info", "-a", "--", "demo-app"]),
            with(false, &["update"]),
            with(false, &["add", "--", "demo-hello=1.0-r0", "demo-app"]),
            with(false, &["fix", "--reinstall", "--", "demo-lib"]),
            with(false, &["upgrade", "--", "demo-lib", "demo-hello"]),
            with(false, &["upgrade"]),
            with(false, &["del", "--", "demo-app"]),
            with(false, &["--purge", "del", "--", "demo-app"]),
        ];
        for (inv, want) in e.iter().zip(expected) {
            assert_eq!(argv(inv), want, "{inv:?}");
        }
    }

    #[test]
    fn optional_settings_are_left_out_and_the_root_is_always_given() {
        let a = args(
            &Invocation::ApkUpdate,
            &ApkSettings::default(),
            Path::new("/"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            a,
            [
                "--root",
                "/",
                "--no-progress",
                "--no-interactive",
                "--wait",
                "60",
                "update"
            ]
        );
    }

    #[test]
    fn classes_match_what_each_entry_does() {
        for inv in every_entry() {
            let reads = matches!(
                inv,
                Invocation::ApkListUpgradable
                    | Invocation::ApkVersionOutdated
                    | Invocation::ApkSimulateUpgrade
                    | Invocation::ApkPolicy { .. }
                    | Invocation::ApkInfo { .. }
            );
            assert_eq!(changes_host(&inv), Some(!reads), "{inv:?}");
            assert_eq!(argv(&inv).contains(&"--no-network".to_owned()), reads);
        }
        assert_eq!(changes_host(&Invocation::AptGetUpdate), None);
        assert_eq!(
            args(&Invocation::AptGetUpdate, &settings(), Path::new("/")).unwrap(),
            None
        );
    }

    #[test]
    fn no_entry_lowers_signature_checks_or_forces_anything() {
        for inv in every_entry() {
            for arg in argv(&inv) {
                for forbidden in [
                    "--allow-untrusted",
                    "--force",
                    "--rdepends",
                    "--initdb",
                    "-i",
                ] {
                    assert!(!arg.starts_with(forbidden), "{inv:?} has {arg}");
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
                assert!(dd + 1 < a.len(), "{a:?}");
            }
        }
    }

    #[test]
    fn apk_file_names_bad_pins_and_empty_lists_are_refused() {
        let refused = [
            Invocation::ApkAdd {
                packages: vec![spec("evil.apk", None)],
            },
            Invocation::ApkAdd {
                packages: vec![spec("demo-hello", Some("1:1.0-1"))],
            },
            Invocation::ApkAdd { packages: vec![] },
            Invocation::ApkDel {
                names: vec![],
                purge: false,
            },
            Invocation::ApkPolicy {
                name: name("x.apk"),
            },
            Invocation::ApkUpgradeSelected { names: vec![] },
        ];
        for inv in refused {
            assert!(
                matches!(
                    args(&inv, &settings(), Path::new("/w/root")),
                    Err(LaunchError::NotAvailable(_))
                ),
                "{inv:?}"
            );
        }
    }

    /// Issue 11: the exact form `NAME=VERSION` the broker hands over is re-checked here with apk's own
    /// version grammar, so a pin the union grammar allows but apk would read otherwise never reaches apk.
    #[test]
    fn the_exact_form_is_rechecked_with_apks_version_grammar() {
        for bad in [
            "1.0+b1",
            "1.0^git1",
            "1:1.0-r0",
            "1.0-1",
            "1.0-r0-r1",
            "1.0_foo",
        ] {
            let inv = Invocation::ApkAdd {
                packages: vec![spec("demo-hello", None), spec("demo-lib", Some(bad))],
            };
            assert!(
                matches!(
                    args(&inv, &settings(), Path::new("/w/root")),
                    Err(LaunchError::NotAvailable(_))
                ),
                "{bad}"
            );
        }
        // Positive control: well-formed apk versions pass unchanged as NAME=VERSION.
        let inv = Invocation::ApkAdd {
            packages: vec![
                spec("demo-hello", None),
                spec("demo-lib", Some("1.3.8_p20240113~a1b2c3d-r0")),
            ],
        };
        let a = argv(&inv);
        assert_eq!(
            a[a.len() - 3..],
            ["--", "demo-hello", "demo-lib=1.3.8_p20240113~a1b2c3d-r0"]
        );
    }
}
