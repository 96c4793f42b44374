//! Backend-neutral helpers of the end-to-end scenarios (`tests/tests/backend_*.rs`): a stack on any sandbox
//! kind, patch lookup, and `/proc` mounted into a sandbox root for the probe package that records how
//! confined the package manager's children are.

use lpa_testkit::fixtures::apt::Snapshot;
use lpa_testkit::harness::{Stack, StackOptions};
use lpa_testkit::sandbox::SandboxKind;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A stack on a sandbox of `kind` at v1 with `preinstall` installed.
pub fn start(kind: SandboxKind, preinstall: &[&str]) -> Stack {
    Stack::start(StackOptions {
        backend: kind,
        snapshot: Snapshot::V1,
        preinstall: preinstall.iter().map(|s| (*s).to_owned()).collect(),
        ..StackOptions::default()
    })
    .unwrap_or_else(|e| panic!("a {} stack starts: {e}", kind.name()))
}

/// The patch object named `name` of a `GET /api/v1/patches` answer.
pub fn patch<'a>(data: &'a Value, name: &str) -> &'a Value {
    data["patches"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("no patch {name} in {data}"))
}

/// `/proc` mounted at `ROOT/proc` while this lives, so scriptlets chrooted into the sandbox root can read
/// `/proc/self/status` (the sandbox has no `/proc` of its own). Unmounted when dropped, before the stack's
/// work directory is deleted.
#[derive(Debug)]
pub struct ProcMount {
    target: PathBuf,
}

impl ProcMount {
    /// Mounts a new proc instance at `root/proc` (the test runs as root).
    pub fn at(root: &Path) -> ProcMount {
        let target = root.join("proc");
        std::fs::create_dir_all(&target).expect("ROOT/proc");
        // Test code: mounting needs the mount(8) program; the disallowed-methods lint guards product code.
        #[allow(clippy::disallowed_methods)]
        let status = std::process::Command::new("mount")
            .args(["-t", "proc", "proc"])
            .arg(&target)
            .status()
            .expect("mount runs");
        assert!(status.success(), "mount -t proc {}", target.display());
        ProcMount { target }
    }
}

impl Drop for ProcMount {
    fn drop(&mut self) {
        // Test code: see `at`. Lazy, so a busy mount cannot keep the work directory alive.
        #[allow(clippy::disallowed_methods)]
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.target)
            .status();
    }
}

/// The value of `Key:` in a `/proc/PID/status` text.
pub fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status.lines().find_map(|l| {
        l.strip_prefix(key)
            .and_then(|r| r.strip_prefix(':'))
            .map(str::trim)
    })
}
