//! How confined each process is, for `GET /health` (`confinement.frontend`, `.broker`, `.launcher`).
//!
//! Every process measures itself ([`lpa_confine::report`]: `/proc/self/status` plus the Landlock result
//! the kernel returned when the process confined itself): the frontend here, the broker and the launcher
//! in the helper, which sends both measurements in answer to `Operation::Confinement`. The frontend never
//! guesses another process's state. A process whose best-effort confinement left a step out lists it in
//! `degraded`, and that makes the health status `degraded`.

use lpa_protocol::ProcessConfinement;
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

/// One process's confinement as `/health` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Confinement {
    /// Effective uid.
    pub uid: u32,
    /// Effective capabilities by name (`cap_N` for bits without a known name); empty when none.
    pub capabilities: Vec<String>,
    /// The effective set as the kernel prints it (hex).
    pub capabilities_hex: String,
    /// The bounding set (hex): what an `execve` could ever regain.
    pub bounding_hex: String,
    /// `PR_SET_NO_NEW_PRIVS` is set.
    pub no_new_privs: bool,
    /// `disabled`, `strict` or `filter`.
    pub seccomp: String,
    /// The Landlock ruleset the process applied, `null` when it applied none.
    pub landlock: Option<Landlock>,
    /// Steps a best-effort confinement could not apply; empty when fully confined.
    pub degraded: Vec<String>,
}

/// Landlock as applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Landlock {
    /// The kernel's Landlock ABI, `null` without Landlock.
    pub abi: Option<u32>,
    /// `full`, `partial` or `none`.
    pub enforcement: String,
}

impl From<&ProcessConfinement> for Confinement {
    fn from(p: &ProcessConfinement) -> Self {
        Confinement {
            uid: p.uid,
            capabilities: cap_names(p.cap_effective),
            capabilities_hex: format!("{:016x}", p.cap_effective),
            bounding_hex: format!("{:016x}", p.cap_bounding),
            no_new_privs: p.no_new_privs,
            seccomp: p.seccomp.clone(),
            landlock: p.landlock.as_ref().map(|l| Landlock {
                abi: l.abi,
                enforcement: l.enforcement.clone(),
            }),
            degraded: p.degraded.clone(),
        }
    }
}

impl Confinement {
    /// Whether a confinement step is missing.
    pub fn is_degraded(&self) -> bool {
        !self.degraded.is_empty()
    }
}

/// What `degraded` says of a frontend whose capability bounding set is not empty.
pub const BOUNDING_SET_NOT_EMPTY: &str = "capability bounding set not empty: only the service manager can empty \
     it (systemd: CapabilityBoundingSet=); with no_new_privs and no execve it grants nothing, but it is not \
     the documented confinement";

/// Marks `c` degraded when its bounding set is not empty. The frontend cannot empty its own bounding set
/// (that needs `CAP_SETPCAP`, which an unprivileged process does not have), so the documented confinement —
/// empty capability sets — holds only where the service manager (or the test harness) emptied it; `/health`
/// says so instead of claiming it.
pub fn flag_bounding_set(mut c: Confinement) -> Confinement {
    if c.bounding_hex.bytes().any(|b| b != b'0') {
        c.degraded.push(BOUNDING_SET_NOT_EMPTY.to_owned());
    }
    c
}

/// Measures the calling process (the frontend).
pub fn measure_self() -> Option<Confinement> {
    match lpa_confine::report::measure() {
        Ok(c) => Some(Confinement::from(&c.to_wire())),
        Err(e) => {
            tracing::warn!(error = %e, "cannot measure the frontend's confinement");
            None
        }
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
    use lpa_protocol::LandlockState;

    fn wire() -> ProcessConfinement {
        ProcessConfinement {
            uid: 61002,
            cap_effective: 0x400,
            cap_permitted: 0x400,
            cap_bounding: 0,
            no_new_privs: true,
            seccomp: "filter".to_owned(),
            landlock: Some(LandlockState {
                abi: Some(7),
                enforcement: "full".to_owned(),
            }),
            degraded: vec![],
        }
    }

    #[test]
    fn names_capabilities_and_keeps_landlock_and_sets_in_hex() {
        let c = Confinement::from(&wire());
        assert_eq!(c.uid, 61002);
        assert_eq!(c.capabilities, vec!["cap_net_bind_service".to_owned()]);
        assert_eq!(c.capabilities_hex, "0000000000000400");
        assert_eq!(c.bounding_hex, "0000000000000000");
        assert_eq!(
            c.landlock,
            Some(Landlock {
                abi: Some(7),
                enforcement: "full".to_owned()
            })
        );
        assert!(!c.is_degraded());
    }

    #[test]
    fn a_non_empty_bounding_set_is_degraded_and_an_empty_one_is_not() {
        let mut w = wire();
        assert!(!flag_bounding_set(Confinement::from(&w)).is_degraded());
        w.cap_bounding = 1 << 21;
        let c = flag_bounding_set(Confinement::from(&w));
        assert!(c.is_degraded());
        assert_eq!(c.degraded, vec![BOUNDING_SET_NOT_EMPTY.to_owned()]);
    }

    #[test]
    fn a_missing_step_is_degraded_and_unknown_bits_are_numbered() {
        let mut w = wire();
        w.degraded = vec!["landlock: ABI too old".to_owned()];
        assert!(Confinement::from(&w).is_degraded());
        assert_eq!(cap_names(1 << 45), vec!["cap_45".to_owned()]);
        assert_eq!(cap_names(0), Vec::<String>::new());
    }

    #[test]
    fn measures_this_process() {
        let c = measure_self().unwrap();
        assert_eq!(c.uid, nix::unistd::geteuid().as_raw());
    }
}
