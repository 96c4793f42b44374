//! A Landlock ruleset from a read-only and a read-write path list.
//!
//! Handled rights are those of [`HANDLED_ABI`]: everything on the filesystem that is not granted below a
//! listed path is denied, TCP bind and connect are denied outright (neither confined process needs them:
//! the frontend's listener is bound before confinement and `accept` is not restricted), and the domain
//! may not signal processes or reach abstract Unix sockets outside itself. Landlock is applied best-effort
//! by the `landlock` crate (older kernels enforce what they know); the result records the kernel's ABI and
//! whether the ruleset was fully, partially or not enforced, and [`restrict`] refuses an ABI below the
//! caller's minimum.
//!
//! ABI 9 would also restrict `connect` to pathname Unix sockets (the frontend's helper socket): it is not
//! handled until the profiles grant that socket explicitly, hence the ABI 8 ceiling.
//! Without ABI 8's all-threads flag the restriction is per thread: apply it while single-threaded.

use landlock::{
    ABI, Access, AccessFs, AccessNet, LandlockStatus, Ruleset, RulesetAttr, RulesetCreatedAttr,
    RulesetError, RulesetStatus, Scope, path_beneath_rules,
};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The newest ABI whose rights the rulesets handle.
pub const HANDLED_ABI: ABI = ABI::V8;

/// What the ruleset grants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    /// Read (and, for directories, list) beneath these paths. Each must exist.
    pub read_only: Vec<PathBuf>,
    /// Read, write, create and remove beneath these paths. Each must exist.
    pub read_write: Vec<PathBuf>,
    /// The lowest kernel Landlock ABI accepted (1 = any Landlock at all).
    pub min_abi: u32,
}

/// How much of the ruleset the kernel enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Enforcement {
    /// Every handled right is enforced.
    Full,
    /// The kernel enforces an older subset of the handled rights.
    Partial,
    /// Nothing is enforced (no Landlock in this kernel, or it is disabled).
    None,
}

impl Enforcement {
    /// `full` | `partial` | `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            Enforcement::Full => "full",
            Enforcement::Partial => "partial",
            Enforcement::None => "none",
        }
    }
}

/// The outcome of [`restrict`], as the kernel reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LandlockResult {
    /// The kernel's Landlock ABI (`None` when Landlock is not available).
    pub abi: Option<u32>,
    /// How much of the ruleset is enforced.
    pub enforcement: Enforcement,
}

/// Landlock could not be applied as required.
#[derive(Debug, thiserror::Error)]
pub enum LandlockError {
    /// Building or applying the ruleset failed (for example a listed path does not exist).
    #[error("{0}")]
    Ruleset(#[from] RulesetError),
    /// The kernel's ABI is below the required minimum; the ruleset (what the kernel supports of it) was
    /// applied anyway.
    #[error("the kernel's Landlock ABI is {found:?}, below the required {required}")]
    AbiTooOld {
        /// The kernel's ABI, `None` when Landlock is unavailable.
        found: Option<u32>,
        /// The required minimum.
        required: u32,
        /// What was applied.
        applied: LandlockResult,
    },
}

/// Restricts the calling thread (and its future threads and children) to `rules`.
pub fn restrict(rules: &Rules) -> Result<LandlockResult, LandlockError> {
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(HANDLED_ABI))?
        .handle_access(AccessNet::from_all(HANDLED_ABI))?
        .scope(Scope::from_all(HANDLED_ABI))?
        .create()?
        .add_rules(path_beneath_rules(
            &rules.read_only,
            AccessFs::from_read(HANDLED_ABI),
        ))?
        .add_rules(path_beneath_rules(
            &rules.read_write,
            AccessFs::from_all(HANDLED_ABI),
        ))?
        .restrict_self()?;
    let abi = match status.landlock {
        LandlockStatus::Available {
            effective_abi,
            kernel_abi,
        } => Some(u32::try_from(kernel_abi.unwrap_or(effective_abi as i32)).unwrap_or(0)),
        LandlockStatus::NotEnabled | LandlockStatus::NotImplemented => None,
    };
    let enforcement = match status.ruleset {
        RulesetStatus::FullyEnforced => Enforcement::Full,
        RulesetStatus::PartiallyEnforced => Enforcement::Partial,
        RulesetStatus::NotEnforced => Enforcement::None,
    };
    let applied = LandlockResult { abi, enforcement };
    if abi.unwrap_or(0) < rules.min_abi.max(1) {
        return Err(LandlockError::AbiTooOld {
            found: abi,
            required: rules.min_abi.max(1),
            applied,
        });
    }
    Ok(applied)
}
