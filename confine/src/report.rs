//! A process's confinement as it measures itself.
//!
//! Capabilities, `NoNewPrivs` and the seccomp mode come from `/proc/self/status`, so the report shows
//! what the kernel enforces, not what the code meant to do. Landlock is invisible there; [`crate::apply`]
//! records the result the kernel returned (and any degraded step) once, and every later measurement
//! includes it.

use crate::landlock::LandlockResult;
use lpa_protocol::{LandlockState, ProcessConfinement};
use std::sync::OnceLock;

/// What [`crate::apply`] recorded about this process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// The Landlock result, `None` when no ruleset was applied.
    pub landlock: Option<LandlockResult>,
    /// Steps that could not be applied under the best-effort policy.
    pub degraded: Vec<String>,
}

static RECORDED: OnceLock<Recorded> = OnceLock::new();

/// Records the outcome of confinement; only the first call counts (confinement happens once).
pub fn record(recorded: Recorded) {
    let _ = RECORDED.set(recorded);
}

/// One process's confinement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confinement {
    /// Effective uid.
    pub uid: u32,
    /// Effective capabilities (bit N = capability N).
    pub cap_effective: u64,
    /// Permitted capabilities.
    pub cap_permitted: u64,
    /// Bounding set.
    pub cap_bounding: u64,
    /// `NoNewPrivs: 1`.
    pub no_new_privs: bool,
    /// `Seccomp:` 0 = disabled, 1 = strict, 2 = filter.
    pub seccomp_mode: u8,
    /// What [`crate::apply`] recorded.
    pub recorded: Recorded,
}

/// `/proc/self/status` could not be read or lacks a field.
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    /// Reading failed.
    #[error("reading /proc/self/status: {0}")]
    Read(#[from] std::io::Error),
    /// A field is missing or malformed.
    #[error("/proc/self/status: missing or malformed `{0}`")]
    Field(&'static str),
}

impl Confinement {
    /// Whether a best-effort confinement left a step out.
    pub fn is_degraded(&self) -> bool {
        !self.recorded.degraded.is_empty()
    }

    /// `disabled`, `strict`, `filter` (or `unknown`).
    pub fn seccomp(&self) -> &'static str {
        match self.seccomp_mode {
            0 => "disabled",
            1 => "strict",
            2 => "filter",
            _ => "unknown",
        }
    }

    /// The wire form sent from the broker to the frontend.
    pub fn to_wire(&self) -> ProcessConfinement {
        ProcessConfinement {
            uid: self.uid,
            cap_effective: self.cap_effective,
            cap_permitted: self.cap_permitted,
            cap_bounding: self.cap_bounding,
            no_new_privs: self.no_new_privs,
            seccomp: self.seccomp().to_owned(),
            landlock: self.recorded.landlock.map(|l| LandlockState {
                abi: l.abi,
                enforcement: l.enforcement.as_str().to_owned(),
            }),
            degraded: self.recorded.degraded.clone(),
        }
    }
}

/// Measures the calling process.
pub fn measure() -> Result<Confinement, MeasureError> {
    let text = std::fs::read_to_string("/proc/self/status")?;
    let mut c = parse_status(&text)?;
    c.recorded = RECORDED.get().cloned().unwrap_or_default();
    Ok(c)
}

/// Parses the confinement fields of a `/proc/<pid>/status` text (nothing recorded).
pub fn parse_status(text: &str) -> Result<Confinement, MeasureError> {
    let field = |name: &'static str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
            .ok_or(MeasureError::Field(name))
    };
    let hex = |name: &'static str| {
        field(name).and_then(|v| u64::from_str_radix(v, 16).map_err(|_| MeasureError::Field(name)))
    };
    // `Uid:` lists real, effective, saved and filesystem uid.
    let uid = field("Uid")?
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .ok_or(MeasureError::Field("Uid"))?;
    Ok(Confinement {
        uid,
        cap_effective: hex("CapEff")?,
        cap_permitted: hex("CapPrm")?,
        cap_bounding: hex("CapBnd")?,
        no_new_privs: field("NoNewPrivs")? == "1",
        seccomp_mode: field("Seccomp")?
            .parse()
            .map_err(|_| MeasureError::Field("Seccomp"))?,
        recorded: Recorded::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Name:\tlinux-patch-api\nUid:\t61001\t61002\t61001\t61001\n\
        CapInh:\t0000000000000000\nCapPrm:\t0000000000000001\nCapEff:\t0000000000000400\n\
        CapBnd:\t000001ffffffffff\nNoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t2\n";

    #[test]
    fn parses_effective_uid_capability_sets_no_new_privs_and_seccomp() {
        let c = parse_status(SAMPLE).unwrap();
        assert_eq!(c.uid, 61002);
        assert_eq!(c.cap_effective, 0x400);
        assert_eq!(c.cap_permitted, 1);
        assert_eq!(c.cap_bounding, 0x1ff_ffff_ffff);
        assert!(c.no_new_privs);
        assert_eq!(c.seccomp(), "filter");
        assert!(!c.is_degraded());
    }

    #[test]
    fn a_missing_field_is_an_error_not_a_guess() {
        let text = SAMPLE.replace("NoNewPrivs:\t1\n", "");
        assert!(matches!(
            parse_status(&text),
            Err(MeasureError::Field("NoNewPrivs"))
        ));
    }

    #[test]
    fn measures_this_process() {
        let c = measure().unwrap();
        assert_eq!(c.uid, nix::unistd::geteuid().as_raw());
    }
}
