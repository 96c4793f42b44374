//! Emptying the capability sets.
//!
//! Capabilities are per thread, so this runs while the process has one thread. The bounding set can
//! only shrink with CAP_SETPCAP in the effective set, so it is emptied first (CAP_SETPCAP last), then
//! ambient, inheritable, effective and permitted (effective before permitted: the kernel requires
//! effective ⊆ permitted at every step).

use caps::{CapSet, Capability};

/// A capability operation failed, or a set is still not empty afterwards.
#[derive(Debug, thiserror::Error)]
pub enum CapsError {
    /// The `caps` crate reported an error for this operation.
    #[error("{op}: {reason}")]
    Op {
        /// What was attempted.
        op: &'static str,
        /// The error text.
        reason: String,
    },
    /// The bounding set is not empty and this process lacks CAP_SETPCAP to empty it; only whoever
    /// starts the process (the service manager) can.
    #[error(
        "the bounding set still holds {0} capabilities and CAP_SETPCAP is missing: start the process with an empty bounding set (systemd: CapabilityBoundingSet=)"
    )]
    BoundingNotDroppable(usize),
    /// A set reads back non-empty after clearing it.
    #[error("the {0} set is not empty after clearing it")]
    NotEmpty(&'static str),
}

fn op(op: &'static str) -> impl FnOnce(caps::errors::CapsError) -> CapsError {
    move |e| CapsError::Op {
        op,
        reason: e.to_string(),
    }
}

/// Empties the bounding set (needs CAP_SETPCAP unless it is already empty).
pub fn drop_bounding() -> Result<(), CapsError> {
    let bounding = caps::read(None, CapSet::Bounding).map_err(op("reading the bounding set"))?;
    if bounding.is_empty() {
        return Ok(());
    }
    let has_setpcap = caps::has_cap(None, CapSet::Effective, Capability::CAP_SETPCAP)
        .map_err(op("reading the effective set"))?;
    if !has_setpcap {
        return Err(CapsError::BoundingNotDroppable(bounding.len()));
    }
    for cap in bounding.iter().filter(|c| **c != Capability::CAP_SETPCAP) {
        caps::drop(None, CapSet::Bounding, *cap).map_err(op("dropping from the bounding set"))?;
    }
    caps::drop(None, CapSet::Bounding, Capability::CAP_SETPCAP)
        .map_err(op("dropping CAP_SETPCAP from the bounding set"))?;
    if !caps::read(None, CapSet::Bounding)
        .map_err(op("reading the bounding set"))?
        .is_empty()
    {
        return Err(CapsError::NotEmpty("bounding"));
    }
    Ok(())
}

/// Whether the bounding set is empty.
pub fn bounding_is_empty() -> Result<bool, CapsError> {
    Ok(caps::read(None, CapSet::Bounding)
        .map_err(op("reading the bounding set"))?
        .is_empty())
}

/// Empties the ambient, inheritable, effective and permitted sets and checks that they read back empty.
pub fn clear_process_sets() -> Result<(), CapsError> {
    for (set, name) in [
        (CapSet::Ambient, "ambient"),
        (CapSet::Inheritable, "inheritable"),
        (CapSet::Effective, "effective"),
        (CapSet::Permitted, "permitted"),
    ] {
        caps::clear(None, set).map_err(op("clearing a capability set"))?;
        if !caps::read(None, set)
            .map_err(op("reading a capability set"))?
            .is_empty()
        {
            return Err(CapsError::NotEmpty(name));
        }
    }
    Ok(())
}
