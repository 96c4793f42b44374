//! pacman's local database, read directly: `<dbpath>/local/<name>-<version>/desc`, a file of `%FIELD%`
//! headers each followed by one value per line and a blank line (libalpm's `be_local.c` writes it).
//!
//! Reading the files instead of running `pacman -Q` costs no process and no lock, and the broker (an
//! unprivileged user) can do it: the database is world-readable.

use lpa_protocol::PackageRecord;
use std::path::Path;

/// The `%FIELD%` sections of one `desc` file, in order; a field's value is its lines.
pub fn sections(text: &str) -> Vec<(&str, Vec<&str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
    let mut current: Option<(&str, Vec<&str>)> = None;
    for line in text.lines() {
        let header = line
            .strip_prefix('%')
            .and_then(|l| l.strip_suffix('%'))
            .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'));
        match (header, current.as_mut()) {
            (Some(h), _) => {
                out.extend(current.take());
                current = Some((h, Vec::new()));
            }
            (None, Some((_, values))) if !line.is_empty() => values.push(line),
            (None, _) => {}
        }
    }
    out.extend(current);
    out
}

/// Strips a dependency's version constraint and description: `demo-lib>=1.0` → `demo-lib`,
/// `python: for the bindings` → `python`.
pub fn dependency_name(dep: &str) -> &str {
    let end = dep
        .find(|c: char| matches!(c, '<' | '>' | '=' | ':') || c.is_whitespace())
        .unwrap_or(dep.len());
    &dep[..end]
}

/// One installed package from the text of its `desc` file; `None` without `%NAME%` or `%VERSION%`.
pub fn parse_desc(text: &str) -> Option<PackageRecord> {
    let sections = sections(text);
    let first = |field: &str| {
        sections
            .iter()
            .find(|(f, _)| *f == field)
            .and_then(|(_, v)| v.first().map(|s| (*s).to_owned()))
    };
    let all = |field: &str| -> Vec<String> {
        sections
            .iter()
            .filter(|(f, _)| *f == field)
            .flat_map(|(_, v)| v.iter().map(|s| (*s).to_owned()))
            .collect()
    };
    let licenses = all("LICENSE");
    Some(PackageRecord {
        name: first("NAME")?,
        version: first("VERSION")?,
        architecture: first("ARCH").unwrap_or_default(),
        description: first("DESC").unwrap_or_default(),
        size_bytes: first("SIZE").and_then(|s| s.parse().ok()),
        installed_at: first("INSTALLDATE").and_then(|s| s.parse().ok()),
        dependencies: all("DEPENDS")
            .iter()
            .map(|d| dependency_name(d).to_owned())
            .collect(),
        held: false,
        maintainer: first("PACKAGER"),
        homepage: first("URL"),
        license: (!licenses.is_empty()).then(|| licenses.join(" ")),
        source: None,
    })
}

/// Why the local database could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LocalDbError {
    /// A directory or file could not be read.
    #[error("pacman local database {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Every installed package under `<db_path>/local`, sorted by name. Entries without a readable, valid
/// `desc` are skipped (libalpm does the same for broken entries); a missing `local` directory is an error.
pub fn read_installed(db_path: &Path) -> Result<Vec<PackageRecord>, LocalDbError> {
    let local = db_path.join("local");
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| LocalDbError::Io { path, source }
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&local).map_err(io(&local))? {
        let entry = entry.map_err(io(&local))?;
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue; // ALPM_DB_VERSION
        }
        if let Ok(text) = std::fs::read_to_string(entry.path().join("desc"))
            && let Some(record) = parse_desc(&text)
        {
            out.push(record);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The installed record of `name`, if any.
pub fn read_one(db_path: &Path, name: &str) -> Result<Option<PackageRecord>, LocalDbError> {
    Ok(read_installed(db_path)?
        .into_iter()
        .find(|r| r.name == name))
}

/// `(name, architecture, version)` of every installed package, the input of a before/after snapshot.
pub fn snapshot_entries(records: &[PackageRecord]) -> Vec<(String, String, String)> {
    records
        .iter()
        .map(|r| (r.name.clone(), r.architecture.clone(), r.version.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::pacman::recorded::data_path;

    #[test]
    fn recorded_local_database_lists_every_package_with_its_fields() {
        let all = read_installed(&data_path("")).unwrap();
        let names: Vec<&str> = all.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["demo-app", "demo-epoch", "demo-lib", "hello"]);
        let app = &all[0];
        assert_eq!(app.version, "1.1-1");
        assert_eq!(app.architecture, "any");
        assert_eq!(app.dependencies, ["demo-lib"]);
        assert_eq!(app.size_bytes, Some(4));
        assert!(app.installed_at.is_some_and(|t| t > 1_700_000_000));
        assert_eq!(
            app.maintainer.as_deref(),
            Some("test kit <testkit@example.invalid>")
        );
        assert_eq!(app.license.as_deref(), Some("Apache"));
        assert_eq!(
            app.homepage.as_deref(),
            Some("https://example.invalid/demo-app")
        );
        assert_eq!(
            app.description,
            "linux-patch-api test package demo-app 1.1-1"
        );
    }

    #[test]
    fn recorded_epoch_and_tilde_versions_are_kept_verbatim() {
        let epoch = read_one(&data_path(""), "demo-epoch").unwrap().unwrap();
        assert_eq!(epoch.version, "1:1.0~rc1-1");
        let entries = snapshot_entries(&[epoch]);
        assert_eq!(
            entries,
            [("demo-epoch".into(), "any".into(), "1:1.0~rc1-1".into())]
        );
    }

    #[test]
    fn multi_value_fields_and_native_architectures_parse() {
        let text = "%NAME%\nlib32-glibc\n\n%VERSION%\n2.38-7\n\n%ARCH%\nx86_64\n\n\
                    %LICENSE%\nGPL-2.0-or-later\nLGPL-2.1-or-later\n\n\
                    %DEPENDS%\nglibc=2.38\nlib32-gcc-libs>=13: runtime\nsh\n\n";
        let r = parse_desc(text).unwrap();
        assert_eq!(r.architecture, "x86_64");
        assert_eq!(r.dependencies, ["glibc", "lib32-gcc-libs", "sh"]);
        assert_eq!(
            r.license.as_deref(),
            Some("GPL-2.0-or-later LGPL-2.1-or-later")
        );
        assert_eq!(r.size_bytes, None);
    }

    #[test]
    fn desc_without_name_or_version_is_not_a_package() {
        assert_eq!(parse_desc(""), None);
        assert_eq!(parse_desc("%NAME%\nx\n\n"), None);
        assert!(parse_desc("%VERSION%\n1-1\n\n%NAME%\nx\n").is_some());
    }

    #[test]
    fn a_missing_local_directory_is_an_error_and_an_empty_one_is_empty() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(read_installed(tmp.path()).is_err());
        std::fs::create_dir(tmp.path().join("local")).unwrap();
        std::fs::write(tmp.path().join("local/ALPM_DB_VERSION"), "9\n").unwrap();
        assert!(read_installed(tmp.path()).unwrap().is_empty());
    }
}
