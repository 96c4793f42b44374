//! The recorded apk sessions (`tests/data/apk/apk-<version>.txt`, see its README): real apk-tools 2.14.9
//! and 3.0.6 runs against the fixture repositories, one `$ COMMAND` line, then `stdout| …`, `stderr| …`
//! and `exit: N`. Other lines (the output of `cat`) belong to the command as plain stdout.

/// The two recorded apk versions.
pub const VERSIONS: [&str; 2] = ["2.14.9", "3.0.6"];

/// One recorded command.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// The command line as recorded (with `$ROOT`/`$FIXTURES` placeholders).
    pub command: String,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Exit code (`None` for the non-apk commands that recorded none).
    pub exit: Option<i32>,
}

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

/// Every command of the session recorded with apk `version`.
pub fn load(version: &str) -> Vec<Recorded> {
    let path = format!(
        "{}/tests/data/apk/apk-{version}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut out: Vec<Recorded> = Vec::new();
    for line in text.lines() {
        if let Some(cmd) = line.strip_prefix("$ ") {
            out.push(Recorded {
                command: cmd.to_owned(),
                ..Recorded::default()
            });
            continue;
        }
        let Some(cur) = out.last_mut() else { continue };
        if let Some(l) = line
            .strip_prefix("stdout| ")
            .or(line.strip_prefix("stdout|"))
        {
            cur.stdout.push_str(l);
            cur.stdout.push('\n');
        } else if let Some(l) = line
            .strip_prefix("stderr| ")
            .or(line.strip_prefix("stderr|"))
        {
            cur.stderr.push_str(l);
            cur.stderr.push('\n');
        } else if let Some(code) = line.strip_prefix("exit: ") {
            cur.exit = code.trim().parse().ok();
        } else if !line.is_empty() {
            cur.stdout.push_str(line);
            cur.stdout.push('\n');
        }
    }
    out
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
