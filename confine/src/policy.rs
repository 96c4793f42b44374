//! What to do when the kernel (or the way the process was started) cannot provide a confinement step.
//!
//! `Strict` is the default everywhere: a service that believes itself confined but is not is worse than
//! one that refuses to start. `BestEffort` exists for old kernels and unusual hosts: the process starts,
//! logs a warning, and reports itself as degraded (which makes `/health` say `degraded`), so the gap is
//! visible rather than silent.

use serde::{Deserialize, Serialize};

/// How strictly a [`crate::Profile`] is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Every step must succeed, or confinement fails and the process must not start.
    #[default]
    Strict,
    /// A step that fails is logged and recorded as a degradation; the other steps still apply.
    BestEffort,
}

impl Policy {
    /// The configuration spelling (`strict` | `best_effort`).
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Strict => "strict",
            Policy::BestEffort => "best_effort",
        }
    }
}
