//! Recorded real apk sessions (`tests/data/apk/apk-<version>.txt`), for the parsers' and the
//! classification's unit tests.
//!
//! Each file is one session of apk-tools 2.14.9 or 3.0.6 against fixture repositories built without apk:
//! a `$ COMMAND` line, then `stdout| …` and `stderr| …` lines and `exit: N`. Other lines (the output of
//! `cat`) belong to the command as plain stdout.

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

/// The one command of the `version` session whose apk arguments (after the global options) are exactly
/// `applet` (for example `"add demo-conflict"` or `"version -l <"`).
pub fn find(version: &str, applet: &str) -> Recorded {
    let all = load(version);
    let matching: Vec<Recorded> = all
        .into_iter()
        .filter(|r| {
            let cmd = r.command.split("   #").next().unwrap_or("").trim_end();
            cmd.ends_with(&format!(" --arch x86_64 {applet}")) || cmd == applet
        })
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "apk {version}: {applet:?} matched {} recorded commands",
        matching.len()
    );
    matching.into_iter().next().unwrap_or_default()
}
