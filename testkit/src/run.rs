//! The kit's one place that creates child processes, and how their failures are reported.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

use crate::error::{Error, IoContext, Result};
use crate::fsutil::tail_of;

/// The `PATH` every child gets: the kit clears the environment so nothing from the developer's shell (or from
/// `cargo test`) changes how apt and dpkg behave. dpkg needs `/usr/sbin` and `/sbin` to find `ldconfig` and
/// `start-stop-daemon`.
pub const STANDARD_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Lines of child output kept in an error message.
const OUTPUT_TAIL_LINES: usize = 40;

/// A `Command` for `program` with a cleared environment except `PATH` and `LC_ALL=C`.
///
/// The workspace's clippy configuration forbids `Command::new` because in the product only the helper's
/// launcher may spawn processes (DESIGN invariant 2). The test kit is dev infrastructure that must start
/// dpkg-deb, apt and the product binaries themselves, so it opts out here, in one place.
#[allow(clippy::disallowed_methods)]
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", STANDARD_PATH)
        .env("LC_ALL", "C");
    cmd
}

/// Runs `cmd` to completion, capturing output; an unsuccessful exit is an [`Error::Command`] carrying the
/// tail of what it printed.
pub fn checked(cmd: &mut Command) -> Result<Output> {
    let out = cmd
        .output()
        .context(|| format!("start `{}`", describe(cmd)))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(Error::Command {
            command: describe(cmd),
            status: out.status,
            output: output_tail(&out),
        })
    }
}

/// Runs `cmd` to completion and returns its output whatever its exit status.
pub fn unchecked(cmd: &mut Command) -> Result<Output> {
    cmd.output()
        .context(|| format!("start `{}`", describe(cmd)))
}

/// Stdout and stderr of a finished child, trimmed to the last lines, for error messages.
pub fn output_tail(out: &Output) -> String {
    format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        tail_of(&String::from_utf8_lossy(&out.stdout), OUTPUT_TAIL_LINES),
        tail_of(&String::from_utf8_lossy(&out.stderr), OUTPUT_TAIL_LINES)
    )
}

/// The command line with the environment variables the kit set, for messages.
pub fn describe(cmd: &Command) -> String {
    let mut text = String::new();
    for (key, value) in cmd.get_envs() {
        if key == "PATH" || key == "LC_ALL" {
            continue;
        }
        if let Some(value) = value {
            text.push_str(&format!(
                "{}={} ",
                key.to_string_lossy(),
                value.to_string_lossy()
            ));
        }
    }
    if let Some(dir) = cmd.get_current_dir() {
        text.insert_str(0, &format!("(cd {}) ", dir.display()));
    }
    text.push_str(&cmd.get_program().to_string_lossy());
    for arg in cmd.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// A `Command` whose working directory is `dir`.
pub fn command_in(program: impl AsRef<OsStr>, dir: &Path) -> Command {
    let mut cmd = command(program);
    cmd.current_dir(dir);
    cmd
}
