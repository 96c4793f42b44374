//! `pacman -Si -- NAME` against the listing database: the candidate record, `Key : value` lines padded
//! to a column (continuation lines of a long value start with spaces), `None` for an empty value.
//! pacman exits 1 with `error: package 'NAME' was not found` when no repository has the package.

use crate::backend::pacman::localdb::dependency_name;
use lpa_protocol::PackageRecord;

/// The `Key : value` fields of the first record, continuation lines joined with a space.
pub fn fields(stdout: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in stdout.lines() {
        if line.trim().is_empty() {
            if !out.is_empty() {
                break; // one record only: the first repository that has the package
            }
            continue;
        }
        if line.starts_with(' ') {
            if let Some((_, value)) = out.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((key, value)) = line.split_once(" : ") {
            out.push((key.trim().to_owned(), value.trim().to_owned()));
        }
    }
    out
}

/// `760.00 B`, `4.00 KiB`, `1.50 MiB` → bytes.
pub fn parse_size(text: &str) -> Option<u64> {
    let (number, unit) = text.split_once(' ')?;
    let number: f64 = number.parse().ok()?;
    let factor = match unit {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "TiB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = (number * factor).round();
    (bytes.is_finite() && bytes >= 0.0).then_some(bytes as u64)
}

/// The candidate record of a `-Si` output, or `None` when there is none (empty output).
pub fn parse(stdout: &str) -> Option<PackageRecord> {
    let fields = fields(stdout);
    let get = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .filter(|v| v != "None")
    };
    Some(PackageRecord {
        name: get("Name")?,
        version: get("Version")?,
        architecture: get("Architecture").unwrap_or_default(),
        description: get("Description").unwrap_or_default(),
        size_bytes: get("Installed Size").and_then(|s| parse_size(&s)),
        installed_at: None,
        dependencies: get("Depends On")
            .map(|d| {
                d.split_whitespace()
                    .map(|dep| dependency_name(dep).to_owned())
                    .collect()
            })
            .unwrap_or_default(),
        held: false,
        maintainer: get("Packager"),
        homepage: get("URL"),
        license: get("Licenses"),
        source: get("Repository"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::pacman::recorded::Recorded;

    #[test]
    fn recorded_sync_info_is_the_candidate_record() {
        let rec = Recorded::load("sync-info");
        let r = parse(&rec.stdout).unwrap();
        assert_eq!((r.name.as_str(), r.version.as_str()), ("demo-app", "1.1-1"));
        assert_eq!(r.architecture, "any");
        assert_eq!(r.dependencies, ["demo-lib"]);
        assert_eq!(r.size_bytes, Some(4));
        assert_eq!(r.source.as_deref(), Some("demo"));
        assert_eq!(r.license.as_deref(), Some("Apache"));
        assert_eq!(r.installed_at, None);
    }

    #[test]
    fn recorded_epoch_version_is_verbatim() {
        let r = parse(&Recorded::load("sync-info-odd").stdout).unwrap();
        assert_eq!(r.version, "1:1.0-2");
        assert!(r.dependencies.is_empty(), "Depends On : None");
    }

    #[test]
    fn recorded_unknown_package_has_no_record() {
        let rec = Recorded::load("sync-info-missing");
        assert_eq!(rec.rc, 1);
        assert!(rec.stderr.contains("error: package 'nosuch' was not found"));
        assert_eq!(parse(&rec.stdout), None);
    }

    #[test]
    fn wrapped_values_and_units_parse() {
        let text = "Repository      : extra\nName            : vim\nVersion         : 9.1-1\n\
                    Depends On      : vim-runtime=9.1  gpm  acl  glibc\n\
                    \x20                 libgcrypt  zlib\n\
                    Installed Size  : 4.50 MiB\n\nRepository      : other\nName            : vim\n";
        let r = parse(text).unwrap();
        assert_eq!(
            r.dependencies,
            ["vim-runtime", "gpm", "acl", "glibc", "libgcrypt", "zlib"]
        );
        assert_eq!(r.size_bytes, Some(4_718_592));
        assert_eq!(r.source.as_deref(), Some("extra"));
        assert_eq!(parse_size("1.00 XB"), None);
    }
}
