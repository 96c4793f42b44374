//! Recorded real pacman runs (`tests/data/pacman/*.txt`), for the parsers' unit tests.
//!
//! Captured with pacman 6.0.2 on Debian 12 against fixture repositories built like the test kit's, with
//! the launcher's argv (`tests/data/pacman/record.sh.txt` is the script): `rc=N`, `--- stdout`, `--- stderr`.

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

/// `tests/data/pacman/<rel>`.
pub fn data_path(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/pacman")
        .join(rel)
}

impl Recorded {
    /// Loads `tests/data/pacman/<name>.txt`.
    pub fn load(name: &str) -> Recorded {
        let path = data_path(&format!("{name}.txt"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let rc = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("rc="))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{}: no rc= line", path.display()));
        let out = text.find("--- stdout\n").map(|i| i + 11).unwrap_or(0);
        let err = text.find("--- stderr\n").unwrap_or(text.len());
        Recorded {
            rc,
            stdout: text.get(out..err).unwrap_or("").to_owned(),
            stderr: text.get(err + 11..).unwrap_or("").to_owned(),
        }
    }
}
