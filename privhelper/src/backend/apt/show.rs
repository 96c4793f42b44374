//! `apt-cache show --no-all-versions -- NAME`: the candidate's deb822 record.

use crate::pkgdb::deb822;
use lpa_protocol::PackageRecord;
use lpa_protocol::launcher::ExecOutput;

/// What `apt-cache show` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShowResult {
    /// The candidate record.
    Found(Box<PackageRecord>),
    /// apt knows no such package (`E: No packages found`, or no record at all).
    NotFound,
    /// Any other failure.
    Failed,
}

/// Interprets the output of `apt-cache show --no-all-versions`.
pub fn parse_show(out: &ExecOutput) -> ShowResult {
    let record = deb822::parse(&out.stdout).into_iter().find_map(|p| {
        let name = p.get("Package")?;
        Some(PackageRecord {
            name: name.to_owned(),
            version: p.get("Version").unwrap_or("").to_owned(),
            architecture: p.get("Architecture").unwrap_or("").to_owned(),
            description: p.first_line("Description").unwrap_or("").to_owned(),
            size_bytes: p
                .get("Installed-Size")
                .and_then(|s| s.parse::<u64>().ok())
                .and_then(|k| k.checked_mul(1024)),
            installed_at: None,
            dependencies: {
                let mut d = p
                    .get("Pre-Depends")
                    .map(deb822::relation_names)
                    .unwrap_or_default();
                for n in p
                    .get("Depends")
                    .map(deb822::relation_names)
                    .unwrap_or_default()
                {
                    if !d.contains(&n) {
                        d.push(n);
                    }
                }
                d
            },
            held: false,
            maintainer: p.get("Maintainer").map(str::to_owned),
            homepage: p.get("Homepage").map(str::to_owned),
            license: None,
            source: None,
        })
    });
    match record {
        Some(r) if out.exit_code == Some(0) => ShowResult::Found(Box::new(r)),
        _ if out.stderr.contains("No packages found") || out.exit_code == Some(0) => {
            ShowResult::NotFound
        }
        _ => ShowResult::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn out(code: i32, stdout: &str, stderr: &str) -> ExecOutput {
        ExecOutput {
            program: "/usr/bin/apt-cache".into(),
            exit_code: Some(code),
            stdout: stdout.into(),
            stderr: stderr.into(),
            truncated: false,
        }
    }

    #[test]
    fn recorded_record_is_parsed() {
        let text = include_str!("../../../tests/data/apt-cache-show-demo-lib.txt");
        let ShowResult::Found(r) = parse_show(&out(0, text, "")) else {
            panic!("not found");
        };
        assert_eq!((r.name.as_str(), r.version.as_str()), ("demo-lib", "1.0.1"));
        assert_eq!(r.description, "demo package demo-lib");
        assert_eq!(
            r.maintainer.as_deref(),
            Some("Demo Maintainer <demo@example.invalid>")
        );
    }

    #[test]
    fn recorded_not_found() {
        let text = include_str!("../../../tests/data/apt-cache-show-not-found.txt");
        assert_eq!(parse_show(&out(100, "", text)), ShowResult::NotFound);
        assert_eq!(
            parse_show(&out(100, "", "E: Could not open lock file")),
            ShowResult::Failed
        );
    }

    proptest! {
        #[test]
        fn parser_never_panics(s in any::<String>(), code in any::<i32>()) {
            let _ = parse_show(&out(code, &s, &s));
        }
    }
}
