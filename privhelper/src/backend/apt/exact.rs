//! Exact package identities for apt: every requested name is looked up in the dpkg database (installed,
//! read directly) and in apt's own cache (available: `apt-cache show -- NAME` through the launcher, of
//! which only the paragraphs whose `Package:` is exactly NAME are kept) before anything runs, and becomes
//! an [`AptTarget`] the launcher joins as `NAME:ARCH[=VERSION]`.
//!
//! Why: `apt-get install` takes an argument that names no package as a regular expression, then as a
//! glob (`hell.` installs `hello`, `lib.` could install hundreds of packages), and reads a trailing `-` or
//! `+` as "remove"/"install" (`hello-` removes `hello`). No spelling of an argument turns that off, but an
//! exact name that exists in apt's cache is always taken literally (apt tries the exact name first). So a
//! name is passed on only when apt itself has a record of exactly that name; anything else is
//! `PKG_NOT_FOUND` and nothing runs. A requested version must be one of the name's recorded versions.
//!
//! `apt-cache show` widens too (`apt-cache show hell.` prints `hello`), which is harmless here: its
//! answer is only searched for exact `Package:` matches. It is asked rather than the list files read
//! directly because those may be compressed (`Acquire::GzipIndexes`) or, for `file:` repositories,
//! symlinks out of the package root the broker may read.

use crate::backend::support::not_found;
use lpa_protocol::launcher::AptTarget;
use lpa_protocol::{Architecture, HelperError, PackageName, PackageSpec, Version};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// One record of a requested name: where it was found, its architecture and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `Architecture:` of the record.
    pub arch: String,
    /// `Version:` of the record.
    pub version: String,
    /// Whether it comes from the dpkg database (files on disk, including a half-installed or config-only
    /// package) rather than from apt's cache.
    pub installed: bool,
}

/// The records of some requested names, from the dpkg status file and apt's cache.
#[derive(Debug, Default)]
pub struct Lookup {
    found: Vec<(String, Record)>,
}

impl Lookup {
    /// The dpkg database's records of `names` under `root` (one pass; other names are skipped).
    pub fn installed(root: &Path, names: &[&str]) -> Result<Lookup, HelperError> {
        let wanted: BTreeSet<&str> = names.iter().copied().collect();
        let mut lookup = Lookup::default();
        let status = root.join("var/lib/dpkg/status");
        if status.exists() {
            scan(&status, &wanted, true, &mut lookup.found)?;
        }
        Ok(lookup)
    }

    /// Adds the records of `name` from `apt-cache show -- NAME` output: only paragraphs whose `Package:`
    /// is exactly `name` (apt-cache widens an unknown name to a regex match, as apt-get does).
    pub fn add_shown(&mut self, name: &str, shown: &str) {
        for p in crate::pkgdb::deb822::parse(shown) {
            if p.get("Package") != Some(name) {
                continue;
            }
            if let (Some(arch), Some(version)) = (p.get("Architecture"), p.get("Version")) {
                self.found.push((
                    name.to_owned(),
                    Record {
                        arch: arch.to_owned(),
                        version: version.to_owned(),
                        installed: false,
                    },
                ));
            }
        }
    }

    /// Every record of `name`.
    pub fn records<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Record> + 'a {
        self.found
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, r)| r)
    }

    /// The exact target of an install (or of an update to an exact version): the name must have a
    /// record, and a requested version must be one of its recorded versions.
    pub fn install_target(&self, spec: &PackageSpec) -> Result<AptTarget, HelperError> {
        let name = spec.name.as_str();
        let all: Vec<&Record> = self.records(name).collect();
        if all.is_empty() {
            return Err(not_found(format!(
                "no package is named exactly {name:?}: it is neither installed nor known to apt"
            )));
        }
        let chosen: Vec<&Record> = match &spec.version {
            Some(v) => all
                .iter()
                .copied()
                .filter(|r| r.version == v.as_str())
                .collect(),
            None => all.clone(),
        };
        let Some(record) = pick(&chosen) else {
            let known: BTreeSet<&str> = all.iter().map(|r| r.version.as_str()).collect();
            return Err(not_found(format!(
                "version {} of {name} is not available (known versions: {})",
                spec.version.as_ref().map_or("", |v| v.as_str()),
                known.into_iter().collect::<Vec<_>>().join(", ")
            )));
        };
        target(&spec.name, record, spec.version.clone())
    }

    /// The exact target of a package that must be in the dpkg database (update, remove, purge).
    pub fn installed_target(&self, name: &PackageName) -> Result<AptTarget, HelperError> {
        let installed: Vec<&Record> = self
            .records(name.as_str())
            .filter(|r| r.installed)
            .collect();
        let record = pick(&installed).ok_or_else(|| {
            not_found(format!(
                "no installed package is named exactly {:?}",
                name.as_str()
            ))
        })?;
        target(name, record, None)
    }
}

/// The record to use among several of one name: an installed one first (stay on the installed
/// architecture), then the host's native architecture, then `all`, then the first by architecture.
fn pick<'a>(records: &[&'a Record]) -> Option<&'a Record> {
    let native = native_arch();
    records.iter().copied().min_by_key(|r| {
        (
            !r.installed,
            r.arch != native,
            r.arch != "all",
            r.arch.clone(),
        )
    })
}

/// dpkg's name of the architecture this helper was built for (the host's native architecture).
fn native_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "i386",
        "aarch64" => "arm64",
        "arm" => "armhf",
        "powerpc64" => "ppc64el",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "loongarch64" => "loong64",
        "mips64" => "mips64el",
        other => other,
    }
}

fn target(
    name: &PackageName,
    record: &Record,
    version: Option<Version>,
) -> Result<AptTarget, HelperError> {
    let arch = Architecture::new(record.arch.clone()).map_err(|e| {
        not_found(format!(
            "{name} has a record with an unusable architecture {:?}: {e}",
            record.arch
        ))
    })?;
    Ok(AptTarget {
        name: name.clone(),
        arch,
        version,
    })
}

/// One pass over a deb822 file, keeping the `(name, record)` of every paragraph whose `Package:` is in
/// `wanted`. In the status file, records whose state is `not-installed` are skipped.
fn scan(
    path: &Path,
    wanted: &BTreeSet<&str>,
    installed: bool,
    out: &mut Vec<(String, Record)>,
) -> Result<(), HelperError> {
    let file = std::fs::File::open(path).map_err(|e| HelperError::Internal {
        message: format!("reading {}: {e}", path.display()),
    })?;
    let mut para = Para::default();
    let mut line = String::new();
    let mut reader = BufReader::new(file);
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| HelperError::Internal {
                message: format!("reading {}: {e}", path.display()),
            })?;
        let text = line.trim_end_matches(['\n', '\r']);
        if n == 0 || text.trim().is_empty() {
            para.finish(wanted, installed, out);
            if n == 0 {
                return Ok(());
            }
            continue;
        }
        if text.starts_with([' ', '\t']) {
            continue;
        }
        if let Some((key, value)) = text.split_once(':') {
            let value = value.trim();
            match key {
                "Package" => para.package = Some(value.to_owned()),
                "Architecture" => para.arch = Some(value.to_owned()),
                "Version" => para.version = Some(value.to_owned()),
                "Status" => para.status = Some(value.to_owned()),
                _ => {}
            }
        }
    }
}

#[derive(Default)]
struct Para {
    package: Option<String>,
    arch: Option<String>,
    version: Option<String>,
    status: Option<String>,
}

impl Para {
    fn finish(
        &mut self,
        wanted: &BTreeSet<&str>,
        installed: bool,
        out: &mut Vec<(String, Record)>,
    ) {
        let para = std::mem::take(self);
        let (Some(name), Some(arch), Some(version)) = (para.package, para.arch, para.version)
        else {
            return;
        };
        if !wanted.contains(name.as_str()) {
            return;
        }
        if installed
            && para
                .status
                .as_deref()
                .is_none_or(|s| s.split_whitespace().nth(2) == Some("not-installed"))
        {
            return;
        }
        out.push((
            name,
            Record {
                arch,
                version,
                installed,
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lpa_protocol::FailureKind;

    fn root_with(status: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("var/lib/dpkg")).unwrap();
        std::fs::write(dir.path().join("var/lib/dpkg/status"), status).unwrap();
        dir
    }

    fn spec(n: &str, v: Option<&str>) -> PackageSpec {
        PackageSpec {
            name: PackageName::new(n).unwrap(),
            version: v.map(|v| Version::new(v).unwrap()),
        }
    }

    /// What `apt-cache show -- hell.` prints: apt's regex fallback matched `hello`.
    const SHOWN_HELLO: &str = "Package: hello\nVersion: 1.0\nArchitecture: all\nDescription: x\n continued\n\n\
                               Package: hello\nVersion: 1.1\nArchitecture: all\n";
    const SHOWN_LIBFOO: &str = "Package: libfoo\nVersion: 2\nArchitecture: i386\n\n\
                                Package: libfoo\nVersion: 2\nArchitecture: amd64\n";

    fn kind(e: HelperError) -> FailureKind {
        match e {
            HelperError::Change(f) => f.kind,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_exact_names_with_recorded_versions_resolve() {
        let dir = root_with(
            "Package: demo-lib\nStatus: install ok installed\nArchitecture: all\nVersion: 1.0\n\n\
             Package: gone\nStatus: purge ok not-installed\nArchitecture: all\nVersion: 1.0\n",
        );
        let names = ["hello", "hell.", "hello-", "libfoo", "demo-lib", "gone"];
        let mut l = Lookup::installed(dir.path(), &names).unwrap();
        for n in ["hello", "hell.", "hello-"] {
            l.add_shown(n, SHOWN_HELLO);
        }
        l.add_shown("libfoo", SHOWN_LIBFOO);
        let t = l.install_target(&spec("hello", None)).unwrap();
        assert_eq!((t.arch.as_str(), t.version), ("all", None));
        let t = l.install_target(&spec("hello", Some("1.0"))).unwrap();
        assert_eq!(t.version.unwrap().as_str(), "1.0");
        for (n, v) in [
            ("hell.", None),
            ("hello-", None),
            ("hello", Some("1.2")),
            ("gone", None),
        ] {
            assert_eq!(
                kind(l.install_target(&spec(n, v)).unwrap_err()),
                FailureKind::PackageNotFound,
                "{n} {v:?}"
            );
        }
        // Multi-arch: the native architecture wins over a foreign one.
        let t = l.install_target(&spec("libfoo", None)).unwrap();
        assert_eq!(t.arch.as_str(), native_arch());
        let name = |s: &str| PackageName::new(s).unwrap();
        assert_eq!(
            l.installed_target(&name("demo-lib")).unwrap().arch.as_str(),
            "all"
        );
        for n in ["hello", "gone", "hell."] {
            assert_eq!(
                kind(l.installed_target(&name(n)).unwrap_err()),
                FailureKind::PackageNotFound
            );
        }
    }
}
