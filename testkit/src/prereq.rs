//! Which Debian tools the kit needs, and what to install when they are missing.
//!
//! The fixtures are built from scratch with `dpkg-deb` and `apt-ftparchive`, sandbox roots are driven with
//! `apt-get`, and maintainer scripts inside a sandbox root run under a copy of a *static* busybox (a
//! dynamically linked one would need the host's libraries inside the root). [`check`] finds all of them and,
//! if some are missing, returns one `apt-get install -y …` line naming only the Debian packages that are
//! missing.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::run::STANDARD_PATH;

/// Absolute paths of the tools the kit runs.
#[derive(Debug, Clone)]
pub struct Tools {
    /// `apt-get` (Debian package `apt`).
    pub apt_get: PathBuf,
    /// `apt-ftparchive` (Debian package `apt-utils`).
    pub apt_ftparchive: PathBuf,
    /// `dpkg-deb` (Debian package `dpkg`).
    pub dpkg_deb: PathBuf,
    /// `dpkg-query` (Debian package `dpkg`).
    pub dpkg_query: PathBuf,
    /// The static busybox copied into sandbox roots as `/bin/sh` (Debian package `busybox-static`).
    pub busybox: PathBuf,
}

/// Tools that are not installed, and the command that installs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingPrerequisites {
    /// What is missing, e.g. `apt-ftparchive` or `/bin/busybox (static)`.
    pub programs: Vec<String>,
    /// e.g. `apt-get install -y apt-utils busybox-static`.
    pub install_command: String,
}

impl fmt::Display for MissingPrerequisites {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the test kit needs programs that are not installed: {}; install them (as root) with: {}",
            self.programs.join(", "),
            self.install_command
        )
    }
}

impl std::error::Error for MissingPrerequisites {}

/// Where the static busybox must be: busybox-static installs it there.
const BUSYBOX: &str = "/bin/busybox";

/// Finds every tool; the error lists what is missing and the install line.
pub fn check() -> Result<Tools, MissingPrerequisites> {
    let mut missing: Vec<(String, &'static str)> = Vec::new();
    let mut find = |program: &str, package: &'static str| {
        let found = find_program(program);
        if found.is_none() {
            missing.push((program.to_owned(), package));
        }
        found.unwrap_or_default()
    };
    let apt_get = find("apt-get", "apt");
    let apt_ftparchive = find("apt-ftparchive", "apt-utils");
    let dpkg_deb = find("dpkg-deb", "dpkg");
    let dpkg_query = find("dpkg-query", "dpkg");
    let busybox = PathBuf::from(BUSYBOX);
    if !is_static_executable(&busybox) {
        missing.push((format!("{BUSYBOX} (static)"), "busybox-static"));
    }
    if missing.is_empty() {
        Ok(Tools {
            apt_get,
            apt_ftparchive,
            dpkg_deb,
            dpkg_query,
            busybox,
        })
    } else {
        let packages: Vec<&str> = missing.iter().map(|(_, p)| *p).collect();
        Err(MissingPrerequisites {
            programs: missing.into_iter().map(|(prog, _)| prog).collect(),
            install_command: install_line(&packages),
        })
    }
}

/// [`check`], done once per process.
pub fn tools() -> Result<&'static Tools, MissingPrerequisites> {
    static TOOLS: OnceLock<Result<Tools, MissingPrerequisites>> = OnceLock::new();
    TOOLS.get_or_init(check).as_ref().map_err(Clone::clone)
}

/// `apt-get install -y` with each package once, in first-seen order.
pub fn install_line(packages: &[&str]) -> String {
    let mut unique: Vec<&str> = Vec::new();
    for p in packages {
        if !unique.contains(p) {
            unique.push(p);
        }
    }
    format!("apt-get install -y {}", unique.join(" "))
}

/// Looks `program` up in [`STANDARD_PATH`] (not the caller's `PATH`, which the kit does not pass on).
pub fn find_program(program: &str) -> Option<PathBuf> {
    STANDARD_PATH
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// True if `path` is an executable ELF file without a program interpreter (statically linked).
pub fn is_static_executable(path: &Path) -> bool {
    is_executable(path) && std::fs::read(path).is_ok_and(|bytes| elf_is_static(&bytes))
}

/// True if `bytes` is a 64-bit little-endian ELF image with no `PT_INTERP` program header, i.e. it does not
/// need the dynamic loader and so runs inside a root that has no libraries.
pub fn elf_is_static(bytes: &[u8]) -> bool {
    const PT_INTERP: u32 = 3;
    let u16_at = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |at: usize| {
        bytes
            .get(at..at + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_le_bytes)
    };
    // ELF magic, ELFCLASS64, ELFDATA2LSB.
    if bytes.get(..6) != Some(b"\x7fELF\x02\x01".as_slice()) {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return false;
    };
    let Ok(phoff) = usize::try_from(phoff) else {
        return false;
    };
    (0..usize::from(phnum)).all(|i| {
        let at = phoff + i * usize::from(phentsize);
        u32_at(at).is_some_and(|p_type| p_type != PT_INTERP)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_line_names_each_missing_package_once() {
        assert_eq!(
            install_line(&["apt-utils", "dpkg", "dpkg", "busybox-static"]),
            "apt-get install -y apt-utils dpkg busybox-static"
        );
    }

    #[test]
    fn a_dynamically_linked_program_is_not_static() {
        let ls = find_program("ls").expect("ls is installed everywhere");
        assert!(!is_static_executable(&ls));
    }

    #[test]
    fn non_elf_data_is_not_static() {
        assert!(!elf_is_static(b"#!/bin/sh\n"));
        assert!(!elf_is_static(b"\x7fELF\x02\x01"));
    }

    #[test]
    fn missing_prerequisites_message_carries_the_install_command() {
        let missing = MissingPrerequisites {
            programs: vec!["apt-ftparchive".into()],
            install_command: install_line(&["apt-utils"]),
        };
        let text = missing.to_string();
        assert!(text.contains("apt-ftparchive") && text.ends_with("apt-get install -y apt-utils"));
    }
}
