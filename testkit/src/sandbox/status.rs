//! Reading a dpkg status database, for assertions.

/// One package's entry in a dpkg status file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpkgEntry {
    /// `Package:`.
    pub package: String,
    /// `Version:`.
    pub version: String,
    /// `Status:`, e.g. `install ok installed` or `install ok half-configured`.
    pub status: String,
}

impl DpkgEntry {
    /// True if dpkg considers the package fully installed (`… installed`).
    pub fn is_installed(&self) -> bool {
        self.status.split_whitespace().nth(2) == Some("installed")
    }
}

/// Parses every stanza of a dpkg `status` file (continuation lines are skipped).
pub fn parse_status(text: &str) -> Vec<DpkgEntry> {
    text.split("\n\n")
        .filter_map(|stanza| {
            let mut package = None;
            let mut version = String::new();
            let mut status = String::new();
            for line in stanza.lines() {
                if let Some(v) = line.strip_prefix("Package: ") {
                    package = Some(v.trim().to_owned());
                } else if let Some(v) = line.strip_prefix("Version: ") {
                    version = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("Status: ") {
                    status = v.trim().to_owned();
                }
            }
            package.map(|package| DpkgEntry {
                package,
                version,
                status,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_installed_and_half_configured_packages() {
        let text = "Package: a\nStatus: install ok installed\nVersion: 1.0\nDescription: x\n y\n\n\
                    Package: b\nStatus: install ok half-configured\nVersion: 2\n";
        let entries = parse_status(text);
        assert_eq!(entries.len(), 2);
        assert!(entries[0].is_installed());
        assert_eq!(entries[0].version, "1.0");
        assert!(!entries[1].is_installed());
    }
}
