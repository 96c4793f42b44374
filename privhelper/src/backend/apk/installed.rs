//! What is installed in an apk root, read directly from its files (no process): the installed database
//! `<root>/lib/apk/db/installed` ([`super::db`] format) and the world file `<root>/etc/apk/world`, which
//! says which packages are pinned ([`World::is_held`]).

use super::db::{self, ApkRecord, DbError};
use super::world::World;
use lpa_protocol::PackageRecord;
use std::path::{Path, PathBuf};

/// The installed database, relative to the root.
pub const INSTALLED_DB: &str = "lib/apk/db/installed";
/// The world file, relative to the root.
pub const WORLD_FILE: &str = "etc/apk/world";

/// Why the installed state could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InstalledError {
    /// A file could not be read (a missing database means apk was never initialised in this root).
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The database is not in apk's format.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        source: DbError,
    },
}

/// The installed packages of a root and its world.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Installed {
    records: Vec<ApkRecord>,
    world: World,
}

impl Installed {
    /// Reads `<root>/lib/apk/db/installed` and, if present, `<root>/etc/apk/world` (a root without a world
    /// file has nothing pinned).
    pub fn read(root: &Path) -> Result<Installed, InstalledError> {
        let db_path = root.join(INSTALLED_DB);
        let text = std::fs::read_to_string(&db_path).map_err(|source| InstalledError::Read {
            path: db_path.clone(),
            source,
        })?;
        let world_path = root.join(WORLD_FILE);
        let world = match std::fs::read_to_string(&world_path) {
            Ok(w) => w,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(InstalledError::Read {
                    path: world_path,
                    source,
                });
            }
        };
        Installed::parse(&text, &world).map_err(|source| InstalledError::Parse {
            path: db_path,
            source,
        })
    }

    /// Parses the texts of the installed database and the world file.
    pub fn parse(db_text: &str, world_text: &str) -> Result<Installed, DbError> {
        let mut records = db::parse(db_text)?;
        records.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.arch.cmp(&b.arch)));
        Ok(Installed {
            records,
            world: World::parse(world_text),
        })
    }

    /// The raw records, sorted by name.
    pub fn records(&self) -> &[ApkRecord] {
        &self.records
    }

    /// The world file.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// Every installed package as the API shows it, sorted by name.
    pub fn package_records(&self) -> Vec<PackageRecord> {
        self.records.iter().map(|r| self.to_record(r)).collect()
    }

    /// The installed package `name`, if any.
    pub fn package(&self, name: &str) -> Option<PackageRecord> {
        self.records
            .iter()
            .find(|r| r.name == name)
            .map(|r| self.to_record(r))
    }

    /// `(name, architecture, version)` of every installed package, for the before/after snapshot of a
    /// change.
    pub fn snapshot_entries(&self) -> Vec<(String, String, String)> {
        self.records
            .iter()
            .map(|r| (r.name.clone(), r.arch.clone(), r.version.clone()))
            .collect()
    }

    fn to_record(&self, r: &ApkRecord) -> PackageRecord {
        r.to_package_record(self.world.is_held(&r.name), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> String {
        let path = format!(
            "{}/tests/data/apk/installed-alpine-sample",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn alpine_style_database_gives_sorted_records_with_their_fields() {
        let inst = Installed::parse(&sample(), "busybox\nmusl-utils\nzlib=1.3.1-r1\n").unwrap();
        let names: Vec<&str> = inst.records().iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "alpine-baselayout-data",
                "busybox",
                "musl",
                "py3-idna",
                "scanelf",
                "zlib"
            ]
        );
        let busybox = inst.package("busybox").unwrap();
        assert_eq!(busybox.version, "1.36.1-r29");
        assert_eq!(busybox.architecture, "x86_64");
        assert_eq!(
            busybox.description,
            "Size optimized toolbox of many common UNIX utilities"
        );
        assert_eq!(busybox.size_bytes, Some(946_176));
        assert_eq!(busybox.installed_at, None, "apk records no install time");
        assert_eq!(busybox.dependencies, ["so:libc.musl-x86_64.so.1"]);
        assert_eq!(busybox.homepage.as_deref(), Some("https://busybox.net/"));
        assert_eq!(busybox.license.as_deref(), Some("GPL-2.0-only"));
        assert!(
            busybox
                .maintainer
                .as_deref()
                .is_some_and(|m| m.contains("Sören"))
        );
        assert!(!busybox.held);
        assert!(inst.package("zlib").unwrap().held, "pinned in world");
        assert_eq!(inst.package("nosuch"), None);
    }

    #[test]
    fn odd_versions_and_architectures_survive_unchanged() {
        let inst = Installed::parse(&sample(), "").unwrap();
        let v = |n: &str| inst.package(n).unwrap();
        assert_eq!(v("musl").version, "1.2.5-r9");
        assert_eq!(v("scanelf").version, "1.3.8_p20240113~a1b2c3d-r0");
        assert_eq!(v("py3-idna").architecture, "noarch");
        assert_eq!(v("alpine-baselayout-data").architecture, "aarch64");
        assert_eq!(v("py3-idna").dependencies, ["python3", "py3-setuptools"]);
        let entries = inst.snapshot_entries();
        assert!(entries.contains(&("py3-idna".into(), "noarch".into(), "3.7-r0".into())));
        assert_eq!(entries.len(), 6);
    }

    #[test]
    fn empty_database_and_missing_root() {
        assert_eq!(Installed::parse("", "").unwrap().package_records(), vec![]);
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Installed::read(dir.path()),
            Err(InstalledError::Read { .. })
        ));
        std::fs::create_dir_all(dir.path().join("lib/apk/db")).unwrap();
        std::fs::write(dir.path().join(INSTALLED_DB), "P:a\nV:1.0-r0\nA:x86_64\n\n").unwrap();
        let inst = Installed::read(dir.path()).unwrap();
        assert_eq!(
            inst.snapshot_entries(),
            [("a".into(), "x86_64".into(), "1.0-r0".into())]
        );
        std::fs::write(dir.path().join(INSTALLED_DB), "nonsense\n").unwrap();
        assert!(matches!(
            Installed::read(dir.path()),
            Err(InstalledError::Parse { .. })
        ));
    }
}
