//! A number that changes when anything in a directory tree changes, for caches keyed by package-database
//! state: package managers rewrite files *in place* (SQLite databases and their logs, `.solv` caches,
//! `repomd.xml`, pacman's `.db` files), which a directory's own mtime does not show. So a stamp is the identity
//! (mtime in ns, size, inode) of every file of a bounded walk of the directory, names included.
//!
//! Reading commands touch some entries without changing any data, and those are left out, so a cache keyed by
//! the stamp survives repeated reads: SQLite's shared-memory index (`*-shm`, rewritten by every reader), lock
//! files (`*.lock`, `*.pid`), and the mtimes of directories (dnf creates and deletes a lock in its cache
//! directory on every run); a directory still counts by name, and every file in it by its own identity.

use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// How deep the cache walk goes: `var/cache/dnf/REPO-HASH/repodata/FILE` is depth 3.
const MAX_DEPTH: usize = 3;

/// Bounds the walk, so a huge or hostile tree cannot stall a read.
const MAX_ENTRIES: usize = 10_000;

/// A hash of the identities of `dir` and every entry below it (to [`MAX_DEPTH`]); a missing directory hashes
/// to a fixed value.
pub fn tree(dir: &Path) -> u64 {
    let mut entries: Vec<(String, i128, u64, u64)> = Vec::new();
    walk(dir, dir, 0, &mut entries);
    entries.sort();
    let mut h = std::hash::DefaultHasher::new();
    entries.hash(&mut h);
    h.finish()
}

/// Entries that readers touch without changing data.
fn volatile(name: &str) -> bool {
    name.ends_with("-shm") || name.ends_with(".lock") || name.ends_with(".pid")
}

fn identity(path: &Path) -> Option<(i128, u64, u64, bool)> {
    let m = std::fs::symlink_metadata(path).ok()?;
    Some((
        i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        m.size(),
        m.ino(),
        m.is_dir(),
    ))
}

fn walk(base: &Path, dir: &Path, depth: usize, out: &mut Vec<(String, i128, u64, u64)>) {
    let Some((mtime, size, ino, is_dir)) = identity(dir) else {
        return;
    };
    let name = dir
        .strip_prefix(base)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !is_dir {
        out.push((name, mtime, size, ino));
        return;
    }
    out.push((name, 0, 0, 0));
    if depth >= MAX_DEPTH {
        return;
    }
    let Ok(read) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in read.flatten() {
        if out.len() >= MAX_ENTRIES {
            return;
        }
        if !volatile(&entry.file_name().to_string_lossy()) {
            walk(base, &entry.path(), depth + 1, out);
        }
    }
}
