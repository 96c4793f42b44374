#![forbid(unsafe_code)]
//! The wire protocol between the linux-patch-api frontend, the helper's broker and the helper's launcher.
//!
//! This is the only crate that knows the wire format. Everything that crosses a process boundary is one of
//! the closed enums defined here, and every value that an attacker could influence is a validated newtype
//! whose constructor *and* `Deserialize` impl reject invalid input. A value of type [`PackageName`] is
//! therefore valid wherever it is seen: in the frontend after parsing a URL, in the broker after decoding a
//! frame, and in the launcher before it becomes an argument of `apt-get`.
//!
//! Principal types:
//! - [`ClientMessage`] / [`ServerMessage`]: frontend ⇄ broker, starting with a [`Hello`] handshake that
//!   refuses a protocol-version mismatch ([`PROTOCOL_VERSION`]).
//! - [`Operation`]: what the frontend may ask for; [`Outcome`]: what comes back; [`HelperError`]: typed failure.
//! - [`launcher::LauncherRequest`] / [`launcher::LauncherResponse`]: broker ⇄ launcher; the launcher only
//!   accepts an [`launcher::Invocation`], a typed entry of its fixed command table, never an argv.
//! - [`frame`]: length-prefixed framing with a hard maximum checked before any allocation, and the single
//!   encode/decode pair for bincode with explicit options.
//!
//! What this crate must never do: perform I/O beyond framing, or hand out a value that did not pass validation.

mod change;
pub mod frame;
pub mod grammar;
pub mod launcher;
mod list;
mod message;
mod names;
mod operation;
pub mod order;
mod outcome;

pub use change::{
    ChangeFailure, ChangeReport, FailureKind, InstallOptions, JobEvent, PackageChange, PackageSpec,
};
pub use grammar::Backend;
pub use message::{ClientMessage, Hello, HelloAck, RequestId, ServerMessage};
pub use names::{Architecture, Glob, PackageName, RepoName, ServiceName, ValidationError, Version};
pub use operation::Operation;
pub use outcome::{
    Advisory, ConfinementReport, ExecFailure, HelperError, HostInfo, LandlockState, OsRelease,
    Outcome, PackageDetail, PackageRecord, ProcessConfinement, RebootRequired, ServiceState,
    ServiceStatus, Severity, UpgradablePackage,
};

/// Version of the frontend ⇄ broker protocol. Both sides are built from the same tree, so any change to a
/// wire type bumps this number and a mismatched pair refuses to talk instead of misinterpreting bytes.
pub const PROTOCOL_VERSION: u32 = 6;
