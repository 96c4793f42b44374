//! The recorded apk sessions (`tests/data/apk/apk-<version>.txt`, see its README): real apk-tools 2.14.9
//! and 3.0.6 runs against the fixture repositories, one `$ COMMAND` line, then `stdout| …`, `stderr| …`
//! and `exit: N`. Other lines (the output of `cat`) belong to the command as plain stdout.

// One reader of the recordings for the unit tests and this scenario: the unit tests' module, included as is.
// Its own `find` (by applet suffix, for single runs) is not used here.
#[allow(dead_code)]
#[path = "../../src/backend/apk/test_transcript.rs"]
mod recorded;

pub use recorded::{Recorded, VERSIONS, load};

impl Recorded {
    /// The applet and its arguments: what follows the recorder's own global options (`--root`,
    /// `--allow-untrusted`, `--repositories-file /dev/null`, `--repository`, `--no-progress`, `--arch
    /// x86_64`), without `--initdb`, which only the first command of a fresh root needed. `None` for
    /// commands that are not apk runs on the sandbox.
    pub fn applet(&self) -> Option<String> {
        let cmd = self.command.split("   #").next()?.trim_end();
        let rest = cmd.split_once(" --arch x86_64 ")?.1;
        Some(rest.replace(" --initdb", ""))
    }

    /// Whether the recorder passed its option that accepts unsigned repositories (every apk run but the
    /// last one, which shows what apk does without it).
    pub fn recorded_untrusted(&self) -> bool {
        self.command.contains(" --allow-untrusted ")
    }
}

/// The one recorded apk run (with the recorder's trusted test repository) whose applet is `applet`.
pub fn find<'a>(session: &'a [Recorded], applet: &str) -> Result<&'a Recorded, String> {
    let found: Vec<&Recorded> = session
        .iter()
        .filter(|r| r.recorded_untrusted() && r.applet().as_deref() == Some(applet))
        .collect();
    match found.as_slice() {
        [one] => Ok(one),
        other => Err(format!(
            "`apk {applet}` matches {} recorded runs",
            other.len()
        )),
    }
}
