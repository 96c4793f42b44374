//! The dpkg database read directly from `<root>/var/lib/dpkg/status`, cached on the file's identity.
//!
//! Reading the file is much cheaper than running `dpkg-query` (no process, no locale setup), and the
//! parsed list is kept until the status file's (mtime, size, inode) changes — dpkg replaces it by rename
//! on every change, so a new inode or mtime reliably means new content.

use super::deb822;
use lpa_protocol::{HelperError, PackageRecord};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Identity of a file for cache invalidation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stamp {
    mtime_ns: i128,
    size: u64,
    inode: u64,
}

impl Stamp {
    /// The stamp of `path`, `None` if it cannot be stat'ed.
    pub fn of(path: &Path) -> Option<Stamp> {
        let m = std::fs::metadata(path).ok()?;
        Some(Stamp {
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            size: m.size(),
            inode: m.ino(),
        })
    }
}

/// Path of the status file under `root`.
pub fn status_path(root: &Path) -> PathBuf {
    root.join("var/lib/dpkg/status")
}

/// Turns a status file into the installed packages, sorted by name (then architecture).
/// `installed_at(name, arch)` supplies install times (the mtime of the package's `.list` file).
pub fn installed_records(
    text: &str,
    installed_at: impl Fn(&str, &str) -> Option<i64>,
) -> Vec<PackageRecord> {
    let mut out: Vec<PackageRecord> = deb822::parse(text)
        .iter()
        .filter_map(|p| {
            let name = p.get("Package")?;
            let mut status = p.get("Status")?.split_whitespace();
            let (want, _flag, state) = (status.next()?, status.next()?, status.next()?);
            if state != "installed" || name.is_empty() {
                return None;
            }
            let arch = p.get("Architecture").unwrap_or("");
            let mut deps = p
                .get("Pre-Depends")
                .map(deb822::relation_names)
                .unwrap_or_default();
            for d in p
                .get("Depends")
                .map(deb822::relation_names)
                .unwrap_or_default()
            {
                if !deps.contains(&d) {
                    deps.push(d);
                }
            }
            Some(PackageRecord {
                name: name.to_owned(),
                version: p.get("Version").unwrap_or("").to_owned(),
                architecture: arch.to_owned(),
                description: p.first_line("Description").unwrap_or("").to_owned(),
                size_bytes: p
                    .get("Installed-Size")
                    .and_then(|s| s.parse::<u64>().ok())
                    .and_then(|kib| kib.checked_mul(1024)),
                installed_at: installed_at(name, arch),
                dependencies: deps,
                held: want == "hold",
                maintainer: p.get("Maintainer").map(str::to_owned),
                homepage: p.get("Homepage").map(str::to_owned),
                license: None,
                source: None,
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.name, &a.architecture).cmp(&(&b.name, &b.architecture)));
    out
}

/// Install time of a package: mtime of `info/<name>.list`, or `info/<name>:<arch>.list` for multi-arch
/// packages.
pub fn list_file_mtime(root: &Path, name: &str, arch: &str) -> Option<i64> {
    let info = root.join("var/lib/dpkg/info");
    std::fs::metadata(info.join(format!("{name}.list")))
        .or_else(|_| std::fs::metadata(info.join(format!("{name}:{arch}.list"))))
        .ok()
        .map(|m| m.mtime())
}

/// The dpkg database of one package root, with its parse cache.
#[derive(Debug)]
pub struct DpkgDb {
    root: PathBuf,
    cache: Mutex<Option<(Stamp, Arc<Vec<PackageRecord>>)>>,
}

impl DpkgDb {
    /// A reader for `root` (nothing is read yet).
    pub fn new(root: &Path) -> DpkgDb {
        DpkgDb {
            root: root.to_owned(),
            cache: Mutex::new(None),
        }
    }

    /// The installed packages, re-read only when the status file changed. Blocking.
    pub fn installed(&self) -> Result<Arc<Vec<PackageRecord>>, HelperError> {
        let path = status_path(&self.root);
        let unreadable = |e: std::io::Error| HelperError::Database {
            message: format!("{}: {e}", path.display()),
        };
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let before = Stamp::of(&path);
        if let (Some(stamp), Some((cached, list))) = (before, cache.as_ref())
            && stamp == *cached
        {
            return Ok(list.clone());
        }
        let text = std::fs::read(&path).map_err(unreadable)?;
        let text = String::from_utf8_lossy(&text);
        let list = Arc::new(installed_records(&text, |n, a| {
            list_file_mtime(&self.root, n, a)
        }));
        // Only cache when the file did not change while it was read.
        if let Some(stamp) = before
            && Stamp::of(&path) == Some(stamp)
        {
            *cache = Some((stamp, list.clone()));
        }
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SANDBOX: &str = include_str!("../../tests/data/dpkg-status-sandbox");
    const HOST: &str = include_str!("../../tests/data/dpkg-status-host-bookworm");

    #[test]
    fn recorded_sandbox_status_gives_installed_and_held_packages() {
        let list = installed_records(SANDBOX, |_, _| Some(42));
        let names: Vec<&str> = list.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["demo-app", "demo-hello", "demo-lib"]);
        let app = &list[0];
        assert_eq!(app.version, "1.0");
        assert_eq!(app.architecture, "all");
        assert_eq!(app.dependencies, ["demo-lib"]);
        assert_eq!(app.description, "demo package demo-app");
        assert_eq!(
            app.homepage.as_deref(),
            Some("https://example.invalid/demo-app")
        );
        assert_eq!(app.installed_at, Some(42));
        assert!(!app.held);
        assert!(list[1].held, "demo-hello has Status: hold ok installed");
    }

    #[test]
    fn recorded_host_status_parses_sizes_and_predepends() {
        let list = installed_records(HOST, |_, _| None);
        assert_eq!(list.len(), 200);
        assert!(list.windows(2).all(|w| w[0].name <= w[1].name));
        assert!(
            list.iter()
                .all(|p| !p.version.is_empty() && !p.architecture.is_empty())
        );
        assert!(
            list.iter()
                .any(|p| p.size_bytes.is_some_and(|s| s % 1024 == 0 && s > 0))
        );
    }

    #[test]
    fn only_installed_states_are_listed() {
        let text = "Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n\
                    Package: half\nStatus: install ok half-configured\nVersion: 1\n\n\
                    Package: ok\nStatus: install ok installed\nVersion: 2\nInstalled-Size: 10\n\
                    Pre-Depends: libc6 (>= 2)\nDepends: libc6, zlib1g\n";
        let list = installed_records(text, |_, _| None);
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].size_bytes, Some(10 * 1024));
        assert_eq!(list[0].dependencies, ["libc6", "zlib1g"]);
    }

    #[test]
    fn cache_is_reused_until_the_status_file_changes() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("var/lib/dpkg/info")).unwrap();
        std::fs::write(status_path(root.path()), SANDBOX).unwrap();
        std::fs::write(root.path().join("var/lib/dpkg/info/demo-lib.list"), "/.\n").unwrap();
        let db = DpkgDb::new(root.path());
        let first = db.installed().unwrap();
        assert!(
            first
                .iter()
                .find(|p| p.name == "demo-lib")
                .unwrap()
                .installed_at
                .is_some()
        );
        let second = db.installed().unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        // dpkg replaces the file by rename: new inode.
        let tmp = root.path().join("var/lib/dpkg/status-new");
        std::fs::write(&tmp, &SANDBOX[..SANDBOX.find("\n\n").unwrap() + 2]).unwrap();
        std::fs::rename(&tmp, status_path(root.path())).unwrap();
        let third = db.installed().unwrap();
        assert_eq!(third.len(), 1);
    }

    #[test]
    fn missing_status_file_is_a_database_error() {
        let root = tempfile::tempdir().unwrap();
        let err = DpkgDb::new(root.path()).installed().unwrap_err();
        assert!(matches!(err, HelperError::Database { .. }), "{err}");
    }

    proptest! {
        #[test]
        fn status_parser_never_panics(s in "(Package: [a-z]{1,3}\nStatus: (install|hold) ok installed\n|[ -~]{0,20}\n|\n){0,20}") {
            let _ = installed_records(&s, |_, _| None);
        }
    }
}
