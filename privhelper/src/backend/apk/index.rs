//! The repository indexes a root's apk would read, read directly from their files (no apk run), so the
//! broker can tell which package names and versions the repositories really offer (issue 11's exact
//! names).
//!
//! apk keeps a repository's index as `APKINDEX.tar.gz`: one or more concatenated gzip members (a signed
//! index starts with a member holding the signature) that together form a tar stream with the member
//! `APKINDEX` in [`super::db`]'s record format. The files read are:
//! - `<repo>/<arch>/APKINDEX.tar.gz` of every local (absolute-path) repository named by
//!   `etc/apk/repositories` and apk 3's `etc/apk/repositories.d/*.list` under the root (apk reads those in
//!   place);
//! - every `var/cache/apk/APKINDEX.*.tar.gz` (where `apk update` stores the indexes of remote repositories).
//!
//! An index that is missing or unreadable is skipped, as apk itself skips an unavailable repository: the
//! result is what can be proven available, and a name it does not contain is refused by [`super::exact`].

use super::db::{self, ApkRecord};
use super::stamp::{INDEX_CACHE, REPOSITORIES, REPOSITORIES_D, arch, local_repositories};
use flate2::read::MultiGzDecoder;
use std::io::Read;
use std::path::{Path, PathBuf};

/// An index larger than this (decompressed) is not read: Alpine's largest (`community`) is ~20 MiB.
const MAX_INDEX_BYTES: u64 = 256 << 20;

/// Every package record of the readable indexes of `root`.
pub fn available(root: &Path) -> Vec<ApkRecord> {
    index_files(root)
        .iter()
        .filter_map(|f| read_index(f).ok())
        .flatten()
        .collect()
}

/// The index files of `root` (see the module documentation).
pub fn index_files(root: &Path) -> Vec<PathBuf> {
    let arch = arch(root);
    let mut lists: Vec<PathBuf> = vec![root.join(REPOSITORIES)];
    if let Ok(dir) = std::fs::read_dir(root.join(REPOSITORIES_D)) {
        let mut more: Vec<PathBuf> = dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "list"))
            .collect();
        more.sort();
        lists.extend(more);
    }
    let mut files: Vec<PathBuf> = lists
        .iter()
        .filter_map(|l| std::fs::read_to_string(l).ok())
        .flat_map(|text| local_repositories(&text))
        .map(|repo| repo.join(&arch).join("APKINDEX.tar.gz"))
        .collect();
    if let Ok(dir) = std::fs::read_dir(root.join(INDEX_CACHE)) {
        let mut cached: Vec<PathBuf> = dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("APKINDEX.") && n.ends_with(".tar.gz"))
            })
            .collect();
        cached.sort();
        files.extend(cached);
    }
    files
}

/// Why an index file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The file could not be read or decompressed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The tar stream has no `APKINDEX` member.
    #[error("no APKINDEX member")]
    NoIndex,
    /// The `APKINDEX` member is not in apk's format.
    #[error("APKINDEX: {0}")]
    Parse(#[from] db::DbError),
}

/// The records of one `APKINDEX.tar.gz`.
pub fn read_index(path: &Path) -> Result<Vec<ApkRecord>, IndexError> {
    let file = std::fs::File::open(path)?;
    let mut tar = Vec::new();
    MultiGzDecoder::new(file)
        .take(MAX_INDEX_BYTES)
        .read_to_end(&mut tar)?;
    let text = tar_member(&tar, "APKINDEX").ok_or(IndexError::NoIndex)?;
    Ok(db::parse(&String::from_utf8_lossy(text))?)
}

/// The content of the regular-file member `name` of a ustar stream (512-byte headers: name at 0..100,
/// octal size at 124..136, type at 156; data padded to 512 bytes).
fn tar_member<'a>(tar: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let mut at = 0;
    while at + 512 <= tar.len() {
        let header = &tar[at..at + 512];
        if header.iter().all(|b| *b == 0) {
            // A zero block ends one tar stream; a signed index is two streams (signature, then index)
            // decoded back to back, so keep looking after it.
            at += 512;
            continue;
        }
        let field = |r: std::ops::Range<usize>| {
            let f = &header[r];
            &f[..f.iter().position(|b| *b == 0).unwrap_or(f.len())]
        };
        let size_text = std::str::from_utf8(field(124..136)).ok()?.trim();
        let size = usize::from_str_radix(size_text, 8).ok()?;
        let data = at + 512;
        let end = data.checked_add(size)?;
        if end > tar.len() {
            return None;
        }
        if field(0..100) == name.as_bytes() && matches!(header[156], b'0' | 0) {
            return Some(&tar[data..end]);
        }
        at = data + size.div_ceil(512) * 512;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_members_are_found_by_exact_name_only() {
        let mut tar = vec![0u8; 512];
        tar[..11].copy_from_slice(b"APKINDEX.gz");
        tar[124..135].copy_from_slice(b"00000000003");
        tar[156] = b'0';
        tar.extend(b"abc");
        tar.resize(1024, 0);
        let mut second = tar[..512].to_vec();
        second[..100].fill(0);
        second[..8].copy_from_slice(b"APKINDEX");
        tar.extend(second);
        tar.extend(b"xyz");
        tar.resize(2048, 0);
        assert_eq!(tar_member(&tar, "APKINDEX"), Some(&b"xyz"[..]));
        assert_eq!(tar_member(&tar, "DESCRIPTION"), None);
        // A size beyond the stream is refused, not read past.
        tar[1024 + 124..1024 + 135].copy_from_slice(b"77777777777");
        assert_eq!(tar_member(&tar, "APKINDEX"), None);
    }
}
