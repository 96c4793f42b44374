//! The dnf part of the launcher's exact-name guard (see the parent module).

use super::super::spawn::{self, SpawnPolicy};
use super::super::table::{self, Table};
use crate::backend::dnf::exact::{Evr, available};
use crate::backend::lock_wait::LockWait;
use lpa_protocol::launcher::{ExecOutput, Invocation, LaunchError};
use lpa_protocol::{PackageName, PackageSpec};
use std::time::Duration;

/// dnf's exit code when `exit_on_lock` met the lock held by another dnf run.
const LOCK_BUSY: i32 = 200;

/// Runs the read `inv`, running it again while dnf's lock is busy (a concurrent read of the broker takes
/// it for a moment), for at most the policy's timeout.
fn read(inv: &Invocation, table: &Table, policy: &SpawnPolicy) -> Result<ExecOutput, LaunchError> {
    let limit = policy.timeout.min(Duration::from_secs(300));
    let mut wait = LockWait::new(limit);
    loop {
        let out = spawn::run_with(
            |fd| table::command_line(inv, table, fd),
            policy,
            limit,
            None,
            |_| {},
        )?;
        if out.exit_code != Some(LOCK_BUSY) {
            return Ok(out);
        }
        match wait.next_pause() {
            Some(pause) => std::thread::sleep(pause),
            None => return Ok(out),
        }
    }
}

fn refused(what: String) -> LaunchError {
    LaunchError::NotAvailable(format!("refusing a dnf argument: {what}"))
}

/// Install, reinstall, downgrade: every target must be an available record named exactly NAME (at
/// exactly the pinned version).
pub(super) fn check_available(
    inv: &Invocation,
    packages: &[PackageSpec],
    table: &Table,
    policy: &SpawnPolicy,
) -> Result<(), LaunchError> {
    // dnf's own grammar first (`.rpm` endings, version shape): those refusals keep their wording.
    table::command_line(inv, table, None)?;
    for p in packages {
        let query = Invocation::DnfRepoqueryVersions {
            name: p.name.clone(),
        };
        let out = read(&query, table, policy)?;
        if out.exit_code != Some(0) {
            return Err(refused(format!(
                "cannot confirm that {} exists (dnf repoquery exited {:?})",
                p.name, out.exit_code
            )));
        }
        let records = available(p.name.as_str(), &out.stdout);
        let found = match &p.version {
            None => !records.is_empty(),
            Some(v) => {
                let wanted = Evr::parse(v.as_str()).full();
                records.iter().any(|r| r.full() == wanted)
            }
        };
        if !found {
            return Err(refused(format!(
                "no available package named exactly {}{}",
                p.name,
                p.version
                    .as_ref()
                    .map(|v| format!(" at {}", v.as_str()))
                    .unwrap_or_default()
            )));
        }
    }
    Ok(())
}

/// Upgrade, remove: every name must be installed under exactly that name.
pub(super) fn check_installed(
    inv: &Invocation,
    names: &[PackageName],
    table: &Table,
    policy: &SpawnPolicy,
) -> Result<(), LaunchError> {
    table::command_line(inv, table, None)?;
    for name in names {
        let query = Invocation::RpmQueryName { name: name.clone() };
        let out = spawn::run_with(
            |fd| table::command_line(&query, table, fd),
            policy,
            policy.timeout.min(Duration::from_secs(120)),
            None,
            |_| {},
        )?;
        if out.exit_code != Some(0) || !names_exactly(&out.stdout, name.as_str()) {
            return Err(refused(format!(
                "no installed package named exactly {name}"
            )));
        }
    }
    Ok(())
}

/// Whether `rpm -q --qf '%{NAME}\n'` printed at least one line and every line is exactly `name` (a
/// package installed for several architectures prints it once per architecture).
fn names_exactly(stdout: &str, name: &str) -> bool {
    let mut lines = stdout.lines().filter(|l| !l.trim().is_empty()).peekable();
    lines.peek().is_some() && lines.all(|l| l.trim() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_installed_names_pass() {
        assert!(names_exactly("hello\n", "hello"));
        assert!(names_exactly("hello\nhello\n", "hello"));
        // `rpm -q hello-1.0` selects hello: the printed name is not the request.
        assert!(!names_exactly("hello\n", "hello-1.0"));
        assert!(!names_exactly("", "hello"));
        assert!(!names_exactly(
            "package hello-1.0 is not installed\n",
            "hello-1.0"
        ));
    }
}
