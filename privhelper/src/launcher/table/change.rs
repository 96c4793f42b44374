//! The entries of the command table that change the host: `apt-get update|install|remove|purge` and the
//! reboot command.
//!
//! Every apt entry runs non-interactively and predictably: `-y -q`, `--no-remove` wherever apt could
//! otherwise remove packages to satisfy a request (gotcha A5: `-y` alone silently removes conflicting
//! packages), `Dpkg::Use-Pty=0`, a bounded `DPkg::Lock::Timeout`, and `--force-confdef`/`--force-confold` so
//! a changed configuration file never stops dpkg at a prompt. Progress goes to `APT::Status-Fd`, a pipe
//! the launcher created. No entry, option or flag can weaken signature verification (DESIGN invariant 7):
//! the API's `force` maps to `--reinstall` and nothing else.

use super::{CommandLine, Program, Table, non_empty, push_values};
use lpa_protocol::Backend;
use lpa_protocol::launcher::{AptTarget, Invocation, LaunchError};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Options shared by every package-changing apt run, after `-o APT::Status-Fd=N`.
fn common_apt_options(table: &Table, status_fd: Option<i32>) -> Vec<String> {
    let mut args: Vec<String> = vec!["-y".into(), "-q".into()];
    if let Some(fd) = status_fd {
        args.extend(["-o".into(), format!("APT::Status-Fd={fd}")]);
    }
    args.extend([
        "-o".into(),
        "Dpkg::Use-Pty=0".into(),
        "-o".into(),
        format!("DPkg::Lock::Timeout={}", table.lock_timeout_seconds),
        "-o".into(),
        "Dpkg::Options::=--force-confdef".into(),
        "-o".into(),
        "Dpkg::Options::=--force-confold".into(),
    ]);
    args
}

/// Builds the command line of a package-changing or reboot entry.
pub(super) fn command_line(
    inv: &Invocation,
    table: &Table,
    status_fd: Option<i32>,
) -> Result<CommandLine, LaunchError> {
    if let Invocation::Reboot { delay_minutes } = inv {
        return reboot(table, *delay_minutes);
    }
    let mut args = common_apt_options(table, status_fd);
    let values: Vec<String> = match inv {
        Invocation::AptGetUpdate => {
            args.push("update".into());
            Vec::new()
        }
        Invocation::AptGetInstall {
            packages,
            no_recommends,
            allow_downgrades,
            reinstall,
        } => {
            non_empty(packages.len(), inv)?;
            args.push("--no-remove".into());
            if *no_recommends {
                args.push("--no-install-recommends".into());
            }
            if *allow_downgrades {
                args.push("--allow-downgrades".into());
            }
            if *reinstall {
                args.push("--reinstall".into());
            }
            args.push("install".into());
            packages
                .iter()
                .map(|p| exact_arg(p, true))
                .collect::<Result<_, _>>()?
        }
        Invocation::AptGetOnlyUpgrade { names } => {
            non_empty(names.len(), inv)?;
            args.extend([
                "--no-remove".into(),
                "install".into(),
                "--only-upgrade".into(),
            ]);
            names
                .iter()
                .map(|n| exact_arg(n, false))
                .collect::<Result<_, _>>()?
        }
        Invocation::AptGetDistUpgrade => {
            args.extend(["--no-remove".into(), "dist-upgrade".into()]);
            Vec::new()
        }
        Invocation::AptGetRemove { names, purge } => {
            non_empty(names.len(), inv)?;
            args.push(if *purge { "purge" } else { "remove" }.into());
            names
                .iter()
                .map(|n| exact_arg(n, false))
                .collect::<Result<_, _>>()?
        }
        other => {
            return Err(LaunchError::NotAvailable(format!(
                "{} is not a package-changing entry",
                other.kind()
            )));
        }
    };
    push_values(&mut args, values)?;
    Ok(CommandLine {
        program: table.programs.path(Program::AptGet)?.to_owned(),
        args,
        is_apt: true,
    })
}

/// apt's exact form of `target`: `NAME:ARCH`, or `NAME:ARCH=VERSION` when `pinned` and a version is given.
///
/// The launcher's own check, so that even a compromised broker cannot hand apt a form it would widen: the
/// name must follow Debian policy (apt's grammar, not the union one) and the version Debian's version
/// grammar, which never ends in the `-` apt would read as "remove". The `:ARCH` suffix keeps a name's
/// trailing `+`/`-` from being read as a modifier. (A name that exists in apt's cache is then always taken
/// literally; the broker only sends names it found there, see `docs/backends/apt.md`.)
fn exact_arg(target: &AptTarget, pinned: bool) -> Result<String, LaunchError> {
    let refuse = |e: lpa_protocol::ValidationError| {
        LaunchError::NotAvailable(format!("refusing an apt argument: {e}"))
    };
    Backend::Apt.check_name(&target.name).map_err(refuse)?;
    let mut arg = format!("{}:{}", target.name.as_str(), target.arch.as_str());
    if pinned && let Some(v) = &target.version {
        Backend::Apt.check_version(v).map_err(refuse)?;
        arg.push('=');
        arg.push_str(v.as_str());
    }
    Ok(arg)
}

/// `<command> -r +MINUTES`, or `<command> -r now` for no delay. The only argument is a number the
/// launcher formats itself.
fn reboot(table: &Table, delay_minutes: u32) -> Result<CommandLine, LaunchError> {
    let program = table.reboot_command.clone().ok_or_else(|| {
        LaunchError::NotAvailable("no usable reboot command is configured".into())
    })?;
    let when = match delay_minutes {
        0 => "now".to_owned(),
        m => format!("+{m}"),
    };
    Ok(CommandLine {
        program,
        args: vec!["-r".into(), when],
        is_apt: false,
    })
}

/// Why a configured reboot command was refused.
#[derive(Debug, thiserror::Error)]
pub enum RebootCommandError {
    /// The path does not exist or cannot be inspected.
    #[error("reboot command {path}: {source}")]
    Missing {
        /// The configured path.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not something root should run.
    #[error("reboot command {path} is refused: {reason}")]
    Unsafe {
        /// The configured path.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Checks the configured reboot command before it is ever run as root: it must be a regular executable
/// file (symlinks are followed: `/sbin/shutdown` is usually one) owned by root and writable by nobody else,
/// or anyone able to write it could run code as root by asking for a reboot.
pub fn check_reboot_command(path: &Path) -> Result<(), RebootCommandError> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|source| RebootCommandError::Missing {
        path: shown.clone(),
        source,
    })?;
    let unsafe_because = |reason: &str| RebootCommandError::Unsafe {
        path: shown.clone(),
        reason: reason.to_owned(),
    };
    if !meta.is_file() {
        return Err(unsafe_because("not a regular file"));
    }
    if meta.uid() != 0 {
        return Err(unsafe_because(&format!(
            "owned by uid {}, not root",
            meta.uid()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(unsafe_because(&format!(
            "mode {:o} is group- or world-writable",
            meta.mode() & 0o7777
        )));
    }
    if meta.mode() & 0o111 == 0 {
        return Err(unsafe_because("not executable"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{ExecClass, Programs, class_of, command_line as table_command_line};
    use super::*;
    use lpa_protocol::{Architecture, PackageName, Version};
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    fn table() -> Table {
        Table {
            lock_timeout_seconds: 7,
            reboot_command: Some(PathBuf::from("/w/reboot-recorder")),
            ..Table::new(Programs::discover_with(|_| true))
        }
    }

    fn name(s: &str) -> PackageName {
        PackageName::new(s).unwrap()
    }

    fn target(n: &str, arch: &str, v: Option<&str>) -> AptTarget {
        AptTarget {
            name: name(n),
            arch: Architecture::new(arch).unwrap(),
            version: v.map(|v| Version::new(v).unwrap()),
        }
    }

    fn every_change_invocation() -> Vec<Invocation> {
        let spec = |n: &str, v: Option<&str>| target(n, "all", v);
        let mut out = vec![Invocation::AptGetUpdate];
        for (a, b, c) in [(false, false, false), (true, true, true)] {
            out.push(Invocation::AptGetInstall {
                packages: vec![spec("hello", Some("1:1.0-2")), spec("demo-lib", None)],
                no_recommends: a,
                allow_downgrades: b,
                reinstall: c,
            });
        }
        out.push(Invocation::AptGetOnlyUpgrade {
            names: vec![
                target("demo-app", "all", None),
                target("demo-lib", "amd64", None),
            ],
        });
        out.push(Invocation::AptGetDistUpgrade);
        for purge in [false, true] {
            out.push(Invocation::AptGetRemove {
                names: vec![target("hello", "all", Some("1.0"))],
                purge,
            });
        }
        out.push(Invocation::Reboot { delay_minutes: 0 });
        out.push(Invocation::Reboot { delay_minutes: 3 });
        out
    }

    const COMMON: [&str; 12] = [
        "-y",
        "-q",
        "-o",
        "APT::Status-Fd=9",
        "-o",
        "Dpkg::Use-Pty=0",
        "-o",
        "DPkg::Lock::Timeout=7",
        "-o",
        "Dpkg::Options::=--force-confdef",
        "-o",
        "Dpkg::Options::=--force-confold",
    ];

    fn argv(inv: &Invocation) -> Vec<String> {
        table_command_line(inv, &table(), Some(9)).unwrap().args
    }

    fn with_common(rest: &[&str]) -> Vec<String> {
        COMMON.iter().chain(rest).map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn exact_argv_of_each_package_changing_entry() {
        let inv = every_change_invocation();
        assert_eq!(argv(&inv[0]), with_common(&["update"]));
        assert_eq!(
            argv(&inv[1]),
            with_common(&[
                "--no-remove",
                "install",
                "--",
                "hello:all=1:1.0-2",
                "demo-lib:all"
            ])
        );
        assert_eq!(
            argv(&inv[2]),
            with_common(&[
                "--no-remove",
                "--no-install-recommends",
                "--allow-downgrades",
                "--reinstall",
                "install",
                "--",
                "hello:all=1:1.0-2",
                "demo-lib:all"
            ])
        );
        assert_eq!(
            argv(&inv[3]),
            with_common(&[
                "--no-remove",
                "install",
                "--only-upgrade",
                "--",
                "demo-app:all",
                "demo-lib:amd64"
            ])
        );
        assert_eq!(argv(&inv[4]), with_common(&["--no-remove", "dist-upgrade"]));
        // A remove never pins: the version of the target is not passed on.
        assert_eq!(argv(&inv[5]), with_common(&["remove", "--", "hello:all"]));
        assert_eq!(argv(&inv[6]), with_common(&["purge", "--", "hello:all"]));
        let cl = table_command_line(&inv[1], &table(), Some(9)).unwrap();
        assert_eq!(cl.program, PathBuf::from("/usr/bin/apt-get"));
        assert!(cl.is_apt);
    }

    #[test]
    fn reboot_runs_the_configured_command_with_minutes_or_now() {
        let cl =
            table_command_line(&Invocation::Reboot { delay_minutes: 0 }, &table(), None).unwrap();
        assert_eq!(cl.program, PathBuf::from("/w/reboot-recorder"));
        assert_eq!(cl.args, ["-r", "now"]);
        assert!(!cl.is_apt);
        let cl =
            table_command_line(&Invocation::Reboot { delay_minutes: 2 }, &table(), None).unwrap();
        assert_eq!(cl.args, ["-r", "+2"]);
        let none = Table {
            reboot_command: None,
            ..table()
        };
        assert!(matches!(
            table_command_line(&Invocation::Reboot { delay_minutes: 2 }, &none, None),
            Err(LaunchError::NotAvailable(_))
        ));
    }

    #[test]
    fn no_entry_can_disable_signature_checks_even_with_every_option_set() {
        // DESIGN invariant 7: `reinstall` (the API's `force`) never turns into any of these.
        for inv in every_change_invocation() {
            for arg in table_command_line(&inv, &table(), Some(9)).unwrap().args {
                for forbidden in [
                    "--allow-unauthenticated",
                    "--force-yes",
                    "AllowUnauthenticated",
                    "--allow-insecure-repositories",
                    "--allow-remove-essential",
                    "trusted=yes",
                ] {
                    assert!(!arg.contains(forbidden), "{inv:?} has {arg}");
                }
            }
        }
    }

    #[test]
    fn values_follow_a_double_dash_and_none_starts_with_a_dash() {
        for inv in every_change_invocation() {
            let args = table_command_line(&inv, &table(), Some(9)).unwrap().args;
            if let Some(dd) = args.iter().position(|a| a == "--") {
                assert!(
                    !args[dd + 1..].iter().any(|a| a.starts_with('-')),
                    "{args:?}"
                );
            }
        }
    }

    #[test]
    fn the_launcher_refuses_names_and_versions_outside_debian_grammar() {
        // PackageName's union grammar lets these through; apt's own does not. `1.0-` would make apt read
        // the argument as "remove", `Hello`/`a_b` are not Debian names.
        for (n, v) in [
            ("hello", "1.0-"),
            ("hello", "1.0_1"),
            ("Hello", "1.0"),
            ("a_b", "1.0"),
        ] {
            let inv = Invocation::AptGetInstall {
                packages: vec![target(n, "all", Some(v))],
                no_recommends: false,
                allow_downgrades: false,
                reinstall: false,
            };
            assert!(
                matches!(
                    table_command_line(&inv, &table(), Some(9)),
                    Err(LaunchError::NotAvailable(_))
                ),
                "{n}={v}"
            );
        }
        let inv = Invocation::AptGetRemove {
            names: vec![target("Hello", "all", None)],
            purge: false,
        };
        assert!(table_command_line(&inv, &table(), Some(9)).is_err());
    }

    #[test]
    fn empty_package_lists_are_refused() {
        let inv = Invocation::AptGetRemove {
            names: vec![],
            purge: false,
        };
        assert!(table_command_line(&inv, &table(), Some(9)).is_err());
    }

    #[test]
    fn classes_decide_status_streaming() {
        let inv = every_change_invocation();
        assert!(inv[..7].iter().all(|i| class_of(i) == ExecClass::Change));
        assert_eq!(class_of(&inv[7]), ExecClass::Reboot);
        assert_eq!(
            class_of(&Invocation::AptSimulateDistUpgrade),
            ExecClass::Read
        );
        assert!(ExecClass::Change.streams_status());
        assert!(!ExecClass::Read.streams_status() && !ExecClass::Reboot.streams_status());
    }

    #[test]
    fn reboot_command_must_be_a_root_owned_file_writable_only_by_root() {
        let dir = tempfile::tempdir().unwrap();
        let cmd = dir.path().join("recorder");
        std::fs::write(&cmd, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&cmd, std::fs::Permissions::from_mode(0o755)).unwrap();
        let as_root = nix::unistd::geteuid().is_root();
        if as_root {
            check_reboot_command(&cmd).unwrap();
            std::fs::set_permissions(&cmd, std::fs::Permissions::from_mode(0o775)).unwrap();
            let err = check_reboot_command(&cmd).unwrap_err().to_string();
            assert!(err.contains("writable"), "{err}");
            std::fs::set_permissions(&cmd, std::fs::Permissions::from_mode(0o755)).unwrap();
            nix::unistd::chown(&cmd, Some(nix::unistd::Uid::from_raw(61002)), None).unwrap();
            let err = check_reboot_command(&cmd).unwrap_err().to_string();
            assert!(err.contains("uid 61002"), "{err}");
        }
        assert!(matches!(
            check_reboot_command(&dir.path().join("missing")),
            Err(RebootCommandError::Missing { .. })
        ));
        let err = check_reboot_command(dir.path()).unwrap_err().to_string();
        assert!(err.contains("regular file"), "{err}");
    }
}
