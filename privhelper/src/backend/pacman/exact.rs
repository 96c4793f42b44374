//! Exact package identities for pacman (issue 11).
//!
//! `pacman -S NAME` installs every member of a group named NAME, or a package that provides NAME, when no
//! package has that name, and does so even for `REPO/NAME` (verified with pacman 6.0.2:
//! `tests/tests/exact_names_pacman.rs::real_pacman_widens_groups_and_provides`). `pacman -Si NAME` looks
//! at package names only. So the broker asks `-Si` first, keeps the record only if its `Name` is exactly
//! the request, and hands the launcher `REPO/NAME[=VERSION]` of the repository that has it; no record →
//! `PKG_NOT_FOUND` and pacman never runs. A requested version must be the one that repository lists
//! (a pacman repository holds one version per package).

use super::info::fields;
use crate::backend::support::not_found;
use lpa_protocol::launcher::PacmanTarget;
use lpa_protocol::{HelperError, PackageSpec, RepoName};

/// The exact target of `spec` given the output of `pacman -Si -- NAME` (empty when pacman found no
/// package of that name).
pub fn target(spec: &PackageSpec, shown: &str) -> Result<PacmanTarget, HelperError> {
    let name = spec.name.as_str();
    let record = fields(shown);
    let get = |key: &str| {
        record
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    if get("Name") != Some(name) {
        return Err(not_found(format!(
            "no package is named exactly {name:?} in the repositories (a group or a provide is not a \
             package name)"
        )));
    }
    let listed = get("Version").unwrap_or("");
    if let Some(wanted) = &spec.version
        && wanted.as_str() != listed
    {
        return Err(not_found(format!(
            "version {wanted} of {name} is not in the repositories (they list {listed})"
        )));
    }
    let repo = get("Repository").unwrap_or("");
    let repo = RepoName::new(repo).map_err(|e| {
        not_found(format!(
            "{name} is listed by a repository with an unusable name: {e}"
        ))
    })?;
    Ok(PacmanTarget {
        repo,
        name: spec.name.clone(),
        version: spec.version.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lpa_protocol::FailureKind;
    use lpa_protocol::{PackageName, Version};

    const SHOWN: &str = "Repository      : demo\nName            : demo-tool\nVersion         : 1.0-1\n\
                         Description     : x\nGroups          : demo-group\nProvides        : demo-virtual\n";

    fn spec(n: &str, v: Option<&str>) -> PackageSpec {
        PackageSpec {
            name: PackageName::new(n).unwrap(),
            version: v.map(|v| Version::new(v).unwrap()),
        }
    }

    #[test]
    fn only_the_exact_name_at_the_listed_version_resolves() {
        let t = target(&spec("demo-tool", None), SHOWN).unwrap();
        assert_eq!((t.repo.as_str(), t.name.as_str()), ("demo", "demo-tool"));
        assert!(target(&spec("demo-tool", Some("1.0-1")), SHOWN).is_ok());
        for (n, v, shown) in [
            ("demo-group", None, ""),
            ("demo-virtual", None, ""),
            // Even if -Si ever answered for another name, only an exact Name counts.
            ("demo-virtual", None, SHOWN),
            ("demo-tool", Some("1.2-1"), SHOWN),
        ] {
            match target(&spec(n, v), shown) {
                Err(HelperError::Change(f)) => assert_eq!(f.kind, FailureKind::PackageNotFound),
                other => panic!("{n} {v:?}: {other:?}"),
            }
        }
    }
}
