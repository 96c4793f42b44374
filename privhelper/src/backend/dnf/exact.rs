//! Exact package identities for dnf and yum (issue 11).
//!
//! dnf reads an install argument as any of its NEVRA forms (`hello-1.1` is hello at version 1.1), then
//! as a provide (`libc.so.6` installs glibc) and a file path; an argument naming no package is widened.
//! So the broker resolves every requested name first, against the rpm database (installed) and
//! `dnf repoquery --available` of that name, keeping only records whose name is **exactly** the
//! request (repoquery widens too). No record → `PKG_NOT_FOUND`, dnf never runs. A requested version must
//! match a recorded one (`VERSION`, `VERSION-RELEASE` or `EPOCH:VERSION-RELEASE`) and is passed on as the
//! record's full `EPOCH:VERSION-RELEASE`, so dnf gets `NAME-E:V-R`, a form only that package matches.

use crate::backend::support::not_found;
use lpa_protocol::order::rpm::compare_evr;
use lpa_protocol::{HelperError, PackageSpec, Version};

/// `(epoch, version, release)` of one record; an absent epoch is `0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evr {
    epoch: String,
    version: String,
    release: String,
}

impl Evr {
    /// Parses `[EPOCH:]VERSION[-RELEASE]` (rpm's own shape; release empty when absent).
    pub fn parse(s: &str) -> Evr {
        let (epoch, rest) = match s.split_once(':') {
            Some((e, rest)) => (e, rest),
            None => ("0", s),
        };
        let (version, release) = rest.split_once('-').unwrap_or((rest, ""));
        Evr {
            epoch: if epoch.is_empty() { "0" } else { epoch }.to_owned(),
            version: version.to_owned(),
            release: release.to_owned(),
        }
    }

    /// `EPOCH:VERSION-RELEASE`, the epoch always written.
    pub fn full(&self) -> String {
        if self.release.is_empty() {
            format!("{}:{}", self.epoch, self.version)
        } else {
            format!("{}:{}-{}", self.epoch, self.version, self.release)
        }
    }

    /// Whether a requested `[EPOCH:]VERSION[-RELEASE]` selects this record: the version must be equal,
    /// the release and epoch too when given.
    fn selected_by(&self, requested: &str) -> bool {
        let (epoch, rest) = match requested.split_once(':') {
            Some((e, rest)) => (Some(e), rest),
            None => (None, requested),
        };
        let (version, release) = match rest.split_once('-') {
            Some((v, r)) => (v, Some(r)),
            None => (rest, None),
        };
        self.version == version
            && release.is_none_or(|r| r == self.release)
            && epoch.is_none_or(|e| e == self.epoch)
    }
}

/// The available records of `name` in `dnf repoquery --qf VERSIONS_QF` output (exact name only).
pub fn available(name: &str, text: &str) -> Vec<Evr> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.strip_prefix("@@version ")?.split_whitespace();
            let (n, e, v, r) = (f.next()?, f.next()?, f.next()?, f.next()?);
            (n == name).then(|| Evr {
                epoch: if e == "(none)" || e.is_empty() {
                    "0"
                } else {
                    e
                }
                .to_owned(),
                version: v.to_owned(),
                release: r.to_owned(),
            })
        })
        .collect()
}

/// `spec` with its version made exact: `PKG_NOT_FOUND` when no installed (`installed`: versions of
/// packages named exactly like the spec) or available record of that name exists, or none matches
/// the requested version.
pub fn resolve(
    spec: &PackageSpec,
    installed: &[Evr],
    available: &[Evr],
) -> Result<PackageSpec, HelperError> {
    let name = spec.name.as_str();
    let all: Vec<&Evr> = installed.iter().chain(available).collect();
    if all.is_empty() {
        return Err(not_found(format!(
            "no package is named exactly {name:?}: it is neither installed nor in the repositories"
        )));
    }
    let Some(wanted) = &spec.version else {
        return Ok(spec.clone());
    };
    let chosen = all
        .iter()
        .filter(|r| r.selected_by(wanted.as_str()))
        .max_by(|a, b| compare_evr(&a.full(), &b.full()))
        .ok_or_else(|| {
            not_found(format!(
                "version {wanted} of {name} is not available (known: {})",
                all.iter().map(|r| r.full()).collect::<Vec<_>>().join(", ")
            ))
        })?;
    let version = Version::new(chosen.full())
        .map_err(|e| not_found(format!("{name} has a record with an unusable version: {e}")))?;
    Ok(PackageSpec {
        name: spec.name.clone(),
        version: Some(version),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lpa_protocol::FailureKind;
    use lpa_protocol::PackageName;

    fn spec(n: &str, v: Option<&str>) -> PackageSpec {
        PackageSpec {
            name: PackageName::new(n).unwrap(),
            version: v.map(|v| Version::new(v).unwrap()),
        }
    }

    #[test]
    fn only_exact_names_resolve_and_versions_become_full_evrs() {
        // What `dnf repoquery --available -- hello-1.1` prints: dnf widened it to hello.
        let out = "@@version hello 0 1.1 1 noarch\n@@version hello 0 1.0 1 noarch\nwarning: x\n";
        assert!(available("hello-1.1", out).is_empty());
        let hello = available("hello", out);
        assert_eq!(hello.len(), 2);
        let kind = |r: Result<PackageSpec, HelperError>| match r {
            Err(HelperError::Change(f)) => f.kind,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            kind(resolve(&spec("hello-1.1", None), &[], &[])),
            FailureKind::PackageNotFound
        );
        assert_eq!(
            resolve(&spec("hello", None), &[], &hello).unwrap(),
            spec("hello", None)
        );
        for (asked, full) in [
            ("1.0", "0:1.0-1"),
            ("1.0-1", "0:1.0-1"),
            ("0:1.1-1", "0:1.1-1"),
        ] {
            let got = resolve(&spec("hello", Some(asked)), &[], &hello).unwrap();
            assert_eq!(got.version.unwrap().as_str(), full, "{asked}");
        }
        for asked in ["1.2", "1", "1.0-2", "1:1.0-1"] {
            assert_eq!(
                kind(resolve(&spec("hello", Some(asked)), &[], &hello)),
                FailureKind::PackageNotFound,
                "{asked}"
            );
        }
        // Installed-only records count (e.g. a package no repository carries any more).
        let installed = [Evr::parse("2:1.0~rc1-3.fc39")];
        let got = resolve(&spec("demo-odd", Some("1.0~rc1")), &installed, &[]).unwrap();
        assert_eq!(got.version.unwrap().as_str(), "2:1.0~rc1-3.fc39");
    }
}
