//! Recorded real apt runs (`tests/data/apt-change/*.txt`), for the parsers' unit tests.
//!
//! Each file was captured on Debian 12 (apt 2.6.2) against the test kit's fixture repositories with the
//! launcher's options: `rc=N`, then `--- stdout`, `--- stderr` and `--- status` (the Status-Fd lines).

/// One recorded run.
#[derive(Debug)]
pub struct Recorded {
    /// Exit code.
    pub rc: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Lines apt wrote to its status descriptor.
    pub status: String,
}

impl Recorded {
    /// Loads `tests/data/apt-change/<name>.txt`.
    pub fn load(name: &str) -> Recorded {
        let path = format!(
            "{}/tests/data/apt-change/{name}.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let section = |start: &str, end: Option<&str>| -> String {
            let from = text
                .find(start)
                .map(|i| i + start.len() + 1)
                .unwrap_or(text.len());
            let to = end.and_then(|e| text.find(e)).unwrap_or(text.len());
            text.get(from..to).unwrap_or("").to_owned()
        };
        let rc = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("rc="))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{path}: no rc= line"));
        Recorded {
            rc,
            stdout: section("--- stdout", Some("--- stderr")),
            stderr: section("--- stderr", Some("--- status")),
            status: section("--- status", None),
        }
    }
}
