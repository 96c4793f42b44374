//! What the dnf backend's cached lists depend on, as numbers that change when it changes: the rpm database
//! (`ROOT/var/lib/rpm`) for the installed list, and additionally dnf's metadata cache (`ROOT/var/cache/dnf`)
//! for the upgradable list and its advisories.
//!
//! rpm and dnf change files *in place* (SQLite's database and write-ahead log, the `.solv` caches, `repomd.xml`
//! replaced inside a repository's directory), which a directory's own mtime does not show. So a stamp is the
//! identity (mtime in ns, size, inode) of every file of a bounded walk of the directory, names included.
//!
//! Reading commands touch some entries without changing any data, and those are left out, so a cache keyed by
//! the stamp survives repeated reads (checked on a real sandbox in the tests below): SQLite's shared-memory
//! index (`rpmdb.sqlite-shm`, rewritten by every reader), lock files (`.rpm.lock`, `*.pid`), and the mtimes
//! of directories (dnf creates and deletes a lock in its cache directory on every run); a directory still
//! counts by name, and every file in it by its own identity.

use std::hash::{Hash, Hasher};
use std::path::Path;

/// The rpm database, relative to the package root.
pub const RPMDB_DIR: &str = "var/lib/rpm";

/// dnf's metadata cache, relative to the package root.
pub const CACHE_DIR: &str = "var/cache/dnf";

/// The stamps of one package root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stamps {
    /// The rpm database: the installed list depends on it alone.
    pub rpmdb: u64,
    /// dnf's metadata cache.
    pub cache: u64,
}

impl Stamps {
    /// The current stamps of `root`.
    pub fn of(root: &Path) -> Stamps {
        Stamps {
            rpmdb: tree(&root.join(RPMDB_DIR)),
            cache: tree(&root.join(CACHE_DIR)),
        }
    }

    /// One number for both, for [`lpa_protocol::Operation::PackageStateStamp`].
    pub fn fingerprint(&self) -> u64 {
        let mut h = std::hash::DefaultHasher::new();
        self.hash(&mut h);
        h.finish()
    }
}

pub use crate::backend::file_stamp::tree;

#[cfg(test)]
mod tests {
    use super::*;
    use lpa_testkit::fixtures::apt::Snapshot;
    use lpa_testkit::sandbox::dnf::DnfSandbox;

    #[test]
    fn a_file_changed_in_place_moves_the_stamp_and_a_missing_directory_is_stable() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join("f"), "1").unwrap();
        let before = tree(dir.path());
        assert_eq!(tree(dir.path()), before);
        std::fs::write(sub.join("f"), "22").unwrap();
        assert_ne!(tree(dir.path()), before, "size and mtime of a nested file");
        let unchanged = tree(dir.path());
        std::fs::write(sub.join("rpmdb.sqlite-shm"), "x").unwrap();
        std::fs::write(dir.path().join(".rpm.lock"), "").unwrap();
        assert_eq!(
            tree(dir.path()),
            unchanged,
            "shared memory and locks are not data"
        );
        std::fs::write(sub.join("g"), "").unwrap();
        assert_ne!(tree(dir.path()), unchanged, "a new file");
        let missing = dir.path().join("nope");
        assert_eq!(tree(&missing), tree(&missing));
    }

    #[test]
    fn reads_keep_the_stamps_and_installs_and_publishing_move_them_on_a_real_dnf_root() {
        let dir = tempfile::tempdir().unwrap();
        let mut sb = DnfSandbox::create(dir.path(), Snapshot::V1, &[]).unwrap();
        let read = |sb: &DnfSandbox| {
            let out = sb.rpm(&["-qa"]).unwrap();
            assert!(out.status.success());
            let out = sb
                .dnf(&["-q", "-C", "repoquery", "--upgrades", "--qf", "%{name}"])
                .unwrap();
            assert!(out.status.success(), "{out:?}");
        };
        // The first read may write dnf's solver caches; from then on reads change nothing.
        read(&sb);
        let settled = Stamps::of(sb.root());
        read(&sb);
        read(&sb);
        assert_eq!(Stamps::of(sb.root()), settled);

        sb.dnf_checked(&["install", "hello"]).unwrap();
        let installed = Stamps::of(sb.root());
        assert_ne!(
            installed.rpmdb, settled.rpmdb,
            "an install changes the rpmdb stamp"
        );

        sb.publish(Snapshot::V2).unwrap();
        let published = Stamps::of(sb.root());
        assert_eq!(published.rpmdb, installed.rpmdb);
        assert_ne!(
            published.cache, installed.cache,
            "a refresh changes the cache stamp"
        );
    }
}
