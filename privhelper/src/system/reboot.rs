//! Whether the host asks for a reboot: Debian's `/run/reboot-required` mechanism, with an honest
//! "unknown" where that mechanism is absent.

use lpa_protocol::RebootRequired;
use std::path::Path;

/// Reads the reboot-required state under `root`.
pub fn reboot_required(root: &Path) -> RebootRequired {
    for dir in ["run", "var/run"] {
        let flag = root.join(dir).join("reboot-required");
        if flag.exists() {
            let pkgs = std::fs::read_to_string(root.join(dir).join("reboot-required.pkgs"))
                .map(|t| {
                    let mut v: Vec<&str> = t.split_whitespace().collect();
                    v.sort_unstable();
                    v.dedup();
                    v.join(", ")
                })
                .unwrap_or_default();
            let reason = if pkgs.is_empty() {
                format!("/{dir}/reboot-required exists")
            } else {
                format!("/{dir}/reboot-required exists; requested by: {pkgs}")
            };
            return RebootRequired::Yes { reason };
        }
    }
    if root
        .join("usr/share/update-notifier/notify-reboot-required")
        .exists()
    {
        return RebootRequired::No;
    }
    RebootRequired::Unknown {
        reason: "no reboot-required flag, and the mechanism that would set it \
                 (update-notifier-common's notify-reboot-required) is not installed"
            .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_with_packages_yes_mechanism_only_no_nothing_unknown() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        assert!(matches!(reboot_required(r), RebootRequired::Unknown { .. }));
        std::fs::create_dir_all(r.join("usr/share/update-notifier")).unwrap();
        std::fs::write(
            r.join("usr/share/update-notifier/notify-reboot-required"),
            "",
        )
        .unwrap();
        assert_eq!(reboot_required(r), RebootRequired::No);
        std::fs::create_dir_all(r.join("run")).unwrap();
        std::fs::write(
            r.join("run/reboot-required"),
            "*** System restart required ***\n",
        )
        .unwrap();
        std::fs::write(
            r.join("run/reboot-required.pkgs"),
            "linux-image-amd64\nlibc6\nlibc6\n",
        )
        .unwrap();
        match reboot_required(r) {
            RebootRequired::Yes { reason } => {
                assert!(reason.contains("libc6, linux-image-amd64"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }
}
