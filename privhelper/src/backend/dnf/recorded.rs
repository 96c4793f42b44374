//! Recorded real dnf and rpm runs (`tests/data/dnf/*.txt`), for the parsers' unit tests.
//!
//! Each file was captured on Debian 12 (dnf 4.14.0, rpm 4.18.0) against the test kit's dnf fixtures by
//! `LPA_RECORD_DNF=… cargo test -p linux-patch-api-testkit --test dnf_fixtures`: `rc=N`, then `--- stdout`
//! and `--- stderr`.

/// One recorded run.
#[derive(Debug)]
pub struct Recorded {
    /// Exit code.
    pub rc: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Recorded {
    /// Loads `tests/data/dnf/<name>.txt`.
    pub fn load(name: &str) -> Recorded {
        let path = format!("{}/tests/data/dnf/{name}.txt", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let rc = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("rc="))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{path}: no rc= line"));
        let (_, rest) = text.split_once("--- stdout\n").unwrap_or(("", ""));
        let (stdout, stderr) = rest.split_once("--- stderr\n").unwrap_or((rest, ""));
        Recorded {
            rc,
            stdout: stdout.to_owned(),
            stderr: stderr.to_owned(),
        }
    }
}
