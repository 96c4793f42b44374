//! The dnf/yum and rpm entries of the command table: a pure argv builder over the helper's dnf settings.
//!
//! Every dnf entry starts with the same global options, all from `helper.yaml`, never from a request:
//! `-y --color=never --setopt=exit_on_lock=True [--installroot=ROOT] [--config=FILE] [--releasever=V]`,
//! plus `-q -C` for the read-only entries (quiet, and from the metadata cache: only
//! [`Invocation::DnfMakecache`] touches the network, like `apt-get update`). Then the operation, a literal
//! `--`, and the validated values. Rules this module enforces by construction:
//!
//! - **Signature checking is the host's:** no entry passes anything that weakens it.
//! - **Conflicts are refused, never resolved:** no entry passes `--allowerasing`, `--skip-broken` or
//!   `--best`-overrides; dnf then fails with "conflicting requests" (gotcha D5).
//! - **A busy rpmdb fails at once** (`exit_on_lock`, exit code 200, "RPMDB already locked by PID") instead of
//!   waiting without bound; the classification reports it as `LOCK_TIMEOUT` naming the holder.
//! - **`rpm` always gets `--dbpath /var/lib/rpm`**, so the database location never depends on `HOME`
//!   (gotcha D1: Debian's rpm macros say `~/.rpmdb`).
//! - **Removal never takes unused dependencies along** (`--noautoremove`), as `apt-get remove` does not.
//!
//! `yum` is the same program with the same options (RHEL 8+ ships it as a link to dnf); which one runs is
//! [`DnfSettings::front_end`].

use super::{non_empty, path_arg, push_values};
use crate::backend::dnf::query::{CANDIDATE_QF, INSTALLED_QF, UPGRADES_QF, VERSIONS_QF};
use lpa_protocol::launcher::{Invocation, LaunchError};
use lpa_protocol::{Backend, PackageName, PackageSpec};
use std::path::{Path, PathBuf};

/// Where rpm keeps its database inside the package root, on every RPM distribution (on Fedora 36+ a link to
/// `/usr/lib/sysimage/rpm`).
pub const RPM_DBPATH: &str = "/var/lib/rpm";

/// Which front end runs the dnf entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FrontEnd {
    /// `dnf`.
    #[default]
    Dnf,
    /// `yum` (RHEL 7 family, or RHEL 8+'s link to dnf).
    Yum,
}

/// The dnf settings of `helper.yaml` (`dnf:`), shared by the dnf and yum backends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnfSettings {
    /// `--config=FILE`: the test kit's and the demo's `dnf.conf` (whose `reposdir` keeps the host's
    /// repositories out, gotcha D7); `None` uses the host's `/etc/dnf/dnf.conf`. Required when
    /// `package_root` is not `/`.
    pub config_file: Option<PathBuf>,
    /// `--releasever=V`; `None` lets dnf derive it from the root's release package.
    pub releasever: Option<String>,
    /// dnf or yum.
    pub front_end: FrontEnd,
}

/// A program of the dnf entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Program {
    /// dnf.
    Dnf,
    /// yum.
    Yum,
    /// rpm.
    Rpm,
}

impl Program {
    /// Every program of the dnf entries.
    pub const ALL: [Program; 3] = [Program::Dnf, Program::Yum, Program::Rpm];

    /// Absolute paths tried in order; the first that exists is used.
    pub fn candidates(self) -> &'static [&'static str] {
        match self {
            Program::Dnf => &["/usr/bin/dnf", "/usr/bin/dnf-3"],
            Program::Yum => &["/usr/bin/yum"],
            Program::Rpm => &["/usr/bin/rpm", "/bin/rpm"],
        }
    }

    /// A short name for errors.
    pub fn name(self) -> &'static str {
        match self {
            Program::Dnf => "dnf",
            Program::Yum => "yum",
            Program::Rpm => "rpm",
        }
    }
}

/// The program `inv` runs; `None` when it is not a dnf/rpm entry.
pub fn program_of(inv: &Invocation, settings: &DnfSettings) -> Option<Program> {
    match inv {
        Invocation::RpmQueryInstalled
        | Invocation::RpmVerifyDependencies
        | Invocation::RpmQueryName { .. } => Some(Program::Rpm),
        _ if changes_host(inv).is_some() => Some(match settings.front_end {
            FrontEnd::Dnf => Program::Dnf,
            FrontEnd::Yum => Program::Yum,
        }),
        _ => None,
    }
}

/// Whether `inv` changes the host (a long timeout and streamed stdout) or only reads; `None` when it is
/// not a dnf/rpm entry.
pub fn changes_host(inv: &Invocation) -> Option<bool> {
    match inv {
        Invocation::DnfMakecache
        | Invocation::DnfInstall { .. }
        | Invocation::DnfReinstall { .. }
        | Invocation::DnfDowngrade { .. }
        | Invocation::DnfUpgrade { .. }
        | Invocation::DnfUpgradeAll
        | Invocation::DnfRemove { .. } => Some(true),
        Invocation::RpmQueryInstalled
        | Invocation::RpmVerifyDependencies
        | Invocation::RpmQueryName { .. }
        | Invocation::DnfRepoqueryUpgrades
        | Invocation::DnfRepoqueryCandidate { .. }
        | Invocation::DnfRepoqueryVersions { .. }
        | Invocation::DnfUpdateinfoList
        | Invocation::DnfUpdateinfoInfo => Some(false),
        _ => None,
    }
}

fn specs(packages: &[PackageSpec], inv: &Invocation) -> Result<Vec<String>, LaunchError> {
    non_empty(packages.len(), inv)?;
    // dnf's NEVRA forms: `NAME` or `NAME-[EPOCH:]VERSION[-RELEASE]`. The launcher re-checks dnf's own
    // grammar (no `.rpm` ending, which dnf reads as a local file; RPM's version shape), so a broker that
    // skipped it still cannot widen a request.
    packages
        .iter()
        .map(|p| {
            let name = checked_name(&p.name)?;
            Ok(match &p.version {
                Some(v) => {
                    Backend::Dnf.check_version(v).map_err(refuse)?;
                    format!("{name}-{}", v.as_str())
                }
                None => name,
            })
        })
        .collect()
}

fn refuse(e: lpa_protocol::ValidationError) -> LaunchError {
    LaunchError::NotAvailable(format!("refusing a dnf argument: {e}"))
}

fn checked_name(name: &PackageName) -> Result<String, LaunchError> {
    Backend::Dnf.check_name(name).map_err(refuse)?;
    Ok(name.as_str().to_owned())
}

/// The arguments of `inv` after the program name; `Ok(None)` when `inv` is not a dnf/rpm entry.
pub fn args(
    inv: &Invocation,
    settings: &DnfSettings,
    package_root: &Path,
) -> Result<Option<Vec<String>>, LaunchError> {
    let Some(changes) = changes_host(inv) else {
        return Ok(None);
    };
    let sandboxed = package_root != Path::new("/");
    if let Invocation::RpmQueryInstalled
    | Invocation::RpmVerifyDependencies
    | Invocation::RpmQueryName { .. } = inv
    {
        let mut args = Vec::new();
        if sandboxed {
            args.push(format!("--root={}", path_arg(package_root)?));
        }
        args.push(format!("--dbpath={RPM_DBPATH}"));
        if let Invocation::RpmQueryInstalled = inv {
            args.extend(["-qa".into(), "--qf".into(), INSTALLED_QF.into()]);
        } else if let Invocation::RpmQueryName { name } = inv {
            args.extend(["-q".into(), "--qf".into(), "%{NAME}\n".into()]);
            args.extend(["--".into(), checked_name(name)?]);
        } else {
            // Dependencies only: no file, digest, signature or script checks.
            args.extend(
                [
                    "-Va",
                    "--nofiles",
                    "--nodigest",
                    "--nosignature",
                    "--noscripts",
                ]
                .map(String::from),
            );
        }
        return Ok(Some(args));
    }
    if settings.config_file.is_none() && sandboxed {
        return Err(LaunchError::NotAvailable(
            "dnf on a package_root other than / needs dnf.config_file".into(),
        ));
    }
    let mut args: Vec<String> = vec![
        "-y".into(),
        "--color=never".into(),
        "--setopt=exit_on_lock=True".into(),
    ];
    if sandboxed {
        args.push(format!("--installroot={}", path_arg(package_root)?));
    }
    if let Some(config) = &settings.config_file {
        args.push(format!("--config={}", path_arg(config)?));
    }
    if let Some(rv) = &settings.releasever {
        if rv.is_empty() || rv.starts_with('-') || rv.contains(char::is_whitespace) {
            return Err(LaunchError::NotAvailable(format!(
                "refusing releasever {rv:?}"
            )));
        }
        args.push(format!("--releasever={rv}"));
    }
    if !changes {
        args.extend(["-q".into(), "-C".into()]);
    }
    let values: Vec<String> = match inv {
        Invocation::DnfRepoqueryUpgrades => {
            args.extend(
                [
                    "repoquery",
                    "--upgrades",
                    "--latest-limit=1",
                    "--qf",
                    UPGRADES_QF,
                ]
                .map(String::from),
            );
            Vec::new()
        }
        Invocation::DnfRepoqueryCandidate { name } => {
            args.extend(
                [
                    "repoquery",
                    "--available",
                    "--latest-limit=1",
                    "--qf",
                    CANDIDATE_QF,
                ]
                .map(String::from),
            );
            vec![checked_name(name)?]
        }
        Invocation::DnfRepoqueryVersions { name } => {
            args.extend(["repoquery", "--available", "--qf", VERSIONS_QF].map(String::from));
            vec![checked_name(name)?]
        }
        Invocation::DnfUpdateinfoList => {
            args.extend(["updateinfo", "list", "--updates"].map(String::from));
            Vec::new()
        }
        Invocation::DnfUpdateinfoInfo => {
            args.extend(["updateinfo", "info", "--updates"].map(String::from));
            Vec::new()
        }
        Invocation::DnfMakecache => {
            args.extend(["makecache", "--refresh"].map(String::from));
            Vec::new()
        }
        Invocation::DnfInstall {
            packages,
            no_weak_deps,
        } => {
            if *no_weak_deps {
                args.push("--setopt=install_weak_deps=False".into());
            }
            args.push("install".into());
            specs(packages, inv)?
        }
        Invocation::DnfReinstall { packages } => {
            args.push("reinstall".into());
            specs(packages, inv)?
        }
        Invocation::DnfDowngrade { packages } => {
            args.push("downgrade".into());
            specs(packages, inv)?
        }
        Invocation::DnfUpgrade { names } => {
            non_empty(names.len(), inv)?;
            args.push("upgrade".into());
            names.iter().map(checked_name).collect::<Result<_, _>>()?
        }
        Invocation::DnfUpgradeAll => {
            args.push("upgrade".into());
            Vec::new()
        }
        Invocation::DnfRemove { names } => {
            non_empty(names.len(), inv)?;
            args.extend(["remove".into(), "--noautoremove".into()]);
            names.iter().map(checked_name).collect::<Result<_, _>>()?
        }
        other => {
            return Err(LaunchError::NotAvailable(format!(
                "{} is not a dnf entry",
                other.kind()
            )));
        }
    };
    push_values(&mut args, values)?;
    Ok(Some(args))
}

#[cfg(test)]
mod tests;
