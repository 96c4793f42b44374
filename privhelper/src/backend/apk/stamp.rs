//! What the apk lists depend on, as file stamps: the broker caches the installed and the upgradable list
//! by them, and reports their fingerprint as the package-state stamp (the frontend's cache key).
//!
//! - the installed list: `lib/apk/db/installed` and `etc/apk/world` (apk rewrites both by rename, so the
//!   inode changes on every change);
//! - the upgradable list, in addition: the repository configuration (`etc/apk/repositories`, apk 3's
//!   `etc/apk/repositories.d/`), the index cache `var/cache/apk/` where `apk update` stores the indexes of
//!   remote repositories (`APKINDEX.<hash>.tar.gz`, renamed into place, so the directory's stamp changes),
//!   and the `APKINDEX.tar.gz` of every *local* repository the root's repositories file names, which apk
//!   reads in place without caching.
//!
//! The broker only knows the package root: a `repositories_file` set in `helper.yaml` outside the root is
//! not seen here, so with such a file the upgradable list follows remote indexes (through the cache
//! directory) but not a local repository that is rewritten in place.

use crate::pkgdb::dpkg::Stamp;
use std::path::{Path, PathBuf};

/// The repositories file under the root.
pub const REPOSITORIES: &str = "etc/apk/repositories";
/// apk 3's drop-in directory of repository lists.
pub const REPOSITORIES_D: &str = "etc/apk/repositories.d";
/// Where `apk update` caches remote indexes.
pub const INDEX_CACHE: &str = "var/cache/apk";
/// The root's architecture file (`x86_64`).
pub const ARCH_FILE: &str = "etc/apk/arch";

/// Stamps of the installed state alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InstalledStamps {
    db: Option<Stamp>,
    world: Option<Stamp>,
}

impl InstalledStamps {
    /// The current stamps under `root`.
    pub fn of(root: &Path) -> InstalledStamps {
        InstalledStamps {
            db: Stamp::of(&root.join(super::installed::INSTALLED_DB)),
            world: Stamp::of(&root.join(super::installed::WORLD_FILE)),
        }
    }
}

/// Stamps of everything the upgradable list depends on (which includes the installed state).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApkStamps {
    installed: InstalledStamps,
    repositories: Option<Stamp>,
    repositories_d: Option<Stamp>,
    cache: Option<Stamp>,
    local_indexes: Vec<(PathBuf, Option<Stamp>)>,
}

impl ApkStamps {
    /// The current stamps under `root`.
    pub fn of(root: &Path) -> ApkStamps {
        let repositories = root.join(REPOSITORIES);
        let arch = arch(root);
        let local_indexes = std::fs::read_to_string(&repositories)
            .map(|text| local_repositories(&text))
            .unwrap_or_default()
            .into_iter()
            .map(|repo| {
                let index = repo.join(&arch).join("APKINDEX.tar.gz");
                let stamp = Stamp::of(&index);
                (index, stamp)
            })
            .collect();
        ApkStamps {
            installed: InstalledStamps::of(root),
            repositories: Stamp::of(&repositories),
            repositories_d: Stamp::of(&root.join(REPOSITORIES_D)),
            cache: Stamp::of(&root.join(INDEX_CACHE)),
            local_indexes,
        }
    }

    /// One number for all stamps, for [`lpa_protocol::Operation::PackageStateStamp`].
    pub fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        self.hash(&mut h);
        h.finish()
    }
}

/// The root's architecture (`etc/apk/arch`), or the machine's when the root does not say.
pub fn arch(root: &Path) -> String {
    std::fs::read_to_string(root.join(ARCH_FILE))
        .ok()
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned())
}

/// The local (absolute-path) repositories of a repositories file: one repository per line, `#` comments,
/// an optional `@tag` before the location; URLs are remote and skipped.
pub fn local_repositories(text: &str) -> Vec<PathBuf> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().last())
        .filter(|loc| loc.starts_with('/'))
        .map(PathBuf::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_repositories_are_stamped_in_place() {
        let text = "# main\nhttps://dl-cdn.alpinelinux.org/alpine/v3.20/main\n\n@edge /srv/edge\n/srv/local \n";
        assert_eq!(
            local_repositories(text),
            [PathBuf::from("/srv/edge"), PathBuf::from("/srv/local")]
        );
    }

    #[test]
    fn the_fingerprint_follows_the_database_the_configuration_and_local_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(root.join("lib/apk/db")).unwrap();
        std::fs::create_dir_all(root.join("etc/apk")).unwrap();
        std::fs::create_dir_all(repo.join("x86_64")).unwrap();
        std::fs::write(root.join(ARCH_FILE), "x86_64\n").unwrap();
        std::fs::write(root.join(super::super::installed::INSTALLED_DB), "").unwrap();
        std::fs::write(root.join(REPOSITORIES), format!("{}\n", repo.display())).unwrap();
        let first = ApkStamps::of(root);
        assert_eq!(first, ApkStamps::of(root));
        std::fs::write(repo.join("x86_64/APKINDEX.tar.gz"), "index").unwrap();
        let published = ApkStamps::of(root);
        assert_ne!(first.fingerprint(), published.fingerprint());
        let installed = InstalledStamps::of(root);
        std::fs::write(root.join(super::super::installed::WORLD_FILE), "demo\n").unwrap();
        assert_ne!(installed, InstalledStamps::of(root));
        assert_ne!(published, ApkStamps::of(root));
    }
}
