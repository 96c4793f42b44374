//! How confined a process is, as it measures itself from `/proc/self/status`.
//!
//! Only the frontend is measured here. The broker and the launcher are reported as `null` until the
//! confinement issue lets them send their own self-measurement through the protocol: the frontend cannot
//! read another uid's `/proc/<pid>/status` reliably, and a report that is not the process's own would be a
//! guess. Landlock is not visible in `/proc/self/status`, so `landlock` is `null` as well.

use serde::Serialize;

/// Capability names by bit number (linux/capability.h, up to CAP_CHECKPOINT_RESTORE = 40).
const CAP_NAMES: [&str; 41] = [
    "cap_chown",
    "cap_dac_override",
    "cap_dac_read_search",
    "cap_fowner",
    "cap_fsetid",
    "cap_kill",
    "cap_setgid",
    "cap_setuid",
    "cap_setpcap",
    "cap_linux_immutable",
    "cap_net_bind_service",
    "cap_net_broadcast",
    "cap_net_admin",
    "cap_net_raw",
    "cap_ipc_lock",
    "cap_ipc_owner",
    "cap_sys_module",
    "cap_sys_rawio",
    "cap_sys_chroot",
    "cap_sys_ptrace",
    "cap_sys_pacct",
    "cap_sys_admin",
    "cap_sys_boot",
    "cap_sys_nice",
    "cap_sys_resource",
    "cap_sys_time",
    "cap_sys_tty_config",
    "cap_mknod",
    "cap_lease",
    "cap_audit_write",
    "cap_audit_control",
    "cap_setfcap",
    "cap_mac_override",
    "cap_mac_admin",
    "cap_syslog",
    "cap_wake_alarm",
    "cap_block_suspend",
    "cap_audit_read",
    "cap_perfmon",
    "cap_bpf",
    "cap_checkpoint_restore",
];

/// One process's confinement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Confinement {
    /// Effective uid.
    pub uid: Option<u32>,
    /// Effective capabilities by name (`cap_N` for bits without a known name); empty when none.
    pub capabilities: Option<Vec<String>>,
    /// The effective capability set as the kernel prints it (hex).
    pub capabilities_hex: Option<String>,
    /// `PR_SET_NO_NEW_PRIVS` is set.
    pub no_new_privs: Option<bool>,
    /// `disabled`, `strict` or `filter`.
    pub seccomp: Option<String>,
    /// Not measurable from `/proc/self/status`; always `null` for now.
    pub landlock: Option<String>,
}

/// Measures the calling process.
pub async fn measure_self() -> Option<Confinement> {
    match tokio::fs::read_to_string("/proc/self/status").await {
        Ok(text) => Some(parse_status(&text)),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read /proc/self/status");
            None
        }
    }
}

/// Parses the fields of `/proc/<pid>/status` that describe confinement.
pub fn parse_status(text: &str) -> Confinement {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    // `Uid:` lists real, effective, saved and filesystem uid.
    let uid = field("Uid").and_then(|v| v.split_whitespace().nth(1)?.parse().ok());
    let cap_hex = field("CapEff").map(str::to_owned);
    let capabilities = cap_hex
        .as_deref()
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .map(cap_names);
    let no_new_privs = field("NoNewPrivs").map(|v| v == "1");
    let seccomp = field("Seccomp").map(|v| {
        match v {
            "0" => "disabled",
            "1" => "strict",
            "2" => "filter",
            _ => "unknown",
        }
        .to_owned()
    });
    Confinement {
        uid,
        capabilities,
        capabilities_hex: cap_hex,
        no_new_privs,
        seccomp,
        landlock: None,
    }
}

fn cap_names(bits: u64) -> Vec<String> {
    (0..64)
        .filter(|bit| bits & (1u64 << bit) != 0)
        .map(|bit| match CAP_NAMES.get(bit) {
            Some(name) => (*name).to_owned(),
            None => format!("cap_{bit}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Name:\tlinux-patch-api\nUmask:\t0022\nUid:\t61001\t61001\t61001\t61001\n\
        Gid:\t61001\t61001\t61001\t61001\nCapInh:\t0000000000000000\nCapPrm:\t0000000000000000\n\
        CapEff:\t0000000000000400\nCapBnd:\t000001ffffffffff\nNoNewPrivs:\t1\nSeccomp:\t2\n\
        Seccomp_filters:\t1\n";

    #[test]
    fn parses_uid_capabilities_no_new_privs_and_seccomp() {
        let c = parse_status(SAMPLE);
        assert_eq!(c.uid, Some(61001));
        assert_eq!(
            c.capabilities,
            Some(vec!["cap_net_bind_service".to_owned()])
        );
        assert_eq!(c.capabilities_hex.as_deref(), Some("0000000000000400"));
        assert_eq!(c.no_new_privs, Some(true));
        assert_eq!(c.seccomp.as_deref(), Some("filter"));
        assert_eq!(c.landlock, None);
    }

    #[test]
    fn no_capabilities_is_an_empty_list_and_unknown_bits_are_numbered() {
        let c = parse_status("CapEff:\t0000000000000000\nSeccomp:\t0\nNoNewPrivs:\t0\n");
        assert_eq!(c.capabilities, Some(vec![]));
        assert_eq!(c.seccomp.as_deref(), Some("disabled"));
        assert_eq!(c.no_new_privs, Some(false));
        assert_eq!(c.uid, None);
        assert_eq!(cap_names(1 << 45), vec!["cap_45".to_owned()]);
    }

    #[tokio::test]
    async fn measures_this_process() {
        let c = measure_self().await.unwrap();
        assert_eq!(c.uid, Some(nix::unistd::geteuid().as_raw()));
        assert!(c.capabilities.is_some());
        assert!(c.seccomp.is_some());
    }
}
