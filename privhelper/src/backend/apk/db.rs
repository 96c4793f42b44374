//! apk's package-record format, shared by the installed database (`<root>/lib/apk/db/installed`) and a
//! repository's `APKINDEX`: one record per package, records separated by a blank line, each line a
//! one-letter key, a `:` and the value (`P:demo-hello`, `V:1.0-r0`, …).
//!
//! The keys read here are the ones apk-tools 2 and 3 write for a package (`apk_pkg_write_index_entry`):
//! `C` identity checksum, `P` name, `V` version, `A` architecture, `S` package size, `I` installed size,
//! `T` description, `U` URL, `L` license, `o` origin, `m` maintainer, `t` build time, `c` commit,
//! `D` dependencies, `p` provides. The installed database adds, per package, its files (`F`, `R`, `a`,
//! `M`, `Z`), scripts and flags; those are skipped. An unknown key is skipped too: newer apk versions add
//! keys and old readers must keep working.

use lpa_protocol::PackageRecord;

/// One package record as apk wrote it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApkRecord {
    /// `P:` name.
    pub name: String,
    /// `V:` version.
    pub version: String,
    /// `A:` architecture.
    pub arch: String,
    /// `T:` one-line description.
    pub description: String,
    /// `U:` homepage.
    pub url: Option<String>,
    /// `L:` license.
    pub license: Option<String>,
    /// `o:` origin (the source package).
    pub origin: Option<String>,
    /// `m:` maintainer.
    pub maintainer: Option<String>,
    /// `t:` build time, Unix seconds (apk records no install time).
    pub build_time: Option<i64>,
    /// `S:` size of the package file in bytes.
    pub package_size: Option<u64>,
    /// `I:` installed size in bytes.
    pub installed_size: Option<u64>,
    /// `C:` identity checksum (`Q1` + base64 SHA-1 of the control segment).
    pub checksum: Option<String>,
    /// `D:` dependencies as written (`demo-lib>=1.0`, `so:libc.musl-x86_64.so.1`, `!conflict`).
    pub depends: Vec<String>,
    /// `p:` what the package provides (`cmd:busybox=1.36.1-r15`, `so:…`).
    pub provides: Vec<String>,
}

impl ApkRecord {
    /// Names of the packages this one needs: conflicts (`!name`) dropped, version constraints and repository
    /// tags stripped. Virtual names such as `so:libc.musl-x86_64.so.1` are kept as apk names them.
    pub fn dependency_names(&self) -> Vec<String> {
        self.depends
            .iter()
            .filter(|d| !d.starts_with('!'))
            .map(|d| dep_name(d).to_owned())
            .collect()
    }

    /// The record as the API shows it. `installed_at` stays `None`: apk does not record when a package was
    /// installed (`t:` is the build time).
    pub fn to_package_record(&self, held: bool, source: Option<String>) -> PackageRecord {
        PackageRecord {
            name: self.name.clone(),
            version: self.version.clone(),
            architecture: self.arch.clone(),
            description: self.description.clone(),
            size_bytes: self.installed_size,
            installed_at: None,
            dependencies: self.dependency_names(),
            held,
            maintainer: self.maintainer.clone(),
            homepage: self.url.clone(),
            license: self.license.clone(),
            source,
        }
    }
}

/// The name part of a dependency: everything before the first constraint operator or tag
/// (`<`, `>`, `=`, `~`, `@`).
pub fn dep_name(dep: &str) -> &str {
    let dep = dep.strip_prefix('!').unwrap_or(dep);
    dep.find(['<', '>', '=', '~', '@'])
        .map_or(dep, |i| &dep[..i])
}

/// Why a database could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DbError {
    /// A line that is neither blank nor `K:value`.
    #[error("line {line}: not a `K:value` line")]
    Malformed {
        /// 1-based line number.
        line: usize,
    },
    /// A record without `P:` or `V:`.
    #[error("record ending at line {line} has no {missing} field")]
    Incomplete {
        /// 1-based line number of the record's last line.
        line: usize,
        /// `P` or `V`.
        missing: &'static str,
    },
}

/// Parses every record of an installed database or an `APKINDEX`. Empty text gives no records.
pub fn parse(text: &str) -> Result<Vec<ApkRecord>, DbError> {
    let mut out = Vec::new();
    let mut cur: Option<ApkRecord> = None;
    let mut last_line = 0;
    for (idx, raw) in text.lines().enumerate() {
        let line_no = idx + 1;
        if raw.trim().is_empty() {
            if let Some(rec) = cur.take() {
                out.push(finish(rec, last_line)?);
            }
            continue;
        }
        last_line = line_no;
        let (key, value) = match raw.as_bytes() {
            [k, b':', ..] => (*k, &raw[2..]),
            _ => return Err(DbError::Malformed { line: line_no }),
        };
        let rec = cur.get_or_insert_with(ApkRecord::default);
        let text = || value.to_owned();
        match key {
            b'P' => rec.name = text(),
            b'V' => rec.version = text(),
            b'A' => rec.arch = text(),
            b'T' => rec.description = text(),
            b'U' => rec.url = Some(text()),
            b'L' => rec.license = Some(text()),
            b'o' => rec.origin = Some(text()),
            b'm' => rec.maintainer = Some(text()),
            b't' => rec.build_time = value.parse().ok(),
            b'S' => rec.package_size = value.parse().ok(),
            b'I' => rec.installed_size = value.parse().ok(),
            b'C' => rec.checksum = Some(text()),
            b'D' => rec.depends = value.split_whitespace().map(str::to_owned).collect(),
            b'p' => rec.provides = value.split_whitespace().map(str::to_owned).collect(),
            _ => {}
        }
    }
    if let Some(rec) = cur.take() {
        out.push(finish(rec, last_line)?);
    }
    Ok(out)
}

fn finish(rec: ApkRecord, line: usize) -> Result<ApkRecord, DbError> {
    if rec.name.is_empty() {
        return Err(DbError::Incomplete { line, missing: "P" });
    }
    if rec.version.is_empty() {
        return Err(DbError::Incomplete { line, missing: "V" });
    }
    Ok(rec)
}

/// Splits apk's `NAME-VERSION` form (`demo-hello-1.0-r0`) the way apk does (`apk_pkg_parse_name`): the
/// version starts after the last `-` that is followed by a digit, and at most one other `-` (the release's
/// `-r`) may come after it.
pub fn split_name_version(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    let mut other_dashes = 0;
    for i in (0..b.len().saturating_sub(1)).rev() {
        if b[i] != b'-' {
            continue;
        }
        if b[i + 1].is_ascii_digit() {
            return (i > 0).then(|| (&s[..i], &s[i + 1..]));
        }
        other_dashes += 1;
        if other_dashes >= 2 {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_version_splits_like_apk() {
        assert_eq!(
            split_name_version("demo-hello-1.0-r0"),
            Some(("demo-hello", "1.0-r0"))
        );
        assert_eq!(
            split_name_version("py3-foo-bar-2.0_rc1-r3"),
            Some(("py3-foo-bar", "2.0_rc1-r3"))
        );
        assert_eq!(
            split_name_version("busybox-1.36.1"),
            Some(("busybox", "1.36.1"))
        );
        assert_eq!(split_name_version("a-b-c"), None);
        assert_eq!(split_name_version("-1.0"), None);
        assert_eq!(split_name_version(""), None);
    }

    #[test]
    fn dependency_names_drop_constraints_tags_and_conflicts() {
        let rec = ApkRecord {
            depends: vec![
                "demo-lib>=1.0".into(),
                "so:libc.musl-x86_64.so.1".into(),
                "!demo-hello".into(),
                "foo@edge".into(),
                "bar~2".into(),
                "baz".into(),
            ],
            ..ApkRecord::default()
        };
        assert_eq!(
            rec.dependency_names(),
            ["demo-lib", "so:libc.musl-x86_64.so.1", "foo", "bar", "baz"]
        );
    }

    #[test]
    fn malformed_and_incomplete_records_are_refused_with_their_line() {
        assert_eq!(
            parse("P:a\nV:1\ngarbage\n"),
            Err(DbError::Malformed { line: 3 })
        );
        assert_eq!(
            parse("P:a\nA:x86_64\n\nP:b\nV:1\n"),
            Err(DbError::Incomplete {
                line: 2,
                missing: "V"
            })
        );
        assert_eq!(parse(""), Ok(vec![]));
        assert_eq!(parse("\n\n"), Ok(vec![]));
    }
}
