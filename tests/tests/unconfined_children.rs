//! The package manager's children are not confined: the helper confines the broker (and the frontend
//! confines itself), never the launcher or the programs it starts. A maintainer script must be able to do
//! whatever a package needs — restart services, load modules, write anywhere — exactly as under a plain
//! `apt-get install` run by root.
//!
//! The proof is the `demo-probe` fixture package: installed through the API of a running stack, its
//! postinst (run by dpkg, chrooted into the sandbox root) records its own `/proc/$$/status`. The root has
//! no `/proc` of its own, so one is mounted there for the install. The recorded status is compared with
//! the launcher's: same uid 0, no `no_new_privs`, no seccomp filter, and the launcher's full effective
//! capability set (whatever this machine's bounding set allows — on this VM it lacks CAP_SYS_RESOURCE).

use lpa_testkit::fixtures::apt::PROBE_FILE;
use lpa_tests::jobs::{install, wait};
use lpa_tests::scenario::{ProcMount, status_field};
use lpa_tests::stack;
use std::time::Duration;

/// The value of `Key:` in a `/proc/PID/status` text.
fn field<'a>(status: &'a str, key: &str) -> &'a str {
    status_field(status, key).unwrap_or_else(|| panic!("no {key} in\n{status}"))
}

fn caps(status: &str, key: &str) -> u64 {
    u64::from_str_radix(field(status, key), 16).unwrap_or_else(|e| panic!("{key}: {e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_maintainer_script_run_through_the_api_has_the_launchers_full_privileges() {
    let stack = stack::plain();
    let client = stack::client(&stack);
    let root = stack.sandbox().root().to_owned();
    let launcher = stack.helper_pid().expect("the helper runs");
    let launcher_status =
        std::fs::read_to_string(format!("/proc/{launcher}/status")).expect("launcher status");

    let job = {
        let _proc = ProcMount::at(&root);
        wait(
            &client,
            &install(&client, "demo-probe").await,
            Duration::from_secs(90),
        )
        .await
    };
    assert_eq!(job["status"], "completed", "{job}\n{}", stack.logs());
    let probe = std::fs::read_to_string(root.join(PROBE_FILE)).expect("the postinst ran");
    assert!(probe.contains("Name:"), "not a process status:\n{probe}");

    // Root, like the launcher, with nothing of the broker's or the frontend's confinement.
    assert_eq!(
        field(&probe, "Uid").split_whitespace().next(),
        Some("0"),
        "{probe}"
    );
    assert_eq!(
        field(&launcher_status, "NoNewPrivs"),
        "0",
        "{launcher_status}"
    );
    assert_eq!(field(&probe, "NoNewPrivs"), "0", "{probe}");
    assert_eq!(field(&launcher_status, "Seccomp"), "0", "{launcher_status}");
    assert_eq!(field(&probe, "Seccomp"), "0", "{probe}");

    // The launcher's full capability set, not a subset: nothing between it and dpkg drops capabilities.
    let launcher_eff = caps(&launcher_status, "CapEff");
    assert_ne!(launcher_eff, 0, "{launcher_status}");
    assert_eq!(
        caps(&probe, "CapEff"),
        launcher_eff,
        "probe:\n{probe}\nlauncher:\n{launcher_status}"
    );
    assert_eq!(
        caps(&probe, "CapBnd"),
        caps(&launcher_status, "CapBnd"),
        "probe:\n{probe}\nlauncher:\n{launcher_status}"
    );
}
