//! A synthetic but realistic dpkg database of many installed packages, for benchmarks.
//!
//! Real Debian hosts have thousands of installed packages; listing them must stay fast. This writes `n`
//! entries shaped like real ones (multi-line descriptions, dependencies, `Multi-Arch`, `Source:` with a
//! version, mixed architectures) plus the `info/<name>.list` and `.md5sums` files dpkg keeps per package.
//! Dependencies only point at other synthetic packages, so the database is consistent (`apt-get check`
//! passes) in a sandbox root that holds nothing else.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::Path;

use crate::Result;
use crate::error::IoContext;
use crate::fsutil::write_public;

/// Name of synthetic package `i` (`bulk-pkg-00042`).
pub fn bulk_package_name(i: usize) -> String {
    format!("bulk-pkg-{i:05}")
}

/// Version of synthetic package `i`.
pub fn bulk_package_version(i: usize) -> String {
    format!("{}.{}.{}-{}", 1 + i % 4, i % 17, i % 5, 1 + i % 3)
}

/// Appends `n` installed packages to `root`'s dpkg status database (`var/lib/dpkg/status`, created if
/// missing) and writes their `info` files. Call it once per root: names are `bulk-pkg-00000` onwards.
pub fn write_dpkg_status(root: &Path, n: usize) -> Result<()> {
    let dpkg = root.join("var/lib/dpkg");
    let info = dpkg.join("info");
    crate::fsutil::dir_0755(&info)?;
    let status_path = dpkg.join("status");
    let mut text = String::with_capacity(n * 700);
    for i in 0..n {
        let name = bulk_package_name(i);
        stanza(&mut text, i, &name);
        let files = installed_files(&name);
        write_public(&info.join(format!("{name}.list")), files.join("\n") + "\n")?;
        let sums: String = files
            .iter()
            .filter(|f| f.contains('.'))
            .map(|f| format!("{:032x}  {}\n", fake_md5(f), &f[1..]))
            .collect();
        write_public(&info.join(format!("{name}.md5sums")), sums)?;
    }
    // Stanzas are separated by exactly one blank line: terminate whatever the file ends with.
    let existing = match fs::read(&status_path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).context(|| format!("read {}", status_path.display())),
    };
    let separator = if existing.is_empty() || existing.ends_with(b"\n\n") {
        ""
    } else if existing.ends_with(b"\n") {
        "\n"
    } else {
        "\n\n"
    };
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&status_path)
        .context(|| format!("open {}", status_path.display()))?;
    file.write_all(separator.as_bytes())
        .and_then(|()| file.write_all(text.as_bytes()))
        .context(|| format!("write {}", status_path.display()))
}

fn stanza(text: &mut String, i: usize, name: &str) {
    let arch = if i.is_multiple_of(3) { "all" } else { "amd64" };
    let section = ["libs", "utils", "admin", "net", "python", "doc"][i % 6];
    let priority = if i.is_multiple_of(10) {
        "important"
    } else {
        "optional"
    };
    // Writing to a String cannot fail.
    let _ = write!(
        text,
        "Package: {name}\n\
         Status: install ok installed\n\
         Priority: {priority}\n\
         Section: {section}\n\
         Installed-Size: {size}\n\
         Maintainer: Bulk Fixture Maintainers <bulk-{team}@example.invalid>\n\
         Architecture: {arch}\n",
        size = 16 + (i * 37) % 4096,
        team = i % 7,
    );
    if arch == "amd64" {
        text.push_str(if i.is_multiple_of(2) {
            "Multi-Arch: same\n"
        } else {
            "Multi-Arch: foreign\n"
        });
    }
    let source_index = i - i % 4;
    if source_index != i {
        let _ = writeln!(
            text,
            "Source: bulk-src-{source_index:05} ({})",
            bulk_package_version(source_index)
        );
    }
    let _ = writeln!(text, "Version: {}", bulk_package_version(i));
    if i >= 2 {
        let _ = writeln!(
            text,
            "Depends: {} (>= 1.0), {} | bulk-virtual-{}",
            bulk_package_name(i / 2),
            bulk_package_name(i - 1),
            i % 11
        );
    }
    if i % 5 == 1 {
        let _ = writeln!(text, "Provides: bulk-virtual-{}", i % 11);
    }
    let _ = write!(
        text,
        "Description: synthetic package {i} for the installed-package benchmark\n \
         This package exists only in a test root. Its long description spans several\n \
         lines, like a real one, so parsers see continuation lines.\n \
         .\n \
         A second paragraph, after the dot line.\n\
         Homepage: https://example.invalid/{name}\n\n"
    );
}

fn installed_files(name: &str) -> Vec<String> {
    vec![
        "/.".to_owned(),
        "/usr".to_owned(),
        "/usr/share".to_owned(),
        "/usr/share/doc".to_owned(),
        format!("/usr/share/doc/{name}"),
        format!("/usr/share/doc/{name}/copyright"),
        format!("/usr/share/doc/{name}/changelog.Debian.gz"),
        format!("/usr/share/{name}"),
        format!("/usr/share/{name}/data.txt"),
    ]
}

/// A stable 128-bit number per path, shaped like an md5 sum (the benchmark never verifies files).
fn fake_md5(path: &str) -> u128 {
    let digest = ring::digest::digest(&ring::digest::SHA256, path.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.as_ref()[..16]);
    u128::from_be_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_n_parseable_installed_entries_after_existing_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let dpkg = tmp.path().join("var/lib/dpkg");
        crate::fsutil::dir_0755(&dpkg).unwrap();
        fs::write(
            dpkg.join("status"),
            "Package: real\nStatus: install ok installed\nVersion: 1\n",
        )
        .unwrap();
        write_dpkg_status(tmp.path(), 50).unwrap();
        let entries =
            crate::sandbox::parse_status(&fs::read_to_string(dpkg.join("status")).unwrap());
        assert_eq!(entries.len(), 51);
        assert!(
            entries
                .iter()
                .all(|e| e.is_installed() && !e.version.is_empty())
        );
        assert_eq!(entries[50].package, "bulk-pkg-00049");
        assert!(dpkg.join("info/bulk-pkg-00049.list").is_file());
    }
}
