//! Exact package identities for apk (issue 11).
//!
//! apk resolves an argument as a *name* in one namespace shared by package names and everything packages
//! provide (`p:` in the index: `so:libc.musl-x86_64.so.1`, `cmd:busybox`, `pc:zlib`, and plain virtual
//! names), so `apk add NAME` installs a provider when no package is called NAME, and `apk del NAME` removes
//! whatever provides it. The prefixed forms never reach apk (`:` is outside the union name grammar); for
//! the rest, the broker resolves every requested name against the installed database and the repository
//! indexes it can read ([`super::index`]) before planning: a name that is not exactly some package's
//! `P:` name, or a version that no index or the database lists for it, is `PKG_NOT_FOUND` and apk never
//! runs. A requested version is handed to apk as `name=VERSION`, apk's exact form (which apk also records
//! in the world file, pinning the package: apk's documented semantics, reported as `held`). A request
//! without a version keeps the bare name: `name=VERSION` for it would pin the package in the world file.

use super::db::ApkRecord;
use super::installed::Installed;
use crate::backend::support::not_found;
use lpa_protocol::{HelperError, PackageName, PackageSpec};

/// Every requested package must be a package name the database or an index lists, at the requested
/// version if one is given.
pub fn check_available(
    specs: &[PackageSpec],
    installed: &Installed,
    available: &[ApkRecord],
) -> Result<(), HelperError> {
    for spec in specs {
        let name = spec.name.as_str();
        let versions: Vec<&str> = installed
            .records()
            .iter()
            .chain(available)
            .filter(|r| r.name == name)
            .map(|r| r.version.as_str())
            .collect();
        if versions.is_empty() {
            return Err(not_found(format!(
                "no package is named exactly {name:?} in the installed database or the repository \
                 indexes (a name another package provides is not a package name)"
            )));
        }
        if let Some(wanted) = &spec.version
            && !versions.contains(&wanted.as_str())
        {
            return Err(not_found(format!(
                "version {wanted} of {name} is not installed or in the repository indexes (they list {})",
                versions.join(", ")
            )));
        }
    }
    Ok(())
}

/// Every named package must be installed under exactly that name (removals and upgrades act on installed
/// packages only).
pub fn check_installed(names: &[PackageName], installed: &Installed) -> Result<(), HelperError> {
    match names
        .iter()
        .find(|n| !installed.records().iter().any(|r| r.name == n.as_str()))
    {
        Some(n) => Err(not_found(format!(
            "no installed package is named exactly {:?} (a name an installed package provides is not a \
             package name)",
            n.as_str()
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::apk::db;
    use lpa_protocol::{FailureKind, Version};

    /// An Alpine-style index: `busybox` provides `cmd:` names, `py3-idna` the plain virtual `py-idna`,
    /// `musl` (two versions) a `so:` name.
    const INDEX: &str = "P:busybox\nV:1.36.1-r29\nA:x86_64\np:cmd:busybox=1.36.1-r29 cmd:sh=1.36.1-r29\n\n\
                         P:py3-idna\nV:3.7-r0\nA:noarch\np:py-idna=3.7-r0\n\n\
                         P:musl\nV:1.2.5-r9\nA:x86_64\np:so:libc.musl-x86_64.so.1=1\n\n\
                         P:musl\nV:1.2.5-r10\nA:x86_64\np:so:libc.musl-x86_64.so.1=1\n";

    fn spec(n: &str, v: Option<&str>) -> PackageSpec {
        PackageSpec {
            name: PackageName::new(n).unwrap(),
            version: v.map(|v| Version::new(v).unwrap()),
        }
    }

    fn refused(r: Result<(), HelperError>) -> bool {
        matches!(r, Err(HelperError::Change(f)) if f.kind == FailureKind::PackageNotFound
            && f.changes.is_empty() && f.stdout.is_empty())
    }

    #[test]
    fn only_package_names_at_listed_versions_resolve() {
        let available = db::parse(INDEX).unwrap();
        let installed =
            Installed::parse("P:zlib\nV:1.3.1-r1\nA:x86_64\np:so:libz.so.1=1.3.1\n", "").unwrap();
        let ok = |n, v| check_available(&[spec(n, v)], &installed, &available);
        assert!(ok("busybox", None).is_ok());
        assert!(ok("musl", Some("1.2.5-r9")).is_ok());
        assert!(ok("musl", Some("1.2.5-r10")).is_ok());
        assert!(ok("zlib", Some("1.3.1-r1")).is_ok(), "installed only");
        for (n, v) in [
            ("py-idna", None),
            ("sh", None),
            ("does-not-exist", None),
            ("musl", Some("1.2.5-r8")),
            ("zlib", Some("1.3.2-r0")),
        ] {
            assert!(refused(ok(n, v)), "{n} {v:?}");
        }
        // One unknown name refuses the whole request.
        assert!(refused(check_available(
            &[spec("busybox", None), spec("py-idna", None)],
            &installed,
            &available
        )));
    }

    #[test]
    fn removals_and_upgrades_need_an_installed_package_of_that_exact_name() {
        let installed = Installed::parse(
            "P:zlib\nV:1.3.1-r1\nA:x86_64\np:so:libz.so.1=1.3.1 zlib-virt\n",
            "",
        )
        .unwrap();
        let n = |s: &str| PackageName::new(s).unwrap();
        assert!(check_installed(&[n("zlib")], &installed).is_ok());
        assert!(refused(check_installed(&[n("zlib-virt")], &installed)));
        assert!(refused(check_installed(
            &[n("zlib"), n("busybox")],
            &installed
        )));
    }
}
