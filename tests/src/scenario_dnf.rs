//! Helpers of the dnf/yum end-to-end scenario (`tests/tests/backend_dnf.rs`): stacks on a dnf sandbox driven
//! by `dnf` or `yum` and the fixtures' versions as rpm prints them; the backend-neutral helpers are in
//! [`crate::scenario`].

use lpa_testkit::fixtures::apt::Snapshot;
use lpa_testkit::harness::{Stack, StackOptions};
use lpa_testkit::sandbox::SandboxKind;

/// The fixtures' versions as the API shows them for rpm packages (`[epoch:]version-release`).
pub mod evr {
    pub use lpa_testkit::fixtures::dnf::versions::{
        DEMO_LIB_SECURITY_EVR, DEMO_LIB_V1_EVR, HELLO_V1_EVR, HELLO_V2_EVR, SECURITY_ADVISORY,
    };
    /// demo-app 1.0.
    pub const DEMO_APP_V1_EVR: &str = "1.0-1";
    /// demo-app 1.1.
    pub const DEMO_APP_V2_EVR: &str = "1.1-1";
    /// demo-tool 1.0.
    pub const DEMO_TOOL_V1_EVR: &str = "1.0-1";
    /// demo-tool 1.2.
    pub const DEMO_TOOL_V2_EVR: &str = "1.2-1";
}

/// A stack on a dnf sandbox of `kind` (dnf or yum) at v1 with `preinstall` installed.
pub fn start(kind: SandboxKind, preinstall: &[&str]) -> Stack {
    assert!(
        matches!(kind, SandboxKind::Dnf | SandboxKind::Yum),
        "{kind:?}"
    );
    Stack::start(StackOptions {
        backend: kind,
        snapshot: Snapshot::V1,
        preinstall: preinstall.iter().map(|s| (*s).to_owned()).collect(),
        ..StackOptions::default()
    })
    .unwrap_or_else(|e| panic!("a {} stack starts: {e}", kind.name()))
}

pub use crate::scenario::{ProcMount, patch, status_field};
