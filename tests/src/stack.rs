//! Starting stacks and clients the way most end-to-end tests want them.

use lpa_client::{ApiClient, Credentials};
use lpa_testkit::fixtures::apt::Snapshot;
use lpa_testkit::harness::{Stack, StackOptions};
use lpa_testkit::pki::CertFiles;

/// Packages installed at v1 before the v2 updates are published.
pub const PREINSTALLED: [&str; 3] = ["demo-lib", "demo-app", "demo-tool"];

/// A stack whose sandbox has [`PREINSTALLED`] at v1 and the v2 snapshot published: three updates pending,
/// one of them (`demo-lib`) from the security suite; `hello` available but not installed.
pub fn with_pending_updates() -> Stack {
    let mut stack = Stack::start(StackOptions {
        preinstall: PREINSTALLED.iter().map(|s| (*s).to_owned()).collect(),
        ..StackOptions::default()
    })
    .expect("stack starts");
    stack
        .sandbox_mut()
        .publish(Snapshot::V2)
        .expect("publish v2");
    stack
}

/// A stack on an empty sandbox (v1 snapshot, nothing installed).
pub fn plain() -> Stack {
    Stack::start(StackOptions::default()).expect("stack starts")
}

/// Credentials of `cert` against `stack`.
pub fn credentials(stack: &Stack, cert: &CertFiles) -> Credentials {
    Credentials {
        url: stack.base_url(),
        ca_cert: stack.pki().ca_cert.clone(),
        cert: cert.cert.clone(),
        key: cert.key.clone(),
    }
}

/// A client presenting the valid `test-operator` certificate.
pub fn client(stack: &Stack) -> ApiClient {
    ApiClient::new(&credentials(stack, &stack.pki().client)).expect("client")
}

/// A client presenting `cert` (which may be one the server must refuse).
pub fn client_with(stack: &Stack, cert: &CertFiles) -> ApiClient {
    ApiClient::new(&credentials(stack, cert)).expect("client")
}
