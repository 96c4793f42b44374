//! Hostname, kernel, architecture and uptime of the machine the helper runs on.

use std::path::Path;

/// Kernel facts from `uname(2)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernel {
    /// `uname -r`.
    pub release: String,
    /// `uname -m`.
    pub machine: String,
}

/// `uname(2)`.
pub fn kernel() -> Kernel {
    match nix::sys::utsname::uname() {
        Ok(u) => Kernel {
            release: u.release().to_string_lossy().into_owned(),
            machine: u.machine().to_string_lossy().into_owned(),
        },
        Err(_) => Kernel {
            release: String::new(),
            machine: std::env::consts::ARCH.to_owned(),
        },
    }
}

/// `gethostname(2)`.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Whole seconds of uptime from the first field of `/proc/uptime` text.
pub fn parse_uptime(text: &str) -> Option<u64> {
    let first = text.split_whitespace().next()?;
    let secs = first.split('.').next()?;
    secs.parse().ok()
}

/// Host uptime in seconds (0 when `/proc/uptime` is unreadable).
pub fn uptime_seconds(proc_uptime: &Path) -> u64 {
    std::fs::read_to_string(proc_uptime)
        .ok()
        .and_then(|t| parse_uptime(&t))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_is_parsed_from_the_first_field() {
        assert_eq!(parse_uptime("350735.47 234388.90\n"), Some(350735));
        assert_eq!(parse_uptime("12 3"), Some(12));
        assert_eq!(parse_uptime(""), None);
        assert_eq!(parse_uptime("x.5 1"), None);
        assert!(uptime_seconds(Path::new("/proc/uptime")) > 0);
    }

    #[test]
    fn kernel_and_hostname_are_reported() {
        let k = kernel();
        assert!(!k.release.is_empty() && !k.machine.is_empty());
        assert!(!hostname().is_empty());
    }
}
