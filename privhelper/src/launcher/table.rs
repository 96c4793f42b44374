//! The fixed command table: the only place an argv is ever built.
//!
//! Each [`Invocation`] maps to an absolute program path found at start among fixed candidates, fixed
//! options, a literal `--`, then the validated values. A value can therefore never be read as an option,
//! by construction *and* by the newtypes' grammar (no value starts with `-`).

use lpa_protocol::launcher::{Invocation, LaunchError};
use std::path::{Path, PathBuf};

/// The properties `systemctl show` is asked for; the broker's parser expects exactly these.
pub const SYSTEMCTL_PROPERTIES: &str =
    "--property=Id,Description,LoadState,ActiveState,SubState,UnitFileState,MainPID";

/// A program of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Program {
    /// apt-get.
    AptGet,
    /// apt-cache.
    AptCache,
    /// systemctl.
    Systemctl,
    /// OpenRC's rc-service.
    RcService,
}

impl Program {
    /// Every program of the table.
    pub const ALL: [Program; 4] = [
        Program::AptGet,
        Program::AptCache,
        Program::Systemctl,
        Program::RcService,
    ];

    /// Absolute paths tried in order; the first that exists is used.
    pub fn candidates(self) -> &'static [&'static str] {
        match self {
            Program::AptGet => &["/usr/bin/apt-get"],
            Program::AptCache => &["/usr/bin/apt-cache"],
            Program::Systemctl => &["/usr/bin/systemctl", "/bin/systemctl"],
            Program::RcService => &[
                "/sbin/rc-service",
                "/usr/sbin/rc-service",
                "/usr/bin/rc-service",
            ],
        }
    }

    /// A short name for errors.
    pub fn name(self) -> &'static str {
        match self {
            Program::AptGet => "apt-get",
            Program::AptCache => "apt-cache",
            Program::Systemctl => "systemctl",
            Program::RcService => "rc-service",
        }
    }
}

/// The programs found on this host, resolved once at start.
#[derive(Debug, Clone, Default)]
pub struct Programs {
    found: Vec<(Program, PathBuf)>,
}

impl Programs {
    /// Looks for every program among its candidates (regular, executable files only).
    pub fn discover() -> Programs {
        Self::discover_with(|p| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    }

    /// Like [`Self::discover`] with an injectable existence check (tests).
    pub fn discover_with(exists: impl Fn(&Path) -> bool) -> Programs {
        let found = Program::ALL
            .iter()
            .filter_map(|&prog| {
                prog.candidates()
                    .iter()
                    .map(Path::new)
                    .find(|p| exists(p))
                    .map(|p| (prog, p.to_owned()))
            })
            .collect();
        Programs { found }
    }

    /// The path of `prog`, or [`LaunchError::NotAvailable`].
    pub fn path(&self, prog: Program) -> Result<&Path, LaunchError> {
        self.found
            .iter()
            .find(|(p, _)| *p == prog)
            .map(|(_, path)| path.as_path())
            .ok_or_else(|| {
                LaunchError::NotAvailable(format!(
                    "{} is not installed (looked for {})",
                    prog.name(),
                    prog.candidates().join(", ")
                ))
            })
    }
}

/// A fully built command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    /// Absolute program path.
    pub program: PathBuf,
    /// Arguments after the program name.
    pub args: Vec<String>,
    /// Whether the program is apt (gets `APT_CONFIG` and `DEBIAN_FRONTEND`).
    pub is_apt: bool,
}

/// Builds the command line of `inv` from the table.
pub fn command_line(inv: &Invocation, programs: &Programs) -> Result<CommandLine, LaunchError> {
    let (program, fixed, values): (Program, &[&str], Vec<&str>) = match inv {
        Invocation::AptSimulateDistUpgrade => {
            (Program::AptGet, &["-s", "-q", "dist-upgrade"], vec![])
        }
        Invocation::AptCacheShow { name } => (
            Program::AptCache,
            &["show", "--no-all-versions"],
            vec![name.as_str()],
        ),
        Invocation::AptCachePolicy { name } => {
            (Program::AptCache, &["policy"], vec![name.as_str()])
        }
        Invocation::SystemctlShow { name } => (
            Program::Systemctl,
            &["show", SYSTEMCTL_PROPERTIES],
            vec![name.as_str()],
        ),
        Invocation::RcServiceStatus { name } => (Program::RcService, &[], vec![name.as_str()]),
        other => {
            return Err(LaunchError::NotAvailable(format!(
                "{} is not in this launcher's command table",
                other.kind()
            )));
        }
    };
    let mut args: Vec<String> = fixed.iter().map(|s| (*s).to_owned()).collect();
    if !values.is_empty() {
        args.push("--".to_owned());
        for v in values {
            // The newtypes already forbid a leading '-'; this is the launcher's own, last check.
            if v.is_empty() || v.starts_with('-') {
                return Err(LaunchError::NotAvailable(format!(
                    "refusing value {v:?}: it could be read as an option"
                )));
            }
            args.push(v.to_owned());
        }
    }
    if matches!(inv, Invocation::RcServiceStatus { .. }) {
        args.push("status".to_owned());
    }
    Ok(CommandLine {
        program: programs.path(program)?.to_owned(),
        args,
        is_apt: matches!(program, Program::AptGet | Program::AptCache),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lpa_protocol::{PackageName, ServiceName};

    fn all_programs() -> Programs {
        Programs::discover_with(|_| true)
    }

    fn every_invocation() -> Vec<Invocation> {
        let pkg = PackageName::new("demo-lib").unwrap();
        let svc = ServiceName::new("getty@tty1.service").unwrap();
        vec![
            Invocation::AptSimulateDistUpgrade,
            Invocation::AptCacheShow { name: pkg.clone() },
            Invocation::AptCachePolicy { name: pkg },
            Invocation::SystemctlShow { name: svc.clone() },
            Invocation::RcServiceStatus { name: svc },
        ]
    }

    #[test]
    fn every_entry_uses_an_absolute_path_and_puts_values_after_a_double_dash() {
        for inv in every_invocation() {
            let cl = command_line(&inv, &all_programs()).unwrap();
            assert!(cl.program.is_absolute(), "{inv:?}: {cl:?}");
            let value = match &inv {
                Invocation::AptSimulateDistUpgrade => None,
                Invocation::AptCacheShow { name } | Invocation::AptCachePolicy { name } => {
                    Some(name.as_str().to_owned())
                }
                Invocation::SystemctlShow { name } | Invocation::RcServiceStatus { name } => {
                    Some(name.as_str().to_owned())
                }
                _ => unreachable!("every variant is listed"),
            };
            match value {
                None => assert!(!cl.args.iter().any(|a| a == "--"), "{cl:?}"),
                Some(v) => {
                    let dd = cl
                        .args
                        .iter()
                        .position(|a| a == "--")
                        .expect("a literal --");
                    let vi = cl.args.iter().position(|a| *a == v).expect("the value");
                    assert!(dd < vi, "{cl:?}");
                    assert!(
                        !cl.args[dd + 1..].iter().any(|a| a.starts_with('-')),
                        "{cl:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn exact_argv_of_each_entry() {
        let p = all_programs();
        let name = PackageName::new("demo-lib").unwrap();
        let cl = command_line(&Invocation::AptCacheShow { name: name.clone() }, &p).unwrap();
        assert_eq!(cl.program, PathBuf::from("/usr/bin/apt-cache"));
        assert_eq!(cl.args, ["show", "--no-all-versions", "--", "demo-lib"]);
        let cl = command_line(&Invocation::AptCachePolicy { name }, &p).unwrap();
        assert_eq!(cl.args, ["policy", "--", "demo-lib"]);
        let cl = command_line(&Invocation::AptSimulateDistUpgrade, &p).unwrap();
        assert_eq!(cl.program, PathBuf::from("/usr/bin/apt-get"));
        assert_eq!(cl.args, ["-s", "-q", "dist-upgrade"]);
        let svc = ServiceName::new("ssh").unwrap();
        let cl = command_line(&Invocation::RcServiceStatus { name: svc.clone() }, &p).unwrap();
        assert_eq!(cl.args, ["--", "ssh", "status"]);
        let cl = command_line(&Invocation::SystemctlShow { name: svc }, &p).unwrap();
        assert_eq!(cl.args, ["show", SYSTEMCTL_PROPERTIES, "--", "ssh"]);
        assert!(!cl.is_apt);
    }

    #[test]
    fn missing_program_is_not_available() {
        let none = Programs::discover_with(|_| false);
        let err = command_line(&Invocation::AptSimulateDistUpgrade, &none).unwrap_err();
        assert!(matches!(err, LaunchError::NotAvailable(m) if m.contains("/usr/bin/apt-get")));
    }
}
