//! The fixed command table: the only place an argv is ever built.
//!
//! Each [`Invocation`] maps to an absolute program path found at start among fixed candidates, fixed
//! options, a literal `--`, then the validated values. A value can therefore never be read as an option,
//! by construction *and* by the newtypes' grammar (no value starts with `-`).

pub mod apk;
pub mod change;
pub mod dnf;
pub mod pacman;

use apk::ApkSettings;
use dnf::DnfSettings;
use lpa_protocol::launcher::{Invocation, LaunchError};
use pacman::PacmanSettings;
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
    /// dnf.
    Dnf,
    /// yum (on RHEL 8+ a link to dnf).
    Yum,
    /// rpm (reading the installed set).
    Rpm,
    /// pacman.
    Pacman,
    /// apk.
    Apk,
}

impl Program {
    /// Every program of the table.
    pub const ALL: [Program; 9] = [
        Program::AptGet,
        Program::AptCache,
        Program::Systemctl,
        Program::RcService,
        Program::Dnf,
        Program::Yum,
        Program::Rpm,
        Program::Pacman,
        Program::Apk,
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
            Program::Dnf => dnf::Program::Dnf.candidates(),
            Program::Yum => dnf::Program::Yum.candidates(),
            Program::Rpm => dnf::Program::Rpm.candidates(),
            Program::Pacman => pacman::PACMAN_CANDIDATES,
            Program::Apk => apk::APK_CANDIDATES,
        }
    }

    /// A short name for errors.
    pub fn name(self) -> &'static str {
        match self {
            Program::AptGet => "apt-get",
            Program::AptCache => "apt-cache",
            Program::Systemctl => "systemctl",
            Program::RcService => "rc-service",
            Program::Dnf => "dnf",
            Program::Yum => "yum",
            Program::Rpm => "rpm",
            Program::Pacman => "pacman",
            Program::Apk => "apk",
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
    /// Whether the program is apt (gets `APT_CONFIG` and the non-interactive environment).
    pub is_apt: bool,
}

/// Whether an entry only reads or may change the host. The class decides the timeout and whether the
/// command gets a status channel (apt's `APT::Status-Fd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecClass {
    /// Reads only; short timeout, no status channel.
    Read,
    /// Changes packages; long backstop timeout (the frontend's job timeout is the real limit) and a status
    /// channel streamed back to the broker.
    Change,
    /// Runs the reboot command; short timeout, no status channel.
    Reboot,
}

impl ExecClass {
    /// Whether the command's progress is streamed back to the broker while it runs.
    pub fn streams_status(self) -> bool {
        self == ExecClass::Change
    }
}

/// Where the progress lines of a package-changing entry come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusChannel {
    /// A pipe whose descriptor number is passed in argv (apt's `APT::Status-Fd`): machine-readable lines,
    /// separate from the human output.
    Pipe,
    /// The program's standard output, line by line: dnf, pacman and apk have no status descriptor, and
    /// their `LC_ALL=C` output is what their trackers parse. The lines are captured as stdout as well.
    Stdout,
}

/// The status channel of `inv`, or `None` for entries whose progress is not streamed.
pub fn status_channel(inv: &Invocation) -> Option<StatusChannel> {
    if !class_of(inv).streams_status() {
        return None;
    }
    Some(match inv {
        Invocation::AptGetUpdate
        | Invocation::AptGetInstall { .. }
        | Invocation::AptGetOnlyUpgrade { .. }
        | Invocation::AptGetDistUpgrade
        | Invocation::AptGetRemove { .. } => StatusChannel::Pipe,
        _ => StatusChannel::Stdout,
    })
}

/// The class of `inv`.
pub fn class_of(inv: &Invocation) -> ExecClass {
    let other = dnf::changes_host(inv)
        .or_else(|| pacman::changes_host(inv))
        .or_else(|| apk::changes_host(inv));
    if let Some(changes) = other {
        return if changes {
            ExecClass::Change
        } else {
            ExecClass::Read
        };
    }
    match inv {
        Invocation::AptGetUpdate
        | Invocation::AptGetInstall { .. }
        | Invocation::AptGetOnlyUpgrade { .. }
        | Invocation::AptGetDistUpgrade
        | Invocation::AptGetRemove { .. } => ExecClass::Change,
        Invocation::Reboot { .. } => ExecClass::Reboot,
        _ => ExecClass::Read,
    }
}

/// The whole command table: the programs found on this host plus the settings of `helper.yaml` that
/// shape argv (never anything from a request).
#[derive(Debug, Clone)]
pub struct Table {
    /// Programs found at start.
    pub programs: Programs,
    /// `DPkg::Lock::Timeout` in seconds.
    pub lock_timeout_seconds: u32,
    /// The vetted reboot command ([`change::check_reboot_command`]), or `None` when it is unavailable.
    pub reboot_command: Option<PathBuf>,
    /// The root the package managers act on (`package_root` of `helper.yaml`).
    pub package_root: PathBuf,
    /// dnf/yum settings (`dnf:`).
    pub dnf: DnfSettings,
    /// pacman settings (`pacman:`).
    pub pacman: PacmanSettings,
    /// apk settings (`apk:`).
    pub apk: ApkSettings,
}

impl Table {
    /// A table over `programs` with the default lock timeout and no reboot command.
    pub fn new(programs: Programs) -> Table {
        Table {
            programs,
            lock_timeout_seconds: 60,
            reboot_command: None,
            package_root: PathBuf::from("/"),
            dnf: DnfSettings::default(),
            pacman: PacmanSettings::default(),
            apk: ApkSettings::default(),
        }
    }
}

/// Builds the command line of `inv` from the table. `status_fd` is the descriptor number of the status
/// pipe's write end in the child, for entries of class [`ExecClass::Change`].
pub fn command_line(
    inv: &Invocation,
    table: &Table,
    status_fd: Option<i32>,
) -> Result<CommandLine, LaunchError> {
    if let Some(cl) = rpm_pacman_or_apk(inv, table)? {
        return Ok(cl);
    }
    if class_of(inv) != ExecClass::Read {
        return change::command_line(inv, table, status_fd);
    }
    let programs = &table.programs;
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
        Invocation::AptCacheShowAll { name } => (Program::AptCache, &["show"], vec![name.as_str()]),
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
    push_values(&mut args, values.iter().map(|v| (*v).to_owned()))?;
    if matches!(inv, Invocation::RcServiceStatus { .. }) {
        args.push("status".to_owned());
    }
    Ok(CommandLine {
        program: programs.path(program)?.to_owned(),
        args,
        is_apt: matches!(program, Program::AptGet | Program::AptCache),
    })
}

/// The command line of a dnf/yum/rpm, pacman or apk entry (each module builds its own argv from the
/// settings of `helper.yaml`), or `None` for apt and the system entries.
fn rpm_pacman_or_apk(inv: &Invocation, table: &Table) -> Result<Option<CommandLine>, LaunchError> {
    let root = &table.package_root;
    let (program, args) = if let Some(args) = dnf::args(inv, &table.dnf, root)? {
        let program = match dnf::program_of(inv, &table.dnf) {
            Some(dnf::Program::Rpm) => Program::Rpm,
            Some(dnf::Program::Yum) => Program::Yum,
            _ => Program::Dnf,
        };
        (program, args)
    } else if let Some(args) = pacman::args(inv, &table.pacman, root)? {
        (Program::Pacman, args)
    } else if let Some(args) = apk::args(inv, &table.apk, root)? {
        (Program::Apk, args)
    } else {
        return Ok(None);
    };
    Ok(Some(CommandLine {
        program: table.programs.path(program)?.to_owned(),
        args,
        is_apt: false,
    }))
}

/// A path of `helper.yaml` as an argument; a path that is not UTF-8 cannot be passed on faithfully.
pub(super) fn path_arg(p: &Path) -> Result<String, LaunchError> {
    p.to_str()
        .map(str::to_owned)
        .ok_or_else(|| LaunchError::NotAvailable(format!("path is not UTF-8: {}", p.display())))
}

/// Refuses an entry whose package list is empty (a package manager would read it as "everything" or fail
/// with a usage message).
pub(super) fn non_empty(len: usize, inv: &Invocation) -> Result<(), LaunchError> {
    if len == 0 {
        return Err(LaunchError::NotAvailable(format!(
            "{} needs at least one package",
            inv.kind()
        )));
    }
    Ok(())
}

/// Appends a literal `--` and then `values`, refusing any value that could be read as an option. The
/// newtypes already forbid a leading `-`; this is the launcher's own, last check.
fn push_values(
    args: &mut Vec<String>,
    values: impl IntoIterator<Item = String>,
) -> Result<(), LaunchError> {
    let mut values = values.into_iter().peekable();
    if values.peek().is_none() {
        return Ok(());
    }
    args.push("--".to_owned());
    for v in values {
        if v.is_empty() || v.starts_with('-') {
            return Err(LaunchError::NotAvailable(format!(
                "refusing value {v:?}: it could be read as an option"
            )));
        }
        args.push(v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lpa_protocol::{PackageName, ServiceName};

    fn all_programs() -> Table {
        Table::new(Programs::discover_with(|_| true))
    }

    fn every_invocation() -> Vec<Invocation> {
        let pkg = PackageName::new("demo-lib").unwrap();
        let svc = ServiceName::new("getty@tty1.service").unwrap();
        vec![
            Invocation::AptSimulateDistUpgrade,
            Invocation::AptCacheShow { name: pkg.clone() },
            Invocation::AptCachePolicy { name: pkg.clone() },
            Invocation::AptCacheShowAll { name: pkg },
            Invocation::SystemctlShow { name: svc.clone() },
            Invocation::RcServiceStatus { name: svc },
        ]
    }

    #[test]
    fn every_entry_uses_an_absolute_path_and_puts_values_after_a_double_dash() {
        for inv in every_invocation() {
            let cl = command_line(&inv, &all_programs(), None).unwrap();
            assert!(cl.program.is_absolute(), "{inv:?}: {cl:?}");
            let value = match &inv {
                Invocation::AptSimulateDistUpgrade => None,
                Invocation::AptCacheShow { name }
                | Invocation::AptCachePolicy { name }
                | Invocation::AptCacheShowAll { name } => Some(name.as_str().to_owned()),
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
    fn rpm_pacman_and_apk_entries_reach_their_own_program_with_the_right_class_and_channel() {
        let mut t = all_programs();
        t.package_root = PathBuf::from("/w/root");
        t.dnf.config_file = Some(PathBuf::from("/w/dnf.conf"));
        t.pacman.config_file = Some(PathBuf::from("/w/pacman.conf"));
        let cases = [
            (
                Invocation::RpmQueryInstalled,
                "/usr/bin/rpm",
                ExecClass::Read,
            ),
            (Invocation::DnfMakecache, "/usr/bin/dnf", ExecClass::Change),
            (
                Invocation::PacmanQueryUpgrades,
                "/usr/bin/pacman",
                ExecClass::Read,
            ),
            (
                Invocation::PacmanSysUpgrade { ignore: vec![] },
                "/usr/bin/pacman",
                ExecClass::Change,
            ),
            (Invocation::ApkListUpgradable, "/sbin/apk", ExecClass::Read),
            (Invocation::ApkUpgradeAll, "/sbin/apk", ExecClass::Change),
        ];
        for (inv, program, class) in cases {
            let cl = command_line(&inv, &t, None).unwrap();
            assert_eq!(cl.program, PathBuf::from(program), "{inv:?}");
            assert!(!cl.is_apt, "{inv:?}");
            assert_eq!(class_of(&inv), class, "{inv:?}");
            let channel = (class == ExecClass::Change).then_some(StatusChannel::Stdout);
            assert_eq!(status_channel(&inv), channel, "{inv:?}");
            assert!(
                cl.args.iter().any(|a| a.contains("/w/root")),
                "{inv:?} acts on the package root: {cl:?}"
            );
        }
        t.dnf.front_end = dnf::FrontEnd::Yum;
        let cl = command_line(&Invocation::DnfMakecache, &t, None).unwrap();
        assert_eq!(cl.program, PathBuf::from("/usr/bin/yum"));
        assert_eq!(
            status_channel(&Invocation::AptGetUpdate),
            Some(StatusChannel::Pipe)
        );
    }

    #[test]
    fn exact_argv_of_each_entry() {
        let p = all_programs();
        let name = PackageName::new("demo-lib").unwrap();
        let cl = command_line(&Invocation::AptCacheShow { name: name.clone() }, &p, None).unwrap();
        assert_eq!(cl.program, PathBuf::from("/usr/bin/apt-cache"));
        assert_eq!(cl.args, ["show", "--no-all-versions", "--", "demo-lib"]);
        let cl = command_line(&Invocation::AptCachePolicy { name }, &p, None).unwrap();
        assert_eq!(cl.args, ["policy", "--", "demo-lib"]);
        let cl = command_line(&Invocation::AptSimulateDistUpgrade, &p, None).unwrap();
        assert_eq!(cl.program, PathBuf::from("/usr/bin/apt-get"));
        assert_eq!(cl.args, ["-s", "-q", "dist-upgrade"]);
        let svc = ServiceName::new("ssh").unwrap();
        let cl =
            command_line(&Invocation::RcServiceStatus { name: svc.clone() }, &p, None).unwrap();
        assert_eq!(cl.args, ["--", "ssh", "status"]);
        let cl = command_line(&Invocation::SystemctlShow { name: svc }, &p, None).unwrap();
        assert_eq!(cl.args, ["show", SYSTEMCTL_PROPERTIES, "--", "ssh"]);
        assert!(!cl.is_apt);
    }

    #[test]
    fn missing_program_is_not_available() {
        let none = Table::new(Programs::discover_with(|_| false));
        let err = command_line(&Invocation::AptSimulateDistUpgrade, &none, None).unwrap_err();
        assert!(matches!(err, LaunchError::NotAvailable(m) if m.contains("/usr/bin/apt-get")));
    }
}
