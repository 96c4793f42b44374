//! `apt-get -s dist-upgrade`: the upgradable packages with the origins of each candidate.
//!
//! Each `Inst` line reads `Inst NAME [OLD] (NEW ORIGIN, ORIGIN… [ARCH])`, where apt prints every origin
//! as `[Label:][Version/]Suite` (see `pkgCache::VerIterator::RelStr`). A candidate is a security update
//! when any origin's suite ends in `-security` or its label is `Debian-Security` — distribution data,
//! never a guess from the package name.

use crate::pkgdb::dpkg::Stamp;
use lpa_protocol::UpgradablePackage;
use std::path::Path;
use std::sync::Arc;

/// One origin of a candidate version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The release's `Label`, if printed.
    pub label: Option<String>,
    /// The release's `Suite` (archive), or the site when the source has no Release file.
    pub suite: String,
}

/// Splits one `Label:Version/Suite` origin.
pub fn parse_origin(s: &str) -> Option<Origin> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let (label, rest) = match s.split_once(':') {
        Some((l, r)) => (Some(l.to_owned()), r),
        None => (None, s),
    };
    let suite = rest.rsplit('/').next().unwrap_or(rest).to_owned();
    Some(Origin { label, suite })
}

fn is_security(o: &Origin) -> bool {
    o.suite.ends_with("-security") || o.label.as_deref() == Some("Debian-Security")
}

/// What a failed `apt-get -s` says is broken in the dpkg database, when it failed because of that: apt
/// prints `The following packages have unmet dependencies:` then one ` PKG : Depends: …` line per
/// problem, and ends with `E: Unmet dependencies. Try 'apt --fix-broken install' …`. `None` for any other
/// failure. The lines are joined with `; `, at most ten.
pub fn unmet_dependencies(stdout: &str, stderr: &str) -> Option<String> {
    if !stderr.contains("Unmet dependencies") && !stdout.contains("unmet dependencies") {
        return None;
    }
    let problems: Vec<&str> = stdout
        .lines()
        .chain(stderr.lines())
        .map(str::trim)
        .filter(|l| {
            // ` PKG : Depends: …`, and continuation lines of the same package (`Depends: …`).
            ["PreDepends:", "Depends:", "Conflicts:", "Breaks:"]
                .iter()
                .any(|k| l.starts_with(k) || l.contains(&format!(" : {k}")))
        })
        .take(10)
        .collect();
    Some(if problems.is_empty() {
        "unmet dependencies in the dpkg database (apt --fix-broken install)".to_owned()
    } else {
        format!(
            "unmet dependencies in the dpkg database: {} (apt --fix-broken install)",
            problems.join("; ")
        )
    })
}

/// Parses one `Inst` line; other lines give `None`.
pub fn parse_inst_line(line: &str) -> Option<UpgradablePackage> {
    let rest = line.strip_prefix("Inst ")?;
    let (name, rest) = rest.split_once(' ')?;
    let rest = rest.trim_start();
    let (current, rest) = match rest.strip_prefix('[') {
        Some(r) => {
            let (old, r) = r.split_once(']')?;
            (Some(old.to_owned()), r.trim_start())
        }
        None => (None, rest),
    };
    let inner = rest.strip_prefix('(')?;
    let inner = &inner[..inner.find(')')?];
    let (version, origins) = inner.split_once(' ').unwrap_or((inner, ""));
    let (origins, arch) = match origins
        .rfind(" [")
        .or_else(|| origins.starts_with('[').then_some(0))
    {
        Some(i) if origins.ends_with(']') => {
            let a = origins[i..]
                .trim()
                .trim_start_matches('[')
                .trim_end_matches(']');
            (&origins[..i], Some(a.to_owned()))
        }
        _ => (origins, None),
    };
    let origins: Vec<Origin> = origins.split(", ").filter_map(parse_origin).collect();
    let mut sources: Vec<String> = Vec::new();
    for o in &origins {
        if !sources.contains(&o.suite) {
            sources.push(o.suite.clone());
        }
    }
    if name.is_empty() || version.is_empty() {
        return None;
    }
    Some(UpgradablePackage {
        name: name.split(':').next().unwrap_or(name).to_owned(),
        current_version: current,
        available_version: version.to_owned(),
        architecture: arch,
        security: origins.iter().any(is_security),
        advisory: None,
        sources,
    })
}

/// All `Inst` lines of the simulation, sorted by name.
pub fn parse_simulation(stdout: &str) -> Vec<UpgradablePackage> {
    let mut v: Vec<UpgradablePackage> = stdout.lines().filter_map(parse_inst_line).collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// What the upgradable list depends on: the dpkg status file, the downloaded lists and apt's binary cache.
/// The installed list depends on the status file alone, so these stamps cover both lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stamps {
    status: Option<Stamp>,
    lists: Option<Stamp>,
    pkgcache: Option<Stamp>,
}

impl Stamps {
    /// The current stamps under `root`.
    pub fn of(root: &Path) -> Stamps {
        Stamps {
            status: Stamp::of(&root.join("var/lib/dpkg/status")),
            lists: Stamp::of(&root.join("var/lib/apt/lists")),
            pkgcache: Stamp::of(&root.join("var/cache/apt/pkgcache.bin")),
        }
    }

    /// One number for all three stamps, for [`lpa_protocol::Operation::PackageStateStamp`].
    pub fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        self.hash(&mut h);
        h.finish()
    }
}

/// The last simulation result, valid while the stamps are unchanged.
#[derive(Debug, Default)]
pub struct UpgradableCache {
    entry: tokio::sync::Mutex<Option<(Stamps, Arc<Vec<UpgradablePackage>>)>>,
}

impl UpgradableCache {
    /// Returns the cached list for `stamps`, or computes it with `run` (holding the lock, so concurrent
    /// callers share one simulation).
    pub async fn get_or_compute<F, Fut, E>(
        &self,
        stamps: Stamps,
        run: F,
    ) -> Result<Arc<Vec<UpgradablePackage>>, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<UpgradablePackage>, E>>,
    {
        let mut entry = self.entry.lock().await;
        if let Some((s, list)) = entry.as_ref()
            && *s == stamps
        {
            return Ok(list.clone());
        }
        let list = Arc::new(run().await?);
        *entry = Some((stamps, list.clone()));
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn unmet_dependencies_name_every_problem_line() {
        // apt-get -s dist-upgrade on a dpkg database with unmet dependencies (apt 2.6).
        let stdout = "Reading package lists...\nThe following packages have unmet dependencies:\n \
                      demo-app : PreDepends: libc6 (>= 2.34) but it is not installable\n            \
                      Depends: demo-lib (>= 1.0) but it is not installed\n";
        let stderr = "E: Unmet dependencies. Try 'apt --fix-broken install' with no packages (or specify a solution).\n";
        let m = super::unmet_dependencies(stdout, stderr).expect("recognised");
        assert!(m.contains("demo-app : PreDepends: libc6"), "{m}");
        assert!(m.contains("Depends: demo-lib (>= 1.0)"), "{m}");
        assert_eq!(super::unmet_dependencies("", "E: Unable to lock"), None);
    }

    use super::*;
    use proptest::prelude::*;

    const SECURITY: &str = include_str!("../../../tests/data/apt-get-s-dist-upgrade-security.txt");
    const HELD: &str = include_str!("../../../tests/data/apt-get-s-dist-upgrade-held.txt");
    const NOTHING: &str = include_str!("../../../tests/data/apt-get-s-dist-upgrade-nothing.txt");

    #[test]
    fn recorded_multi_origin_security_update_is_marked() {
        let list = parse_simulation(SECURITY);
        let names: Vec<&str> = list.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["demo-app", "demo-hello", "demo-lib"]);
        let lib = &list[2];
        assert_eq!(lib.current_version.as_deref(), Some("1.0"));
        assert_eq!(lib.available_version, "1.0.1");
        assert_eq!(lib.architecture.as_deref(), Some("all"));
        assert_eq!(lib.sources, ["bookworm", "stable-security"]);
        assert!(lib.security);
        assert!(!list[0].security && !list[1].security);
        assert_eq!(list[1].sources, ["bookworm"]);
    }

    #[test]
    fn held_packages_are_not_listed_and_nothing_gives_empty() {
        let names: Vec<String> = parse_simulation(HELD).into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["demo-app", "demo-lib"]);
        assert!(parse_simulation(NOTHING).is_empty());
    }

    #[test]
    fn documented_forms_parse() {
        let p = parse_inst_line("Inst demo-lib (1.0.1 Debian-Security:12/stable-security [all])")
            .unwrap();
        assert_eq!((p.current_version, p.security), (None, true));
        assert_eq!(p.sources, ["stable-security"]);
        let p = parse_inst_line("Inst libc6:i386 [2.36-9] (2.36-9+deb12u4 Debian:12.5/stable, Debian-Security:12/stable-security [i386]) []").unwrap();
        assert_eq!(p.name, "libc6");
        assert_eq!(p.architecture.as_deref(), Some("i386"));
        assert!(p.security);
        let p = parse_inst_line("Inst foo [1] (2 Ubuntu:22.04/jammy-security [amd64])").unwrap();
        assert!(p.security);
        let p = parse_inst_line("Inst foo [1] (2 localhost [amd64])").unwrap();
        assert_eq!(
            (p.sources, p.security),
            (vec!["localhost".to_owned()], false)
        );
        assert!(parse_inst_line("Conf demo-lib (1.0.1 Demo:bookworm [all])").is_none());
        assert!(parse_inst_line("Inst broken [1.0").is_none());
    }

    proptest! {
        #[test]
        fn parser_never_panics(s in any::<String>()) {
            let _ = parse_simulation(&s);
            let _ = parse_inst_line(&format!("Inst {s}"));
        }

        #[test]
        fn inst_like_lines_never_panic(s in "Inst [a-z]{0,3} ?(\\[[0-9.]{0,3}\\])? ?\\(?[0-9a-zA-Z :/,\\[\\]-]{0,30}\\)?") {
            let _ = parse_inst_line(&s);
        }
    }
}
